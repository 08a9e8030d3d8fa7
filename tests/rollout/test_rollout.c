/* tests/rollout/test_rollout.c: the generation engine's promises (DESIGN §4):
 * recorded logprobs equal a full uncached forward (1e-5, fp32); cached greedy equals greedy by
 * repeated full forwards; tokens do not depend on batch size, thread count, n, batch position or
 * prefix sharing; stops and the KV budget behave; and the CLI prints what it says. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../policy/model.h"
#include "../../rollout/generate.h"
#include "../test_util.h"

int register_sampler_suite(void);

static policy_model load_fixture(const char *name) {
    policy_model m;
    char rel[128];
    snprintf(rel, sizeof rel, "tests/fixtures/policy/%s", name);
    char *dir = tu_src(rel);
    grpo_err e = {0};
    if (policy_load(&m, dir, &e)) fprintf(stderr, "\n  %s\n", e.msg);
    free(dir);
    return m;
}

/* n_prompts prompts with lengths 3, 7, 12, 5, ... and ids from a fixed pattern. */
typedef struct {
    int n;
    int *lens;
    int **ids;
    int64_t *pid;
} prompt_set;

static prompt_set make_prompts(int n, int V, unsigned salt) {
    prompt_set ps = {.n = n, .lens = malloc(n * sizeof(int)), .ids = malloc(n * sizeof(int *)),
                     .pid = malloc(n * sizeof(int64_t))};
    const int lens[] = {3, 7, 12, 5, 9, 1, 16, 4};
    for (int i = 0; i < n; i++) {
        ps.lens[i] = lens[i % 8];
        ps.ids[i] = malloc(ps.lens[i] * sizeof(int));
        for (int t = 0; t < ps.lens[i]; t++) ps.ids[i][t] = (int)((i * 131u + t * 17u + salt) % (unsigned)(V - 1)) + 1;
        ps.pid[i] = 1000 + i;
    }
    return ps;
}

static void free_prompts(prompt_set *ps) {
    for (int i = 0; i < ps->n; i++) free(ps->ids[i]);
    free(ps->ids);
    free(ps->lens);
    free(ps->pid);
}

static gen_completion *generate(policy_model *m, const prompt_set *ps, const gen_params *gp) {
    gen_completion *out = calloc((size_t)ps->n * gp->n, sizeof *out);
    grpo_err e = {0};
    int rc = gen_run(m, (const int *const *)ps->ids, ps->lens, ps->pid, ps->n, gp, out, NULL, &e);
    if (rc) fprintf(stderr, "\n  gen_run: %s\n", e.msg);
    CU_ASSERT_EQUAL(rc, GRPO_OK);
    return rc ? (free(out), NULL) : out;
}

static int same_tokens(const gen_completion *a, const gen_completion *b) {
    return a->n_tokens == b->n_tokens && !memcmp(a->tokens, b->tokens, a->n_tokens * sizeof(int)) && a->finish == b->finish;
}

/* ---- consistency with the uncached forward ---- */

