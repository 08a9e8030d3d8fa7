/* bench/bench_cuda_gen.c: generation and whole GRPO steps on the CUDA backend, Qwen2.5-0.5B shape
 * (bench/qwen05.h), random weights, no EOS (every completion is --new tokens long).
 *
 * 1. Decode: --rows completions (8 per prompt of --prompt-len tokens) decoded together.
 *      decode tok/s = decode tokens / decode seconds (the prefill excluded)
 *      HBM roofline: a decode step must read every bf16 weight once (2 * params bytes; the tied
 *      embedding once, as the lm_head) and each row's K and V of all layers, bf16, at its context
 *      (prompt + half the new tokens on average): t_min = bytes / 4.8e12 (H200 HBM3e), so
 *      roofline tok/s = rows / t_min, and the result is decode tok/s over that.
 *    Rollout vs learner: the logprobs recorded while sampling 8 completions against the CUDA
 *    learner's forward over prompt + completion: max |d| and the tokens that differ in any bit.
 * 2. GRPO: --grpo-steps timed steps (after one warm-up) of --grpo-prompts prompts x 8 completions
 *    of --grpo-new tokens, then the learner in resident mode: forward (keep) and backward of a
 *    per-token objective over every sequence in micro-batches of --micro sequences, the grad-norm
 *    clip, AdamW (beta = 0: no reference forward; rewards are free here).
 *      GRPO tokens/s = (prompt + completion tokens of the step) / step seconds
 * Peak GPU memory: used device memory after the run (arenas are kept once allocated).
 * Prints a summary and one "RESULT {json}" line for scripts/gpu-check.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../policy/cuda/cuda_backend.h"
#include "../policy/model.h"
#include "../rollout/generate.h"
#include "qwen05.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int die(const char *what, const grpo_err *e) {
    fprintf(stderr, "bench_cuda_gen: %s: %s\n", what, e->msg);
    return 1;
}

typedef struct {
    int n, len;
    int **ids, *lens;
} prompts;

static prompts make_prompts(int n, int len, int V, int salt) {
    prompts p = {n, len, malloc(n * sizeof(int *)), malloc(n * sizeof(int))};
    for (int i = 0; i < n; i++) {
        p.lens[i] = len;
        p.ids[i] = malloc(len * sizeof(int));
        for (int t = 0; t < len; t++) p.ids[i][t] = 3 + (int)((i * 7919L + t * 104729L + salt * 31L) % (V - 3));
    }
    return p;
}

static void free_prompts(prompts *p) {
    for (int i = 0; i < p->n; i++) free(p->ids[i]);
    free(p->ids);
    free(p->lens);
}

static gen_params bench_gen_params(int G, int N, uint64_t seed) {
    gen_params gp = gen_defaults();
    gp.n = G;
    gp.max_new_tokens = N;
    gp.seed = seed;
    return gp; /* no EOS ids: every completion has N tokens */
}

/* Packs prompt + completion of out[k0..k1) into tok/lens; returns the tokens. */
static size_t pack(const prompts *p, const gen_completion *out, int G, int k0, int k1, int *tok, int *lens) {
    size_t off = 0;
    for (int k = k0; k < k1; k++) {
        const int P = p->lens[k / G];
        memcpy(tok + off, p->ids[k / G], P * sizeof(int));
        memcpy(tok + off + P, out[k].tokens, out[k].n_tokens * sizeof(int));
        lens[k - k0] = P + out[k].n_tokens;
        off += (size_t)lens[k - k0];
    }
    return off;
}

/* Max |recorded - learner| over completions out[0..n) and the tokens that differ in any bit. */
static int rollout_vs_learner(policy_model *m, const prompts *p, const gen_completion *out, int G, int n, float T,
                              double *maxd, int *differ, grpo_err *e) {
    const int L = p->len + out[0].n_tokens;
    int *tok = malloc((size_t)n * L * sizeof(int)), *lens = malloc(n * sizeof(int));
    float *lp = malloc((size_t)n * L * sizeof(float));
    pack(p, out, G, 0, n, tok, lens);
    policy_batch b = {.n_seq = n, .seq_len = lens, .tokens = tok};
    int rc = policy_forward(m, &b, T, lp, NULL, 0, e);
    *maxd = 0;
    *differ = 0;
    for (int k = 0, q = 0; !rc && k < n; q += lens[k] - 1, k++)
        for (int t = 0; t < out[k].n_tokens; t++) {
            const float a = lp[q + p->lens[k / G] - 1 + t], r = out[k].logprobs[t];
            *maxd = fmax(*maxd, fabs((double)a - r));
            *differ += memcmp(&a, &r, sizeof a) != 0;
        }
    free(tok);
    free(lens);
    free(lp);
    return rc;
}

