/* tests/policy/test_policy.c: the policy suite: config.json reading, loading models, and
 * parity of the fp32 CPU forward, backward and AdamW with transformers + torch fixtures
 * (tests/fixtures/policy, made by tests/scripts/make_policy_fixtures.py).
 * Tolerances: logits max abs error <= 1e-4; each gradient ||d||/||ref|| <= 1e-3;
 * the 5 AdamW-step losses within 1e-4. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/fsutil.h"
#include "../../policy/cpu/cpu.h"
#include "../../policy/model.h"
#include "../../policy/safetensors.h"
#include "../test_util.h"

int register_safetensors_suite(void);

/* ---- config.json ---- */

static const char *VALID_QWEN2 =
    "{\"architectures\":[\"Qwen2ForCausalLM\"],\"vocab_size\":1000,\"hidden_size\":64,\"intermediate_size\":128,"
    "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"rope_theta\":10000.0,"
    "\"rms_norm_eps\":1e-6,\"tie_word_embeddings\":true,\"eos_token_id\":[5,7]}";

static void config_parse_reads_qwen2_sizes_and_defaults(void) {
    policy_config c;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_config_parse(&c, VALID_QWEN2, strlen(VALID_QWEN2), "cfg.json", &e), GRPO_OK);
    CU_ASSERT_EQUAL(c.arch, POLICY_ARCH_QWEN2);
    CU_ASSERT_EQUAL(c.head_dim, 16);
    CU_ASSERT_EQUAL(c.qkv_bias, 1);
    CU_ASSERT_EQUAL(c.o_bias, 0);
    CU_ASSERT_EQUAL(c.tie_word_embeddings, 1);
    CU_ASSERT_EQUAL(c.n_eos, 2);
    CU_ASSERT_EQUAL(c.eos_token_ids[1], 7);
    CU_ASSERT_EQUAL(c.rope_type, POLICY_ROPE_DEFAULT);
}

static void config_parse_reads_transformers5_rope_parameters(void) {
    const char *j = "{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":100,\"hidden_size\":32,"
                    "\"intermediate_size\":64,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
                    "\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":500000.0,\"factor\":8.0,"
                    "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":64}}";
    policy_config c;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_config_parse(&c, j, strlen(j), "cfg.json", &e), GRPO_OK);
    CU_ASSERT_EQUAL(c.rope_type, POLICY_ROPE_LLAMA3);
    CU_ASSERT_DOUBLE_EQUAL(c.rope_theta, 500000.0, 1e-9);
    CU_ASSERT_EQUAL(c.rope_original_max_pos, 64);
    CU_ASSERT_EQUAL(c.num_key_value_heads, 4);
}

/* Parses text and checks the error code and that the message contains want (and the file name). */
static void expect_config_error(const char *text, int code, const char *want) {
    policy_config c;
    grpo_err e = {0};
    int rc = policy_config_parse(&c, text, strlen(text), "bad/config.json", &e);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "bad/config.json"));
    if (!strstr(e.msg, want)) fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", e.msg, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, want));
}

static void config_not_json_is_an_error(void) { expect_config_error("{\"vocab_size\": 12,", GRPO_EFORMAT, "not valid JSON"); }

static void config_unknown_architecture_is_an_error(void) {
    expect_config_error("{\"architectures\":[\"GPT2LMHeadModel\"],\"vocab_size\":10}", GRPO_EUNSUPPORTED,
                        "unknown architecture \"GPT2LMHeadModel\"");
}

static void config_missing_size_is_an_error(void) {
    expect_config_error("{\"architectures\":[\"Qwen2ForCausalLM\"],\"vocab_size\":1000,\"hidden_size\":64,"
                        "\"num_hidden_layers\":2,\"num_attention_heads\":4}",
                        GRPO_EFORMAT, "missing required field \"intermediate_size\"");
}

static void config_zero_size_is_an_error(void) {
    expect_config_error("{\"architectures\":[\"Qwen2ForCausalLM\"],\"vocab_size\":1000,\"hidden_size\":0,"
                        "\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4}",
                        GRPO_EFORMAT, "\"hidden_size\" must be positive");
}

