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

int gkd_teacher_targets(policy_model *teacher, const policy_batch *b, const float *mask, int k, gkd_targets *tg,
                        grpo_err *err) {
    const int V = teacher->cfg.vocab_size, nthr = omp_get_max_threads();
    if (k < 1) return grpo_errf(err, GRPO_EINVAL, "distill_top_k must be at least 1, got %d", k);
    k = k < V ? k : V;
    const size_t N = policy_batch_tokens(b), nt = policy_batch_targets(b);
    const size_t rows_need = nt ? nt : 1;
    if (!tg->ids || rows_need > tg->cap || rows_need * k > tg->cap_ids) {
        gkd_targets_free(tg);
        tg->ids = malloc(rows_need * k * sizeof *tg->ids);
        tg->p = malloc(rows_need * k * sizeof *tg->p);
        tg->tail = malloc(rows_need * sizeof *tg->tail);
        if (!tg->ids || !tg->p || !tg->tail) {
            gkd_targets_free(tg);
            return grpo_errf(err, GRPO_ENOMEM, "out of memory for the teacher's top-%d of %zu tokens", k, nt);
        }
        tg->cap = rows_need;
        tg->cap_ids = rows_need * k;
    }
    tg->k = k;
    tg->n = nt;
    float *logits = malloc(N * V * sizeof *logits);
    size_t *rows = malloc((nt ? nt : 1) * sizeof *rows);
    smp_token *work = malloc((size_t)nthr * V * sizeof *work);
    int rc = GRPO_OK;
    if (!logits || !rows || !work)
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for the teacher's logits (%zu x %d)", N, V);
    if (!rc) rc = policy_forward(teacher, b, 1.0f, NULL, logits, 0, err);
    if (!rc) {
        target_rows(b, rows);
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < nt; r++) {
            int *ids = tg->ids + r * k;
            float *p = tg->p + r * k;
            if (mask && mask[r] == 0) {
                memset(ids, 0, k * sizeof *ids);
                memset(p, 0, k * sizeof *p);
                tg->tail[r] = 0;
                continue;
            }
            gkd_teacher_row(logits + rows[r] * V, V, k, work + (size_t)omp_get_thread_num() * V, ids, p, &tg->tail[r]);
        }
    }
    free(logits);
    free(rows);
    free(work);
    return rc;
}

int gkd_step(policy_model *student, const policy_batch *b, const float *mask, const gkd_targets *tg, int backward,
             double *kl, grpo_err *err) {
    const int V = student->cfg.vocab_size, nthr = omp_get_max_threads(), k = tg->k;
    const size_t N = policy_batch_tokens(b), nt = policy_batch_targets(b);
    if (tg->n != nt || k < 1 || k > V)
        return grpo_errf(err, GRPO_EINVAL, "the teacher's targets (%zu rows of %d ids) do not fit this batch (%zu targets, vocabulary %d)",
                         tg->n, k, nt, V);
    double count = 0;
    for (size_t r = 0; r < nt; r++) count += mask ? mask[r] != 0 : 1;
    *kl = 0;
    float *logits = malloc(N * V * sizeof *logits), *scratch = malloc((size_t)nthr * V * sizeof *scratch);
    size_t *rows = malloc((nt ? nt : 1) * sizeof *rows);
    double *klr = malloc((nt ? nt : 1) * sizeof *klr);
    int rc = GRPO_OK;
    if (!logits || !scratch || !rows || !klr)
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for the student's logits (%zu x %d)", N, V);
    if (!rc) rc = policy_forward(student, b, 1.0f, NULL, logits, backward, err);
    if (!rc && count > 0) {
        target_rows(b, rows);
        const float w = (float)(1.0 / count);
        /* rows are independent: each thread's dz goes through its scratch back into its own logits row */
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < nt; r++) {
            float *z = logits + rows[r] * V, *dz = scratch + (size_t)omp_get_thread_num() * V;
            if (mask && mask[r] == 0) {
                klr[r] = 0;
                memset(z, 0, V * sizeof *z);
                continue;
            }
            klr[r] = gkd_row(z, V, tg->ids + r * k, tg->p + r * k, tg->tail[r], k, w, dz);
            memcpy(z, dz, V * sizeof *z);
        }
        double sum = 0;
        for (size_t r = 0; r < nt; r++) sum += klr[r]; /* in order: the same sum at any thread count */
        *kl = sum / count;
        if (backward) rc = policy_backward_logits(student, b, logits, err);
    }
    free(logits);
    free(scratch);
    free(rows);
    free(klr);
    return rc;
}