typedef struct {
    double tok_s, roof_tok_s, maxd, secs;
    int differ, checked;
} decode_result;

static int bench_decode(policy_model *m, size_t n_real, int rows, int L, int N, decode_result *r, grpo_err *e) {
    const int G = 8, P = rows / G;
    prompts p = make_prompts(P, L, m->cfg.vocab_size, 0);
    gen_completion *out = calloc((size_t)P * G, sizeof *out);
    gen_params gp = bench_gen_params(G, 4, 1);
    gen_stats st;
    int rc = gen_run(m, (const int *const *)p.ids, p.lens, NULL, P, &gp, out, &st, e); /* warm-up: arenas */
    if (!rc) gen_completions_free(out, P * G);
    gp.max_new_tokens = N;
    if (!rc) rc = gen_run(m, (const int *const *)p.ids, p.lens, NULL, P, &gp, out, &st, e);
    if (!rc) {
        const policy_config *c = &m->cfg;
        const double ctx = L + (N - 1) / 2.0 + 1;
        const double kv = ctx * c->num_hidden_layers * 2.0 * c->num_key_value_heads * c->head_dim * 2.0;
        const double bytes = 2.0 * n_real + rows * kv;
        r->tok_s = st.decode_tokens / st.decode_s;
        r->roof_tok_s = rows / (bytes / 4.8e12);
        r->secs = st.decode_s;
        r->checked = (G < rows ? G : rows) * N;
        rc = rollout_vs_learner(m, &p, out, G, G < rows ? G : rows, gp.sampling.temperature, &r->maxd, &r->differ, e);
        gen_completions_free(out, P * G);
    }
    free(out);
    free_prompts(&p);
    return rc;
}

/* The learner's part of a GRPO step over the step's sequences: forward, backward, clip, AdamW. */
static int learn(policy_model *m, const prompts *p, const gen_completion *out, int G, int micro, grpo_err *e) {
    const int n = p->n * G, L = p->len + out[0].n_tokens;
    int *tok = malloc((size_t)micro * L * sizeof(int)), *lens = malloc(micro * sizeof(int));
    float *lp = malloc((size_t)micro * L * sizeof(float)), *dl = malloc((size_t)micro * L * sizeof(float));
    policy_adamw h = {.lr = 1e-6f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.0f};
    double gn;
    int rc = grpo_cuda_zero_grad(m, e);
    for (int k0 = 0; !rc && k0 < n; k0 += micro) {
        const int k1 = k0 + micro < n ? k0 + micro : n;
        pack(p, out, G, k0, k1, tok, lens);
        policy_batch b = {.n_seq = k1 - k0, .seq_len = lens, .tokens = tok};
        const size_t nt = policy_batch_targets(&b);
        for (size_t i = 0; i < nt; i++) dl[i] = (i % 2 ? 1.0f : -1.0f) / (float)nt; /* a stand-in advantage */
        rc = policy_forward(m, &b, 1.0f, lp, NULL, 1, e);
        if (!rc) rc = policy_backward(m, &b, 1.0f, dl, e);
    }
    if (!rc) rc = grpo_cuda_clip_grad_norm(m, 1.0, &gn, e);
    if (!rc) rc = policy_adamw_step(m, &h, e);
    free(tok);
    free(lens);
    free(lp);
    free(dl);
    return rc;
}

typedef struct {
    double tok_s, gen_s, learn_s;
    size_t tokens;
} grpo_result;

static int bench_grpo(policy_model *m, int P, int L, int N, int steps, int micro, grpo_result *r, grpo_err *e) {
    const int G = 8;
    int rc = grpo_cuda_set_resident(m, 1, e);
    double t_all = 0;
    *r = (grpo_result){0};
    for (int s = 0; !rc && s <= steps; s++) { /* step 0 warms up */
        prompts p = make_prompts(P, L, m->cfg.vocab_size, s + 1);
        gen_completion *out = calloc((size_t)P * G, sizeof *out);
        gen_params gp = bench_gen_params(G, N, 7);
        gp.step = s;
        const double t0 = now_s();
        rc = gen_run(m, (const int *const *)p.ids, p.lens, NULL, P, &gp, out, NULL, e);
        const double t1 = now_s();
        if (!rc) rc = learn(m, &p, out, G, micro, e);
        const double t2 = now_s();
        if (!rc && s > 0) {
            r->gen_s += t1 - t0;
            r->learn_s += t2 - t1;
            t_all += t2 - t0;
            r->tokens += (size_t)P * G * (L + N);
        }
        if (!rc) gen_completions_free(out, P * G);
        free(out);
        free_prompts(&p);
    }
    if (!rc) rc = grpo_cuda_set_resident(m, 0, e);
    r->tok_s = t_all > 0 ? r->tokens / t_all : 0;
    return rc;
}

