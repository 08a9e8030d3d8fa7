/* policy/cpu/backward.c: the fp32 reference backward pass on CPU.
 *
 * Input: dL/dlogp for every target (packed like the forward's logp) at temperature T,
 *   dL/dlogits[n, v] = dlogp[n] / T * (onehot(next token)[v] - softmax(logits[n] / T)[v]),
 * or dL/dlogits itself for every target (cpu_backward_logits: soft targets, grpo/gkd.c). Then back through lm_head, the final norm, each layer in reverse order, and the embedding.
 * Gradients accumulate (+=) into m->grad_mem; tied embeddings receive both contributions. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* dW[out, in] += dy[N, out]^T @ x[N, in]; db[out] += sum_n dy[n, :]; dx[N, in] (+)= dy @ W */
static void linear_backward(float *dx, float dx_beta, float *dW, float *db, const float *dy, const float *x,
                            const float *W, int N, int in, int out) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, N, 1.0f, dy, out, x, in, 1.0f, dW, in);
    if (db) {
#pragma omp parallel for schedule(static)
        for (int j = 0; j < out; j++) {
            float s = 0.0f;
            for (int n = 0; n < N; n++) s += dy[(size_t)n * out + j];
            db[j] += s;
        }
    }
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out, 1.0f, dy, out, W, in, dx_beta, dx, in);
}

/* RMSNorm backward for rows of width d: y = w * x * rstd.
 * dx (+)= rstd * (dy*w) - x * rstd^3 / d * sum(dy*w*x); dw += sum_rows dy * x * rstd.
 * accumulate != 0 adds into dx (the residual stream), else overwrites it. */
static void rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                             size_t rows, int d, int accumulate, float *dw_scratch) {
    int used = 1;
#pragma omp parallel
    {
        /* this thread's partial dw: its own row of dw_scratch ([threads][d], from the scratch table) */
        float *dw_local = dw_scratch + (size_t)omp_get_thread_num() * d;
        memset(dw_local, 0, (size_t)d * sizeof(float));
#pragma omp single nowait
        used = omp_get_num_threads();
#pragma omp for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * d, *dyr = dy + r * d;
            float *dxr = dx + r * d;
            const float rs = rstd[r];
            double dot = 0.0;
            for (int i = 0; i < d; i++) dot += (double)dyr[i] * w[i] * xr[i];
            const float k = (float)(dot * rs * rs * rs / d);
            for (int i = 0; i < d; i++) {
                float g = dyr[i] * w[i] * rs - xr[i] * k;
                dxr[i] = accumulate ? dxr[i] + g : g;
                dw_local[i] += dyr[i] * xr[i] * rs;
            }
        }
    }
    /* partial sums added in thread order, so dw does not depend on which thread finished first */
    for (int t = 0; t < used; t++)
        for (int i = 0; i < d; i++) dw[i] += dw_scratch[(size_t)t * d + i];
}

typedef struct {
    float *dx;      /* [N, H] gradient of the residual stream */
    float *dxn;     /* [N, H] */
    float *dq;      /* [N, Q] */
    float *dk;      /* [N, KV] */
    float *dv;      /* [N, KV] */
    float *dctx;    /* [N, Q] */
    float *dgate;   /* [N, F] */
    float *dup;     /* [N, F] */
    float *dqr;     /* [N, Q] before q_norm (Qwen3) */
    float *dkr;     /* [N, KV] */
    float *dP;      /* [threads, max_len^2] */
    float *dw;      /* [threads, max(H, head_dim)] per-thread partial RMSNorm weight gradients */
} grads_scratch;

/* Attention backward for every (sequence, kv head): the query heads of one group write
 * disjoint dq slices and share the dk/dv slice of their kv head, so a unit owns all of them. */
