// policy/cuda/model_cuda.cu: the CUDA backend's table (policy_backend_cuda): device arenas,
// host <-> device synchronisation, the forward pass, the backward pass and AdamW.
//
// Precision: the residual stream, RMSNorm statistics, logits, softmax and every gradient are
// fp32; what feeds a GEMM is bf16 (the weight copy, normed activations, q/k/v, attention output,
// SwiGLU input/output, dlogits and the other GEMM-side gradients). GEMMs take bf16 inputs with
// fp32 compute: the forward's are gemm_cuda.cu's row-invariant kernel (cuBLAS when K % 16 != 0 or
// GRPO_CUDA_GEMM=cublas), the backward's cublasGemmEx. o_proj and down_proj write fp32 with
// beta = 1 straight into the residual stream (the residual add is fused into the GEMM epilogue).
// Embedding rows, norm weights and biases are read from the fp32 master copy.
//
// Arenas (one cudaMalloc each): fp32 master parameters, their bf16 copy, fp32 gradients, AdamW m,
// AdamW v (all at the host table's offsets, so tied lm_head = embed holds on the device too),
// and one activation arena sized per batch (all layers when keep, plus backward scratch).
// See cuda_backend.h for when host and device copies are synchronised.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "cuda_internal.cuh"

// ---- state ----

static cuda_state *state_of(const policy_model *m) {
    cuda_state *S = (cuda_state *)m->acts;
    return S && S->magic == STATE_MAGIC ? S : NULL;
}

static void unpin_all(cuda_state *S) {
    for (int i = 0; i < 4; i++) {
        if (S->pinned[i]) cudaHostUnregister(S->pinned[i]);
        S->pinned[i] = NULL;
        S->pin_failed[i] = 0;
    }
}

// Page-locks a host arena once so that copies run at full speed; falls back to pageable copies.
// Opt-in (GRPO_CUDA_PIN=1): the trainer fork()s in this process (rewards/sandbox.c, one fork per
// code test, from parallel threads), and a fork of page-locked memory either copies every pinned
// page into the child at once (Linux >= 5.9: up to 16 bytes per parameter, per fork) or, on
// kernels and sandboxes without that fix, makes the pages copy-on-write, so that the parent's next
// write moves the arena off the pages the GPU copies to and from (silently stale parameters or
// gradients). Pageable copies are correct in both cases; use the flag where nothing forks (bench).
static int pin_wanted(void) {
    static int want = -1;
    if (want < 0) {
        const char *s = getenv("GRPO_CUDA_PIN");
        want = s && s[0] == '1';
    }
    return want;
}

static void pin(cuda_state *S, int slot, void *p, size_t bytes) {
    if (!p || !pin_wanted() || S->pinned[slot] == p || S->pin_failed[slot]) return;
    if (S->pinned[slot]) cudaHostUnregister(S->pinned[slot]);
    S->pinned[slot] = NULL;
    if (cudaHostRegister(p, bytes, cudaHostRegisterDefault) == cudaSuccess) S->pinned[slot] = p;
    else {
        cudaGetLastError(); // clear: pageable copies still work
        S->pin_failed[slot] = 1;
    }
}

static void state_free(cuda_state *S) {
    if (!S) return;
    cudaSetDevice(S->device);
    unpin_all(S);
    if (S->blas) cublasDestroy(S->blas);
    cudaFree(S->master);
    cudaFree(S->wbf);
    cudaFree(S->grad);
    cudaFree(S->mom);
    cudaFree(S->var);
    cudaFree(S->inv_freq);
    cudaFree(S->d_sumsq);
    cudaFree(S->act_mem);
    free(S->L);
    free(S->h_ints);
    free(S->h_tiles);
    S->magic = 0;
    free(S);
}

static int sync_host_impl(policy_model *m, cuda_state *S, grpo_err *err);

static void cuda_release(policy_model *m) {
    if (!m->acts) return;
    cuda_state *S = state_of(m);
    if (!S) { // activations of another backend (the model ran on the CPU before)
        policy_backend_cpu.release(m);
        return;
    }
    if (S->resident) { // leave the host arenas current (best effort: release cannot report)
        grpo_err e;
        sync_host_impl(m, S, &e);
    }
    state_free(S);
    m->acts = NULL;
    m->acts_bytes = 0;
}

static int train_arenas_alloc(cuda_state *S, float **g, float **mo, float **v, grpo_err *err) {
    const size_t bytes = S->n_params * sizeof(float);
    CUDA_CHECK(cudaMalloc(g, bytes));
    CUDA_CHECK(cudaMalloc(mo, bytes));
    CUDA_CHECK(cudaMalloc(v, bytes));
    CUDA_CHECK(cudaMemset(*g, 0, bytes));
    return GRPO_OK;
}

// The gradient and AdamW arenas, once the model trains (all three or none).
static int ensure_train_arenas(policy_model *m, cuda_state *S, grpo_err *err) {
    if (!m->grad_mem || S->grad) return GRPO_OK;
    float *g = NULL, *mo = NULL, *v = NULL;
    int rc = train_arenas_alloc(S, &g, &mo, &v, err);
    if (rc) {
        cudaFree(g);
        cudaFree(mo);
        cudaFree(v);
        return rc;
    }
    S->grad = g;
    S->mom = mo;
    S->var = v;
    S->opt_valid = 0;
    return GRPO_OK;
}

