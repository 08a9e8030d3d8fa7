/* policy/cpu/gemm.h: the matrix products of the CPU training forward and backward.
 * Private to policy/cpu. */
#ifndef GRPO_POLICY_CPU_GEMM_H
#define GRPO_POLICY_CPU_GEMM_H

#include <stddef.h>

/* y[M, N] = (accumulate ? y : 0) + op(A) @ op(B) (+ bias[N]), row-major, where
 *   op(A) is [M, K]: a[m * lda + k], or with trans_a a[k * lda + m];
 *   op(B) is [K, N]: b[k * ldb + n], or with trans_b b[n * ldb + k].
 * So the forward y = x @ W^T is (0, 1), dx = dy @ W is (0, 0) and dW += dy^T @ x is (1, 0).
 * Each output element is one fused multiply-add chain over k = 0..K-1 from zero, then added to
 * y and bias: the result depends neither on the thread count nor on how the work is tiled.
 * scratch holds cpu_gemm_scratch_floats(K) floats, 64-byte aligned (a packed panel per thread).
 * Call from outside an OpenMP parallel region. */
void cpu_gemm(int trans_a, int trans_b, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
              float *y, int ldy, const float *bias, int accumulate, float *scratch);

/* Floats of scratch cpu_gemm needs for inner dimension K with omp_get_max_threads() threads. */
size_t cpu_gemm_scratch_floats(int K);

#endif
