/* tests/distill/test_distill.c: distillation as a user meets it (docs/distill.md): traces stored once per
 * (prompt, sample) in a run marked 'traces', export formats and filters, an export of nothing leaving no
 * file, SFT rows in each shape and bad rows named by file:line:field, SFT resume bit for bit, on-policy
 * distillation's per-token advantages through the learner, its teacher logprobs in the database, the
 * vocabulary mismatch error, and GKD's top-k forward KL (a hand-computed 5-token row, the full KL at
 * k >= V, finite differences through a model, the held-out KL falling, grpo sft --distill gkd). The teacher is the tiny HF Qwen2 fixture with the demo tokenizer. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/fsutil.h"
#include "grpo/learner/learner.h"
#include "grpo/loops/gkd.h"
#include "grpo/loops/onpolicy.h"
#include "grpo/loops/sft_data.h"
#include "rollout/generate.h"
#include "../test_util.h"

static char *tmp;

/* Runs `grpo ARGS` (stderr merged); returns the exit status and the output in *out (may be NULL). */
static int grpo(const char *args, char **out) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s %s", GRPO_BIN, args);
    if (out) return tu_run(cmd, out, 1);
    char *o = NULL;
    int rc = tu_run(cmd, &o, 1);
    free(o);
    return rc;
}

static void expect(const char *args, int want_rc, const char *want_text) {
    char *out = NULL;
    int rc = grpo(args, &out);
    if (rc != want_rc || !strstr(out, want_text))
        fprintf(stderr, "\n  grpo %s -> %d (want %d)\n  output: %s\n  wanted: %s\n", args, rc, want_rc, out, want_text);
    CU_ASSERT_EQUAL(rc, want_rc);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want_text));
    free(out);
}

/* The output of sqlite3 on a database (caller frees). */
static char *query(const char *db, const char *sql) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "sqlite3 %s \"%s\"", db, sql);
    if (tu_run(cmd, &out, 0)) fprintf(stderr, "\n  %s\n  %s\n", cmd, out ? out : "");
    return out;
}

/* Writes TMP/name with text; returns the path (caller frees). */
static char *write_tmp(const char *name, const char *text) { return tu_write(tmp, name, text, strlen(text)); }

/* A traces config on the fixture teacher: 12 arithmetic prompts (4 more held out), K = 3, 4 prompts per chunk. */
static char *traces_config(void) {
    char *model = tu_src("tests/fixtures/policy/qwen2"), *tok = tu_src("data/demo-tokenizer"), json[8192];
    snprintf(json, sizeof json,
             "{\"model\": \"%s\", \"tokenizer\": \"%s\", \"dataset\": \"builtin:arithmetic\", \"train_size\": 12,\n"
             " \"eval_size\": 4, \"builtin_digits\": 1, \"num_generations\": 3, \"generation_batch_size\": 12,\n"
             " \"max_completion_length\": 16, \"max_prompt_length\": 64, \"temperature\": 0.6, \"top_p\": 0.95,\n"
             " \"output_dir\": \"%s\", \"run_name\": \"tr\", \"seed\": 3}\n",
             model, tok, tmp);
    free(model);
    free(tok);
    return write_tmp("traces.json", json);
}

static char db_path[2048];

static void traces_store_each_prompt_sample_once_in_a_traces_run(void) {
    char *cfg = traces_config(), args[8192];
    snprintf(args, sizeof args, "traces %s", cfg);
    expect(args, 0, "done: 12 prompts x 3 samples (3 chunks this run, 0 resumed)");
    snprintf(db_path, sizeof db_path, "%s/tr/rollouts.db", tmp);
    char *out = query(db_path, "SELECT kind, (SELECT count(*) FROM rollouts), (SELECT count(DISTINCT prompt_id || '/' || "
                               "sample_index) FROM rollouts), (SELECT count(*) FROM steps) FROM runs");
    CU_ASSERT_STRING_EQUAL(out, "traces|36|36|3\n");
    free(out);
    snprintf(args, sizeof args, "db summary --db %s", db_path);
    expect(args, 0, "kind: traces");
    /* every trace is scored by the configured reward_funcs, one component row each */
    out = query(db_path, "SELECT count(*) FROM reward_components WHERE name IN ('accuracy', 'format')");
    CU_ASSERT_STRING_EQUAL(out, "72\n");
    free(out);
    /* resuming a finished run samples nothing again; the traces do not depend on the chunk size */
    snprintf(args, sizeof args, "traces %s --resume", cfg);
    expect(args, 0, "(0 chunks this run, 3 resumed)");
    /* resuming with another chunking would number the chunks differently: refused */
    snprintf(args, sizeof args, "traces %s --resume --generation_batch_size 6", cfg);
    expect(args, 1, "the stored traces have 4 prompts per chunk and 3 samples per prompt, this config 2 and 3");
    char *a = query(db_path, "SELECT group_concat(token_ids, ';') FROM (SELECT token_ids FROM rollouts ORDER BY prompt_id, sample_index)");
    snprintf(args, sizeof args, "traces %s --generation_batch_size 6 --run_name tr6", cfg);
    expect(args, 0, "done: 12 prompts x 3 samples (6 chunks this run");
    char db6[4200];
    snprintf(db6, sizeof db6, "%s/tr6/rollouts.db", tmp);
    char *b = query(db6, "SELECT group_concat(token_ids, ';') FROM (SELECT token_ids FROM rollouts ORDER BY prompt_id, sample_index)");
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
    free(cfg);
}