static void config_heads_not_multiple_of_kv_heads_is_an_error(void) {
    expect_config_error("{\"architectures\":[\"Qwen2ForCausalLM\"],\"vocab_size\":1000,\"hidden_size\":64,"
                        "\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                        "\"num_key_value_heads\":3}",
                        GRPO_EFORMAT, "not a multiple of num_key_value_heads");
}

static void config_wrong_type_is_an_error(void) {
    expect_config_error("{\"architectures\":[\"Qwen2ForCausalLM\"],\"vocab_size\":\"1000\"}", GRPO_EFORMAT,
                        "\"vocab_size\" must be an integer");
}

/* ---- fixtures ---- */

typedef struct {
    st_file ref;
    int B, T;
    int *lens;     /* [B] */
    int *packed;   /* sum lens */
    policy_batch batch;
} fixture;

static const float *ref_f32(const fixture *f, const char *name, size_t *numel) {
    const st_tensor *t = st_find(&f->ref, name);
    if (!t || t->dtype != ST_F32) return NULL;
    if (numel) *numel = t->numel;
    return (const float *)t->data; /* safetensors.torch aligns F32 data */
}

static int fixture_open(fixture *f, policy_model *m, const char *name) {
    memset(f, 0, sizeof *f);
    char rel[256], *dir, *ref;
    snprintf(rel, sizeof rel, "tests/fixtures/policy/%s", name);
    dir = tu_src(rel);
    snprintf(rel, sizeof rel, "tests/fixtures/policy/%s/ref.safetensors", name);
    ref = tu_src(rel);
    grpo_err e = {0};
    int rc = policy_load(m, dir, &e);
    if (rc) fprintf(stderr, "\n  load %s: %s\n", dir, e.msg);
    if (!rc && (rc = st_open(&f->ref, ref, &e))) fprintf(stderr, "\n  %s\n", e.msg);
    free(dir);
    free(ref);
    if (rc) return rc;
    const st_tensor *ids = st_find(&f->ref, "input_ids"), *lens = st_find(&f->ref, "lengths");
    if (!ids || !lens || ids->dtype != ST_I32 || ids->ndim != 2) return -1;
    f->B = (int)ids->shape[0];
    f->T = (int)ids->shape[1];
    f->lens = malloc(f->B * sizeof(int));
    memcpy(f->lens, lens->data, f->B * sizeof(int));
    f->packed = malloc((size_t)f->B * f->T * sizeof(int));
    int k = 0;
    for (int s = 0; s < f->B; s++)
        for (int t = 0; t < f->lens[s]; t++) memcpy(&f->packed[k++], ids->data + ((size_t)s * f->T + t) * 4, 4);
    f->batch = (policy_batch){.n_seq = f->B, .seq_len = f->lens, .tokens = f->packed};
    return 0;
}

static void fixture_close(fixture *f, policy_model *m) {
    st_close(&f->ref);
    free(f->lens);
    free(f->packed);
    policy_free(m);
}

/* ---- parity with transformers ---- */

static void check_logits(const char *name) {
    policy_model m;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, name), 0);
    const int V = m.cfg.vocab_size;
    size_t n;
    const float *ref = ref_f32(&f, "logits", &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    CU_ASSERT_EQUAL_FATAL(n, (size_t)f.B * f.T * V);
    float *logits = malloc(policy_batch_tokens(&f.batch) * V * sizeof(float));
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &f.batch, 1.0f, NULL, logits, 0, &e), GRPO_OK);
    double maxd = 0;
    for (int s = 0, k = 0; s < f.B; s++)
        for (int t = 0; t < f.lens[s]; t++, k++)
            for (int v = 0; v < V; v++)
                maxd = fmax(maxd, fabs((double)logits[(size_t)k * V + v] - ref[((size_t)s * f.T + t) * V + v]));
    printf("[%s logits max|d| %.2e] ", name, maxd);
    CU_ASSERT(maxd <= 1e-4);
    free(logits);
    fixture_close(&f, &m);
}

