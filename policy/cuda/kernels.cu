// policy/cuda/kernels.cu: the CUDA backend's small kernels, in data-flow order: error reporting,
// embedding, RMSNorm (forward and backward), the per-head q/k step (bias, Qwen3 q/k norm, RoPE),
// SwiGLU, per-token logprobs and their backward (online log-sum-exp over the vocabulary, the
// softmax is never stored), AdamW, and the reductions (column sums, sum of squares).
//
// Written for clarity first: one warp per row for the row-wise kernels, fp32 arithmetic
// everywhere, bf16 only where a value is stored for a GEMM. Each launcher checks its launch.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_common.cuh"

// ---- errors ----

int cuda_fail(grpo_err *err, cudaError_t e, const char *file, int line, const char *expr) {
    int code = e == cudaErrorMemoryAllocation ? GRPO_ENOMEM : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ? GRPO_EUNSUPPORTED : GRPO_EIO);
    return grpo_errf(err, code, "%s:%d: %s: %s (%s)", file, line, expr, cudaGetErrorString(e), cudaGetErrorName(e));
}

int cublas_fail(grpo_err *err, cublasStatus_t s, const char *file, int line, const char *expr) {
    int code = s == CUBLAS_STATUS_ALLOC_FAILED ? GRPO_ENOMEM : GRPO_EIO;
    return grpo_errf(err, code, "%s:%d: %s: cuBLAS %s", file, line, expr, cublasGetStatusString(s));
}

int cuda_after_launch(grpo_err *err, const char *file, int line, const char *what) {
    static int sync_each = -1;
    if (sync_each < 0) {
        const char *s = getenv("GRPO_CUDA_SYNC");
        sync_each = s && s[0] == '1';
    }
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && sync_each) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return cuda_fail(err, e, file, line, what);
    return GRPO_OK;
}

// ---- warp and block helpers ----

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Merges two (max, sum of exp(x - max)) pairs; an empty pair has max = -inf and sum 0.
__device__ __forceinline__ void lse_merge(float &m, float &s, float om, float os) {
    if (om == -INFINITY) return;
    if (m == -INFINITY) {
        m = om;
        s = os;
        return;
    }
    float M = fmaxf(m, om);
    s = s * expf(m - M) + os * expf(om - M);
    m = M;
}

#define ROW_THREADS 256
// log(sum_v exp(z[v] * invT)) over one row, computed by a whole block of ROW_THREADS threads
// in one pass (online max and sum); every thread gets the result.
__device__ float block_row_lse(const float *z, int V, float invT) {
    __shared__ float sm[ROW_THREADS / 32], ss[ROW_THREADS / 32];
    float m = -INFINITY, s = 0.0f;
    for (int v = threadIdx.x; v < V; v += ROW_THREADS) {
        float x = z[v] * invT;
        if (x > m) {
            s = (m == -INFINITY ? 0.0f : s * expf(m - x)) + 1.0f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float om = __shfl_xor_sync(0xffffffffu, m, o), os = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, om, os);
    }
    const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        sm[w] = m;
        ss[w] = s;
    }
    __syncthreads();
    float M = -INFINITY, S = 0.0f;
    for (int i = 0; i < ROW_THREADS / 32; i++) lse_merge(M, S, sm[i], ss[i]);
    __syncthreads(); // sm/ss may be reused by a later call
    return M + logf(S);
}

// ---- conversions, embedding ----

__global__ static void f32_to_bf16_kernel(bf16 *dst, const float *src, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16(src[i]);
}

static unsigned grid_for(size_t n, int threads) {
    size_t b = (n + threads - 1) / threads;
    if (b > 65536 * 16) b = 65536 * 16;
    return (unsigned)(b ? b : 1);
}

int k_f32_to_bf16(bf16 *dst, const float *src, size_t n, grpo_err *err) {
    if (!n) return GRPO_OK;
    KLAUNCH(f32_to_bf16_kernel, grid_for(n, 256), 256, 0, dst, src, n);
    LAUNCH_CHECK("f32_to_bf16_kernel");
    return GRPO_OK;
}

__global__ static void embed_forward_kernel(float *x, const float *E, const int *tok, int N, int H) {
    size_t total = (size_t)N * H;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / H, j = i % H;
        x[i] = E[(size_t)tok[n] * H + j];
    }
}

