/* grpo/loops/export.h: selecting completions from any run's database (a traces run, or a GRPO run's own
 * rollouts) and writing them as JSONL for SFT or RL curation (docs/distill.md):
 *   messages           {"messages": [system?, user, assistant]}                   (TRL SFTTrainer)
 *   prompt-completion  {"prompt": [system?, user], "completion": [assistant]}     (TRL, conversational)
 *   openr1             one row per problem: {"problem", "answer", "generations", "correctness_math_verify",
 *                      "finish_reasons"}                                          (OpenR1-Math-220k)
 *   pass-rate bounds   {"prompt", "answer", "pass_rate", "samples"}: the prompts whose share of correct
 *                      samples lies in [lo, hi] (open-r1 keeps 0.1..0.6 for RL), for `dataset_format: custom`
 * The user message is the item's prompt through the run's prompt_template, so that a student trained on
 * it is prompted as at evaluation. Correctness is the accuracy reward against the run's dataset, which is
 * loaded again from the run's config (runs.config_json). The file is written atomically; a selection of
 * nothing is an error and writes no file. */
#ifndef GRPO_EXPORT_H
#define GRPO_EXPORT_H

#include <stdint.h>

#include "common/err.h"

typedef struct {
    const char *db, *run;     /* run NULL: the only run in the file */
    const char *format;       /* messages, prompt-completion or openr1 */
    double min_reward;        /* keep reward_total >= this (-INFINITY: no bound) */
    int complete_only;        /* keep finish_reason 'stop' with well-formed <think>/<answer> tags */
    int max_per_prompt;       /* at most this many per prompt (0: all), in (step, sample) order */
    int dedup;                /* drop a completion whose text equals a kept one of the same prompt */
    int64_t step_lo, step_hi; /* steps lo..hi inclusive */
    int pass_rate;            /* 1: write prompts whose pass rate is in [pass_lo, pass_hi] instead */
    double pass_lo, pass_hi;
} export_opts;

typedef struct {
    long long completions_read, prompts_read;
    long long rows_written, completions_written;
} export_result;

/* Fills o with: format messages, no bounds, all steps. */
void export_defaults(export_opts *o);
/* The format by name, or -1. */
int export_format_from_name(const char *name);
/* Selects and writes out_path (see above). */
int export_run(const export_opts *o, const char *out_path, export_result *r, grpo_err *err);

#endif