// Picks the device and makes the handle and the parameter arenas of a new state.
static int state_init(policy_model *m, cuda_state *S, int ndev, grpo_err *err) {
    const policy_config *c = &m->cfg;
    // One process per GPU (DESIGN §6): the launcher's local rank picks the device, unless the
    // caller already chose one with cudaSetDevice.
    CUDA_CHECK(cudaGetDevice(&S->device));
    const char *lr = getenv("GRPO_LOCAL_RANK");
    if (!lr) lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (!lr) lr = getenv("MV2_COMM_WORLD_LOCAL_RANK");
    if (!lr) lr = getenv("SLURM_LOCALID");
    if (!lr) lr = getenv("LOCAL_RANK");
    if (S->device == 0 && lr && atoi(lr) > 0) S->device = atoi(lr) % ndev;
    CUDA_CHECK(cudaSetDevice(S->device)); // before the handle and the arenas are made
    CUBLAS_CHECK(cublasCreate(&S->blas));
    S->n_params = m->n_params;
    const size_t n = m->n_params;
    CUDA_CHECK(cudaMalloc(&S->master, n * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&S->wbf, n * sizeof(bf16)));
    CUDA_CHECK(cudaMalloc(&S->inv_freq, (size_t)(c->head_dim / 2) * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&S->d_sumsq, sizeof(double)));
    CUDA_CHECK(cudaMemcpy(S->inv_freq, m->rope_inv_freq, (size_t)(c->head_dim / 2) * sizeof(float),
                          cudaMemcpyHostToDevice));
    return GRPO_OK;
}

