/* grpo/loops/train_parts.h: the train loop's parts (grpo/loops/train.c) that the other loops reuse: the
 * trainer's state, setup (tokenizer, data, prompts, model, rewards), greedy evaluation, the LR
 * schedule, checkpoints and logging. grpo/loops/distill.c (traces, SFT, on-policy distillation) builds on
 * these rather than repeating them. Internal to grpo/: the CLI uses train.h and distill.h. */
#ifndef GRPO_TRAIN_PARTS_H
#define GRPO_TRAIN_PARTS_H

#include <stdint.h>

#include "policy/tokenizer/chat.h"
#include "policy/model.h"
#include "policy/tokenizer/tokenizer.h"
#include "rewards/external.h"
#include "rewards/registry.h"
#include "rollout/generate.h"
#include "rollout/store/store.h"
#include "tasks/tasks.h"
#include "grpo/learner/learner.h"
#include "run_config.h"
#include "train.h"

typedef struct {
    int *ids;      /* the rendered, tokenized prompt */
    int n;
    char *text;    /* the rendered prompt text (chat template applied) */
} prompt_cache;

typedef struct {
    const run_config *cfg;
    const train_log *log;
    char run_dir[4096];
    char ref_dir[4200];     /* the frozen reference (beta > 0): the GRPO starting point */
    const char *tok_dir;    /* where tokenizer.json came from (copied into checkpoints) */
    tok_tokenizer *tok;
    chat_format chat;
    tasks_dataset train, eval;
    tasks_dataset cold;     /* sft_size > 0: the cold start's worked solutions, disjoint from train */
    prompt_cache *ptrain, *peval, *pcold;
    tasks_cursor cursor;
    policy_model model, ref;
    int have_ref;
    policy_model teacher;   /* on-policy distillation: the frozen teacher (distill = "on_policy") */
    int have_teacher;
    store *db;
    rw_registry *rw, *acc;  /* the configured rewards; accuracy alone for metrics and eval */
    rw_external *ext;       /* the external reward command, when configured */
    learner_opts lopts;
    int eos[TOK_MAX_EOS + POLICY_MAX_EOS], n_eos;
    double t_start;         /* the GRPO phase's start (its ETA) */
    double t_run;           /* the run's start (wall times in the log) */
    int64_t step0;          /* GRPO steps done when this process started */
    struct step_ws *ws;     /* the GRPO step's buffers, allocated once per run (grpo/loops/train.c) */
} trainer;

/* Dynamic sampling: how many prompts a resampling round draws. Enough to fill the `missing` groups at
 * the share of groups with spread seen so far in the step (`drawn` prompts, `spread` of them with
 * spread), plus a quarter; all B when no group had spread yet. Never fewer than missing, never more
 * than B. */
int train_resample_round_size(int B, int missing, int drawn, int spread);
/* Monotonic seconds. */
double now_s(void);
/* One finished log line / one transient status line through t->log (rank 0 only). */
void logf_(const trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress(const trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "42s", "3m05s", "1h02m" ("?" when unknown). */
void fmt_duration(double s, char *out, size_t cap);

/* Loads (or generates) the dataset into t->train and t->eval (held-out split or eval_dataset). */
int load_data(trainer *t, grpo_err *err);
/* Renders and tokenizes every prompt of ds once into *out; a prompt over max_prompt_length is an error. */
int cache_prompts(trainer *t, const tasks_dataset *ds, prompt_cache **out, const char *what, grpo_err *err);
void free_prompts(prompt_cache *pc, size_t n);
/* Loads t->cfg->model (a directory, or init:ARCH:PRESET) into m. */
int load_model(trainer *t, policy_model *m, grpo_err *err);
/* The tokenizer must not produce ids t->model has no embedding for. */
int check_vocab(const trainer *t, const char *tokdir, grpo_err *err);
/* The reward registry's view of a task item (nums: TASKS_MAX_NUMS scratch). */
rw_item reward_item(const tasks_item *it, long long *nums, int n_tokens);
/* 1 when the completion's answer is right (the accuracy reward). */
int is_correct(const trainer *t, const tasks_item *it, const char *text);
/* The run's sampling settings at temperature. */
smp_params run_sampling(const run_config *c, double temperature);
/* Generation parameters of n completions per prompt for this run. */
gen_params run_gen_params(const trainer *t, int n, smp_params sampling, int max_batch);
/* Greedy accuracy of t->model on t->eval, recorded in t->db (when open) at step. */
int evaluate(trainer *t, int64_t step, double *acc, grpo_err *err);
/* Tokenizer, chat format, prompt template check and rewards. */
int setup_text(trainer *t, grpo_err *err);
/* Frees everything the trainer holds. */
void trainer_free(trainer *t);
/* The learning rate at step (0-based): a linear warmup to peak over warmup steps, then constant, or
 * ("cosine") a half cosine from peak to 0 at step total. */
double lr_schedule(const char *type, double peak, int64_t warmup, int64_t total, int64_t step);
/* lr_schedule with the GRPO keys: learning_rate, warmup_steps, lr_scheduler_type over max_steps. */
double lr_at(const run_config *c, int64_t step);
/* Checkpoints t->model with t->cursor at step under t->run_dir (rank 0). */
int save_checkpoint(trainer *t, int64_t step, grpo_err *err);

#endif
