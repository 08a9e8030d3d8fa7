/* grpo/cli/cmd_sft.c: `grpo sft CONFIG.json [--key value ...] [--resume]`: supervised fine-tuning of a student
 * on JSONL traces (grpo/loops/distill.h; docs/distill.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_config.h"
#include "grpo/loops/distill.h"

static int sft_main(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grpo sft CONFIG.json [--key value ...] [--resume] [--print-config]\n\n"
                   "Fine-tunes the config's model (the student) on sft_dataset: JSONL rows with \"messages\"\n"
                   "(TRL, open-r1 Mixture-of-Thoughts), \"prompt\"/\"completion\" (TRL) or open-r1 \"generations\"\n"
                   "(the correct ones). Prompts are rendered with the student's chat_template and tokenizer; the\n"
                   "loss covers the completion tokens only (<think> kept). sft_steps or num_train_epochs steps of\n"
                   "sft_batch_size rows (or sft_tokens_per_batch tokens) at sft_learning_rate with warmup_steps and\n"
                   "lr_scheduler_type; greedy held-out accuracy on the task's held-out split (dataset, eval_size\n"
                   "or eval_dataset) at the start, every eval_steps and at the end; checkpoints every save_steps.\n"
                   "With teacher_model and distill \"gkd\" the loss is instead the forward KL to the teacher's\n"
                   "top-distill_top_k next-token distribution plus a tail bucket (one vocabulary; --device cpu).\n\n"
                   "options:\n"
                   "  --resume           continue from the newest checkpoint, bit for bit\n"
                   "  --print-config     print the resolved configuration as JSON and exit\n"
                   "  --help             show this help\n");
            return CLI_EXIT_OK;
        }
    run_config c;
    int resume = 0, rc = cli_load_config("sft", argc, argv, &c, &resume);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    train_log log = cli_train_log();
    sft_result r;
    grpo_err err = {0};
    if (distill_sft(&c, resume, &log, &r, &err)) {
        fprintf(stderr, "grpo sft: error: %s\n", err.msg);
        return CLI_EXIT_ERROR;
    }
    printf("done: %lld SFT steps on %lld rows; held-out accuracy %.3f -> %.3f (%d problems); %.0f tok/s\n", r.steps_done,
           r.rows, r.accuracy_before, r.accuracy_after, r.eval_n, r.tokens_per_s);
    printf("checkpoint: %s\n", r.last_checkpoint);
    printf("database:   %s\n", r.db_path);
    return CLI_EXIT_OK;
}

const cli_cmd cmd_sft = {
    .name = "sft",
    .summary = "Fine-tune a student on JSONL traces (messages, prompt-completion, open-r1).",
    .usage = "CONFIG.json [--key value ...] [--resume]",
    .main = sft_main,
};
