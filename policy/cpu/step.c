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
    float *x, *xn, *q, *k, *v, *ctx, *gate, *up, *tmp, *last, *pack, *rope;
    int *pos, *seq_of, *own_row;
    float *mem;
} step_scratch;

static int scratch_alloc(step_scratch *S, const policy_config *c, int R, int n_seq) {
    const size_t H = c->hidden_size, F = c->intermediate_size, Q = (size_t)c->num_attention_heads * c->head_dim;
    const size_t KV = (size_t)c->num_key_value_heads * c->head_dim;
    const int Kmax = (int)(F > H ? (F > Q ? F : Q) : (H > Q ? H : Q));
    size_t pack = rowdot_scratch_floats(R, Kmax), pack_lm = rowdot_scratch_floats(n_seq, (int)H);
    size_t sizes[] = {R * H, R * H, R * Q, R * KV, R * KV, R * Q, R * F, R * F, R * H, (size_t)n_seq * H,
                      pack > pack_lm ? pack : pack_lm, R * (size_t)c->head_dim};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 15) & ~(size_t)15;
    /* 64-byte aligned, and every buffer a multiple of 16 floats: rowdot's packed panels need it */
    size_t bytes = (total * sizeof(float) + 3 * (size_t)R * sizeof(int) + 63) & ~(size_t)63;
    S->mem = aligned_alloc(64, bytes);
    if (!S->mem) return -1;
    float *p = S->mem;
    float **dst[] = {&S->x, &S->xn, &S->q, &S->k, &S->v, &S->ctx, &S->gate, &S->up, &S->tmp, &S->last, &S->pack, &S->rope};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *dst[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    S->pos = (int *)p;
    S->seq_of = S->pos + R;
    S->own_row = S->seq_of + R;
    return 0;
}

typedef float v16 __attribute__((vector_size(64)));

static inline v16 load16(const float *p) {
    v16 r;
    memcpy(&r, p, sizeof r);
    return r;
}

/* Lane sum in a fixed order. */
static inline float hsum16(v16 a) {
    const v8 lo = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7);
    const v8 hi = __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
    return hsum8(lo + hi);
}

/* out[t] = the lane sum of p[t], for 16 vectors at once: pairs of lanes, then lanes of 128-bit
 * quarters, then quarters. The additions that make out[t] depend only on p[t] (the same for
 * every t and every block), so a zero-padded block gives its real entries unchanged. */
