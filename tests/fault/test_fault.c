/* tests/fault/test_fault.c: every allocation of an operation failed in turn (k = 1, 2, ... until the
 * operation completes without reaching k), as SQLite's malloc tests do. Each failure must end in a
 * clean error: the operation returns an error code with a message, nothing crashes, and (in the
 * sanitizer build) LeakSanitizer finds nothing at exit. Each test prints how many failure points it
 * tried. Areas: generate, one GRPO step (a whole train_run: setup, SFT, a step, evaluation, the
 * checkpoint), the store, the tokenizer load, the math checker. */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpo/loops/run_config.h"
#include "grpo/loops/train.h"
#include "../../policy/model.h"
#include "policy/tokenizer/tokenizer.h"
#include "../../rewards/math.h"
#include "../../rollout/generate.h"
#include "rollout/store/store.h"
#include "../test_util.h"
#include "fault.h"

/* Failure points per sweep: every one in the Release build; under AddressSanitizer, where each
 * run costs several times more, an even sample (leaks are what that build adds). */
#ifdef __SANITIZE_ADDRESS__
#define ALL_POINTS 800
#else
#define ALL_POINTS 100000
#endif

/* One operation under test: returns a grpo error code, filling err; undo frees what it made. */
typedef int (*op_fn)(void *ctx, grpo_err *err);

/* Sweeps k over every allocation op makes; returns the number of failure points tried. A failure
 * that does not surface as an error with a message fails the test, naming k. */
static long sweep_window(const char *name, op_fn op, void *ctx, long max_points, long win_lo, long win_hi);

/* The failure point after k: win_stride apart inside [lo, hi], stride apart elsewhere, never jumping
 * over the window's start. */
static long next_k(long k, long stride, long lo, long hi, long win_stride) {
    if (k >= lo && k < hi) return k + win_stride;
    if (k < lo && k + stride > lo) return lo;
    return k + stride;
}

static long sweep(const char *name, op_fn op, void *ctx, long max_points) {
    return sweep_window(name, op, ctx, max_points, 0, -1);
}

/* As sweep, but every allocation in [win_lo, win_hi] is tried, whatever the stride elsewhere (under
 * AddressSanitizer, where a run costs several times more, the window too takes a stride: the Release
 * build tries it whole, the sanitizer build checks a sample of it for leaks). */
static long sweep_window(const char *name, op_fn op, void *ctx, long max_points, long win_lo, long win_hi) {
#ifdef __SANITIZE_ADDRESS__
    const long win_stride = win_hi >= win_lo ? (win_hi - win_lo + 25) / 25 : 1;
    if (win_hi >= win_lo) max_points = 10;
#else
    const long win_stride = 1;
#endif
    grpo_err e = {0};
    fault_arm(0);
    int rc = op(ctx, &e);
    long total = fault_count();
    if (rc) fprintf(stderr, "\n  %s without faults: %s\n", name, e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
    long stride = total > max_points ? (total + max_points - 1) / max_points : 1, tried = 0, silent = 0;
    /* GRPO_FAULT_VERBOSE names each k before it runs; GRPO_FAULT_K=k runs that one alone (to find a crash) */
    const int verbose = getenv("GRPO_FAULT_VERBOSE") != NULL;
    const long only_k = getenv("GRPO_FAULT_K") ? atol(getenv("GRPO_FAULT_K")) : 0;
    for (long k = only_k ? only_k : 1; k <= (only_k ? only_k : total); k = next_k(k, stride, win_lo, win_hi, win_stride)) {
        if (verbose) fprintf(stderr, "%s: k = %ld\n", name, k);
        memset(&e, 0, sizeof e);
        fault_arm(k);
        rc = op(ctx, &e);
        fault_disarm();
        if (!fault_fired()) continue;
        tried++;
        if (rc == GRPO_OK) { /* the failure was absorbed (a fallback or an optional cache) */
            silent++;
            if (verbose) fprintf(stderr, "%s: k = %ld absorbed\n", name, k);
        }
        else if (!e.msg[0]) {
            fprintf(stderr, "\n  %s: allocation %ld failed with error %d and no message\n", name, k, rc);
            CU_FAIL("error without a message");
        }
    }
    if (win_hi >= win_lo)
        printf("[%s: %ld allocations; of the step's %ld..%ld 1 in %ld tried, elsewhere 1 in %ld: %ld failure points, "
               "%ld absorbed without an error] ",
               name, total, win_lo, win_hi, win_stride, stride, tried, silent);
    else
        printf("[%s: %ld allocations, %ld failure points tried%s, %ld absorbed without an error] ", name, total, tried,
               stride > 1 ? " (1 in a stride)" : "", silent);
    CU_ASSERT(tried > 0);
    return tried;
}

/* ---- generate ---- */

typedef struct {
    policy_model m;
} gen_ctx;

static int op_generate(void *ctx, grpo_err *err) {
    gen_ctx *g = ctx;
    int p0[4] = {1, 2, 3, 4}, p1[6] = {5, 6, 7, 8, 9, 10};
    const int *prompts[2] = {p0, p1};
    int lens[2] = {4, 6};
    gen_params gp = gen_defaults();
    gp.n = 3;
    gp.max_new_tokens = 6;
    gp.sampling.top_k = 5;
    gp.sampling.repetition_penalty = 1.1f;
    gen_completion out[6];
    memset(out, 0, sizeof out);
    int rc = gen_run(&g->m, prompts, lens, NULL, 2, &gp, out, NULL, err);
    if (!rc) gen_completions_free(out, 6);
    return rc;
}

static void generate_fails_cleanly_at_every_allocation(void) {
    gen_ctx g;
    policy_config c;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_config_preset(&c, POLICY_ARCH_QWEN2, "tiny", &e), GRPO_OK);
    c.vocab_size = 64;
    c.hidden_size = 32;
    c.intermediate_size = 48;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 1;
    c.head_dim = 16;
    c.n_eos = 0;
    CU_ASSERT_EQUAL_FATAL(policy_build(&g.m, &c, &e), GRPO_OK);
    policy_init_random(&g.m, 3);
    sweep("generate", op_generate, &g, ALL_POINTS);
    policy_free(&g.m);
}

