/* grpo/cli/cmd_config.h: what the commands that read a run config share (train, traces, sft): CONFIG.json
 * then --key value overrides, and log lines that redraw a status line on a terminal. */
#ifndef GRPO_CMD_CONFIG_H
#define GRPO_CMD_CONFIG_H

#include "grpo/loops/run_config.h"
#include "grpo/loops/train.h"

/* grpo/cli/cmd_train.c: applies --key value pairs; the flags set resume, print and doc. */
int cli_config_args(run_config *c, int argc, char **argv, int *resume, int *print, int *doc, const char *cmd);

/* Reads argv[0] as CONFIG.json (required) into c (defaults first), then the overrides. Prints a message
 * and returns the exit code on an error; returns -1 when --print-config printed the config; 0 to run. */
int cli_load_config(const char *cmd, int argc, char **argv, run_config *c, int *resume);

/* A train_log printing lines to stdout (the status line only on a terminal). */
train_log cli_train_log(void);

/* grpo/cli/cmd_train.c: the main demo's configuration. */
void cli_demo_config(run_config *c);
/* grpo/cli/cmd_demo_distill.c: `grpo demo distill` (argv after "distill"). */
int demo_distill_main(int argc, char **argv);

#endif
