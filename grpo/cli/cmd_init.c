/* grpo/cli/cmd_init.c: `grpo init`: write a randomly initialized model directory in HF layout. */
#include <stdio.h>
#include <string.h>

#include "checkpoints/model_dir.h"
#include "policy/model.h"
#include "cli.h"

static const cli_opt OPTS[] = {
    {"--arch", "ARCH", "qwen2", "architecture: qwen2, qwen3 or llama"},
    {"--preset", "NAME", "tiny", "size: tiny (~1M params: 4 layers, hidden 128, vocab 2048) or small (~100M params, Qwen2-shaped)"},
    {"--out", "DIR", NULL, "output directory (config.json + model.safetensors); required"},
    {"--seed", "S", "0", "random seed for the weights"},
    {"--vocab", "N", NULL, "override the preset's vocab_size (to match a tokenizer)"},
    {"--dtype", "DT", "float32", "weights dtype on disk: float32 or bfloat16"},
    {"--force", NULL, NULL, "replace DIR if it exists"},
    {NULL, NULL, NULL, NULL},
};

static int run(const cli_cmd *cmd, const char **v) {
    int arch = policy_arch_from_short(v[0]);
    if (arch < 0) {
        fprintf(stderr, "grpo init: option --arch: unknown architecture '%s' (qwen2, qwen3, llama)\n", v[0]);
        return CLI_EXIT_USAGE;
    }
    if (!v[2]) {
        fprintf(stderr, "grpo init: option --out is required (see grpo init --help)\n");
        return CLI_EXIT_USAGE;
    }
    long long seed = 0, vocab = 0;
    if (cli_int(cmd, "--seed", v[3], 0, (1LL << 62), &seed)) return CLI_EXIT_USAGE;
    if (v[4] && cli_int(cmd, "--vocab", v[4], 2, 1 << 24, &vocab)) return CLI_EXIT_USAGE;
    if (strcmp(v[5], "float32") && strcmp(v[5], "bfloat16")) {
        fprintf(stderr, "grpo init: option --dtype: expected float32 or bfloat16, got '%s'\n", v[5]);
        return CLI_EXIT_USAGE;
    }
    grpo_err err = {0};
    policy_config cfg;
    if (policy_config_preset(&cfg, (policy_arch)arch, v[1], &err)) {
        fprintf(stderr, "grpo init: option --preset: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (vocab) cfg.vocab_size = (int)vocab;
    policy_model m;
    if (policy_build(&m, &cfg, &err)) return cli_fail(cmd, &err);
    policy_init_random(&m, (uint64_t)seed);
    int rc = ckpt_export_model(&m, v[2], v[5], v[6] != NULL, &err);
    if (!rc)
        printf("wrote %s: %s %s, %.2fM parameters, %s\n", v[2], policy_arch_name(cfg.arch), v[1],
               (double)m.n_params / 1e6, v[5]);
    policy_free(&m);
    return rc ? cli_fail(cmd, &err) : CLI_EXIT_OK;
}

const cli_cmd cmd_init = {
    .name = "init",
    .summary = "Write a randomly initialized model directory in Hugging Face layout.",
    .usage = "--arch qwen2|qwen3|llama --preset tiny|small --out DIR [--seed S]",
    .opts = OPTS,
    .run = run,
};
