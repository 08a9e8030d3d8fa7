// policy/cuda/attention.cu: causal attention over packed (varlen) sequences, forward and backward,
// flash-style: K/V (and, backward, Q/dO) are staged tile by tile in shared memory, softmax is
// online (running max and sum), and the len x len probabilities are never stored; the backward
// recomputes them from the saved log-sum-exp. All arithmetic here is fp32 on CUDA cores; inputs
// and the output are bf16. head_dim 64 and 128 go to the tensor-core kernels of attention_tc.cu
// instead (unless GRPO_CUDA_ATTN=cores); these serve every other head_dim.
//
// Work split. A tile is ATT_TILE consecutive rows of one sequence (att_tile). Forward and dQ: a
// block per (query tile, query head), each warp owning ATT_RPW query rows; keys go by in tiles of
// ATT_KT, one key per lane for the dot products, and each lane owns head dimensions
// d = lane + 32*i for the accumulations (p_j is broadcast with a shuffle). dK/dV: a block per
// (key tile, kv head); each warp owns key rows and loops over the query heads of its GQA group and
// the query tiles at or after the key tile, one query per lane. No atomics: every output element
// has one owner, so the backward is deterministic.
//
//   PyTorch: o = softmax((q @ k.T) * scale + causal_mask) @ v ; lse = logsumexp(scores)
//   D = rowsum(dO * o); dS = P * (dO @ v.T - D); dq = dS @ k * scale; dk = dS.T @ q * scale; dv = P.T @ dO
#include <math.h>

#include "cuda_common.cuh"

#define ATT_WARPS 4
#define ATT_RPW (ATT_TILE / ATT_WARPS)
#define ATT_KT 32
#define FULL 0xffffffffu

__device__ __forceinline__ float att_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL, v, o);
    return v;
}
__device__ __forceinline__ float att_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL, v, o));
    return v;
}

// ---- forward ----

// Dot products of one row held by the lane (a, b: 16-byte aligned, hd % 4 == 0) with the rows
// r[i] that the whole warp reads (broadcast): out[i] += a . r[i]. float4 loads: one shared-memory
// access per four multiply-adds and row.
template <int R>
__device__ __forceinline__ void att_dots(float (&out)[R], const float *a, const float *const (&r)[R], int hd) {
    for (int d = 0; d < hd; d += 4) {
        const float4 x = ld4(a + d);
#pragma unroll
        for (int i = 0; i < R; i++) {
            const float4 y = ld4(r[i] + d);
            out[i] += x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
        }
    }
}

