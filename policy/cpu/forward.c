/* policy/cpu/forward.c: the fp32 reference forward pass on CPU (OpenBLAS GEMMs, OpenMP loops).
 *
 * Data flow per layer, as in transformers' Qwen2/Qwen3/Llama modeling code:
 *   xn1 = RMSNorm(x)                      # input_layernorm
 *   q, k, v = xn1 @ Wq^T + bq, ...        # q_proj/k_proj/v_proj
 *   q, k = RMSNorm_head(q), RMSNorm_head(k)   (Qwen3 q_norm/k_norm)
 *   q, k = rope(q), rope(k)               # rotate-half layout
 *   ctx = softmax(q k^T / sqrt(hd) + causal) v   (GQA: nh/nkv query heads share a kv head)
 *   x = x + ctx @ Wo^T                    # o_proj
 *   xn2 = RMSNorm(x)                      # post_attention_layernorm
 *   x = x + (silu(xn2 Wg^T) * (xn2 Wu^T)) Wd^T
 * then logits = RMSNorm(x) @ lm_head^T and logp = log_softmax(logits / T)[next token]. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* ---- the activation arena ---- */

/* The next piece of n floats at *off (NULL while only counting), rounded up to 16 floats so that
 * every buffer stays 64-byte aligned. */
static float *take(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

/* The arena's one layout: with base == NULL it only counts the floats; otherwise it points every
 * buffer of a (and of a->layers[0..slots-1]) into base. Sizing and carving are the same walk, so
 * they cannot disagree. Integers (positions, offsets) live in float-sized cells. */
static size_t acts_layout(const policy_config *c, size_t N, size_t att, int max_len, int n_seq, int slots,
                          policy_acts *a, float *base) {
    const size_t H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size, half = c->head_dim / 2;
    const size_t Q = (size_t)c->num_attention_heads * c->head_dim, KV = (size_t)c->num_key_value_heads * c->head_dim;
    const size_t nh = c->num_attention_heads, nkv = c->num_key_value_heads;
    size_t off = 0;
    cpu_layer_acts counting;
    for (int l = 0; l < slots; l++) {
        cpu_layer_acts *L = base ? &a->layers[l] : &counting;
        memset(L, 0, sizeof *L);
        L->x_in = take(base, &off, N * H);
        L->rstd1 = take(base, &off, N);
        L->xn1 = take(base, &off, N * H);
        if (c->qk_norm) {
            L->q_raw = take(base, &off, N * Q);
            L->k_raw = take(base, &off, N * KV);
            L->rstd_q = take(base, &off, N * nh);
            L->rstd_k = take(base, &off, N * nkv);
        }
        L->q = take(base, &off, N * Q);
        L->k = take(base, &off, N * KV);
        L->v = take(base, &off, N * KV);
        L->att = take(base, &off, att);
        L->ctx = take(base, &off, N * Q);
        L->x_mid = take(base, &off, N * H);
        L->rstd2 = take(base, &off, N);
        L->xn2 = take(base, &off, N * H);
        L->gate = take(base, &off, N * F);
        L->up = take(base, &off, N * F);
        L->act = take(base, &off, N * F);
    }
    policy_acts counting_top;
    policy_acts *A = base ? a : &counting_top;
    A->x_out = take(base, &off, N * H);
    A->rstdf = take(base, &off, N);
    A->xnf = take(base, &off, N * H);
    A->logits = take(base, &off, N * V);
    A->cos = take(base, &off, (size_t)max_len * half);
    A->sin = take(base, &off, (size_t)max_len * half);
    A->pos = (int *)take(base, &off, N);
    A->seq_off = (int *)take(base, &off, (size_t)n_seq);
    return off;
}

/* Makes the arena hold total floats (keeps a larger one). */
static int acts_reserve(policy_model *m, policy_acts *a, size_t total, size_t N, grpo_err *err) {
    if (a->cap >= total) return GRPO_OK;
    free(a->mem);
    a->mem = NULL;
    a->cap = 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, total * sizeof(float)) != 0) {
        m->acts_bytes = a->bwd_cap * sizeof(float);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory allocating %.1f MiB of activations for %zu tokens",
                         (double)total * 4 / 1048576.0, N);
    }
    a->mem = p;
    a->cap = total;
    m->acts_bytes = (a->cap + a->bwd_cap) * sizeof(float);
    return GRPO_OK;
}

/* Fills positions, per-sequence offsets and the RoPE tables for b. */
static void acts_fill_positions(const policy_model *m, const policy_batch *b, policy_acts *a) {
    const size_t nh = m->cfg.num_attention_heads, half = m->cfg.head_dim / 2;
    int k = 0;
    size_t aoff = 0;
    for (int s = 0; s < b->n_seq; s++) {
        a->seq_off[s] = k;
        a->att_off[s] = aoff;
        aoff += nh * (size_t)b->seq_len[s] * b->seq_len[s];
        for (int t = 0; t < b->seq_len[s]; t++) a->pos[k++] = t;
    }
    for (int t = 0; t < a->max_len; t++)
        for (size_t i = 0; i < half; i++) {
            float ang = (float)t * m->rope_inv_freq[i];
            a->cos[t * half + i] = cosf(ang);
            a->sin[t * half + i] = sinf(ang);
        }
}