int k_embed_forward(float *x, const float *E, const int *tok, int N, int H, grpo_err *err) {
    KLAUNCH(embed_forward_kernel, grid_for((size_t)N * H, 256), 256, 0, x, E, tok, N, H);
    LAUNCH_CHECK("embed_forward_kernel");
    return GRPO_OK;
}

__global__ static void embed_backward_kernel(float *gE, const float *dx, const int *tok, int N, int H) {
    size_t total = (size_t)N * H;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / H, j = i % H;
        atomicAdd(&gE[(size_t)tok[n] * H + j], dx[i]);
    }
}

int k_embed_backward(float *gE, const float *dx, const int *tok, int N, int H, grpo_err *err) {
    KLAUNCH(embed_backward_kernel, grid_for((size_t)N * H, 256), 256, 0, gE, dx, tok, N, H);
    LAUNCH_CHECK("embed_backward_kernel");
    return GRPO_OK;
}

// ---- RMSNorm: one warp per row ----

#define WARPS_PER_BLOCK 8

__global__ static void rmsnorm_forward_kernel(bf16 *y, float *rstd, const float *x, const float *w, size_t rows, int d,
                                              float eps) {
    const size_t r = (size_t)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) return; // uniform per warp
    const float *xr = x + r * d;
    float ss = 0.0f;
    for (int i = lane; i < d; i += 32) ss += xr[i] * xr[i];
    ss = warp_sum(ss);
    const float rs = 1.0f / sqrtf(ss / (float)d + eps);
    if (lane == 0) rstd[r] = rs;
    for (int i = lane; i < d; i += 32) y[r * d + i] = __float2bfloat16(w[i] * (xr[i] * rs));
}

int k_rmsnorm_forward(bf16 *y, float *rstd, const float *x, const float *w, size_t rows, int d, float eps,
                      grpo_err *err) {
    KLAUNCH(rmsnorm_forward_kernel, cdiv(rows, WARPS_PER_BLOCK), 32 * WARPS_PER_BLOCK, 0, y, rstd, x, w, rows, d, eps);
    LAUNCH_CHECK("rmsnorm_forward_kernel");
    return GRPO_OK;
}

__global__ static void rmsnorm_backward_kernel(float *dx, float *dwpart, const float *dy, const float *x,
                                               const float *w, const float *rstd, size_t rows, int d, int accumulate) {
    const size_t r = (size_t)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) return;
    const float *xr = x + r * d, *dyr = dy + r * d;
    const float rs = rstd[r];
    float dot = 0.0f;
    for (int i = lane; i < d; i += 32) dot += dyr[i] * w[i] * xr[i];
    dot = warp_sum(dot);
    const float k = dot * rs * rs * rs / (float)d;
    for (int i = lane; i < d; i += 32) {
        const float g = dyr[i] * w[i] * rs - xr[i] * k;
        dx[r * d + i] = accumulate ? dx[r * d + i] + g : g;
        dwpart[r * d + i] = dyr[i] * xr[i] * rs;
    }
}

int k_rmsnorm_backward(float *dx, float *dwpart, const float *dy, const float *x, const float *w, const float *rstd,
                       size_t rows, int d, int accumulate, grpo_err *err) {
    KLAUNCH(rmsnorm_backward_kernel, cdiv(rows, WARPS_PER_BLOCK), 32 * WARPS_PER_BLOCK, 0, dx, dwpart, dy, x, w, rstd, rows, d,
                                                                                  accumulate);
    LAUNCH_CHECK("rmsnorm_backward_kernel");
    return GRPO_OK;
}

// ---- reductions over rows ----

__global__ static void colsum_kernel(float *out, const float *in, size_t rows, int cols, size_t chunk) {
    __shared__ float sh[8][33];
    const int j = blockIdx.x * 32 + threadIdx.x;
    const size_t r0 = (size_t)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float s = 0.0f;
    if (j < cols)
        for (size_t r = r0 + threadIdx.y; r < r1; r += 8) s += in[r * cols + j];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
        float t = 0.0f;
        for (int i = 0; i < 8; i++) t += sh[i][threadIdx.x];
        atomicAdd(&out[j], t);
    }
}

