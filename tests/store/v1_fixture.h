/* tests/store/v1_fixture.h: a schema version 1 database as grpo 0.1 wrote it (its DDL frozen here),
 * for the migration tests and the viewer's version 1 test. */
#ifndef GRPO_TESTS_V1_FIXTURE_H
#define GRPO_TESTS_V1_FIXTURE_H

/* A version 1 database as grpo 0.1 wrote it (its DDL, frozen here as a fixture), with one run, one
 * step, two completions of prompt 5 and their components. */
static const char V1_FIXTURE[] =
    "CREATE TABLE runs (run_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, config_json TEXT NOT NULL,"
    " grpo_version TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE TABLE rollouts (run_id INTEGER NOT NULL, step INTEGER NOT NULL, prompt_id INTEGER NOT NULL,"
    " sample_index INTEGER NOT NULL, prompt_text TEXT, completion_text TEXT, token_ids TEXT NOT NULL, logprobs TEXT,"
    " rewards_json TEXT NOT NULL, reward_total REAL, advantage REAL, length INTEGER NOT NULL,"
    " finish_reason TEXT NOT NULL CHECK (finish_reason IN ('stop', 'length')),"
    " PRIMARY KEY (run_id, step, prompt_id, sample_index),"
    " FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);"
    "CREATE TABLE reward_components (run_id INTEGER NOT NULL, step INTEGER NOT NULL, prompt_id INTEGER NOT NULL,"
    " sample_index INTEGER NOT NULL, name TEXT NOT NULL, value REAL,"
    " PRIMARY KEY (run_id, step, prompt_id, sample_index, name), FOREIGN KEY (run_id, step, prompt_id, sample_index)"
    " REFERENCES rollouts(run_id, step, prompt_id, sample_index) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);"
    "CREATE INDEX reward_components_by_name ON reward_components(run_id, name, step);"
    "CREATE TABLE evals (eval_id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
    " step INTEGER NOT NULL, name TEXT NOT NULL, split TEXT NOT NULL, metric TEXT NOT NULL, value REAL, n INTEGER,"
    " detail_json TEXT, created_at TEXT NOT NULL, UNIQUE (run_id, step, name, split, metric));"
    "CREATE TABLE steps (run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, step INTEGER NOT NULL,"
    " created_at TEXT NOT NULL, reward_mean REAL, reward_std REAL, accuracy REAL, kl REAL, loss REAL,"
    " clip_frac_low REAL, clip_frac_high REAL, entropy REAL, completion_len_mean REAL, completion_len_max REAL,"
    " truncated_frac REAL, zero_std_frac REAL, tokens_per_s_sampling REAL, tokens_per_s_training REAL,"
    " seconds_sampling REAL, seconds_scoring REAL, seconds_training REAL, metrics_json TEXT,"
    " PRIMARY KEY (run_id, step));"
    "PRAGMA application_id=1196576847; PRAGMA user_version=1;"
    "INSERT INTO runs VALUES(1, 'old', '{}', '0.1.0', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');"
    "INSERT INTO steps(run_id, step, created_at, reward_mean) VALUES(1, 1, '2025-01-01T00:00:01.000Z', 0.5);"
    "INSERT INTO rollouts VALUES(1, 1, 5, 0, 'What is 2+3?', 'the answer is 5 aardvark', '[1,2]', '[-0.5,-0.25]',"
    " '{\"accuracy\":1.0}', 1.0, 0.7, 2, 'stop');"
    "INSERT INTO rollouts VALUES(1, 1, 5, 1, 'What is 2+3?', 'it is 6', '[3]', NULL, '{\"accuracy\":0.0}', 0.0, -0.7,"
    " 1, 'length');"
    "INSERT INTO reward_components VALUES(1, 1, 5, 0, 'accuracy', 1.0), (1, 1, 5, 1, 'accuracy', 0.0);";

#endif
