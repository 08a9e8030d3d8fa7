/* policy/config.c: HF config.json <-> policy_config, presets, validation.
 * Accepts both the transformers 4 keys (rope_theta, rope_scaling, torch_dtype) and the
 * transformers 5 keys (rope_parameters, dtype). Unknown keys are ignored, as transformers
 * does, except the ones that would change the computation (sliding windows, mlp_bias). */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fsutil.h"

static const char *ARCH_NAMES[POLICY_NARCH] = {"Qwen2ForCausalLM", "Qwen3ForCausalLM", "LlamaForCausalLM"};
static const char *ARCH_SHORT[POLICY_NARCH] = {"qwen2", "qwen3", "llama"};
static const char *MODEL_TYPES[POLICY_NARCH] = {"qwen2", "qwen3", "llama"};

const char *policy_arch_name(policy_arch a) { return (unsigned)a < POLICY_NARCH ? ARCH_NAMES[a] : "?"; }
const char *policy_arch_short(policy_arch a) { return (unsigned)a < POLICY_NARCH ? ARCH_SHORT[a] : "?"; }

int policy_arch_from_short(const char *s) {
    for (int i = 0; i < POLICY_NARCH; i++)
        if (!strcmp(s, ARCH_SHORT[i])) return i;
    return -1;
}

/* ---- reading helpers: each names the file and the key on error ---- */

static int get_int(json_t *o, const char *key, int required, int dflt, int *out, const char *path, grpo_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) return grpo_errf(err, GRPO_EFORMAT, "%s: missing required field \"%s\"", path, key);
        *out = dflt;
        return GRPO_OK;
    }
    if (!json_is_integer(v))
        return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < -2147483647LL || x > 2147483647LL)
        return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" = %lld is out of range", path, key, (long long)x);
    *out = (int)x;
    return GRPO_OK;
}

static int get_num(json_t *o, const char *key, double dflt, double *out, const char *path, grpo_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) { *out = dflt; return GRPO_OK; }
    if (!json_is_number(v)) return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" must be a number", path, key);
    *out = json_number_value(v);
    if (!isfinite(*out)) return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" is not finite", path, key);
    return GRPO_OK;
}

static int get_bool(json_t *o, const char *key, int dflt, int *out, const char *path, grpo_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) { *out = dflt; return GRPO_OK; }
    if (!json_is_boolean(v)) return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" must be true or false", path, key);
    *out = json_is_true(v);
    return GRPO_OK;
}

static int read_arch(json_t *root, policy_arch *arch, const char *path, grpo_err *err) {
    json_t *archs = json_object_get(root, "architectures");
    const char *name = NULL;
    if (archs) {
        if (!json_is_array(archs) || json_array_size(archs) < 1 || !json_is_string(json_array_get(archs, 0)))
            return grpo_errf(err, GRPO_EFORMAT, "%s: field \"architectures\" must be a non-empty array of strings", path);
        name = json_string_value(json_array_get(archs, 0));
        for (int i = 0; i < POLICY_NARCH; i++)
            if (!strcmp(name, ARCH_NAMES[i])) { *arch = (policy_arch)i; return GRPO_OK; }
        return grpo_errf(err, GRPO_EUNSUPPORTED,
                         "%s: unknown architecture \"%s\" in field \"architectures\" (supported: Qwen2ForCausalLM, "
                         "Qwen3ForCausalLM, LlamaForCausalLM)", path, name);
    }
    json_t *mt = json_object_get(root, "model_type");
    if (mt && json_is_string(mt)) {
        for (int i = 0; i < POLICY_NARCH; i++)
            if (!strcmp(json_string_value(mt), MODEL_TYPES[i])) { *arch = (policy_arch)i; return GRPO_OK; }
        return grpo_errf(err, GRPO_EUNSUPPORTED, "%s: unknown model_type \"%s\"", path, json_string_value(mt));
    }
    return grpo_errf(err, GRPO_EFORMAT, "%s: missing required field \"architectures\"", path);
}

static int read_eos(json_t *root, policy_config *c, const char *path, grpo_err *err) {
    json_t *v = json_object_get(root, "eos_token_id");
    c->n_eos = 0;
    if (!v || json_is_null(v)) return GRPO_OK;
    if (json_is_integer(v)) {
        c->eos_token_ids[c->n_eos++] = (int)json_integer_value(v);
        return GRPO_OK;
    }
    if (!json_is_array(v)) return grpo_errf(err, GRPO_EFORMAT, "%s: field \"eos_token_id\" must be an integer or array", path);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_integer(x)) return grpo_errf(err, GRPO_EFORMAT, "%s: field \"eos_token_id\"[%zu] must be an integer", path, i);
        if (c->n_eos < POLICY_MAX_EOS) c->eos_token_ids[c->n_eos++] = (int)json_integer_value(x);
    }
    return GRPO_OK;
}

