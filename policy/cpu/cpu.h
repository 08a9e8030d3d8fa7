/* policy/cpu/cpu.h: what the fp32 CPU backend's forward, backward and optimizer share:
 * the activation arena layout and the small math kernels. Private to policy/cpu. */
#ifndef GRPO_POLICY_CPU_H
#define GRPO_POLICY_CPU_H

#include <math.h>
#include <stddef.h>

#include "../../common/fastmath.h"
#include "../model.h"

/* Activations of one layer, [N, .] row-major over the packed tokens. */
typedef struct {
    float *x_in;    /* [N, H] residual stream entering the layer */
    float *rstd1;   /* [N] */
    float *xn1;     /* [N, H] input_layernorm output */
    float *q_raw;   /* [N, Q] q before q_norm (Qwen3 only) */
    float *k_raw;   /* [N, KV] */
    float *rstd_q;  /* [N, nh] (Qwen3 only) */
    float *rstd_k;  /* [N, nkv] */
    float *q;       /* [N, Q] after q_norm and RoPE */
    float *k;       /* [N, KV] after k_norm and RoPE */
    float *v;       /* [N, KV] */
    float *att;     /* sum over sequences of nh * len^2: softmax probabilities */
    float *ctx;     /* [N, Q] attention output before o_proj */
    float *x_mid;   /* [N, H] residual after attention */
    float *rstd2;   /* [N] */
    float *xn2;     /* [N, H] */
    float *gate;    /* [N, I] */
    float *up;      /* [N, I] */
    float *act;     /* [N, I] silu(gate) * up */
} cpu_layer_acts;

typedef struct policy_acts {
    float *mem;
    size_t cap;            /* floats allocated */
    int n_tokens;          /* of the last forward */
    int keep;              /* whether every layer has its own slot */
    cpu_layer_acts *layers;
    int n_layer_slots;
    float *x_out;          /* [N, H] residual stream after the last layer */
    float *rstdf;          /* [N] */
    float *xnf;            /* [N, H] final norm output */
    float *logits;         /* [N, V] */
    float *cos, *sin;      /* [max_len, hd/2] */
    int *pos;              /* [N] position of each token */
    size_t *att_off;       /* [n_seq] offset of each sequence's attention block (own allocation) */
    int att_off_cap;
    int *seq_off;          /* [n_seq] first token of each sequence */
    float *bwd;            /* the backward's scratch (own allocation, kept between calls) */
    size_t bwd_cap;        /* floats in bwd */
    int max_len;
} policy_acts;

/* Sizes the arena for b and points every buffer; keep selects one slot per layer. */
int cpu_acts_prepare(policy_model *m, const policy_batch *b, int keep, grpo_err *err);
void cpu_release(policy_model *m);

/* y[N, out] = x[N, in] @ W[out, in]^T (+ bias) */
void cpu_linear(float *y, const float *x, const float *W, const float *bias, int N, int in, int out);
/* RMSNorm over rows of width d: y = w * (x * rstd), rstd saved per row (groups of d within rows). */
void cpu_rmsnorm(float *y, float *rstd, const float *x, const float *w, size_t rows, int d, float eps);
/* Rotates pairs (i, i + hd/2) of each head in place by the angle of each token's position;
 * sign = +1 forward, -1 for the backward (inverse) rotation. */
void cpu_rope(float *x, int N, int n_heads, int hd, const int *pos, const float *cos, const float *sin, int sign);

int cpu_forward(policy_model *m, const policy_batch *b, float temperature, float *logp, float *logits, int keep,
                grpo_err *err);
int cpu_backward(policy_model *m, const policy_batch *b, float temperature, const float *dlogp, grpo_err *err);
int cpu_backward_logits(policy_model *m, const policy_batch *b, const float *dlogits, grpo_err *err);
int cpu_adamw_step(policy_model *m, const policy_adamw *h, grpo_err *err);
int cpu_forward_step(policy_model *m, const policy_step *st, float *logits, grpo_err *err);

#endif
