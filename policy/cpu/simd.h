/* policy/cpu/simd.h: the vector type of the packed matrix-product kernels (rowdot.c, gemm.c).
 * AVX-512 where the compiler targets it, else AVX2+FMA, else a portable 8-lane struct with fmaf:
 * every path does the same fused multiply-adds lane by lane, so results agree bit for bit.
 * Private to policy/cpu. */
#ifndef GRPO_POLICY_CPU_SIMD_H
#define GRPO_POLICY_CPU_SIMD_H

#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define VL 16
typedef __m512 vec;
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_load_ps(p)
#define VSTORE(p, v) _mm512_store_ps(p, v)
#define VBCAST(s) _mm512_set1_ps(s)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VADD(a, b) _mm512_add_ps(a, b)
#elif defined(__FMA__) && defined(__AVX__)
#include <immintrin.h>
#define VL 8
typedef __m256 vec;
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_load_ps(p)
#define VSTORE(p, v) _mm256_store_ps(p, v)
#define VBCAST(s) _mm256_set1_ps(s)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VADD(a, b) _mm256_add_ps(a, b)
#else
#include <math.h>
#define VL 8
typedef struct {
    float f[8];
} vec;
static inline vec v_zero(void) { return (vec){{0}}; }
static inline vec v_load(const float *p) {
    vec r;
    memcpy(&r, p, sizeof r);
    return r;
}
static inline vec v_bcast(float s) {
    vec r;
    for (int i = 0; i < 8; i++) r.f[i] = s;
    return r;
}
static inline vec v_fma(vec a, vec b, vec c) {
    for (int i = 0; i < 8; i++) c.f[i] = fmaf(a.f[i], b.f[i], c.f[i]);
    return c;
}
static inline vec v_add(vec a, vec b) {
    for (int i = 0; i < 8; i++) a.f[i] += b.f[i];
    return a;
}
#define VZERO() v_zero()
#define VLOAD(p) v_load(p)
#define VSTORE(p, v) memcpy(p, &(v), sizeof(vec))
#define VBCAST(s) v_bcast(s)
#define VFMA(a, b, c) v_fma(a, b, c)
#define VLOADU(p) v_load(p)
#define VSTOREU(p, v) memcpy(p, &(v), sizeof(vec))
#define VADD(a, b) v_add(a, b)
#endif

/* The packed outer-product microkernel: out[b * PANEL + i] = sum_k xp[k * PANEL + i] * W[BIDX]
 * for NV vectors of rows (i < NV * VL) and JB columns b, where BIDX is an expression of b, k and
 * ldw (b * ldw + k: W is [N, K] row-major; k * ldw + b: W is [K, N]). Each lane is one FMA chain
 * over k = 0, 1, ..., K-1 starting from zero, whatever the tile or the thread. */
#define PK_KERNEL(NAME, PANEL, NV, JB, BIDX)                                                       \
    static void NAME(const float *restrict xp, int K, const float *restrict W, size_t ldw,         \
                     float *restrict out) {                                                         \
        vec acc[NV][JB];                                                                            \
        _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++)                                      \
            _Pragma("GCC unroll 32") for (int b = 0; b < JB; b++) acc[v][b] = VZERO();             \
        for (int k = 0; k < K; k++) {                                                               \
            vec xv[NV];                                                                             \
            _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++) xv[v] = VLOAD(xp + (size_t)k * PANEL + v * VL); \
            _Pragma("GCC unroll 32") for (int b = 0; b < JB; b++) {                                \
                const vec w = VBCAST(W[BIDX]);                                                      \
                _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++) acc[v][b] = VFMA(xv[v], w, acc[v][b]); \
            }                                                                                       \
        }                                                                                           \
        _Pragma("GCC unroll 32") for (int v = 0; v < NV; v++)                                      \
            _Pragma("GCC unroll 32") for (int b = 0; b < JB; b++) VSTORE(out + b * PANEL + v * VL, acc[v][b]); \
    }

#endif