/* Forward at the fixture's temperature, logprobs, then the gradient of sum(w * logp). */
static void check_logprobs_and_grads(const char *name) {
    policy_model m;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, name), 0);
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(&m, &e), GRPO_OK);
    const float temp = ref_f32(&f, "temperature", NULL)[0];
    const float *ref_lp = ref_f32(&f, "logprobs", NULL), *w_pad = ref_f32(&f, "weights", NULL);
    const int Tm = f.T - 1;
    size_t nt = policy_batch_targets(&f.batch);
    float *logp = malloc(nt * sizeof(float)), *w = malloc(nt * sizeof(float));
    for (int s = 0, k = 0; s < f.B; s++)
        for (int t = 0; t + 1 < f.lens[s]; t++, k++) w[k] = w_pad[s * Tm + t];
    CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &f.batch, temp, logp, NULL, 1, &e), GRPO_OK);
    double maxd = 0, obj = 0;
    for (int s = 0, k = 0; s < f.B; s++)
        for (int t = 0; t + 1 < f.lens[s]; t++, k++) {
            maxd = fmax(maxd, fabs((double)logp[k] - ref_lp[s * Tm + t]));
            obj += (double)w[k] * logp[k];
        }
    printf("[%s logprobs max|d| %.2e] ", name, maxd);
    CU_ASSERT(maxd <= 1e-4);
    CU_ASSERT(fabs(obj - ref_f32(&f, "objective", NULL)[0]) <= 1e-4);
    CU_ASSERT_EQUAL_FATAL(policy_backward(&m, &f.batch, temp, w, &e), GRPO_OK);
    double worst = 0;
    size_t checked = 0;
    for (size_t i = 0; i < m.n_tensors; i++) {
        const policy_param *p = &m.params[i];
        char key[128];
        snprintf(key, sizeof key, "grad.%s", p->name);
        size_t n = 0;
        const float *ref = ref_f32(&f, key, &n);
        CU_ASSERT_PTR_NOT_NULL(ref);
        if (!ref) continue;
        CU_ASSERT_EQUAL(n, p->numel);
        const float *g = m.grad_mem + p->offset;
        double dd = 0, rr = 0;
        for (size_t j = 0; j < p->numel; j++) {
            dd += ((double)g[j] - ref[j]) * ((double)g[j] - ref[j]);
            rr += (double)ref[j] * ref[j];
        }
        double rel = sqrt(dd) / (sqrt(rr) + 1e-30);
        if (rel > 1e-3) fprintf(stderr, "\n  %s: %s relative gradient error %.3e\n", name, p->name, rel);
        worst = fmax(worst, rel);
        checked++;
    }
    printf("[%s %zu grads, worst rel %.2e] ", name, checked, worst);
    CU_ASSERT_EQUAL(checked, m.n_tensors);
    CU_ASSERT(worst <= 1e-3);
    free(logp);
    free(w);
    fixture_close(&f, &m);
}

