/* bench/bench_policy.c: tokens/s of the CPU policy model, forward-only and forward+backward,
 * on random weights and random tokens. bench/torch_policy.py is its PyTorch peer (same shapes,
 * threads and batch) and bench/run_policy_bench.sh runs both and prints the ratios.
 *
 * (a) forward: per-token logprobs at temperature 1, nothing kept for backward
 *     # with torch.inference_mode(): logp = log_softmax(model(ids).logits, -1)[:, :-1].gather(-1, ids[:, 1:])
 * (b) forward+backward: zero_grad, forward with keep, backward of the mean cross-entropy
 *     (dL/dlogp = -1/ntargets for every target)
 *     # model.zero_grad(); (-logp.mean()).backward()
 * Each phase runs --warmup untimed iterations, then --iters timed ones; it reports the median
 * (and the minimum, the estimate least hurt by other processes on a shared machine).
 * One JSON line goes to stdout, progress to stderr. A benchmark, never a test. */
#include <errno.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/rng.h"
#include "../policy/model.h"

/* From OpenBLAS (the library grpo_policy links): the kernel family picked at run time. */
extern char *openblas_get_corename(void);

typedef struct {
    const char *config;
    long batch, seq, warmup, iters, threads, seed;
    const char *only; /* "all", "fwd" or "fwdbwd" */
} bench_opts;

static double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts v, so v[0] is then the minimum). */
static double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: bench_policy [--config tiny|qwen2.5-0.5b] [--batch B] [--seq T] [--warmup W] [--iters N]\n"
            "                    [--threads K] [--seed S] [--only all|fwd|fwdbwd]\n"
            "Times forward (per-token logprobs) and forward+backward (mean CE, with zero_grad) of the CPU\n"
            "policy on random weights; prints one JSON line with median tokens/s.\n");
}

/* Parses a decimal in [lo, hi] for option name; returns 0 or -1 after printing why. */
static int bench_parse_long(const char *name, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_policy: option %s: expected an integer in [%ld, %ld], got '%s'\n", name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Fills o from argv; returns 0, 1 after --help, or -1 on a usage error. */
static int bench_parse_args(bench_opts *o, int argc, char **argv) {
    static const struct {
        const char *name;
        long lo, hi;
        size_t off;
    } ints[] = {
        {"--batch", 1, 1 << 16, offsetof(bench_opts, batch)},
        {"--seq", 2, 1 << 20, offsetof(bench_opts, seq)},
        {"--warmup", 0, 1000, offsetof(bench_opts, warmup)},
        {"--iters", 1, 100000, offsetof(bench_opts, iters)},
        {"--threads", 1, 4096, offsetof(bench_opts, threads)},
        {"--seed", 0, 1L << 62, offsetof(bench_opts, seed)},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage(stdout);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_policy: option %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--config")) {
            o->config = v;
            continue;
        }
        if (!strcmp(a, "--only")) {
            if (strcmp(v, "all") && strcmp(v, "fwd") && strcmp(v, "fwdbwd")) {
                fprintf(stderr, "bench_policy: option --only: expected all, fwd or fwdbwd, got '%s'\n", v);
                return -1;
            }
            o->only = v;
            continue;
        }
        size_t k = 0;
        while (k < sizeof ints / sizeof ints[0] && strcmp(a, ints[k].name)) k++;
        if (k == sizeof ints / sizeof ints[0]) {
            fprintf(stderr, "bench_policy: unknown option '%s'\n", a);
            bench_usage(stderr);
            return -1;
        }
        if (bench_parse_long(a, v, ints[k].lo, ints[k].hi, (long *)((char *)o + ints[k].off))) return -1;
    }
    return 0;
}

