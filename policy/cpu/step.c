/* policy/cpu/step.c: the cached forward on CPU (prefill and decode over KV blocks).
 *
 * Every output element is computed by one fixed sequence of float operations that depends only
 * on its own row: the matrix products use rowdot_gemm (one vector accumulator per output element,
 * the same k order in every tile shape) rather than BLAS, whose blocking changes with the row count.
 * So a sequence's logits, and the tokens sampled from them, are the same whichever other sequences
 * share the step and however many threads run it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "rowdot.h"

typedef float v8 __attribute__((vector_size(32)));

static inline v8 load8(const float *p) {
    v8 r;
    memcpy(&r, p, sizeof r);
    return r;
}

/* Lane sum in a fixed order. */
static inline float hsum8(v8 a) { return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])); }

/* Tail of a dot product past the last multiple of 8, in a fixed order. */
static inline float dot_tail(const float *x, const float *w, int k0, int K) {
    float s = 0.0f;
    for (int k = k0; k < K; k++) s += x[k] * w[k];
    return s;
}

static void rowdot_gemm(float *y, const float *x, const float *W, const float *bias, int M, int K, int N, float *pack) {
    const rowdot_job j = {y, W, bias, N};
    rowdot_multi(&j, 1, x, M, K, pack);
}

/* Dot product of length n with one vector accumulator and a fixed lane order. */
static inline float dot_fixed(const float *a, const float *b, int n) {
    v8 acc = {0};
    const int n8 = n & ~7;
    for (int i = 0; i < n8; i += 8) acc += load8(a + i) * load8(b + i);
    return hsum8(acc) + dot_tail(a, b, n8, n);
}

/* Scratch for one step, sized for R rows. */
typedef struct {
    float *x, *xn, *q, *k, *v, *ctx, *gate, *up, *tmp, *last, *pack;
    int *pos, *seq_of, *own_row;
    float *mem;
} step_scratch;

static int scratch_alloc(step_scratch *S, const policy_config *c, int R, int n_seq) {
    const size_t H = c->hidden_size, F = c->intermediate_size, Q = (size_t)c->num_attention_heads * c->head_dim;
    const size_t KV = (size_t)c->num_key_value_heads * c->head_dim;
    const int Kmax = (int)(F > H ? (F > Q ? F : Q) : (H > Q ? H : Q));
    size_t pack = rowdot_scratch_floats(R, Kmax), pack_lm = rowdot_scratch_floats(n_seq, (int)H);
    size_t sizes[] = {R * H, R * H, R * Q, R * KV, R * KV, R * Q, R * F, R * F, R * H, (size_t)n_seq * H,
                      pack > pack_lm ? pack : pack_lm};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 15) & ~(size_t)15;
    /* 64-byte aligned, and every buffer a multiple of 16 floats: rowdot's packed panels need it */
    size_t bytes = (total * sizeof(float) + 3 * (size_t)R * sizeof(int) + 63) & ~(size_t)63;
    S->mem = aligned_alloc(64, bytes);
    if (!S->mem) return -1;
    float *p = S->mem;
    float **dst[] = {&S->x, &S->xn, &S->q, &S->k, &S->v, &S->ctx, &S->gate, &S->up, &S->tmp, &S->last, &S->pack};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *dst[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    S->pos = (int *)p;
    S->seq_of = S->pos + R;
    S->own_row = S->seq_of + R;
    return 0;
}

/* Attention of every new row over its sequence's prefix and own rows (causal within own). */
static void step_attention(const policy_model *m, const policy_step *st, int l, const step_scratch *S, int R) {
    const policy_config *c = &m->cfg;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, hd = c->head_dim;
    const int Q = nh * hd, KV = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int units = R * nh;
#pragma omp parallel
    {
        float *sc = NULL;
        int sc_cap = 0;
#pragma omp for schedule(dynamic, 4)
        for (int u = 0; u < units; u++) {
            const int r = u / nh, h = u % nh, g = h / group, s = S->seq_of[r];
            const policy_kv_block *pb = st->prefix ? st->prefix[s] : NULL;
            const int pl = pb ? st->prefix_len[s] : 0, ol = S->own_row[r] + 1;
            const policy_kv_block *ob = st->own[s];
            const int n = pl + ol;
            if (n > sc_cap) {
                free(sc);
                sc_cap = n + 64;
                sc = malloc((size_t)sc_cap * sizeof(float));
            }
            const float *q = S->q + (size_t)r * Q + h * hd;
            float mx = -INFINITY;
            for (int j = 0; j < n; j++) {
                const float *kr = j < pl ? pb->k + ((size_t)l * pb->cap + j) * KV + g * hd
                                         : ob->k + ((size_t)l * ob->cap + (j - pl)) * KV + g * hd;
                sc[j] = dot_fixed(q, kr, hd) * scale;
                mx = sc[j] > mx ? sc[j] : mx;
            }
            float sum = 0.0f;
            for (int j = 0; j < n; j++) {
                sc[j] = expf(sc[j] - mx);
                sum += sc[j];
            }
            const float inv = 1.0f / sum;
            float *o = S->ctx + (size_t)r * Q + h * hd;
            for (int i = 0; i < hd; i++) o[i] = 0.0f;
            for (int j = 0; j < n; j++) {
                const float *vr = j < pl ? pb->v + ((size_t)l * pb->cap + j) * KV + g * hd
                                         : ob->v + ((size_t)l * ob->cap + (j - pl)) * KV + g * hd;
                const float p = sc[j] * inv;
                for (int i = 0; i < hd; i++) o[i] += p * vr[i];
            }
        }
        free(sc);
    }
}

