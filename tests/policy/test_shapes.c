/* tests/policy/test_shapes.c: deep and oddly shaped models through every path that carves an
 * arena: forward with and without kept activations, backward, an SFT step, a GRPO step (learner
 * loss, backward, AdamW) and cached generation. Built to run under ASan + UBSan, where any
 * disagreement between an arena's size and the walk that carves it is a heap-buffer-overflow.
 * The shapes are chosen so that no piece is a multiple of 16 floats: head_dim 12 or 10, odd
 * intermediate sizes and vocabularies, odd total token counts, 48 layers. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpo/learner/learner.h"
#include "../../policy/model.h"
#include "../../rollout/generate.h"

typedef struct {
    const char *name;
    policy_arch arch;
    int layers, hidden, heads, kv_heads, head_dim, inter, vocab;
} shape;

static const shape SHAPES[] = {
    {"qwen2 48 layers, narrow", POLICY_ARCH_QWEN2, 48, 36, 3, 1, 12, 37, 67},
    {"qwen3 qk-norm, head_dim 10", POLICY_ARCH_QWEN3, 9, 30, 3, 3, 10, 41, 53},
    {"llama head_dim 12 > hidden/heads", POLICY_ARCH_LLAMA, 7, 20, 4, 2, 12, 23, 71},
};

static void build(policy_model *m, const shape *s) {
    policy_config c;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_config_preset(&c, s->arch, "tiny", &e), GRPO_OK);
    c.num_hidden_layers = s->layers;
    c.hidden_size = s->hidden;
    c.num_attention_heads = s->heads;
    c.num_key_value_heads = s->kv_heads;
    c.head_dim = s->head_dim;
    c.intermediate_size = s->inter;
    c.vocab_size = s->vocab;
    c.bos_token_id = 1;
    c.n_eos = 0;
    int rc = policy_build(m, &c, &e);
    if (rc) fprintf(stderr, "\n  %s: %s\n", s->name, e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
    policy_init_random(m, 11);
}

/* Three sequences of odd lengths (25 tokens in all). */
static const int LENS[3] = {7, 13, 5};

static void fill_tokens(int *toks, int n, int vocab) {
    for (int i = 0; i < n; i++) toks[i] = (i * 7 + 3) % vocab;
}

static void forward_backward_sft_and_grpo_step(const shape *s) {
    policy_model m;
    build(&m, s);
    grpo_err e = {0};
    int toks[25];
    fill_tokens(toks, 25, s->vocab);
    policy_batch b = {.n_seq = 3, .seq_len = LENS, .tokens = toks};
    const int n_lp = 25 - 3;
    float lp_plain[22], lp_kept[22], dlogp[22], lp_old[22];
    /* forward without and with kept activations: the same logprobs */
    CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &b, 1.0f, lp_plain, NULL, 0, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(&m, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &b, 0.7f, lp_old, NULL, 1, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &b, 1.0f, lp_kept, NULL, 1, &e), GRPO_OK);
    for (int i = 0; i < n_lp; i++) {
        CU_ASSERT(isfinite(lp_kept[i]) && lp_kept[i] < 0);
        CU_ASSERT_DOUBLE_EQUAL(lp_plain[i], lp_kept[i], 1e-5);
    }
    for (int i = 0; i < n_lp; i++) dlogp[i] = -1.0f / n_lp;
    CU_ASSERT_EQUAL(policy_backward(&m, &b, 1.0f, dlogp, &e), GRPO_OK);
    CU_ASSERT(policy_clip_grad_norm(&m, 1e9) > 0.0);
    /* SFT: masked cross-entropy on the last two sequences' targets only */
    float mask[22];
    for (int i = 0; i < n_lp; i++) mask[i] = i >= LENS[0] - 1;
    double loss = 0;
    policy_zero_grad(&m);
    CU_ASSERT_EQUAL(policy_ce_step(&m, &b, mask, 1, &loss, &e), GRPO_OK);
    CU_ASSERT(isfinite(loss) && loss > 0);
    policy_adamw h = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f};
    CU_ASSERT_EQUAL(policy_adamw_step(&m, &h, &e), GRPO_OK);
    /* a GRPO step: one group of the three sequences, advantages from made-up rewards */
    double rewards[3] = {1.0, 0.0, 0.5}, adv[3];
    learner_advantages(rewards, 1, 3, SCALE_GROUP, adv);
    int clen[3] = {LENS[0] - 1, LENS[1] - 1, LENS[2] - 1};
    CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &b, 0.7f, lp_kept, NULL, 1, &e), GRPO_OK);
    learner_opts o = {.loss_type = LOSS_DAPO, .epsilon = 0.2f, .epsilon_high = 0.28f};
    learner_norm nrm = {.n_seq_step = 3, .n_micro = 1, .max_completion_length = 13, .active_tokens_step = n_lp};
    learner_batch lb = {.n_seq = 3, .len = clen, .logp_new = lp_kept, .logp_old = lp_old, .adv = adv};
    learner_stats st = {0};
    policy_zero_grad(&m);
    CU_ASSERT_EQUAL(learner_loss(&o, &nrm, &lb, dlogp, &st, &e), GRPO_OK);
    CU_ASSERT_EQUAL(policy_backward(&m, &b, 0.7f, dlogp, &e), GRPO_OK);
    CU_ASSERT_EQUAL(policy_adamw_step(&m, &h, &e), GRPO_OK);
    policy_free(&m);
}

