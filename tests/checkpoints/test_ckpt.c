/* tests/checkpoints/test_ckpt.c: checkpoints save everything resume needs, atomically:
 * resuming reproduces uninterrupted training bit for bit on CPU, half-written checkpoints are
 * never picked, keep-last prunes, and the saved model is an HF model directory. */
#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../checkpoints/ckpt.h"
#include "../../common/fsutil.h"
#include "../test_util.h"

static char *run_dir;

static void build_tiny(policy_model *m) {
    policy_config c;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_config_preset(&c, POLICY_ARCH_QWEN3, "tiny", &e), GRPO_OK);
    c.vocab_size = 200;
    c.num_hidden_layers = 2;
    CU_ASSERT_EQUAL_FATAL(policy_build(m, &c, &e), GRPO_OK);
    policy_init_random(m, 3);
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(m, &e), GRPO_OK);
}

static void train_steps(policy_model *m, int n) {
    int toks[12] = {1, 5, 9, 13, 17, 21, 2, 4, 6, 8, 10, 12}, lens[2] = {6, 6};
    policy_batch b = {.n_seq = 2, .seq_len = lens, .tokens = toks};
    policy_adamw h = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.1f};
    grpo_err e = {0};
    for (int i = 0; i < n; i++) {
        double loss;
        policy_zero_grad(m);
        CU_ASSERT_EQUAL_FATAL(policy_ce_step(m, &b, NULL, 1, &loss, &e), GRPO_OK);
        policy_clip_grad_norm(m, 1.0);
        CU_ASSERT_EQUAL_FATAL(policy_adamw_step(m, &h, &e), GRPO_OK);
    }
}

/* A malloc'd copy of n floats (the state to compare with after a reload). */
static float *snapshot(const float *p, size_t n) {
    float *c = malloc(n * sizeof *c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    memcpy(c, p, n * sizeof *c);
    return c;
}

static void resume_from_a_checkpoint_reproduces_uninterrupted_training_bit_for_bit(void) {
    policy_model a, b;
    grpo_err e = {0};
    build_tiny(&a);
    train_steps(&a, 3);
    /* what seeds every random draw of a resumed run: the seed and the data cursor. Values past
     * 2^53 (and a seed past 2^63) would not survive a trip through a JSON double or an int64. */
    const uint64_t seed = 0xF00DFACE12345679ULL;
    const int64_t epoch = (INT64_C(1) << 53) + 3, pos = (INT64_C(1) << 60) + 7;
    ckpt_state st = {.step = 3, .cursor_epoch = epoch, .cursor_pos = pos, .seed = seed, .config_json = "{\"lr\": 0.01}"};
    CU_ASSERT_EQUAL_FATAL(ckpt_save(run_dir, &a, &st, 0, &e), GRPO_OK);
    const size_t n = a.n_params;
    float *param = snapshot(a.param_mem, n), *m1 = snapshot(a.m_mem, n), *m2 = snapshot(a.v_mem, n);
    train_steps(&a, 2);
    char path[4096];
    CU_ASSERT_EQUAL(ckpt_find_latest(run_dir, path, sizeof path, &e), GRPO_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(path, "step-00000003"));
    ckpt_state got;
    CU_ASSERT_EQUAL_FATAL(ckpt_load(path, &b, &got, &e), GRPO_OK);
    CU_ASSERT_EQUAL(got.step, 3);
    CU_ASSERT_EQUAL(got.cursor_epoch, epoch);
    CU_ASSERT_EQUAL(got.cursor_pos, pos);
    CU_ASSERT_EQUAL(got.seed, seed);
    CU_ASSERT_PTR_NOT_NULL(got.config_json && strstr(got.config_json, "\"lr\""));
    CU_ASSERT_EQUAL(b.adam_t, 3);
    /* the loaded weights and both AdamW moments are the saved ones, bit for bit */
    CU_ASSERT_EQUAL_FATAL(b.n_params, n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.m_mem);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.v_mem);
    CU_ASSERT_EQUAL(memcmp(b.param_mem, param, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(b.m_mem, m1, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(b.v_mem, m2, n * sizeof(float)), 0);
    /* and two more steps from there land where the uninterrupted run did */
    train_steps(&b, 2);
    CU_ASSERT_EQUAL(b.adam_t, a.adam_t);
    CU_ASSERT_EQUAL(memcmp(a.param_mem, b.param_mem, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(a.m_mem, b.m_mem, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(a.v_mem, b.v_mem, n * sizeof(float)), 0);
    free(param), free(m1), free(m2);
    ckpt_state_free(&got);
    policy_free(&a);
    policy_free(&b);
}

static void half_written_checkpoint_is_never_picked(void) {
    grpo_err e = {0};
    char tmp[4200], path[4096];
    snprintf(tmp, sizeof tmp, "%s/checkpoints/step-00000009.tmp-4242", run_dir);
    CU_ASSERT_EQUAL(fs_mkdirs(tmp, &e), GRPO_OK);
    free(tu_write(tmp, "model.safetensors", "garbage", 7));
    snprintf(tmp, sizeof tmp, "%s/checkpoints/step-00000010", run_dir); /* no trainer_state.json */
    CU_ASSERT_EQUAL(fs_mkdirs(tmp, &e), GRPO_OK);
    CU_ASSERT_EQUAL(ckpt_find_latest(run_dir, path, sizeof path, &e), GRPO_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(path, "step-00000003"));
}

static void keep_last_prunes_older_checkpoints(void) {
    policy_model a;
    grpo_err e = {0};
    build_tiny(&a);
    for (int s = 4; s <= 7; s++) {
        ckpt_state st = {.step = s};
        CU_ASSERT_EQUAL(ckpt_save(run_dir, &a, &st, 2, &e), GRPO_OK);
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/checkpoints/step-00000005", run_dir);
    CU_ASSERT_FALSE(fs_exists(p));
    snprintf(p, sizeof p, "%s/checkpoints/step-00000006/trainer_state.json", run_dir);
    CU_ASSERT_TRUE(fs_exists(p));
    snprintf(p, sizeof p, "%s/checkpoints/step-00000007/model.safetensors", run_dir);
    CU_ASSERT_TRUE(fs_exists(p));
    snprintf(p, sizeof p, "%s/checkpoints/step-00000007/config.json", run_dir);
    CU_ASSERT_TRUE(fs_exists(p));
    policy_free(&a);
}

static void damaged_trainer_state_is_an_error_naming_the_file(void) {
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/checkpoints/step-00000007", run_dir);
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"step\": \"seven\"}", f);
    fclose(f);
    policy_model m;
    ckpt_state st;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(ckpt_load(dir, &m, &st, &e), GRPO_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "trainer_state.json: field \"step\""));
}

int main(void) {
    run_dir = tu_tmpdir("ckpt");
    if (!run_dir || CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("checkpoints", NULL, NULL);
    CU_add_test(s, "resume_from_a_checkpoint_reproduces_uninterrupted_training_bit_for_bit",
                resume_from_a_checkpoint_reproduces_uninterrupted_training_bit_for_bit);
    CU_add_test(s, "half_written_checkpoint_is_never_picked", half_written_checkpoint_is_never_picked);
    CU_add_test(s, "keep_last_prunes_older_checkpoints", keep_last_prunes_older_checkpoints);
    CU_add_test(s, "damaged_trainer_state_is_an_error_naming_the_file", damaged_trainer_state_is_an_error_naming_the_file);
    int rc = tu_run_registry();
    fs_remove_tree(run_dir, NULL);
    free(run_dir);
    return rc;
}
