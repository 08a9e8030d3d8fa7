// policy/cuda/cuda_common.cuh: what the CUDA backend's files share: the checking macros (every
// CUDA and cuBLAS call reports file:line through a grpo_err; nothing prints or exits), bf16
// helpers, and the kernel launchers of kernels.cu and attention.cu. Private to policy/cuda.
#ifndef GRPO_CUDA_COMMON_CUH
#define GRPO_CUDA_COMMON_CUH

#include <stddef.h>
#include <stdint.h>

#ifdef GRPO_CUDA_EMU
// A host build of this backend for tests without a GPU (tests/cuda/emu/): threads are fibers,
// cuBLAS is a reference GEMM. Production builds never define this.
#include "cuda_emu.h"
#else
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
// kernel<<<grid, block, shared bytes>>>(args...)
#define KLAUNCH(kernel, grid, block, smem, ...) kernel<<<grid, block, smem>>>(__VA_ARGS__)
// the dynamic shared memory of a kernel, as float *name; 16-byte aligned because attention.cu
// reads it with float4 loads (ld4), and CUDA documents no alignment beyond the declared type's
#define DYN_SMEM(name) extern __shared__ __align__(16) float name[]
// red zones between arena buffers: only the host emulation (tests/cuda/emu) uses them
#define ARENA_GUARD 0
#define ARENA_RESET(base, bytes) ((void)0)
#define ARENA_POISON(p, bytes) ((void)0)
// four floats from a 16-byte aligned address (shared memory rows in attention.cu)
__device__ __forceinline__ float4 ld4(const float *p) { return *reinterpret_cast<const float4 *>(p); }
#endif

extern "C" {
#include "../model.h"
}
#include "cuda_backend.h"

typedef __nv_bfloat16 bf16;

// Fills err from a failed CUDA call; returns the grpo code (ENOMEM for allocation failures).
int cuda_fail(grpo_err *err, cudaError_t e, const char *file, int line, const char *expr);
int cublas_fail(grpo_err *err, cublasStatus_t s, const char *file, int line, const char *expr);
// After a kernel launch: the launch error, and with GRPO_CUDA_SYNC=1 in the environment also the
// kernel's own error (a device synchronize after every launch, to pin down the failing kernel).
int cuda_after_launch(grpo_err *err, const char *file, int line, const char *what);

