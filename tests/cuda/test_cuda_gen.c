/* tests/cuda/test_cuda_gen.c: generation on the CUDA backend (policy/cuda/decode_cuda.cu,
 * sampler_cuda.cu; rollout/generate_cuda.c). Without a GPU (and outside the emulated build) it
 * exits 77. It checks:
 * 1. Rollout == learner: every logprob recorded while sampling equals, bit for bit, what the CUDA
 *    learner's forward computes for that token over prompt + completion (prompts of 1 to 40
 *    tokens, so rows cross the attention tiles of 16 queries and 32 keys; qwen2, qwen3, llama;
 *    the full chain: temperature 0.7, top-k, top-p, min-p, repetition penalty; and greedy). The
 *    learner's batched forward over all sequences packed (as the trainer runs it) gives the same bits.
 * 2. Tokens and logprobs are identical for decode batches of 1, 4 and 32 rows, and completion j of
 *    n = 2 equals completion j of n = 4 (per-completion streams).
 * 3. The device sampler draws from the chain's distribution: chi-square over 1000 draws for plain
 *    temperature, top-k, top-p, min-p and repetition penalty on a 6-token vocabulary (p = 0.001
 *    critical values), greedy breaks ties to the lowest id, and the entropy is the hand-computed one.
 * 4. The prompt's KV is held once for its completions (the reported cache size), a request over the
 *    KV budget fails before any work, and EOS ids stop completions with finish "stop". */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/rng.h"
#include "../../policy/cuda/cuda_backend.h"
#include "../../policy/model.h"
#include "../../rollout/generate.h"
#include "../test_util.h"

static policy_model load_fixture(const char *name) {
    policy_model m;
    char rel[128];
    snprintf(rel, sizeof rel, "tests/fixtures/policy/%s", name);
    char *dir = tu_src(rel);
    grpo_err e = {0};
    if (policy_load(&m, dir, &e)) fprintf(stderr, "\n  %s\n", e.msg);
    free(dir);
    grpo_err e2 = {0};
    m.backend = policy_backend_get("cuda", &e2);
    if (!m.backend) fprintf(stderr, "\n  %s\n", e2.msg);
    return m;
}

typedef struct {
    int n;
    int *lens;
    int **ids;
    int64_t *pid;
} prompt_set;

/* n prompts with lengths from lens (cycled) and ids from a fixed pattern. */
static prompt_set make_prompts(int n, const int *lens, int n_lens, int V) {
    prompt_set ps = {.n = n, .lens = malloc(n * sizeof(int)), .ids = malloc(n * sizeof(int *)),
                     .pid = malloc(n * sizeof(int64_t))};
    for (int i = 0; i < n; i++) {
        ps.lens[i] = lens[i % n_lens];
        ps.ids[i] = malloc(ps.lens[i] * sizeof(int));
        for (int t = 0; t < ps.lens[i]; t++) ps.ids[i][t] = (int)((i * 131u + t * 17u + 7u) % (unsigned)(V - 1)) + 1;
        ps.pid[i] = 500 + i;
    }
    return ps;
}

static void free_prompts(prompt_set *ps) {
    for (int i = 0; i < ps->n; i++) free(ps->ids[i]);
    free(ps->ids);
    free(ps->lens);
    free(ps->pid);
}

static gen_completion *generate(policy_model *m, const prompt_set *ps, const gen_params *gp, gen_stats *st) {
    gen_completion *out = calloc((size_t)ps->n * gp->n, sizeof *out);
    grpo_err e = {0};
    int rc = gen_run(m, (const int *const *)ps->ids, ps->lens, ps->pid, ps->n, gp, out, st, &e);
    if (rc) fprintf(stderr, "\n  gen_run: %s\n", e.msg);
    CU_ASSERT_EQUAL(rc, GRPO_OK);
    return rc ? (free(out), NULL) : out;
}

static void free_out(gen_completion *out, int n) {
    gen_completions_free(out, n);
    free(out);
}

/* ---- 1. rollout == learner ---- */

/* Counts the recorded logprobs of out that differ in any bit from the learner's forward over
 * prompt + completion, one sequence at a time and (packed) all at once; *checked gets the total. */