template <int DPL>
__global__ static void att_forward_kernel(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v,
                                          att_shape s) {
    DYN_SMEM(smem);
    const int hd = s.hd, hp = hd + 4; // hd % 4 == 0; the +4 keeps float4 rows conflict-free
    float *Qs = smem;                   // [ATT_TILE][hd], pre-scaled
    float *Ks = Qs + ATT_TILE * hd;     // [ATT_KT][hp]
    float *Vs = Ks + ATT_KT * hp;       // [ATT_KT][hd]
    const att_tile t = s.tiles[blockIdx.x];
    const int h = blockIdx.y, g = h / (s.nh / s.nkv);
    const int Q = s.nh * hd, KV = s.nkv * hd;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rows_here = min(ATT_TILE, t.len - t.row0);
    const int rr0 = warp * ATT_RPW;                          // this warp's first row in the tile
    const int last = rr0 < rows_here ? t.row0 + min(rr0 + ATT_RPW, rows_here) - 1 : -1; // its last query (-1: none)

    for (int idx = threadIdx.x; idx < ATT_TILE * hd; idx += blockDim.x) {
        const int rr = idx / hd, d = idx % hd;
        Qs[idx] = rr < rows_here ? __bfloat162float(q[(size_t)(t.qrow + rr) * Q + h * hd + d]) * s.scale : 0.0f;
    }
    float mrow[ATT_RPW], lrow[ATT_RPW], acc[ATT_RPW][DPL];
    const float *qrow[ATT_RPW];
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        mrow[i] = -INFINITY;
        lrow[i] = 0.0f;
        qrow[i] = Qs + (rr0 + i) * hd;
#pragma unroll
        for (int e = 0; e < DPL; e++) acc[i][e] = 0.0f;
    }
    const int kend = t.row0 + rows_here; // keys 0..kend-1 are visible to some row of the tile
    for (int k0 = 0; k0 < kend; k0 += ATT_KT) {
        __syncthreads(); // previous tile fully consumed (and Qs written, on the first pass)
        for (int idx = threadIdx.x; idx < ATT_KT * hd; idx += blockDim.x) {
            const int jj = idx / hd, d = idx % hd, j = k0 + jj;
            float kv = 0.0f, vv = 0.0f;
            if (j < kend) {
                const size_t a = (size_t)(j < t.split ? t.base + j : t.base2 + (j - t.split)) * KV + g * hd + d;
                kv = __bfloat162float(k[a]);
                vv = __bfloat162float(v[a]);
            }
            Ks[jj * hp + d] = kv;
            Vs[jj * hd + d] = vv;
        }
        __syncthreads();
        if (k0 > last) continue; // uniform: no row of this warp sees these keys
        const int j = k0 + lane;
        float sc[ATT_RPW], p[ATT_RPW];
#pragma unroll
        for (int i = 0; i < ATT_RPW; i++) sc[i] = 0.0f;
        att_dots(sc, Ks + lane * hp, qrow, hd); // every lane, so no divergence; masked below
#pragma unroll
        for (int i = 0; i < ATT_RPW; i++) {
            const int ti = t.row0 + rr0 + i;
            p[i] = 0.0f;
            if (rr0 + i >= rows_here || k0 > ti) continue; // uniform across the warp
            const float si = j <= ti ? sc[i] : -INFINITY;
            const float mnew = fmaxf(mrow[i], att_warp_max(si)); // finite: key k0 <= ti is visible
            p[i] = j <= ti ? expf(si - mnew) : 0.0f;
            const float alpha = expf(mrow[i] - mnew); // 0 on the first tile (mrow = -inf)
            lrow[i] = lrow[i] * alpha + att_warp_sum(p[i]);
#pragma unroll
            for (int e = 0; e < DPL; e++) acc[i][e] *= alpha;
            mrow[i] = mnew;
        }
        // acc += P V over the keys any row of this warp sees (p = 0 where masked)
        const int jmax = min(ATT_KT, last - k0 + 1);
        for (int jj = 0; jj < jmax; jj++) {
            float vv[DPL];
#pragma unroll
            for (int e = 0; e < DPL; e++) {
                const int d = lane + 32 * e;
                vv[e] = d < hd ? Vs[jj * hd + d] : 0.0f;
            }
#pragma unroll
            for (int i = 0; i < ATT_RPW; i++) {
                const float pj = __shfl_sync(FULL, p[i], jj);
#pragma unroll
                for (int e = 0; e < DPL; e++) acc[i][e] += pj * vv[e];
            }
        }
    }
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = rr0 + i;
        if (rr >= rows_here) continue;
        const size_t n = (size_t)t.qrow + rr;
        const float inv = 1.0f / lrow[i];
#pragma unroll
        for (int e = 0; e < DPL; e++) {
            const int d = lane + 32 * e;
            if (d < hd) o[n * Q + h * hd + d] = __float2bfloat16(acc[i][e] * inv);
        }
        if (lane == 0) lse[n * s.nh + h] = mrow[i] + logf(lrow[i]);
    }
}

// ---- backward: D = rowsum(dO * O) ----

__global__ static void att_rowdot_kernel(float *D, const bf16 *dO, const bf16 *o, size_t rows, int hd) {
    const size_t r = (size_t)blockIdx.x * 8 + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) return;
    float a = 0.0f;
    for (int d = lane; d < hd; d += 32) a += __bfloat162float(dO[r * hd + d]) * __bfloat162float(o[r * hd + d]);
    a = att_warp_sum(a);
    if (lane == 0) D[r] = a;
}

// ---- backward: dQ, per query tile and head ----

