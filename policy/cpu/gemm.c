/* policy/cpu/gemm.c: the training matrix products, with register-tiled microkernels.
 *
 * The output is cut into tasks of one panel of NR columns by a block of rows. A task packs its
 * panel of op(B) k-major ([k][NR], zero-padded past N) into its thread's scratch, then sweeps
 * its rows MR at a time: for k = 0, 1, ..., K-1 the microkernel loads the panel's row k as
 * NR/VL vectors, broadcasts op(A)[r, k] for each of the MR rows, and adds the products into
 * MR x NR/VL vector accumulators with fused multiply-adds. Each output element is therefore one
 * FMA chain over k from zero, whatever the tile, the task split or the thread count; the tile
 * is then added to y (accumulate) and to the bias with whole-vector loads and stores.
 *
 * op(A) is read in place (row-major rows broadcast one k at a time, or for dW the transposed
 * tokens-by-outputs gradient, whose MR consecutive floats per k are contiguous); only a K x NR
 * slice of op(B) is packed per task. Against BLAS on the shapes of small models (inner
 * dimensions of 64-1024, thousands of rows) this skips the separate passes that scale C and
 * pack both whole operands for every call. */
#include "gemm.h"

#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "simd.h"

#define NV 2         /* vectors per column panel */
#define NR (NV * VL) /* columns per panel: 32 with AVX-512, 16 otherwise */
#if VL == 16
#define MR 12 /* rows per tile: 12 x 2 zmm accumulators */
#else
#define MR 6 /* 6 x 2 ymm */
#endif

/* Rows [0, R) of a tile: acc[r][v] = sum_k A(r, k) * bp[k * NR + v * VL + lane], AIDX the index of
 * A(r, k) in a; then y[r, c] = (accumulate ? y[r, c] : 0) + acc + bias[c] for c < ncols. */
#define TILE_KERNEL(NAME, R, AIDX)                                                                  \
    static void NAME(const float *restrict a, size_t lda, const float *restrict bp, int K, float *restrict y, \
                     size_t ldy, const float *restrict bias, int accumulate, int ncols) {           \
        vec acc[R][NV];                                                                             \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                       \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = VZERO();              \
        for (int k = 0; k < K; k++) {                                                               \
            vec bv[NV];                                                                             \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) bv[v] = VLOAD(bp + (size_t)k * NR + v * VL); \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                 \
                const vec av = VBCAST(a[AIDX]);                                                     \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = VFMA(bv[v], av, acc[r][v]); \
            }                                                                                       \
        }                                                                                           \
        if (ncols == NR) {                                                                          \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                   \
                _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                             \
                float *p = y + (size_t)r * ldy + v * VL;                                            \
                vec s = acc[r][v];                                                                  \
                if (accumulate) s = VADD(VLOADU(p), s);                                             \
                if (bias) s = VADD(s, VLOADU(bias + v * VL));                                       \
                VSTOREU(p, s);                                                                      \
            }                                                                                       \
            return;                                                                                 \
        }                                                                                           \
        for (int r = 0; r < R; r++) {                                                               \
            float t[NR];                                                                            \
            for (int v = 0; v < NV; v++) VSTOREU(t + v * VL, acc[r][v]);                            \
            float *p = y + (size_t)r * ldy;                                                         \
            for (int c = 0; c < ncols; c++) {                                                       \
                float s = t[c];                                                                     \
                if (accumulate) s = p[c] + s;                                                       \
                if (bias) s += bias[c];                                                             \
                p[c] = s;                                                                           \
            }                                                                                       \
        }                                                                                           \
    }

/* A row-major [M, K] (a points at the tile's first row) and A^T stored [K, M] */
TILE_KERNEL(kr_main, MR, (size_t)r * lda + k)
TILE_KERNEL(kr_4, 4, (size_t)r * lda + k)
TILE_KERNEL(kr_1, 1, (size_t)r * lda + k)
TILE_KERNEL(kt_main, MR, (size_t)k * lda + r)
TILE_KERNEL(kt_4, 4, (size_t)k * lda + r)
TILE_KERNEL(kt_1, 1, (size_t)k * lda + r)

typedef void (*tile_fn)(const float *restrict, size_t, const float *restrict, int, float *restrict, size_t,
                        const float *restrict, int, int);
static const tile_fn tiles[2][3] = {{kr_main, kr_4, kr_1}, {kt_main, kt_4, kt_1}};

/* Columns [n0, n0 + NR) of op(B) into bp, k-major, zero past N. */
static void pack_b(float *restrict bp, const float *b, int ldb, int trans_b, int n0, int N, int K) {
    const int cols = N - n0 < NR ? N - n0 : NR;
    if (!trans_b) {
        for (int k = 0; k < K; k++) {
            float *d = bp + (size_t)k * NR;
            memcpy(d, b + (size_t)k * ldb + n0, (size_t)cols * sizeof(float));
            if (cols < NR) memset(d + cols, 0, (size_t)(NR - cols) * sizeof(float));
        }
        return;
    }
    if (cols < NR)
        for (int k = 0; k < K; k++) memset(bp + (size_t)k * NR + cols, 0, (size_t)(NR - cols) * sizeof(float));
    /* W[n, :] rows read in blocks of 64, so reads stream and the writes stay in L1 */
    for (int k0 = 0; k0 < K; k0 += 64) {
        const int k1 = k0 + 64 < K ? k0 + 64 : K;
        for (int c = 0; c < cols; c++) {
            const float *src = b + (size_t)(n0 + c) * ldb;
            for (int k = k0; k < k1; k++) bp[(size_t)k * NR + c] = src[k];
        }
    }
}

size_t cpu_gemm_scratch_floats(int K) { return (size_t)omp_get_max_threads() * NR * (size_t)(K > 0 ? K : 0); }

void cpu_gemm(int trans_a, int trans_b, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
              float *y, int ldy, const float *bias, int accumulate, float *scratch) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                float *v = y + (size_t)m * ldy + n;
                *v = (accumulate ? *v : 0.0f) + (bias ? bias[n] : 0.0f);
            }
        return;
    }
    const int panels = (N + NR - 1) / NR, threads = omp_get_max_threads();
    /* row blocks of up to 16 tiles, smaller until there are a few tasks per thread */
    int mb = 16 * MR;
    while (mb > MR && panels * ((M + mb - 1) / mb) < 4 * threads) mb = (mb / 2 + MR - 1) / MR * MR;
    const int blocks = (M + mb - 1) / mb, tasks = panels * blocks;
#pragma omp parallel num_threads(tasks < threads ? tasks : threads)
    {
        float *bp = scratch + (size_t)omp_get_thread_num() * NR * K;
        int packed = -1;
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tasks; t++) {
            const int p = t / blocks, n0 = p * NR, ncols = N - n0 < NR ? N - n0 : NR;
            const int m0 = t % blocks * mb, m1 = m0 + mb < M ? m0 + mb : M;
            if (p != packed) {
                pack_b(bp, b, ldb, trans_b, n0, N, K);
                packed = p;
            }
            const float *bn = bias ? bias + n0 : NULL;
            for (int m = m0; m < m1;) {
                const int left = m1 - m, r = left >= MR ? MR : (left >= 4 ? 4 : 1);
                const float *am = trans_a ? a + m : a + (size_t)m * lda;
                tiles[trans_a][r == MR ? 0 : (r == 4 ? 1 : 2)](am, (size_t)lda, bp, K, y + (size_t)m * ldy + n0,
                                                              (size_t)ldy, bn, accumulate, ncols);
                m += r;
            }
        }
    }
}