static int logprob_bit_mismatches(policy_model *m, const prompt_set *ps, const gen_completion *out, int n, float T,
                                  int *checked) {
    grpo_err e = {0};
    int bad = 0, L_all = 0;
    *checked = 0;
    for (int k = 0; k < n; k++) L_all += ps->lens[out[k].prompt_index] + out[k].n_tokens;
    int *packed = malloc(L_all * sizeof(int)), *lens = malloc(n * sizeof(int));
    float *lp_all = malloc(L_all * sizeof(float));
    for (int k = 0, off = 0; k < n; k++) {
        const gen_completion *c = &out[k];
        const int P = ps->lens[c->prompt_index];
        int L = P + c->n_tokens;
        memcpy(packed + off, ps->ids[c->prompt_index], P * sizeof(int));
        memcpy(packed + off + P, c->tokens, c->n_tokens * sizeof(int));
        float *lp = malloc(L * sizeof(float));
        policy_batch b = {.n_seq = 1, .seq_len = &L, .tokens = packed + off};
        CU_ASSERT_EQUAL_FATAL(policy_forward(m, &b, T, lp, NULL, 0, &e), GRPO_OK);
        bad += memcmp(lp + P - 1, c->logprobs, c->n_tokens * sizeof(float)) != 0;
        *checked += c->n_tokens;
        free(lp);
        lens[k] = L;
        off += L;
    }
    policy_batch b = {.n_seq = n, .seq_len = lens, .tokens = packed};
    CU_ASSERT_EQUAL_FATAL(policy_forward(m, &b, T, lp_all, NULL, 0, &e), GRPO_OK);
    for (int k = 0, q = 0; k < n; q += lens[k] - 1, k++) {
        const int P = ps->lens[out[k].prompt_index];
        bad += memcmp(lp_all + q + P - 1, out[k].logprobs, out[k].n_tokens * sizeof(float)) != 0;
    }
    free(packed);
    free(lens);
    free(lp_all);
    return bad;
}

/* n_prompts of lens {3, 17, 1, 33, 40} (the first n_prompts), 2 completions of up to max_new. */
static void check_rollout_sized(policy_model m, const char *fixture, smp_params sp, int n_prompts, int max_new) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.backend);
    const int lens[] = {3, 17, 1, 33, 40};
    prompt_set ps = make_prompts(n_prompts, lens, n_prompts, m.cfg.vocab_size);
    gen_params gp = gen_defaults();
    gp.n = 2;
    gp.max_new_tokens = max_new; /* 20: positions up to 59: keys cross a tile of 32 */
    gp.sampling = sp;
    gp.seed = 3;
    gen_completion *out = generate(&m, &ps, &gp, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    int checked;
    const int bad = logprob_bit_mismatches(&m, &ps, out, ps.n * gp.n, sp.temperature > 0 ? sp.temperature : 1.0f, &checked);
    printf("[%s T=%.1f k=%d p=%.2f: %d of %d completions differ in some bit, %d tokens] ", fixture, sp.temperature, sp.top_k,
           sp.top_p, bad, 2 * ps.n * gp.n, checked);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(checked > ps.n * gp.n); /* the completions did decode */
    free_out(out, ps.n * gp.n);
    free_prompts(&ps);
    policy_free(&m);
}

static void check_rollout_equals_learner(const char *fixture, smp_params sp) {
    check_rollout_sized(load_fixture(fixture), fixture, sp, 5, 20);
}

/* The fixture's shape with head_dim hd (4 heads over 2 kv heads) and random weights: head_dim 64
 * and 128 run the tensor-core attention (attention_tc.cu) in both the rollout and the learner. */
static void check_rollout_head_dim(int hd, smp_params sp) {
    policy_model f = load_fixture("qwen2"), m;
    policy_config c = f.cfg;
    policy_free(&f);
    c.head_dim = hd;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_build(&m, &c, &e), GRPO_OK);
    policy_init_random(&m, 11);
    m.backend = policy_backend_get("cuda", &e);
    /* 4 prompts (3, 17, 1, 33 tokens) + 14 new: positions up to 46 cross a key block of 32 and
     * tiles of 16; smaller than the fixtures' run because the emulated wmma is slow */
    check_rollout_sized(m, hd == 64 ? "qwen2 head_dim 64" : "qwen2 head_dim 128", sp, 4, 14);
}

static void rollout_logprobs_equal_learner_bit_for_bit_tensor_core_attention(void) {
    smp_params sp = {.temperature = 0.7f, .top_k = 200, .top_p = 0.95f, .min_p = 0.01f, .repetition_penalty = 1.3f};
    check_rollout_head_dim(64, sp);
    check_rollout_head_dim(128, sp);
}

