/* grpo/loops/distill.h: distillation loops (docs/distill.md), built from the train loop's parts:
 *   traces  a teacher samples num_generations completions per training prompt, every one scored by the
 *           reward registry and stored in the run's database with the rollout schema (runs.kind =
 *           'traces'); chunk c of generation_batch_size completions is step c + 1, one transaction, so a
 *           run killed at any moment resumes with each (prompt, sample) stored exactly once
 *   sft     supervised fine-tuning of a student on JSONL rows (grpo/loops/sft_data.h) rendered with the
 *           student's own tokenizer and chat template, loss on the completion tokens only, greedy
 *           held-out accuracy, checkpoints and bit-exact resume, one steps row per step (kind 'sft')
 * On-policy distillation runs inside grpo train (grpo/loops/onpolicy.h). */
#ifndef GRPO_DISTILL_H
#define GRPO_DISTILL_H

#include <stdint.h>

#include "common/err.h"
#include "run_config.h"
#include "train.h"

typedef struct {
    long long prompts, samples;   /* in the whole run (this process and earlier ones) */
    long long correct;            /* samples the accuracy reward accepts (this process) */
    long long chunks_done, chunks_resumed;
    double seconds, tokens_per_s;
    char db_path[4200];
} traces_result;

/* Samples and stores the traces of cfg (the model is the teacher); resume continues after the last
 * stored chunk, otherwise the run's earlier traces are deleted first. */
int distill_traces(const run_config *cfg, int resume, const train_log *log, traces_result *res, grpo_err *err);

typedef struct {
    double accuracy_before, accuracy_after; /* greedy held-out accuracy (-1: no held-out set) */
    int eval_n;
    long long rows, steps_done, total_steps;
    double tokens_per_s;
    char db_path[4200];
    char last_checkpoint[4300];
} sft_result;

/* Trains cfg->model on cfg->sft_dataset; resume continues from the newest checkpoint. */
int distill_sft(const run_config *cfg, int resume, const train_log *log, sft_result *res, grpo_err *err);

/* Writes a fresh random Qwen2-shaped student to out_dir (replacing it): the tiny preset with hidden size
 * hidden and layers layers, the vocabulary of tokenizer_dir, whose tokenizer files it copies. */
int distill_init_student(const char *tokenizer_dir, const char *out_dir, int hidden, int layers, uint64_t seed,
                         grpo_err *err);

#endif