// The enclosing function must have `grpo_err *err` in scope and return int.
#define CUDA_CHECK(call)                                                         \
    do {                                                                         \
        cudaError_t e_ = (call);                                                 \
        if (e_ != cudaSuccess) return cuda_fail(err, e_, __FILE__, __LINE__, #call); \
    } while (0)
#define CUBLAS_CHECK(call)                                                           \
    do {                                                                             \
        cublasStatus_t s_ = (call);                                                  \
        if (s_ != CUBLAS_STATUS_SUCCESS) return cublas_fail(err, s_, __FILE__, __LINE__, #call); \
    } while (0)
#define LAUNCH_CHECK(what)                                                   \
    do {                                                                     \
        int rc_ = cuda_after_launch(err, __FILE__, __LINE__, what);          \
        if (rc_) return rc_;                                                 \
    } while (0)
#define TRY(call)                 \
    do {                          \
        int rc_ = (call);         \
        if (rc_) return rc_;      \
    } while (0)

static inline unsigned cdiv(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

// ---- kernels.cu: elementwise, norms, RoPE, SwiGLU, logprobs, AdamW, reductions ----

// dst[i] = bf16(src[i])
int k_f32_to_bf16(bf16 *dst, const float *src, size_t n, grpo_err *err);
// x[n, :] = E[tok[n], :]   (fp32 master embedding)
int k_embed_forward(float *x, const float *E, const int *tok, int N, int H, grpo_err *err);
// gE[tok[n], :] += dx[n, :]  (atomics: repeated tokens)
int k_embed_backward(float *gE, const float *dx, const int *tok, int N, int H, grpo_err *err);
// y = bf16(w * (x * rstd)), rstd = 1/sqrt(mean(x^2) + eps), per row of width d
int k_rmsnorm_forward(bf16 *y, float *rstd, const float *x, const float *w, size_t rows, int d, float eps,
                      grpo_err *err);
// dx (+)= rstd*(dy*w) - x*rstd^3/d*sum(dy*w*x); dwpart[r, i] = dy*x*rstd (summed by k_colsum)
int k_rmsnorm_backward(float *dx, float *dwpart, const float *dy, const float *x, const float *w, const float *rstd,
                       size_t rows, int d, int accumulate, grpo_err *err);
// out[j] += sum_r in[r * cols + j]
int k_colsum(float *out, const float *in, size_t rows, int cols, grpo_err *err);
// y[n, j] += b[j] over [N, cols]
int k_add_bias(float *y, const float *b, int N, int cols, grpo_err *err);
// Per (token, head) of width hd: x = in + bias; when normw: raw = bf16(x), x = normw * x * rstd;
// when rope: rotate-half by angle pos[token] * inv_freq[i]; out = bf16(x).
int k_qk_prepare(bf16 *out, bf16 *raw, float *rstd, const float *in, const float *bias, const float *normw,
                 const int *pos, const float *inv_freq, int N, int nheads, int hd, int rope, float eps,
                 grpo_err *err);
// Backward of k_qk_prepare over d (in place, fp32): inverse rotation, then (when normw) the
// per-head RMSNorm backward from raw and rstd; dwpart gets dy*x*rstd per element.
int k_qk_backward(float *d, float *dwpart, const bf16 *raw, const float *rstd, const float *normw, const int *pos,
                  const float *inv_freq, int N, int nheads, int hd, int rope, grpo_err *err);
// act = bf16(silu(gate) * up)
int k_swiglu_forward(bf16 *act, const bf16 *gate, const bf16 *up, size_t n, grpo_err *err);
// from dact: dgate = dact * up * s * (1 + g (1 - s)), dup = dact * g * s  (s = sigmoid(g))
int k_swiglu_backward(bf16 *dgate, bf16 *dup, const float *dact, const bf16 *gate, const bf16 *up, size_t n,
                      grpo_err *err);
// For each token n with tgt[n] >= 0: logp[tgt[n]] = z[next[n]]/T - logsumexp(z/T), z = logits row n.
int k_logprob_forward(float *logp, const float *logits, const int *tgt, const int *next, int N, int V, float invT,
                      grpo_err *err);
// dlogits[n, v] = w/T * (onehot(next[n])[v] - softmax(z/T)[v]) with w = dlogp[tgt[n]]; rows with
// tgt[n] < 0 (the last token of each sequence) get zeros.
int k_logprob_backward(bf16 *dlogits, const float *logits, const float *dlogp, const int *tgt, const int *next,
                       int N, int V, float invT, grpo_err *err);
// AdamW on n elements (see policy/cpu/optim.c), writing the bf16 copy too.
int k_adamw(float *p, bf16 *pb, const float *g, float *m, float *v, size_t n, float decay, float b1, float b2,
            float step, float bc2_sqrt, float eps, grpo_err *err);
// *out (device double, zeroed by the caller) += sum x^2
int k_sumsq(double *out, const float *x, size_t n, grpo_err *err);
// x *= c
int k_scale(float *x, float c, size_t n, grpo_err *err);
// dst[i, :] = src[idx[i], :] for bf16 rows of width w (device idx)
int k_gather_rows(bf16 *dst, const bf16 *src, const int *idx, int rows, int w, grpo_err *err);
// dst[idx[i], :] = src[i, :] for bf16 rows of width w (device idx)
int k_scatter_rows(bf16 *dst, const bf16 *src, const int *idx, int rows, int w, grpo_err *err);

// ---- gemm_cuda.cu: the row-invariant forward GEMM ----

// Whether the forward GEMMs with inner dimension K use k_gemm_invariant (K % 16 == 0, unless
// GRPO_CUDA_GEMM=cublas): a rule of the shape only, never of the row count.
int gemm_invariant_on(int K);
// y[M, N] = x[M, K] @ W[N, K]^T, y bf16 (y_bf16) or fp32, + y when accumulate (fp32 only).
int k_gemm_invariant(void *y, int y_bf16, int accumulate, const bf16 *x, const bf16 *W, int M, int N, int K,
                     grpo_err *err);

// ---- sampler_cuda.cu: the sampler chain, one block per row ----

// Row b draws from logits row lrow[b] with completion comp[b]'s generator (rng: 4 words per
// completion) into ids[b]; ent[b] gets the entropy of softmax(logits / T). seen (NULL when the
// penalty is off): [completions][V] flags of the ids each completion drew, for the repetition
// penalty; the drawn id is flagged.
int k_sample(int *ids, float *ent, const float *logits, const int *lrow, const int *comp, int rows, int V,
             const grpo_cuda_sampling *p, uint64_t *rng, unsigned char *seen, grpo_err *err);

// ---- attention.cu: causal attention over packed sequences (flash-style tiling, CUDA cores) ----

// One tile of ATT_TILE rows of one sequence: the token index of the sequence's first token, its
// length, and the tile's first row within the sequence. The forward also reads where the tile's
// queries and keys live, so that one kernel serves packed batches and the paged KV cache of
// decoding: query row rr of the tile is row qrow + rr of q (and of o, lse); key j is row
// base + j of k/v for j < split, else row base2 + (j - split). att_tile_packed fills them for a
// packed batch (qrow = base + row0, split = len); the backward kernels read packed tiles only.
typedef struct {
    int base, len, row0;
    int qrow, split, base2;
} att_tile;
static inline att_tile att_tile_packed(int base, int len, int row0) {
    att_tile t = {base, len, row0, base + row0, len, 0};
    return t;
}
#define ATT_TILE 16

typedef struct {
    int nh, nkv, hd;
    float scale;           // 1/sqrt(hd)
    const att_tile *tiles; // device, n_tiles entries
    int n_tiles;
} att_shape;

// o[N, nh*hd] = softmax(q k^T * scale + causal) v per (sequence, head); lse[N, nh] saved for backward.
int att_forward(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, const att_shape *s,
                grpo_err *err);
// From dO: dq (fp32 [N, nh*hd]), dk, dv (fp32 [N, nkv*hd], overwritten). Dsum: scratch [N, nh].
int att_backward(float *dq, float *dk, float *dv, float *Dsum, const bf16 *dO, const bf16 *o, const float *lse,
                 const bf16 *q, const bf16 *k, const bf16 *v, int N, const att_shape *s, grpo_err *err);

// attention_tc.cu: the same on tensor cores for head_dim 64 and 128 (att_forward/att_backward
// dispatch there when att_tc_on(hd): hd 64 or 128 and GRPO_CUDA_ATTN is not "cores").
int att_tc_on(int hd);
int att_tc_forward(bf16 *o, float *lse, const bf16 *q, const bf16 *k, const bf16 *v, const att_shape *s,
                   grpo_err *err);
// Dsum already holds rowsum(dO * o) [N, nh].
int att_tc_backward(float *dq, float *dk, float *dv, const float *Dsum, const bf16 *dO, const float *lse,
                    const bf16 *q, const bf16 *k, const bf16 *v, const att_shape *s, grpo_err *err);

#endif
