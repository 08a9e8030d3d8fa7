/* policy/model.h: the policy model: its parameter table, arenas, loading and saving in
 * Hugging Face layout, and the per-backend math behind one table of function pointers.
 *
 * Parameters, gradients and each AdamW state live in one allocation each (an arena),
 * pointed into by a policy_weights struct of tensors, in the order of the parameter table.
 *
 * Batches are packed ("varlen"): n_seq sequences laid end to end, sequence s holding
 * seq_len[s] tokens at positions 0..seq_len[s]-1. A padded [B, T] batch with lengths
 * maps onto this with policy_batch_from_padded. Per-token logprobs use the same packing
 * with one entry fewer per sequence: entry t of sequence s is log p(tok[t+1] | tok[0..t]). */
#ifndef GRPO_POLICY_MODEL_H
#define GRPO_POLICY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "config.h"

/* One layer's tensors (NULL where the architecture has none). Shapes as in HF:
 * out x in for projections. q: [nh*hd, H], k/v: [nkv*hd, H], o: [H, nh*hd],
 * gate/up: [I, H], down: [H, I], norms: [H], q_norm/k_norm: [hd]. */
typedef struct {
    float *input_norm;
    float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo;
    float *q_norm, *k_norm;
    float *post_norm;
    float *w_gate, *w_up, *w_down;
} policy_layer;

typedef struct {
    float *embed;        /* [V, H] */
    policy_layer *layers;
    float *final_norm;   /* [H] */
    float *lm_head;      /* [V, H]; equals embed when tied */
} policy_weights;

/* One entry of the parameter table: an HF tensor name and where it lives in the arenas. */
typedef struct {
    char name[96];
    size_t offset;       /* in floats, into each arena */
    size_t numel;
    int ndim;
    int64_t shape[2];
    int decay;           /* AdamW weight decay applies (matrices and embeddings, as HF Trainer) */
    int layer;           /* decoder layer it belongs to, -1 for embeddings, final norm and lm_head */
    size_t slot;         /* offsetof the float * that points at it, in policy_layer (layer >= 0) or policy_weights */
} policy_param;

typedef struct policy_batch {
    int n_seq;
    const int *seq_len;  /* [n_seq], each >= 1 */
    const int *tokens;   /* [sum seq_len] */
} policy_batch;

typedef struct policy_adamw {
    float lr, beta1, beta2, eps, weight_decay;
} policy_adamw;

/* A block of KV cache: for every layer, cap rows of K and of V ([n_layers][cap][nkv*hd] each).
 * Blocks are owned by the caller (rollout/); the policy only reads and appends rows. */
typedef struct policy_kv_block {
    float *k, *v;
    int cap;
} policy_kv_block;

/* One cached forward step over n_seq sequences. Sequence s contributes rows[s] new tokens
 * (laid end to end in tokens); its context is prefix[s] rows 0..prefix_len[s]-1 (shared and
 * read-only, may be NULL) followed by own[s] rows 0..own_start[s]-1; the new tokens' K/V are
 * appended to own[s] from row own_start[s], at positions prefix_len[s] + own_start[s] + i.
 * Prefill: one sequence, rows = prompt length, no prefix. Decode: one row per sequence. */
typedef struct policy_step {
    int n_seq;
    const int *rows;
    const int *tokens;
    const policy_kv_block *const *prefix;
    const int *prefix_len;
    policy_kv_block *const *own;
    const int *own_start;
} policy_step;

struct policy_acts;
struct policy_backend;

typedef struct policy_model {
    policy_config cfg;
    policy_param *params;
    size_t n_tensors;
    size_t n_params;           /* floats in each arena */
    float *param_mem;          /* arena: parameters */
    float *grad_mem;           /* arena: gradients (policy_enable_training) */
    float *m_mem, *v_mem;      /* arenas: AdamW first and second moments */
    policy_weights w, g;       /* views into param_mem and grad_mem */
    float *rope_inv_freq;      /* [head_dim / 2] */
    int adam_t;                /* AdamW steps taken */
    struct policy_acts *acts;  /* activations kept for backward (backend-owned) */
    size_t acts_bytes;         /* bytes the backend holds in acts (activations and backward scratch) */
    const struct policy_backend *backend;
} policy_model;