int k_colsum(float *out, const float *in, size_t rows, int cols, grpo_err *err) {
    if (!rows) return GRPO_OK;
    size_t chunk = 256;
    while ((rows + chunk - 1) / chunk > 65535) chunk *= 2;
    dim3 grid(cdiv(cols, 32), cdiv(rows, chunk)), block(32, 8);
    KLAUNCH(colsum_kernel, grid, block, 0, out, in, rows, cols, chunk);
    LAUNCH_CHECK("colsum_kernel");
    return GRPO_OK;
}

__global__ static void add_bias_kernel(float *y, const float *b, int N, int cols) {
    size_t total = (size_t)N * cols;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        y[i] += b[i % cols];
}

int k_add_bias(float *y, const float *b, int N, int cols, grpo_err *err) {
    KLAUNCH(add_bias_kernel, grid_for((size_t)N * cols, 256), 256, 0, y, b, N, cols);
    LAUNCH_CHECK("add_bias_kernel");
    return GRPO_OK;
}

__global__ static void sumsq_kernel(double *out, const float *x, size_t n) {
    __shared__ double sh[256 / 32];
    double s = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int i = 0; i < 256 / 32; i++) t += sh[i];
        atomicAdd(out, t);
    }
}

int k_sumsq(double *out, const float *x, size_t n, grpo_err *err) {
    if (!n) return GRPO_OK;
    size_t blocks = (n + 255) / 256;
    if (blocks > 4096) blocks = 4096;
    KLAUNCH(sumsq_kernel, (unsigned)blocks, 256, 0, out, x, n);
    LAUNCH_CHECK("sumsq_kernel");
    return GRPO_OK;
}

__global__ static void scale_kernel(float *x, float c, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) x[i] *= c;
}

int k_scale(float *x, float c, size_t n, grpo_err *err) {
    if (!n) return GRPO_OK;
    KLAUNCH(scale_kernel, grid_for(n, 256), 256, 0, x, c, n);
    LAUNCH_CHECK("scale_kernel");
    return GRPO_OK;
}

// ---- q/k: bias, per-head RMSNorm (Qwen3), RoPE (rotate-half); one warp per (token, head) ----

__global__ static void qk_prepare_kernel(bf16 *out, bf16 *raw, float *rstd, const float *in, const float *bias,
                                         const float *normw, const int *pos, const float *inv_freq, int N, int nheads,
                                         int hd, int rope, float eps) {
    const size_t r = (size_t)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= (size_t)N * nheads) return;
    const int n = (int)(r / nheads), h = (int)(r % nheads), half = hd / 2;
    const float *x = in + r * hd;
    const float *b = bias ? bias + (size_t)h * hd : NULL;
    float rs = 1.0f;
    if (normw) {
        float ss = 0.0f;
        for (int i = lane; i < hd; i += 32) {
            const float xi = x[i] + (b ? b[i] : 0.0f);
            ss += xi * xi;
        }
        ss = warp_sum(ss);
        rs = 1.0f / sqrtf(ss / (float)hd + eps);
        if (lane == 0) rstd[r] = rs;
    }
    for (int i = lane; i < half; i += 32) {
        float a = x[i] + (b ? b[i] : 0.0f), c2 = x[i + half] + (b ? b[i + half] : 0.0f);
        if (normw) {
            raw[r * hd + i] = __float2bfloat16(a);
            raw[r * hd + i + half] = __float2bfloat16(c2);
            a = normw[i] * (a * rs);
            c2 = normw[i + half] * (c2 * rs);
        }
        float o1 = a, o2 = c2;
        if (rope) {
            float sn, cs;
            sincosf((float)pos[n] * inv_freq[i], &sn, &cs);
            o1 = a * cs - c2 * sn;
            o2 = c2 * cs + a * sn;
        }
        out[r * hd + i] = __float2bfloat16(o1);
        out[r * hd + i + half] = __float2bfloat16(o2);
    }
}

int k_qk_prepare(bf16 *out, bf16 *raw, float *rstd, const float *in, const float *bias, const float *normw,
                 const int *pos, const float *inv_freq, int N, int nheads, int hd, int rope, float eps,
                 grpo_err *err) {
    const size_t rows = (size_t)N * nheads;
    KLAUNCH(qk_prepare_kernel, cdiv(rows, WARPS_PER_BLOCK), 32 * WARPS_PER_BLOCK, 0, out, raw, rstd, in, bias, normw, pos,
                                                                            inv_freq, N, nheads, hd, rope, eps);
    LAUNCH_CHECK("qk_prepare_kernel");
    return GRPO_OK;
}