int main(int argc, char **argv) {
    int layers = 24, tiny = 0, rows = 256, L = 128, N = 128, gsteps = 3, gP = 16, gN = 256, micro = 16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *dst = !strcmp(a, "--layers") ? &layers : !strcmp(a, "--rows") ? &rows : !strcmp(a, "--prompt-len") ? &L
                 : !strcmp(a, "--new") ? &N : !strcmp(a, "--grpo-steps") ? &gsteps : !strcmp(a, "--grpo-prompts") ? &gP
                 : !strcmp(a, "--grpo-new") ? &gN : !strcmp(a, "--micro") ? &micro : NULL;
        if (dst && i + 1 < argc) *dst = atoi(argv[++i]);
        else if (!strcmp(a, "--tiny")) tiny = 1;
        else {
            fprintf(stderr, "usage: bench_cuda_gen [--tiny] [--layers 24] [--rows 256] [--prompt-len 128] [--new 128] "
                            "[--grpo-steps 3] [--grpo-prompts 16] [--grpo-new 256] [--micro 16]\n");
            return 2;
        }
    }
    char why[512];
    if (grpo_cuda_device_count(why, sizeof why) <= 0) {
        printf("SKIP: no CUDA GPU present (%s)\n", why);
        return 77;
    }
    grpo_err e = {0};
    policy_config c;
    policy_model m;
    if (qwen05_config(&c, layers, tiny, &e) || policy_build(&m, &c, &e)) return die("model", &e);
    policy_init_random(&m, 1234);
    if (policy_enable_training(&m, &e)) return die("enable_training", &e);
    if (!(m.backend = policy_backend_get("cuda", &e))) return die("backend", &e);
    size_t n_real = 0;
    for (size_t i = 0; i < m.n_tensors; i++) n_real += m.params[i].numel;
    printf("model: %s, %d layers, %.1fM parameters\n", tiny ? "tiny Qwen2-shaped" : "Qwen2.5-0.5B-shaped", layers, n_real / 1e6);

    decode_result d = {0};
    double t = now_s();
    if (bench_decode(&m, n_real, rows, L, N, &d, &e)) return die("decode", &e);
    printf("decode: %d rows, prompt %d, %d new tokens: %.0f tok/s = %.1f%% of the HBM roofline (%.0f tok/s); "
           "rollout vs learner max|d| %.3g, %d of %d tokens differ in some bit (%.1f s)\n",
           rows, L, N, d.tok_s, 100 * d.tok_s / d.roof_tok_s, d.roof_tok_s, d.maxd, d.differ, d.checked, now_s() - t);
    grpo_result g = {0};
    t = now_s();
    if (gsteps > 0 && bench_grpo(&m, gP, L, gN, gsteps, micro, &g, &e)) return die("grpo", &e);
    size_t free_b = 0, total_b = 0;
    grpo_cuda_mem_info(&free_b, &total_b);
    printf("grpo: %d steps of %d prompts x 8 x (%d + %d) tokens: %.0f tokens/s (generation %.2f s, learner %.2f s per step; "
           "%.1f s); GPU memory used %.0f MiB\n",
           gsteps, gP, L, gN, g.tok_s, gsteps ? g.gen_s / gsteps : 0, gsteps ? g.learn_s / gsteps : 0, now_s() - t,
           (total_b - free_b) / 1048576.0);
    printf("RESULT {\"impl\":\"grpo-cuda-gen\",\"params\":%zu,\"rows\":%d,\"decode_tok_s\":%.1f,\"decode_roofline_pct\":%.2f,"
           "\"rollout_vs_learner_max_abs\":%.3g,\"rollout_vs_learner_bits_differ\":%d,\"rollout_vs_learner_tokens\":%d,"
           "\"grpo_tokens_per_s\":%.1f,\"grpo_gen_s\":%.3f,\"grpo_learn_s\":%.3f,\"gpu_mem_used_mib\":%.0f}\n",
           n_real, rows, d.tok_s, 100 * d.tok_s / d.roof_tok_s, d.maxd, d.differ, d.checked, g.tok_s,
           gsteps ? g.gen_s / gsteps : 0, gsteps ? g.learn_s / gsteps : 0, (total_b - free_b) / 1048576.0);
    policy_free(&m);
    return 0;
}
