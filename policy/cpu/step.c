/* policy/cpu/step.c: the cached forward on CPU (prefill and decode over KV blocks).
 *
 * Every output element is computed by one fixed sequence of float operations that depends only
 * on its own row: the matrix products use rowdot_gemm (one vector accumulator per output element,
 * the same k order in every tile shape) rather than BLAS, whose blocking changes with the row count.
 * So a sequence's logits, and the tokens sampled from them, are the same whichever other sequences
 * share the step and however many threads run it. */
#include <math.h>
#include <omp.h>
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
    float *sc;        /* attention scores: per thread sc_stride floats (every head of the longest context) */
    size_t sc_stride;
    int *pos, *seq_of, *own_row, *last_of;
    float *mem;
} step_scratch;

static int scratch_alloc(step_scratch *S, const policy_config *c, int R, int n_seq, int max_ctx) {
    const size_t H = c->hidden_size, F = c->intermediate_size, Q = (size_t)c->num_attention_heads * c->head_dim;
    const size_t KV = (size_t)c->num_key_value_heads * c->head_dim;
    const int Kmax = (int)(F > H ? (F > Q ? F : Q) : (H > Q ? H : Q));
    size_t pack = rowdot_scratch_floats(R, Kmax), pack_lm = rowdot_scratch_floats(n_seq, (int)H);
    S->sc_stride = ((size_t)max_ctx * c->num_attention_heads + 15) & ~(size_t)15;
    size_t sizes[] = {R * H, R * H, R * Q, R * KV, R * KV, R * Q, R * F, R * F, R * H, (size_t)n_seq * H,
                      pack > pack_lm ? pack : pack_lm, R * (size_t)c->head_dim,
                      (size_t)omp_get_max_threads() * S->sc_stride};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 15) & ~(size_t)15;
    /* 64-byte aligned, and every buffer a multiple of 16 floats: rowdot's packed panels need it */
    size_t bytes = (total * sizeof(float) + 4 * (size_t)R * sizeof(int) + 63) & ~(size_t)63;
    S->mem = aligned_alloc(64, bytes);
    if (!S->mem) return -1;
    float *p = S->mem;
    float **dst[] = {&S->x,   &S->xn,  &S->q,    &S->k,    &S->v,    &S->ctx,  &S->gate,
                     &S->up,  &S->tmp, &S->last, &S->pack, &S->rope, &S->sc};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *dst[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    S->pos = (int *)p;
    S->seq_of = S->pos + R;
    S->own_row = S->seq_of + R;
    S->last_of = S->own_row + R;
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
        sc[j] = grpo_expf(sc[j] - mx);
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

/* One head's scores against a block of nb <= 16 keys at kr, kr + st, ... (hd = 16 * ND):
 * (q . k_t) * scale, each a fixed FMA chain over 16-lane chunks, then lanesum16x16; padding keys
 * are zeros that change nothing. nb floats into out. */
static inline __attribute__((always_inline)) void block_scores16(const int ND, const float *qh, const float *kr,
                                                                 size_t st, int nb, float scale, float *out) {
    v16 qv[8];
#pragma GCC unroll 8
    for (int d = 0; d < ND; d++) qv[d] = load16(qh + 16 * d);
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
    memcpy(out, &w, (size_t)nb * sizeof(float));
}

/* e[j] = exp(s[j] - max) in place over one head's n scores; returns 1 / sum_j e[j], the sum taken
 * in 16 lanes by j, then a fixed lane sum. */
static inline float softmax_unnormalized(float *e, int n) {
    float m16[16], mx = -INFINITY;
    int j;
    for (int l = 0; l < 16; l++) m16[l] = -INFINITY;
    for (j = 0; j + 16 <= n; j += 16) /* 16 lanes so that it vectorizes; max is exact in any order */
        for (int l = 0; l < 16; l++) m16[l] = e[j + l] > m16[l] ? e[j + l] : m16[l];
    for (int l = 0; l < 16; l++) mx = m16[l] > mx ? m16[l] : mx;
    for (; j < n; j++) mx = e[j] > mx ? e[j] : mx;
    for (j = 0; j < n; j++) e[j] = grpo_expf(e[j] - mx);
    v16 sum16 = {0};
    for (j = 0; j + 16 <= n; j += 16) sum16 += load16(e + j);
    float sum = hsum16(sum16);
    for (; j < n; j++) sum += e[j];
    return 1.0f / sum;
}

/* All heads of one row, when its nkv kv heads of G query heads each (hd = 16 * ND) fit in
 * registers. Scores s_j = (q . k_j) / sqrt(hd) in blocks of 16 keys (block_scores16); softmax:
 * e_j = exp(s_j - max), their sum in 16 lanes by j, then a fixed lane sum; o = (sum_j e_j v_j, in
 * j order) / sum. The same operations for every head, whatever NKV and G; each key
 * and value row is read once, whole, for every head. The cache rows of one layer are contiguous,
 * so the row's context is one sequential stream per segment; decode attention is bound by
 * fetching that stream from L3, which the prefetches (a block of keys ahead, and the values
 * while the scores are computed) keep in flight. sc holds NKV * G rows of n floats. */
static inline __attribute__((always_inline)) void att_row16(const int ND, const int NKV, const int G, const float *q,
                                                            const att_ctx *a, float scale, float *sc, float *o) {
    enum { LINE = 16 }; /* floats per cache line */
    const int n = a->n[0] + a->n[1], hd = 16 * ND, KV = NKV * hd;
    const size_t st = (size_t)a->stride;
    int j = 0;
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < a->n[s]; i += 16) {
            const int nb = a->n[s] - i < 16 ? a->n[s] - i : 16;
            const float *kr = a->k[s] + (size_t)i * st, *vb = a->v[s] + (size_t)i * st;
            for (int t = 16; t < 32 && i + t < a->n[s]; t++) /* the next block's keys */
                for (int d = 0; d < KV; d += LINE) __builtin_prefetch(kr + (size_t)t * st + d, 0, 3);
            for (int t = 0; t < nb; t++) /* this block's values, read after the softmax */
                for (int d = 0; d < KV; d += LINE) __builtin_prefetch(vb + (size_t)t * st + d, 0, 3);
#pragma GCC unroll 8
            for (int g = 0; g < NKV; g++)
#pragma GCC unroll 8
                for (int hh = 0; hh < G; hh++) {
                    const int h = g * G + hh;
                    block_scores16(ND, q + (size_t)h * hd, kr + g * hd, st, nb, scale, sc + (size_t)h * n + j);
                }
            j += nb;
        }
    }
    float inv[16];
    for (int h = 0; h < NKV * G; h++) inv[h] = softmax_unnormalized(sc + (size_t)h * n, n);
    v16 acc[16][8];