static void rollout_logprobs_equal_learner_bit_for_bit_full_chain(void) {
    smp_params sp = {.temperature = 0.7f, .top_k = 200, .top_p = 0.95f, .min_p = 0.01f, .repetition_penalty = 1.3f};
    check_rollout_equals_learner("qwen2", sp);
    check_rollout_equals_learner("qwen3", sp);
}

static void rollout_logprobs_equal_learner_bit_for_bit_plain_and_greedy(void) {
    smp_params plain = smp_defaults(), greedy = smp_defaults();
    greedy.temperature = 0.0f;
    check_rollout_equals_learner("llama", plain);
    check_rollout_equals_learner("qwen2", greedy);
}

/* ---- 2. batch invariance ---- */

static int same_completion(const gen_completion *a, const gen_completion *b) {
    return a->n_tokens == b->n_tokens && a->finish == b->finish && !memcmp(a->tokens, b->tokens, a->n_tokens * sizeof(int)) &&
           !memcmp(a->logprobs, b->logprobs, a->n_tokens * sizeof(float));
}

static void tokens_identical_for_decode_batches_of_1_4_and_32(void) {
    policy_model m = load_fixture("qwen2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.backend);
    const int lens[] = {5, 9, 2, 20};
    prompt_set ps = make_prompts(8, lens, 4, m.cfg.vocab_size);
    gen_params gp = gen_defaults();
    gp.n = 4;
    gp.max_new_tokens = 6;
    gp.seed = 9;
    const int total = ps.n * gp.n, batches[] = {32, 4, 1};
    gen_completion *ref = NULL;
    for (int i = 0; i < 3; i++) {
        gp.max_batch = batches[i];
        gen_completion *out = generate(&m, &ps, &gp, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out);
        if (!ref) {
            ref = out;
            continue;
        }
        int diff = 0;
        for (int k = 0; k < total; k++) diff += !same_completion(&ref[k], &out[k]);
        printf("[batch %d vs 32: %d of %d completions differ] ", batches[i], diff, total);
        CU_ASSERT_EQUAL(diff, 0);
        free_out(out, total);
    }
    /* completion j of n = 2 is completion j of n = 4 */
    gp.n = 2;
    gp.max_batch = 0;
    gen_completion *two = generate(&m, &ps, &gp, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(two);
    int diff = 0;
    for (int i = 0; i < ps.n; i++)
        for (int j = 0; j < 2; j++) diff += !same_completion(&two[i * 2 + j], &ref[i * 4 + j]);
    CU_ASSERT_EQUAL(diff, 0);
    free_out(two, ps.n * 2);
    free_out(ref, total);
    free_prompts(&ps);
    policy_free(&m);
}

/* ---- 3. the device sampler ---- */

enum { NV = 6, DRAWS = 1000 };

/* Draws n ids from logits with s (stream r seeded from r), counting each id. */
static void draw_counts(const float *logits, const grpo_cuda_sampling *s, const int *prev, int n_prev, int n, int *count,
                        float *ent) {
    uint64_t *seeds = malloc(n * sizeof *seeds);
    int *ids = malloc(n * sizeof *ids);
    float *e = malloc(n * sizeof *e);
    for (int r = 0; r < n; r++) seeds[r] = gen_seed(77, 1, 2, r);
    grpo_err err = {0};
    int rc = grpo_cuda_sample_rows(logits, NV, n, s, seeds, prev, n_prev, ids, e, &err);
    if (rc) fprintf(stderr, "\n  %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
    memset(count, 0, NV * sizeof *count);
    for (int r = 0; r < n; r++) {
        CU_ASSERT_FATAL(ids[r] >= 0 && ids[r] < NV);
        count[ids[r]]++;
    }
    if (ent) *ent = e[0];
    free(seeds);
    free(ids);
    free(e);
}

/* Chi-square of counts against p (ids with p = 0 must never be drawn); df = support - 1. */
static double chi_square(const int *count, const double *p, int *df) {
    double x2 = 0;
    *df = -1;
    for (int i = 0; i < NV; i++) {
        if (p[i] == 0) {
            CU_ASSERT_EQUAL(count[i], 0);
            continue;
        }
        const double ex = p[i] * DRAWS;
        x2 += (count[i] - ex) * (count[i] - ex) / ex;
        (*df)++;
    }
    return x2;
}

/* Normalizes exp(w) over the ids with keep[i] into p. */
static void softmax_kept(const double *w, const int *keep, double *p) {
    double s = 0;
    for (int i = 0; i < NV; i++) s += keep[i] ? exp(w[i]) : 0;
    for (int i = 0; i < NV; i++) p[i] = keep[i] ? exp(w[i]) / s : 0;
}

static void check_chi_square(const char *what, const float *logits, grpo_cuda_sampling s, const int *prev, int n_prev,
                             const double *p) {
    int count[NV], df;
    draw_counts(logits, &s, prev, n_prev, DRAWS, count, NULL);
    const double x2 = chi_square(count, p, &df);
    const double crit[] = {10.83, 13.82, 16.27, 18.47, 20.52}; /* p = 0.001, df 1..5 */
    printf("[%s chi2 %.2f df %d] ", what, x2, df);
    CU_ASSERT_FATAL(df >= 1 && df <= 5);
    CU_ASSERT(x2 < crit[df - 1]);
}

static void device_sampler_draws_from_the_chains_distribution(void) {
    const float z[NV] = {1.0f, 0.5f, 0.2f, -0.3f, -1.0f, 0.5f}; /* a tie at 0.5 (ids 1 and 5) */
    double w[NV], p[NV];
    int all[NV] = {1, 1, 1, 1, 1, 1};
    /* plain, T = 0.8 */
    for (int i = 0; i < NV; i++) w[i] = z[i] / 0.8;
    softmax_kept(w, all, p);
    check_chi_square("T=0.8", z, (grpo_cuda_sampling){0.8f, 0, 1.0f, 0.0f, 1.0f}, NULL, 0, p);
    /* top-k 2 with a tie at the cut: ids 0 and 1 (the tie goes to the lower id) */
    int k2[NV] = {1, 1, 0, 0, 0, 0};
    for (int i = 0; i < NV; i++) w[i] = z[i];
    softmax_kept(w, k2, p);
    check_chi_square("top-k 2", z, (grpo_cuda_sampling){1.0f, 2, 1.0f, 0.0f, 1.0f}, NULL, 0, p);
    /* top-p 0.6 at T = 1: sorted p = .326(0) .198(1) .198(5) .146(2) ...: cum .326 .523 .721 -> ids 0, 1, 5 */
    int p3[NV] = {1, 1, 0, 0, 0, 1};
    softmax_kept(w, p3, p);
    check_chi_square("top-p 0.6", z, (grpo_cuda_sampling){1.0f, 0, 0.6f, 0.0f, 1.0f}, NULL, 0, p);
    /* min-p 0.5: keep exp(z - 1) >= 0.5, i.e. z >= 1 - ln 2 = 0.307: ids 0, 1, 5 */
    check_chi_square("min-p 0.5", z, (grpo_cuda_sampling){1.0f, 0, 1.0f, 0.5f, 1.0f}, NULL, 0, p);
    /* repetition penalty 2 on ids 0 (1.0 -> 0.5) and 4 (-1.0 -> -2.0), drawn twice */
    const int prev[3] = {0, 4, 0};
    for (int i = 0; i < NV; i++) w[i] = z[i];
    w[0] = 0.5, w[4] = -2.0;
    softmax_kept(w, all, p);
    check_chi_square("repetition 2", z, (grpo_cuda_sampling){1.0f, 0, 1.0f, 0.0f, 2.0f}, prev, 3, p);
}

static void device_greedy_breaks_ties_to_the_lowest_id_and_reports_the_entropy(void) {
    const float z[NV] = {0.5f, 2.0f, -1.0f, 2.0f, 0.0f, 1.0f};
    int count[NV];
    float ent;
    draw_counts(z, &(grpo_cuda_sampling){0.0f, 0, 1.0f, 0.0f, 1.0f}, NULL, 0, 16, count, &ent);
    CU_ASSERT_EQUAL(count[1], 16);
    double s = 0, sz = 0;
    for (int i = 0; i < NV; i++) s += exp(z[i] - 2.0);
    for (int i = 0; i < NV; i++) sz += (z[i] - 2.0) * exp(z[i] - 2.0);
    const double H = log(s) - sz / s;
    printf("[entropy %.6f vs %.6f] ", ent, H);
    CU_ASSERT(fabs(ent - H) < 1e-5);
    /* greedy after the penalty: id 1 penalized to 1.0, so id 3 wins */
    const int prev[1] = {1};
    draw_counts(z, &(grpo_cuda_sampling){0.0f, 0, 1.0f, 0.0f, 2.0f}, prev, 1, 16, count, NULL);
    CU_ASSERT_EQUAL(count[3], 16);
}

/* ---- 4. the cache, the budget, stops ---- */

static void prompt_kv_is_held_once_and_the_budget_is_enforced(void) {
    policy_model m = load_fixture("qwen2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.backend);
    const int lens[] = {10, 6};
    prompt_set ps = make_prompts(2, lens, 2, m.cfg.vocab_size);
    gen_params gp = gen_defaults();
    gp.n = 4;
    gp.max_new_tokens = 5;
    gen_stats st;
    gen_completion *out = generate(&m, &ps, &gp, &st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    const policy_config *c = &m.cfg;
    const size_t row = (size_t)2 * c->num_hidden_layers * c->num_key_value_heads * c->head_dim * 2; /* K+V bf16 */
    printf("[KV %zu bytes = (16 prompt + 40 completion rows) x %zu] ", st.kv_bytes, row);
    CU_ASSERT_EQUAL(st.kv_bytes, (16 + 8 * 5) * row);
    CU_ASSERT_EQUAL(st.prefill_tokens, 16);
    free_out(out, 8);
    gp.kv_budget_bytes = st.kv_bytes - 1;
    gen_completion *none = calloc(8, sizeof *none);
    grpo_err e = {0};
    CU_ASSERT_EQUAL(gen_run(&m, (const int *const *)ps.ids, ps.lens, ps.pid, 2, &gp, none, NULL, &e), GRPO_ENOMEM);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "over the budget"));
    CU_ASSERT_PTR_NULL(none[0].tokens);
    free(none);
    free_prompts(&ps);
    policy_free(&m);
}

static void eos_stops_device_completions_with_finish_stop(void) {
    policy_model m = load_fixture("qwen2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m.backend);
    const int lens[] = {4};
    prompt_set ps = make_prompts(1, lens, 1, m.cfg.vocab_size);
    gen_params gp = gen_defaults();
    gp.n = 3;
    gp.max_new_tokens = 6;
    gp.sampling.temperature = 0.0f;
    gen_completion *out = generate(&m, &ps, &gp, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(out[0].finish, GEN_FINISH_LENGTH);
    const int eos = out[0].tokens[2]; /* the greedy third token */
    free_out(out, 3);
    gp.eos_ids = &eos;
    gp.n_eos = 1;
    out = generate(&m, &ps, &gp, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    for (int j = 0; j < 3; j++) {
        CU_ASSERT_EQUAL(out[j].finish, GEN_FINISH_STOP);
        CU_ASSERT(out[j].n_tokens <= 3 && out[j].tokens[out[j].n_tokens - 1] == eos);
    }
    free_out(out, 3);
    free_prompts(&ps);
    policy_free(&m);
}

int main(void) {
    char why[512] = "";
    if (grpo_cuda_device_count(why, sizeof why) <= 0) {
        printf("SKIP: no CUDA GPU present (%s); GPU tests need one (scripts/gpu-check.sh)\n", why);
        return 77;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("cuda_gen", NULL, NULL);
    /* GRPO_TEST_FILTER=substring runs the tests whose name contains it, !substring the others
     * (ctest runs the suite in two parts, so that each stays short on the emulated device) */
    const char *filter = getenv("GRPO_TEST_FILTER");
    const int exclude = filter && filter[0] == '!';
    if (exclude) filter++;
#define CU_add_test(suite, name, fn) \
    ((filter && (strstr(name, filter) != NULL) == exclude) ? NULL : CU_add_test(suite, name, fn))
    CU_add_test(s, "rollout logprobs equal the learner's bit for bit (full chain)", rollout_logprobs_equal_learner_bit_for_bit_full_chain);
    CU_add_test(s, "rollout logprobs equal the learner's bit for bit (plain, greedy)", rollout_logprobs_equal_learner_bit_for_bit_plain_and_greedy);
    CU_add_test(s, "rollout logprobs equal the learner's bit for bit (tensor-core attention, head_dim 64 and 128)",
                rollout_logprobs_equal_learner_bit_for_bit_tensor_core_attention);
    CU_add_test(s, "tokens identical for decode batches of 1, 4 and 32", tokens_identical_for_decode_batches_of_1_4_and_32);
    CU_add_test(s, "device sampler draws from the chain's distribution (chi-square)", device_sampler_draws_from_the_chains_distribution);
    CU_add_test(s, "device greedy breaks ties to the lowest id; entropy", device_greedy_breaks_ties_to_the_lowest_id_and_reports_the_entropy);
    CU_add_test(s, "prompt KV is held once; the KV budget is enforced", prompt_kv_is_held_once_and_the_budget_is_enforced);
    CU_add_test(s, "EOS stops device completions with finish stop", eos_stops_device_completions_with_finish_stop);
    return tu_run_registry();
}
