/* bench/bench_rewards.c: rewards benchmarks.
 *   math:    single-thread checks/s of math_accuracy over tests/rewards/math_cases.jsonl (each pair is one
 *            check: extraction, normalization, parsing, comparison), and agreement with the labels;
 *   sandbox: median wall time of a sandboxed run of a trivial passing program (the harness with one assert),
 *            of /usr/bin/true under bwrap alone, and of the same Python harness without any sandbox.
 * usage: bench_rewards CASES.jsonl [sandbox_runs] */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../rewards/code.h"
#include "../rewards/math.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_rewards CASES.jsonl [sandbox_runs]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 30;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "bench_rewards: cannot open %s\n", argv[1]);
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
    o.fallback = MATH_FALLBACK_WHOLE;
    int agree = 0;
    for (int i = 0; i < n; i++) agree += (math_accuracy(gold[i], pred[i], &o) > 0.5) == label[i];
    long checks = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < n; i++) checks += math_accuracy(gold[i], pred[i], &o) >= 0;
        t = now();
    } while (t - t0 < 2.0);
    printf("math: %d cases, agreement %d/%d (%.1f%%), %.0f checks/s single-thread (%.1f us/check)\n", n, agree, n,
           100.0 * agree / n, checks / (t - t0), 1e6 * (t - t0) / checks);

    /* sandbox overhead */
    if (runs <= 0) return 0;
    code_opts co;
    code_opts_default(&co);
    code_problem p = {.task_id = "t", .form = CODE_FORM_CHECK, .prompt = "def f():\n",
                      .test = "def check(c):\n    assert c() == 1\n", .entry_point = "f"};
    double *w = malloc(runs * sizeof *w);
    const char *labels[3] = {"trivial passing program, sandboxed (bwrap + harness)", "/usr/bin/true under bwrap",
                             "same harness, no sandbox (weak isolation, reference)"};
    for (int mode = 0; mode < 3; mode++) {
        code_opts m = co;
        if (mode == 2) m.sandbox.bwrap = "/nonexistent", m.sandbox.weak_isolation = 1;
        for (int i = 0; i < runs; i++) {
            grpo_err e = {0};
            double s = now();
            if (mode == 1) {
                const char *av[] = {"/usr/bin/true", NULL};
                sandbox_result r;
                if (sandbox_run(&m.sandbox, 0, NULL, 0, av, NULL, 0, &r, &e)) {
                    fprintf(stderr, "bench_rewards: %s\n", e.msg);
                    return 1;
                }
                sandbox_result_free(&r);
            } else {
                code_result r;
                if (code_score_one(&p, "    return 1\n", &m, 0, &r, &e) || r.score != 1.0) {
                    fprintf(stderr, "bench_rewards: trivial program did not pass: %s\n", e.msg);
                    return 1;
                }
            }
            w[i] = now() - s;
        }
        qsort(w, runs, sizeof *w, cmp_d);
        printf("sandbox: %-55s median %.1f ms (min %.1f, max %.1f, %d runs)\n", labels[mode], 1e3 * w[runs / 2],
               1e3 * w[0], 1e3 * w[runs - 1], runs);
    }
    free(w);
    return 0;
}