__global__ static void qk_backward_kernel(float *d, float *dwpart, const bf16 *raw, const float *rstd,
                                          const float *normw, const int *pos, const float *inv_freq, int N, int nheads,
                                          int hd, int rope) {
    const size_t r = (size_t)blockIdx.x * WARPS_PER_BLOCK + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= (size_t)N * nheads) return;
    const int n = (int)(r / nheads), half = hd / 2;
    float *dr = d + r * hd;
    float dot = 0.0f;
    // pass 1: the inverse rotation (each lane owns the pairs (i, i + half) it touches in pass 2)
    for (int i = lane; i < half; i += 32) {
        float g1 = dr[i], g2 = dr[i + half];
        if (rope) {
            float sn, cs;
            sincosf((float)pos[n] * inv_freq[i], &sn, &cs);
            const float y1 = g1 * cs + g2 * sn, y2 = g2 * cs - g1 * sn;
            g1 = y1;
            g2 = y2;
        }
        dr[i] = g1;
        dr[i + half] = g2;
        if (normw)
            dot += g1 * normw[i] * __bfloat162float(raw[r * hd + i]) +
                   g2 * normw[i + half] * __bfloat162float(raw[r * hd + i + half]);
    }
    if (!normw) return;
    dot = warp_sum(dot);
    const float rs = rstd[r], k = dot * rs * rs * rs / (float)hd;
    for (int i = lane; i < half; i += 32)
        for (int e = 0; e < 2; e++) {
            const int idx = i + e * half;
            const float dy = dr[idx], xv = __bfloat162float(raw[r * hd + idx]);
            dr[idx] = dy * normw[idx] * rs - xv * k;
            dwpart[r * hd + idx] = dy * xv * rs;
        }
}

int k_qk_backward(float *d, float *dwpart, const bf16 *raw, const float *rstd, const float *normw, const int *pos,
                  const float *inv_freq, int N, int nheads, int hd, int rope, grpo_err *err) {
    const size_t rows = (size_t)N * nheads;
    KLAUNCH(qk_backward_kernel, cdiv(rows, WARPS_PER_BLOCK), 32 * WARPS_PER_BLOCK, 0, d, dwpart, raw, rstd, normw, pos,
                                                                             inv_freq, N, nheads, hd, rope);
    LAUNCH_CHECK("qk_backward_kernel");
    return GRPO_OK;
}

// ---- SwiGLU ----

__global__ static void swiglu_forward_kernel(bf16 *act, const bf16 *gate, const bf16 *up, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float g = __bfloat162float(gate[i]), u = __bfloat162float(up[i]);
        act[i] = __float2bfloat16(g / (1.0f + expf(-g)) * u);
    }
}

int k_swiglu_forward(bf16 *act, const bf16 *gate, const bf16 *up, size_t n, grpo_err *err) {
    KLAUNCH(swiglu_forward_kernel, grid_for(n, 256), 256, 0, act, gate, up, n);
    LAUNCH_CHECK("swiglu_forward_kernel");
    return GRPO_OK;
}

__global__ static void swiglu_backward_kernel(bf16 *dgate, bf16 *dup, const float *dact, const bf16 *gate,
                                              const bf16 *up, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float g = __bfloat162float(gate[i]), u = __bfloat162float(up[i]), da = dact[i];
        const float sg = 1.0f / (1.0f + expf(-g));
        dup[i] = __float2bfloat16(da * g * sg);
        dgate[i] = __float2bfloat16(da * u * sg * (1.0f + g * (1.0f - sg)));
    }
}

int k_swiglu_backward(bf16 *dgate, bf16 *dup, const float *dact, const bf16 *gate, const bf16 *up, size_t n,
                      grpo_err *err) {
    KLAUNCH(swiglu_backward_kernel, grid_for(n, 256), 256, 0, dgate, dup, dact, gate, up, n);
    LAUNCH_CHECK("swiglu_backward_kernel");
    return GRPO_OK;
}

// ---- logprobs: one block per token row ----

