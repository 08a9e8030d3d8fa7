/* tests/grpo/test_learner.c: the learner's math. Hand-computed cases for advantages and the
 * clipped surrogate, then parity with an independent PyTorch implementation
 * (tests/scripts/make_grpo_fixtures.py -> tests/fixtures/grpo/loss_cases.safetensors):
 * every loss_type, beta 0 and 0.04, epsilon_high != epsilon, sequence-level IS, scale_rewards,
 * two micro-batches and mu = 2 iterations on the tiny Qwen2 fixture.
 * Tolerances: loss 1e-5 absolute, gradients 1e-4 relative (norm of the difference / norm). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpo/loops/eval_metrics.h"
#include "grpo/loops/train_parts.h"
#include "grpo/learner/learner.h"
#include "../../policy/model.h"
#include "../../policy/safetensors.h"
#include "../test_util.h"

/* ---- hand-computed cases ---- */

static void group_advantages_use_the_unbiased_std_and_count_zero_spread_groups(void) {
    const double r[8] = {1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5};
    double a[8];
    CU_ASSERT_EQUAL(learner_advantages(r, 2, 4, SCALE_GROUP, a), 1);
    const double sd = sqrt(1.0 / 3.0); /* deviations of 0.5 four times, over n - 1 = 3 */
    CU_ASSERT_DOUBLE_EQUAL(a[0], 0.5 / (sd + 1e-4), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a[1], -0.5 / (sd + 1e-4), 1e-12);
    for (int i = 4; i < 8; i++) CU_ASSERT_DOUBLE_EQUAL(a[i], 0.0, 1e-15);
    CU_ASSERT_EQUAL(learner_advantages(r, 2, 4, SCALE_NONE, a), 1);
    CU_ASSERT_DOUBLE_EQUAL(a[0], 0.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(a[3], 0.5, 1e-15);
}

static void batch_scaled_advantages_divide_by_the_batch_std(void) {
    const double r[4] = {1, 0, 3, 1};
    double a[4];
    learner_advantages(r, 2, 2, SCALE_BATCH, a);
    /* batch mean 1.25; deviations -> sum of squares 0.0625+1.5625+3.0625+0.0625 = 4.75; /3 */
    const double sd = sqrt(4.75 / 3.0);
    CU_ASSERT_DOUBLE_EQUAL(a[0], 0.5 / (sd + 1e-4), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a[2], 1.0 / (sd + 1e-4), 1e-12);
}

/* One token, loss_type dapo with one active token, so the loss is l itself. */
static double one_token(float new_lp, float old_lp, double A, float *dlogp, learner_stats *st) {
    learner_opts o = {.loss_type = LOSS_DAPO, .epsilon = 0.2f, .epsilon_high = 0.28f};
    learner_norm n = {.n_seq_step = 1, .n_micro = 1, .max_completion_length = 1, .active_tokens_step = 1};
    int len = 1;
    learner_batch b = {.n_seq = 1, .len = &len, .logp_new = &new_lp, .logp_old = &old_lp, .adv = &A};
    memset(st, 0, sizeof *st);
    CU_ASSERT_EQUAL(learner_loss(&o, &n, &b, dlogp, st, NULL), GRPO_OK);
    return st->loss;
}

static void surrogate_gradient_vanishes_only_where_the_clip_binds(void) {
    float d;
    learner_stats st;
    /* ratio e^0.5 = 1.65 > 1.28 with A > 0: clipped, loss = -1.28 A, no gradient, clipped high */
    CU_ASSERT_DOUBLE_EQUAL(one_token(0.5f, 0.0f, 2.0, &d, &st), -1.28 * 2.0, 1e-6);
    CU_ASSERT_EQUAL(d, 0.0f);
    CU_ASSERT_EQUAL(st.clip_high, 1.0);
    /* same ratio with A < 0: the unclipped term is the min, loss = -ratio A, gradient -A ratio */
    CU_ASSERT_DOUBLE_EQUAL(one_token(0.5f, 0.0f, -2.0, &d, &st), 2.0 * exp(0.5), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(d, 2.0 * exp(0.5), 1e-5);
    /* ratio e^-0.5 = 0.61 < 0.8 with A < 0: clipped low, no gradient */
    CU_ASSERT_DOUBLE_EQUAL(one_token(-0.5f, 0.0f, -1.0, &d, &st), 0.8, 1e-6);
    CU_ASSERT_EQUAL(d, 0.0f);
    CU_ASSERT_EQUAL(st.clip_low, 1.0);
    /* inside the range: loss -ratio A, gradient -ratio A */
    CU_ASSERT_DOUBLE_EQUAL(one_token(0.1f, 0.0f, 1.0, &d, &st), -exp(0.1), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(d, -exp(0.1), 1e-6);
}

static void log_ratio_is_clamped_to_20_before_exp(void) {
    float d;
    learner_stats st;
    double l = one_token(50.0f, 0.0f, -1.0, &d, &st);
    CU_ASSERT(isfinite(l));
    CU_ASSERT_DOUBLE_EQUAL(l, exp(20.0), exp(20.0) * 1e-6);
    CU_ASSERT_EQUAL(d, 0.0f); /* outside the clamp the log-ratio has no gradient */
}

static void k3_kl_term_adds_beta_kl_and_its_gradient(void) {
    learner_opts o = {.loss_type = LOSS_DAPO, .epsilon = 0.2f, .epsilon_high = 0.2f, .beta = 0.5f};
    learner_norm n = {.active_tokens_step = 1};
    int len = 1;
    float nw = -1.0f, old = -1.0f, ref = -1.3f, d;
    double A = 0.0;
    learner_batch b = {.n_seq = 1, .len = &len, .logp_new = &nw, .logp_old = &old, .logp_ref = &ref, .adv = &A};
    learner_stats st = {0};
    CU_ASSERT_EQUAL(learner_loss(&o, &n, &b, &d, &st, NULL), GRPO_OK);
    const double x = -0.3; /* ref - new */
    CU_ASSERT_DOUBLE_EQUAL(st.loss, 0.5 * (exp(x) - x - 1), 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(d, 0.5 * (1 - exp(x)), 1e-7);
    b.logp_ref = NULL;
    CU_ASSERT_EQUAL(learner_loss(&o, &n, &b, &d, &st, NULL), GRPO_EINVAL);
}

/* beta = 0: no reference is needed, and none enters the loss. One token, ratio e^0.1 inside the
 * clip range, A = 1, dapo over one token: loss = -e^0.1 and dloss/dnew = -e^0.1, the surrogate alone. */
static void beta_zero_needs_no_reference_and_adds_no_kl(void) {
    learner_opts o = {.loss_type = LOSS_DAPO, .epsilon = 0.2f, .epsilon_high = 0.28f, .beta = 0.0f};
    learner_norm n = {.active_tokens_step = 1};
    int len = 1;
    float nw = -1.0f, old = -1.1f, d = 0.0f;
    const double r = exp((double)nw - old);
    double A = 1.0;
    learner_batch b = {.n_seq = 1, .len = &len, .logp_new = &nw, .logp_old = &old, .logp_ref = NULL, .adv = &A};
    learner_stats st = {0};
    CU_ASSERT_EQUAL_FATAL(learner_loss(&o, &n, &b, &d, &st, NULL), GRPO_OK);
    CU_ASSERT_DOUBLE_EQUAL(st.loss, -r, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(d, -r, 1e-6);
    CU_ASSERT_EQUAL(st.kl_sum, 0.0);
    /* a reference given anyway, even a NaN one, changes neither the loss nor its gradient */
    float nan_ref = NAN;
    b.logp_ref = &nan_ref;
    learner_stats st2 = {0};
    CU_ASSERT_EQUAL_FATAL(learner_loss(&o, &n, &b, &d, &st2, NULL), GRPO_OK);
    CU_ASSERT_DOUBLE_EQUAL(st2.loss, -r, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(d, -r, 1e-6);
}

/* ---- parity with the PyTorch reference ---- */

typedef struct {
    st_file f;
    policy_model m;
} ref_ctx;

static const st_tensor *T(const ref_ctx *r, const char *name) {
    const st_tensor *t = st_find(&r->f, name);
    if (!t) fprintf(stderr, "\n  fixture tensor %s missing\n", name);
    return t;
}
static const float *F(const ref_ctx *r, const char *name) {
    const st_tensor *t = T(r, name);
    return t ? (const float *)t->data : NULL;
}
static const int *I(const ref_ctx *r, const char *name) {
    const st_tensor *t = T(r, name);
    return t ? (const int *)t->data : NULL;
}

static double rel_err(const float *a, const float *b, size_t n) {
    double dd = 0, rr = 0;
    for (size_t i = 0; i < n; i++) {
        dd += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        rr += (double)b[i] * b[i];
    }
    return sqrt(dd) / (sqrt(rr) + 1e-30);
}

static void run_case(int c) {
    ref_ctx r;
    grpo_err e = {0};
    char *fx = tu_src("tests/fixtures/grpo/loss_cases.safetensors"), *md = tu_src("tests/fixtures/policy/qwen2");
    CU_ASSERT_EQUAL_FATAL(st_open(&r.f, fx, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_load(&r.m, md, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(&r.m, &e), GRPO_OK);
    free(fx);
    free(md);
    char k[160];
    const int NS = 16, *ids = I(&r, "input_ids"), *slen = I(&r, "seq_len"), *plen = I(&r, "prompt_len");
    const int *clen = I(&r, "completion_len"), split = I(&r, "micro_split")[0];
    const float *rewards_f = F(&r, "rewards"), *old = F(&r, "logp_old"), *ref = F(&r, "logp_ref");
    const float *hp = F(&r, "hparams"), T_ = F(&r, "temperature")[0];
    snprintf(k, sizeof k, "c%d.params", c);
    const float *pp = F(&r, k);
    snprintf(k, sizeof k, "c%d.seq_is", c);
    learner_opts o = {.loss_type = (learner_loss_type)(int)pp[0], .beta = pp[1], .epsilon = pp[2],
                      .epsilon_high = pp[3], .scale_rewards = (learner_scale)(int)pp[4],
                      .is_level = F(&r, k)[0] != 0 ? IS_SEQUENCE : IS_TOKEN};
    double rewards[16], adv[16];
    for (int i = 0; i < NS; i++) rewards[i] = rewards_f[i];
    learner_advantages(rewards, NS / 4, 4, o.scale_rewards, adv);
    snprintf(k, sizeof k, "c%d.advantages", c);
    const float *adv_ref = F(&r, k);
    double adv_d = 0;
    for (int i = 0; i < NS; i++) adv_d = fmax(adv_d, fabs(adv[i] - adv_ref[i]));
    CU_ASSERT(adv_d <= 1e-6);
    /* the loss uses the reference's advantages: an advantage that is exactly 0 in exact arithmetic
     * (a reward equal to its group mean) comes out as +-3e-8 from float32 rewards, which flips the
     * clip statistics of its tokens without changing the loss */
    for (int i = 0; i < NS; i++) adv[i] = adv_ref[i];
    int coff[17] = {0}, soff[17] = {0};
    for (int i = 0; i < NS; i++) {
        coff[i + 1] = coff[i] + clen[i];
        soff[i + 1] = soff[i] + slen[i];
    }
    const int n_comp = coff[NS];
    learner_norm nrm = {.n_seq_step = NS, .n_micro = 2, .max_completion_length = (int)hp[6], .active_tokens_step = n_comp};
    policy_adamw h = {.lr = hp[0], .beta1 = hp[1], .beta2 = hp[2], .eps = hp[3], .weight_decay = hp[4]};
    float *lp_new = malloc(n_comp * sizeof(float)), *dcomp = malloc(n_comp * sizeof(float));
    for (int it = 0; it < 2; it++) {
        policy_zero_grad(&r.m);
        learner_stats st = {0};
        for (int mb = 0; mb < 2; mb++) {
            const int s0 = mb ? split : 0, s1 = mb ? NS : split;
            policy_batch b = {.n_seq = s1 - s0, .seq_len = slen + s0, .tokens = ids + soff[s0]};
            size_t nt = policy_batch_targets(&b);
            float *logp = malloc(nt * sizeof(float)), *dl = calloc(nt, sizeof(float));
            CU_ASSERT_EQUAL_FATAL(policy_forward(&r.m, &b, T_, logp, NULL, 1, &e), GRPO_OK);
            /* completion token t of sequence i is target index P - 1 + t within that sequence */
            for (int i = s0, q = 0; i < s1; q += slen[i] - 1, i++)
                for (int t = 0; t < clen[i]; t++) lp_new[coff[i] + t] = logp[q + plen[i] - 1 + t];
            learner_batch lb = {.n_seq = s1 - s0, .len = clen + s0, .logp_new = lp_new + coff[s0],
                                .logp_old = old + coff[s0], .logp_ref = o.beta != 0 ? ref + coff[s0] : NULL, /* beta 0: no reference at all */
                                .adv = adv + s0};
            CU_ASSERT_EQUAL_FATAL(learner_loss(&o, &nrm, &lb, dcomp + coff[s0], &st, &e), GRPO_OK);
            for (int i = s0, q = 0; i < s1; q += slen[i] - 1, i++)
                for (int t = 0; t < clen[i]; t++) dl[q + plen[i] - 1 + t] = dcomp[coff[i] + t];
            CU_ASSERT_EQUAL_FATAL(policy_backward(&r.m, &b, T_, dl, &e), GRPO_OK);
            free(logp);
            free(dl);
        }
        snprintf(k, sizeof k, "c%d.k%d.logp_new", c, it);
        const float *lp_ref = F(&r, k);
        double lpd = 0;
        for (int i = 0; i < n_comp; i++) lpd = fmax(lpd, fabs((double)lp_new[i] - lp_ref[i]));
        snprintf(k, sizeof k, "c%d.k%d.loss", c, it);
        const double loss_ref = F(&r, k)[0];
        snprintf(k, sizeof k, "c%d.k%d.clip_low", c, it);
        const double cl = F(&r, k)[0];
        snprintf(k, sizeof k, "c%d.k%d.clip_high", c, it);
        const double ch = F(&r, k)[0];
        snprintf(k, sizeof k, "c%d.k%d.kl_mean", c, it);
        const double kl = F(&r, k)[0];
        /* logprobs are inputs to the loss here; the forward's own parity (1e-4 on logits) is the policy suite's */
        CU_ASSERT(lpd <= 1e-4);
        CU_ASSERT(fabs(st.loss - loss_ref) <= 1e-5);
        CU_ASSERT(fabs(st.clip_low / st.tokens - cl) <= 1e-6);
        CU_ASSERT(fabs(st.clip_high / st.tokens - ch) <= 1e-6);
        /* the fixture's kl_mean is measured for every case; without a reference there is none to report */
        if (o.beta != 0) {
            CU_ASSERT(fabs(st.kl_sum / st.tokens - kl) <= 1e-5);
        } else {
            CU_ASSERT_EQUAL(st.kl_sum, 0.0);
        }
        const char *names[] = {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.bias",
                               "model.layers.1.mlp.down_proj.weight", "model.norm.weight"};
        double worst = 0;
        for (int p = 0; p < 4; p++) {
            const policy_param *pa = policy_find_param(&r.m, names[p]);
            snprintf(k, sizeof k, "c%d.k%d.grad.%s", c, it, names[p]);
            const float *g = F(&r, k);
            if (!g || !pa) {
                CU_FAIL("missing gradient reference");
                continue;
            }
            worst = fmax(worst, rel_err(r.m.grad_mem + pa->offset, g, pa->numel));
        }
        const policy_param *emb = policy_find_param(&r.m, "model.embed_tokens.weight");
        snprintf(k, sizeof k, "c%d.k%d.grad.model.embed_tokens.weight[0:32]", c, it);
        const float *ge = F(&r, k);
        if (ge) worst = fmax(worst, rel_err(r.m.grad_mem + emb->offset, ge, 32 * 64));
        snprintf(k, sizeof k, "c%d.k%d.grad_norm", c, it);
        const double gn_ref = F(&r, k)[0];
        const double gn = policy_clip_grad_norm(&r.m, hp[5]);
        printf("[c%d k%d loss %.6f vs %.6f, logp %.0e, grads rel %.1e] ", c, it, st.loss, loss_ref, lpd, worst);
        CU_ASSERT(worst <= 1e-4);
        CU_ASSERT(fabs(gn - gn_ref) <= 1e-4 * fmax(1.0, gn_ref));
        CU_ASSERT_EQUAL_FATAL(policy_adamw_step(&r.m, &h, &e), GRPO_OK);
    }
    free(lp_new);
    free(dcomp);
    st_close(&r.f);
    policy_free(&r.m);
}

static void grpo_loss_matches_torch(void) { run_case(0); run_case(4); }
static void bnpo_loss_matches_torch(void) { run_case(1); run_case(5); }
static void dr_grpo_loss_matches_torch(void) { run_case(2); run_case(6); }
static void dapo_loss_matches_torch(void) { run_case(3); run_case(7); }
static void sequence_level_is_with_unscaled_rewards_matches_torch(void) { run_case(8); }
static void batch_scaled_dr_grpo_with_kl_matches_torch(void) { run_case(9); }

/* Four problems, k = 4, tallied by hand:
 *  A: answers 5 5 7 5, correct 1 1 0 1 -> pass1 3/4, pass@4 1, maj 5 (correct) 1
 *  B: answers 3 9 9 -, correct 1 0 0 0 -> pass1 1/4, pass@4 1, maj 9 (wrong) 0
 *  C: answers 2 4 2 4, correct 0 1 0 1 -> pass1 2/4, pass@4 1, tie 2:2 goes to 2 (seen first, wrong) 0
 *  D: no answers, none correct          -> 0, 0, 0
 * pass@1 = (0.75 + 0.25 + 0.5 + 0) / 4 = 0.375, pass@4 = 3/4, maj@4 = 1/4. */
/* lr_schedule: linear warmup to the peak, then constant, or a half cosine reaching 0 at step total
 * (and staying there); the SFT cold start calls it with no warmup over sft_steps. */
static void lr_schedule_warms_up_then_follows_constant_or_cosine(void) {
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("constant", 1e-3, 4, 100, 0), 2.5e-4, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("constant", 1e-3, 4, 100, 3), 1e-3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("constant", 1e-3, 4, 100, 99), 1e-3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("cosine", 3e-3, 0, 1500, 0), 3e-3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("cosine", 3e-3, 0, 1500, 750), 1.5e-3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("cosine", 3e-3, 0, 1500, 1125), 3e-3 * 0.5 * (1 - sqrt(0.5)), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("cosine", 3e-3, 0, 1500, 1500), 0.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("cosine", 3e-3, 0, 1500, 2000), 0.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lr_schedule("cosine", 1.0, 10, 110, 60), 0.5, 1e-12); /* halfway after warmup */
    double prev = 1.0;
    for (int s = 1; s <= 1500; s++) {
        double lr = lr_schedule("cosine", 1.0, 0, 1500, s);
        CU_ASSERT(lr <= prev);
        prev = lr;
    }
}

static void eval_tally_matches_hand_counts(void) {
    const char *a[4] = {"5", "5", "7", "5"}, *b[4] = {"3", "9", "9", ""}, *c[4] = {"2", "4", "2", "4"},
               *d[4] = {NULL, "", NULL, ""};
    const int oa[4] = {1, 1, 0, 1}, ob[4] = {1, 0, 0, 0}, oc[4] = {0, 1, 0, 1}, od[4] = {0, 0, 0, 0};
    eval_tally t = {0};
    eval_tally_add(&t, oa, a, 4);
    eval_tally_add(&t, ob, b, 4);
    eval_tally_add(&t, oc, c, 4);
    eval_tally_add(&t, od, d, 4);
    CU_ASSERT_EQUAL(t.n_problems, 4);
    CU_ASSERT_EQUAL(t.k, 4);
    CU_ASSERT_DOUBLE_EQUAL(t.pass1_sum / t.n_problems, 0.375, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(t.pass_k_sum / t.n_problems, 0.75, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(t.maj_k_sum / t.n_problems, 0.25, 1e-12);
    /* k = 1 (greedy): all three are the same number */
    eval_tally g = {0};
    const char *one[1] = {"5"};
    const int yes[1] = {1}, no[1] = {0};
    eval_tally_add(&g, yes, one, 1);
    eval_tally_add(&g, no, one, 1);
    CU_ASSERT_DOUBLE_EQUAL(g.pass1_sum, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(g.pass_k_sum, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(g.maj_k_sum, 1.0, 0);
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("learner", NULL, NULL);
    CU_add_test(s, "group_advantages_use_the_unbiased_std_and_count_zero_spread_groups",
                group_advantages_use_the_unbiased_std_and_count_zero_spread_groups);
    CU_add_test(s, "batch_scaled_advantages_divide_by_the_batch_std", batch_scaled_advantages_divide_by_the_batch_std);
    CU_add_test(s, "surrogate_gradient_vanishes_only_where_the_clip_binds", surrogate_gradient_vanishes_only_where_the_clip_binds);
    CU_add_test(s, "log_ratio_is_clamped_to_20_before_exp", log_ratio_is_clamped_to_20_before_exp);
    CU_add_test(s, "eval_tally_matches_hand_counts", eval_tally_matches_hand_counts);
    CU_add_test(s, "lr_schedule_warms_up_then_follows_constant_or_cosine",
                lr_schedule_warms_up_then_follows_constant_or_cosine);
    CU_add_test(s, "k3_kl_term_adds_beta_kl_and_its_gradient", k3_kl_term_adds_beta_kl_and_its_gradient);
    CU_add_test(s, "beta_zero_needs_no_reference_and_adds_no_kl", beta_zero_needs_no_reference_and_adds_no_kl);
    CU_add_test(s, "grpo_loss_matches_torch", grpo_loss_matches_torch);
    CU_add_test(s, "bnpo_loss_matches_torch", bnpo_loss_matches_torch);
    CU_add_test(s, "dr_grpo_loss_matches_torch", dr_grpo_loss_matches_torch);
    CU_add_test(s, "dapo_loss_matches_torch", dapo_loss_matches_torch);
    CU_add_test(s, "sequence_level_is_with_unscaled_rewards_matches_torch", sequence_level_is_with_unscaled_rewards_matches_torch);
    CU_add_test(s, "batch_scaled_dr_grpo_with_kl_matches_torch", batch_scaled_dr_grpo_with_kl_matches_torch);
    return tu_run_registry();
}
