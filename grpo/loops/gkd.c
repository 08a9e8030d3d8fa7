/* grpo/gkd.c: GKD-style forward KL over the teacher's top-k plus a tail bucket (see gkd.h). Sections:
 * one row (teacher side, student side), then a batch (the teacher's targets, the student's step). */
#include "gkd.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void gkd_targets_free(gkd_targets *tg) {
    free(tg->ids);
    free(tg->p);
    free(tg->tail);
    memset(tg, 0, sizeof *tg);
}

/* ---- one row ---- */

static float row_max(const float *z, int V) {
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
    return mx;
}

void gkd_teacher_row(const float *z, int V, int k, smp_token *work, int *ids, float *p, float *tail) {
    smp_array a = {.data = work};
    smp_init(&a, z, V);
    if (k < V) smp_top_k(&a, k); /* the k best, in order */
    else smp_sort(&a);
    const float mx = row_max(z, V);
    double se = 0.0, top = 0.0;
    for (int v = 0; v < V; v++) se += exp((double)z[v] - mx);
    for (int j = 0; j < k; j++) {
        const double pj = exp((double)a.data[j].logit - mx) / se;
        ids[j] = a.data[j].id;
        p[j] = (float)pj;
        top += pj;
    }
    *tail = k >= V ? 0.0f : (float)fmax(0.0, 1.0 - top);
}

double gkd_row(const float *z, int V, const int *ids, const float *p, float tail, int k, float w, float *dz) {
    const float mx = row_max(z, V);
    double se = 0.0;
    for (int v = 0; v < V; v++) se += (dz[v] = expf(z[v] - mx));
    const double lse = mx + log(se);
    /* the top-k ids are marked -1 in dz (every e^z is >= 0), so that the tail is summed directly rather
     * than as 1 - sum_K s_j, which loses a small tail to rounding */
    double kl = 0.0;
    for (int j = 0; j < k; j++) {
        dz[ids[j]] = -1.0f;
        if (p[j] > 0) kl += p[j] * (log(p[j]) - ((double)z[ids[j]] - lse));
    }
    double tail_e = 0.0;
    for (int v = 0; v < V; v++)
        if (dz[v] >= 0.0f) tail_e += dz[v];
    if (tail > 0) kl += tail * (log(tail) - (log(fmax(tail_e, 1e-300)) - log(se)));
    /* outside K: s_v (1 - t_tail / s_tail) with s_tail = tail_e / se; inside: s_j - t_j */
    const double f = tail_e > 0 ? 1.0 - tail * se / tail_e : 0.0;
    for (int v = 0; v < V; v++)
        if (dz[v] >= 0.0f) dz[v] = (float)(w * (dz[v] / se) * f);
    for (int j = 0; j < k; j++) dz[ids[j]] = (float)(w * (exp((double)z[ids[j]] - lse) - p[j]));
    return kl;
}

/* ---- a batch ---- */

/* rows[r] = the logits row (token index) of target r; the number of targets. */
static size_t target_rows(const policy_batch *b, size_t *rows) {
    size_t r = 0, o = 0;
    for (int s = 0; s < b->n_seq; s++) {
        for (int t = 0; t + 1 < b->seq_len[s]; t++) rows[r++] = o + t;
        o += b->seq_len[s];
    }
    return r;
}

/* A run of whole sequences of b whose logits fit chunk_floats (at least one sequence, however long), so
 * a batch never holds more than one chunk's logits. */
typedef struct {
    policy_batch sub;
    int s0;                   /* its first sequence in b */
    size_t tok, tgt;          /* where it starts in b's tokens and targets */
    size_t n_tok, n_tgt;      /* its tokens and targets */
} gkd_chunk;

/* Moves *c to the chunk after it (a zeroed *c: the first); 0 past the last sequence. */
static int chunk_next(const policy_batch *b, size_t chunk_floats, int V, gkd_chunk *c) {
    const size_t cap = chunk_floats / (size_t)V;
    int s = c->s0 + c->sub.n_seq;
    if (s >= b->n_seq) return 0;
    *c = (gkd_chunk){.s0 = s, .tok = c->tok + c->n_tok, .tgt = c->tgt + c->n_tgt};
    do {
        c->n_tok += (size_t)b->seq_len[s];
        c->n_tgt += (size_t)b->seq_len[s] - 1;
        s++;
    } while (s < b->n_seq && c->n_tok + (size_t)b->seq_len[s] <= cap);
    c->sub = (policy_batch){.n_seq = s - c->s0, .seq_len = b->seq_len + c->s0, .tokens = b->tokens + c->tok};
    return 1;
}

/* The longest chunk's tokens, to size one logits buffer for all of them. */
static size_t max_chunk_tokens(const policy_batch *b, size_t chunk_floats, int V) {
    size_t most = 1;
    for (gkd_chunk c = {0}; chunk_next(b, chunk_floats, V, &c);) most = c.n_tok > most ? c.n_tok : most;
    return most;
}

/* tg holds at least n rows of k ids; 0, or GRPO_ENOMEM (tg freed). */
static int targets_reserve(gkd_targets *tg, size_t n, int k, grpo_err *err) {
    const size_t rows_need = n ? n : 1;
    if (tg->ids && rows_need <= tg->cap && rows_need * k <= tg->cap_ids) return GRPO_OK;
    gkd_targets_free(tg);
    tg->ids = malloc(rows_need * k * sizeof *tg->ids);
    tg->p = malloc(rows_need * k * sizeof *tg->p);
    tg->tail = malloc(rows_need * sizeof *tg->tail);
    if (!tg->ids || !tg->p || !tg->tail) {
        gkd_targets_free(tg);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory for the teacher's top-%d of %zu tokens", k, n);
    }
    tg->cap = rows_need;
    tg->cap_ids = rows_need * k;
    return GRPO_OK;
}