#pragma GCC unroll 16
    for (int h = 0; h < NKV * G; h++)
#pragma GCC unroll 8
        for (int d = 0; d < ND; d++) acc[h][d] = (v16){0};
    j = 0;
    for (int s = 0; s < 2; s++) {
        const float *vr = a->v[s];
        for (int i = 0; i < a->n[s]; i++, j++) {
#pragma GCC unroll 8
            for (int g = 0; g < NKV; g++) {
                v16 vv[8];
#pragma GCC unroll 8
                for (int d = 0; d < ND; d++) vv[d] = load16(vr + (size_t)i * st + g * hd + 16 * d);
#pragma GCC unroll 8
                for (int hh = 0; hh < G; hh++) {
                    const int h = g * G + hh;
                    const float p = sc[(size_t)h * n + j];
#pragma GCC unroll 8
                    for (int d = 0; d < ND; d++) acc[h][d] += p * vv[d];
                }
            }
        }
    }
#pragma GCC unroll 16
    for (int h = 0; h < NKV * G; h++)
#pragma GCC unroll 8
        for (int d = 0; d < ND; d++) {
            const v16 r = acc[h][d] * inv[h];
            memcpy(o + (size_t)h * hd + 16 * d, &r, sizeof r);
        }
}

/* hc (1..6, and hc * hd <= 384) heads of one row that share a kv head (a points at that kv head's
 * rows): att_row16 with one kv head, specialized; any other head_dim one head at a time. */
