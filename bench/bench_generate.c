/* bench/bench_generate.c: generation throughput of grpo's rollout engine (a benchmark, not a test).
 *   bench_generate --model DIR --prompts P --prompt-len L --n G --max-new-tokens N [--no-share] [--threads K]
 *                  [--repeat R] [--temperature T] [--top-p P] [--top-k K]
 * Prompts are deterministic ids (the same as bench/hf_generate.py builds); EOS is ignored so every
 * completion has exactly N tokens. With --repeat R the whole generation runs R times and the fastest
 * run is reported (the tokens are identical every time). Prints one JSON line. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../policy/model.h"
#include "../rollout/generate.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *model = NULL;
    int P = 16, L = 32, G = 8, N = 64, share = 1, threads = 0, repeat = 1;
    double temperature = 1.0, top_p = 1.0;
    int top_k = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--model")) model = v, i++;
        else if (!strcmp(a, "--prompts")) P = atoi(v), i++;
        else if (!strcmp(a, "--prompt-len")) L = atoi(v), i++;
        else if (!strcmp(a, "--n")) G = atoi(v), i++;
        else if (!strcmp(a, "--max-new-tokens")) N = atoi(v), i++;
        else if (!strcmp(a, "--threads")) threads = atoi(v), i++;
        else if (!strcmp(a, "--repeat")) repeat = atoi(v), i++;
        else if (!strcmp(a, "--temperature")) temperature = atof(v), i++;
        else if (!strcmp(a, "--top-p")) top_p = atof(v), i++;
        else if (!strcmp(a, "--top-k")) top_k = atoi(v), i++;
        else if (!strcmp(a, "--no-share")) share = 0;
        else {
            fprintf(stderr, "usage: bench_generate --model DIR [--prompts P] [--prompt-len L] [--n G] "
                            "[--max-new-tokens N] [--no-share] [--threads K] [--repeat R] [--temperature T] "
                            "[--top-p P] [--top-k K]\n");
            return 2;
        }
    }
    if (!model) {
        fprintf(stderr, "bench_generate: --model is required\n");
        return 2;
    }
    if (threads > 0) omp_set_num_threads(threads);
    grpo_err err = {0};
    policy_model m;
    if (policy_load(&m, model, &err)) {
        fprintf(stderr, "bench_generate: %s\n", err.msg);
        return 1;
    }
    int **ids = malloc(P * sizeof(int *)), *lens = malloc(P * sizeof(int));
    for (int i = 0; i < P; i++) {
        lens[i] = L;
        ids[i] = malloc(L * sizeof(int));
        /* the same formula as bench/hf_generate.py */
        for (int t = 0; t < L; t++) ids[i][t] = 3 + (int)((i * 7919L + t * 104729L) % (m.cfg.vocab_size - 3));
    }
    gen_params gp = gen_defaults();
    gp.n = G;
    gp.max_new_tokens = N;
    gp.sampling.temperature = (float)temperature;
    gp.sampling.top_p = (float)top_p;
    gp.sampling.top_k = top_k;
    gp.share_prefix = share;
    gp.seed = 1;
    gen_completion *out = calloc((size_t)P * G, sizeof *out);
    gen_stats st = {0};
    double dt = 0.0;
    size_t gen_tokens = 0;
    for (int rep = 0; rep < (repeat > 0 ? repeat : 1); rep++) {
        gen_stats s;
        double t0 = now_s();
        int rc = gen_run(&m, (const int *const *)ids, lens, NULL, P, &gp, out, &s, &err);
        double d = now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench_generate: %s\n", err.msg);
            return 1;
        }
        if (rep == 0 || d < dt) {
            dt = d;
            st = s;
        }
        gen_tokens = 0;
        for (int k = 0; k < P * G; k++) gen_tokens += (size_t)out[k].n_tokens;
        if (rep + 1 < repeat) gen_completions_free(out, P * G);
    }
    /* FNV-1a over every token id and logprob bit pattern: equal digests mean the same samples */
    unsigned long long digest = 1469598103934665603ULL;
    for (int k = 0; k < P * G; k++)
        for (int t = 0; t < out[k].n_tokens; t++) {
            unsigned int lp;
            memcpy(&lp, &out[k].logprobs[t], sizeof lp);
            digest = (digest ^ (unsigned int)out[k].tokens[t]) * 1099511628211ULL;
            digest = (digest ^ lp) * 1099511628211ULL;
        }
    printf("{\"impl\":\"grpo\",\"top_p\":%g,\"top_k\":%d,\"digest\":\"%016llx\",\"share_prefix\":%d,\"prompts\":%d,\"prompt_len\":%d,\"n\":%d,\"max_new_tokens\":%d,"
           "\"threads\":%d,\"repeat\":%d,\"seconds\":%.3f,\"generated_tokens\":%zu,\"tok_s\":%.1f,\"prefill_s\":%.3f,\"decode_s\":%.3f,"
           "\"kv_mib\":%.1f}\n",
           top_p, top_k, digest, share, P, L, G, N, omp_get_max_threads(), repeat > 0 ? repeat : 1, dt, gen_tokens, gen_tokens / dt, st.prefill_s, st.decode_s,
           st.kv_bytes / 1048576.0);
    gen_completions_free(out, P * G);
    free(out);
    for (int i = 0; i < P; i++) free(ids[i]);
    free(ids);
    free(lens);
    policy_free(&m);
    return 0;
}
