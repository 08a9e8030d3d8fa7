/* policy/cpu/cpu.h: what the fp32 CPU backend's forward, backward and optimizer share:
 * the activation arena layout and the small math kernels. Private to policy/cpu. */
#ifndef GRPO_POLICY_CPU_H
#define GRPO_POLICY_CPU_H

#include <math.h>
#include <stddef.h>

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

/* exp(x) for x in [-87, 88] (clamped outside) to about 2 ulp: 2^k times a degree-6 polynomial of
 * the reduced argument. Plain arithmetic and bit moves, so loops calling it vectorize without
 * -ffast-math, unlike glibc's expf. */
static inline float cpu_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    const float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int bits = ((int)k + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* log(sum_v exp(z[v] * inv_t - max)) + max over a row of n logits, with vectorizable partial maxima
 * and sums (16 lanes, combined in double). */
static inline double cpu_logsumexp(const float *z, int n, float inv_t, float *max_out) {
    float m16[16];
    for (int l = 0; l < 16; l++) m16[l] = -3.0e38f;
    int v = 0;
    for (; v + 16 <= n; v += 16)
        for (int l = 0; l < 16; l++) m16[l] = z[v + l] * inv_t > m16[l] ? z[v + l] * inv_t : m16[l];
    float mx = -3.0e38f;
    for (int l = 0; l < 16; l++) mx = m16[l] > mx ? m16[l] : mx;
    for (; v < n; v++) mx = z[v] * inv_t > mx ? z[v] * inv_t : mx;
    float s16[16] = {0};
    for (v = 0; v + 16 <= n; v += 16)
        for (int l = 0; l < 16; l++) s16[l] += cpu_expf(z[v + l] * inv_t - mx);
    double se = 0.0;
    for (int l = 0; l < 16; l++) se += s16[l];
    for (; v < n; v++) se += cpu_expf(z[v] * inv_t - mx);
    *max_out = mx;
    return log(se) + mx;
}

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
int cpu_adamw_step(policy_model *m, const policy_adamw *h, grpo_err *err);
int cpu_forward_step(policy_model *m, const policy_step *st, float *logits, grpo_err *err);

#endif
