/* tasks/tasks.h: where prompts come from. A dataset is an array of task items of one kind (math, code,
 * countdown, arithmetic), loaded from JSONL with a field mapping (GSM8K, MATH, HumanEval, MBPP, stdin/stdout
 * code, countdown, or custom field names) or made by a seeded built-in generator (arithmetic and countdown,
 * with worked solutions for SFT). Around it: a deterministic train/eval split that never puts one prompt on
 * both sides, prompt templates, and a resumable data cursor whose whole state is (epoch, position).
 * This module neither samples from a model nor scores completions. */
#ifndef GRPO_TASKS_H
#define GRPO_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

/* ---------------------------------------------------------------- items and datasets */

typedef enum {
    TASKS_KIND_MATH = 0,   /* prompt + answer, checked by the math reward */
    TASKS_KIND_CODE,       /* prompt + tests (assert-style or stdin/stdout), run by the code reward */
    TASKS_KIND_COUNTDOWN,  /* nums + target, checked by the countdown reward */
    TASKS_KIND_ARITHMETIC, /* generated arithmetic: prompt + integer answer (checked like math) */
} tasks_kind;

typedef enum {
    TASKS_FORMAT_CUSTOM = 0, /* field names from tasks_fields only; kind inferred from which are mapped */
    TASKS_FORMAT_GSM8K,      /* question; answer ending in "#### N" */
    TASKS_FORMAT_MATH,       /* problem; solution with \boxed{...} (or an explicit "answer") */
    TASKS_FORMAT_HUMANEVAL,  /* task_id, prompt, test, entry_point, canonical_solution */
    TASKS_FORMAT_MBPP,       /* text (or prompt), test_list, code, test_setup_code, test_imports */
    TASKS_FORMAT_STDIO,      /* prompt (or question), inputs + outputs (or APPS's input_output) */
    TASKS_FORMAT_COUNTDOWN,  /* nums, target (TinyZero) */
    TASKS_FORMAT_GENERATED,  /* made by tasks_generate, not loaded */
} tasks_format;

enum { TASKS_MAX_NUMS = 16 }; /* countdown numbers per item (the countdown reward's limit) */

typedef struct {
    int64_t id;      /* row index in the source (0-based, blank lines not counted), or generation index */
    int line;        /* 1-based line in the source file; 0 for generated items */
    char *prompt;    /* the user-facing problem text (never NULL) */
    char *answer;    /* gold final answer as text: math/arithmetic value; countdown: the target; code: NULL */
    char *solution;  /* a worked solution (SFT data) when known, else NULL */
    char *system;    /* a per-row system prompt when the mapping names one, else NULL */
    /* code */
    char *task_id;     /* code reward's problem name (the row's task_id, else the id in decimal) */
    char *test;        /* assert-style test code defining check(candidate), or NULL for stdin/stdout */
    char *entry_point; /* the function under test, or NULL for stdin/stdout */
    char **inputs, **outputs; /* stdin/stdout cases */
    int n_io;
    /* countdown */
    int nums[TASKS_MAX_NUMS];
    int n_nums;
    int target;
} tasks_item;

typedef struct {
    tasks_kind kind;
    tasks_format format;
    tasks_item *items;
    size_t n;
} tasks_dataset;

/* Frees every item and zeroes ds (safe on a zeroed dataset). */
void tasks_dataset_free(tasks_dataset *ds);

/* Deep-copies src into dst (dst is overwritten, not freed). */
int tasks_dataset_copy(tasks_dataset *dst, const tasks_dataset *src, grpo_err *err);

/* The code the completion continues, for the code reward's program = prefix + completion: the prompt of a
 * HumanEval item (a signature and docstring); "" for MBPP, stdin/stdout and other items, whose prompt is
 * prose and whose completion is the whole program. */
const char *tasks_code_prefix(const tasks_dataset *ds, const tasks_item *it);

/* Names: "math", "code", "countdown", "arithmetic" / "gsm8k", "math", "humaneval", ... */
const char *tasks_kind_name(tasks_kind k);
const char *tasks_format_name(tasks_format f);

/* Parses a format name (as tasks_format_name spells it, except "generated"); GRPO_EINVAL names the known ones. */
int tasks_format_parse(const char *name, tasks_format *out, grpo_err *err);

/* ---------------------------------------------------------------- JSONL loading */

/* JSON field names per item field; NULL means "not read". A name may list alternatives separated by '|'
 * ("text|prompt": the first one present in the row is used). */
typedef struct {
    const char *prompt, *answer, *solution, *system;
    const char *task_id, *test, *entry_point, *inputs, *outputs;
    const char *nums, *target;
} tasks_fields;

/* Fills map with format's default field names (all NULL for custom, except prompt/answer/system). */
void tasks_fields_default(tasks_format format, tasks_fields *map);

/* Loads a JSONL file into ds (zeroed first). Field names come from format's defaults, each replaced by the
 * non-NULL entries of map (map may be NULL). Blank lines are skipped and a UTF-8 BOM is tolerated. Every
 * problem is an error naming file:line:field ("data.jsonl:17: field \"answer\": missing"), and any error
 * leaves ds empty: there is never a partial dataset. */
int tasks_load_jsonl(tasks_dataset *ds, const char *path, const tasks_fields *map, tasks_format format,
                     grpo_err *err);