/* Parses every line of path as JSON into an array (NULL on a bad line). */
static json_t *read_jsonl(const char *path) {
    char *text = NULL;
    size_t len;
    if (fs_read_file(path, &text, &len, NULL)) return NULL;
    json_t *a = json_array();
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) {
            json_decref(a);
            a = NULL;
            break;
        }
        json_array_append_new(a, j);
    }
    free(text);
    return a;
}

static void export_writes_each_format(void) {
    char args[8192], out[4200];
    snprintf(out, sizeof out, "%s/m.jsonl", tmp);
    snprintf(args, sizeof args, "export --db %s --out %s --max-per-prompt 2", db_path, out);
    expect(args, 0, "wrote");
    json_t *rows = read_jsonl(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
    CU_ASSERT_EQUAL(json_array_size(rows), 24); /* 12 prompts, 2 each */
    json_t *msgs = json_object_get(json_array_get(rows, 0), "messages");
    CU_ASSERT_EQUAL(json_array_size(msgs), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "user");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(msgs, 1), "role")), "assistant");
    CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(json_array_get(msgs, 0), "content")), "Compute "));
    json_decref(rows);

    snprintf(args, sizeof args, "export --db %s --out %s --format prompt-completion --steps 2:2", db_path, out);
    expect(args, 0, "wrote");
    rows = read_jsonl(out);
    CU_ASSERT_EQUAL(json_array_size(rows), 12); /* step 2 holds 4 prompts x 3 */
    CU_ASSERT_TRUE(json_is_array(json_object_get(json_array_get(rows, 0), "prompt")));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(json_array_get(rows, 0), "completion")), 1);
    json_decref(rows);

    snprintf(args, sizeof args, "export --db %s --out %s --format openr1", db_path, out);
    expect(args, 0, "wrote");
    rows = read_jsonl(out);
    CU_ASSERT_EQUAL(json_array_size(rows), 12); /* one row per problem */
    json_t *r0 = json_array_get(rows, 0);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r0, "generations")), 3);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r0, "correctness_math_verify")), 3);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r0, "finish_reasons")), 3);
    CU_ASSERT_TRUE(json_is_string(json_object_get(r0, "answer")));
    json_decref(rows);

    /* a random teacher solves nothing: every prompt has pass rate 0 */
    snprintf(args, sizeof args, "export --db %s --out %s --pass-rate 0:0.5", db_path, out);
    expect(args, 0, "12 prompts with pass rate in [0, 0.5]");
    rows = read_jsonl(out);
    CU_ASSERT_EQUAL(json_array_size(rows), 12);
    CU_ASSERT_EQUAL(json_real_value(json_object_get(json_array_get(rows, 0), "pass_rate")), 0.0);
    CU_ASSERT_TRUE(json_is_string(json_object_get(json_array_get(rows, 0), "answer")));
    json_decref(rows);
}

static void an_export_that_selects_nothing_is_an_error_and_writes_no_file(void) {
    char args[8192], out[4200];
    snprintf(out, sizeof out, "%s/none.jsonl", tmp);
    snprintf(args, sizeof args, "export --db %s --out %s --min-reward 1 --complete-only", db_path, out);
    expect(args, 1, "the export selects nothing: 36 completions of 12 prompts");
    expect(args, 1, "(min reward 1, complete only)");
    CU_ASSERT_FALSE(fs_exists(out));
    snprintf(args, sizeof args, "export --db %s --out %s --pass-rate 0.1:0.6", db_path, out);
    expect(args, 1, "pass rate in [0.1, 0.6]");
    CU_ASSERT_FALSE(fs_exists(out));
    snprintf(args, sizeof args, "export --db %s --out %s --format sharegpt", db_path, out);
    expect(args, 2, "'sharegpt' is not messages, prompt-completion or openr1");
    snprintf(args, sizeof args, "export --db %s/nonexistent.db --out %s", tmp, out);
    expect(args, 1, "nonexistent.db");
}