/* Five steps of CE loss, clip_grad_norm_(1.0), AdamW, as the fixture script does in torch. */
static void check_adamw_steps(const char *name) {
    policy_model m;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, name), 0);
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_enable_training(&m, &e), GRPO_OK);
    const float *hp = ref_f32(&f, "adamw_hparams", NULL), *losses = ref_f32(&f, "adamw_losses", NULL);
    const float *norms = ref_f32(&f, "adamw_gradnorms", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hp);
    policy_adamw h = {.lr = hp[0], .beta1 = hp[1], .beta2 = hp[2], .eps = hp[3], .weight_decay = hp[4]};
    double ce0;
    CU_ASSERT_EQUAL_FATAL(policy_ce_step(&m, &f.batch, NULL, 0, &ce0, &e), GRPO_OK);
    CU_ASSERT(fabs(ce0 - ref_f32(&f, "ce_loss", NULL)[0]) <= 1e-4);
    double maxd = 0;
    for (int step = 0; step < 5; step++) {
        double loss;
        policy_zero_grad(&m);
        CU_ASSERT_EQUAL_FATAL(policy_ce_step(&m, &f.batch, NULL, 1, &loss, &e), GRPO_OK);
        double gn = policy_clip_grad_norm(&m, hp[5]);
        CU_ASSERT(fabs(gn - norms[step]) <= 1e-3 * fmax(1.0, norms[step]));
        CU_ASSERT_EQUAL_FATAL(policy_adamw_step(&m, &h, &e), GRPO_OK);
        maxd = fmax(maxd, fabs(loss - losses[step]));
    }
    printf("[%s 5 AdamW losses max|d| %.2e] ", name, maxd);
    CU_ASSERT(maxd <= 1e-4);
    const char *finals[] = {"model.norm.weight", "model.layers.1.mlp.down_proj.weight"};
    for (int i = 0; i < 2; i++) {
        char key[128];
        snprintf(key, sizeof key, "final.%s", finals[i]);
        size_t n = 0;
        const float *ref = ref_f32(&f, key, &n);
        const policy_param *p = policy_find_param(&m, finals[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        double d = 0;
        for (size_t j = 0; j < n; j++) d = fmax(d, fabs((double)m.param_mem[p->offset + j] - ref[j]));
        CU_ASSERT(d <= 1e-4);
    }
    fixture_close(&f, &m);
}

static void qwen2_logits_match_transformers(void) { check_logits("qwen2"); }
static void qwen3_logits_match_transformers(void) { check_logits("qwen3"); }
static void llama_logits_match_transformers(void) { check_logits("llama"); }
static void qwen2_logprobs_and_gradients_match_torch(void) { check_logprobs_and_grads("qwen2"); }
static void qwen3_logprobs_and_gradients_match_torch(void) { check_logprobs_and_grads("qwen3"); }
static void llama_logprobs_and_gradients_match_torch(void) { check_logprobs_and_grads("llama"); }
static void qwen2_five_adamw_steps_match_torch(void) { check_adamw_steps("qwen2"); }
static void qwen3_five_adamw_steps_match_torch(void) { check_adamw_steps("qwen3"); }
static void llama_five_adamw_steps_match_torch(void) { check_adamw_steps("llama"); }

/* ---- batching, loading and saving ---- */

static void padded_batch_gives_the_same_logprobs_as_each_sequence_alone(void) {
    policy_model m;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, "qwen3"), 0);
    grpo_err e = {0};
    size_t nt = policy_batch_targets(&f.batch);
    float *all = malloc(nt * sizeof(float));
    CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &f.batch, 1.0f, all, NULL, 0, &e), GRPO_OK);
    double maxd = 0;
    for (int s = 0, off = 0, k = 0; s < f.B; s++) {
        policy_batch one = {.n_seq = 1, .seq_len = &f.lens[s], .tokens = f.packed + off};
        float lp[64];
        CU_ASSERT_EQUAL_FATAL(policy_forward(&m, &one, 1.0f, lp, NULL, 0, &e), GRPO_OK);
        for (int t = 0; t + 1 < f.lens[s]; t++, k++) maxd = fmax(maxd, fabs((double)lp[t] - all[k]));
        off += f.lens[s];
    }
    /* GEMM blocking depends on the row count, so summation order (not the math) differs: fp32 tolerance */
    printf("[batched vs alone max|d| %.2e] ", maxd);
    CU_ASSERT(maxd <= 1e-5);
    free(all);
    fixture_close(&f, &m);
}

