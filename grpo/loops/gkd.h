/* grpo/gkd.h: off-policy token-level distillation, GKD-style (distill = "gkd" in grpo sft; DESIGN §3,
 * docs/distill.md). On teacher traces, each completion token's loss is the forward KL from the
 * teacher's next-token distribution t to the student's s, over the teacher's k most likely ids K plus
 * one tail bucket for the rest of the mass:
 *     KL = sum_{j in K} t_j (log t_j - log s_j) + t_tail (log t_tail - log s_tail)
 * where t_tail = 1 - sum_K t_j and s_tail = sum_{v not in K} s_v. With s = softmax(z) over the student's
 * raw logits z, d log s_j / dz_v = [v = j] - s_v and d log s_tail / dz_v = [v not in K] s_v / s_tail - s_v;
 * the weights t_j and t_tail sum to 1, so
 *     dKL/dz_v = s_v - t_v                     for v in K
 *     dKL/dz_v = s_v - t_tail * s_v / s_tail   for v not in K.
 * With k >= V the tail is empty and KL is the full forward KL. Both sides at temperature 1. */
#ifndef GRPO_GKD_H
#define GRPO_GKD_H

#include <stddef.h>

#include "common/err.h"
#include "policy/model.h"
#include "rollout/sampler.h"

/* The teacher's side for n target rows (packed like policy logprobs). */
typedef struct {
    int k;        /* ids per row: min(requested k, vocabulary) */
    size_t n;     /* rows */
    int *ids;     /* [n, k] the teacher's most likely next tokens, most likely first */
    float *p;     /* [n, k] their teacher probabilities */
    float *tail;  /* [n] the teacher's mass outside them */
    size_t cap, cap_ids; /* rows, and ids (or probabilities), allocated */
} gkd_targets;

void gkd_targets_free(gkd_targets *tg);

/* The teacher's top-k of one logits row z[0..V) (1 <= k <= V): ids (ties: lower id first),
 * probabilities and the tail mass. work holds V smp_tokens. */
void gkd_teacher_row(const float *z, int V, int k, smp_token *work, int *ids, float *p, float *tail);

/* KL of one row (above) for student logits z[0..V) against the teacher's k ids, probabilities and
 * tail; dz (V floats, also the scratch, not z) gets w * dKL/dz. */
double gkd_row(const float *z, int V, const int *ids, const float *p, float tail, int k, float w, float *dz);

/* The logits one chunk may hold (64 Mi floats, 256 MiB): a batch's forward runs in runs of whole
 * sequences that fit, so at a 152k vocabulary ~440 tokens' logits are live at a time, not the batch's. */
#define GKD_CHUNK_FLOATS ((size_t)1 << 26)

/* The teacher's targets for every target of b where mask != 0 (NULL: all; other rows zero), from forwards
 * of teacher over chunks of at most chunk_floats logits (0: GKD_CHUNK_FLOATS; a longer sequence is a
 * chunk of its own); tg grows as needed (zero it before the first call). */
int gkd_teacher_targets(policy_model *teacher, const policy_batch *b, const float *mask, int k, size_t chunk_floats,
                        gkd_targets *tg, grpo_err *err);

/* The mean KL over the targets where mask != 0 (NULL: all) into *kl, from forwards of student over chunks
 * as above; when backward != 0 each chunk's gradient accumulates through policy_backward_logits. */
int gkd_step(policy_model *student, const policy_batch *b, const float *mask, const gkd_targets *tg,
             size_t chunk_floats, int backward, double *kl, grpo_err *err);

#endif
