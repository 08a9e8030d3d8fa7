/* bench/qwen05.h: the Qwen2.5-0.5B shape the CUDA benchmarks use (vocab 151936, hidden 896, 14
 * heads over 2 kv heads of 64, MLP 4864, tied embeddings, q/k/v biases), with a layer count, and a
 * tiny model of the same structure for smoke runs (--tiny). */
#ifndef GRPO_BENCH_QWEN05_H
#define GRPO_BENCH_QWEN05_H

#include "../policy/config.h"

static int qwen05_config(policy_config *c, int layers, int tiny, grpo_err *e) {
    if (policy_config_preset(c, POLICY_ARCH_QWEN2, "small", e)) return -1;
    c->vocab_size = 151936;
    c->hidden_size = 896;
    c->intermediate_size = 4864;
    c->num_hidden_layers = layers;
    c->num_attention_heads = 14;
    c->num_key_value_heads = 2;
    c->head_dim = 64;
    c->max_position_embeddings = 32768;
    c->rope_theta = 1000000.0;
    c->rms_norm_eps = 1e-6f;
    c->tie_word_embeddings = 1;
    c->qkv_bias = 1;
    if (tiny) {
        c->vocab_size = 1000;
        c->hidden_size = 128;
        c->intermediate_size = 256;
        c->num_attention_heads = 4;
        c->head_dim = 32;
    }
    return 0;
}

#endif
