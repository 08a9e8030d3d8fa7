/* bench/bench_math.c: the math checker's speed and bounds.
 *   bench_math CASES.jsonl [none|last_number|whole]: single-thread checks/s of math_accuracy over a labelled
 *   case file (extraction, normalization, parsing, comparison), its agreement and false positives, then the
 *   slowest of 5 runs of each pathological 100 kB completion (unbalanced boxes, dollars, cues, deep braces,
 *   number runs, answer-set chains, prose with thousands of spans). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../rewards/math.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU time of this thread: what a check costs, without the time a loaded machine keeps it waiting. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A text of about n bytes repeating piece. */
static char *repeat(const char *piece, size_t n) {
    size_t m = strlen(piece), w = 0;
    char *t = malloc(n + m + 1);
    if (!t) return NULL;
    while (w + m <= n) memcpy(t + w, piece, m), w += m;
    t[w] = '\0';
    return t;
}

static int bench_cases(const char *path, math_fallback fb) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_math: cannot open %s\n", path);
        return 1;
    }
    char **gold = NULL, **pred = NULL;
    int *label = NULL, n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        gold = realloc(gold, (n + 1) * sizeof *gold);
        pred = realloc(pred, (n + 1) * sizeof *pred);
        label = realloc(label, (n + 1) * sizeof *label);
        if (!gold || !pred || !label) return 1;
        gold[n] = strdup(json_string_value(json_object_get(j, "gold")));
        pred[n] = strdup(json_string_value(json_object_get(j, "pred")));
        label[n] = json_is_true(json_object_get(j, "equal"));
        n++;
        json_decref(j);
    }
    free(line);
    fclose(f);
    math_opts o;
    math_opts_default(&o);
    o.fallback = fb;
    int agree = 0, fp = 0, neg = 0;
    for (int i = 0; i < n; i++) {
        int got = math_accuracy(gold[i], pred[i], &o) > 0.5;
        agree += got == label[i];
        fp += got && !label[i];
        neg += !label[i];
    }
    long checks = 0;
    double t0 = now(), c0 = cpu_now(), t;
    do {
        for (int i = 0; i < n; i++) checks += math_accuracy(gold[i], pred[i], &o) >= 0;
        t = now();
    } while (t - t0 < 2.0);
    double cpu = cpu_now() - c0;
    printf("math: %s, %d cases: agreement %d/%d (%.1f%%), false positives %d/%d, %.0f checks/s single-thread "
           "(%.1f us/check; CPU time %.0f checks/s, %.1f us/check)\n", path, n, agree, n, 100.0 * agree / n, fp, neg,
           checks / (t - t0), 1e6 * (t - t0) / checks, checks / cpu, 1e6 * cpu / checks);
    for (int i = 0; i < n; i++) free(gold[i]), free(pred[i]);
    free(gold), free(pred), free(label);
    return 0;
}

static void bench_pathological(void) {
    static const char *pieces[] = {"\\boxed{", "$", "answer is ", "{", "\\(", "1,", "\\boxed{1} and ",
                                   "so $x_1 = 2$ and the value is 3. ", "\\[x=", "\\frac{", "(", "$1$, ", "\\text{", "$$", "Answer: ",
                                   "The answer is 5. ", "x = ", "\\boxed{1}\\boxed{"};
    const size_t n = 100 * 1000;
    math_opts o;
    math_opts_default(&o);
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        char *t = repeat(pieces[k], n);
        if (!t) return;
        double dt[15], dc[15];
        for (int fb = 0; fb < 3; fb++) {
            o.fallback = (math_fallback)fb;
            for (int r = 0; r < 5; r++) {
                double t0 = now(), c0 = cpu_now();
                (void)math_accuracy("\\frac{1}{2}", t, &o);
                dt[fb * 5 + r] = now() - t0;
                dc[fb * 5 + r] = cpu_now() - c0;
            }
        }
        qsort(dt, 15, sizeof dt[0], cmp_d);
        qsort(dc, 15, sizeof dc[0], cmp_d);
        printf("pathological 100 kB of \"%s\": 15 runs (3 fallbacks x 5): wall median %.2f ms, slowest %.2f ms; "
               "CPU slowest %.2f ms\n", pieces[k], 1e3 * dt[7], 1e3 * dt[14], 1e3 * dc[14]);
        free(t);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_math CASES.jsonl [none|last_number|whole]\n");
        return 2;
    }
    math_fallback fb = MATH_FALLBACK_WHOLE;
    grpo_err err = {0};
    if (argc > 2 && math_fallback_parse(argv[2], &fb, &err)) {
        fprintf(stderr, "bench_math: %s\n", err.msg);
        return 2;
    }
    if (bench_cases(argv[1], fb)) return 1;
    bench_pathological();
    return 0;
}
