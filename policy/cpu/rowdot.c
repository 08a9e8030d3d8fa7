/* policy/cpu/rowdot.c: y = x @ W^T for the cached forward, with results independent of the row count.
 *
 * The rows of x are repacked k-major in panels of 32 ([panel][k][32 rows], zero-padded), so one
 * vector holds the same k of 16, 8 or 4 rows. The microkernel broadcasts W[j, k] and adds
 * x[:, k] * W[j, k] into one accumulator lane per output element, k = 0, 1, ..., K-1, with a
 * fused multiply-add (a multiply and an add where the target has none). Every output element is
 * therefore the same chain whatever M is, which panel or lane its row lands in, how the columns are split into blocks and threads,
 * and which kernel width runs it: there is no horizontal reduction to depend on the tile. Padding
 * rows compute zeros that are never stored. W stays in its HF layout ([N, K], row-major); each
 * block of columns is read once per panel, from L1/L2 after the first panel. */
#include "rowdot.h"

#include <stddef.h>

#define PANEL 32 /* rows per packed panel */
#ifndef ROWDOT_SCHED
#define ROWDOT_SCHED dynamic, 1
#endif

#if defined(__AVX512F__)
#include <immintrin.h>
#define VL 16
typedef __m512 vec;
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_load_ps(p)
#define VSTORE(p, v) _mm512_store_ps(p, v)
#define VBCAST(s) _mm512_set1_ps(s)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#elif defined(__FMA__) && defined(__AVX__)
#include <immintrin.h>
#define VL 8
typedef __m256 vec;
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_load_ps(p)
#define VSTORE(p, v) _mm256_store_ps(p, v)
#define VBCAST(s) _mm256_set1_ps(s)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#else
/* No fused multiply-add in the target (the portable build): a multiply, then an add, in GCC's
 * generic vectors (SSE2 on x86-64). fmaf here was a libm call per element, which made the whole
 * portable build ~11x slower; 4-wide vectors and narrow blocks keep the accumulators in SSE's 16
 * registers. Rounding differs from the FMA paths, as on a CPU without FMA; every output element
 * is still one fixed chain in k order, so rows stay independent of each other. */
#define VL 4
typedef float vec __attribute__((vector_size(16)));
#define VZERO() ((vec){0})
#define VLOAD(p) (*(const vec *)(p))
#define VSTORE(p, v) (*(vec *)(p) = (v))
#define VBCAST(s) ((vec){(s), (s), (s), (s)})
#define VFMA(a, b, c) ((a) * (b) + (c))
#endif

#define NVF (PANEL / VL) /* vectors in a full panel */
#define NVH (NVF / 2)    /* vectors in a half panel */

/* out[b * PANEL + i] = sum_k xp[k * PANEL + i] * W[b * ldw + k] for NV vectors of rows and JB
 * columns; each lane is one FMA chain in k order. */
#define KERNEL(NAME, NV, JB)                                                                        \
    static void NAME(const float *restrict xp, int K, const float *restrict W, size_t ldw,         \
                     float *restrict out) {                                                         \
        vec acc[NV][JB];                                                                            \
        _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++)                                      \
            _Pragma("GCC unroll 32") for (int b = 0; b < JB; b++) acc[v][b] = VZERO();             \
        for (int k = 0; k < K; k++) {                                                               \
            vec xv[NV];                                                                             \
            _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++) xv[v] = VLOAD(xp + (size_t)k * PANEL + v * VL); \
            _Pragma("GCC unroll 32") for (int b = 0; b < JB; b++) {                                \
                const vec w = VBCAST(W[b * ldw + k]);                                               \
                _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++) acc[v][b] = VFMA(xv[v], w, acc[v][b]); \
            }                                                                                       \
        }                                                                                           \
        _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++)                                      \
            _Pragma("GCC unroll 32") for (int b = 0; b < JB; b++) VSTORE(out + b * PANEL + v * VL, acc[v][b]); \
    }