/* The same over len bytes of JSONL already in memory; name stands for the file in messages. */
int tasks_load_jsonl_buffer(tasks_dataset *ds, const char *name, const char *data, size_t len,
                            const tasks_fields *map, tasks_format format, grpo_err *err);

/* Writes the content of the last \boxed{...} (or \fbox{...}, or "\boxed X") in text, brace-balanced, into a
 * malloc'd *out; returns 1 when found, 0 when not (*out NULL), or -GRPO_ENOMEM. */
int tasks_last_boxed(const char *text, char **out);

/* ---------------------------------------------------------------- built-in generators */

typedef struct {
    /* arithmetic: "Compute 23+58-17." -> "<think>23+58=81. 81-17=64.</think><answer>64</answer>" */
    int min_operands, max_operands; /* operands per problem, 2..8 (default 2..3) */
    int min_digits, max_digits;     /* digits per operand, 1..6 (default 1..2) */
    const char *ops;                /* operators drawn from: any of + - * and / (exact division) (default "+-") */
    int allow_negative;             /* 0: every intermediate and final value is >= 0 (default 0) */
    /* countdown: "Using the numbers [3, 7, 25], create an equation that equals 46." */
    int min_nums, max_nums;         /* numbers per problem, 2..5 (default 3..4) */
    int max_num;                    /* numbers drawn from 1..max_num, 2..999 (default 99) */
    int max_target;                 /* targets in 1..max_target, reachable with integer steps (default 100) */
    int long_prompt;                /* 1: TinyZero's full instruction (think/answer tags) in the prompt */
    /* both */
    int unique; /* 1: no two items share a prompt (fails when the space is too small) (default 0) */
} tasks_gen_opts;

/* Fills o with the defaults above. */
void tasks_gen_opts_default(tasks_gen_opts *o);

/* Generates n items of generator "arithmetic" or "countdown" into ds (zeroed first). Item i depends only
 * on (seed, i) (and, with unique, on the items before it): the first k of n items equal those of k items.
 * opts may be NULL for the defaults; an out-of-range option is GRPO_EINVAL naming it. */
int tasks_generate(tasks_dataset *ds, const char *generator, size_t n, uint64_t seed, const tasks_gen_opts *opts,
                   grpo_err *err);

/* ---------------------------------------------------------------- train/eval split */

/* Splits ds into deep copies train and eval. eval_count > 0 asks for that many eval items, else
 * eval_fraction (in [0, 1)) of ds->n, rounded. Items are chosen by a hash of (seed, prompt text), so items
 * with the same prompt always land on the same side (eval may then hold a few more than asked). Order within
 * each side follows ds. GRPO_EINVAL when the split would leave train empty. */
int tasks_split(const tasks_dataset *ds, double eval_fraction, size_t eval_count, uint64_t seed,
                tasks_dataset *train, tasks_dataset *eval, grpo_err *err);

/* Removes from ds every item whose prompt text also appears in other (for a separate eval file or a
 * separately generated eval set); *removed (may be NULL) gets the count. */
int tasks_exclude(tasks_dataset *ds, const tasks_dataset *other, size_t *removed, grpo_err *err);

/* ---------------------------------------------------------------- prompt templates */

/* The R1-style system prompt (think in <think></think>, answer in <answer></answer>). */
extern const char TASKS_SYSTEM_R1[];

/* Checks a template: placeholders are {prompt} (alias {question}), {nums}, {target} and {entry_point};
 * "{{" and "}}" are literal braces; an unknown {identifier} is GRPO_EINVAL naming it. Other braces
 * (such as "\boxed{}") are literal. NULL is the template "{prompt}". */
int tasks_template_check(const char *tmpl, grpo_err *err);

/* Renders the user message of it through tmpl into a malloc'd *out. Chat wrapping is the caller's. */
int tasks_render_prompt(const tasks_item *it, const char *tmpl, char **out, grpo_err *err);

/* The system prompt for it: the row's own when it has one, else dflt (may be NULL). */
const char *tasks_system_prompt(const tasks_item *it, const char *dflt);

/* ---------------------------------------------------------------- data cursor */

/* Epoch-based deterministic shuffling: epoch e visits every item once in the order of a permutation
 * seeded by (seed, e). The resumable state is (epoch, pos); perm is a cache rebuilt on demand. */
typedef struct {
    uint64_t seed;
    int64_t epoch; /* current epoch */
    int64_t pos;   /* items of the current epoch already handed out */
    size_t n;      /* dataset size the cache was built for */
    int64_t perm_epoch;
    size_t *perm;
} tasks_cursor;

/* Starts (epoch 0, pos 0) or resumes (a saved epoch and pos) a cursor. */
void tasks_cursor_init(tasks_cursor *c, uint64_t seed, int64_t epoch, int64_t pos);

/* Writes the next batch item indices of ds into out[batch], crossing into the next epoch when one ends.
 * GRPO_EINVAL on an empty dataset or a saved pos beyond ds->n. */
int tasks_cursor_next(tasks_cursor *c, const tasks_dataset *ds, size_t batch, size_t *out, grpo_err *err);

/* Frees the permutation cache (the state stays readable). */
void tasks_cursor_free(tasks_cursor *c);

#endif
