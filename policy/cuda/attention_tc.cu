// policy/cuda/attention_tc.cu: causal attention on tensor cores (bf16 wmma 16x16x16, fp32
// accumulation) for head_dim 64 and 128; attention.cu's CUDA-core kernels serve the others, and
// every head_dim when GRPO_CUDA_ATTN=cores. Same contract as att_forward / att_backward
// (cuda_common.cuh): packed sequences in tiles of ATT_TILE = 16 query rows, the forward also over
// the paged KV cache of decoding (att_tile.split / base2), no atomics anywhere.
//
// Work split: a block of 4 warps per (16-row tile, head); keys (forward, dQ) or queries (dK/dV) go
// by in blocks of TC_KB = 32. Per block:
//   forward: S = Q K^T (2 fragments: warps 0-1) -> online softmax in fp32 (8 threads per row:
//            running max m, sum l; P rounded to bf16, l sums the rounded values) -> O = alpha O +
//            P V (each warp owns HD/4 output columns; O lives in shared memory, fp32, because a
//            fragment's rows cannot be rescaled in place).
//   dQ:      S = Q K^T (warps 0-1) and dP = dO V^T (warps 2-3) -> dS = P (dP - D), P from the
//            saved log-sum-exp -> dQ += dS K (fragments per warp, kept across the key blocks).
//   dK, dV:  per key tile and kv head, over the query heads of its GQA group: S^T = K Q^T and
//            dP^T = V dO^T -> P^T, dS^T -> dV += P^T dO, dK += dS^T Q.
// Each output element has one owner, so results are deterministic. Rollouts and the learner run
// this same forward, and a query row's result does not depend on the other rows of its tile: the
// key blocks are fixed (multiples of TC_KB from key 0) and a block a row cannot see leaves its
// state exactly as it was (alpha = 1, p = 0), so the rollout's logprobs stay the learner's, bit
// for bit.
//
//   PyTorch: o = softmax((q @ k.T) * scale + causal_mask) @ v ; lse = logsumexp(scores)
//   D = rowsum(dO * o); dS = P * (dO @ v.T - D); dq = dS @ k * scale; dk = dS.T @ q * scale; dv = P.T @ dO
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.cuh"

#ifndef GRPO_CUDA_EMU
#include <mma.h>
#endif

using namespace nvcuda;

#define TC_KB 32                // keys (queries, for dK/dV) per block
#define TC_LDS (TC_KB + 4)      // floats per shared row of scores
#define TC_LDP (TC_KB + 8)      // bf16 per shared row of probabilities
#define TC_WARPS 4
#define TC_FULL 0xffffffffu

typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_acc;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> frag_a;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> frag_b_rm;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> frag_b_cm;

int att_tc_on(int hd) {
    const char *s = getenv("GRPO_CUDA_ATTN");
    return (hd == 64 || hd == 128) && !(s && !strcmp(s, "cores"));
}

// acc = A[16, HD] (row-major, lda) @ B^T where B is [16, HD] row-major (ldb): a 16 x 16 block of
// dot products between the rows of A and the rows of B, summed over HD in order.
template <int HD>
__device__ __forceinline__ void tc_dots(frag_acc &acc, const bf16 *A, const bf16 *B, int ld) {
    wmma::fill_fragment(acc, 0.0f);
    for (int d0 = 0; d0 < HD; d0 += 16) {
        frag_a a;
        frag_b_cm b;
        wmma::load_matrix_sync(a, A + d0, ld);
        wmma::load_matrix_sync(b, B + d0, ld);
        wmma::mma_sync(acc, a, b, acc);
    }
}

// acc += P[16, TC_KB] (row-major, TC_LDP) @ X[TC_KB, 16 columns at X] (row-major, ldx)
__device__ __forceinline__ void tc_pv(frag_acc &acc, const bf16 *P, const bf16 *X, int ldx) {
    for (int kk = 0; kk < TC_KB; kk += 16) {
        frag_a a;
        frag_b_rm b;
        wmma::load_matrix_sync(a, P + kk, TC_LDP);
        wmma::load_matrix_sync(b, X + (size_t)kk * ldx, ldx);
        wmma::mma_sync(acc, a, b, acc);
    }
}