#define ATT_CASES(ND)                                                              \
    switch (hc) {                                                                  \
    case 1: att_row16(ND, 1, 1, q, a, scale, sc, o); return;                   \
    case 2: att_row16(ND, 1, 2, q, a, scale, sc, o); return;                   \
    case 3: att_row16(ND, 1, 3, q, a, scale, sc, o); return;                   \
    case 4: if (ND <= 4) { att_row16(ND, 1, 4, q, a, scale, sc, o); return; } break; \
    case 5: if (ND <= 4) { att_row16(ND, 1, 5, q, a, scale, sc, o); return; } break; \
    case 6: if (ND <= 4) { att_row16(ND, 1, 6, q, a, scale, sc, o); return; } break; \
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

/* The shapes att_row16 is specialized for (the tiny presets and a few others whose heads * ND
 * accumulators fit the 32 vector registers); att_row_covers says whether att_row runs a shape. */
#define ATT_ROW_SHAPES(X) X(16, 2, 2) X(32, 2, 2) X(32, 1, 4) X(32, 4, 2) X(64, 1, 4) X(64, 2, 2) X(64, 2, 3)
#define ATT_ROW_KEY(HD, NKV, G) ((HD) << 16 | (NKV) << 8 | (G))
static int att_row_covers(int hd, int nkv, int group) {
#define ATT_ROW_IS(HD, NKV, G) || ATT_ROW_KEY(hd, nkv, group) == ATT_ROW_KEY(HD, NKV, G)
    return 0 ATT_ROW_SHAPES(ATT_ROW_IS);
#undef ATT_ROW_IS
}
static void att_row(int hd, int nkv, int group, const float *q, const att_ctx *a, float scale, float *sc, float *o) {
#define ATT_ROW_CASE(HD, NKV, G) \
    case ATT_ROW_KEY(HD, NKV, G): att_row16((HD) / 16, NKV, G, q, a, scale, sc, o); return;
    switch (ATT_ROW_KEY(hd, nkv, group)) { ATT_ROW_SHAPES(ATT_ROW_CASE) }
#undef ATT_ROW_CASE
}

/* One row's RMSNorm of width d: the same operations as cpu_rmsnorm, so the same numbers. */
static inline void rmsnorm_row(float *y, const float *x, const float *w, int d, float eps) {
    double ss = 0.0;
    for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
    const float rs = 1.0f / sqrtf((float)(ss / d) + eps);
    for (int i = 0; i < d; i++) y[i] = w[i] * (x[i] * rs);
}

/* Rotates pairs (i, i + hd/2) of each of n heads of one row by the row's angles cs (cos, then sin). */
static inline void rope_row(float *v, int n, int hd, const float *cs) {
    const int half = hd / 2;
    const float *sn = cs + half;
    for (int h = 0; h < n; h++, v += hd)
        for (int i = 0; i < half; i++) {
            const float x1 = v[i], x2 = v[i + half];
            v[i] = x1 * cs[i] - x2 * sn[i];
            v[i + half] = x2 * cs[i] + x1 * sn[i];
        }
}

/* Prefetches n floats from p into L2. Decode attention reads every row's whole context from
 * the cache once per step (16 MB of K and V at 128 rows of 64 + 9 tokens, tiny preset): short
 * streams, one per row, layer and segment, that the hardware prefetcher only picks up after
 * some misses, so the step's attention time was mostly waiting on L3. Fetching the next row's
 * context while this row computes hides most of it (about half the attention time went). */
static inline void prefetch_l2(const float *p, size_t n) {
    for (size_t f = 0; f < n; f += 16) __builtin_prefetch(p + f, 0, 1);
}

/* Everything between the QKV product and the output projection, in one parallel region (the
 * step runs this for every layer, so fork/join counts): per row, QK-norm (Qwen3), RoPE and the
 * append of K and V to the sequence's own block; then, once every row of the step has appended
 * (a prefill row attends to the rows before it), attention. Attention work units are rows when
 * att_row covers the shape, else (row, kv head, chunk of its query heads). */
static void step_attention(const policy_model *m, const policy_step *st, int l, const step_scratch *S, int R) {
    const policy_config *c = &m->cfg;
    const policy_layer *W = &m->w.layers[l];
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, hd = c->head_dim;
    const int Q = nh * hd, KV = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int whole = att_row_covers(hd, nkv, group);
    const int fast = hd == 16 || hd == 32 || hd == 64 || hd == 128;
    const int hc = fast ? (group < att_heads_per_call(hd) ? group : att_heads_per_call(hd)) : 1;
    const int chunks = (group + hc - 1) / hc, units = R * nkv * chunks;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int r = 0; r < R; r++) {
            float *q = S->q + (size_t)r * Q, *k = S->k + (size_t)r * KV;
            if (c->qk_norm) { /* in place: each norm reads its head before writing it */
                for (int h = 0; h < nh; h++) rmsnorm_row(q + (size_t)h * hd, q + (size_t)h * hd, W->q_norm, hd, c->rms_norm_eps);
                for (int h = 0; h < nkv; h++) rmsnorm_row(k + (size_t)h * hd, k + (size_t)h * hd, W->k_norm, hd, c->rms_norm_eps);
            }
            rope_row(q, nh, hd, S->rope + (size_t)r * hd);
            rope_row(k, nkv, hd, S->rope + (size_t)r * hd);
            policy_kv_block *ob = st->own[S->seq_of[r]];
            memcpy(ob->k + ((size_t)l * ob->cap + S->own_row[r]) * KV, k, KV * sizeof(float));
            memcpy(ob->v + ((size_t)l * ob->cap + S->own_row[r]) * KV, S->v + (size_t)r * KV, KV * sizeof(float));
        }
        /* (the implicit barrier: every row's K and V are in place) */
        float *sc = S->sc + (size_t)omp_get_thread_num() * S->sc_stride;
        if (whole) {
            /* rows dealt round robin, so that a thread knows its next row */
            const int nt = omp_get_num_threads();
#pragma omp for schedule(static, 1)
            for (int r = 0; r < R; r++) {
                const int s = S->seq_of[r];
                if (r + nt < R) { /* this thread's next row, into L2 (see above) */
                    const int s2 = S->seq_of[r + nt];
                    const policy_kv_block *ob = st->own[s2], *pb = st->prefix ? st->prefix[s2] : NULL;
                    prefetch_l2(ob->k + (size_t)l * ob->cap * KV, (size_t)(S->own_row[r + nt] + 1) * KV);
                    prefetch_l2(ob->v + (size_t)l * ob->cap * KV, (size_t)(S->own_row[r + nt] + 1) * KV);
                    if (pb && pb != st->prefix[s]) { /* a prefix is shared by consecutive rows */
                        prefetch_l2(pb->k + (size_t)l * pb->cap * KV, (size_t)st->prefix_len[s2] * KV);
                        prefetch_l2(pb->v + (size_t)l * pb->cap * KV, (size_t)st->prefix_len[s2] * KV);
                    }
                }
                const policy_kv_block *pb = st->prefix ? st->prefix[s] : NULL, *ob = st->own[s];
                att_ctx a = {.stride = KV};
                a.n[0] = pb ? st->prefix_len[s] : 0;
                a.n[1] = S->own_row[r] + 1;
                a.k[0] = pb ? pb->k + (size_t)l * pb->cap * KV : NULL;
                a.v[0] = pb ? pb->v + (size_t)l * pb->cap * KV : NULL;
                a.k[1] = ob->k + (size_t)l * ob->cap * KV;
                a.v[1] = ob->v + (size_t)l * ob->cap * KV;
                att_row(hd, nkv, group, S->q + (size_t)r * Q, &a, scale, sc, S->ctx + (size_t)r * Q);
            }
        } else {
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
                const float *q = S->q + (size_t)r * Q + h0 * hd;
                float *o = S->ctx + (size_t)r * Q + h0 * hd;
                if (fast) att_group(hd, nhc, q, &a, scale, sc, o);
                else att_head_any(hd, q, &a, scale, sc, o);
            }
        }
    }
}