template <int DPL>
__global__ static void att_dq_kernel(float *dq, const bf16 *dO, const float *lse, const float *D, const bf16 *q,
                                     const bf16 *k, const bf16 *v, att_shape s) {
    DYN_SMEM(smem);
    const int hd = s.hd, hp = hd + 4;
    float *Qs = smem;                  // [ATT_TILE][hd], pre-scaled
    float *dOs = Qs + ATT_TILE * hd;   // [ATT_TILE][hd]
    float *Ks = dOs + ATT_TILE * hd;   // [ATT_KT][hp]
    float *Vs = Ks + ATT_KT * hp;      // [ATT_KT][hp]
    const att_tile t = s.tiles[blockIdx.x];
    const int h = blockIdx.y, g = h / (s.nh / s.nkv);
    const int Q = s.nh * hd, KV = s.nkv * hd;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rows_here = min(ATT_TILE, t.len - t.row0);
    const int rr0 = warp * ATT_RPW;
    const int last = rr0 < rows_here ? t.row0 + min(rr0 + ATT_RPW, rows_here) - 1 : -1;

    for (int idx = threadIdx.x; idx < ATT_TILE * hd; idx += blockDim.x) {
        const int rr = idx / hd, d = idx % hd;
        const size_t a = (size_t)(t.base + t.row0 + rr) * Q + h * hd + d;
        Qs[idx] = rr < rows_here ? __bfloat162float(q[a]) * s.scale : 0.0f;
        dOs[idx] = rr < rows_here ? __bfloat162float(dO[a]) : 0.0f;
    }
    float lrow[ATT_RPW], drow[ATT_RPW], acc[ATT_RPW][DPL];
    const float *qrow[ATT_RPW], *orow[ATT_RPW];
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = rr0 + i;
        const size_t n = (size_t)t.base + t.row0 + rr;
        lrow[i] = rr < rows_here ? lse[n * s.nh + h] : 0.0f;
        drow[i] = rr < rows_here ? D[n * s.nh + h] : 0.0f;
        qrow[i] = Qs + rr * hd;
        orow[i] = dOs + rr * hd;
#pragma unroll
        for (int e = 0; e < DPL; e++) acc[i][e] = 0.0f;
    }
    const int kend = t.row0 + rows_here;
    for (int k0 = 0; k0 < kend; k0 += ATT_KT) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < ATT_KT * hd; idx += blockDim.x) {
            const int jj = idx / hd, d = idx % hd, j = k0 + jj;
            float kv = 0.0f, vv = 0.0f;
            if (j < kend) {
                const size_t a = (size_t)(t.base + j) * KV + g * hd + d;
                kv = __bfloat162float(k[a]);
                vv = __bfloat162float(v[a]);
            }
            Ks[jj * hp + d] = kv;
            Vs[jj * hp + d] = vv;
        }
        __syncthreads();
        if (k0 > last) continue;
        const int j = k0 + lane;
        float sc[ATT_RPW], dp[ATT_RPW], ds[ATT_RPW];
#pragma unroll
        for (int i = 0; i < ATT_RPW; i++) sc[i] = dp[i] = 0.0f;
        att_dots(sc, Ks + lane * hp, qrow, hd);
        att_dots(dp, Vs + lane * hp, orow, hd);
#pragma unroll
        for (int i = 0; i < ATT_RPW; i++) {
            const int ti = t.row0 + rr0 + i;
            const bool live = rr0 + i < rows_here && j <= ti;
            ds[i] = live ? expf(sc[i] - lrow[i]) * (dp[i] - drow[i]) : 0.0f;
        }
        const int jmax = min(ATT_KT, last - k0 + 1);
        for (int jj = 0; jj < jmax; jj++) {
            float kk[DPL];
#pragma unroll
            for (int e = 0; e < DPL; e++) {
                const int d = lane + 32 * e;
                kk[e] = d < hd ? Ks[jj * hp + d] : 0.0f;
            }
#pragma unroll
            for (int i = 0; i < ATT_RPW; i++) {
                const float dsj = __shfl_sync(FULL, ds[i], jj);
#pragma unroll
                for (int e = 0; e < DPL; e++) acc[i][e] += dsj * kk[e];
            }
        }
    }
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = rr0 + i;
        if (rr >= rows_here) continue;
        const size_t n = (size_t)t.base + t.row0 + rr;
#pragma unroll
        for (int e = 0; e < DPL; e++) {
            const int d = lane + 32 * e;
            if (d < hd) dq[n * Q + h * hd + d] = acc[i][e] * s.scale;
        }
    }
}

// ---- backward: dK and dV, per key tile and kv head ----