// max and sum over the 8 consecutive lanes that share a row (every lane gets the same value)
__device__ __forceinline__ float tc_max8(float v) {
    for (int o = 4; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(TC_FULL, v, o));
    return v;
}
__device__ __forceinline__ float tc_sum8(float v) {
    for (int o = 4; o > 0; o >>= 1) v += __shfl_xor_sync(TC_FULL, v, o);
    return v;
}

// rows [0, rows) of a [rows_cap, HD] bf16 tile from global rows src(r) (zeros past rows)
template <int HD, class F>
__device__ __forceinline__ void tc_load_rows(bf16 *dst, int rows_cap, int rows, F src) {
    const bf16 zero = __float2bfloat16(0.0f);
    for (int idx = threadIdx.x; idx < rows_cap * HD; idx += blockDim.x) {
        const int r = idx / HD, d = idx % HD;
        dst[r * (HD + 8) + d] = r < rows ? *src(r, d) : zero;
    }
}

// ---- forward ----

template <int HD>
__global__ static void att_tc_forward_kernel(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v,
                                             att_shape s) {
    constexpr int LDH = HD + 8, LDO = HD + 4, NC = HD / 16 / TC_WARPS;
    __shared__ __align__(32) bf16 Qs[ATT_TILE * LDH];
    __shared__ __align__(32) bf16 Ks[TC_KB * LDH];
    __shared__ __align__(32) bf16 Vs[TC_KB * LDH];
    __shared__ __align__(32) float Ss[ATT_TILE * TC_LDS];
    __shared__ __align__(32) bf16 Ps[ATT_TILE * TC_LDP];
    __shared__ __align__(32) float Os[ATT_TILE * LDO];
    __shared__ float Ms[ATT_TILE], Ls[ATT_TILE];
    const att_tile t = s.tiles[blockIdx.x];
    const int h = blockIdx.y, g = h / (s.nh / s.nkv), Q = s.nh * HD, KV = s.nkv * HD;
    const int warp = threadIdx.x / 32, r = threadIdx.x / 8, part = threadIdx.x % 8;
    const int rows_here = min(ATT_TILE, t.len - t.row0), last = t.row0 + rows_here - 1;

    tc_load_rows<HD>(Qs, ATT_TILE, rows_here, [&](int rr, int d) { return q + (size_t)(t.qrow + rr) * Q + h * HD + d; });
    for (int idx = threadIdx.x; idx < ATT_TILE * LDO; idx += blockDim.x) Os[idx] = 0.0f;
    if (threadIdx.x < ATT_TILE) {
        Ms[threadIdx.x] = -INFINITY;
        Ls[threadIdx.x] = 0.0f;
    }
    for (int k0 = 0; k0 <= last; k0 += TC_KB) {
        __syncthreads(); // the previous block is consumed (Qs, Os, Ms written on the first pass)
        auto key = [&](int jj, int d) {
            const int j = k0 + jj;
            return (size_t)(j < t.split ? t.base + j : t.base2 + (j - t.split)) * KV + g * HD + d;
        };
        const int nk = min(TC_KB, last - k0 + 1);
        tc_load_rows<HD>(Ks, TC_KB, nk, [&](int jj, int d) { return k + key(jj, d); });
        tc_load_rows<HD>(Vs, TC_KB, nk, [&](int jj, int d) { return v + key(jj, d); });
        __syncthreads();
        if (warp < TC_KB / 16) { // S = Q K^T, 16 keys per warp
            frag_acc sc;
            tc_dots<HD>(sc, Qs, Ks + warp * 16 * LDH, LDH);
            wmma::store_matrix_sync(Ss + warp * 16, sc, TC_LDS, wmma::mem_row_major);
        }
        __syncthreads();
        { // online softmax of row r over this block's keys part*4 .. part*4+3
            const int ti = t.row0 + r;
            float sc[TC_KB / 8], mx = -INFINITY;
            for (int i = 0; i < TC_KB / 8; i++) {
                const int c = part * (TC_KB / 8) + i;
                sc[i] = r < rows_here && k0 + c <= ti ? Ss[r * TC_LDS + c] * s.scale : -INFINITY;
                mx = fmaxf(mx, sc[i]);
            }
            const float mold = Ms[r], mnew = fmaxf(mold, tc_max8(mx));
            const float alpha = mnew == -INFINITY ? 1.0f : expf(mold - mnew); // 1 when nothing is visible
            float psum = 0.0f;
            for (int i = 0; i < TC_KB / 8; i++) {
                const bf16 pb = __float2bfloat16(sc[i] == -INFINITY ? 0.0f : expf(sc[i] - mnew));
                Ps[r * TC_LDP + part * (TC_KB / 8) + i] = pb;
                psum += __bfloat162float(pb);
            }
            psum = tc_sum8(psum);
            for (int d = part * (HD / 8); d < (part + 1) * (HD / 8); d++) Os[r * LDO + d] *= alpha;
            __syncthreads(); // every thread of the row has read Ms[r]
            if (part == 0) {
                Ms[r] = mnew;
                Ls[r] = Ls[r] * alpha + psum;
            }
        }
        __syncthreads();
        for (int f = 0; f < NC; f++) { // O += P V on this warp's columns
            const int c0 = (warp * NC + f) * 16;
            frag_acc acc;
            wmma::load_matrix_sync(acc, Os + c0, LDO, wmma::mem_row_major);
            tc_pv(acc, Ps, Vs + c0, LDH);
            wmma::store_matrix_sync(Os + c0, acc, LDO, wmma::mem_row_major);
        }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < rows_here * HD; idx += blockDim.x) {
        const int rr = idx / HD, d = idx % HD;
        o[(size_t)(t.qrow + rr) * Q + h * HD + d] = __float2bfloat16(Os[rr * LDO + d] * (1.0f / Ls[rr]));
    }
    const int rr = threadIdx.x;
    if (rr < rows_here) lse[(size_t)(t.qrow + rr) * s.nh + h] = Ms[rr] + logf(Ls[rr]);
}

