/* bench/bench_sampler.c: CPU time of one smp_sample call (a benchmark, not a test).
 *   bench_sampler [--vocab V] [--sigma S] [--temperature T] [--top-p P] [--top-k K] [--draws N]
 * Logits are N(0, S^2) with a seeded generator plus a few raised ids (a peaked head when S is large, a
 * near-uniform one when S is small, as a random tiny teacher gives). It reports process CPU time per
 * draw, which a machine shared with other work changes much less than wall time, and a digest of the
 * drawn ids and logprobs so that two builds can be compared for identical draws. One JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../rollout/sampler.h"

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int V = 1024, K = 0, N = 20000;
    double sigma = 0.5, T = 0.6, P = 0.95;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--vocab")) V = atoi(v), i++;
        else if (!strcmp(a, "--sigma")) sigma = atof(v), i++;
        else if (!strcmp(a, "--temperature")) T = atof(v), i++;
        else if (!strcmp(a, "--top-p")) P = atof(v), i++;
        else if (!strcmp(a, "--top-k")) K = atoi(v), i++;
        else if (!strcmp(a, "--draws")) N = atoi(v), i++;
        else {
            fprintf(stderr, "usage: bench_sampler [--vocab V] [--sigma S] [--temperature T] [--top-p P] [--top-k K] "
                            "[--draws N]\n");
            return 2;
        }
    }
    const int n_rows = 16; /* rows of logits cycled through, so that one row's order is not learned */
    float *logits = malloc((size_t)n_rows * V * sizeof *logits);
    smp_token *work = malloc((size_t)V * sizeof *work);
    if (V < 2 || N < 1 || !logits || !work) {
        fprintf(stderr, "bench_sampler: bad sizes or out of memory\n");
        return 1;
    }
    rng_state g;
    rng_seed(&g, 7);
    for (int r = 0; r < n_rows; r++) {
        float *l = logits + (size_t)r * V;
        for (int i = 0; i < V; i++) l[i] = (float)(sigma * rng_normal(&g));
        for (int j = 0; j < 4; j++) l[rng_next(&g) % V] += (float)(2.0 * sigma);
    }
    smp_params p = smp_defaults();
    p.temperature = (float)T;
    p.top_p = (float)P;
    p.top_k = K;
    rng_state r;
    rng_seed(&r, 11);
    unsigned long long digest = 1469598103934665603ULL;
    const double t0 = cpu_s();
    for (int k = 0; k < N; k++) {
        float lp;
        const int id = smp_sample(&p, logits + (size_t)(k % n_rows) * V, V, NULL, 0, &r, work, &lp, NULL);
        unsigned int bits;
        memcpy(&bits, &lp, sizeof bits);
        digest = (digest ^ (unsigned int)id) * 1099511628211ULL;
        digest = (digest ^ bits) * 1099511628211ULL;
    }
    const double dt = cpu_s() - t0;
    printf("{\"impl\":\"grpo\",\"vocab\":%d,\"sigma\":%g,\"temperature\":%g,\"top_p\":%g,\"top_k\":%d,\"draws\":%d,"
           "\"us_per_draw\":%.2f,\"digest\":\"%016llx\"}\n",
           V, sigma, T, P, K, N, dt / N * 1e6, digest);
    free(logits);
    free(work);
    return 0;
}