int cpu_acts_prepare(policy_model *m, const policy_batch *b, int keep, grpo_err *err) {
    const policy_config *c = &m->cfg;
    const size_t N = policy_batch_tokens(b), nh = c->num_attention_heads;
    size_t att = 0;
    int max_len = 0;
    for (int s = 0; s < b->n_seq; s++) {
        att += nh * (size_t)b->seq_len[s] * b->seq_len[s];
        if (b->seq_len[s] > max_len) max_len = b->seq_len[s];
    }
    const int slots = keep ? c->num_hidden_layers : 1;
    const size_t total = acts_layout(c, N, att, max_len, b->n_seq, slots, NULL, NULL);

    policy_acts *a = m->acts;
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
        m->acts = a;
    }
    a->keep = 0; /* until this batch's buffers are in place, no backward may use the old ones */
    a->n_tokens = 0;
    int rc = acts_reserve(m, a, total, N, err);
    if (rc) return rc;
    if (a->n_layer_slots < slots) {
        cpu_layer_acts *nl = realloc(a->layers, (size_t)slots * sizeof *nl);
        if (!nl) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
        a->layers = nl;
        a->n_layer_slots = slots;
    }
    if (a->att_off_cap < b->n_seq) {
        size_t *no = realloc(a->att_off, (size_t)b->n_seq * sizeof *no);
        if (!no) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
        a->att_off = no;
        a->att_off_cap = b->n_seq;
    }
    acts_layout(c, N, att, max_len, b->n_seq, slots, a, a->mem);
    a->n_tokens = (int)N;
    a->keep = keep;
    a->max_len = max_len;
    acts_fill_positions(m, b, a);
    return GRPO_OK;
}

void cpu_release(policy_model *m) {
    if (!m->acts) return;
    free(m->acts->mem);
    free(m->acts->bwd);
    free(m->acts->layers);
    free(m->acts->att_off);
    free(m->acts);
    m->acts = NULL;
    m->acts_bytes = 0;
}

/* ---- kernels ---- */

void cpu_linear(float *y, const float *x, const float *W, const float *bias, int N, int in, int out) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++)
            for (int j = 0; j < out; j++) y[(size_t)n * out + j] += bias[j];
    }
}

void cpu_rmsnorm(float *y, float *rstd, const float *x, const float *w, size_t rows, int d, float eps) {
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        double ss = 0.0;
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        float rs = 1.0f / sqrtf((float)(ss / d) + eps);
        rstd[r] = rs;
        for (int i = 0; i < d; i++) yr[i] = w[i] * (xr[i] * rs);
    }
}

void cpu_rope(float *x, int N, int n_heads, int hd, const int *pos, const float *cos, const float *sin, int sign) {
    const int half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *cr = cos + (size_t)pos[n] * half, *sr = sin + (size_t)pos[n] * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)n * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                float x1 = v[i], x2 = v[i + half], c = cr[i], s = sign * sr[i];
                v[i] = x1 * c - x2 * s;
                v[i + half] = x2 * c + x1 * s;
            }
        }
    }
}

/* Causal attention for every (sequence, head): probabilities into L->att, output into L->ctx. */
static void attention_forward(const policy_model *m, const policy_batch *b, const policy_acts *a, cpu_layer_acts *L) {
    const policy_config *c = &m->cfg;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, hd = c->head_dim;
    const int Q = nh * hd, KV = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int units = b->n_seq * nh;
#pragma omp parallel for schedule(dynamic, 1)
    for (int u = 0; u < units; u++) {
        const int s = u / nh, h = u % nh, g = h / group, len = b->seq_len[s], o = a->seq_off[s];
        float *P = L->att + a->att_off[s] + (size_t)h * len * len;
        const float *q = L->q + (size_t)o * Q + h * hd;
        const float *k = L->k + (size_t)o * KV + g * hd;
        const float *v = L->v + (size_t)o * KV + g * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, hd, scale, q, Q, k, KV, 0.0f, P, len);
        for (int i = 0; i < len; i++) {
            float *row = P + (size_t)i * len;
            float mx = row[0];
            for (int j = 1; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
            float sum = 0.0f;
            for (int j = 0; j <= i; j++) {
                row[j] = grpo_expf(row[j] - mx);
                sum += row[j];
            }
            float inv = 1.0f / sum;
            for (int j = 0; j <= i; j++) row[j] *= inv;
            for (int j = i + 1; j < len; j++) row[j] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, hd, len, 1.0f, P, len, v, KV, 0.0f,
                    L->ctx + (size_t)o * Q + h * hd, Q);
    }
}