/* The math one backend provides. The CPU backend is the fp32 reference. */
typedef struct policy_backend {
    const char *name;
    /* Forward over b; writes per-token logprobs at temperature (packed, sum(len-1) entries)
     * into logp when not NULL and raw logits [sum len, V] into logits when not NULL.
     * With keep != 0 it keeps what backward needs. */
    int (*forward)(policy_model *m, const policy_batch *b, float temperature, float *logp, float *logits, int keep,
                   grpo_err *err);
    /* Backward of L given dL/dlogp (packed like logp) after a forward with keep != 0 on the
     * same batch and temperature; accumulates into the gradient arena. */
    int (*backward)(policy_model *m, const policy_batch *b, float temperature, const float *dlogp, grpo_err *err);
    /* Cached forward (see policy_step): writes the raw logits of each sequence's last new row
     * into logits[s * V]. Every row's arithmetic is independent of which other rows share the
     * step and of the thread count, so sampled tokens do not depend on batch layout. */
    int (*forward_step)(policy_model *m, const policy_step *st, float *logits, grpo_err *err);
    /* One AdamW step over all parameters (decoupled weight decay, bias correction). */
    int (*adamw_step)(policy_model *m, const policy_adamw *h, grpo_err *err);
    /* Frees what the backend allocated on m. */
    void (*release)(policy_model *m);
    /* Backward of L given dL/dlogits, the raw logits' gradient laid out as forward's logits ([sum len, V],
     * each sequence's last row ignored), after a forward with keep != 0 on the same batch; accumulates
     * into the gradient arena. NULL where the backend has none yet (policy_backward_logits says so). */
    int (*backward_logits)(policy_model *m, const policy_batch *b, const float *dlogits, grpo_err *err);
} policy_backend;

/* The backend called name ("cpu", "cuda"), or NULL with an error saying why not. */
const policy_backend *policy_backend_get(const char *name, grpo_err *err);

/* Builds the parameter table for cfg and allocates the parameter arena (zeroed). */
int policy_build(policy_model *m, const policy_config *cfg, grpo_err *err);
/* Releases every arena and the activations. */
void policy_free(policy_model *m);
/* Loads dir (config.json + safetensors, sharded or not) in fp32. */
int policy_load(policy_model *m, const char *dir, grpo_err *err);
/* Random init as transformers does: N(0, 0.02) matrices and embeddings, zero biases, unit norms. */
void policy_init_random(policy_model *m, uint64_t seed);
/* Writes dir/config.json and dir/model.safetensors (dtype "float32" or "bfloat16") into an
 * existing directory; tied lm_head is omitted as save_pretrained does. */
int policy_save(const policy_model *m, const char *dir, const char *dtype, grpo_err *err);
/* Allocates (zeroed) the gradient and AdamW arenas. */
int policy_enable_training(policy_model *m, grpo_err *err);
/* Sets every gradient to zero. */
void policy_zero_grad(policy_model *m);
/* Global L2 norm of the gradients; when max_norm > 0, scales them by min(1, max_norm/(norm+1e-6))
 * (torch.nn.utils.clip_grad_norm_). Returns the norm before clipping. */
double policy_clip_grad_norm(policy_model *m, double max_norm);
/* The table entry called name, or NULL. */
const policy_param *policy_find_param(const policy_model *m, const char *name);
/* Bytes of parameters, gradients, optimizer state and activations now allocated. */
void policy_memory(const policy_model *m, size_t *params, size_t *grads, size_t *optim, size_t *acts);

/* Checks every token id of b against the vocabulary and the lengths. */
int policy_batch_check(const policy_model *m, const policy_batch *b, grpo_err *err);
/* Total tokens in b, and total logprob entries (sum of len-1). */
size_t policy_batch_tokens(const policy_batch *b);
size_t policy_batch_targets(const policy_batch *b);

/* Convenience wrappers over m->backend. */
int policy_forward(policy_model *m, const policy_batch *b, float temperature, float *logp, float *logits, int keep,
                   grpo_err *err);
int policy_backward(policy_model *m, const policy_batch *b, float temperature, const float *dlogp, grpo_err *err);
/* m->backend->backward_logits; GRPO_EUNSUPPORTED naming the backend when it has none. */
int policy_backward_logits(policy_model *m, const policy_batch *b, const float *dlogits, grpo_err *err);
int policy_adamw_step(policy_model *m, const policy_adamw *h, grpo_err *err);
/* Checks a step's tokens, capacities and positions, then runs m->backend->forward_step. */
int policy_forward_step(policy_model *m, const policy_step *st, float *logits, grpo_err *err);
/* Floats in one KV block of cap rows (K and V together, all layers). */
size_t policy_kv_block_floats(const policy_model *m, int cap);

/* Mean cross-entropy over targets where mask is nonzero (mask packed like logp; NULL = all),
 * at temperature 1: forward with keep, loss into *loss, and when backward != 0 the gradients. */
int policy_ce_step(policy_model *m, const policy_batch *b, const float *mask, int backward, double *loss, grpo_err *err);

extern const policy_backend policy_backend_cpu;

#endif