static void attention_backward(const policy_model *m, const policy_batch *b, const policy_acts *a,
                               const cpu_layer_acts *L, grads_scratch *G) {
    const policy_config *c = &m->cfg;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, hd = c->head_dim;
    const int Q = nh * hd, KV = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int units = b->n_seq * nkv;
    const size_t ml2 = (size_t)a->max_len * a->max_len;
    memset(G->dk, 0, (size_t)a->n_tokens * KV * sizeof(float));
    memset(G->dv, 0, (size_t)a->n_tokens * KV * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1)
    for (int u = 0; u < units; u++) {
        const int s = u / nkv, g = u % nkv, len = b->seq_len[s], o = a->seq_off[s];
        float *dP = G->dP + (size_t)omp_get_thread_num() * ml2;
        const float *k = L->k + (size_t)o * KV + g * hd, *v = L->v + (size_t)o * KV + g * hd;
        float *dk = G->dk + (size_t)o * KV + g * hd, *dv = G->dv + (size_t)o * KV + g * hd;
        for (int h = g * group; h < (g + 1) * group; h++) {
            const float *P = L->att + a->att_off[s] + (size_t)h * len * len;
            const float *q = L->q + (size_t)o * Q + h * hd;
            const float *dO = G->dctx + (size_t)o * Q + h * hd;
            float *dq = G->dq + (size_t)o * Q + h * hd;
            /* dV += P^T dO ; dP = dO V^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, len, hd, len, 1.0f, P, len, dO, Q, 1.0f, dv, KV);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, hd, 1.0f, dO, Q, v, KV, 0.0f, dP, len);
            /* dS = P * (dP - rowsum(P * dP)), scaled into the logits' units */
            for (int i = 0; i < len; i++) {
                const float *pr = P + (size_t)i * len;
                float *dr = dP + (size_t)i * len;
                float dot = 0.0f;
                for (int j = 0; j <= i; j++) dot += pr[j] * dr[j];
                for (int j = 0; j <= i; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
                for (int j = i + 1; j < len; j++) dr[j] = 0.0f;
            }
            /* dQ = dS K ; dK += dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, hd, len, 1.0f, dP, len, k, KV, 0.0f, dq, Q);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, len, hd, len, 1.0f, dP, len, q, Q, 1.0f, dk, KV);
        }
    }
}

/* One layer backward: on entry G->dx holds dL/d(layer output); on exit dL/d(layer input). */
static void layer_backward(policy_model *m, const policy_batch *b, const policy_acts *a, int l, const cpu_layer_acts *L,
                           grads_scratch *G) {
    const policy_config *c = &m->cfg;
    const policy_layer *W = &m->w.layers[l];
    policy_layer *D = &m->g.layers[l];
    const int N = a->n_tokens, H = c->hidden_size, F = c->intermediate_size, hd = c->head_dim;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, Q = nh * hd, KV = nkv * hd;
    const size_t NI = (size_t)N * F;

    /* MLP: out = x_mid + act @ Wd^T, act = silu(gate) * up */
    float *dact = G->dgate; /* reuse: dact is consumed element-wise into dgate/dup below */
    linear_backward(NULL, 0.0f, D->w_down, NULL, G->dx, L->act, W->w_down, N, F, H);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, F, H, 1.0f, G->dx, H, W->w_down, F, 0.0f, dact, F);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NI; i++) {
        float g = L->gate[i], sg = 1.0f / (1.0f + grpo_expf(-g)), da = dact[i];
        G->dup[i] = da * g * sg;
        G->dgate[i] = da * L->up[i] * sg * (1.0f + g * (1.0f - sg));
    }
    linear_backward(G->dxn, 0.0f, D->w_gate, NULL, G->dgate, L->xn2, W->w_gate, N, H, F);
    linear_backward(G->dxn, 1.0f, D->w_up, NULL, G->dup, L->xn2, W->w_up, N, H, F);
    rmsnorm_backward(G->dx, D->post_norm, G->dxn, L->x_mid, W->post_norm, L->rstd2, N, H, 1, G->dw);

    /* attention output: x_mid = x_in + ctx @ Wo^T + bo */
    linear_backward(G->dctx, 0.0f, D->wo, D->bo, G->dx, L->ctx, W->wo, N, Q, H);
    attention_backward(m, b, a, L, G);
    cpu_rope(G->dq, N, nh, hd, a->pos, a->cos, a->sin, -1);
    cpu_rope(G->dk, N, nkv, hd, a->pos, a->cos, a->sin, -1);
    const float *dq = G->dq, *dk = G->dk;
    if (c->qk_norm) {
        rmsnorm_backward(G->dqr, D->q_norm, G->dq, L->q_raw, W->q_norm, L->rstd_q, (size_t)N * nh, hd, 0, G->dw);
        rmsnorm_backward(G->dkr, D->k_norm, G->dk, L->k_raw, W->k_norm, L->rstd_k, (size_t)N * nkv, hd, 0, G->dw);
        dq = G->dqr;
        dk = G->dkr;
    }
    linear_backward(G->dxn, 0.0f, D->wq, D->bq, dq, L->xn1, W->wq, N, H, Q);
    linear_backward(G->dxn, 1.0f, D->wk, D->bk, dk, L->xn1, W->wk, N, H, KV);
    linear_backward(G->dxn, 1.0f, D->wv, D->bv, G->dv, L->xn1, W->wv, N, H, KV);
    rmsnorm_backward(G->dx, D->input_norm, G->dxn, L->x_in, W->input_norm, L->rstd1, N, H, 1, G->dw);
}

/* The backward below the logits: on entry a->logits holds dL/dlogits [N, V]; back through lm_head, the
 * final norm, the layers and the embedding. */
static int backward_from_logits(policy_model *m, const policy_batch *b, grpo_err *err) {
    policy_acts *a = m->acts;
    const policy_config *c = &m->cfg;
    const int N = a->n_tokens, H = c->hidden_size, F = c->intermediate_size;
    const int Q = c->num_attention_heads * c->head_dim, KV = c->num_key_value_heads * c->head_dim;
    const int nthreads = omp_get_max_threads();
    const size_t sizes[] = {(size_t)N * H, (size_t)N * H, (size_t)N * Q, (size_t)N * KV, (size_t)N * KV,
                            (size_t)N * Q, (size_t)N * F, (size_t)N * F, c->qk_norm ? (size_t)N * Q : 0,
                            c->qk_norm ? (size_t)N * KV : 0, (size_t)nthreads * a->max_len * a->max_len,
                            (size_t)nthreads * (H > c->head_dim ? H : c->head_dim)};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 15) & ~(size_t)15;
    /* kept between calls (freed by cpu_release): a fresh allocation of this size would be fresh
     * pages, zeroed by the kernel on first touch, at every micro-batch */
    if (a->bwd_cap < total) {
        free(a->bwd);
        a->bwd = NULL;
        a->bwd_cap = 0;
        if (posix_memalign((void **)&a->bwd, 64, total * sizeof(float)) != 0) {
            a->bwd = NULL;
            m->acts_bytes = a->cap * sizeof(float);
            a->keep = 0; /* the logits may already hold gradients */
            return grpo_errf(err, GRPO_ENOMEM, "out of memory allocating %.1f MiB of backward scratch",
                             (double)total * 4 / 1048576.0);
        }
        a->bwd_cap = total;
        m->acts_bytes = (a->cap + a->bwd_cap) * sizeof(float);
    }
    float *mem = a->bwd;
    float *ptrs[sizeof sizes / sizeof sizes[0]];
    float *p = mem;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ptrs[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    grads_scratch G = {ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], ptrs[5], ptrs[6], ptrs[7], ptrs[8], ptrs[9], ptrs[10], ptrs[11]};
    /* logits = xnf @ lm_head^T */
    linear_backward(G.dxn, 0.0f, m->g.lm_head, NULL, a->logits, a->xnf, m->w.lm_head, N, H, c->vocab_size);
    rmsnorm_backward(G.dx, m->g.final_norm, G.dxn, a->x_out, m->w.final_norm, a->rstdf, N, H, 0, G.dw);
    for (int l = c->num_hidden_layers - 1; l >= 0; l--) layer_backward(m, b, a, l, &a->layers[l], &G);
    /* embedding: scatter-add rows; parallel over columns so that repeated tokens never race */
#pragma omp parallel for schedule(static)
    for (int j = 0; j < H; j++)
        for (int n = 0; n < N; n++) m->g.embed[(size_t)b->tokens[n] * H + j] += G.dx[(size_t)n * H + j];
    /* the logits buffer now holds gradients: a second backward needs a new forward */
    a->keep = 0;
    return GRPO_OK;
}

static int check_kept(const policy_model *m, const policy_batch *b, grpo_err *err) {
    const policy_acts *a = m->acts;
    if (!a || !a->keep || a->n_tokens != (int)policy_batch_tokens(b))
        return grpo_errf(err, GRPO_EINVAL, "backward needs a forward with keep on the same batch first");
    return GRPO_OK;
}

int cpu_backward(policy_model *m, const policy_batch *b, float temperature, const float *dlogp, grpo_err *err) {
    int rc = check_kept(m, b, err);
    if (rc) return rc;
    policy_acts *a = m->acts;
    const int V = m->cfg.vocab_size;
    /* dlogits, in place over the saved logits */
    const float invT = 1.0f / temperature;
#pragma omp parallel for schedule(static)
    for (int s = 0; s < b->n_seq; s++) {
        const int o = a->seq_off[s], len = b->seq_len[s];
        for (int t = 0; t < len; t++) {
            float *z = a->logits + (size_t)(o + t) * V;
            if (t + 1 == len) {
                memset(z, 0, (size_t)V * sizeof(float));
                continue;
            }
            const float w = dlogp[o - s + t] * invT;
            float mx;
            const double lse = grpo_logsumexp(z, V, invT, &mx);
            /* z becomes -w * softmax(z / T), the softmax taken from the log-sum-exp */
            const float shift = (float)(lse - mx), nw = -w;
            for (int v = 0; v < V; v++) z[v] = nw * grpo_expf(z[v] * invT - mx - shift);
            z[b->tokens[o + t + 1]] += w;
        }
    }
    return backward_from_logits(m, b, err);
}

int cpu_backward_logits(policy_model *m, const policy_batch *b, const float *dlogits, grpo_err *err) {
    int rc = check_kept(m, b, err);
    if (rc) return rc;
    policy_acts *a = m->acts;
    const size_t V = (size_t)m->cfg.vocab_size;
    memcpy(a->logits, dlogits, (size_t)a->n_tokens * V * sizeof(float));
    /* each sequence's last row predicts nothing */
    for (int s = 0; s < b->n_seq; s++) memset(a->logits + (size_t)(a->seq_off[s] + b->seq_len[s] - 1) * V, 0, V * sizeof(float));
    return backward_from_logits(m, b, err);
}
