/* grpo/cli/cmd_traces.c: `grpo traces CONFIG.json [--key value ...] [--resume]`: sample a teacher's reasoning
 * traces into the run's database (grpo/loops/distill.h; docs/distill.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_config.h"
#include "grpo/loops/distill.h"

static int traces_main(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grpo traces CONFIG.json [--key value ...] [--resume] [--print-config]\n\n"
                   "Samples num_generations completions of the teacher (the config's model) for every training\n"
                   "prompt (dataset, minus the held-out split), scores each with reward_funcs and stores it in\n"
                   "OUTPUT_DIR/RUN_NAME/rollouts.db with the rollout schema (runs.kind = 'traces'). Each chunk of\n"
                   "generation_batch_size completions is one transaction: killed at any moment, the run continues\n"
                   "with --resume and stores every (prompt, sample) exactly once. R1 sampled its traces with\n"
                   "--temperature 0.6 --top_p 0.95. Select and export them with grpo export.\n\n"
                   "options:\n"
                   "  --resume           continue after the last stored chunk (else earlier traces are deleted)\n"
                   "  --print-config     print the resolved configuration as JSON and exit\n"
                   "  --help             show this help\n");
            return CLI_EXIT_OK;
        }
    run_config c;
    int resume = 0, rc = cli_load_config("traces", argc, argv, &c, &resume);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    train_log log = cli_train_log();
    traces_result r;
    grpo_err err = {0};
    if (distill_traces(&c, resume, &log, &r, &err)) {
        fprintf(stderr, "grpo traces: error: %s\n", err.msg);
        return CLI_EXIT_ERROR;
    }
    printf("done: %lld prompts x %d samples (%lld chunks this run, %lld resumed); %lld correct in this run; %.0f tok/s\n",
           r.prompts, c.num_generations, r.chunks_done, r.chunks_resumed, r.correct, r.tokens_per_s);
    printf("database: %s\n", r.db_path);
    printf("export:   build/grpo export --db %s --out traces.jsonl --min-reward 1 --complete-only\n", r.db_path);
    return CLI_EXIT_OK;
}

const cli_cmd cmd_traces = {
    .name = "traces",
    .summary = "Sample a teacher's scored reasoning traces into a run database (resumable).",
    .usage = "CONFIG.json [--key value ...] [--resume]",
    .main = traces_main,
};