// ---- backward: dQ per query tile and head ----

template <int HD>
__global__ static void att_tc_dq_kernel(float *dq, const bf16 *dO, const float *lse, const float *D, const bf16 *q,
                                        const bf16 *k, const bf16 *v, att_shape s) {
    constexpr int LDH = HD + 8, LDO = HD + 4, NC = HD / 16 / TC_WARPS;
    __shared__ __align__(32) bf16 Qs[ATT_TILE * LDH];
    __shared__ __align__(32) bf16 dOs[ATT_TILE * LDH];
    __shared__ __align__(32) bf16 Ks[TC_KB * LDH];
    __shared__ __align__(32) bf16 Vs[TC_KB * LDH];
    __shared__ __align__(32) float Ss[ATT_TILE * TC_LDS];
    __shared__ __align__(32) float Sd[ATT_TILE * TC_LDS];
    __shared__ __align__(32) bf16 dSs[ATT_TILE * TC_LDP];
    __shared__ __align__(32) float Out[ATT_TILE * LDO];
    __shared__ float Lr[ATT_TILE], Dr[ATT_TILE];
    const att_tile t = s.tiles[blockIdx.x];
    const int h = blockIdx.y, g = h / (s.nh / s.nkv), Q = s.nh * HD, KV = s.nkv * HD;
    const int warp = threadIdx.x / 32, r = threadIdx.x / 8, part = threadIdx.x % 8;
    const int rows_here = min(ATT_TILE, t.len - t.row0), last = t.row0 + rows_here - 1;
    const size_t n0 = (size_t)t.base + t.row0; // the tile's first token

    tc_load_rows<HD>(Qs, ATT_TILE, rows_here, [&](int rr, int d) { return q + (n0 + rr) * Q + h * HD + d; });
    tc_load_rows<HD>(dOs, ATT_TILE, rows_here, [&](int rr, int d) { return dO + (n0 + rr) * Q + h * HD + d; });
    if (threadIdx.x < ATT_TILE) {
        const int rr = threadIdx.x;
        Lr[rr] = rr < rows_here ? lse[(n0 + rr) * s.nh + h] : 0.0f;
        Dr[rr] = rr < rows_here ? D[(n0 + rr) * s.nh + h] : 0.0f;
    }
    frag_acc acc[NC];
    for (int f = 0; f < NC; f++) wmma::fill_fragment(acc[f], 0.0f);
    for (int k0 = 0; k0 <= last; k0 += TC_KB) {
        __syncthreads();
        const int nk = min(TC_KB, last - k0 + 1);
        tc_load_rows<HD>(Ks, TC_KB, nk, [&](int jj, int d) { return k + (size_t)(t.base + k0 + jj) * KV + g * HD + d; });
        tc_load_rows<HD>(Vs, TC_KB, nk, [&](int jj, int d) { return v + (size_t)(t.base + k0 + jj) * KV + g * HD + d; });
        __syncthreads();
        { // warps 0-1: S = Q K^T; warps 2-3: dP = dO V^T (16 keys each)
            const int kw = (warp % 2) * 16;
            frag_acc x;
            tc_dots<HD>(x, warp < 2 ? Qs : dOs, (warp < 2 ? Ks : Vs) + kw * LDH, LDH);
            wmma::store_matrix_sync((warp < 2 ? Ss : Sd) + kw, x, TC_LDS, wmma::mem_row_major);
        }
        __syncthreads();
        for (int i = 0; i < TC_KB / 8; i++) { // dS = P (dP - D)
            const int c = part * (TC_KB / 8) + i, ti = t.row0 + r;
            const bool live = r < rows_here && k0 + c <= ti;
            const float p = live ? expf(Ss[r * TC_LDS + c] * s.scale - Lr[r]) : 0.0f;
            dSs[r * TC_LDP + c] = __float2bfloat16(live ? p * (Sd[r * TC_LDS + c] - Dr[r]) : 0.0f);
        }
        __syncthreads();
        for (int f = 0; f < NC; f++) tc_pv(acc[f], dSs, Ks + (warp * NC + f) * 16, LDH); // dQ += dS K
    }
    for (int f = 0; f < NC; f++) wmma::store_matrix_sync(Out + (warp * NC + f) * 16, acc[f], LDO, wmma::mem_row_major);
    __syncthreads();
    for (int idx = threadIdx.x; idx < rows_here * HD; idx += blockDim.x) {
        const int rr = idx / HD, d = idx % HD;
        dq[(n0 + rr) * Q + h * HD + d] = Out[rr * LDO + d] * s.scale;
    }
}