/* One decoder layer: L->x_in -> x_next. */
static void layer_forward(const policy_model *m, const policy_batch *b, const policy_acts *a, int l, cpu_layer_acts *L,
                          float *x_next) {
    const policy_config *c = &m->cfg;
    const policy_layer *W = &m->w.layers[l];
    const int N = a->n_tokens, H = c->hidden_size, F = c->intermediate_size, hd = c->head_dim;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, Q = nh * hd, KV = nkv * hd;

    cpu_rmsnorm(L->xn1, L->rstd1, L->x_in, W->input_norm, N, H, c->rms_norm_eps);
    if (c->qk_norm) {
        cpu_linear(L->q_raw, L->xn1, W->wq, W->bq, N, H, Q);
        cpu_linear(L->k_raw, L->xn1, W->wk, W->bk, N, H, KV);
        cpu_rmsnorm(L->q, L->rstd_q, L->q_raw, W->q_norm, (size_t)N * nh, hd, c->rms_norm_eps);
        cpu_rmsnorm(L->k, L->rstd_k, L->k_raw, W->k_norm, (size_t)N * nkv, hd, c->rms_norm_eps);
    } else {
        cpu_linear(L->q, L->xn1, W->wq, W->bq, N, H, Q);
        cpu_linear(L->k, L->xn1, W->wk, W->bk, N, H, KV);
    }
    cpu_linear(L->v, L->xn1, W->wv, W->bv, N, H, KV);
    cpu_rope(L->q, N, nh, hd, a->pos, a->cos, a->sin, +1);
    cpu_rope(L->k, N, nkv, hd, a->pos, a->cos, a->sin, +1);
    attention_forward(m, b, a, L);

    /* x_mid = x_in + ctx @ Wo^T (+ bo) */
    memcpy(L->x_mid, L->x_in, (size_t)N * H * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, H, Q, 1.0f, L->ctx, Q, W->wo, Q, 1.0f, L->x_mid, H);
    if (W->bo) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++)
            for (int j = 0; j < H; j++) L->x_mid[(size_t)n * H + j] += W->bo[j];
    }

    cpu_rmsnorm(L->xn2, L->rstd2, L->x_mid, W->post_norm, N, H, c->rms_norm_eps);
    cpu_linear(L->gate, L->xn2, W->w_gate, NULL, N, H, F);
    cpu_linear(L->up, L->xn2, W->w_up, NULL, N, H, F);
    const size_t NI = (size_t)N * F;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NI; i++) {
        float g = L->gate[i];
        L->act[i] = g / (1.0f + grpo_expf(-g)) * L->up[i];
    }
    memcpy(x_next, L->x_mid, (size_t)N * H * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, H, F, 1.0f, L->act, F, W->w_down, F, 1.0f, x_next, H);
}

int cpu_forward(policy_model *m, const policy_batch *b, float temperature, float *logp, float *logits, int keep,
                grpo_err *err) {
    int rc = cpu_acts_prepare(m, b, keep, err);
    if (rc) return rc;
    policy_acts *a = m->acts;
    const policy_config *c = &m->cfg;
    const int N = a->n_tokens, H = c->hidden_size, V = c->vocab_size, nl = c->num_hidden_layers;

    /* x = embed_tokens(ids) */
    float *x0 = a->layers[0].x_in;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) memcpy(x0 + (size_t)n * H, m->w.embed + (size_t)b->tokens[n] * H, H * sizeof(float));

    for (int l = 0; l < nl; l++) {
        cpu_layer_acts *L = &a->layers[keep ? l : 0];
        /* without keep there is one slot, and layer_forward may write its output over its own x_in */
        float *x_next = (l + 1 < nl) ? a->layers[keep ? l + 1 : 0].x_in : a->x_out;
        layer_forward(m, b, a, l, L, x_next);
    }
    cpu_rmsnorm(a->xnf, a->rstdf, a->x_out, m->w.final_norm, N, H, c->rms_norm_eps);
    cpu_linear(a->logits, a->xnf, m->w.lm_head, NULL, N, H, V);
    if (logits) memcpy(logits, a->logits, (size_t)N * V * sizeof(float));

    if (logp) {
        const float invT = 1.0f / temperature;
#pragma omp parallel for schedule(static)
        for (int s = 0; s < b->n_seq; s++) {
            const int o = a->seq_off[s];
            for (int t = 0; t + 1 < b->seq_len[s]; t++) {
                const float *z = a->logits + (size_t)(o + t) * V;
                float mx;
                const double lse = grpo_logsumexp(z, V, invT, &mx);
                logp[o - s + t] = (float)((double)(z[b->tokens[o + t + 1]] * invT) - lse);
            }
        }
    }
    return GRPO_OK;
}

const policy_backend policy_backend_cpu = {
    .name = "cpu",
    .forward = cpu_forward,
    .backward = cpu_backward,
    .forward_step = cpu_forward_step,
    .adamw_step = cpu_adamw_step,
    .release = cpu_release,
    .backward_logits = cpu_backward_logits,
};