/* x += y, then xn = RMSNorm(x) with w: one pass and one parallel region for what would be two.
 * With out, only the rows r with out[r] >= 0 are normed, into row out[r] of xn. Rows go in
 * groups of 8 whose sums of squares interleave: each row's is still the one sequential double
 * chain of rmsnorm_row (so the same numbers), but 8 independent chains hide the latency of the
 * additions, which bounded a lone row's norm. */
static void residual_norm(float *x, float *xn, const float *y, const float *w, const int *out, int R, int H, float eps) {
    enum { G = 8 };
#pragma omp parallel for schedule(static)
    for (int r0 = 0; r0 < R; r0 += G) {
        const int nb = R - r0 < G ? R - r0 : G;
        float *xr = x + (size_t)r0 * H;
        const float *yr = y + (size_t)r0 * H;
        for (size_t i = 0; i < (size_t)nb * H; i++) xr[i] += yr[i];
        double ss[G] = {0};
        if (nb == G)
            for (int i = 0; i < H; i++)
#pragma GCC unroll 8
                for (int b = 0; b < G; b++) ss[b] += (double)xr[(size_t)b * H + i] * xr[(size_t)b * H + i];
        else
            for (int b = 0; b < nb; b++)
                for (int i = 0; i < H; i++) ss[b] += (double)xr[(size_t)b * H + i] * xr[(size_t)b * H + i];
        for (int b = 0; b < nb; b++) {
            const int o = out ? out[r0 + b] : r0 + b;
            if (o < 0) continue;
            const float rs = 1.0f / sqrtf((float)(ss[b] / H) + eps), *xb = xr + (size_t)b * H;
            float *yb = xn + (size_t)o * H;
            for (int i = 0; i < H; i++) yb[i] = w[i] * (xb[i] * rs);
        }
    }
}