// ---- backward: dK and dV per key tile and kv head ----

template <int HD>
__global__ static void att_tc_dkv_kernel(float *dk, float *dv, const bf16 *dO, const float *lse, const float *D,
                                         const bf16 *q, const bf16 *k, const bf16 *v, att_shape s) {
    constexpr int LDH = HD + 8, LDO = HD + 4, NC = HD / 16 / TC_WARPS;
    __shared__ __align__(32) bf16 Kt[ATT_TILE * LDH];
    __shared__ __align__(32) bf16 Vt[ATT_TILE * LDH];
    __shared__ __align__(32) bf16 Qs[TC_KB * LDH];
    __shared__ __align__(32) bf16 dOs[TC_KB * LDH];
    __shared__ __align__(32) float St[ATT_TILE * TC_LDS]; // S^T: [key][query]
    __shared__ __align__(32) float Dt[ATT_TILE * TC_LDS]; // dP^T
    __shared__ __align__(32) bf16 Pt[ATT_TILE * TC_LDP];
    __shared__ __align__(32) bf16 dSt[ATT_TILE * TC_LDP];
    __shared__ __align__(32) float Out[ATT_TILE * LDO];
    __shared__ float Lq[TC_KB], Dq[TC_KB];
    const att_tile t = s.tiles[blockIdx.x];
    const int g = blockIdx.y, group = s.nh / s.nkv, Q = s.nh * HD, KV = s.nkv * HD;
    const int warp = threadIdx.x / 32, r = threadIdx.x / 8, part = threadIdx.x % 8;
    const int rows_here = min(ATT_TILE, t.len - t.row0);
    const size_t n0 = (size_t)t.base + t.row0;

    tc_load_rows<HD>(Kt, ATT_TILE, rows_here, [&](int rr, int d) { return k + (n0 + rr) * KV + g * HD + d; });
    tc_load_rows<HD>(Vt, ATT_TILE, rows_here, [&](int rr, int d) { return v + (n0 + rr) * KV + g * HD + d; });
    frag_acc ak[NC], av[NC];
    for (int f = 0; f < NC; f++) {
        wmma::fill_fragment(ak[f], 0.0f);
        wmma::fill_fragment(av[f], 0.0f);
    }
    for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        for (int q0 = t.row0; q0 < t.len; q0 += TC_KB) { // queries at or after the tile's first key
            __syncthreads();
            const int nq = min(TC_KB, t.len - q0);
            const size_t m0 = (size_t)t.base + q0;
            tc_load_rows<HD>(Qs, TC_KB, nq, [&](int jj, int d) { return q + (m0 + jj) * Q + h * HD + d; });
            tc_load_rows<HD>(dOs, TC_KB, nq, [&](int jj, int d) { return dO + (m0 + jj) * Q + h * HD + d; });
            if (threadIdx.x < TC_KB) {
                const int jj = threadIdx.x;
                Lq[jj] = jj < nq ? lse[(m0 + jj) * s.nh + h] : 0.0f;
                Dq[jj] = jj < nq ? D[(m0 + jj) * s.nh + h] : 0.0f;
            }
            __syncthreads();
            { // warps 0-1: S^T = K Q^T; warps 2-3: dP^T = V dO^T (16 queries each)
                const int qw = (warp % 2) * 16;
                frag_acc x;
                tc_dots<HD>(x, warp < 2 ? Kt : Vt, (warp < 2 ? Qs : dOs) + qw * LDH, LDH);
                wmma::store_matrix_sync((warp < 2 ? St : Dt) + qw, x, TC_LDS, wmma::mem_row_major);
            }
            __syncthreads();
            for (int i = 0; i < TC_KB / 8; i++) { // key row r, query column c
                const int c = part * (TC_KB / 8) + i, qi = q0 + c;
                const bool live = r < rows_here && c < nq && qi >= t.row0 + r;
                const float p = live ? expf(St[r * TC_LDS + c] * s.scale - Lq[c]) : 0.0f;
                Pt[r * TC_LDP + c] = __float2bfloat16(p);
                dSt[r * TC_LDP + c] = __float2bfloat16(live ? p * (Dt[r * TC_LDS + c] - Dq[c]) : 0.0f);
            }
            __syncthreads();
            for (int f = 0; f < NC; f++) {
                const int c0 = (warp * NC + f) * 16;
                tc_pv(av[f], Pt, dOs + c0, LDH);  // dV += P^T dO
                tc_pv(ak[f], dSt, Qs + c0, LDH);  // dK += dS^T Q
            }
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        __syncthreads();
        for (int f = 0; f < NC; f++)
            wmma::store_matrix_sync(Out + (warp * NC + f) * 16, pass ? av[f] : ak[f], LDO, wmma::mem_row_major);
        __syncthreads();
        float *dst = pass ? dv : dk;
        const float c = pass ? 1.0f : s.scale;
        for (int idx = threadIdx.x; idx < rows_here * HD; idx += blockDim.x) {
            const int rr = idx / HD, d = idx % HD;
            dst[(n0 + rr) * KV + g * HD + d] = Out[rr * LDO + d] * c;
        }
    }
}

