/* grpo/train.h: the GRPO train loop (DESIGN §1): tasks -> rollout -> rewards -> advantages ->
 * clipped updates, every step written to SQLite in one transaction, checkpoints every N steps,
 * resumable. Also the SFT cold start and greedy evaluation. Output goes through a log callback
 * so that only the CLI prints. */
#ifndef GRPO_TRAIN_H
#define GRPO_TRAIN_H

#include "../common/err.h"
#include "run_config.h"

typedef struct {
    void (*line)(void *ctx, const char *text);              /* one finished log line */
    void (*progress)(void *ctx, const char *text);          /* a transient status (a terminal may redraw it) */
    void *ctx;
} train_log;

typedef struct {
    double accuracy_before, accuracy_after;   /* greedy accuracy on the held-out set (-1 when not run) */
    int eval_n;
    long long steps_done;
    char run_dir[4096];
    char db_path[4200];
    char last_checkpoint[4300];
} train_result;

/* Runs the whole job of cfg (resume: continue from the newest checkpoint of the run directory). */
int train_run(const run_config *cfg, int resume, const train_log *log, train_result *res, grpo_err *err);

#endif