/* rope: transformers 4 writes rope_theta + rope_scaling; transformers 5 writes rope_parameters. */
static int read_rope(json_t *root, policy_config *c, const char *path, grpo_err *err) {
    json_t *params = json_object_get(root, "rope_parameters");
    json_t *scaling = json_object_get(root, "rope_scaling");
    if (params && !json_is_null(params) && !json_is_object(params))
        return grpo_errf(err, GRPO_EFORMAT, "%s: field \"rope_parameters\" must be an object", path);
    if (scaling && !json_is_null(scaling) && !json_is_object(scaling))
        return grpo_errf(err, GRPO_EFORMAT, "%s: field \"rope_scaling\" must be an object or null", path);
    double theta = 10000.0;
    int rc = get_num(root, "rope_theta", theta, &theta, path, err);
    if (rc) return rc;
    if (json_is_object(params)) {
        rc = get_num(params, "rope_theta", theta, &theta, path, err);
        if (rc) return rc;
    }
    if (theta <= 0) return grpo_errf(err, GRPO_EFORMAT, "%s: field \"rope_theta\" must be positive", path);
    c->rope_theta = theta;
    c->rope_type = POLICY_ROPE_DEFAULT;
    json_t *s = json_is_object(scaling) ? scaling : (json_is_object(params) ? params : NULL);
    if (!s) return GRPO_OK;
    json_t *type = json_object_get(s, "rope_type");
    if (!type) type = json_object_get(s, "type");
    if (!type || !json_is_string(type) || !strcmp(json_string_value(type), "default")) return GRPO_OK;
    const char *t = json_string_value(type);
    if (strcmp(t, "llama3") != 0)
        return grpo_errf(err, GRPO_EUNSUPPORTED, "%s: rope scaling type \"%s\" is not supported (default, llama3)", path, t);
    c->rope_type = POLICY_ROPE_LLAMA3;
    int orig = 0;
    if ((rc = get_num(s, "factor", 8.0, &c->rope_factor, path, err))) return rc;
    if ((rc = get_num(s, "low_freq_factor", 1.0, &c->rope_low_freq_factor, path, err))) return rc;
    if ((rc = get_num(s, "high_freq_factor", 4.0, &c->rope_high_freq_factor, path, err))) return rc;
    if ((rc = get_int(s, "original_max_position_embeddings", 1, 0, &orig, path, err))) return rc;
    c->rope_original_max_pos = orig;
    if (c->rope_factor <= 0 || c->rope_low_freq_factor <= 0 || c->rope_high_freq_factor <= c->rope_low_freq_factor ||
        orig <= 0)
        return grpo_errf(err, GRPO_EFORMAT,
                         "%s: llama3 rope scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                         "original_max_position_embeddings > 0", path);
    return GRPO_OK;
}

int policy_config_validate(const policy_config *c, const char *path, grpo_err *err) {
    struct { const char *name; int v; int max; } sizes[] = {
        {"vocab_size", c->vocab_size, 1 << 24},
        {"hidden_size", c->hidden_size, 1 << 16},
        {"intermediate_size", c->intermediate_size, 1 << 18},
        {"num_hidden_layers", c->num_hidden_layers, 1024},
        {"num_attention_heads", c->num_attention_heads, 1024},
        {"num_key_value_heads", c->num_key_value_heads, 1024},
        {"head_dim", c->head_dim, 4096},
        {"max_position_embeddings", c->max_position_embeddings, 1 << 24},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i].v <= 0)
            return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" must be positive, got %d", path, sizes[i].name, sizes[i].v);
        if (sizes[i].v > sizes[i].max)
            return grpo_errf(err, GRPO_EFORMAT, "%s: field \"%s\" = %d is larger than %d", path, sizes[i].name,
                             sizes[i].v, sizes[i].max);
    }
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return grpo_errf(err, GRPO_EFORMAT, "%s: num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)",
                         path, c->num_attention_heads, c->num_key_value_heads);
    if (c->head_dim % 2 != 0) return grpo_errf(err, GRPO_EFORMAT, "%s: head_dim (%d) must be even for RoPE", path, c->head_dim);
    if (!(c->rms_norm_eps > 0) || !isfinite(c->rms_norm_eps))
        return grpo_errf(err, GRPO_EFORMAT, "%s: field \"rms_norm_eps\" must be positive", path);
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_token_ids[i] < 0 || c->eos_token_ids[i] >= c->vocab_size)
            return grpo_errf(err, GRPO_EFORMAT, "%s: eos_token_id %d is outside the vocabulary (size %d)", path,
                             c->eos_token_ids[i], c->vocab_size);
    return GRPO_OK;
}

