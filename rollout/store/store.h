/* rollout/store/store.h: the SQLite rollout store, one database per run (runs/<name>/rollouts.db).
 *
 * Tables (docs/database.md documents every column): runs (the config and the run's kind), steps (the
 * metrics), rollouts (every completion with its tokens, logprobs, rewards, advantage and extracted
 * answer), reward_components (the same rewards as a long table, each with its reason), prompts (the
 * gold answer per prompt), evals, and rollouts_fts (an FTS5 index over the completions). The file is in WAL mode, so `sqlite3` and pandas can
 * read it while a run writes.
 *
 * One GRPO step is one transaction: store_step_begin, store_add_rollout (many), store_step_commit.
 * Until the COMMIT nothing of the step is visible, so a process killed at any moment leaves each step
 * either all there or absent. A resumed run calls store_truncate_after(checkpoint step) first;
 * writing a step that is already there is an error.
 *
 * A store is one connection, used from one thread. Library code: errors come back through grpo_err,
 * with the database path and SQLite's own message. */
#ifndef GRPO_STORE_H
#define GRPO_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"

/* The schema this build writes and reads (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 2
/* PRAGMA application_id of a grpo rollout database ("GRPO"). */
#define STORE_APPLICATION_ID 0x4752504F

/* finish_reason values; equal to GEN_FINISH_STOP / GEN_FINISH_LENGTH in rollout/generate.h. */
enum { STORE_FINISH_STOP = 0, STORE_FINISH_LENGTH = 1 };

typedef struct store store;

/* One named reward component of a completion (already weighted or not: the caller's choice,
 * documented by the reward registry), with a short reason ("extracted 12, gold 13") or NULL. */
typedef struct {
    const char *name;
    double value;
    const char *reason;
} store_component;

/* One completion of one prompt, as the train loop has it after scoring and advantages.
 * Pointers are borrowed for the duration of store_add_rollout. */
typedef struct {
    int64_t prompt_id;                  /* the prompt's identity (dataset index); unique within a step */
    int sample_index;                   /* j in 0..G-1 */
    const char *prompt_text;            /* the prompt as the model saw it (after the chat template) */
    const char *completion_text;        /* the decoded completion */
    const int *token_ids;               /* completion tokens, n_tokens of them */
    const float *logprobs;              /* one per token under the sampling policy, or NULL */
    int n_tokens;
    const store_component *components;  /* reward per component */
    int n_components;
    double reward_total;                /* the weighted sum the advantage came from */
    double advantage;
    int finish;                         /* STORE_FINISH_STOP or STORE_FINISH_LENGTH */
    const char *extracted_answer;       /* the answer the rewards found in the completion, or NULL */
    const char *gold_answer;            /* the prompt's gold answer (stored once per prompt), or NULL */
} store_rollout;

/* The headline metrics of a step, stored as real columns of `steps`. NaN means "not measured"
 * and is stored as NULL. */
typedef struct {
    double reward_mean, reward_std, accuracy, kl, loss;
    double clip_frac_low, clip_frac_high, entropy;
    double completion_len_mean, completion_len_max, truncated_frac, zero_std_frac;
    double tokens_per_s_sampling, tokens_per_s_training;
    double seconds_sampling, seconds_scoring, seconds_training;
} store_step_metrics;

/* One evaluation result: metric (e.g. "accuracy", "pass@1", "maj@8") of eval set name on split. */
typedef struct {
    int64_t step;             /* policy step evaluated (0 = GRPO start, after SFT; -1 = before SFT) */
    const char *name;         /* eval set, e.g. "gsm8k" */
    const char *split;        /* e.g. "eval", "test" */
    const char *metric;
    double value;
    int64_t n;                /* problems evaluated */
    const char *detail_json;  /* optional JSON object (k, temperature, ...), or NULL */
} store_eval;

/* ---- opening ---- */

/* Opens (creating the file, its parent directories and the schema when missing) the database at
 * path for writing, in WAL mode, and inserts or updates the runs row of run_name with config_json
 * (a JSON object). An existing file must be a grpo database of this schema version. */
int store_open(store **out, const char *path, const char *run_name, const char *config_json, grpo_err *err);