template <int DPL>
__global__ static void att_dkv_kernel(float *dk, float *dv, const bf16 *dO, const float *lse, const float *D,
                                      const bf16 *q, const bf16 *k, const bf16 *v, att_shape s) {
    DYN_SMEM(smem);
    const int hd = s.hd, hp = hd + 4;
    float *Kt = smem;                  // [ATT_TILE][hd] this block's key rows
    float *Vt = Kt + ATT_TILE * hd;    // [ATT_TILE][hd]
    float *Qs = Vt + ATT_TILE * hd;    // [ATT_KT][hp], pre-scaled
    float *dOs = Qs + ATT_KT * hp;     // [ATT_KT][hp]
    float *Ls = dOs + ATT_KT * hp;     // [ATT_KT]
    float *Ds = Ls + ATT_KT;           // [ATT_KT]
    const att_tile t = s.tiles[blockIdx.x];
    const int g = blockIdx.y, group = s.nh / s.nkv;
    const int Q = s.nh * hd, KV = s.nkv * hd;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rows_here = min(ATT_TILE, t.len - t.row0);
    const int rr0 = warp * ATT_RPW;
    const int first = t.row0 + rr0; // this warp's first key position (queries before it see none)

    for (int idx = threadIdx.x; idx < ATT_TILE * hd; idx += blockDim.x) {
        const int rr = idx / hd, d = idx % hd;
        const size_t a = (size_t)(t.base + t.row0 + rr) * KV + g * hd + d;
        Kt[idx] = rr < rows_here ? __bfloat162float(k[a]) : 0.0f;
        Vt[idx] = rr < rows_here ? __bfloat162float(v[a]) : 0.0f;
    }
    float ak[ATT_RPW][DPL], av[ATT_RPW][DPL];
    const float *krow[ATT_RPW], *vrow[ATT_RPW];
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        krow[i] = Kt + (rr0 + i) * hd;
        vrow[i] = Vt + (rr0 + i) * hd;
#pragma unroll
        for (int e = 0; e < DPL; e++) ak[i][e] = av[i][e] = 0.0f;
    }

    for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        // queries i >= row0 can see some key of this tile
        for (int q0 = t.row0; q0 < t.len; q0 += ATT_KT) {
            __syncthreads();
            for (int idx = threadIdx.x; idx < ATT_KT * hd; idx += blockDim.x) {
                const int jj = idx / hd, d = idx % hd, qi = q0 + jj;
                float qv = 0.0f, ov = 0.0f;
                if (qi < t.len) {
                    const size_t a = (size_t)(t.base + qi) * Q + h * hd + d;
                    qv = __bfloat162float(q[a]) * s.scale;
                    ov = __bfloat162float(dO[a]);
                }
                Qs[jj * hp + d] = qv;
                dOs[jj * hp + d] = ov;
            }
            for (int jj = threadIdx.x; jj < ATT_KT; jj += blockDim.x) {
                const int qi = q0 + jj;
                const size_t n = (size_t)t.base + qi;
                Ls[jj] = qi < t.len ? lse[n * s.nh + h] : 0.0f;
                Ds[jj] = qi < t.len ? D[n * s.nh + h] : 0.0f;
            }
            __syncthreads();
            if (rr0 >= rows_here || q0 + ATT_KT <= first) continue; // uniform: nothing for this warp
            const int qi = q0 + lane;
            float sc[ATT_RPW], dp[ATT_RPW], p[ATT_RPW], ds[ATT_RPW];
#pragma unroll
            for (int i = 0; i < ATT_RPW; i++) sc[i] = dp[i] = 0.0f;
            att_dots(sc, Qs + lane * hp, krow, hd);
            att_dots(dp, dOs + lane * hp, vrow, hd);
#pragma unroll
            for (int i = 0; i < ATT_RPW; i++) {
                const int tk = first + i;
                const bool live = rr0 + i < rows_here && qi < t.len && qi >= tk;
                p[i] = live ? expf(sc[i] - Ls[lane]) : 0.0f;
                ds[i] = live ? p[i] * (dp[i] - Ds[lane]) : 0.0f;
            }
            const int jmax = min(ATT_KT, t.len - q0);
            for (int jj = 0; jj < jmax; jj++) {
                float qq[DPL], oo[DPL];
#pragma unroll
                for (int e = 0; e < DPL; e++) {
                    const int d = lane + 32 * e;
                    qq[e] = d < hd ? Qs[jj * hp + d] : 0.0f;
                    oo[e] = d < hd ? dOs[jj * hp + d] : 0.0f;
                }
#pragma unroll
                for (int i = 0; i < ATT_RPW; i++) {
                    const float pj = __shfl_sync(FULL, p[i], jj), dsj = __shfl_sync(FULL, ds[i], jj);
#pragma unroll
                    for (int e = 0; e < DPL; e++) {
                        av[i][e] += pj * oo[e];
                        ak[i][e] += dsj * qq[e];
                    }
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = rr0 + i;
        if (rr >= rows_here) continue;
        const size_t n = (size_t)t.base + t.row0 + rr;
#pragma unroll
        for (int e = 0; e < DPL; e++) {
            const int d = lane + 32 * e;
            if (d < hd) {
                dk[n * KV + g * hd + d] = ak[i][e];
                dv[n * KV + g * hd + d] = av[i][e];
            }
        }
    }
}

// ---- launchers ----

static int att_dpl(int hd) { return hd <= 32 ? 1 : hd <= 64 ? 2 : hd <= 128 ? 4 : hd <= 256 ? 8 : -1; }

#define ATT_DISPATCH(DPLV, KERNEL, GRID, SMEM, ...)                                                        \
    do {                                                                                                   \
        switch (DPLV) {                                                                                    \
        case 1: CUDA_CHECK(cudaFuncSetAttribute(KERNEL<1>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(SMEM))); \
            KLAUNCH(KERNEL<1>, GRID, 32 * ATT_WARPS, SMEM, __VA_ARGS__); break;                                 \
        case 2: CUDA_CHECK(cudaFuncSetAttribute(KERNEL<2>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(SMEM))); \
            KLAUNCH(KERNEL<2>, GRID, 32 * ATT_WARPS, SMEM, __VA_ARGS__); break;                                 \
        case 4: CUDA_CHECK(cudaFuncSetAttribute(KERNEL<4>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(SMEM))); \
            KLAUNCH(KERNEL<4>, GRID, 32 * ATT_WARPS, SMEM, __VA_ARGS__); break;                                 \
        case 8: CUDA_CHECK(cudaFuncSetAttribute(KERNEL<8>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(SMEM))); \
            KLAUNCH(KERNEL<8>, GRID, 32 * ATT_WARPS, SMEM, __VA_ARGS__); break;                                 \
        default: return grpo_errf(err, GRPO_EUNSUPPORTED, "CUDA attention: head_dim %d > 256", s->hd);  \
        }                                                                                                  \
    } while (0)

static int att_check(const att_shape *s, grpo_err *err) {
    if (att_dpl(s->hd) < 0 || s->hd % 4 || s->nkv <= 0 || s->nh % s->nkv)
        return grpo_errf(err, GRPO_EUNSUPPORTED,
                         "CUDA attention: head_dim %d (a multiple of 4, at most 256), %d heads over %d kv heads",
                         s->hd, s->nh, s->nkv);
    if (s->n_tiles <= 0) return grpo_errf(err, GRPO_EINVAL, "CUDA attention: no tiles");
    return GRPO_OK;
}

int att_forward(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, const att_shape *s,
                grpo_err *err) {
    TRY(att_check(s, err));
    if (att_tc_on(s->hd)) return att_tc_forward(o, lse, q, k, v, s, err); // attention_tc.cu
    const int hd = s->hd;
    const size_t smem = ((size_t)ATT_TILE * hd + (size_t)ATT_KT * (hd + 4) + (size_t)ATT_KT * hd) * sizeof(float);
    dim3 grid(s->n_tiles, s->nh);
    ATT_DISPATCH(att_dpl(hd), att_forward_kernel, grid, smem, o, lse, q, k, v, *s);
    LAUNCH_CHECK("att_forward_kernel");
    return GRPO_OK;
}

int att_backward(float *dq, float *dk, float *dv, float *Dsum, const bf16 *dO, const bf16 *o, const float *lse,
                 const bf16 *q, const bf16 *k, const bf16 *v, int N, const att_shape *s, grpo_err *err) {
    TRY(att_check(s, err));
    const int hd = s->hd;
    const size_t rows = (size_t)N * s->nh;
    KLAUNCH(att_rowdot_kernel, cdiv(rows, 8), 256, 0, Dsum, dO, o, rows, hd);
    LAUNCH_CHECK("att_rowdot_kernel");
    if (att_tc_on(hd)) return att_tc_backward(dq, dk, dv, Dsum, dO, lse, q, k, v, s, err); // attention_tc.cu
    const size_t smem_q = ((size_t)2 * ATT_TILE * hd + (size_t)2 * ATT_KT * (hd + 4)) * sizeof(float);
    dim3 gq(s->n_tiles, s->nh);
    ATT_DISPATCH(att_dpl(hd), att_dq_kernel, gq, smem_q, dq, dO, lse, Dsum, q, k, v, *s);
    LAUNCH_CHECK("att_dq_kernel");
    const size_t smem_kv =
        ((size_t)2 * ATT_TILE * hd + (size_t)2 * ATT_KT * (hd + 4) + (size_t)2 * ATT_KT) * sizeof(float);
    dim3 gkv(s->n_tiles, s->nkv);
    ATT_DISPATCH(att_dpl(hd), att_dkv_kernel, gkv, smem_kv, dk, dv, dO, lse, Dsum, q, k, v, *s);
    LAUNCH_CHECK("att_dkv_kernel");
    return GRPO_OK;
}