/* Max |recorded logprob - full forward's| over 9 sampled completions of m at temperature. */
static double logprob_gap_to_full_forward(policy_model *m, float temperature) {
    prompt_set ps = make_prompts(3, m->cfg.vocab_size, 7);
    gen_params gp = gen_defaults();
    gp.n = 3;
    gp.max_new_tokens = 20;
    gp.sampling.temperature = temperature;
    gp.seed = 11;
    gen_completion *out = generate(m, &ps, &gp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    double maxd = 0;
    grpo_err e = {0};
    for (int k = 0; k < ps.n * gp.n; k++) {
        const gen_completion *c = &out[k];
        int P = ps.lens[c->prompt_index], L = P + c->n_tokens;
        int *seq = malloc(L * sizeof(int));
        memcpy(seq, ps.ids[c->prompt_index], P * sizeof(int));
        memcpy(seq + P, c->tokens, c->n_tokens * sizeof(int));
        float *lp = malloc(L * sizeof(float));
        policy_batch b = {.n_seq = 1, .seq_len = &L, .tokens = seq};
        CU_ASSERT_EQUAL_FATAL(policy_forward(m, &b, temperature, lp, NULL, 0, &e), GRPO_OK);
        for (int t = 0; t < c->n_tokens; t++) maxd = fmax(maxd, fabs((double)lp[P - 1 + t] - c->logprobs[t]));
        free(seq);
        free(lp);
    }
    gen_completions_free(out, ps.n * gp.n);
    free(out);
    free_prompts(&ps);
    return maxd;
}

static void check_logprobs_match_full_forward(const char *fixture, float temperature) {
    policy_model m = load_fixture(fixture);
    const double maxd = logprob_gap_to_full_forward(&m, temperature);
    printf("[%s T=%.1f max|d| %.2e] ", fixture, temperature, maxd);
    CU_ASSERT(maxd <= 1e-5);
    policy_free(&m);
}

static void recorded_logprobs_equal_full_forward_at_t1(void) {
    check_logprobs_match_full_forward("qwen2", 1.0f);
    check_logprobs_match_full_forward("llama", 1.0f);
}
static void recorded_logprobs_equal_full_forward_at_t07(void) {
    check_logprobs_match_full_forward("qwen3", 0.7f);
    check_logprobs_match_full_forward("qwen2", 0.7f);
}

static void cached_greedy_equals_greedy_by_repeated_full_forwards(void) {
    policy_model m = load_fixture("qwen3");
    const int V = m.cfg.vocab_size, P = 6, NEW = 16;
    prompt_set ps = make_prompts(1, V, 3);
    ps.lens[0] = P;
    ps.ids[0] = realloc(ps.ids[0], P * sizeof(int));
    for (int t = 0; t < P; t++) ps.ids[0][t] = 1 + (t * 37) % (V - 1);
    gen_params gp = gen_defaults();
    gp.max_new_tokens = NEW;
    gp.sampling.temperature = 0;
    gen_completion *out = generate(&m, &ps, &gp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    int seq[64];
    memcpy(seq, ps.ids[0], P * sizeof(int));
    float *logits = malloc((size_t)(P + NEW) * V * sizeof(float));
    grpo_err e = {0};
    int agree = 1;
    for (int t = 0; t < NEW; t++) {
        int L = P + t;
        policy_batch b = {.n_seq = 1, .seq_len = &L, .tokens = seq};
        CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &b, 1.0f, NULL, logits, 0, &e), GRPO_OK);
        const float *z = logits + (size_t)(L - 1) * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (z[v] > z[best]) best = v;
        seq[L] = best;
        agree &= out[0].tokens[t] == best;
    }
    CU_ASSERT(agree);
    free(logits);
    gen_completions_free(out, 1);
    free(out);
    free_prompts(&ps);
    policy_free(&m);
}

/* ---- determinism ---- */

static void tokens_do_not_depend_on_batch_size_or_threads(void) {
    policy_model m = load_fixture("qwen2");
    prompt_set ps = make_prompts(8, m.cfg.vocab_size, 1);
    gen_params gp = gen_defaults();
    gp.n = 4; /* 32 completions */
    gp.max_new_tokens = 24;
    gp.sampling.temperature = 1.0f;
    gp.sampling.top_p = 0.95f;
    gp.seed = 42;
    gp.max_batch = 32;
    gen_completion *ref = generate(&m, &ps, &gp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    const int batches[] = {1, 4};
    for (int bi = 0; bi < 2; bi++) {
        gp.max_batch = batches[bi];
        gen_completion *o = generate(&m, &ps, &gp);
        int same = 1;
        for (int k = 0; k < 32; k++) same &= same_tokens(&ref[k], &o[k]);
        CU_ASSERT(same);
        gen_completions_free(o, 32);
        free(o);
    }
    gp.max_batch = 0;
    int saved = omp_get_max_threads();
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        gen_completion *o = generate(&m, &ps, &gp);
        int same = 1;
        for (int k = 0; k < 32; k++) same &= same_tokens(&ref[k], &o[k]);
        CU_ASSERT(same);
        gen_completions_free(o, 32);
        free(o);
    }
    omp_set_num_threads(saved);
    /* and a different layout: the same prompts (same ids) in reverse order, alone, shared off */
    prompt_set rev = make_prompts(8, m.cfg.vocab_size, 1);
    for (int i = 0; i < 8; i++) {
        int j = 7 - i;
        free(rev.ids[i]);
        rev.lens[i] = ps.lens[j];
        rev.ids[i] = malloc(ps.lens[j] * sizeof(int));
        memcpy(rev.ids[i], ps.ids[j], ps.lens[j] * sizeof(int));
        rev.pid[i] = ps.pid[j];
    }
    gp.share_prefix = 0;
    gen_completion *o = generate(&m, &rev, &gp);
    int same = 1;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) same &= same_tokens(&ref[(7 - i) * 4 + j], &o[i * 4 + j]);
    CU_ASSERT(same);
    gen_completions_free(o, 32);
    free(o);
    free_prompts(&rev);
    gen_completions_free(ref, 32);
    free(ref);
    free_prompts(&ps);
    policy_free(&m);
}