/* The teacher's rows of one chunk (targets c->tgt ..) from its logits. */
static void teacher_chunk_rows(const gkd_chunk *c, const float *logits, const size_t *rows, const float *mask,
                               int V, smp_token *work, gkd_targets *tg) {
    const int k = tg->k;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < c->n_tgt; r++) {
        const size_t g = c->tgt + r;
        int *ids = tg->ids + g * k;
        float *p = tg->p + g * k;
        if (mask && mask[g] == 0) {
            memset(ids, 0, k * sizeof *ids);
            memset(p, 0, k * sizeof *p);
            tg->tail[g] = 0;
            continue;
        }
        gkd_teacher_row(logits + rows[r] * V, V, k, work + (size_t)omp_get_thread_num() * V, ids, p, &tg->tail[g]);
    }
}

int gkd_teacher_targets(policy_model *teacher, const policy_batch *b, const float *mask, int k, size_t chunk_floats,
                        gkd_targets *tg, grpo_err *err) {
    const int V = teacher->cfg.vocab_size, nthr = omp_get_max_threads();
    if (k < 1) return grpo_errf(err, GRPO_EINVAL, "distill_top_k must be at least 1, got %d", k);
    k = k < V ? k : V;
    if (!chunk_floats) chunk_floats = GKD_CHUNK_FLOATS;
    const size_t nt = policy_batch_targets(b), most = max_chunk_tokens(b, chunk_floats, V);
    int rc = targets_reserve(tg, nt, k, err);
    if (rc) return rc;
    tg->k = k;
    tg->n = nt;
    float *logits = malloc(most * V * sizeof *logits);
    size_t *rows = malloc(most * sizeof *rows);
    smp_token *work = malloc((size_t)nthr * V * sizeof *work);
    if (!logits || !rows || !work)
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for the teacher's logits (%zu x %d)", most, V);
    for (gkd_chunk c = {0}; !rc && chunk_next(b, chunk_floats, V, &c);)
        if (!(rc = policy_forward(teacher, &c.sub, 1.0f, NULL, logits, 0, err))) {
            target_rows(&c.sub, rows);
            teacher_chunk_rows(&c, logits, rows, mask, V, work, tg);
        }
    free(logits);
    free(rows);
    free(work);
    return rc;
}

/* One chunk of the student's step: forward, each row's KL into klr[c->tgt ..] and w * its gradient in
 * place of its logits, then (backward) the backward over them, accumulating. */
static int student_chunk(policy_model *student, const gkd_chunk *c, const float *mask, const gkd_targets *tg,
                         int backward, float w, float *logits, float *scratch, size_t *rows, double *klr, grpo_err *err) {
    const int V = student->cfg.vocab_size, k = tg->k;
    int rc = policy_forward(student, &c->sub, 1.0f, NULL, logits, backward, err);
    if (rc) return rc;
    target_rows(&c->sub, rows);
    /* rows are independent: each thread's dz goes through its scratch back into its own logits row */
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < c->n_tgt; r++) {
        const size_t g = c->tgt + r;
        float *z = logits + rows[r] * V, *dz = scratch + (size_t)omp_get_thread_num() * V;
        if (mask && mask[g] == 0) {
            klr[g] = 0;
            memset(z, 0, V * sizeof *z);
            continue;
        }
        klr[g] = gkd_row(z, V, tg->ids + g * k, tg->p + g * k, tg->tail[g], k, w, dz);
        memcpy(z, dz, V * sizeof *z);
    }
    return backward ? policy_backward_logits(student, &c->sub, logits, err) : GRPO_OK;
}

int gkd_step(policy_model *student, const policy_batch *b, const float *mask, const gkd_targets *tg,
             size_t chunk_floats, int backward, double *kl, grpo_err *err) {
    const int V = student->cfg.vocab_size, nthr = omp_get_max_threads(), k = tg->k;
    const size_t nt = policy_batch_targets(b);
    if (tg->n != nt || k < 1 || k > V)
        return grpo_errf(err, GRPO_EINVAL, "the teacher's targets (%zu rows of %d ids) do not fit this batch (%zu targets, vocabulary %d)",
                         tg->n, k, nt, V);
    if (!chunk_floats) chunk_floats = GKD_CHUNK_FLOATS;
    double count = 0;
    for (size_t r = 0; r < nt; r++) count += mask ? mask[r] != 0 : 1;
    *kl = 0;
    if (count == 0) return GRPO_OK;
    const size_t most = max_chunk_tokens(b, chunk_floats, V);
    float *logits = malloc(most * V * sizeof *logits), *scratch = malloc((size_t)nthr * V * sizeof *scratch);
    size_t *rows = malloc(most * sizeof *rows);
    double *klr = malloc((nt ? nt : 1) * sizeof *klr);
    int rc = GRPO_OK;
    if (!logits || !scratch || !rows || !klr)
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for the student's logits (%zu x %d)", most, V);
    const float w = (float)(1.0 / count);
    for (gkd_chunk c = {0}; !rc && chunk_next(b, chunk_floats, V, &c);)
        rc = student_chunk(student, &c, mask, tg, backward, w, logits, scratch, rows, klr, err);
    if (!rc) {
        double sum = 0;
        for (size_t r = 0; r < nt; r++) sum += klr[r]; /* in order: the same sum at any thread count */
        *kl = sum / count;
    }
    free(logits);
    free(scratch);
    free(rows);
    free(klr);
    return rc;
}