int cpu_forward_step(policy_model *m, const policy_step *st, float *logits, grpo_err *err) {
    const policy_config *c = &m->cfg;
    const int H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size, hd = c->head_dim;
    const int nh = c->num_attention_heads, nkv = c->num_key_value_heads, Q = nh * hd, KV = nkv * hd;
    const int L = c->num_hidden_layers;
    const float eps = c->rms_norm_eps;
    int R = 0;
    for (int s = 0; s < st->n_seq; s++) R += st->rows[s];
    int max_ctx = 0; /* the longest context a row attends to */
    for (int s = 0; s < st->n_seq; s++) {
        const int n = (st->prefix && st->prefix[s] ? st->prefix_len[s] : 0) + st->own_start[s] + st->rows[s];
        if (n > max_ctx) max_ctx = n;
    }
    step_scratch S;
    if (scratch_alloc(&S, c, R, st->n_seq, max_ctx) != 0)
        return grpo_errf(err, GRPO_ENOMEM, "out of memory for a %d-row step", R);
    for (int s = 0, r = 0; s < st->n_seq; s++) {
        const int pl = st->prefix && st->prefix[s] ? st->prefix_len[s] : 0;
        for (int i = 0; i < st->rows[s]; i++, r++) {
            S.seq_of[r] = s;
            S.own_row[r] = st->own_start[s] + i;
            S.pos[r] = pl + st->own_start[s] + i;
            S.last_of[r] = i == st->rows[s] - 1 ? s : -1; /* logits come from each sequence's last row */
        }
    }
    /* embeddings, the rows' RoPE angles (cos, then sin, of pos * inv_freq[i], i < hd/2) and the
     * first layer's input norm */
    const int half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++) {
        float *xr = S.x + (size_t)r * H, *cs = S.rope + (size_t)r * hd;
        memcpy(xr, m->w.embed + (size_t)st->tokens[r] * H, H * sizeof(float));
        for (int i = 0; i < half; i++) {
            const float ang = (float)S.pos[r] * m->rope_inv_freq[i];
            cs[i] = cosf(ang);
            cs[half + i] = sinf(ang);
        }
        if (L > 0) rmsnorm_row(S.xn + (size_t)r * H, xr, m->w.layers[0].input_norm, H, eps);
        else if (S.last_of[r] >= 0) rmsnorm_row(S.last + (size_t)S.last_of[r] * H, xr, m->w.final_norm, H, eps);
    }
    for (int l = 0; l < L; l++) {
        const policy_layer *W = &m->w.layers[l];
        const rowdot_job qkv[3] = {{S.q, W->wq, W->bq, Q}, {S.k, W->wk, W->bk, KV}, {S.v, W->wv, W->bv, KV}};
        rowdot_multi(qkv, 3, S.xn, R, H, S.pack);
        step_attention(m, st, l, &S, R);
        rowdot_gemm(S.tmp, S.ctx, W->wo, W->bo, R, Q, H, S.pack);
        residual_norm(S.x, S.xn, S.tmp, W->post_norm, NULL, R, H, eps);
        const rowdot_job gu[2] = {{S.gate, W->w_gate, NULL, F}, {S.up, W->w_up, NULL, F}};
        rowdot_multi(gu, 2, S.xn, R, H, S.pack);
        const size_t RF = (size_t)R * F;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < RF; i++) {
            float g = S.gate[i];
            S.gate[i] = g / (1.0f + grpo_expf(-g)) * S.up[i];
        }
        rowdot_gemm(S.tmp, S.gate, W->w_down, NULL, R, F, H, S.pack);
        /* then the next layer's input norm, or after the last layer the final norm of the rows
         * whose logits are wanted */
        if (l + 1 < L) residual_norm(S.x, S.xn, S.tmp, m->w.layers[l + 1].input_norm, NULL, R, H, eps);
        else residual_norm(S.x, S.last, S.tmp, m->w.final_norm, S.last_of, R, H, eps);
    }
    rowdot_gemm(logits, S.last, m->w.lm_head, NULL, st->n_seq, H, V, S.pack);
    free(S.mem);
    return GRPO_OK;
}
