// policy/cuda/cuda_internal.cuh: the CUDA backend's device state (one per model, in m->acts) and
// what model_cuda.cu shares with the generation engine (decode_cuda.cu): the state, the activation
// arena, the decoder layer and the lm_head, so that rollouts run the learner's own code on the
// learner's own bf16 weights. Private to policy/cuda.
#ifndef GRPO_CUDA_INTERNAL_CUH
#define GRPO_CUDA_INTERNAL_CUH

#include "cuda_common.cuh"

#define STATE_MAGIC 0x6772706f63756461ull /* "grpocuda" */

typedef struct {
    float *x_in, *rstd1, *rstd_q, *rstd_k, *lse, *x_mid, *rstd2;
    bf16 *xn1, *q_raw, *k_raw, *q, *k, *v, *ctx, *xn2, *gate, *up, *act;
} layer_acts;

typedef struct cuda_state {
    uint64_t magic;
    int device;
    cublasHandle_t blas;
    size_t n_params;
    float *master;   // fp32 parameters
    bf16 *wbf;       // bf16 copy used by the GEMMs
    float *grad, *mom, *var;
    float *inv_freq; // [head_dim / 2]
    double *d_sumsq; // one double
    // synchronisation (cuda_backend.h)
    int params_valid, opt_valid, resident, host_params_stale;
    // data parallel (nccl_cuda.cu): the next backward sums buckets as it goes; it did
    int comm_armed, comm_summed;
    size_t comm_pending; // the layers' gradients [.., comm_pending) not yet handed to NCCL
    const float *seen_param_mem;
    int seen_adam_t;
    void *pinned[4];
    int pin_failed[4];
    // the activation arena
    char *act_mem;
    size_t act_cap;
    layer_acts *L;
    int n_slots;
    float *x_out, *rstdf, *logits, *qf, *kf, *vf, *logp_buf, *dlogp_buf;
    bf16 *xnf, *dlogits;
    bf16 *xg; // [logit_rows, H]: the rows of xnf the lm_head reads when not all of them (prefill)
    int *tok, *pos, *tgt, *next; // [N] each, consecutive
    att_tile *tiles;
    float *dx, *dxn, *dF, *dq, *dk, *dv, *Dsum, *dwpart;
    bf16 *dxb, *dgate, *dup, *dctx, *dqb, *dkb, *dvb;
    // host staging
    int *h_ints;
    att_tile *h_tiles;
    size_t h_ints_cap, h_tiles_cap;
    // the last forward
    int N, n_tiles, keep, have_fwd, logit_rows;
    size_t targets;
} cuda_state;

// Where a forward writes the K/V of each layer besides its activations (the generation engine's
// cache: K then V, each [n_layers][layer_rows][nkv * head_dim] bf16). With dst NULL the N rows go
// to rows row0.. (prefill: prompts laid end to end); otherwise row n goes to row dst[n] (device
// array; decode) and attention reads the cache through the tiles instead of the batch.
typedef struct {
    bf16 *k, *v;
    size_t layer_rows, row0;
    const int *dst;
} kv_sink;

// The model's device state, created on first use; sets the device.
int cu_state_get(policy_model *m, cuda_state **out, grpo_err *err);
// Uploads the parameters (and AdamW moments) when the host copy changed (cuda_backend.h).
int cu_sync_params_in(policy_model *m, cuda_state *S, grpo_err *err);
// Sizes the activation arena for N tokens, n_tiles attention tiles and logit_rows rows of logits
// (keep: every layer and the backward scratch) and points the buffers into it.
int cu_acts_alloc(policy_model *m, cuda_state *S, int N, int n_tiles, int keep, int logit_rows, grpo_err *err);
// Embedding, every decoder layer and the final norm over S->N tokens (S->tok, S->pos, S->tiles
// uploaded): S->xnf [N, H]. With a sink, also each layer's K/V rows (see kv_sink).
int cu_forward_body(policy_model *m, cuda_state *S, const kv_sink *sink, grpo_err *err);
// logits[rows, V] (S->logits) = x[rows, H] @ lm_head^T, in chunks of tokens.
int cu_lm_head(policy_model *m, cuda_state *S, const bf16 *x, int rows, grpo_err *err);

// nccl_cuda.cu: called by the backward after layer l is differentiated, and at its end (no-ops
// unless grpo_cuda_comm_arm armed this state).
int cu_comm_after_layer(policy_model *m, cuda_state *S, int l, grpo_err *err);
int cu_comm_after_backward(policy_model *m, cuda_state *S, grpo_err *err);

#endif
