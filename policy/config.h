/* policy/config.h: the model configuration, read from and written to Hugging Face config.json.
 * Three architectures: Qwen2ForCausalLM, Qwen3ForCausalLM, LlamaForCausalLM. */
#ifndef GRPO_POLICY_CONFIG_H
#define GRPO_POLICY_CONFIG_H

#include <stddef.h>

#include "../common/err.h"

typedef enum { POLICY_ARCH_QWEN2 = 0, POLICY_ARCH_QWEN3, POLICY_ARCH_LLAMA, POLICY_NARCH } policy_arch;

typedef enum { POLICY_ROPE_DEFAULT = 0, POLICY_ROPE_LLAMA3 } policy_rope_type;

#define POLICY_MAX_EOS 8

typedef struct {
    policy_arch arch;
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int num_hidden_layers;
    int num_attention_heads;
    int num_key_value_heads;
    int head_dim;                 /* explicit (Qwen3, Llama) or hidden/heads */
    int max_position_embeddings;
    float rms_norm_eps;
    double rope_theta;
    policy_rope_type rope_type;
    double rope_factor;           /* llama3 scaling */
    double rope_low_freq_factor;
    double rope_high_freq_factor;
    int rope_original_max_pos;
    int tie_word_embeddings;
    int qkv_bias;                 /* q/k/v projections carry a bias (Qwen2 always; attention_bias otherwise) */
    int o_bias;                   /* o_proj carries a bias (attention_bias on Llama/Qwen3) */
    int qk_norm;                  /* per-head RMSNorm on q and k before RoPE (Qwen3) */
    int bos_token_id;             /* -1 when absent */
    int eos_token_ids[POLICY_MAX_EOS];
    int n_eos;
    char torch_dtype[16];         /* "float32" / "bfloat16" / ... as found; informative */
} policy_config;

/* Name of arch as in config.json "architectures" ("Qwen2ForCausalLM", ...). */
const char *policy_arch_name(policy_arch a);
/* Short name used on the command line ("qwen2", "qwen3", "llama"). */
const char *policy_arch_short(policy_arch a);
/* Parses a short name; returns -1 when unknown. */
int policy_arch_from_short(const char *s);

/* Parses config.json text; path names the file in error messages. Checks every size. */
int policy_config_parse(policy_config *c, const char *text, size_t len, const char *path, grpo_err *err);
/* Reads dir/config.json. */
int policy_config_load(policy_config *c, const char *dir, grpo_err *err);
/* Serializes c as an HF config.json (malloc'd string). dtype is "float32" or "bfloat16". */
char *policy_config_to_json(const policy_config *c, const char *dtype);
/* Fills c with a named preset ("tiny" or "small") for arch. */
int policy_config_preset(policy_config *c, policy_arch arch, const char *preset, grpo_err *err);
/* Checks sizes and their relations (heads divide, head_dim even, ...). */
int policy_config_validate(const policy_config *c, const char *path, grpo_err *err);

#endif
