/* grpo/loops/eval_metrics.h: pass@1, pass@k and maj@k over k samples per problem (grpo eval). */
#ifndef GRPO_EVAL_METRICS_H
#define GRPO_EVAL_METRICS_H

typedef struct {
    int n_problems, k;
    double pass1_sum, pass_k_sum, maj_k_sum;  /* sums over problems; divide by n_problems */
} eval_tally;

/* Adds one problem's k samples: ok[j] = 1 when sample j is correct, ans[j] its normalized extracted
 * answer ("" or NULL when none was found). pass@1 adds (correct samples) / k; pass@k (n = k, so the
 * unbiased estimator is "any correct") adds 1 when any sample is correct; maj@k adds 1 when the most
 * frequent non-empty answer belongs to a correct sample (ties go to the answer seen first; no answer
 * at all counts as wrong). */
void eval_tally_add(eval_tally *t, const int *ok, const char *const *ans, int k);

#endif