int policy_config_parse(policy_config *c, const char *text, size_t len, const char *path, grpo_err *err) {
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return grpo_errf(err, GRPO_EFORMAT, "%s: not valid JSON: %s at line %d, column %d", path, je.text, je.line,
                         je.column);
    int rc = GRPO_OK;
    if (!json_is_object(root)) { rc = grpo_errf(err, GRPO_EFORMAT, "%s: top level must be a JSON object", path); goto out; }
    if ((rc = read_arch(root, &c->arch, path, err))) goto out;
    if ((rc = get_int(root, "vocab_size", 1, 0, &c->vocab_size, path, err))) goto out;
    if ((rc = get_int(root, "hidden_size", 1, 0, &c->hidden_size, path, err))) goto out;
    if ((rc = get_int(root, "intermediate_size", 1, 0, &c->intermediate_size, path, err))) goto out;
    if ((rc = get_int(root, "num_hidden_layers", 1, 0, &c->num_hidden_layers, path, err))) goto out;
    if ((rc = get_int(root, "num_attention_heads", 1, 0, &c->num_attention_heads, path, err))) goto out;
    if ((rc = get_int(root, "num_key_value_heads", 0, c->num_attention_heads, &c->num_key_value_heads, path, err))) goto out;
    if (c->num_attention_heads <= 0) {
        rc = grpo_errf(err, GRPO_EFORMAT, "%s: field \"num_attention_heads\" must be positive, got %d", path,
                       c->num_attention_heads);
        goto out;
    }
    if ((rc = get_int(root, "head_dim", 0, c->hidden_size / c->num_attention_heads, &c->head_dim, path, err))) goto out;
    if ((rc = get_int(root, "max_position_embeddings", 0, 4096, &c->max_position_embeddings, path, err))) goto out;
    double eps;
    if ((rc = get_num(root, "rms_norm_eps", 1e-6, &eps, path, err))) goto out;
    c->rms_norm_eps = (float)eps;
    if ((rc = read_rope(root, c, path, err))) goto out;
    if ((rc = get_bool(root, "tie_word_embeddings", 0, &c->tie_word_embeddings, path, err)))
        goto out;
    int attn_bias = 0;
    if ((rc = get_bool(root, "attention_bias", 0, &attn_bias, path, err))) goto out;
    c->qkv_bias = c->arch == POLICY_ARCH_QWEN2 ? 1 : attn_bias;
    c->o_bias = c->arch == POLICY_ARCH_QWEN2 ? 0 : attn_bias;
    c->qk_norm = c->arch == POLICY_ARCH_QWEN3;
    int mlp_bias = 0, sliding = 0;
    if ((rc = get_bool(root, "mlp_bias", 0, &mlp_bias, path, err))) goto out;
    if (mlp_bias) { rc = grpo_errf(err, GRPO_EUNSUPPORTED, "%s: field \"mlp_bias\": true is not supported", path); goto out; }
    if ((rc = get_bool(root, "use_sliding_window", 0, &sliding, path, err))) goto out;
    if (sliding) {
        rc = grpo_errf(err, GRPO_EUNSUPPORTED, "%s: field \"use_sliding_window\": true is not supported", path);
        goto out;
    }
    if ((rc = get_int(root, "bos_token_id", 0, -1, &c->bos_token_id, path, err))) goto out;
    if ((rc = read_eos(root, c, path, err))) goto out;
    json_t *dt = json_object_get(root, "dtype");
    if (!dt || !json_is_string(dt)) dt = json_object_get(root, "torch_dtype");
    snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", dt && json_is_string(dt) ? json_string_value(dt) : "float32");
    rc = policy_config_validate(c, path, err);
out:
    json_decref(root);
    return rc;
}

int policy_config_load(policy_config *c, const char *dir, grpo_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text;
    size_t len;
    int rc = fs_read_file(path, &text, &len, err);
    if (rc) return rc;
    rc = policy_config_parse(c, text, len, path, err);
    free(text);
    return rc;
}

