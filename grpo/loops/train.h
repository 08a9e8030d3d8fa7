/* grpo/loops/train.h: the GRPO train loop (DESIGN §1): tasks -> rollout -> rewards -> advantages ->
 * clipped updates, every step written to SQLite in one transaction, checkpoints every N steps,
 * resumable. Also the SFT cold start and greedy evaluation. Output goes through a log callback
 * so that only the CLI prints. */
#ifndef GRPO_TRAIN_H
#define GRPO_TRAIN_H

#include "common/err.h"
#include "policy/model.h"
#include "policy/tokenizer/tokenizer.h"
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

typedef struct {
    int n_problems, k;
    double pass1;     /* mean over problems of (correct samples / k) */
    double pass_k;    /* share of problems with at least one correct sample (unbiased pass@k with n = k) */
    double maj_k;     /* share of problems whose most frequent extracted answer is correct */
    double seconds;
} eval_result;

/* Evaluates cfg->model on every item of cfg->dataset (format, fields, template, chat format and
 * tokenizer as for training): k samples per problem at temperature (0 = greedy, then k = 1). */
int train_evaluate(const run_config *cfg, int k, double temperature, const train_log *log, eval_result *res,
                   grpo_err *err);

/* Every id that ends a completion: the tokenizer's (tok may be NULL), then the model config's, each once. */
int train_eos_ids(const tok_tokenizer *tok, const policy_model *m, int *out, int cap);

/* Runs the whole job of cfg (resume: continue from the newest checkpoint of the run directory). */
int train_run(const run_config *cfg, int resume, const train_log *log, train_result *res, grpo_err *err);

#endif