/* Cached generation on the same shapes: the recorded logprobs equal a full forward's. */
static void generate_matches_full_forward(const shape *s) {
    policy_model m;
    build(&m, s);
    int p0[5], p1[9];
    fill_tokens(p0, 5, s->vocab);
    fill_tokens(p1, 9, s->vocab);
    const int *prompts[2] = {p0, p1};
    int plen[2] = {5, 9};
    gen_params gp = gen_defaults();
    gp.n = 3;
    gp.max_new_tokens = 11;
    gp.seed = 5;
    gen_completion out[6];
    grpo_err e = {0};
    int rc = gen_run(&m, prompts, plen, NULL, 2, &gp, out, NULL, &e);
    if (rc) fprintf(stderr, "\n  gen_run: %s\n", e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
    for (int i = 0; i < 6; i++) {
        const int pl = plen[out[i].prompt_index], n = pl + out[i].n_tokens;
        int *seq = malloc((size_t)n * sizeof *seq);
        float *lp = malloc((size_t)(n - 1) * sizeof *lp);
        CU_ASSERT_FATAL(seq && lp);
        memcpy(seq, prompts[out[i].prompt_index], (size_t)pl * sizeof *seq);
        memcpy(seq + pl, out[i].tokens, (size_t)out[i].n_tokens * sizeof *seq);
        policy_batch b = {.n_seq = 1, .seq_len = &n, .tokens = seq};
        CU_ASSERT_EQUAL(policy_forward(&m, &b, gp.sampling.temperature, lp, NULL, 0, &e), GRPO_OK);
        for (int t = 0; t < out[i].n_tokens; t++) CU_ASSERT_DOUBLE_EQUAL(lp[pl - 1 + t], out[i].logprobs[t], 1e-5);
        free(seq);
        free(lp);
    }
    gen_completions_free(out, 6);
    policy_free(&m);
}

static void deep_narrow_qwen2_trains_and_generates(void) {
    forward_backward_sft_and_grpo_step(&SHAPES[0]);
    generate_matches_full_forward(&SHAPES[0]);
}
static void qwen3_head_dim_10_trains_and_generates(void) {
    forward_backward_sft_and_grpo_step(&SHAPES[1]);
    generate_matches_full_forward(&SHAPES[1]);
}
static void llama_head_dim_12_trains_and_generates(void) {
    forward_backward_sft_and_grpo_step(&SHAPES[2]);
    generate_matches_full_forward(&SHAPES[2]);
}

/* Every tensor's view pointer is where the parameter table says, and views of different arenas
 * point at the same offsets. */
static void weight_and_gradient_views_follow_the_parameter_table(void) {
    for (size_t k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; k++) {
        policy_model m;
        build(&m, &SHAPES[k]);
        grpo_err e = {0};
        CU_ASSERT_EQUAL_FATAL(policy_enable_training(&m, &e), GRPO_OK);
        size_t seen = 0;
        for (size_t i = 0; i < m.n_tensors; i++) {
            const policy_param *p = &m.params[i];
            const char *ow = p->layer < 0 ? (const char *)&m.w : (const char *)&m.w.layers[p->layer];
            const char *og = p->layer < 0 ? (const char *)&m.g : (const char *)&m.g.layers[p->layer];
            float *pw, *pg;
            memcpy(&pw, ow + p->slot, sizeof pw);
            memcpy(&pg, og + p->slot, sizeof pg);
            CU_ASSERT_PTR_EQUAL(pw, m.param_mem + p->offset);
            CU_ASSERT_PTR_EQUAL(pg, m.grad_mem + p->offset);
            CU_ASSERT(p->offset + p->numel <= m.n_params);
            seen += p->numel;
        }
        CU_ASSERT(seen <= m.n_params);
        if (m.cfg.tie_word_embeddings) CU_ASSERT_PTR_EQUAL(m.w.lm_head, m.w.embed);
        if (!m.cfg.tie_word_embeddings) CU_ASSERT(m.w.lm_head != m.w.embed);
        policy_free(&m);
    }
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("shapes", NULL, NULL);
    CU_add_test(s, "deep_narrow_qwen2_trains_and_generates", deep_narrow_qwen2_trains_and_generates);
    CU_add_test(s, "qwen3_head_dim_10_trains_and_generates", qwen3_head_dim_10_trains_and_generates);
    CU_add_test(s, "llama_head_dim_12_trains_and_generates", llama_head_dim_12_trains_and_generates);
    CU_add_test(s, "weight_and_gradient_views_follow_the_parameter_table",
                weight_and_gradient_views_follow_the_parameter_table);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