static inline v16 lanesum16x16(const v16 *p) {
    v16 x[8], y[4], z[2];
    for (int i = 0; i < 8; i++)
        x[i] = __builtin_shufflevector(p[2 * i], p[2 * i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29) +
               __builtin_shufflevector(p[2 * i], p[2 * i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
    for (int i = 0; i < 4; i++)
        y[i] = __builtin_shufflevector(x[2 * i], x[2 * i + 1], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
               __builtin_shufflevector(x[2 * i], x[2 * i + 1], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    /* y[i] lane quarter Q holds keys 4i..4i+3's sums over quarter Q */
    for (int i = 0; i < 2; i++)
        z[i] = __builtin_shufflevector(y[2 * i], y[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
               __builtin_shufflevector(y[2 * i], y[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    /* z[i] = [keys 8i..+3 over quarters 0+1, over 2+3, keys 8i+4..+7 over 0+1, over 2+3] */
    return __builtin_shufflevector(z[0], z[1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
           __builtin_shufflevector(z[0], z[1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
}

/* The keys (and values) a row attends to: the prompt's shared block, then its own rows. The
 * result never depends on where the split lies (sharing on or off gives the same numbers):
 * every per-key step below is indexed by the key's position j in the whole context. */
typedef struct {
    const float *k[2], *v[2]; /* first row of each segment, this layer and kv head */
    int n[2];                 /* rows in each segment */
    int stride;               /* floats between rows */
} att_ctx;

/* One head of one row for any head_dim, one key at a time (the same steps as below). */
static void att_head_any(int hd, const float *q, const att_ctx *a, float scale, float *sc, float *o) {
    int n = 0;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < a->n[s]; i++) sc[n++] = dot_fixed(q, a->k[s] + (size_t)i * a->stride, hd) * scale;
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) mx = sc[j] > mx ? sc[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        sc[j] = cpu_expf(sc[j] - mx);
        sum += sc[j];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < hd; i++) o[i] = 0.0f;
    for (int s = 0, j = 0; s < 2; s++)
        for (int i = 0; i < a->n[s]; i++, j++) {
            const float *vr = a->v[s] + (size_t)i * a->stride, p = sc[j] * inv;
            for (int d = 0; d < hd; d++) o[d] += p * vr[d];
        }
}

/* HC heads of one row that share a kv head, hd = 16 * ND. Scores s_j = (q . k_j) / sqrt(hd): a
 * fixed FMA chain over 16-lane chunks, then lanesum16x16, blocks of 16 keys read once for all HC
 * heads. Softmax: e_j = exp(s_j - max), their sum taken in 16 lanes by j, then a fixed lane sum.
 * o = (sum_j e_j v_j, in j order) / sum, each v_j loaded once for all HC heads. sc holds HC rows
 * of n floats. */
static inline __attribute__((always_inline)) void att_group16(const int ND, const int HC, const float *q, int hd,
                                                              const att_ctx *a, float scale, float *sc, float *o) {
    const int n = a->n[0] + a->n[1];
    const size_t st = (size_t)a->stride;
    int j = 0;
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < a->n[s]; i += 16) {
            const int nb = a->n[s] - i < 16 ? a->n[s] - i : 16;
            const float *kr = a->k[s] + (size_t)i * st;
            for (int t = 16; t < 32 && i + t < a->n[s]; t++) /* the next block's keys */
                for (int d = 0; d < ND; d++) __builtin_prefetch(kr + (size_t)t * st + 16 * d, 0, 3);
            for (int h = 0; h < HC; h++) {
                v16 qv[8];
#pragma GCC unroll 8
                for (int d = 0; d < ND; d++) qv[d] = load16(q + (size_t)h * hd + 16 * d);
                v16 p[16];
#pragma GCC unroll 16
                for (int t = 0; t < 16; t++) {
                    if (t < nb) {
                        const float *kt = kr + (size_t)t * st;
                        p[t] = qv[0] * load16(kt);
#pragma GCC unroll 8
                        for (int d = 1; d < ND; d++) p[t] += qv[d] * load16(kt + 16 * d);
                    } else {
                        p[t] = (v16){0};
                    }
                }
                const v16 w = lanesum16x16(p) * scale;
                memcpy(sc + (size_t)h * n + j, &w, (size_t)nb * sizeof(float));
            }
            j += nb;
        }
    }
    float inv[8];
    for (int h = 0; h < HC; h++) {
        float *e = sc + (size_t)h * n, m16[16], mx = -INFINITY;
        for (int l = 0; l < 16; l++) m16[l] = -INFINITY;
        for (j = 0; j + 16 <= n; j += 16) /* 16 lanes so that it vectorizes; max is exact in any order */
            for (int l = 0; l < 16; l++) m16[l] = e[j + l] > m16[l] ? e[j + l] : m16[l];
        for (int l = 0; l < 16; l++) mx = m16[l] > mx ? m16[l] : mx;
        for (; j < n; j++) mx = e[j] > mx ? e[j] : mx;
        for (j = 0; j < n; j++) e[j] = cpu_expf(e[j] - mx);
        v16 sum16 = {0};
        for (j = 0; j + 16 <= n; j += 16) sum16 += load16(e + j);
        float sum = hsum16(sum16);
        for (; j < n; j++) sum += e[j];
        inv[h] = 1.0f / sum;
    }
    v16 acc[8][8];
#pragma GCC unroll 8
    for (int h = 0; h < HC; h++)
#pragma GCC unroll 8
        for (int d = 0; d < ND; d++) acc[h][d] = (v16){0};
    j = 0;
    for (int s = 0; s < 2; s++) {
        const float *vr = a->v[s];
        for (int i = 0; i < a->n[s]; i++, j++) {
            if (i + 8 < a->n[s])
                for (int d = 0; d < ND; d++) __builtin_prefetch(vr + (size_t)(i + 8) * st + 16 * d, 0, 3);
            v16 vv[8];
#pragma GCC unroll 8
            for (int d = 0; d < ND; d++) vv[d] = load16(vr + (size_t)i * st + 16 * d);
#pragma GCC unroll 8
            for (int h = 0; h < HC; h++) {
                const float p = sc[(size_t)h * n + j];
#pragma GCC unroll 8
                for (int d = 0; d < ND; d++) acc[h][d] += p * vv[d];
            }
        }
    }
#pragma GCC unroll 8
    for (int h = 0; h < HC; h++)
#pragma GCC unroll 8
        for (int d = 0; d < ND; d++) {
            const v16 r = acc[h][d] * inv[h];
            memcpy(o + (size_t)h * hd + 16 * d, &r, sizeof r);
        }
}

/* Dispatches to a specialized att_group16: hc (1..6, and hc * hd <= 384) heads at a time. */
#define ATT_CASES(ND)                                                              \
    switch (hc) {                                                                  \
    case 1: att_group16(ND, 1, q, hd, a, scale, sc, o); return;                   \
    case 2: att_group16(ND, 2, q, hd, a, scale, sc, o); return;                   \
    case 3: att_group16(ND, 3, q, hd, a, scale, sc, o); return;                   \
    case 4: if (ND <= 4) { att_group16(ND, 4, q, hd, a, scale, sc, o); return; } break; \
    case 5: if (ND <= 4) { att_group16(ND, 5, q, hd, a, scale, sc, o); return; } break; \
    case 6: if (ND <= 4) { att_group16(ND, 6, q, hd, a, scale, sc, o); return; } break; \
    }
static int att_heads_per_call(int hd) { return hd > 64 ? 3 : 6; }
static void att_group(int hd, int hc, const float *q, const att_ctx *a, float scale, float *sc, float *o) {
    switch (hd) {
    case 16: ATT_CASES(1) break;
    case 32: ATT_CASES(2) break;
    case 64: ATT_CASES(4) break;
    case 128: ATT_CASES(8) break;
    }
    for (int h = 0; h < hc; h++) att_head_any(hd, q + (size_t)h * hd, a, scale, sc, o + (size_t)h * hd);
}

/* Attention of every new row over its sequence's prefix and own rows (causal within own). Work
 * units are (row, kv head, chunk of its query heads). */
static void step_attention(const policy_model *m, const policy_step *st, int l, const step_scratch *S, int R) {
    const policy_config *c = &m->cfg;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, hd = c->head_dim;
    const int Q = nh * hd, KV = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int fast = hd == 16 || hd == 32 || hd == 64 || hd == 128;
    const int hc = fast ? (group < att_heads_per_call(hd) ? group : att_heads_per_call(hd)) : 1;
    const int chunks = (group + hc - 1) / hc, units = R * nkv * chunks;
#pragma omp parallel
    {
        float *sc = NULL;
        int sc_cap = 0;
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < units; u++) {
            const int r = u / (nkv * chunks), g = u / chunks % nkv, h0 = g * group + u % chunks * hc;
            const int nhc = g * group + group - h0 < hc ? g * group + group - h0 : hc, s = S->seq_of[r];
            const policy_kv_block *pb = st->prefix ? st->prefix[s] : NULL, *ob = st->own[s];
            att_ctx a = {.stride = KV};
            a.n[0] = pb ? st->prefix_len[s] : 0;
            a.n[1] = S->own_row[r] + 1;
            a.k[0] = pb ? pb->k + (size_t)l * pb->cap * KV + g * hd : NULL;
            a.v[0] = pb ? pb->v + (size_t)l * pb->cap * KV + g * hd : NULL;
            a.k[1] = ob->k + (size_t)l * ob->cap * KV + g * hd;
            a.v[1] = ob->v + (size_t)l * ob->cap * KV + g * hd;
            const int n = a.n[0] + a.n[1];
            if ((size_t)n * nhc > (size_t)sc_cap) {
                free(sc);
                sc_cap = (n + 64) * hc;
                sc = malloc((size_t)sc_cap * sizeof(float));
            }
            const float *q = S->q + (size_t)r * Q + h0 * hd;
            float *o = S->ctx + (size_t)r * Q + h0 * hd;
            if (fast) att_group(hd, nhc, q, &a, scale, sc, o);
            else att_head_any(hd, q, &a, scale, sc, o);
        }
        free(sc);
    }
}

/* cs[r] = cos, then sin, of pos[r] * inv_freq[i] for i < hd/2. */
static void rope_tables(float *cs, int R, int hd, const int *pos, const float *inv_freq) {
    const int half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++)
        for (int i = 0; i < half; i++) {
            const float ang = (float)pos[r] * inv_freq[i];
            cs[(size_t)r * hd + i] = cosf(ang);
            cs[(size_t)r * hd + half + i] = sinf(ang);
        }
}

/* Rotates pairs (i, i + hd/2) of every head of q and k by the row's angles. */
static void rope_qk(float *q, float *k, int R, int nh, int nkv, int hd, const float *cs) {
    const int half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++) {
        const float *c = cs + (size_t)r * hd, *sn = c + half;
        for (int h = 0; h < nh + nkv; h++) {
            float *v = h < nh ? q + ((size_t)r * nh + h) * hd : k + ((size_t)r * nkv + h - nh) * hd;
            for (int i = 0; i < half; i++) {
                const float x1 = v[i], x2 = v[i + half];
                v[i] = x1 * c[i] - x2 * sn[i];
                v[i + half] = x2 * c[i] + x1 * sn[i];
            }
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

    rope_tables(S.rope, R, hd, S.pos, m->rope_inv_freq);
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
        rope_qk(S.q, S.k, R, nh, nkv, hd, S.rope);
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
            S.gate[i] = g / (1.0f + cpu_expf(-g)) * S.up[i];
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
