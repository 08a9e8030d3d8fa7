/* grpo/learner/learner.h: the GRPO learner's math (DESIGN §3): group-relative advantages, the clipped
 * surrogate with an optional k3 KL term, token- or sequence-level importance ratios, and the four
 * loss aggregations. It turns per-token logprobs into a loss and dL/dlogp; the policy backend turns
 * dL/dlogp into parameter gradients. */
#ifndef GRPO_LEARNER_H
#define GRPO_LEARNER_H

#include <stddef.h>

#include "common/err.h"

typedef enum { LOSS_GRPO = 0, LOSS_BNPO, LOSS_DR_GRPO, LOSS_DAPO } learner_loss_type;
typedef enum { SCALE_GROUP = 0, SCALE_BATCH, SCALE_NONE } learner_scale;
typedef enum { IS_TOKEN = 0, IS_SEQUENCE } learner_is_level;

typedef struct {
    learner_loss_type loss_type;
    learner_scale scale_rewards;
    learner_is_level is_level;
    float epsilon, epsilon_high, beta;
} learner_opts;

/* How a micro-batch's sum is normalized so that the micro-batch losses of one optimizer step
 * add up to that step's loss. */
typedef struct {
    int n_seq_step;          /* sequences in the optimizer step (grpo, dr_grpo) */
    int n_micro;             /* micro-batches in the step (bnpo) */
    int max_completion_length; /* L_max (dr_grpo) */
    double active_tokens_step; /* masked tokens in the step, across ranks (dapo) */
} learner_norm;

/* One micro-batch of completions, packed: sequence i has len[i] completion tokens. */
typedef struct {
    int n_seq;
    const int *len;
    const float *logp_new;   /* under the current weights */
    const float *logp_old;   /* recorded at sampling */
    const float *logp_ref;   /* reference model; NULL when beta == 0 */
    const float *mask;       /* 1 = counts (NULL = all); e.g. 0 for masked truncated completions */
    const double *adv;       /* [n_seq] */
    const float *adv_token;  /* per-token advantages added to adv (on-policy distillation), packed like
                              * logp_new; NULL: none */
} learner_batch;

typedef struct {
    double loss;             /* this micro-batch's share of the step loss */
    double kl_sum;           /* sum of k3 KL over masked tokens (0 when no reference) */
    double clip_low, clip_high; /* counts of masked tokens clipped low (ratio < 1-eps, A < 0) / high */
    double ratio_sum;
    double tokens;           /* masked tokens */
} learner_stats;

/* Parses "grpo"/"bnpo"/"dr_grpo"/"dapo", "group"/"batch"/"none", "token"/"sequence"; -1 if unknown. */
int learner_loss_type_from_name(const char *s);
int learner_scale_from_name(const char *s);
int learner_is_level_from_name(const char *s);

/* Group-relative advantages of n_groups x G rewards (group-major), in place into adv.
 * group: (r - mean_g) / (std_g + 1e-4); batch: std over all rewards; none: r - mean_g.
 * std is the unbiased (n-1) estimate, as torch.std and TRL. Returns the number of groups whose
 * rewards have zero spread. */
int learner_advantages(const double *rewards, int n_groups, int G, learner_scale s, double *adv);

/* Loss of one micro-batch and dL/dlogp_new (packed like logp_new) into dlogp.
 * Accumulates statistics into st (caller zeroes it). */
int learner_loss(const learner_opts *o, const learner_norm *nrm, const learner_batch *b, float *dlogp,
                 learner_stats *st, grpo_err *err);

#endif
