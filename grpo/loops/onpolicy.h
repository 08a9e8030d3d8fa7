/* grpo/loops/onpolicy.h: on-policy distillation inside grpo train (distill = "on_policy"; DESIGN §3): the
 * student samples, the frozen teacher scores every sampled token in one forward, and token t of
 * completion i gets the advantage
 *     A_t = -(log pi_student(o_t) - log pi_teacher(o_t)) + distill_task_weight * A_i
 * (the reverse KL with discount 0, plus optionally the group-relative task advantage), which goes
 * through the same clipped loss. log pi_student is the sampling logprob. */
#ifndef GRPO_ONPOLICY_H
#define GRPO_ONPOLICY_H

#include "train_parts.h"

/* When cfg->distill is "on_policy": loads teacher_model into t->teacher on backend be. The teacher's
 * vocab_size must equal the student's (an error naming both sizes and both models). */
int onpolicy_setup(trainer *t, const policy_backend *be, grpo_err *err);
/* Loads cfg->teacher_model into t->teacher on backend be (token-level distillation: on_policy, gkd);
 * a vocab_size other than the student's is an error naming both sizes and both models. */
int distill_load_teacher(trainer *t, const policy_backend *be, grpo_err *err);

/* Per-token advantages of n_tok packed tokens: adv_tok = teacher - student (student: sampling logprobs);
 * the n_seq sequence advantages adv are scaled by task_weight in place. Returns the mean reverse KL
 * (student - teacher) over tokens with mask != 0 (mask NULL: all). */
double onpolicy_advantages(const float *student, const float *teacher, const float *mask, int n_tok, float *adv_tok,
                           double *adv, int n_seq, double task_weight);

#endif