/* Opens an existing database read-only (safe while a run writes it). run_name selects the run;
 * NULL selects the only run in the file (an error when there are several or none). A file of an
 * older schema version (1) opens too: store_schema_version tells the reader which columns exist. */
int store_open_read(store **out, const char *path, const char *run_name, grpo_err *err);

/* Migrates the database at path to STORE_SCHEMA_VERSION in one transaction (nothing changes on
 * error); *from (may be NULL) gets the version it had. A current file is left as it is. */
int store_migrate(const char *path, int *from, grpo_err *err);

/* The schema version of the open file (1 or 2). */
int store_schema_version(const store *s);

/* Rolls back an open step, finalizes statements and closes the database. NULL is a no-op. */
void store_close(store *s);

/* The selected run's id (runs.run_id) and name. */
int64_t store_run_id(const store *s);
const char *store_run_name(const store *s);

/* ---- writing a step ---- */

/* Returns the metrics with every field NaN ("not measured"), for callers to fill. */
store_step_metrics store_metrics_unset(void);

/* Opens the transaction of step; fails when a step is already open or when step is already stored
 * (a resumed run must call store_truncate_after first). */
int store_step_begin(store *s, int64_t step, grpo_err *err);

/* Adds one completion (its rollouts row and its reward_components rows) to the open step.
 * On error the step stays open: the caller aborts it. */
int store_add_rollout(store *s, const store_rollout *r, grpo_err *err);

/* Writes the steps row (m, plus metrics_json: a JSON object of every metric, or NULL) and commits.
 * step must be the open step. On error the step is rolled back and absent. */
int store_step_commit(store *s, int64_t step, const store_step_metrics *m, const char *metrics_json, grpo_err *err);

/* Rolls back the open step, if any: nothing of it remains. */
void store_step_abort(store *s);

/* ---- other writes and reads ---- */

/* Deletes, in one transaction, every step, rollout, reward component and eval of this run with
 * step > `step` (-1 deletes all); *removed (may be NULL) gets the number of steps deleted. */
int store_truncate_after(store *s, int64_t step, int64_t *removed, grpo_err *err);

/* Records one eval result; the same (step, name, split, metric) recorded again replaces it. */
int store_add_eval(store *s, const store_eval *e, grpo_err *err);

/* *step = the highest stored step of this run, or -1 when none. */
int store_last_step(store *s, int64_t *step, grpo_err *err);

/* Called with each result row as a JSON object (column name -> value). Return nonzero to stop. */
typedef int (*store_row_fn)(void *ctx, json_t *row);

/* Runs one read-only SQL statement with args bound to ?1..?n_args and calls fn with each row.
 * A text column whose name ends in "_json" is decoded and keyed without the suffix
 * (`SELECT token_ids AS token_ids_json` gives "token_ids": [...]). Invalid UTF-8 in text becomes U+FFFD. */
int store_query(store *s, const char *sql, const int64_t *args, int n_args, store_row_fn fn, void *ctx,
                grpo_err *err);

/* ---- distillation (kept apart from the schema above; docs/distill.md) ---- */

/* Marks the run's kind in runs.kind ("grpo" by default; "traces" for grpo traces, "sft" for grpo sft),
 * adding the column to an older file that lacks it. Not inside a step. */
int store_set_run_kind(store *s, const char *kind, grpo_err *err);

/* Adds the teacher's per-token logprobs of one completion of the open step (on-policy distillation),
 * in the table teacher_logprobs (created on first use; its rows go with their rollout). The rollout
 * must be added in the same step. */
int store_add_teacher_logprobs(store *s, int64_t prompt_id, int sample_index, const float *logprobs, int n,
                               grpo_err *err);

/* One bound parameter of store_query_args. */
typedef enum { STORE_ARG_INT, STORE_ARG_REAL, STORE_ARG_TEXT, STORE_ARG_NULL } store_arg_type;
typedef struct {
    store_arg_type type;
    int64_t i;
    double d;
    const char *s; /* borrowed for the call */
} store_arg;

/* store_query with typed arguments bound to ?1..?n_args. */
int store_query_args(store *s, const char *sql, const store_arg *args, int n_args, store_row_fn fn, void *ctx,
                     grpo_err *err);

#endif