// ---- launchers (att_check has run) ----

int att_tc_forward(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, const att_shape *s,
                   grpo_err *err) {
    dim3 grid(s->n_tiles, s->nh);
    if (s->hd == 64) KLAUNCH(att_tc_forward_kernel<64>, grid, 32 * TC_WARPS, 0, o, lse, q, k, v, *s);
    else KLAUNCH(att_tc_forward_kernel<128>, grid, 32 * TC_WARPS, 0, o, lse, q, k, v, *s);
    LAUNCH_CHECK("att_tc_forward_kernel");
    return GRPO_OK;
}

int att_tc_backward(float *dq, float *dk, float *dv, const float *Dsum, const bf16 *dO, const float *lse,
                    const bf16 *q, const bf16 *k, const bf16 *v, const att_shape *s, grpo_err *err) {
    dim3 gq(s->n_tiles, s->nh), gkv(s->n_tiles, s->nkv);
    if (s->hd == 64) {
        KLAUNCH(att_tc_dq_kernel<64>, gq, 32 * TC_WARPS, 0, dq, dO, lse, Dsum, q, k, v, *s);
        LAUNCH_CHECK("att_tc_dq_kernel");
        KLAUNCH(att_tc_dkv_kernel<64>, gkv, 32 * TC_WARPS, 0, dk, dv, dO, lse, Dsum, q, k, v, *s);
    } else {
        KLAUNCH(att_tc_dq_kernel<128>, gq, 32 * TC_WARPS, 0, dq, dO, lse, Dsum, q, k, v, *s);
        LAUNCH_CHECK("att_tc_dq_kernel");
        KLAUNCH(att_tc_dkv_kernel<128>, gkv, 32 * TC_WARPS, 0, dk, dv, dO, lse, Dsum, q, k, v, *s);
    }
    LAUNCH_CHECK("att_tc_dkv_kernel");
    return GRPO_OK;
}

