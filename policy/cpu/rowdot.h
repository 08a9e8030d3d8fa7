/* policy/cpu/rowdot.h: the row-deterministic matrix product of the cached forward (step.c).
 * Private to policy/cpu. */
#ifndef GRPO_POLICY_CPU_ROWDOT_H
#define GRPO_POLICY_CPU_ROWDOT_H

#include <stddef.h>

/* One product of a rowdot_multi call: y[M, N] = x[M, K] @ W[N, K]^T (+ bias[N]). */
typedef struct {
    float *y;
    const float *W, *bias;
    int N;
} rowdot_job;

/* Floats of scratch rowdot_multi needs for M rows of length K. */
size_t rowdot_scratch_floats(int M, int K);

/* Runs the jobs (at most 8) over the same x in one OpenMP parallel region. Every output element
 * is one fused multiply-add chain over k = 0..K-1 from 0 (then + bias), whatever M, the job mix
 * or the thread count: a row's results never depend on the other rows. scratch holds
 * rowdot_scratch_floats(M, K) floats, 64-byte aligned. Call from outside a parallel region. */
void rowdot_multi(const rowdot_job *jobs, int n_jobs, const float *x, int M, int K, float *scratch);

#endif