char *policy_config_to_json(const policy_config *c, const char *dtype) {
    json_t *o = json_object();
    json_t *archs = json_array();
    json_array_append_new(archs, json_string(policy_arch_name(c->arch)));
    json_object_set_new(o, "architectures", archs);
    json_object_set_new(o, "model_type", json_string(MODEL_TYPES[c->arch]));
    json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(o, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(o, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(o, "num_hidden_layers", json_integer(c->num_hidden_layers));
    json_object_set_new(o, "num_attention_heads", json_integer(c->num_attention_heads));
    json_object_set_new(o, "num_key_value_heads", json_integer(c->num_key_value_heads));
    json_object_set_new(o, "head_dim", json_integer(c->head_dim));
    json_object_set_new(o, "max_position_embeddings", json_integer(c->max_position_embeddings));
    json_object_set_new(o, "rms_norm_eps", json_real(c->rms_norm_eps));
    json_object_set_new(o, "rope_theta", json_real(c->rope_theta));
    if (c->rope_type == POLICY_ROPE_LLAMA3) {
        json_t *s = json_object();
        json_object_set_new(s, "rope_type", json_string("llama3"));
        json_object_set_new(s, "factor", json_real(c->rope_factor));
        json_object_set_new(s, "low_freq_factor", json_real(c->rope_low_freq_factor));
        json_object_set_new(s, "high_freq_factor", json_real(c->rope_high_freq_factor));
        json_object_set_new(s, "original_max_position_embeddings", json_integer(c->rope_original_max_pos));
        json_object_set_new(o, "rope_scaling", s);
    } else {
        json_object_set_new(o, "rope_scaling", json_null());
    }
    json_object_set_new(o, "hidden_act", json_string("silu"));
    json_object_set_new(o, "tie_word_embeddings", json_boolean(c->tie_word_embeddings));
    if (c->arch != POLICY_ARCH_QWEN2) json_object_set_new(o, "attention_bias", json_boolean(c->o_bias));
    if (c->arch == POLICY_ARCH_LLAMA) json_object_set_new(o, "mlp_bias", json_false());
    if (c->arch != POLICY_ARCH_LLAMA) json_object_set_new(o, "use_sliding_window", json_false());
    json_object_set_new(o, "attention_dropout", json_real(0.0));
    json_object_set_new(o, "initializer_range", json_real(0.02));
    json_object_set_new(o, "use_cache", json_true());
    if (c->bos_token_id >= 0) json_object_set_new(o, "bos_token_id", json_integer(c->bos_token_id));
    if (c->n_eos == 1) json_object_set_new(o, "eos_token_id", json_integer(c->eos_token_ids[0]));
    else if (c->n_eos > 1) {
        json_t *a = json_array();
        for (int i = 0; i < c->n_eos; i++) json_array_append_new(a, json_integer(c->eos_token_ids[i]));
        json_object_set_new(o, "eos_token_id", a);
    }
    json_object_set_new(o, "torch_dtype", json_string(dtype));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

/* Presets: tiny trains in minutes on 2 cores; small is ~100M parameters, Qwen2-shaped. */
int policy_config_preset(policy_config *c, policy_arch arch, const char *preset, grpo_err *err) {
    memset(c, 0, sizeof *c);
    c->arch = arch;
    if (!strcmp(preset, "tiny")) {
        c->vocab_size = 2048; c->hidden_size = 128; c->intermediate_size = 384; c->num_hidden_layers = 4;
        c->num_attention_heads = 4; c->num_key_value_heads = 2; c->head_dim = 32; c->max_position_embeddings = 2048;
    } else if (!strcmp(preset, "small")) {
        c->vocab_size = 32768; c->hidden_size = 768; c->intermediate_size = 2048; c->num_hidden_layers = 12;
        c->num_attention_heads = 12; c->num_key_value_heads = 2; c->head_dim = 64; c->max_position_embeddings = 4096;
    } else {
        return grpo_errf(err, GRPO_EINVAL, "unknown preset \"%s\" (tiny, small)", preset);
    }
    c->rms_norm_eps = 1e-6f;
    c->rope_theta = arch == POLICY_ARCH_LLAMA ? 500000.0 : (arch == POLICY_ARCH_QWEN3 ? 1000000.0 : 10000.0);
    c->rope_type = POLICY_ROPE_DEFAULT;
    if (arch == POLICY_ARCH_LLAMA) {
        c->rope_type = POLICY_ROPE_LLAMA3;
        c->rope_factor = 8.0; c->rope_low_freq_factor = 1.0; c->rope_high_freq_factor = 4.0;
        c->rope_original_max_pos = 8192;
        c->max_position_embeddings = 131072; /* as Llama 3.1; RoPE tables are sized per batch */
        c->rms_norm_eps = 1e-5f;
    }
    c->tie_word_embeddings = arch != POLICY_ARCH_LLAMA;
    c->qkv_bias = arch == POLICY_ARCH_QWEN2;
    c->o_bias = 0;
    c->qk_norm = arch == POLICY_ARCH_QWEN3;
    c->bos_token_id = 1;
    c->eos_token_ids[0] = 2;
    c->n_eos = 1;
    snprintf(c->torch_dtype, sizeof c->torch_dtype, "float32");
    return policy_config_validate(c, "preset", err);
}