/* The model shapes called name: "tiny" (the preset) or "qwen2.5-0.5b" (Qwen/Qwen2.5-0.5B's config.json). */
static int bench_config(policy_config *c, const char *name, grpo_err *err) {
    if (!strcmp(name, "tiny")) return policy_config_preset(c, POLICY_ARCH_QWEN2, "tiny", err);
    if (strcmp(name, "qwen2.5-0.5b"))
        return grpo_errf(err, GRPO_EINVAL, "unknown --config '%s' (tiny, qwen2.5-0.5b)", name);
    int rc = policy_config_preset(c, POLICY_ARCH_QWEN2, "small", err); /* the fields not set below */
    if (rc) return rc;
    c->vocab_size = 151936;
    c->hidden_size = 896;
    c->intermediate_size = 4864;
    c->num_hidden_layers = 24;
    c->num_attention_heads = 14;
    c->num_key_value_heads = 2;
    c->head_dim = 64;
    c->max_position_embeddings = 32768;
    c->rms_norm_eps = 1e-6f;
    c->rope_theta = 1000000.0;
    c->tie_word_embeddings = 1;
    c->qkv_bias = 1;
    c->o_bias = 0;
    c->qk_norm = 0;
    c->bos_token_id = 151643;
    c->eos_token_ids[0] = 151643;
    c->n_eos = 1;
    return policy_config_validate(c, name, err);
}

/* Model FLOPs of one forward over B sequences of T tokens, counted the same way in
 * bench/torch_policy.py: 2 per multiply-add of every projection and the lm_head, plus the
 * causal half of QK^T and PV (2 * 2 * nh * hd * T^2 / 2 per sequence and layer).
 * Backward is counted as twice the forward. */
static double bench_fwd_flop(const policy_config *c, long B, long T) {
    const double H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    const double Q = (double)c->num_attention_heads * c->head_dim, KV = (double)c->num_key_value_heads * c->head_dim;
    const double per_tok_layer = H * Q + 2 * H * KV + Q * H + 3 * H * F;
    const double N = (double)B * T;
    const double proj = 2.0 * N * (c->num_hidden_layers * per_tok_layer + H * V);
    const double att = 2.0 * (double)c->num_hidden_layers * B * Q * (double)T * T;
    return proj + att;
}

