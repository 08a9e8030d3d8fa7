/* grpo/cli/cmd_score.c: `grpo score`: per-token logprobs of a token sequence under a model. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/model.h"
#include "cli.h"

static const cli_opt OPTS[] = {
    {"--model", "DIR", NULL, "model directory (config.json + safetensors); required"},
    {"--ids", "LIST", NULL, "comma-separated token ids; required"},
    {"--temperature", "T", "1.0", "logprobs of log_softmax(logits / T)"},
    {"--device", "DEV", "cpu", "backend: cpu or cuda"},
    {"--threads", "N", NULL, "OpenMP/BLAS threads (default: all cores)"},
    {NULL, NULL, NULL, NULL},
};

static int run(const cli_cmd *cmd, const char **v) {
    if (!v[0] || !v[1]) {
        fprintf(stderr, "grpo score: options --model and --ids are required (see grpo score --help)\n");
        return CLI_EXIT_USAGE;
    }
    double temp;
    if (cli_float(cmd, "--temperature", v[2], &temp)) return CLI_EXIT_USAGE;
    if (v[4]) {
        long long th;
        if (cli_int(cmd, "--threads", v[4], 1, 4096, &th)) return CLI_EXIT_USAGE;
        omp_set_num_threads((int)th);
    }
    grpo_err err = {0};
    int *ids = NULL;
    int n = cli_parse_ints("--ids", v[1], &ids, &err);
    if (n < 0) {
        fprintf(stderr, "grpo score: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    const policy_backend *be = policy_backend_get(v[3], &err);
    if (!be) {
        free(ids);
        return cli_fail(cmd, &err);
    }
    policy_model m;
    if (policy_load(&m, v[0], &err)) {
        free(ids);
        return cli_fail(cmd, &err);
    }
    m.backend = be;
    fprintf(stderr, "grpo score: %s %s, %.2fM parameters, %.1f MiB\n", v[0], policy_arch_name(m.cfg.arch),
            (double)m.n_params / 1e6, (double)m.n_params * 4 / 1048576.0);
    policy_batch b = {.n_seq = 1, .seq_len = &n, .tokens = ids};
    float *logp = malloc((size_t)n * sizeof(float));
    int rc = policy_forward(&m, &b, (float)temp, logp, NULL, 0, &err);
    if (!rc) {
        printf("{\"logprobs\":[");
        for (int i = 0; i + 1 < n; i++) printf("%s%.9g", i ? "," : "", logp[i]);
        printf("]}\n");
    }
    free(logp);
    free(ids);
    policy_free(&m);
    return rc ? cli_fail(cmd, &err) : CLI_EXIT_OK;
}

const cli_cmd cmd_score = {
    .name = "score",
    .summary = "Print per-token logprobs of a token sequence as JSON: {\"logprobs\": [...]} (n-1 entries).",
    .usage = "--model DIR --ids 1,2,3,...",
    .opts = OPTS,
    .run = run,
};