/* ---- a GRPO step: a whole short run ---- */

typedef struct {
    char *dir;
    run_config cfg;
    long step_lo, step_hi; /* allocation counts when the first GRPO step began and ended */
} train_ctx;

/* Notes where the first GRPO step lies in the allocation sequence: it begins after the held-out
 * evaluation at step 0 is logged and ends when its own line is. */
static void note_step(void *ctx, const char *text) {
    train_ctx *t = ctx;
    if (!strncmp(text, "held-out accuracy at step 0", 27)) t->step_lo = fault_count() + 1;
    else if (!strncmp(text, "step 1/", 7)) t->step_hi = fault_count();
}
static void quiet(void *ctx, const char *text) {}

static int op_train(void *ctx, grpo_err *err) {
    train_ctx *t = ctx;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/runs'", t->dir);
    if (system(cmd) != 0) return grpo_errf(err, GRPO_EIO, "cannot clean %s", t->dir);
    train_log log = {.line = note_step, .progress = quiet, .ctx = t};
    train_result res;
    return train_run(&t->cfg, 0, &log, &res, err);
}

static int set_all(run_config *c, const char *const *kv, grpo_err *err) {
    for (int i = 0; kv[i]; i += 2) {
        int rc = rc_set(c, kv[i], kv[i + 1], err);
        if (rc) return rc;
    }
    return rc_validate(c, err);
}