int main(int argc, char **argv) {
    bench_opts o = {.config = "tiny", .batch = 8, .seq = 256, .warmup = 2, .iters = 10, .threads = 0, .seed = 1234,
                    .only = "all"};
    int prc = bench_parse_args(&o, argc, argv);
    if (prc) return prc > 0 ? 0 : 2;
    if (o.threads > 0) omp_set_num_threads((int)o.threads);
    const int threads = omp_get_max_threads();
    const int do_fwd = strcmp(o.only, "fwdbwd") != 0, do_bwd = strcmp(o.only, "fwd") != 0;

    grpo_err err = {0};
    policy_config cfg;
    policy_model m;
    if (bench_config(&cfg, o.config, &err) || policy_build(&m, &cfg, &err)) {
        fprintf(stderr, "bench_policy: %s\n", err.msg);
        return 1;
    }
    if (o.seq > cfg.max_position_embeddings) {
        fprintf(stderr, "bench_policy: --seq %ld exceeds max_position_embeddings %d\n", o.seq,
                cfg.max_position_embeddings);
        policy_free(&m);
        return 2;
    }
    size_t n_params = 0; /* tensor elements, without arena padding; a tied lm_head counts once */
    for (size_t i = 0; i < m.n_tensors; i++) n_params += m.params[i].numel;
    double t0 = bench_now();
    policy_init_random(&m, (uint64_t)o.seed);
    if (do_bwd && policy_enable_training(&m, &err)) {
        fprintf(stderr, "bench_policy: %s\n", err.msg);
        policy_free(&m);
        return 1;
    }
    fprintf(stderr, "bench_policy: %s, %.1fM parameters (%.1f MiB), init %.1fs; batch %ld x seq %ld, %d threads, "
                    "OpenBLAS core %s\n",
            o.config, n_params / 1e6, n_params * 4.0 / 1048576.0, bench_now() - t0, o.batch, o.seq, threads,
            openblas_get_corename());

    /* B sequences of T random tokens */
    const size_t N = (size_t)o.batch * o.seq;
    int *lens = malloc((size_t)o.batch * sizeof *lens), *tok = malloc(N * sizeof *tok);
    const policy_batch b = {.n_seq = (int)o.batch, .seq_len = lens, .tokens = tok};
    const size_t nt = (size_t)o.batch * (o.seq - 1);
    float *logp = malloc(nt * sizeof *logp), *dlogp = malloc(nt * sizeof *dlogp);
    double *times = malloc((size_t)o.iters * sizeof *times);
    if (!lens || !tok || !logp || !dlogp || !times) {
        fprintf(stderr, "bench_policy: out of memory\n");
        free(times), free(dlogp), free(logp), free(tok), free(lens);
        policy_free(&m);
        return 1;
    }
    rng_state r;
    rng_seed(&r, (uint64_t)o.seed ^ 0x70C5ULL);
    for (long s = 0; s < o.batch; s++) lens[s] = (int)o.seq;
    for (size_t i = 0; i < N; i++) tok[i] = (int)(rng_next(&r) % (uint64_t)cfg.vocab_size);
    for (size_t i = 0; i < nt; i++) dlogp[i] = -1.0f / (float)nt; /* L = -mean(logp) */

    double fwd_s = 0, fwdbwd_s = 0, fwd_min = 0, fwdbwd_min = 0, loss = 0;
    int rc = 0;
    if (do_fwd) {
        for (long i = 0; i < o.warmup + o.iters && !rc; i++) {
            double ts = bench_now();
            rc = policy_forward(&m, &b, 1.0f, logp, NULL, 0, &err);
            double dt = bench_now() - ts;
            if (i >= o.warmup) times[i - o.warmup] = dt;
            fprintf(stderr, "  fwd    %s %ld: %.3fs\n", i < o.warmup ? "warmup" : "iter  ",
                    i < o.warmup ? i + 1 : i - o.warmup + 1, dt);
        }
        if (!rc) fwd_s = bench_median(times, (int)o.iters), fwd_min = times[0];
        for (size_t i = 0; i < nt && !rc; i++) loss -= logp[i];
        loss /= (double)nt;
    }
    if (do_bwd && !rc) {
        for (long i = 0; i < o.warmup + o.iters && !rc; i++) {
            double ts = bench_now();
            policy_zero_grad(&m);
            rc = policy_forward(&m, &b, 1.0f, logp, NULL, 1, &err);
            if (!rc) rc = policy_backward(&m, &b, 1.0f, dlogp, &err);
            double dt = bench_now() - ts;
            if (i >= o.warmup) times[i - o.warmup] = dt;
            fprintf(stderr, "  fwdbwd %s %ld: %.3fs\n", i < o.warmup ? "warmup" : "iter  ",
                    i < o.warmup ? i + 1 : i - o.warmup + 1, dt);
        }
        if (!rc) fwdbwd_s = bench_median(times, (int)o.iters), fwdbwd_min = times[0];
    }
    if (rc) {
        fprintf(stderr, "bench_policy: %s\n", err.msg);
    } else {
        const double tokens = (double)N, flop = bench_fwd_flop(&cfg, o.batch, o.seq);
        printf("{\"impl\":\"grpo\",\"config\":\"%s\",\"batch\":%ld,\"seq\":%ld,\"threads\":%d,\"warmup\":%ld,"
               "\"iters\":%ld,\"params\":%zu,\"fwd_s\":%.6f,\"fwdbwd_s\":%.6f,\"fwd_min_s\":%.6f,"
               "\"fwdbwd_min_s\":%.6f,\"fwd_tok_s\":%.2f,"
               "\"fwdbwd_tok_s\":%.2f,\"fwd_gflop\":%.3f,\"fwd_gflop_s\":%.2f,\"fwdbwd_gflop_s\":%.2f,"
               "\"loss\":%.6f,\"blas\":\"OpenBLAS %s\"}\n",
               o.config, o.batch, o.seq, threads, o.warmup, o.iters, n_params, fwd_s, fwdbwd_s, fwd_min, fwdbwd_min,
               fwd_s > 0 ? tokens / fwd_s : 0.0, fwdbwd_s > 0 ? tokens / fwdbwd_s : 0.0, flop / 1e9,
               fwd_s > 0 ? flop / fwd_s / 1e9 : 0.0, fwdbwd_s > 0 ? 3 * flop / fwdbwd_s / 1e9 : 0.0, loss,
               openblas_get_corename());
    }
    free(times);
    free(dlogp);
    free(logp);
    free(tok);
    free(lens);
    policy_free(&m);
    return rc ? 1 : 0;
}
