/* grpo/loops/run_config.h: the `grpo train` configuration: one table of keys (names follow TRL's
 * GRPOConfig where one exists), read from a JSON file and overridden by --key value arguments.
 * An unknown key is an error naming the key; docs/config.md is generated from the same table. */
#ifndef GRPO_RUN_CONFIG_H
#define GRPO_RUN_CONFIG_H

#include <stddef.h>

#include "common/err.h"

#define RC_MAX_LIST 16

typedef struct {
    /* model and data */
    char model[1024];            /* HF model directory, or "init:ARCH:PRESET" for a fresh random model */
    char tokenizer[1024];        /* directory with tokenizer.json (default: the model directory) */
    char dataset[1024];          /* JSONL path, or "builtin:arithmetic" / "builtin:countdown" */
    char dataset_format[32];     /* gsm8k, math, humaneval, mbpp, countdown, custom */
    char prompt_field[64], answer_field[64];
    char eval_dataset[1024];     /* JSONL path; empty: split eval_size items off the training set */
    int eval_size;
    int train_size;              /* builtin generators: how many training items */
    int builtin_operands;        /* builtin:arithmetic: operands per problem at most */
    int builtin_digits;          /* builtin:arithmetic: digits per operand at most */
    char builtin_ops[8];         /* builtin:arithmetic: operators drawn from ("+-") */
    char chat_template[32];      /* chatml, qwen3, llama3, deepseek-r1, raw */
    char system_prompt[2048];
    char prompt_template[2048];  /* "{prompt}" */
    char output_dir[1024];
    char run_name[256];
    /* generation */
    int num_generations;
    int generation_batch_size;
    int max_prompt_length;
    int max_completion_length;
    double temperature, top_p, min_p, repetition_penalty;
    int top_k;
    /* loss */
    double beta, epsilon, epsilon_high;
    char loss_type[16], scale_rewards[16], importance_sampling_level[16];
    int num_iterations;
    int per_device_train_batch_size;
    int mask_truncated_completions;
    int dynamic_sampling;
    int max_resample_rounds;
    int overlong_buffer_length;
    double overlong_penalty_factor;
    /* rewards */
    char reward_funcs[RC_MAX_LIST][64];
    int n_reward_funcs;
    double reward_weights[RC_MAX_LIST];
    int n_reward_weights;
    char external_reward_cmd[1024];  /* a command speaking JSON lines (rewards/external.h); empty: none */
    double external_reward_weight;
    double external_reward_timeout;
    /* optimizer */
    double learning_rate, adam_beta1, adam_beta2, adam_epsilon, weight_decay, max_grad_norm;
    char lr_scheduler_type[16];
    int warmup_steps;
    int max_steps;
    /* SFT cold start */
    int sft_steps;
    double sft_learning_rate;
    double sft_weight_decay;     /* the cold start's weight decay (< 0: weight_decay's) */
    char sft_lr_scheduler_type[16];
    int sft_batch_size;
    int sft_eval_steps;          /* held-out accuracy logged every this many SFT steps (0: off) */
    int sft_size;                /* items split off as the cold start's worked solutions (0: shared with GRPO) */
    /* distillation (grpo traces, grpo sft, on-policy in grpo train; docs/distill.md) */
    char teacher_model[1024];    /* on-policy distillation: the teacher's HF directory */
    char distill[16];            /* "" (off), "on_policy" (grpo train) or "gkd" (grpo sft) */
    double distill_task_weight;  /* on-policy: weight of the task advantage added to the per-token one */
    int distill_top_k;           /* gkd: the teacher's top-k ids per token (the rest: one tail bucket) */
    char sft_dataset[1024];      /* grpo sft: JSONL of messages / prompt-completion / openr1 rows */
    double num_train_epochs;     /* grpo sft: epochs over sft_dataset (0: sft_steps decides) */
    int max_length;              /* grpo sft: rows are cut to this many tokens */
    int sft_tokens_per_batch;    /* grpo sft: a batch takes rows up to this many tokens (0: sft_batch_size rows) */
    /* run */
    long long seed;
    int save_steps, save_total_limit, eval_steps, logging_steps;
    int num_threads;
    char device[16];
} run_config;

/* Fills c with every key's default. */
void rc_defaults(run_config *c);
/* Applies a JSON object of keys (path names the file in errors). */
int rc_apply_json(run_config *c, const char *text, size_t len, const char *path, grpo_err *err);
/* Applies one key given as text (from --key value); name may use - or _. */
int rc_set(run_config *c, const char *key, const char *value, grpo_err *err);
/* Checks relations between keys (group size divides the batch, ...). */
int rc_validate(const run_config *c, grpo_err *err);
/* The resolved config as a JSON object (malloc'd). */
char *rc_to_json(const run_config *c);
/* The config reference in Markdown (malloc'd; NULL when out of memory), the source of docs/config.md. */
char *rc_doc_markdown(void);

#endif