__global__ static void logprob_forward_kernel(float *logp, const float *logits, const int *tgt, const int *next,
                                              int V, float invT) {
    const int n = blockIdx.x;
    if (tgt[n] < 0) return; // uniform per block
    const float *z = logits + (size_t)n * V;
    const float lse = block_row_lse(z, V, invT);
    if (threadIdx.x == 0) logp[tgt[n]] = z[next[n]] * invT - lse;
}

int k_logprob_forward(float *logp, const float *logits, const int *tgt, const int *next, int N, int V, float invT,
                      grpo_err *err) {
    KLAUNCH(logprob_forward_kernel, N, ROW_THREADS, 0, logp, logits, tgt, next, V, invT);
    LAUNCH_CHECK("logprob_forward_kernel");
    return GRPO_OK;
}

__global__ static void logprob_backward_kernel(bf16 *dlogits, const float *logits, const float *dlogp, const int *tgt,
                                               const int *next, int V, float invT) {
    const int n = blockIdx.x;
    bf16 *dz = dlogits + (size_t)n * V;
    if (tgt[n] < 0) {
        for (int v = threadIdx.x; v < V; v += ROW_THREADS) dz[v] = __float2bfloat16(0.0f);
        return;
    }
    const float *z = logits + (size_t)n * V;
    const float lse = block_row_lse(z, V, invT);
    const float w = dlogp[tgt[n]] * invT;
    const int nx = next[n];
    for (int v = threadIdx.x; v < V; v += ROW_THREADS) {
        float g = -w * expf(z[v] * invT - lse);
        if (v == nx) g += w;
        dz[v] = __float2bfloat16(g);
    }
}

int k_logprob_backward(bf16 *dlogits, const float *logits, const float *dlogp, const int *tgt, const int *next,
                       int N, int V, float invT, grpo_err *err) {
    KLAUNCH(logprob_backward_kernel, N, ROW_THREADS, 0, dlogits, logits, dlogp, tgt, next, V, invT);
    LAUNCH_CHECK("logprob_backward_kernel");
    return GRPO_OK;
}

// ---- AdamW (the formula of policy/cpu/optim.c, element by element) ----

__global__ static void adamw_kernel(float *p, bf16 *pb, const float *g, float *m, float *v, size_t n, float decay,
                                    float b1, float b2, float step, float bc2_sqrt, float eps) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float pi = p[i] * decay;
        const float gi = g[i];
        const float mi = b1 * m[i] + (1.0f - b1) * gi;
        const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        pi -= step * mi / (sqrtf(vi) / bc2_sqrt + eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
        pb[i] = __float2bfloat16(pi);
    }
}

int k_adamw(float *p, bf16 *pb, const float *g, float *m, float *v, size_t n, float decay, float b1, float b2,
            float step, float bc2_sqrt, float eps, grpo_err *err) {
    if (!n) return GRPO_OK;
    KLAUNCH(adamw_kernel, grid_for(n, 256), 256, 0, p, pb, g, m, v, n, decay, b1, b2, step, bc2_sqrt, eps);
    LAUNCH_CHECK("adamw_kernel");
    return GRPO_OK;
}

// ---- row copies through an index (the generation engine's KV cache and prefill rows) ----

__global__ static void gather_rows_kernel(bf16 *dst, const bf16 *src, const int *idx, size_t n, int w) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = src[(size_t)idx[i / w] * w + i % w];
}

int k_gather_rows(bf16 *dst, const bf16 *src, const int *idx, int rows, int w, grpo_err *err) {
    const size_t n = (size_t)rows * w;
    if (!n) return GRPO_OK;
    KLAUNCH(gather_rows_kernel, grid_for(n, 256), 256, 0, dst, src, idx, n, w);
    LAUNCH_CHECK("gather_rows_kernel");
    return GRPO_OK;
}

__global__ static void scatter_rows_kernel(bf16 *dst, const bf16 *src, const int *idx, size_t n, int w) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[(size_t)idx[i / w] * w + i % w] = src[i];
}

int k_scatter_rows(bf16 *dst, const bf16 *src, const int *idx, int rows, int w, grpo_err *err) {
    const size_t n = (size_t)rows * w;
    if (!n) return GRPO_OK;
    KLAUNCH(scatter_rows_kernel, grid_for(n, 256), 256, 0, dst, src, idx, n, w);
    LAUNCH_CHECK("scatter_rows_kernel");
    return GRPO_OK;
}