#if VL == 16
/* full panel: 2 x 12 zmm accumulators; half panel: 1 x 24 */
#define JBF 12
#define JBH 24
#elif VL == 4
/* full panel: 8 x 1 xmm accumulators; half panel: 4 x 2 */
#define JBF 1
#define JBH 2
#else
#define JBF 3
#define JBH 6
#endif
#define JBMAX (JBH > 4 ? JBH : 4) /* the widest kernel below */
KERNEL(kern_full, NVF, JBF)
KERNEL(kern_full4, NVF, 4)
KERNEL(kern_full1, NVF, 1)
KERNEL(kern_half, NVH, JBH)
KERNEL(kern_half4, NVH, 4)
KERNEL(kern_half1, NVH, 1)

size_t rowdot_scratch_floats(int M, int K) { return (size_t)((M + PANEL - 1) / PANEL) * PANEL * (size_t)K; }

/* Rows [p*PANEL, p*PANEL + PANEL) and columns [k0, k1) of x into panel p, k-major, zero-padded
 * past M. */
static void pack_panel(float *xp, const float *x, int M, int K, int p, int k0, int k1) {
    const int m0 = p * PANEL, n = M - m0 < PANEL ? M - m0 : PANEL;
    for (int k = k0; k < k1; k++) {
        float *d = xp + (size_t)k * PANEL;
        for (int i = 0; i < n; i++) d[i] = x[(size_t)(m0 + i) * K + k];
        for (int i = n; i < PANEL; i++) d[i] = 0.0f;
    }
}

/* Columns [j0, j0 + jb) of one job for every panel. */
static void run_block(const rowdot_job *J, const float *xp, int M, int K, int j0, int jb) {
    float out[JBMAX * PANEL] __attribute__((aligned(64)));
    const int N = J->N;
    const size_t ldw = (size_t)K;
    for (int m0 = 0; m0 < M; m0 += PANEL) {
        const float *px = xp + (size_t)m0 * K;
        const int rows = M - m0 < PANEL ? M - m0 : PANEL, half = rows <= PANEL / 2;
        const int step = half ? JBH : JBF;
        for (int j = j0; j < j0 + jb;) {
            const float *Wj = J->W + (size_t)j * ldw;
            int w;
            if (j0 + jb - j >= step) {
                w = step;
                if (half) kern_half(px, K, Wj, ldw, out);
                else kern_full(px, K, Wj, ldw, out);
            } else if (j0 + jb - j >= 4) {
                w = 4;
                if (half) kern_half4(px, K, Wj, ldw, out);
                else kern_full4(px, K, Wj, ldw, out);
            } else {
                w = 1;
                if (half) kern_half1(px, K, Wj, ldw, out);
                else kern_full1(px, K, Wj, ldw, out);
            }
            for (int i = 0; i < rows; i++) {
                float *yr = J->y + (size_t)(m0 + i) * N + j;
                if (J->bias)
                    for (int b = 0; b < w; b++) yr[b] = out[b * PANEL + i] + J->bias[j + b];
                else
                    for (int b = 0; b < w; b++) yr[b] = out[b * PANEL + i];
            }
            j += w;
        }
    }
}

void rowdot_multi(const rowdot_job *jobs, int n_jobs, const float *x, int M, int K, float *scratch) {
    /* columns go to threads in blocks of BLK (a multiple of both kernels' widths) */
    enum { BLK = 24 };
    int start[9], total = 0;
    for (int i = 0; i < n_jobs; i++) {
        start[i] = total;
        total += (jobs[i].N + BLK - 1) / BLK;
    }
    start[n_jobs] = total;
    const int panels = (M + PANEL - 1) / PANEL;
#pragma omp parallel
    {
        enum { KC = 64 }; /* packing is split by panel and by chunks of KC columns */
        const int kchunks = (K + KC - 1) / KC;
#pragma omp for schedule(static)
        for (int t = 0; t < panels * kchunks; t++) {
            const int p = t / kchunks, k0 = t % kchunks * KC, k1 = k0 + KC < K ? k0 + KC : K;
            pack_panel(scratch + (size_t)p * PANEL * K, x, M, K, p, k0, k1);
        }
#pragma omp for schedule(ROWDOT_SCHED)
        for (int b = 0; b < total; b++) {
            int i = n_jobs - 1;
            while (start[i] > b) i--;
            const int j0 = (b - start[i]) * BLK, jb = jobs[i].N - j0 < BLK ? jobs[i].N - j0 : BLK;
            run_block(&jobs[i], scratch, M, K, j0, jb);
        }
    }
}