static void rope_rows(float *x, int R, int n_heads, int hd, const int *pos, const float *inv_freq) {
    const int half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++)
        for (int i = 0; i < half; i++) {
            float ang = (float)pos[r] * inv_freq[i], cs = cosf(ang), sn = sinf(ang);
            for (int h = 0; h < n_heads; h++) {
                float *v = x + ((size_t)r * n_heads + h) * hd;
                float x1 = v[i], x2 = v[i + half];
                v[i] = x1 * cs - x2 * sn;
                v[i + half] = x2 * cs + x1 * sn;
            }
        }
}

int cpu_forward_step(policy_model *m, const policy_step *st, float *logits, grpo_err *err) {
    const policy_config *c = &m->cfg;
    const int H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size, hd = c->head_dim;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, Q = nh * hd, KV = nkv * hd;
    int R = 0;
    for (int s = 0; s < st->n_seq; s++) R += st->rows[s];
    step_scratch S;
    if (scratch_alloc(&S, c, R, st->n_seq) != 0) return grpo_errf(err, GRPO_ENOMEM, "out of memory for a %d-row step", R);
    for (int s = 0, r = 0; s < st->n_seq; s++) {
        const int pl = st->prefix && st->prefix[s] ? st->prefix_len[s] : 0;
        for (int i = 0; i < st->rows[s]; i++, r++) {
            S.seq_of[r] = s;
            S.own_row[r] = st->own_start[s] + i;
            S.pos[r] = pl + st->own_start[s] + i;
        }
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++) memcpy(S.x + (size_t)r * H, m->w.embed + (size_t)st->tokens[r] * H, H * sizeof(float));

    float *rstd = S.tmp; /* R floats; tmp is free until the MLP */
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const policy_layer *W = &m->w.layers[l];
        cpu_rmsnorm(S.xn, rstd, S.x, W->input_norm, R, H, c->rms_norm_eps);
        const rowdot_job qkv[3] = {{S.q, W->wq, W->bq, Q}, {S.k, W->wk, W->bk, KV}, {S.v, W->wv, W->bv, KV}};
        rowdot_multi(qkv, 3, S.xn, R, H, S.pack);
        if (c->qk_norm) {
            /* in place: each row's norm reads its row before writing it */
            float *rq = malloc((size_t)R * (nh + nkv) * sizeof(float));
            if (!rq) {
                free(S.mem);
                return grpo_errf(err, GRPO_ENOMEM, "out of memory");
            }
            cpu_rmsnorm(S.q, rq, S.q, W->q_norm, (size_t)R * nh, hd, c->rms_norm_eps);
            cpu_rmsnorm(S.k, rq + (size_t)R * nh, S.k, W->k_norm, (size_t)R * nkv, hd, c->rms_norm_eps);
            free(rq);
        }
        rope_rows(S.q, R, nh, hd, S.pos, m->rope_inv_freq);
        rope_rows(S.k, R, nkv, hd, S.pos, m->rope_inv_freq);
        /* append the new rows' K and V to their sequences' own blocks */
        for (int r = 0; r < R; r++) {
            policy_kv_block *ob = st->own[S.seq_of[r]];
            memcpy(ob->k + ((size_t)l * ob->cap + S.own_row[r]) * KV, S.k + (size_t)r * KV, KV * sizeof(float));
            memcpy(ob->v + ((size_t)l * ob->cap + S.own_row[r]) * KV, S.v + (size_t)r * KV, KV * sizeof(float));
        }
        step_attention(m, st, l, &S, R);
        rowdot_gemm(S.tmp, S.ctx, W->wo, W->bo, R, Q, H, S.pack);
        const size_t RH = (size_t)R * H;
        for (size_t i = 0; i < RH; i++) S.x[i] += S.tmp[i];
        cpu_rmsnorm(S.xn, rstd, S.x, W->post_norm, R, H, c->rms_norm_eps);
        const rowdot_job gu[2] = {{S.gate, W->w_gate, NULL, F}, {S.up, W->w_up, NULL, F}};
        rowdot_multi(gu, 2, S.xn, R, H, S.pack);
        const size_t RF = (size_t)R * F;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < RF; i++) {
            float g = S.gate[i];
            S.gate[i] = g / (1.0f + expf(-g)) * S.up[i];
        }
        rowdot_gemm(S.tmp, S.gate, W->w_down, NULL, R, F, H, S.pack);
        for (size_t i = 0; i < RH; i++) S.x[i] += S.tmp[i];
    }
    /* logits of each sequence's last row only */
    for (int s = 0, r = 0; s < st->n_seq; s++) {
        r += st->rows[s];
        memcpy(S.xn + (size_t)s * H, S.x + (size_t)(r - 1) * H, H * sizeof(float));
    }
    cpu_rmsnorm(S.last, rstd, S.xn, m->w.final_norm, st->n_seq, H, c->rms_norm_eps);
    rowdot_gemm(logits, S.last, m->w.lm_head, NULL, st->n_seq, H, V, S.pack);
    free(S.mem);
    return GRPO_OK;
}
