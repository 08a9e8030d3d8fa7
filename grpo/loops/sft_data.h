/* grpo/loops/sft_data.h: SFT rows from JSONL, in the shapes distillation data comes in:
 *   {"messages": [{"role", "content"}, ...]}              TRL SFTTrainer's conversational rows, open-r1's
 *                                                         Mixture-of-Thoughts; the last assistant turn is
 *                                                         the completion, the turns before it the prompt
 *   {"prompt": str | [msgs], "completion": str | [msgs]}  TRL's prompt-completion rows
 *   {"problem" | "prompt", "generations": [str, ...],     OpenR1-Math rows: one SFT row per generation
 *    "correctness_math_verify": [bool, ...]}              (only the correct ones when correctness is given)
 * Text stays text: tokenization with the student's own tokenizer and chat template is the caller's. */
#ifndef GRPO_SFT_DATA_H
#define GRPO_SFT_DATA_H

#include <stddef.h>

#include "common/err.h"

typedef struct {
    char **roles, **contents; /* the prompt's turns (system / user / assistant), n_turns of them */
    int n_turns;
    char *completion;         /* the assistant text to learn (its <think> block kept) */
    int line;                 /* 1-based line in the file */
} sft_row;

typedef struct {
    sft_row *rows;
    size_t n;
} sft_rows;

/* Loads every row of a JSONL file (blank lines skipped). Any bad row is an error naming
 * file:line: field "name": what is wrong, and leaves out empty. */
int sft_rows_load(sft_rows *out, const char *path, grpo_err *err);
/* The same over len bytes in memory; name stands for the file in messages. */
int sft_rows_load_buffer(sft_rows *out, const char *name, const char *data, size_t len, grpo_err *err);
void sft_rows_free(sft_rows *r);

#endif