static void sft_rows_come_in_three_shapes(void) {
    const char *text =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Q1\"},"
        " {\"role\": \"assistant\", \"content\": \"<think>t</think>A1\"}]}\n"
        "\n"
        "{\"prompt\": \"Q2\", \"completion\": \"A2\"}\n"
        "{\"prompt\": [{\"role\": \"user\", \"content\": \"Q3\"}], \"completion\": [{\"role\": \"assistant\", \"content\": \"A3\"}]}\n"
        "{\"problem\": \"Q4\", \"generations\": [\"g0\", \"g1\", \"g2\"], \"correctness_math_verify\": [true, false, true]}\n";
    sft_rows r;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(sft_rows_load_buffer(&r, "t.jsonl", text, strlen(text), &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(r.n, 5);
    CU_ASSERT_EQUAL(r.rows[0].n_turns, 2);
    CU_ASSERT_STRING_EQUAL(r.rows[0].roles[0], "system");
    CU_ASSERT_STRING_EQUAL(r.rows[0].completion, "<think>t</think>A1"); /* <think> kept */
    CU_ASSERT_STRING_EQUAL(r.rows[1].contents[0], "Q2");
    CU_ASSERT_EQUAL(r.rows[1].line, 3);
    CU_ASSERT_STRING_EQUAL(r.rows[2].completion, "A3");
    CU_ASSERT_STRING_EQUAL(r.rows[3].completion, "g0"); /* the correct generations only */
    CU_ASSERT_STRING_EQUAL(r.rows[4].completion, "g2");
    CU_ASSERT_EQUAL(r.rows[4].line, 5);
    sft_rows_free(&r);
}

static void bad_sft_rows_name_file_line_and_field(void) {
    static const struct {
        const char *text, *want;
    } CASES[] = {
        {"{\"prompt\": \"q\", \"completion\": \"a\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}\n",
         "t.jsonl:2: field \"messages\": has no assistant turn"},
        {"{\"messages\": [{\"role\": \"tool\", \"content\": \"q\"}]}\n", "t.jsonl:1: field \"messages\": entry 0 has role \"tool\""},
        {"{\"messages\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n", "t.jsonl:1: field \"messages\": has no turn before"},
        {"{\"prompt\": \"q\"}\n", "t.jsonl:1: field \"completion\": missing"},
        {"{\"prompt\": 3, \"completion\": \"a\"}\n", "t.jsonl:1: field \"prompt\": must be a string"},
        {"{\"problem\": \"q\", \"generations\": [\"a\"], \"correctness_math_verify\": [true, true]}\n",
         "t.jsonl:1: field \"correctness_math_verify\": must be an array of booleans, one per generation"},
        {"{\"text\": \"q\"}\n", "t.jsonl:1: field \"messages\": missing"},
        {"{\"messages\": [\n", "t.jsonl:1: not valid JSON"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        sft_rows r;
        grpo_err e = {0};
        CU_ASSERT_NOT_EQUAL(sft_rows_load_buffer(&r, "t.jsonl", CASES[i].text, strlen(CASES[i].text), &e), GRPO_OK);
        if (!strstr(e.msg, CASES[i].want)) fprintf(stderr, "\n  got: %s\n  want: %s\n", e.msg, CASES[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, CASES[i].want));
        CU_ASSERT_EQUAL(r.n, 0);
    }
}

/* An SFT config: the tiny preset from nothing on 48 worked arithmetic rows, cosine schedule. */
static char *sft_config(const char *rows_path) {
    char *tok = tu_src("data/demo-tokenizer"), json[8192];
    snprintf(json, sizeof json,
             "{\"model\": \"init:qwen2:tiny\", \"tokenizer\": \"%s\", \"sft_dataset\": \"%s\",\n"
             " \"dataset\": \"builtin:arithmetic\", \"train_size\": 40, \"eval_size\": 8, \"builtin_digits\": 1,\n"
             " \"max_completion_length\": 16, \"max_prompt_length\": 64, \"sft_steps\": 12, \"sft_batch_size\": 8,\n"
             " \"sft_learning_rate\": 3e-3, \"lr_scheduler_type\": \"cosine\", \"warmup_steps\": 2, \"save_steps\": 4,\n"
             " \"save_total_limit\": 0, \"output_dir\": \"%s\", \"seed\": 7}\n",
             tok, rows_path, tmp);
    free(tok);
    return write_tmp("sft.json", json);
}

static char *sft_rows_file(void) {
    char text[16384];
    size_t n = 0;
    for (int i = 0; i < 48; i++) {
        int a = i % 10, b = (i * 7) % 10;
        n += snprintf(text + n, sizeof text - n,
                      "{\"messages\": [{\"role\": \"user\", \"content\": \"Compute %d+%d.\"}, {\"role\": \"assistant\", "
                      "\"content\": \"<think>%d+%d=%d.</think><answer>%d</answer>\"}]}\n",
                      a, b, a, b, a + b, a + b);
    }
    return write_tmp("rows.jsonl", text);
}

static void sft_resume_is_bit_exact(void) {
    char *rows = sft_rows_file(), *cfg = sft_config(rows), args[8192], cmd[16384];
    snprintf(args, sizeof args, "sft %s --run_name s --output_dir %s/whole", cfg, tmp);
    expect(args, 0, "done: 12 SFT steps on 48 rows");
    /* a run that stopped after its step-8 checkpoint: later checkpoints gone, the database ahead of it */
    snprintf(cmd, sizeof cmd, "cp -r %s/whole %s/cut && rm -rf %s/cut/s/checkpoints/step-00000012", tmp, tmp, tmp);
    CU_ASSERT_EQUAL_FATAL(tu_run(cmd, NULL, 1), 0);
    snprintf(args, sizeof args, "sft %s --run_name s --output_dir %s/cut --resume", cfg, tmp);
    expect(args, 0, "resumed from");
    snprintf(cmd, sizeof cmd, "cmp %s/whole/s/checkpoints/step-00000012/model.safetensors %s/cut/s/checkpoints/step-00000012/model.safetensors && "
             "cmp %s/whole/s/checkpoints/step-00000012/optimizer.safetensors %s/cut/s/checkpoints/step-00000012/optimizer.safetensors",
             tmp, tmp, tmp, tmp);
    CU_ASSERT_EQUAL(tu_run(cmd, NULL, 1), 0);
    char db[4200];
    snprintf(db, sizeof db, "%s/cut/s/rollouts.db", tmp);
    char *out = query(db, "SELECT count(*), count(DISTINCT step), (SELECT kind FROM runs) FROM steps");
    CU_ASSERT_STRING_EQUAL(out, "12|12|sft\n");
    free(out);
    /* the loss fell and the held-out accuracy was recorded before and after */
    out = query(db, "SELECT (SELECT loss FROM steps WHERE step = 12) < (SELECT loss FROM steps WHERE step = 1), "
                    "group_concat(step) FROM (SELECT step FROM evals ORDER BY step)");
    CU_ASSERT_STRING_EQUAL(out, "1|0,8,12\n"); /* at the start, at the resume and at the end */
    free(out);
    /* a messages row without an assistant turn stops grpo sft before any work, naming file:line:field */
    char *bad = write_tmp("bad.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}\n");
    snprintf(args, sizeof args, "sft %s --run_name bad --sft_dataset %s", cfg, bad);
    expect(args, 1, "bad.jsonl:1: field \"messages\": has no assistant turn");
    free(bad);
    free(rows);
    free(cfg);
}

static void per_token_advantages_go_through_the_clipped_loss(void) {
    /* student (sampling) and teacher logprobs of 3 tokens; at ratio 1 the dapo gradient is -A_t / tokens */
    const float student[3] = {-1.0f, -2.0f, -0.5f}, teacher[3] = {-0.5f, -3.0f, -0.5f};
    float adv_tok[3], dl[3];
    double adv[1] = {2.0};
    const double kl = onpolicy_advantages(student, teacher, NULL, 3, adv_tok, adv, 1, 0.25);
    CU_ASSERT_DOUBLE_EQUAL(kl, (-0.5 + 1.0 + 0.0) / 3, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(adv_tok[0], 0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(adv_tok[1], -1.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(adv[0], 0.5, 1e-12); /* the task advantage, weighted */
    const int len[1] = {3};
    learner_opts o = {.loss_type = LOSS_DAPO, .epsilon = 0.2f, .epsilon_high = 0.28f};
    learner_norm nrm = {.n_seq_step = 1, .n_micro = 1, .max_completion_length = 3, .active_tokens_step = 3};
    learner_batch b = {.n_seq = 1, .len = len, .logp_new = student, .logp_old = student, .adv = adv, .adv_token = adv_tok};
    learner_stats st = {0};
    CU_ASSERT_EQUAL_FATAL(learner_loss(&o, &nrm, &b, dl, &st, NULL), GRPO_OK);
    for (int t = 0; t < 3; t++) CU_ASSERT_DOUBLE_EQUAL(dl[t], -(0.5 + adv_tok[t]) / 3, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(st.loss, -(0.5 * 3 + 0.5 - 1.0 + 0.0) / 3, 1e-6);
}

static void on_policy_distillation_stores_teacher_logprobs_and_checks_vocabularies(void) {
    char *model = tu_src("tests/fixtures/policy/qwen2"), *tok = tu_src("data/demo-tokenizer"), json[8192], args[8192];
    snprintf(json, sizeof json,
             "{\"model\": \"init:qwen2:tiny\", \"tokenizer\": \"%s\", \"teacher_model\": \"%s\", \"distill\": \"on_policy\",\n"
             " \"dataset\": \"builtin:arithmetic\", \"train_size\": 40, \"eval_size\": 4, \"builtin_digits\": 1,\n"
             " \"num_generations\": 4, \"generation_batch_size\": 8, \"per_device_train_batch_size\": 8,\n"
             " \"max_completion_length\": 12, \"max_prompt_length\": 64, \"learning_rate\": 1e-3, \"max_steps\": 2,\n"
             " \"save_steps\": 0, \"output_dir\": \"%s\", \"run_name\": \"op\", \"seed\": 5}\n",
             tok, model, tmp);
    char *cfg = write_tmp("op.json", json);
    snprintf(args, sizeof args, "train %s", cfg);
    expect(args, 0, "done: 2 GRPO steps");
    char db[4200];
    snprintf(db, sizeof db, "%s/op/rollouts.db", tmp);
    /* one teacher logprob per completion token, every one a log-probability */
    char *out = query(db, "SELECT count(*), sum(json_array_length(t.logprobs) = r.length), "
                          "sum((SELECT max(value) FROM json_each(t.logprobs)) <= 0) FROM teacher_logprobs t JOIN rollouts r "
                          "USING (run_id, step, prompt_id, sample_index)");
    CU_ASSERT_STRING_EQUAL(out, "16|16|16\n");
    free(out);
    out = query(db, "SELECT count(*) FROM steps WHERE json_extract(metrics_json, '$.\\\"distill/reverse_kl\\\"') > 0");
    CU_ASSERT_STRING_EQUAL(out, "2\n");
    free(out);
    /* a teacher of another vocabulary */
    snprintf(args, sizeof args, "init --arch qwen2 --preset tiny --vocab 2000 --out %s/v2000", tmp);
    expect(args, 0, "wrote");
    snprintf(args, sizeof args, "train %s --run_name mismatch --teacher_model %s/v2000", cfg, tmp);
    expect(args, 1, "vocabulary mismatch: teacher_model");
    expect(args, 1, "v2000/config.json has vocab_size 2000, the student (model init:qwen2:tiny) has vocab_size 1024");
    snprintf(args, sizeof args, "train %s --run_name nodist --distill off_policy", cfg);
    expect(args, 1, "distill \"off_policy\" is not \"on_policy\"");
    snprintf(args, sizeof args, "train %s --run_name gkdtrain --distill gkd", cfg);
    expect(args, 1, "distill \"gkd\" learns from teacher traces: it runs in grpo sft, not grpo train");
    free(cfg);
    free(model);
    free(tok);
}

/* ---- GKD: the forward KL over the teacher's top-k plus a tail bucket (grpo/gkd.h) ---- */

/* Teacher p = (0.4, 0.3, 0.15, 0.1, 0.05) with k = 2 (ids 0, 1; tail 0.3) against the student
 * s = (0.1, 0.5, 0.2, 0.1, 0.1) (student tail 0.4):
 *     KL = 0.4 ln(0.4/0.1) + 0.3 ln(0.3/0.5) + 0.3 ln(0.3/0.4)
 *     dz = (0.1 - 0.4, 0.5 - 0.3, then s_v (1 - 0.3/0.4) = 0.05, 0.025, 0.025) */
static void gkd_row_equals_a_hand_computed_kl_on_five_tokens(void) {
    const float tl[5] = {logf(0.4f), logf(0.3f), logf(0.15f), logf(0.1f), logf(0.05f)};
    const float sl[5] = {logf(0.1f) + 3, logf(0.5f) + 3, logf(0.2f) + 3, logf(0.1f) + 3, logf(0.1f) + 3}; /* any shift */
    smp_token work[5];
    int ids[2];
    float p[2], tail, dz[5];
    gkd_teacher_row(tl, 5, 2, work, ids, p, &tail);
    CU_ASSERT_EQUAL(ids[0], 0);
    CU_ASSERT_EQUAL(ids[1], 1);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.4, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 0.3, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(tail, 0.3, 1e-6);
    const double kl = gkd_row(sl, 5, ids, p, tail, 2, 1.0f, dz);
    CU_ASSERT_DOUBLE_EQUAL(kl, 0.4 * log(0.4 / 0.1) + 0.3 * log(0.3 / 0.5) + 0.3 * log(0.3 / 0.4), 1e-6);
    const double want[5] = {-0.3, 0.2, 0.05, 0.025, 0.025};
    for (int v = 0; v < 5; v++) CU_ASSERT_DOUBLE_EQUAL(dz[v], want[v], 1e-6);
    /* the same student as its teacher: KL 0, gradient 0 */
    gkd_teacher_row(sl, 5, 2, work, ids, p, &tail);
    CU_ASSERT_DOUBLE_EQUAL(gkd_row(sl, 5, ids, p, tail, 2, 1.0f, dz), 0.0, 1e-7);
    for (int v = 0; v < 5; v++) CU_ASSERT_DOUBLE_EQUAL(dz[v], 0.0, 1e-7);
}

/* With k = V there is no tail: the loss is sum_v t_v ln(t_v / s_v), computed here in double. */
static void gkd_with_k_at_least_the_vocabulary_is_the_full_kl(void) {
    enum { V = 9 };
    rng_state g;
    rng_seed(&g, 31);
    float tl[V], sl[V], p[V], tail, dz[V];
    int ids[V];
    smp_token work[V];
    double zt = 0, zs = 0, full = 0;
    for (int v = 0; v < V; v++) tl[v] = (float)(2 * rng_normal(&g)), sl[v] = (float)rng_normal(&g);
    for (int v = 0; v < V; v++) zt += exp(tl[v]), zs += exp(sl[v]);
    for (int v = 0; v < V; v++) full += exp(tl[v]) / zt * ((tl[v] - log(zt)) - (sl[v] - log(zs)));
    gkd_teacher_row(tl, V, V, work, ids, p, &tail);
    CU_ASSERT_EQUAL(tail, 0.0f);
    const double kl = gkd_row(sl, V, ids, p, tail, V, 1.0f, dz);
    printf("[full KL %.6f, gkd %.6f] ", full, kl);
    CU_ASSERT_DOUBLE_EQUAL(kl, full, 1e-6);
    for (int v = 0; v < V; v++) CU_ASSERT_DOUBLE_EQUAL(dz[v], exp(sl[v]) / zs - exp(tl[v]) / zt, 1e-6);
    /* a smaller k drops mass into the tail and can only lower the KL (the log-sum inequality) */
    gkd_teacher_row(tl, V, 3, work, ids, p, &tail);
    CU_ASSERT(tail > 0);
    CU_ASSERT(gkd_row(sl, V, ids, p, tail, 3, 1.0f, dz) <= full + 1e-9);
}

/* A small Qwen2-shaped model: 2 layers, hidden 64, vocabulary V; parameters scaled so that its
 * next-token distributions are far from uniform. */
static void small_model(policy_model *m, int V, uint64_t seed, float scale) {
    policy_config c;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_config_preset(&c, POLICY_ARCH_QWEN2, "tiny", &e), GRPO_OK);
    c.vocab_size = V;
    c.hidden_size = 64;
    c.intermediate_size = 96;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 1;
    c.max_position_embeddings = 128;
    c.tie_word_embeddings = 1;
    CU_ASSERT_EQUAL_FATAL(policy_build(m, &c, &e), GRPO_OK);
    policy_init_random(m, seed);
    for (size_t i = 0; i < m->n_params; i++) m->param_mem[i] *= scale;
    m->backend = &policy_backend_cpu;
}

/* Chunked forwards (a chunk of one or two sequences) give the targets, the KL and the gradient of one
 * forward over the whole batch, and a chunk smaller than one sequence still takes that sequence whole. */
static void gkd_in_chunks_equals_one_forward(void) {
    enum { V = 13, S = 5, L = 9 };
    policy_model student = {0}, teacher = {0};
    grpo_err e = {0};
    small_model(&student, V, 5, 4.0f);
    small_model(&teacher, V, 9, 6.0f);
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(&student, &e), GRPO_OK);
    int toks[S * L], lens[S] = {L, 3, L - 2, 2, L};
    for (int i = 0; i < S * L; i++) toks[i] = (i * 5 + 3) % V;
    policy_batch b = {.n_seq = S, .seq_len = lens, .tokens = toks};
    const size_t nt = policy_batch_targets(&b);
    float mask[S * L];
    for (size_t r = 0; r < nt; r++) mask[r] = r % 3 != 0;
    gkd_targets one = {0}, parts = {0};
    double kl1, kl2;
    float *g1 = malloc(student.n_params * sizeof *g1);
    CU_ASSERT_FATAL(g1 != NULL);
    CU_ASSERT_EQUAL_FATAL(gkd_teacher_targets(&teacher, &b, mask, 4, 0, &one, &e), GRPO_OK);
    policy_zero_grad(&student);
    CU_ASSERT_EQUAL_FATAL(gkd_step(&student, &b, mask, &one, 0, 1, &kl1, &e), GRPO_OK);
    memcpy(g1, student.grad_mem, student.n_params * sizeof *g1);
    const size_t chunks[2] = {(size_t)V * L, (size_t)V}; /* 1-2 sequences a chunk; less than any sequence */
    for (int c = 0; c < 2; c++) {
        CU_ASSERT_EQUAL_FATAL(gkd_teacher_targets(&teacher, &b, mask, 4, chunks[c], &parts, &e), GRPO_OK);
        CU_ASSERT_EQUAL(parts.n, one.n);
        double dt = 0, dg = 0, gmax = 0;
        int same_ids = 1;
        for (size_t r = 0; r < nt; r++) {
            dt = fmax(dt, fabs(parts.tail[r] - one.tail[r]));
            for (int j = 0; j < 4; j++) {
                same_ids &= parts.ids[r * 4 + j] == one.ids[r * 4 + j];
                dt = fmax(dt, fabs(parts.p[r * 4 + j] - one.p[r * 4 + j]));
            }
        }
        CU_ASSERT(same_ids);
        /* fp32 forwards over differently shaped batches: 1.2e-6 apart in the Debug build, under 1e-6 in
         * Release; a row taken from the wrong place would be ~0.1 off */
        CU_ASSERT(dt < 1e-5);
        policy_zero_grad(&student);
        CU_ASSERT_EQUAL_FATAL(gkd_step(&student, &b, mask, &one, chunks[c], 1, &kl2, &e), GRPO_OK);
        CU_ASSERT_DOUBLE_EQUAL(kl2, kl1, 1e-6 * fabs(kl1));
        for (size_t i = 0; i < student.n_params; i++) {
            dg = fmax(dg, fabs(student.grad_mem[i] - g1[i]));
            gmax = fmax(gmax, fabs(g1[i]));
        }
        CU_ASSERT(gmax > 1e-3);
        CU_ASSERT(dg < 1e-5 * gmax);
    }
    free(g1);
    gkd_targets_free(&one);
    gkd_targets_free(&parts);
    policy_free(&student);
    policy_free(&teacher);
}

/* The backward over the logits against central differences of the mean KL, on 40 parameters spread
 * over every tensor; the teacher's side is fixed by hand (k = 3 ids at 0.5, 0.2, 0.1, tail 0.2). */
static void gkd_gradient_matches_finite_differences(void) {
    enum { V = 13, S = 2, L = 7 };
    policy_model m = {0};
    grpo_err e = {0};
    small_model(&m, V, 5, 4.0f);
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(&m, &e), GRPO_OK);
    int toks[S * L], lens[S] = {L, L - 2};
    for (int i = 0; i < S * L; i++) toks[i] = (i * 5 + 3) % V;
    policy_batch b = {.n_seq = S, .seq_len = lens, .tokens = toks};
    const size_t nt = policy_batch_targets(&b);
    float mask[S * L];
    for (size_t r = 0; r < nt; r++) mask[r] = r % 4 != 0; /* some targets outside the loss */
    gkd_targets tg = {.k = 3, .n = nt};
    tg.ids = malloc(nt * 3 * sizeof *tg.ids);
    tg.p = malloc(nt * 3 * sizeof *tg.p);
    tg.tail = malloc(nt * sizeof *tg.tail);
    CU_ASSERT_FATAL(tg.ids && tg.p && tg.tail);
    for (size_t r = 0; r < nt; r++) {
        for (int j = 0; j < 3; j++) tg.ids[r * 3 + j] = (int)((r * 7 + j * 4) % V);
        tg.p[r * 3] = 0.5f, tg.p[r * 3 + 1] = 0.2f, tg.p[r * 3 + 2] = 0.1f, tg.tail[r] = 0.2f;
    }
    double kl;
    policy_zero_grad(&m);
    CU_ASSERT_EQUAL_FATAL(gkd_step(&m, &b, mask, &tg, 0, 1, &kl, &e), GRPO_OK);
    CU_ASSERT(kl > 0.1);
    float *g = malloc(m.n_params * sizeof *g);
    CU_ASSERT_FATAL(g != NULL);
    memcpy(g, m.grad_mem, m.n_params * sizeof *g);
    double worst = 0, gmax = 0;
    const float h = 1e-2f;
    for (int i = 0; i < 40; i++) {
        const size_t idx = (size_t)i * (m.n_params / 40) + (size_t)(i * 37) % (m.n_params / 40);
        const float keep = m.param_mem[idx];
        double lp, lm;
        m.param_mem[idx] = keep + h;
        CU_ASSERT_EQUAL_FATAL(gkd_step(&m, &b, mask, &tg, 0, 0, &lp, &e), GRPO_OK);
        m.param_mem[idx] = keep - h;
        CU_ASSERT_EQUAL_FATAL(gkd_step(&m, &b, mask, &tg, 0, 0, &lm, &e), GRPO_OK);
        m.param_mem[idx] = keep;
        const double fd = (lp - lm) / (2.0 * h), d = fabs(fd - g[idx]) / (1e-3 + fabs(fd));
        if (d > worst) worst = d;
        gmax = fmax(gmax, fabs(g[idx]));
        if (d > 0.05) fprintf(stderr, "\n  param %zu: backward %.6g, finite difference %.6g", idx, g[idx], fd);
    }
    printf("[KL %.4f, 40 params, largest |grad| %.3g, worst |fd - grad| / (1e-3 + |fd|) %.2e] ", kl, gmax, worst);
    CU_ASSERT(gmax > 1e-3);
    CU_ASSERT(worst < 0.05);
    /* a backend without a backward over the logits: a clear error, not a wrong gradient */
    policy_backend nolog = policy_backend_cpu;
    nolog.name = "cuda";
    nolog.backward_logits = NULL;
    m.backend = &nolog;
    CU_ASSERT_EQUAL(gkd_step(&m, &b, mask, &tg, 0, 1, &kl, &e), GRPO_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "backend cuda has no backward over the logits"));
    m.backend = &policy_backend_cpu;
    free(g);
    gkd_targets_free(&tg);
    policy_free(&m);
}

/* Traces sampled from a peaked teacher over a 32-token vocabulary (32 prompts x 4 samples for training,
 * 8 x 4 held out); 60 AdamW steps of GKD at k = 20 (a tail bucket of 12 ids) cut the student's forward
 * KL to the teacher on the held-out traces; the targets at a k above the vocabulary hold every id. */
static void gkd_training_lowers_the_kl_on_held_out_traces(void) {
    enum { V = 32, P = 40, G = 4, PL = 4, NEW = 12, TRAIN = 32, B = 4 };
    policy_model teacher = {0}, student = {0};
    grpo_err e = {0};
    small_model(&teacher, V, 11, 3.0f);
    small_model(&student, V, 12, 1.0f);
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(&student, &e), GRPO_OK);
    int prompts[P][PL], lens[P];
    const int *pp[P];
    for (int i = 0; i < P; i++) {
        for (int t = 0; t < PL; t++) prompts[i][t] = (i * 31 + t * 17 + 1) % V;
        pp[i] = prompts[i];
        lens[i] = PL;
    }
    gen_params gp = gen_defaults();
    gp.n = G;
    gp.max_new_tokens = NEW;
    gp.seed = 3;
    gen_completion *gc = calloc(P * G, sizeof *gc);
    gen_stats gs;
    CU_ASSERT_FATAL(gc != NULL);
    CU_ASSERT_EQUAL_FATAL(gen_run(&teacher, pp, lens, NULL, P, &gp, gc, &gs, &e), GRPO_OK);
    /* a batch of prompts lo..hi-1 with all their samples: prompt then completion, loss on the completion */
    int toks[P * G * (PL + NEW)], slen[P * G];
    float mask[P * G * (PL + NEW)];
    gkd_targets tg = {0};
    double before = 0, after = 0, kl;
    for (int phase = 0; phase < 62; phase++) {
        const int held = phase == 0 || phase == 61, lo = held ? TRAIN : (phase * B) % TRAIN, hi = held ? P : lo + B;
        int n = 0, o = 0, mo = 0;
        for (int i = lo; i < hi; i++)
            for (int j = 0; j < G; j++, n++) {
                const gen_completion *c = &gc[i * G + j];
                memcpy(toks + o, prompts[i], PL * sizeof(int));
                memcpy(toks + o + PL, c->tokens, c->n_tokens * sizeof(int));
                slen[n] = PL + c->n_tokens;
                for (int t = 0; t + 1 < slen[n]; t++) mask[mo + t] = t + 1 >= PL;
                o += slen[n];
                mo += slen[n] - 1;
            }
        policy_batch b = {.n_seq = n, .seq_len = slen, .tokens = toks};
        CU_ASSERT_EQUAL_FATAL(gkd_teacher_targets(&teacher, &b, mask, 20, 0, &tg, &e), GRPO_OK);
        policy_zero_grad(&student);
        CU_ASSERT_EQUAL_FATAL(gkd_step(&student, &b, mask, &tg, 0, !held, &kl, &e), GRPO_OK);
        if (phase == 0) before = kl;
        else if (phase == 61) after = kl;
        else {
            policy_clip_grad_norm(&student, 1.0);
            const policy_adamw h = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
            CU_ASSERT_EQUAL_FATAL(policy_adamw_step(&student, &h, &e), GRPO_OK);
        }
        if (phase == 61) { /* k above the vocabulary: every id, no tail */
            CU_ASSERT_EQUAL_FATAL(gkd_teacher_targets(&teacher, &b, mask, 100000, 0, &tg, &e), GRPO_OK);
            CU_ASSERT_EQUAL(tg.k, V);
            CU_ASSERT_EQUAL(tg.tail[PL], 0.0f);
        }
    }
    printf("[held-out KL %.4f -> %.4f] ", before, after);
    CU_ASSERT(before > 0.5);
    CU_ASSERT(after < 0.9 * before); /* 0.882 -> 0.712 when written; the train traces' KL falls further */
    gkd_targets_free(&tg);
    gen_completions_free(gc, P * G);
    free(gc);
    policy_free(&teacher);
    policy_free(&student);
}

/* grpo sft with distill "gkd" on the fixture teacher: the KL falls, its steps say so; a teacher of another
 * vocabulary, "on_policy" in grpo sft and "gkd" in grpo train are clear errors. */
static void sft_with_distill_gkd_learns_the_teacher_and_checks_its_inputs(void) {
    char *rows = sft_rows_file(), *cfg = sft_config(rows), *model = tu_src("tests/fixtures/policy/qwen2"), args[8192];
    snprintf(args, sizeof args, "sft %s --run_name gkd --distill gkd --teacher_model %s --distill_top_k 8 --save_steps 0",
             cfg, model);
    expect(args, 0, "done: 12 SFT steps on 48 rows");
    char db[4200];
    snprintf(db, sizeof db, "%s/gkd/rollouts.db", tmp);
    char *out = query(db, "SELECT (SELECT loss FROM steps WHERE step = 12) < 0.8 * (SELECT loss FROM steps WHERE step = 1), "
                          "sum(json_extract(metrics_json, '$.loss_kind') = 'gkd_forward_kl') FROM steps");
    CU_ASSERT_STRING_EQUAL(out, "1|12\n");
    free(out);
    snprintf(args, sizeof args, "init --arch qwen2 --preset tiny --vocab 2000 --out %s/gkd-v2000", tmp);
    expect(args, 0, "wrote");
    snprintf(args, sizeof args, "sft %s --run_name gkdbad --distill gkd --teacher_model %s/gkd-v2000", cfg, tmp);
    expect(args, 1, "gkd-v2000/config.json has vocab_size 2000, the student (model init:qwen2:tiny) has vocab_size 1024");
    snprintf(args, sizeof args, "sft %s --run_name opsft --distill on_policy --teacher_model %s", cfg, model);
    expect(args, 1, "distill \"on_policy\" samples from the student: it runs in grpo train");
    snprintf(args, sizeof args, "sft %s --run_name k0 --distill gkd --teacher_model %s --distill_top_k 0", cfg, model);
    expect(args, 1, "distill_top_k must be at least 1, got 0");
    free(cfg);
    free(rows);
    free(model);
}

/* grpo demo distill end to end on the fixture teacher (random, so every trace is kept with --unfiltered
 * and none without): the stages run and the last line is the JSON summary. */
__attribute__((unused)) /* registered in the Release build only (main) */
static void demo_distill_runs_every_stage_and_ends_with_its_json_line(void) {
    char *model = tu_src("tests/fixtures/policy/qwen2"), args[8192], *out = NULL;
    snprintf(args, sizeof args,
             "demo distill --teacher %s --unfiltered --samples 1 --sft_steps 4 --distill_steps 1 --output_dir %s/demo", model,
             tmp);
    CU_ASSERT_EQUAL_FATAL(grpo(args, &out), 0);
    char *last = strrchr(out, '{');
    json_t *j = last ? json_loads(last, 0, NULL) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    const char *keys[] = {"teacher_accuracy", "student_sft_accuracy", "student_accuracy", "teacher_params", "student_params", "db"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) CU_ASSERT_PTR_NOT_NULL(json_object_get(j, keys[i]));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "teacher_params")), 139840);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "student_params")), 213824); /* hidden 64, 3 layers, 1024 ids */
    CU_ASSERT_TRUE(fs_exists(json_string_value(json_object_get(j, "db"))));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "[4/4] on-policy distillation"));
    json_decref(j);
    free(out);
    /* rejection sampling keeps nothing of a random teacher: the pipeline stops at the export, saying so */
    snprintf(args, sizeof args, "demo distill --teacher %s --samples 1 --output_dir %s/demo2", model, tmp);
    CU_ASSERT_EQUAL(grpo(args, &out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "grpo demo distill: export: error:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "the export selects nothing"));
    free(out);
    free(model);
}

static void every_distill_command_has_help(void) {
    expect("traces --help", 0, "usage: grpo traces");
    expect("export --help", 0, "usage: grpo export");
    expect("sft --help", 0, "usage: grpo sft");
    expect("export --db x.db", 2, "--db and --out are required");
    expect("sft", 2, "a CONFIG.json is required");
}

int main(void) {
    tmp = tu_tmpdir("distill");
    if (!tmp || CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("distill", NULL, NULL);
    CU_add_test(s, "every_distill_command_has_help", every_distill_command_has_help);
    CU_add_test(s, "traces_store_each_prompt_sample_once_in_a_traces_run", traces_store_each_prompt_sample_once_in_a_traces_run);
    CU_add_test(s, "export_writes_each_format", export_writes_each_format);
    CU_add_test(s, "an_export_that_selects_nothing_is_an_error_and_writes_no_file",
                an_export_that_selects_nothing_is_an_error_and_writes_no_file);
    CU_add_test(s, "sft_rows_come_in_three_shapes", sft_rows_come_in_three_shapes);
    CU_add_test(s, "bad_sft_rows_name_file_line_and_field", bad_sft_rows_name_file_line_and_field);
    CU_add_test(s, "sft_resume_is_bit_exact", sft_resume_is_bit_exact);
    CU_add_test(s, "per_token_advantages_go_through_the_clipped_loss", per_token_advantages_go_through_the_clipped_loss);
    CU_add_test(s, "on_policy_distillation_stores_teacher_logprobs_and_checks_vocabularies",
                on_policy_distillation_stores_teacher_logprobs_and_checks_vocabularies);
    CU_add_test(s, "gkd_row_equals_a_hand_computed_kl_on_five_tokens", gkd_row_equals_a_hand_computed_kl_on_five_tokens);
    CU_add_test(s, "gkd_with_k_at_least_the_vocabulary_is_the_full_kl", gkd_with_k_at_least_the_vocabulary_is_the_full_kl);
    CU_add_test(s, "gkd_gradient_matches_finite_differences", gkd_gradient_matches_finite_differences);
    CU_add_test(s, "gkd_in_chunks_equals_one_forward", gkd_in_chunks_equals_one_forward);
    CU_add_test(s, "gkd_training_lowers_the_kl_on_held_out_traces", gkd_training_lowers_the_kl_on_held_out_traces);
    CU_add_test(s, "sft_with_distill_gkd_learns_the_teacher_and_checks_its_inputs",
                sft_with_distill_gkd_learns_the_teacher_and_checks_its_inputs);
#ifndef __SANITIZE_ADDRESS__
    /* the whole pipeline, end to end: Release only (about 10 minutes under the sanitizers, whose
     * build runs every stage's code through the other tests of this suite) */
    CU_add_test(s, "demo_distill_runs_every_stage_and_ends_with_its_json_line",
                demo_distill_runs_every_stage_and_ends_with_its_json_line);
#endif
    int rc = tu_run_registry();
    fs_remove_tree(tmp, NULL);
    free(tmp);
    return rc;
}
