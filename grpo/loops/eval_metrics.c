/* grpo/loops/eval_metrics.c: see eval_metrics.h. */
#include "eval_metrics.h"

#include <string.h>

static int has(const char *a) { return a && a[0]; }

void eval_tally_add(eval_tally *t, const int *ok, const char *const *ans, int k) {
    int correct = 0;
    for (int j = 0; j < k; j++) correct += ok[j] != 0;
    int best = -1, best_votes = 0;
    for (int j = 0; j < k; j++) {
        if (!has(ans[j])) continue;
        int v = 0;
        for (int q = 0; q < k; q++) v += has(ans[q]) && !strcmp(ans[j], ans[q]);
        if (v > best_votes) best = j, best_votes = v;
    }
    t->n_problems++;
    t->k = k;
    t->pass1_sum += k ? (double)correct / k : 0.0;
    t->pass_k_sum += correct > 0;
    t->maj_k_sum += best >= 0 && ok[best];
}
