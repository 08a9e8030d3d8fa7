// policy/cuda/attention.cu: causal attention over packed (varlen) sequences, forward and backward,
// flash-style: K/V (and, backward, Q/dO) are staged tile by tile in shared memory, softmax is
// online (running max and sum), and the len x len probabilities are never stored; the backward
// recomputes them from the saved log-sum-exp. All arithmetic is fp32 on CUDA cores (no tensor
// cores yet); inputs and the output are bf16.
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

template <int DPL>
__global__ static void att_forward_kernel(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v,
                                          att_shape s) {
    DYN_SMEM(smem);
    const int hd = s.hd, hp = hd + 1;
    float *Qs = smem;                   // [ATT_TILE][hd], pre-scaled
    float *Ks = Qs + ATT_TILE * hd;     // [ATT_KT][hp]
    float *Vs = Ks + ATT_KT * hp;       // [ATT_KT][hd]
    const att_tile t = s.tiles[blockIdx.x];
    const int h = blockIdx.y, g = h / (s.nh / s.nkv);
    const int Q = s.nh * hd, KV = s.nkv * hd;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rows_here = min(ATT_TILE, t.len - t.row0);

    for (int idx = threadIdx.x; idx < ATT_TILE * hd; idx += blockDim.x) {
        const int rr = idx / hd, d = idx % hd;
        Qs[idx] = rr < rows_here ? __bfloat162float(q[(size_t)(t.base + t.row0 + rr) * Q + h * hd + d]) * s.scale : 0.0f;
    }
    float mrow[ATT_RPW], lrow[ATT_RPW], acc[ATT_RPW][DPL];
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        mrow[i] = -INFINITY;
        lrow[i] = 0.0f;
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
                const size_t a = (size_t)(t.base + j) * KV + g * hd + d;
                kv = __bfloat162float(k[a]);
                vv = __bfloat162float(v[a]);
            }
            Ks[jj * hp + d] = kv;
            Vs[jj * hd + d] = vv;
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < ATT_RPW; i++) {
            const int rr = warp * ATT_RPW + i, ti = t.row0 + rr;
            if (rr >= rows_here || k0 > ti) continue; // uniform across the warp
            const int j = k0 + lane;
            float sc = -INFINITY;
            if (j <= ti) {
                const float *qr = Qs + rr * hd, *kr = Ks + lane * hp;
                float a = 0.0f;
                for (int d = 0; d < hd; d++) a += qr[d] * kr[d];
                sc = a;
            }
            const float mt = att_warp_max(sc); // finite: key k0 <= ti is visible to lane 0
            const float mnew = fmaxf(mrow[i], mt);
            const float p = j <= ti ? expf(sc - mnew) : 0.0f;
            const float alpha = expf(mrow[i] - mnew); // 0 on the first tile (mrow = -inf)
            lrow[i] = lrow[i] * alpha + att_warp_sum(p);
#pragma unroll
            for (int e = 0; e < DPL; e++) acc[i][e] *= alpha;
            const int jmax = min(ATT_KT, ti - k0 + 1);
            for (int jj = 0; jj < jmax; jj++) {
                const float pj = __shfl_sync(FULL, p, jj);
#pragma unroll
                for (int e = 0; e < DPL; e++) {
                    const int d = lane + 32 * e;
                    if (d < hd) acc[i][e] += pj * Vs[jj * hd + d];
                }
            }
            mrow[i] = mnew;
        }
    }
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = warp * ATT_RPW + i;
        if (rr >= rows_here) continue;
        const size_t n = (size_t)t.base + t.row0 + rr;
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
    const int hd = s.hd, hp = hd + 1;
    float *Qs = smem;                  // [ATT_TILE][hd], pre-scaled
    float *dOs = Qs + ATT_TILE * hd;   // [ATT_TILE][hd]
    float *Ks = dOs + ATT_TILE * hd;   // [ATT_KT][hp]
    float *Vs = Ks + ATT_KT * hp;      // [ATT_KT][hp]
    const att_tile t = s.tiles[blockIdx.x];
    const int h = blockIdx.y, g = h / (s.nh / s.nkv);
    const int Q = s.nh * hd, KV = s.nkv * hd;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rows_here = min(ATT_TILE, t.len - t.row0);

    for (int idx = threadIdx.x; idx < ATT_TILE * hd; idx += blockDim.x) {
        const int rr = idx / hd, d = idx % hd;
        const size_t a = (size_t)(t.base + t.row0 + rr) * Q + h * hd + d;
        Qs[idx] = rr < rows_here ? __bfloat162float(q[a]) * s.scale : 0.0f;
        dOs[idx] = rr < rows_here ? __bfloat162float(dO[a]) : 0.0f;
    }
    float lrow[ATT_RPW], drow[ATT_RPW], acc[ATT_RPW][DPL];
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = warp * ATT_RPW + i;
        const size_t n = (size_t)t.base + t.row0 + rr;
        lrow[i] = rr < rows_here ? lse[n * s.nh + h] : 0.0f;
        drow[i] = rr < rows_here ? D[n * s.nh + h] : 0.0f;
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
#pragma unroll
        for (int i = 0; i < ATT_RPW; i++) {
            const int rr = warp * ATT_RPW + i, ti = t.row0 + rr;
            if (rr >= rows_here || k0 > ti) continue;
            const int j = k0 + lane;
            float ds = 0.0f;
            if (j <= ti) {
                const float *qr = Qs + rr * hd, *dr = dOs + rr * hd, *kr = Ks + lane * hp, *vr = Vs + lane * hp;
                float sc = 0.0f, dp = 0.0f;
                for (int d = 0; d < hd; d++) {
                    sc += qr[d] * kr[d];
                    dp += dr[d] * vr[d];
                }
                const float p = expf(sc - lrow[i]);
                ds = p * (dp - drow[i]);
            }
            const int jmax = min(ATT_KT, ti - k0 + 1);
            for (int jj = 0; jj < jmax; jj++) {
                const float dsj = __shfl_sync(FULL, ds, jj);
#pragma unroll
                for (int e = 0; e < DPL; e++) {
                    const int d = lane + 32 * e;
                    if (d < hd) acc[i][e] += dsj * Ks[jj * hp + d];
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = warp * ATT_RPW + i;
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
    const int hd = s.hd, hp = hd + 1;
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

    for (int idx = threadIdx.x; idx < ATT_TILE * hd; idx += blockDim.x) {
        const int rr = idx / hd, d = idx % hd;
        const size_t a = (size_t)(t.base + t.row0 + rr) * KV + g * hd + d;
        Kt[idx] = rr < rows_here ? __bfloat162float(k[a]) : 0.0f;
        Vt[idx] = rr < rows_here ? __bfloat162float(v[a]) : 0.0f;
    }
    float ak[ATT_RPW][DPL], av[ATT_RPW][DPL];
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++)
#pragma unroll
        for (int e = 0; e < DPL; e++) ak[i][e] = av[i][e] = 0.0f;

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
            const int jmax = min(ATT_KT, t.len - q0);
#pragma unroll
            for (int i = 0; i < ATT_RPW; i++) {
                const int rr = warp * ATT_RPW + i, tk = t.row0 + rr;
                if (rr >= rows_here) continue;
                const int qi = q0 + lane;
                float p = 0.0f, ds = 0.0f;
                if (qi < t.len && qi >= tk) {
                    const float *qr = Qs + lane * hp, *dr = dOs + lane * hp, *kr = Kt + rr * hd, *vr = Vt + rr * hd;
                    float sc = 0.0f, dp = 0.0f;
                    for (int d = 0; d < hd; d++) {
                        sc += qr[d] * kr[d];
                        dp += dr[d] * vr[d];
                    }
                    p = expf(sc - Ls[lane]);
                    ds = p * (dp - Ds[lane]);
                }
                for (int jj = 0; jj < jmax; jj++) {
                    const float pj = __shfl_sync(FULL, p, jj), dsj = __shfl_sync(FULL, ds, jj);
#pragma unroll
                    for (int e = 0; e < DPL; e++) {
                        const int d = lane + 32 * e;
                        if (d < hd) {
                            av[i][e] += pj * dOs[jj * hp + d];
                            ak[i][e] += dsj * Qs[jj * hp + d];
                        }
                    }
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
        const int rr = warp * ATT_RPW + i;
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
    if (att_dpl(s->hd) < 0 || s->nkv <= 0 || s->nh % s->nkv)
        return grpo_errf(err, GRPO_EUNSUPPORTED, "CUDA attention: head_dim %d (max 256), %d heads over %d kv heads",
                         s->hd, s->nh, s->nkv);
    if (s->n_tiles <= 0) return grpo_errf(err, GRPO_EINVAL, "CUDA attention: no tiles");
    return GRPO_OK;
}

int att_forward(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, const att_shape *s,
                grpo_err *err) {
    TRY(att_check(s, err));
    const int hd = s->hd;
    const size_t smem = ((size_t)ATT_TILE * hd + (size_t)ATT_KT * (hd + 1) + (size_t)ATT_KT * hd) * sizeof(float);
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
    const size_t smem_q = ((size_t)2 * ATT_TILE * hd + (size_t)2 * ATT_KT * (hd + 1)) * sizeof(float);
    dim3 gq(s->n_tiles, s->nh);
    ATT_DISPATCH(att_dpl(hd), att_dq_kernel, gq, smem_q, dq, dO, lse, Dsum, q, k, v, *s);
    LAUNCH_CHECK("att_dq_kernel");
    const size_t smem_kv =
        ((size_t)2 * ATT_TILE * hd + (size_t)2 * ATT_KT * (hd + 1) + (size_t)2 * ATT_KT) * sizeof(float);
    dim3 gkv(s->n_tiles, s->nkv);
    ATT_DISPATCH(att_dpl(hd), att_dkv_kernel, gkv, smem_kv, dk, dv, dO, lse, Dsum, q, k, v, *s);
    LAUNCH_CHECK("att_dkv_kernel");
    return GRPO_OK;
}