static void token_outside_vocabulary_is_an_error(void) {
    policy_model m;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, "qwen2"), 0);
    int ids[3] = {1, m.cfg.vocab_size, 2}, len = 3;
    policy_batch b = {.n_seq = 1, .seq_len = &len, .tokens = ids};
    float lp[2];
    grpo_err e = {0};
    CU_ASSERT_EQUAL(policy_forward(&m, &b, 1.0f, lp, NULL, 0, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "token id 1024 at position 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "outside the vocabulary"));
    fixture_close(&f, &m);
}

/* Writes a model directory whose safetensors lacks one tensor or has one with a wrong shape. */
static void write_broken_model(const char *dir, const policy_model *m, const char *drop, const char *reshape) {
    char *cfg = policy_config_to_json(&m->cfg, "float32");
    free(tu_write(dir, "config.json", cfg, strlen(cfg)));
    free(cfg);
    st_write_item *items = calloc(m->n_tensors, sizeof *items);
    size_t n = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const policy_param *p = &m->params[i];
        if (drop && !strcmp(p->name, drop)) continue;
        items[n] = (st_write_item){.name = p->name, .data = m->param_mem + p->offset, .ndim = p->ndim,
                                   .shape = {p->shape[0], p->shape[1]}};
        if (reshape && !strcmp(p->name, reshape)) {
            items[n].ndim = 2;
            items[n].shape[0] = p->shape[1];
            items[n].shape[1] = p->shape[0];
        }
        n++;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    grpo_err e = {0};
    CU_ASSERT_EQUAL(st_write(path, items, n, ST_F32, &e), GRPO_OK);
    free(items);
}

static void model_missing_a_tensor_is_an_error_naming_it(void) {
    policy_model m, m2;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, "qwen2"), 0);
    char *dir = tu_tmpdir("missing");
    write_broken_model(dir, &m, "model.layers.1.self_attn.k_proj.bias", NULL);
    grpo_err e = {0};
    CU_ASSERT_EQUAL(policy_load(&m2, dir, &e), GRPO_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "missing tensor \"model.layers.1.self_attn.k_proj.bias\""));
    fs_remove_tree(dir, NULL);
    free(dir);
    fixture_close(&f, &m);
}

static void model_tensor_with_wrong_shape_is_an_error_naming_it(void) {
    policy_model m, m2;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, "llama"), 0);
    char *dir = tu_tmpdir("shape");
    write_broken_model(dir, &m, NULL, "model.layers.0.mlp.up_proj.weight");
    grpo_err e = {0};
    CU_ASSERT_EQUAL(policy_load(&m2, dir, &e), GRPO_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "\"model.layers.0.mlp.up_proj.weight\" has shape [64, 128]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "implies [128, 64]"));
    fs_remove_tree(dir, NULL);
    free(dir);
    fixture_close(&f, &m);
}