// The model's device state, created on first use (a failed creation leaves none behind).
int cu_state_get(policy_model *m, cuda_state **out, grpo_err *err) {
    cuda_state *S = state_of(m);
    if (!S) {
        if (m->acts) policy_backend_cpu.release(m); // the CPU backend's activations
        const policy_config *c = &m->cfg;
        if (c->head_dim > 256 || c->head_dim % 4 || c->num_attention_heads % c->num_key_value_heads)
            return grpo_errf(err, GRPO_EUNSUPPORTED,
                             "CUDA backend: head_dim %d (a multiple of 4, at most 256), %d heads over %d kv heads",
                             c->head_dim, c->num_attention_heads, c->num_key_value_heads);
        int ndev = 0;
        cudaError_t e = cudaGetDeviceCount(&ndev);
        if (e != cudaSuccess || ndev <= 0)
            return grpo_errf(err, GRPO_EUNSUPPORTED, "CUDA backend: no usable GPU (%s)",
                             e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA devices");
        S = (cuda_state *)calloc(1, sizeof *S);
        if (!S) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
        S->magic = STATE_MAGIC;
        int rc = state_init(m, S, ndev, err);
        if (rc) {
            state_free(S);
            return rc;
        }
        m->acts = (struct policy_acts *)S;
        m->acts_bytes = 0;
    }
    CUDA_CHECK(cudaSetDevice(S->device));
    TRY(ensure_train_arenas(m, S, err));
    *out = S;
    return GRPO_OK;
}

// Uploads the parameters (and AdamW moments) when the host copy may have changed (cuda_backend.h).
int cu_sync_params_in(policy_model *m, cuda_state *S, grpo_err *err) {
    const size_t n = S->n_params;
    if (!S->params_valid || S->seen_param_mem != m->param_mem || S->seen_adam_t != m->adam_t) {
        pin(S, 0, m->param_mem, n * sizeof(float));
        CUDA_CHECK(cudaMemcpy(S->master, m->param_mem, n * sizeof(float), cudaMemcpyHostToDevice));
        TRY(k_f32_to_bf16(S->wbf, S->master, n, err));
        S->params_valid = 1;
        S->opt_valid = 0;
        S->host_params_stale = 0;
        S->seen_param_mem = m->param_mem;
        S->seen_adam_t = m->adam_t;
    }
    if (S->mom && !S->opt_valid) {
        pin(S, 2, m->m_mem, n * sizeof(float));
        pin(S, 3, m->v_mem, n * sizeof(float));
        CUDA_CHECK(cudaMemcpy(S->mom, m->m_mem, n * sizeof(float), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(S->var, m->v_mem, n * sizeof(float), cudaMemcpyHostToDevice));
        S->opt_valid = 1;
    }
    return GRPO_OK;
}

// Downloads the parameters, and when asked the gradients and the AdamW moments, into the host arenas.
static int download(policy_model *m, cuda_state *S, int grads, int moments, grpo_err *err) {
    CUDA_CHECK(cudaSetDevice(S->device));
    const size_t bytes = S->n_params * sizeof(float);
    if (S->params_valid) CUDA_CHECK(cudaMemcpy(m->param_mem, S->master, bytes, cudaMemcpyDeviceToHost));
    S->host_params_stale = 0;
    if (grads && S->grad && m->grad_mem) CUDA_CHECK(cudaMemcpy(m->grad_mem, S->grad, bytes, cudaMemcpyDeviceToHost));
    if (moments && S->mom && S->opt_valid) {
        CUDA_CHECK(cudaMemcpy(m->m_mem, S->mom, bytes, cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(m->v_mem, S->var, bytes, cudaMemcpyDeviceToHost));
    }
    return GRPO_OK;
}

static int sync_host_impl(policy_model *m, cuda_state *S, grpo_err *err) { return download(m, S, 1, 1, err); }

// ---- the activation arena ----

typedef struct {
    char *base;
    size_t off;
} bump;

static void *take(bump *b, size_t bytes) {
    const size_t o = (b->off + 255) & ~(size_t)255;
    b->off = o + bytes + ARENA_GUARD;
    if (b->base && ARENA_GUARD) ARENA_POISON(b->base + o + bytes, ARENA_GUARD);
    return b->base ? b->base + o : NULL;
}

// Points every buffer into base (or, with base NULL, only measures); returns the bytes needed.
static size_t layout(const policy_model *m, cuda_state *S, char *base, int N, int n_tiles, int keep, int logit_rows) {
    const policy_config *c = &m->cfg;
    const size_t n = (size_t)N, H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    const size_t nh = c->num_attention_heads, nkv = c->num_key_value_heads;
    const size_t Q = nh * c->head_dim, KV = nkv * c->head_dim;
    const int slots = keep ? c->num_hidden_layers : 1;
    if (base) ARENA_RESET(base, S->act_cap);
    bump b = {base, 0};
    for (int l = 0; l < slots; l++) {
        layer_acts *L = &S->L[l];
        L->x_in = (float *)take(&b, n * H * 4);
        L->rstd1 = (float *)take(&b, n * 4);
        L->xn1 = (bf16 *)take(&b, n * H * 2);
        L->q_raw = c->qk_norm ? (bf16 *)take(&b, n * Q * 2) : NULL;
        L->k_raw = c->qk_norm ? (bf16 *)take(&b, n * KV * 2) : NULL;
        L->rstd_q = c->qk_norm ? (float *)take(&b, n * nh * 4) : NULL;
        L->rstd_k = c->qk_norm ? (float *)take(&b, n * nkv * 4) : NULL;
        L->q = (bf16 *)take(&b, n * Q * 2);
        L->k = (bf16 *)take(&b, n * KV * 2);
        L->v = (bf16 *)take(&b, n * KV * 2);
        L->ctx = (bf16 *)take(&b, n * Q * 2);
        L->lse = (float *)take(&b, n * nh * 4);
        L->x_mid = (float *)take(&b, n * H * 4);
        L->rstd2 = (float *)take(&b, n * 4);
        L->xn2 = (bf16 *)take(&b, n * H * 2);
        L->gate = (bf16 *)take(&b, n * F * 2);
        L->up = (bf16 *)take(&b, n * F * 2);
        L->act = (bf16 *)take(&b, n * F * 2);
    }
    S->x_out = (float *)take(&b, n * H * 4);
    S->rstdf = (float *)take(&b, n * 4);
    S->xnf = (bf16 *)take(&b, n * H * 2);
    S->logits = (float *)take(&b, (size_t)logit_rows * V * 4);
    S->xg = (bf16 *)take(&b, (size_t)logit_rows * H * 2);
    S->qf = (float *)take(&b, n * Q * 4);
    S->kf = (float *)take(&b, n * KV * 4);
    S->vf = (float *)take(&b, n * KV * 4);
    S->logp_buf = (float *)take(&b, n * 4);
    S->tok = (int *)take(&b, 4 * n * sizeof(int));
    S->pos = S->tok ? S->tok + n : NULL;
    S->tgt = S->tok ? S->tok + 2 * n : NULL;
    S->next = S->tok ? S->tok + 3 * n : NULL;
    S->tiles = (att_tile *)take(&b, (size_t)n_tiles * sizeof(att_tile));
    if (keep) { // backward scratch
        const size_t wide = H > Q ? H : Q;
        S->dlogits = (bf16 *)take(&b, n * V * 2);
        S->dlogp_buf = (float *)take(&b, n * 4);
        S->dx = (float *)take(&b, n * H * 4);
        S->dxn = (float *)take(&b, n * H * 4);
        S->dF = (float *)take(&b, n * F * 4);
        S->dq = (float *)take(&b, n * Q * 4);
        S->dk = (float *)take(&b, n * KV * 4);
        S->dv = (float *)take(&b, n * KV * 4);
        S->Dsum = (float *)take(&b, n * nh * 4);
        S->dwpart = (float *)take(&b, n * wide * 4);
        S->dxb = (bf16 *)take(&b, n * H * 2);
        S->dgate = (bf16 *)take(&b, n * F * 2);
        S->dup = (bf16 *)take(&b, n * F * 2);
        S->dctx = (bf16 *)take(&b, n * Q * 2);
        S->dqb = (bf16 *)take(&b, n * Q * 2);
        S->dkb = (bf16 *)take(&b, n * KV * 2);
        S->dvb = (bf16 *)take(&b, n * KV * 2);
    }
    return b.off + 256;
}

int cu_acts_alloc(policy_model *m, cuda_state *S, int N, int n_tiles, int keep, int logit_rows, grpo_err *err) {
    const policy_config *c = &m->cfg;
    const int slots = keep ? c->num_hidden_layers : 1;
    if (S->n_slots < slots) {
        layer_acts *nl = (layer_acts *)realloc(S->L, (size_t)slots * sizeof *nl);
        if (!nl) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
        S->L = nl;
        S->n_slots = slots;
    }
    const size_t need = layout(m, S, NULL, N, n_tiles, keep, logit_rows);
    if (need > S->act_cap) {
        cudaFree(S->act_mem);
        S->act_mem = NULL;
        S->act_cap = 0;
        m->acts_bytes = 0;
        cudaError_t e = cudaMalloc(&S->act_mem, need);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return grpo_errf(err, e == cudaErrorMemoryAllocation ? GRPO_ENOMEM : GRPO_EIO,
                             "%s:%d: cudaMalloc of %.1f MiB of activations for %d tokens: %s", __FILE__, __LINE__,
                             need / 1048576.0, N, cudaGetErrorString(e));
        }
        S->act_cap = need;
        m->acts_bytes = need;
    }
    layout(m, S, S->act_mem, N, n_tiles, keep, logit_rows);
    S->N = N;
    S->n_tiles = n_tiles;
    S->keep = keep;
    S->logit_rows = logit_rows;
    S->have_fwd = 0;
    // host staging for the token ids, positions, targets and tiles
    if (S->h_ints_cap < 4 * (size_t)N) {
        free(S->h_ints);
        S->h_ints = (int *)malloc(4 * (size_t)N * sizeof(int));
        S->h_ints_cap = S->h_ints ? 4 * (size_t)N : 0;
        if (!S->h_ints) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    }
    if (S->h_tiles_cap < (size_t)n_tiles) {
        free(S->h_tiles);
        S->h_tiles = (att_tile *)malloc((size_t)n_tiles * sizeof(att_tile));
        S->h_tiles_cap = S->h_tiles ? (size_t)n_tiles : 0;
        if (!S->h_tiles) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    }
    return GRPO_OK;
}

// Sizes the activation arena for b, uploads token ids, positions, targets and attention tiles.
static int acts_prepare(policy_model *m, cuda_state *S, const policy_batch *b, int keep, grpo_err *err) {
    const int N = (int)policy_batch_tokens(b);
    int n_tiles = 0;
    for (int s = 0; s < b->n_seq; s++) n_tiles += (b->seq_len[s] + ATT_TILE - 1) / ATT_TILE;
    TRY(cu_acts_alloc(m, S, N, n_tiles, keep, N, err));
    int *tok = S->h_ints, *pos = tok + N, *tgt = tok + 2 * N, *next = tok + 3 * N;
    int k = 0, ti = 0;
    for (int s = 0; s < b->n_seq; s++) {
        const int len = b->seq_len[s], base = k;
        for (int t = 0; t < len; t++, k++) {
            tok[k] = b->tokens[k];
            pos[k] = t;
            tgt[k] = t + 1 < len ? k - s : -1;
            next[k] = t + 1 < len ? b->tokens[k + 1] : 0;
        }
        for (int r = 0; r < len; r += ATT_TILE) S->h_tiles[ti++] = att_tile_packed(base, len, r);
    }
    CUDA_CHECK(cudaMemcpy(S->tok, S->h_ints, 4 * (size_t)N * sizeof(int), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(S->tiles, S->h_tiles, (size_t)n_tiles * sizeof(att_tile), cudaMemcpyHostToDevice));
    S->targets = policy_batch_targets(b);
    return GRPO_OK;
}

// ---- GEMMs (row-major views over cuBLAS's column-major) ----

static int gemm(cuda_state *S, cublasOperation_t ta, cublasOperation_t tb, int mm, int nn, int kk, const bf16 *A,
                int lda, const bf16 *B, int ldb, float beta, void *C, cudaDataType ct, int ldc, grpo_err *err) {
    const float alpha = 1.0f;
    CUBLAS_CHECK(cublasGemmEx(S->blas, ta, tb, mm, nn, kk, &alpha, A, CUDA_R_16BF, lda, B, CUDA_R_16BF, ldb, &beta, C,
                              ct, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return GRPO_OK;
}
// y[N, out] = x[N, in] @ W[out, in]^T + beta * y   (y fp32 or bf16; beta 0 or 1). Row-invariant
// (gemm_cuda.cu) when the shape allows, so that decode rows equal the learner's.
static int linear_fwd(cuda_state *S, void *y, cudaDataType yt, float beta, const bf16 *x, const bf16 *W, int N, int in,
                      int out, grpo_err *err) {
    if (gemm_invariant_on(in) && (beta == 0.0f || (beta == 1.0f && yt == CUDA_R_32F)))
        return k_gemm_invariant(y, yt == CUDA_R_16BF, beta != 0.0f, x, W, N, out, in, err);
    return gemm(S, CUBLAS_OP_T, CUBLAS_OP_N, out, N, in, W, in, x, in, beta, y, yt, out, err);
}
// dx[N, in] = dy[N, out] @ W[out, in] + beta * dx
static int linear_dx(cuda_state *S, void *dx, cudaDataType xt, float beta, const bf16 *dy, const bf16 *W, int N,
                     int in, int out, grpo_err *err) {
    return gemm(S, CUBLAS_OP_N, CUBLAS_OP_N, in, N, out, W, in, dy, out, beta, dx, xt, in, err);
}
// dW[out, in] += dy[N, out]^T @ x[N, in]   (fp32 gradient)
static int linear_dw(cuda_state *S, float *dW, const bf16 *dy, const bf16 *x, int N, int in, int out, grpo_err *err) {
    return gemm(S, CUBLAS_OP_N, CUBLAS_OP_T, in, out, N, x, in, dy, out, 1.0f, dW, CUDA_R_32F, in, err);
}

// The lm_head GEMMs in chunks of tokens, so that no single cuBLAS call addresses more than
// 2^30 elements of the [N, V] logits (N x V passes 2^31 at 16k tokens of a 152k vocabulary).
// GRPO_CUDA_LM_ROWS overrides the chunk (tests use it to exercise the chunking on small models).
static int lm_rows(int V) {
    const char *env = getenv("GRPO_CUDA_LM_ROWS");
    int rows = env ? atoi(env) : (int)((1u << 30) / (unsigned)V);
    return rows > 0 ? rows : 1;
}



// dlm_head += dlogits^T xnf ; dxn = dlogits @ lm_head
static int lm_head_backward(cuda_state *S, float *dW, const bf16 *W, int N, int H, int V, grpo_err *err) {
    for (int r0 = 0; r0 < N; r0 += lm_rows(V)) {
        const int rows = lm_rows(V) < N - r0 ? lm_rows(V) : N - r0;
        const bf16 *dl = S->dlogits + (size_t)r0 * V;
        TRY(linear_dw(S, dW, dl, S->xnf + (size_t)r0 * H, rows, H, V, err));
        TRY(linear_dx(S, S->dxn + (size_t)r0 * H, CUDA_R_32F, 0.0f, dl, W, rows, H, V, err));
    }
    return GRPO_OK;
}

// ---- forward ----

#define OFF(p) ((size_t)((p) - m->param_mem))
#define WB(p) (S->wbf + OFF(p))          /* bf16 weight */
#define WF(p) ((p) ? S->master + OFF(p) : (const float *)NULL) /* fp32 master (norms, biases, embedding) */
#define GR(p) ((p) ? S->grad + OFF(p) : (float *)NULL)          /* fp32 gradient */

static att_shape shape_of(const policy_model *m, const cuda_state *S) {
    const policy_config *c = &m->cfg;
    att_shape s;
    s.nh = c->num_attention_heads;
    s.nkv = c->num_key_value_heads;
    s.hd = c->head_dim;
    s.scale = 1.0f / sqrtf((float)c->head_dim);
    s.tiles = S->tiles;
    s.n_tiles = S->n_tiles;
    return s;
}

// One decoder layer: L->x_in -> x_next (see policy/cpu/forward.c for the data flow).
static int layer_forward(policy_model *m, cuda_state *S, int l, layer_acts *L, float *x_next, const kv_sink *sink,
                         grpo_err *err) {
    const policy_config *c = &m->cfg;
    const policy_layer *W = &m->w.layers[l];
    const int N = S->N, H = c->hidden_size, F = c->intermediate_size, hd = c->head_dim;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, Q = nh * hd, KV = nkv * hd;
    const float eps = c->rms_norm_eps;

    TRY(k_rmsnorm_forward(L->xn1, L->rstd1, L->x_in, WF(W->input_norm), N, H, eps, err));
    TRY(linear_fwd(S, S->qf, CUDA_R_32F, 0.0f, L->xn1, WB(W->wq), N, H, Q, err));
    TRY(linear_fwd(S, S->kf, CUDA_R_32F, 0.0f, L->xn1, WB(W->wk), N, H, KV, err));
    TRY(linear_fwd(S, S->vf, CUDA_R_32F, 0.0f, L->xn1, WB(W->wv), N, H, KV, err));
    TRY(k_qk_prepare(L->q, L->q_raw, L->rstd_q, S->qf, WF(W->bq), c->qk_norm ? WF(W->q_norm) : NULL, S->pos,
                     S->inv_freq, N, nh, hd, 1, eps, err));
    TRY(k_qk_prepare(L->k, L->k_raw, L->rstd_k, S->kf, WF(W->bk), c->qk_norm ? WF(W->k_norm) : NULL, S->pos,
                     S->inv_freq, N, nkv, hd, 1, eps, err));
    TRY(k_qk_prepare(L->v, NULL, NULL, S->vf, WF(W->bv), NULL, S->pos, S->inv_freq, N, nkv, hd, 0, eps, err));
    att_shape as = shape_of(m, S);
    const bf16 *keys = L->k, *vals = L->v;
    if (sink) { // the generation engine's KV cache: prefill copies the rows, decode appends and reads it
        bf16 *kc = sink->k + (size_t)l * sink->layer_rows * KV, *vc = sink->v + (size_t)l * sink->layer_rows * KV;
        if (!sink->dst) {
            const size_t bytes = (size_t)N * KV * sizeof(bf16);
            CUDA_CHECK(cudaMemcpyAsync(kc + sink->row0 * KV, L->k, bytes, cudaMemcpyDeviceToDevice, 0));
            CUDA_CHECK(cudaMemcpyAsync(vc + sink->row0 * KV, L->v, bytes, cudaMemcpyDeviceToDevice, 0));
        } else {
            TRY(k_scatter_rows(kc, L->k, sink->dst, N, KV, err));
            TRY(k_scatter_rows(vc, L->v, sink->dst, N, KV, err));
            keys = kc;
            vals = vc;
        }
    }
    TRY(att_forward(L->ctx, L->lse, L->q, keys, vals, &as, err));

    // x_mid = x_in + ctx @ Wo^T (+ bo)
    CUDA_CHECK(cudaMemcpyAsync(L->x_mid, L->x_in, (size_t)N * H * sizeof(float), cudaMemcpyDeviceToDevice, 0));
    TRY(linear_fwd(S, L->x_mid, CUDA_R_32F, 1.0f, L->ctx, WB(W->wo), N, Q, H, err));
    if (W->bo) TRY(k_add_bias(L->x_mid, WF(W->bo), N, H, err));

    TRY(k_rmsnorm_forward(L->xn2, L->rstd2, L->x_mid, WF(W->post_norm), N, H, eps, err));
    TRY(linear_fwd(S, L->gate, CUDA_R_16BF, 0.0f, L->xn2, WB(W->w_gate), N, H, F, err));
    TRY(linear_fwd(S, L->up, CUDA_R_16BF, 0.0f, L->xn2, WB(W->w_up), N, H, F, err));
    TRY(k_swiglu_forward(L->act, L->gate, L->up, (size_t)N * F, err));
    // x_next = x_mid + act @ Wd^T (x_next may be L->x_in when there is one slot: x_in is consumed)
    CUDA_CHECK(cudaMemcpyAsync(x_next, L->x_mid, (size_t)N * H * sizeof(float), cudaMemcpyDeviceToDevice, 0));
    TRY(linear_fwd(S, x_next, CUDA_R_32F, 1.0f, L->act, WB(W->w_down), N, F, H, err));
    return GRPO_OK;
}

int cu_forward_body(policy_model *m, cuda_state *S, const kv_sink *sink, grpo_err *err) {
    const policy_config *c = &m->cfg;
    const int N = S->N, H = c->hidden_size, nl = c->num_hidden_layers, keep = S->keep;
    TRY(k_embed_forward(S->L[0].x_in, WF(m->w.embed), S->tok, N, H, err));
    for (int l = 0; l < nl; l++) {
        layer_acts *L = &S->L[keep ? l : 0];
        float *x_next = l + 1 < nl ? S->L[keep ? l + 1 : 0].x_in : S->x_out;
        TRY(layer_forward(m, S, l, L, x_next, sink, err));
    }
    return k_rmsnorm_forward(S->xnf, S->rstdf, S->x_out, WF(m->w.final_norm), N, H, c->rms_norm_eps, err);
}

int cu_lm_head(policy_model *m, cuda_state *S, const bf16 *x, int N, grpo_err *err) {
    const int H = m->cfg.hidden_size, V = m->cfg.vocab_size;
    const bf16 *W = WB(m->w.lm_head);
    for (int r0 = 0; r0 < N; r0 += lm_rows(V)) {
        const int rows = lm_rows(V) < N - r0 ? lm_rows(V) : N - r0;
        TRY(linear_fwd(S, S->logits + (size_t)r0 * V, CUDA_R_32F, 0.0f, x + (size_t)r0 * H, W, rows, H, V, err));
    }
    return GRPO_OK;
}

static int cuda_forward(policy_model *m, const policy_batch *b, float temperature, float *logp, float *logits, int keep,
                        grpo_err *err) {
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    TRY(cu_sync_params_in(m, S, err));
    TRY(acts_prepare(m, S, b, keep, err));
    const policy_config *c = &m->cfg;
    const int N = S->N, V = c->vocab_size;

    TRY(cu_forward_body(m, S, NULL, err));
    TRY(cu_lm_head(m, S, S->xnf, N, err));
    if (logp && S->targets) {
        TRY(k_logprob_forward(S->logp_buf, S->logits, S->tgt, S->next, N, V, 1.0f / temperature, err));
        CUDA_CHECK(cudaMemcpy(logp, S->logp_buf, S->targets * sizeof(float), cudaMemcpyDeviceToHost));
    }
    if (logits) CUDA_CHECK(cudaMemcpy(logits, S->logits, (size_t)N * V * sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaDeviceSynchronize()); // report asynchronous kernel errors here, at the call
    S->have_fwd = 1;
    return GRPO_OK;
}

// ---- backward ----

// On entry S->dx holds dL/d(layer output); on exit dL/d(layer input). Weight gradients accumulate.
static int layer_backward(policy_model *m, cuda_state *S, int l, const layer_acts *L, grpo_err *err) {
    const policy_config *c = &m->cfg;
    const policy_layer *W = &m->w.layers[l];
    const int N = S->N, H = c->hidden_size, F = c->intermediate_size, hd = c->head_dim;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, Q = nh * hd, KV = nkv * hd;
    const size_t NI = (size_t)N * F;

    // MLP: out = x_mid + act @ Wd^T, act = silu(gate) * up
    TRY(k_f32_to_bf16(S->dxb, S->dx, (size_t)N * H, err));
    TRY(linear_dw(S, GR(W->w_down), S->dxb, L->act, N, F, H, err));
    TRY(linear_dx(S, S->dF, CUDA_R_32F, 0.0f, S->dxb, WB(W->w_down), N, F, H, err));
    TRY(k_swiglu_backward(S->dgate, S->dup, S->dF, L->gate, L->up, NI, err));
    TRY(linear_dw(S, GR(W->w_gate), S->dgate, L->xn2, N, H, F, err));
    TRY(linear_dw(S, GR(W->w_up), S->dup, L->xn2, N, H, F, err));
    TRY(linear_dx(S, S->dxn, CUDA_R_32F, 0.0f, S->dgate, WB(W->w_gate), N, H, F, err));
    TRY(linear_dx(S, S->dxn, CUDA_R_32F, 1.0f, S->dup, WB(W->w_up), N, H, F, err));
    TRY(k_rmsnorm_backward(S->dx, S->dwpart, S->dxn, L->x_mid, WF(W->post_norm), L->rstd2, N, H, 1, err));
    TRY(k_colsum(GR(W->post_norm), S->dwpart, N, H, err));

    // attention output: x_mid = x_in + ctx @ Wo^T + bo
    TRY(k_f32_to_bf16(S->dxb, S->dx, (size_t)N * H, err));
    TRY(linear_dw(S, GR(W->wo), S->dxb, L->ctx, N, Q, H, err));
    if (W->bo) TRY(k_colsum(GR(W->bo), S->dx, N, H, err));
    TRY(linear_dx(S, S->dctx, CUDA_R_16BF, 0.0f, S->dxb, WB(W->wo), N, Q, H, err));
    att_shape as = shape_of(m, S);
    TRY(att_backward(S->dq, S->dk, S->dv, S->Dsum, S->dctx, L->ctx, L->lse, L->q, L->k, L->v, N, &as, err));

    // back through RoPE and the q/k norms, then the biases and projections
    TRY(k_qk_backward(S->dq, S->dwpart, L->q_raw, L->rstd_q, c->qk_norm ? WF(W->q_norm) : NULL, S->pos, S->inv_freq,
                      N, nh, hd, 1, err));
    if (c->qk_norm) TRY(k_colsum(GR(W->q_norm), S->dwpart, (size_t)N * nh, hd, err));
    TRY(k_qk_backward(S->dk, S->dwpart, L->k_raw, L->rstd_k, c->qk_norm ? WF(W->k_norm) : NULL, S->pos, S->inv_freq,
                      N, nkv, hd, 1, err));
    if (c->qk_norm) TRY(k_colsum(GR(W->k_norm), S->dwpart, (size_t)N * nkv, hd, err));
    if (W->bq) TRY(k_colsum(GR(W->bq), S->dq, N, Q, err));
    if (W->bk) TRY(k_colsum(GR(W->bk), S->dk, N, KV, err));
    if (W->bv) TRY(k_colsum(GR(W->bv), S->dv, N, KV, err));
    TRY(k_f32_to_bf16(S->dqb, S->dq, (size_t)N * Q, err));
    TRY(k_f32_to_bf16(S->dkb, S->dk, (size_t)N * KV, err));
    TRY(k_f32_to_bf16(S->dvb, S->dv, (size_t)N * KV, err));
    TRY(linear_dw(S, GR(W->wq), S->dqb, L->xn1, N, H, Q, err));
    TRY(linear_dw(S, GR(W->wk), S->dkb, L->xn1, N, H, KV, err));
    TRY(linear_dw(S, GR(W->wv), S->dvb, L->xn1, N, H, KV, err));
    TRY(linear_dx(S, S->dxn, CUDA_R_32F, 0.0f, S->dqb, WB(W->wq), N, H, Q, err));
    TRY(linear_dx(S, S->dxn, CUDA_R_32F, 1.0f, S->dkb, WB(W->wk), N, H, KV, err));
    TRY(linear_dx(S, S->dxn, CUDA_R_32F, 1.0f, S->dvb, WB(W->wv), N, H, KV, err));
    TRY(k_rmsnorm_backward(S->dx, S->dwpart, S->dxn, L->x_in, WF(W->input_norm), L->rstd1, N, H, 1, err));
    TRY(k_colsum(GR(W->input_norm), S->dwpart, N, H, err));
    return GRPO_OK;
}

static int cuda_backward(policy_model *m, const policy_batch *b, float temperature, const float *dlogp,
                         grpo_err *err) {
    cuda_state *S = state_of(m);
    if (!S || !S->have_fwd || !S->keep || S->N != (int)policy_batch_tokens(b))
        return grpo_errf(err, GRPO_EINVAL, "backward needs a forward with keep on the same batch first");
    TRY(cu_state_get(m, &S, err)); // sets the device, allocates the gradient arenas if training began late
    const policy_config *c = &m->cfg;
    const int N = S->N, H = c->hidden_size, V = c->vocab_size;
    const size_t bytes = S->n_params * sizeof(float);
    if (!S->resident) {
        pin(S, 1, m->grad_mem, bytes);
        CUDA_CHECK(cudaMemcpy(S->grad, m->grad_mem, bytes, cudaMemcpyHostToDevice));
    }
    if (S->targets)
        CUDA_CHECK(cudaMemcpy(S->dlogp_buf, dlogp, S->targets * sizeof(float), cudaMemcpyHostToDevice));
    TRY(k_logprob_backward(S->dlogits, S->logits, S->dlogp_buf, S->tgt, S->next, N, V, 1.0f / temperature, err));
    // logits = xnf @ lm_head^T
    TRY(lm_head_backward(S, GR(m->w.lm_head), WB(m->w.lm_head), N, H, V, err));
    TRY(k_rmsnorm_backward(S->dx, S->dwpart, S->dxn, S->x_out, WF(m->w.final_norm), S->rstdf, N, H, 0, err));
    TRY(k_colsum(GR(m->w.final_norm), S->dwpart, N, H, err));
    for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
        TRY(layer_backward(m, S, l, &S->L[l], err));
        TRY(cu_comm_after_layer(m, S, l, err)); // data parallel: finished layers go to NCCL meanwhile
    }
    TRY(k_embed_backward(GR(m->w.embed), S->dx, S->tok, N, H, err));
    TRY(cu_comm_after_backward(m, S, err));
    if (!S->resident) CUDA_CHECK(cudaMemcpy(m->grad_mem, S->grad, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaDeviceSynchronize());
    S->have_fwd = 0; // as the CPU backend: a second backward needs a new forward
    return GRPO_OK;
}

// ---- AdamW ----

static int cuda_adamw_step(policy_model *m, const policy_adamw *h, grpo_err *err) {
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    TRY(cu_sync_params_in(m, S, err));
    if (!S->grad) return grpo_errf(err, GRPO_EINVAL, "adamw needs policy_enable_training first");
    const size_t bytes = S->n_params * sizeof(float);
    if (!S->resident) {
        pin(S, 1, m->grad_mem, bytes);
        CUDA_CHECK(cudaMemcpy(S->grad, m->grad_mem, bytes, cudaMemcpyHostToDevice));
    }
    m->adam_t++;
    const double bc1 = 1.0 - pow(h->beta1, m->adam_t), bc2 = 1.0 - pow(h->beta2, m->adam_t);
    const float step = (float)(h->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    for (size_t t = 0; t < m->n_tensors; t++) {
        const policy_param *pp = &m->params[t];
        const float decay = pp->decay ? 1.0f - h->lr * h->weight_decay : 1.0f;
        const size_t o = pp->offset;
        TRY(k_adamw(S->master + o, S->wbf + o, S->grad + o, S->mom + o, S->var + o, pp->numel, decay, h->beta1,
                    h->beta2, step, bc2_sqrt, h->eps, err));
    }
    S->seen_adam_t = m->adam_t;
    if (!S->resident) {
        TRY(download(m, S, 0, 1, err)); // parameters and moments (the host gradients are current)
    } else {
        S->host_params_stale = 1;
        CUDA_CHECK(cudaDeviceSynchronize());
    }
    return GRPO_OK;
}

// ---- cached forward (rollout decode): on the CPU over the host parameters ----

static int cuda_forward_step(policy_model *m, const policy_step *st, float *logits, grpo_err *err) {
    cuda_state *S = state_of(m);
    if (S && S->resident && S->host_params_stale) {
        CUDA_CHECK(cudaSetDevice(S->device));
        CUDA_CHECK(cudaMemcpy(m->param_mem, S->master, S->n_params * sizeof(float), cudaMemcpyDeviceToHost));
        S->host_params_stale = 0;
    }
    return policy_backend_cpu.forward_step(m, st, logits, err);
}

const policy_backend policy_backend_cuda = {
    "cuda", cuda_forward, cuda_backward, cuda_forward_step, cuda_adamw_step, cuda_release,
};

// ---- the C API of cuda_backend.h ----

extern "C" void grpo_cuda_invalidate(policy_model *m) {
    cuda_state *S = state_of(m);
    if (S) S->params_valid = S->opt_valid = 0;
}

extern "C" int grpo_cuda_set_resident(policy_model *m, int on, grpo_err *err) {
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    TRY(cu_sync_params_in(m, S, err));
    if (S->resident && !on) TRY(sync_host_impl(m, S, err));
    if (!S->resident && on && S->grad && m->grad_mem) {
        CUDA_CHECK(cudaMemcpy(S->grad, m->grad_mem, S->n_params * sizeof(float), cudaMemcpyHostToDevice));
    }
    S->resident = on != 0;
    return GRPO_OK;
}

extern "C" int grpo_cuda_zero_grad(policy_model *m, grpo_err *err) {
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    if (S->grad) CUDA_CHECK(cudaMemset(S->grad, 0, S->n_params * sizeof(float)));
    if (!S->resident) policy_zero_grad(m);
    return GRPO_OK;
}

extern "C" int grpo_cuda_clip_grad_norm(policy_model *m, double max_norm, double *norm, grpo_err *err) {
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    if (!S->resident || !S->grad) {
        *norm = policy_clip_grad_norm(m, max_norm);
        return GRPO_OK;
    }
    CUDA_CHECK(cudaMemset(S->d_sumsq, 0, sizeof(double)));
    TRY(k_sumsq(S->d_sumsq, S->grad, S->n_params, err)); // tensor padding is zero
    double ss = 0.0;
    CUDA_CHECK(cudaMemcpy(&ss, S->d_sumsq, sizeof ss, cudaMemcpyDeviceToHost));
    *norm = sqrt(ss);
    if (max_norm > 0) {
        const double coef = max_norm / (*norm + 1e-6);
        if (coef < 1.0) TRY(k_scale(S->grad, (float)coef, S->n_params, err));
    }
    return GRPO_OK;
}

extern "C" int grpo_cuda_sync_host(policy_model *m, grpo_err *err) {
    cuda_state *S = state_of(m);
    if (!S) return GRPO_OK;
    return sync_host_impl(m, S, err);
}

extern "C" size_t grpo_cuda_device_bytes(const policy_model *m) {
    const cuda_state *S = state_of(m);
    if (!S) return 0;
    size_t b = S->n_params * (sizeof(float) + sizeof(bf16)) + S->act_cap;
    if (S->grad) b += 3 * S->n_params * sizeof(float);
    return b;
}