static void grpo_step_fails_cleanly_at_every_allocation(void) {
    train_ctx t;
    t.dir = tu_tmpdir("fault-train");
    char *tok = tu_src("data/demo-tokenizer"), out[4200];
    snprintf(out, sizeof out, "%s/runs", t.dir);
    rc_defaults(&t.cfg);
    const char *kv[] = {"model", "init:qwen2:tiny", "tokenizer", tok, "dataset", "builtin:arithmetic",
                        "train_size", "12", "eval_size", "2", "num_generations", "2", "generation_batch_size", "4",
                        "per_device_train_batch_size", "4", "max_completion_length", "6", "max_steps", "1",
                        "sft_steps", "1", "sft_batch_size", "2", "save_steps", "1", "eval_steps", "1",
                        "beta", "0.04", "num_threads", "1", "output_dir", out, "run_name", "f", NULL};
    grpo_err e = {0};
    int rc = set_all(&t.cfg, kv, &e);
    if (rc) fprintf(stderr, "\n  config: %s\n", e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
    /* every allocation of the GRPO step itself is failed in turn; the rest of the run (the tokenizer
     * load alone is thousands of allocations, swept whole by its own test) with a stride */
    t.step_lo = t.step_hi = 0;
    fault_arm(0);
    CU_ASSERT_EQUAL_FATAL(op_train(&t, &e), GRPO_OK);
    CU_ASSERT_FATAL(t.step_lo > 0 && t.step_hi > t.step_lo);
    const long lo = t.step_lo, hi = t.step_hi;
    sweep_window("grpo step (train_run)", op_train, &t, 200, lo, hi);
    free(tok);
    free(t.dir);
}

/* ---- the store ---- */

typedef struct {
    char *dir;
    int n;
} store_ctx;

static int op_store(void *ctx, grpo_err *err) {
    store_ctx *s = ctx;
    char path[4200];
    snprintf(path, sizeof path, "%s/db-%d/rollouts.db", s->dir, s->n++);
    store *db = NULL;
    int rc = store_open(&db, path, "run", "{\"seed\": 1}", err);
    if (rc) return rc;
    int ids[3] = {5, 6, 7};
    float lp[3] = {-0.5f, -1.0f, -2.0f};
    const store_component comps[2] = {{"math", 1.0, "extracted 4, gold 4"}, {"format", 0.5, NULL}};
    store_rollout r = {.prompt_id = 3, .sample_index = 0, .prompt_text = "2+2?", .completion_text = "4",
                       .token_ids = ids, .logprobs = lp, .n_tokens = 3, .components = comps, .n_components = 2,
                       .reward_total = 1.5, .advantage = 0.7, .finish = STORE_FINISH_STOP,
                       .extracted_answer = "4", .gold_answer = "4"};
    store_step_metrics m = store_metrics_unset();
    m.reward_mean = 1.5;
    store_eval ev = {.step = 1, .name = "builtin", .split = "eval", .metric = "accuracy", .value = 0.5, .n = 2};
    if (!(rc = store_step_begin(db, 1, err)) && !(rc = store_add_rollout(db, &r, err)) &&
        !(rc = store_step_commit(db, 1, &m, "{\"lr\": 0.001}", err)))
        rc = store_add_eval(db, &ev, err);
    store_close(db);
    return rc;
}

static void store_fails_cleanly_at_every_allocation(void) {
    store_ctx s = {tu_tmpdir("fault-store"), 0};
    sweep("store", op_store, &s, ALL_POINTS);
    free(s.dir);
}

/* ---- the tokenizer load ---- */

static int op_tokenizer(void *ctx, grpo_err *err) {
    tok_tokenizer *t = NULL;
    int rc = tok_load(&t, ctx, err);
    if (rc) return rc;
    int *ids = NULL;
    size_t n = 0, len;
    char *text = NULL;
    const char *s = "<think>7+5=12. 12-3=9.</think><answer>9</answer>";
    if (!(rc = tok_encode(t, s, strlen(s), TOK_SPECIAL, &ids, &n, err)))
        rc = tok_decode(t, ids, n, TOK_SKIP_SPECIAL, &text, &len, err);
    free(ids);
    free(text);
    tok_free(t);
    return rc;
}

static void tokenizer_load_fails_cleanly_at_every_allocation(void) {
    char *dir = tu_src("data/demo-tokenizer");
    sweep("tokenizer load", op_tokenizer, dir, ALL_POINTS);
    free(dir);
}

/* ---- the math checker ---- */

/* The checker has no error to return: a failed allocation must cost at most a wrong verdict, never a
 * crash or a leak. Its verdicts are checked without faults first. */
static const char *const MATH_CASES[][3] = {
    {"\\frac{1}{2}", "The answer is $\\boxed{0.5}$.", "1"},
    {"x^2+2x+1", "\\boxed{(x+1)^2}", "1"},
    {"\\sqrt{2}/2", "so \\boxed{\\frac{\\sqrt{2}}{2}}", "1"},
    {"(1,2)", "#### (1, 3)", "0"},
    {"12", "<answer>12</answer>", "1"},
};

static int op_math(void *ctx, grpo_err *err) {
    math_opts o;
    math_opts_default(&o);
    int *wrong = ctx;
    for (size_t i = 0; i < sizeof MATH_CASES / sizeof MATH_CASES[0]; i++) {
        double acc = math_accuracy(MATH_CASES[i][0], MATH_CASES[i][1], &o);
        if (!fault_fired() && acc != atof(MATH_CASES[i][2])) (*wrong)++;
    }
    return GRPO_OK;
}

static void math_checker_survives_every_failed_allocation(void) {
    int wrong = 0;
    grpo_err e = {0};
    fault_arm(0);
    op_math(&wrong, &e);
    CU_ASSERT_EQUAL(wrong, 0);
    long total = fault_count();
    for (long k = 1; k <= total; k++) {
        fault_arm(k);
        op_math(&wrong, &e);
        fault_disarm();
    }
    printf("[math checker: %ld failure points tried] ", total);
    CU_ASSERT_EQUAL(wrong, 0);
}

/* GRPO_FAULT_ONLY=SUBSTRING runs only the tests whose name contains it. */
static void add(CU_pSuite s, const char *name, CU_TestFunc fn) {
    const char *only = getenv("GRPO_FAULT_ONLY");
    if (!only || strstr(name, only)) CU_add_test(s, name, fn);
}

int main(void) {
    fault_install();
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("fault_injection", NULL, NULL);
    add(s, "generate_fails_cleanly_at_every_allocation", generate_fails_cleanly_at_every_allocation);
    add(s, "store_fails_cleanly_at_every_allocation", store_fails_cleanly_at_every_allocation);
    add(s, "tokenizer_load_fails_cleanly_at_every_allocation", tokenizer_load_fails_cleanly_at_every_allocation);
    add(s, "math_checker_survives_every_failed_allocation", math_checker_survives_every_failed_allocation);
    add(s, "grpo_step_fails_cleanly_at_every_allocation", grpo_step_fails_cleanly_at_every_allocation);
    return tu_run_registry();
}
