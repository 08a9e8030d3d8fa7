// policy/cuda/gemm_cuda.cu: the forward GEMM whose result for a row does not depend on the other
// rows: y[M, N] = x[M, K] @ W[N, K]^T (+ y when accumulating), bf16 inputs, fp32 accumulation on
// tensor cores (wmma 16x16x16), one fixed configuration for every M: a block of 4 warps computes
// a 64 x 64 tile of y, each warp 32 x 32, stepping K in chunks of 32 in ascending order; no
// split-K. So the learner's forward (M = thousands of tokens) and a decode step (M = the live
// rows) compute every row with the same instructions in the same order: the rollout's logprobs
// are the learner's, bit for bit. cuBLAS picks its algorithm from (M, N, K) and gives no such
// promise; GRPO_CUDA_GEMM=cublas selects it for the forward anyway (faster, not invariant).
#include "cuda_common.cuh"

#ifndef GRPO_CUDA_EMU
#include <mma.h>
#endif
#include <stdlib.h>
#include <string.h>

using namespace nvcuda;

#define GI_BM 64
#define GI_BN 64
#define GI_BK 32
#define GI_LDS (GI_BK + 8) // bf16 elements per shared row (a multiple of 8, as wmma loads need)
#define GI_LDC (GI_BN + 4) // floats per shared row of the output tile

__global__ static void gemm_inv_kernel(void *y, int y_bf16, int accumulate, const bf16 *x, const bf16 *W, int M,
                                       int N, int K) {
    __shared__ __align__(32) bf16 As[GI_BM * GI_LDS];
    __shared__ __align__(32) bf16 Ws[GI_BN * GI_LDS];
    __shared__ __align__(32) float Cs[GI_BM * GI_LDC];
    const int m0 = blockIdx.y * GI_BM, n0 = blockIdx.x * GI_BN;
    const int warp = threadIdx.x / 32, wm = (warp / 2) * 32, wn = (warp % 2) * 32;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
    const bf16 zero = __float2bfloat16(0.0f);
    for (int k0 = 0; k0 < K; k0 += GI_BK) {
        __syncthreads(); // the previous chunk is consumed
        for (int idx = threadIdx.x; idx < GI_BM * GI_BK; idx += blockDim.x) {
            const int r = idx / GI_BK, k = idx % GI_BK;
            As[r * GI_LDS + k] = m0 + r < M && k0 + k < K ? x[(size_t)(m0 + r) * K + k0 + k] : zero;
            Ws[r * GI_LDS + k] = n0 + r < N && k0 + k < K ? W[(size_t)(n0 + r) * K + k0 + k] : zero;
        }
        __syncthreads();
        for (int kk = 0; kk < GI_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> b[2];
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], As + (wm + 16 * i) * GI_LDS + kk, GI_LDS);
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], Ws + (wn + 16 * j) * GI_LDS + kk, GI_LDS);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(Cs + (wm + 16 * i) * GI_LDC + wn + 16 * j, acc[i][j], GI_LDC, wmma::mem_row_major);
    __syncthreads();
    for (int idx = threadIdx.x; idx < GI_BM * GI_BN; idx += blockDim.x) {
        const int r = idx / GI_BN, c = idx % GI_BN;
        if (m0 + r >= M || n0 + c >= N) continue;
        const size_t o = (size_t)(m0 + r) * N + n0 + c;
        const float v = Cs[r * GI_LDC + c];
        if (y_bf16) ((bf16 *)y)[o] = __float2bfloat16(v);
        else ((float *)y)[o] = accumulate ? ((float *)y)[o] + v : v;
    }
}

int gemm_invariant_on(int K) {
    static int mode = -1; // 1: the invariant kernel, 0: cuBLAS
    if (mode < 0) {
        const char *s = getenv("GRPO_CUDA_GEMM");
        mode = !(s && !strcmp(s, "cublas"));
    }
    return mode && K % 16 == 0;
}

int k_gemm_invariant(void *y, int y_bf16, int accumulate, const bf16 *x, const bf16 *W, int M, int N, int K,
                     grpo_err *err) {
    if (M <= 0 || N <= 0) return GRPO_OK;
    dim3 grid(cdiv((size_t)N, GI_BN), cdiv((size_t)M, GI_BM));
    KLAUNCH(gemm_inv_kernel, grid, 128, 0, y, y_bf16, accumulate, x, W, M, N, K);
    LAUNCH_CHECK("gemm_inv_kernel");
    return GRPO_OK;
}