/* The decode attention has three code paths, picked by the head shape: whole rows (the tiny
 * presets, which every fixture above uses), groups of heads (head_dim 16/32/64/128, e.g.
 * Qwen2.5-0.5B's 64 x 14 heads over 2 kv heads) and one head at a time (any other head_dim).
 * Each must match the full forward and give the same tokens for any batch size and thread count. */
static void every_decode_attention_path_matches_and_is_invariant(void) {
    const struct {
        int hd, nh, nkv;
    } shapes[] = {{32, 4, 2}, {64, 14, 2}, {16, 3, 1}, {24, 4, 2}};
    const int saved = omp_get_max_threads();
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        policy_config c;
        policy_model m;
        grpo_err e = {0};
        CU_ASSERT_EQUAL_FATAL(policy_config_preset(&c, POLICY_ARCH_QWEN2, "tiny", &e), GRPO_OK);
        c.head_dim = shapes[i].hd;
        c.num_attention_heads = shapes[i].nh;
        c.num_key_value_heads = shapes[i].nkv;
        c.num_hidden_layers = 2;
        c.hidden_size = 64; /* small, for the sanitizer builds' portable kernels */
        c.intermediate_size = 96;
        c.vocab_size = 256;
        CU_ASSERT_EQUAL_FATAL(policy_build(&m, &c, &e), GRPO_OK);
        policy_init_random(&m, 5 + i);
        const double gap = logprob_gap_to_full_forward(&m, 1.0f);
        printf("[hd %d, %d/%d heads: max|d| %.2e] ", shapes[i].hd, shapes[i].nh, shapes[i].nkv, gap);
        CU_ASSERT(gap <= 1e-5);
        prompt_set ps = make_prompts(5, c.vocab_size, 3);
        gen_params gp = gen_defaults();
        gp.n = 4;
        gp.max_new_tokens = 24;
        gp.seed = 9;
        gen_completion *ref = generate(&m, &ps, &gp), *o[3];
        gp.max_batch = 1;
        o[0] = generate(&m, &ps, &gp);
        gp.max_batch = 0;
        for (int th = 1; th <= 2; th++) {
            omp_set_num_threads(th);
            o[th] = generate(&m, &ps, &gp);
        }
        omp_set_num_threads(saved);
        CU_ASSERT_FATAL(ref && o[0] && o[1] && o[2]);
        int same = 1;
        for (int v = 0; v < 3; v++) {
            for (int k = 0; k < 20; k++) same &= same_tokens(&ref[k], &o[v][k]);
            gen_completions_free(o[v], 20);
            free(o[v]);
        }
        CU_ASSERT(same);
        gen_completions_free(ref, 20);
        free(ref);
        free_prompts(&ps);
        policy_free(&m);
    }
}

static void completion_j_of_n4_equals_completion_j_of_n8(void) {
    policy_model m = load_fixture("llama");
    prompt_set ps = make_prompts(2, m.cfg.vocab_size, 5);
    gen_params gp = gen_defaults();
    gp.max_new_tokens = 16;
    gp.seed = 7;
    gp.n = 4;
    gen_completion *a = generate(&m, &ps, &gp);
    gp.n = 8;
    gen_completion *b = generate(&m, &ps, &gp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    int same = 1, differ = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) same &= same_tokens(&a[i * 4 + j], &b[i * 8 + j]);
    for (int j = 1; j < 4; j++) differ |= !same_tokens(&a[0], &a[j]); /* the samples are not all alike */
    CU_ASSERT(same);
    CU_ASSERT(differ);
    gen_completions_free(a, 8);
    gen_completions_free(b, 16);
    free(a);
    free(b);
    free_prompts(&ps);
    policy_free(&m);
}

/* ---- stops and limits ---- */

