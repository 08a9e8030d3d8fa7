/* grpo/learner/learner.c: advantages and the GRPO losses with their gradients w.r.t. per-token logprobs.
 *
 * Per token (PyTorch terms): log_ratio = clamp(new - old, -20, 20); ratio = exp(log_ratio)
 *   (sequence level: log_ratio_i = sum_t m (new - old) / sum_t m, shared by the sequence's tokens)
 *   surrogate = min(ratio * A, clamp(ratio, 1 - eps, 1 + eps_high) * A)
 *   (A = the sequence's advantage, plus the token's own with on-policy distillation)
 *   kl = exp(ref - new) - (ref - new) - 1
 *   l = -surrogate + beta * kl
 * and the micro-batch loss aggregates l * m as learner_norm says for the loss type. */
#include "learner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int index_of(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

int learner_loss_type_from_name(const char *s) {
    static const char *const n[] = {"grpo", "bnpo", "dr_grpo", "dapo"};
    return index_of(s, n, 4);
}
int learner_scale_from_name(const char *s) {
    static const char *const n[] = {"group", "batch", "none"};
    return index_of(s, n, 3);
}
int learner_is_level_from_name(const char *s) {
    static const char *const n[] = {"token", "sequence"};
    return index_of(s, n, 2);
}

static double unbiased_std(const double *x, int n, double mean) {
    if (n < 2) return 0.0;
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    return sqrt(ss / (n - 1));
}

int learner_advantages(const double *rewards, int n_groups, int G, learner_scale s, double *adv) {
    const int N = n_groups * G;
    double batch_std = 0.0;
    if (s == SCALE_BATCH) {
        double mean = 0.0;
        for (int i = 0; i < N; i++) mean += rewards[i];
        batch_std = unbiased_std(rewards, N, mean / N);
    }
    int zero_std = 0;
    for (int g = 0; g < n_groups; g++) {
        const double *r = rewards + (size_t)g * G;
        double mean = 0.0;
        for (int j = 0; j < G; j++) mean += r[j];
        mean /= G;
        double sd = unbiased_std(r, G, mean);
        if (sd == 0.0) zero_std++;
        double denom = s == SCALE_GROUP ? sd + 1e-4 : (s == SCALE_BATCH ? batch_std + 1e-4 : 1.0);
        for (int j = 0; j < G; j++) adv[(size_t)g * G + j] = (r[j] - mean) / denom;
    }
    return zero_std;
}

int learner_loss(const learner_opts *o, const learner_norm *nrm, const learner_batch *b, float *dlogp,
                 learner_stats *st, grpo_err *err) {
    if (o->beta != 0.0f && !b->logp_ref)
        return grpo_errf(err, GRPO_EINVAL, "beta = %g needs reference logprobs", o->beta);
    const double lo = 1.0 - o->epsilon, hi = 1.0 + o->epsilon_high;
    /* micro-batch normalizer (bnpo needs this micro-batch's mask sum first) */
    double mb_tokens = 0.0;
    for (int i = 0, k = 0; i < b->n_seq; i++)
        for (int t = 0; t < b->len[i]; t++, k++) mb_tokens += b->mask ? b->mask[k] : 1.0;
    double loss = 0.0;
    for (int i = 0, k0 = 0; i < b->n_seq; k0 += b->len[i], i++) {
        const int L = b->len[i];
        const double A_seq = b->adv[i];
        double seq_m = 0.0, seq_lr = 0.0;
        for (int t = 0; t < L; t++) {
            double m = b->mask ? b->mask[k0 + t] : 1.0;
            seq_m += m;
            seq_lr += m * ((double)b->logp_new[k0 + t] - b->logp_old[k0 + t]);
        }
        /* weight of sum_t l_t m_t in the micro-batch loss */
        double w;
        switch (o->loss_type) {
        case LOSS_GRPO: w = seq_m > 0 ? 1.0 / (seq_m * nrm->n_seq_step) : 0.0; break;
        case LOSS_BNPO: w = mb_tokens > 0 ? 1.0 / (mb_tokens * nrm->n_micro) : 0.0; break;
        case LOSS_DR_GRPO: w = 1.0 / ((double)nrm->n_seq_step * nrm->max_completion_length); break;
        default: w = nrm->active_tokens_step > 0 ? 1.0 / nrm->active_tokens_step : 0.0; break;
        }
        /* sequence-level ratio, and the sum of dl/dratio * m over the sequence for its gradient */
        double seq_lr_mean = seq_m > 0 ? seq_lr / seq_m : 0.0;
        double seq_lr_c = fmin(20.0, fmax(-20.0, seq_lr_mean));
        double seq_ratio = exp(seq_lr_c), dratio_sum = 0.0;
        for (int t = 0; t < L; t++) {
            const int k = k0 + t;
            const double m = b->mask ? b->mask[k] : 1.0;
            const double nw = b->logp_new[k];
            const double A = A_seq + (b->adv_token ? b->adv_token[k] : 0.0); /* this token's advantage */
            double ratio, dratio_dnew; /* for token IS */
            if (o->is_level == IS_SEQUENCE) {
                ratio = seq_ratio;
                dratio_dnew = 0.0; /* handled below through the sequence mean */
            } else {
                double lr = nw - b->logp_old[k];
                double lrc = fmin(20.0, fmax(-20.0, lr));
                ratio = exp(lrc);
                dratio_dnew = (lr > -20.0 && lr < 20.0) ? ratio : 0.0;
            }
            const double unclipped = ratio * A;
            const double rc = fmin(hi, fmax(lo, ratio));
            const double clipped = rc * A;
            /* d(-min(u, c))/dratio: the unclipped term when it is the smaller, else the clipped
             * term, whose derivative is zero outside [lo, hi] */
            double dl_dratio;
            if (unclipped < clipped) dl_dratio = -A;
            else if (unclipped > clipped) dl_dratio = (ratio > lo && ratio < hi) ? -A : 0.0;
            else dl_dratio = -A; /* equal: inside the range both terms move with ratio */
            double l = -fmin(unclipped, clipped), dl_dnew = 0.0;
            if (b->logp_ref) {
                const double d = (double)b->logp_ref[k] - nw;
                const double kl = exp(d) - d - 1.0;
                st->kl_sum += m * kl;
                if (o->beta != 0.0f) {
                    l += o->beta * kl;
                    dl_dnew += o->beta * (1.0 - exp(d));
                }
            }
            loss += w * l * m;
            if (o->is_level == IS_SEQUENCE) dratio_sum += dl_dratio * m;
            else dl_dnew += dl_dratio * dratio_dnew;
            dlogp[k] = (float)(w * m * dl_dnew);
            if (ratio < lo && A < 0) st->clip_low += m;
            if (ratio > hi && A > 0) st->clip_high += m;
            st->ratio_sum += m * ratio;
            st->tokens += m;
        }
        if (o->is_level == IS_SEQUENCE && seq_m > 0 && seq_lr_mean > -20.0 && seq_lr_mean < 20.0) {
            /* ratio_i = exp(sum_t m (new - old) / sum_t m): d ratio_i / d new_t = ratio_i * m_t / sum m */
            const double g = w * dratio_sum * seq_ratio / seq_m;
            for (int t = 0; t < L; t++) {
                const double m = b->mask ? b->mask[k0 + t] : 1.0;
                dlogp[k0 + t] += (float)(g * m);
            }
        }
    }
    st->loss += loss;
    return GRPO_OK;
}
