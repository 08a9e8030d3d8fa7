/* grpo/loops/onpolicy.c: on-policy distillation's teacher (shared with gkd in grpo sft) and per-token
 * advantages (see onpolicy.h). */
#include "onpolicy.h"

#include <string.h>

#include "dist.h"

int onpolicy_setup(trainer *t, const policy_backend *be, grpo_err *err) {
    const run_config *c = t->cfg;
    if (!strcmp(c->distill, "gkd"))
        return grpo_errf(err, GRPO_EINVAL,
                         "distill \"gkd\" learns from teacher traces: it runs in grpo sft, not grpo train (here: \"on_policy\")");
    if (strcmp(c->distill, "on_policy")) return GRPO_OK;
    if (dist_size() > 1)
        return grpo_errf(err, GRPO_EUNSUPPORTED, "distill \"on_policy\" with %d ranks is not supported yet (run one rank)",
                         dist_size());
    return distill_load_teacher(t, be, err);
}

int distill_load_teacher(trainer *t, const policy_backend *be, grpo_err *err) {
    const run_config *c = t->cfg;
    int rc = policy_load(&t->teacher, c->teacher_model, err);
    if (rc) return grpo_err_prefix(err, "teacher_model");
    t->have_teacher = 1;
    t->teacher.backend = be;
    if (t->teacher.cfg.vocab_size != t->model.cfg.vocab_size)
        return grpo_errf(err, GRPO_EINVAL,
                         "vocabulary mismatch: teacher_model %s/config.json has vocab_size %d, the student (model %s) "
                         "has vocab_size %d; token-level distillation needs one vocabulary (use grpo traces + grpo sft "
                         "across tokenizers)",
                         c->teacher_model, t->teacher.cfg.vocab_size, c->model, t->model.cfg.vocab_size);
    return GRPO_OK;
}

double onpolicy_advantages(const float *student, const float *teacher, const float *mask, int n_tok, float *adv_tok,
                           double *adv, int n_seq, double task_weight) {
    double kl = 0, n = 0;
    for (int k = 0; k < n_tok; k++) {
        adv_tok[k] = teacher[k] - student[k];
        const double m = mask ? mask[k] : 1.0;
        kl += m * (student[k] - (double)teacher[k]);
        n += m;
    }
    for (int i = 0; i < n_seq; i++) adv[i] *= task_weight;
    return n > 0 ? kl / n : 0.0;
}