static void eos_stops_a_completion_and_is_kept(void) {
    policy_model m = load_fixture("qwen3");
    prompt_set ps = make_prompts(1, m.cfg.vocab_size, 9);
    gen_params gp = gen_defaults();
    gp.max_new_tokens = 12;
    gp.sampling.temperature = 0;
    gen_completion *free_run = generate(&m, &ps, &gp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(free_run);
    CU_ASSERT_EQUAL(free_run[0].finish, GEN_FINISH_LENGTH);
    CU_ASSERT_EQUAL(free_run[0].n_tokens, 12);
    int eos = free_run[0].tokens[4], first = 0;
    while (free_run[0].tokens[first] != eos) first++;
    gp.eos_ids = &eos;
    gp.n_eos = 1;
    gen_completion *stopped = generate(&m, &ps, &gp);
    CU_ASSERT_EQUAL(stopped[0].finish, GEN_FINISH_STOP);
    CU_ASSERT_EQUAL(stopped[0].n_tokens, first + 1);
    CU_ASSERT_EQUAL(stopped[0].tokens[first], eos);
    gen_completions_free(free_run, 1);
    gen_completions_free(stopped, 1);
    free(free_run);
    free(stopped);
    free_prompts(&ps);
    policy_free(&m);
}

static void request_over_the_kv_budget_fails_before_any_work(void) {
    policy_model m = load_fixture("qwen2");
    prompt_set ps = make_prompts(4, m.cfg.vocab_size, 2);
    gen_params gp = gen_defaults();
    gp.n = 8;
    gp.max_new_tokens = 100;
    size_t need = gen_kv_bytes(&m, ps.lens, ps.n, &gp);
    gp.kv_budget_bytes = need - 1;
    gen_completion out[32];
    grpo_err e = {0};
    CU_ASSERT_EQUAL(gen_run(&m, (const int *const *)ps.ids, ps.lens, NULL, ps.n, &gp, out, NULL, &e), GRPO_ENOMEM);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "over the budget"));
    gp.kv_budget_bytes = need;
    CU_ASSERT_EQUAL(gen_run(&m, (const int *const *)ps.ids, ps.lens, NULL, ps.n, &gp, out, NULL, &e), GRPO_OK);
    gen_completions_free(out, 32);
    free_prompts(&ps);
    policy_free(&m);
}

static void prompt_token_outside_vocabulary_is_an_error(void) {
    policy_model m = load_fixture("qwen2");
    int ids[2] = {3, 5000}, len = 2;
    const int *pp[1] = {ids};
    gen_params gp = gen_defaults();
    gp.max_new_tokens = 4;
    gen_completion out[1];
    grpo_err e = {0};
    CU_ASSERT_EQUAL(gen_run(&m, pp, &len, NULL, 1, &gp, out, NULL, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token id 5000 at position 1"));
    policy_free(&m);
}

static void cli_generate_json_prints_one_object_per_completion_in_index_order(void) {
    char *dir = tu_src("tests/fixtures/policy/qwen2"), cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s generate --model %s --prompt-ids 5,6,7 -n 3 --max-new-tokens 5 --json 2>/dev/null",
             GRPO_BIN, dir);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 0), 0);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"index\":0,"));
    CU_ASSERT(strstr(out, "{\"index\":1,") > strstr(out, "{\"index\":0,"));
    CU_ASSERT(strstr(out, "{\"index\":2,") > strstr(out, "{\"index\":1,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"token_ids\":["));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"logprobs\":["));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"finish_reason\":\"length\""));
    free(out);
    free(dir);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("rollout", NULL, NULL);
    CU_add_test(s, "recorded_logprobs_equal_full_forward_at_t1", recorded_logprobs_equal_full_forward_at_t1);
    CU_add_test(s, "recorded_logprobs_equal_full_forward_at_t07", recorded_logprobs_equal_full_forward_at_t07);
    CU_add_test(s, "cached_greedy_equals_greedy_by_repeated_full_forwards", cached_greedy_equals_greedy_by_repeated_full_forwards);
    CU_add_test(s, "tokens_do_not_depend_on_batch_size_or_threads", tokens_do_not_depend_on_batch_size_or_threads);
    CU_add_test(s, "every_decode_attention_path_matches_and_is_invariant",
                every_decode_attention_path_matches_and_is_invariant);
    CU_add_test(s, "completion_j_of_n4_equals_completion_j_of_n8", completion_j_of_n4_equals_completion_j_of_n8);
    CU_add_test(s, "eos_stops_a_completion_and_is_kept", eos_stops_a_completion_and_is_kept);
    CU_add_test(s, "request_over_the_kv_budget_fails_before_any_work", request_over_the_kv_budget_fails_before_any_work);
    CU_add_test(s, "prompt_token_outside_vocabulary_is_an_error", prompt_token_outside_vocabulary_is_an_error);
    CU_add_test(s, "cli_generate_json_prints_one_object_per_completion_in_index_order",
                cli_generate_json_prints_one_object_per_completion_in_index_order);
    if (register_sampler_suite()) return 1;
    return tu_run_registry();
}