static void saved_model_reloads_with_identical_logprobs_fp32_and_bf16_rounded(void) {
    policy_model m, a, bm;
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, &m, "qwen3"), 0);
    char *d32 = tu_tmpdir("save32"), *d16 = tu_tmpdir("save16");
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(policy_save(&m, d32, "float32", &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_save(&m, d16, "bfloat16", &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_load(&a, d32, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(policy_load(&bm, d16, &e), GRPO_OK);
    CU_ASSERT_EQUAL(memcmp(a.param_mem, m.param_mem, m.n_params * sizeof(float)), 0);
    int exact = 1;
    for (size_t i = 0; i < m.n_params; i++)
        if (bm.param_mem[i] != st_bf16_to_f32(st_f32_to_bf16(m.param_mem[i]))) exact = 0;
    CU_ASSERT(exact);
    policy_free(&a);
    policy_free(&bm);
    fs_remove_tree(d32, NULL);
    fs_remove_tree(d16, NULL);
    free(d32);
    free(d16);
    fixture_close(&f, &m);
}

static void init_presets_build_for_every_arch(void) {
    for (int a = 0; a < POLICY_NARCH; a++) {
        policy_config c;
        policy_model m;
        grpo_err e = {0};
        CU_ASSERT_EQUAL_FATAL(policy_config_preset(&c, (policy_arch)a, "tiny", &e), GRPO_OK);
        CU_ASSERT_EQUAL_FATAL(policy_build(&m, &c, &e), GRPO_OK);
        policy_init_random(&m, 7);
        int toks[5] = {1, 2, 3, 4, 5}, len = 5;
        policy_batch b = {.n_seq = 1, .seq_len = &len, .tokens = toks};
        float lp[4];
        CU_ASSERT_EQUAL(policy_forward(&m, &b, 1.0f, lp, NULL, 0, &e), GRPO_OK);
        for (int i = 0; i < 4; i++) CU_ASSERT(lp[i] < 0 && lp[i] > -20);
        policy_free(&m);
    }
}

static void fast_expf_matches_exp_to_a_few_ulp_over_its_range(void) {
    double worst = 0;
    for (double x = -87.0; x <= 88.0; x += 0.000731) {
        double want = exp((double)(float)x), got = grpo_expf((float)x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    printf("[max rel err %.2e] ", worst);
    CU_ASSERT(worst < 4e-7);
    CU_ASSERT_EQUAL(grpo_expf(0.0f), 1.0f);
    CU_ASSERT(grpo_expf(-1000.0f) >= 0.0f && grpo_expf(-1000.0f) < 1e-37f); /* clamped, not NaN */
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("policy", NULL, NULL);
    CU_add_test(s, "config_parse_reads_qwen2_sizes_and_defaults", config_parse_reads_qwen2_sizes_and_defaults);
    CU_add_test(s, "config_parse_reads_transformers5_rope_parameters", config_parse_reads_transformers5_rope_parameters);
    CU_add_test(s, "config_not_json_is_an_error", config_not_json_is_an_error);
    CU_add_test(s, "config_unknown_architecture_is_an_error", config_unknown_architecture_is_an_error);
    CU_add_test(s, "config_missing_size_is_an_error", config_missing_size_is_an_error);
    CU_add_test(s, "config_zero_size_is_an_error", config_zero_size_is_an_error);
    CU_add_test(s, "config_heads_not_multiple_of_kv_heads_is_an_error", config_heads_not_multiple_of_kv_heads_is_an_error);
    CU_add_test(s, "config_wrong_type_is_an_error", config_wrong_type_is_an_error);
    CU_add_test(s, "qwen2_logits_match_transformers", qwen2_logits_match_transformers);
    CU_add_test(s, "qwen3_logits_match_transformers", qwen3_logits_match_transformers);
    CU_add_test(s, "llama_logits_match_transformers", llama_logits_match_transformers);
    CU_add_test(s, "qwen2_logprobs_and_gradients_match_torch", qwen2_logprobs_and_gradients_match_torch);
    CU_add_test(s, "qwen3_logprobs_and_gradients_match_torch", qwen3_logprobs_and_gradients_match_torch);
    CU_add_test(s, "llama_logprobs_and_gradients_match_torch", llama_logprobs_and_gradients_match_torch);
    CU_add_test(s, "qwen2_five_adamw_steps_match_torch", qwen2_five_adamw_steps_match_torch);
    CU_add_test(s, "qwen3_five_adamw_steps_match_torch", qwen3_five_adamw_steps_match_torch);
    CU_add_test(s, "llama_five_adamw_steps_match_torch", llama_five_adamw_steps_match_torch);
    CU_add_test(s, "padded_batch_gives_the_same_logprobs_as_each_sequence_alone",
                padded_batch_gives_the_same_logprobs_as_each_sequence_alone);
    CU_add_test(s, "token_outside_vocabulary_is_an_error", token_outside_vocabulary_is_an_error);
    CU_add_test(s, "model_missing_a_tensor_is_an_error_naming_it", model_missing_a_tensor_is_an_error_naming_it);
    CU_add_test(s, "model_tensor_with_wrong_shape_is_an_error_naming_it",
                model_tensor_with_wrong_shape_is_an_error_naming_it);
    CU_add_test(s, "saved_model_reloads_with_identical_logprobs_fp32_and_bf16_rounded",
                saved_model_reloads_with_identical_logprobs_fp32_and_bf16_rounded);
    CU_add_test(s, "init_presets_build_for_every_arch", init_presets_build_for_every_arch);
    CU_add_test(s, "fast_expf_matches_exp_to_a_few_ulp_over_its_range", fast_expf_matches_exp_to_a_few_ulp_over_its_range);
    if (register_safetensors_suite() != 0) return 1;
    return tu_run_registry();
}