// ---- the test hook of cuda_backend.h: attention alone on host arrays ----

// Uploads n floats rounded to bf16.
static int up_bf16(bf16 **d, const float *h, size_t n, grpo_err *err) {
    bf16 *tmp = (bf16 *)malloc(n * sizeof(bf16));
    if (!tmp) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) tmp[i] = __float2bfloat16(h[i]);
    cudaError_t e = cudaMalloc(d, n * sizeof(bf16));
    if (e == cudaSuccess) e = cudaMemcpy(*d, tmp, n * sizeof(bf16), cudaMemcpyHostToDevice);
    free(tmp);
    if (e != cudaSuccess) return cuda_fail(err, e, __FILE__, __LINE__, "upload");
    return GRPO_OK;
}

static int attention_host_run(int n_seq, const int *lens, const att_shape *shape, const float *const in[4],
                              int kernels, float *o, float *dq, float *dk, float *dv, void **dev, grpo_err *err) {
    att_shape s = *shape;
    size_t N = 0;
    int n_tiles = 0;
    for (int i = 0; i < n_seq; i++) N += (size_t)lens[i], n_tiles += (lens[i] + ATT_TILE - 1) / ATT_TILE;
    att_tile *ht = (att_tile *)malloc((size_t)n_tiles * sizeof *ht);
    if (!ht) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    for (int i = 0, base = 0, ti = 0; i < n_seq; base += lens[i], i++)
        for (int r0 = 0; r0 < lens[i]; r0 += ATT_TILE) ht[ti++] = att_tile_packed(base, lens[i], r0);
    const size_t nq = N * s.nh * s.hd, nkv = N * s.nkv * s.hd;
    bf16 **b = (bf16 **)dev; // q, k, v, dO, o (bf16)
    float **f = (float **)dev + 5; // lse, Dsum, dq, dk, dv
    att_tile **tiles = (att_tile **)dev + 10;
    int rc = GRPO_OK;
    for (int i = 0; i < 4 && !rc; i++) rc = up_bf16(&b[i], in[i], i == 0 || i == 3 ? nq : nkv, err);
    if (!rc) {
        const size_t fl[5] = {N * s.nh, N * s.nh, nq, nkv, nkv};
        cudaError_t e = cudaMalloc(&b[4], nq * sizeof(bf16));
        for (int i = 0; i < 5 && e == cudaSuccess; i++) e = cudaMalloc(&f[i], fl[i] * sizeof(float));
        if (e == cudaSuccess) e = cudaMalloc(tiles, (size_t)n_tiles * sizeof(att_tile));
        if (e == cudaSuccess) e = cudaMemcpy(*tiles, ht, (size_t)n_tiles * sizeof(att_tile), cudaMemcpyHostToDevice);
        if (e != cudaSuccess) rc = cuda_fail(err, e, __FILE__, __LINE__, "attention buffers");
    }
    free(ht);
    if (rc) return rc;
    s.tiles = *tiles;
    s.n_tiles = n_tiles;
    const char *was = getenv("GRPO_CUDA_ATTN");
    char saved[32] = "";
    if (was) snprintf(saved, sizeof saved, "%s", was);
    if (kernels == 0) setenv("GRPO_CUDA_ATTN", "cores", 1);
    else unsetenv("GRPO_CUDA_ATTN");
    rc = att_forward(b[4], f[0], b[0], b[1], b[2], &s, err);
    if (!rc) rc = att_backward(f[2], f[3], f[4], f[1], b[3], b[4], f[0], b[0], b[1], b[2], (int)N, &s, err);
    if (was) setenv("GRPO_CUDA_ATTN", saved, 1);
    else unsetenv("GRPO_CUDA_ATTN");
    if (rc) return rc;
    bf16 *ho = (bf16 *)malloc(nq * sizeof(bf16));
    if (!ho) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    cudaError_t e = cudaMemcpy(ho, b[4], nq * sizeof(bf16), cudaMemcpyDeviceToHost);
    for (size_t i = 0; i < nq; i++) o[i] = __bfloat162float(ho[i]);
    free(ho);
    if (e == cudaSuccess) e = cudaMemcpy(dq, f[2], nq * sizeof(float), cudaMemcpyDeviceToHost);
    if (e == cudaSuccess) e = cudaMemcpy(dk, f[3], nkv * sizeof(float), cudaMemcpyDeviceToHost);
    if (e == cudaSuccess) e = cudaMemcpy(dv, f[4], nkv * sizeof(float), cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return cuda_fail(err, e, __FILE__, __LINE__, "attention results");
    return GRPO_OK;
}

extern "C" int grpo_cuda_attention_host(int n_seq, const int *lens, int nh, int nkv, int hd, const float *q,
                                        const float *k, const float *v, const float *dO, int kernels, float *o,
                                        float *dq, float *dk, float *dv, grpo_err *err) {
    att_shape s;
    s.nh = nh;
    s.nkv = nkv;
    s.hd = hd;
    s.scale = 1.0f / sqrtf((float)hd);
    s.tiles = NULL;
    s.n_tiles = 1;
    if (kernels == 1 && !(hd == 64 || hd == 128))
        return grpo_errf(err, GRPO_EUNSUPPORTED, "tensor-core attention: head_dim %d (64 or 128)", hd);
    void *dev[11] = {0};
    const float *const in[4] = {q, k, v, dO};
    int rc = attention_host_run(n_seq, lens, &s, in, kernels, o, dq, dk, dv, dev, err);
    for (int i = 0; i < 11; i++) cudaFree(dev[i]);
    return rc;
}
