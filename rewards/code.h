/* rewards/code.h: scoring Python completions by running tests in the sandbox. Three forms of test:
 *   check - HumanEval/MBPP: {"task_id","prompt","test","entry_point"}; every assert in check() is a case;
 *   calls - {"task_id","entry_point","calls":[{"args":[...],"expected":...}]}; return values are compared on
 *           the host by serialized value (builtin types only);
 *   stdio - {"task_id","inputs":[...],"outputs":[...]}; one sandboxed run per input, stdout compared line
 *           by line after whitespace normalization.
 * The program is prompt + completion (the completion continues the prompt). The score is the fraction of
 * cases passed, or all-or-nothing. Completions run in parallel sandboxes. */
#ifndef GRPO_REWARDS_CODE_H
#define GRPO_REWARDS_CODE_H

#include <jansson.h>
#include <stddef.h>

#include "../common/err.h"
#include "sandbox.h"

typedef enum { CODE_FORM_CHECK, CODE_FORM_CALLS, CODE_FORM_STDIO } code_form;

typedef struct {
    char *task_id;
    code_form form;
    char *prompt;      /* may be "" */
    char *test;        /* check form */
    char *entry_point; /* check and calls forms */
    json_t *calls;     /* calls form: array of {"args": [...], "expected": ...} */
    char **inputs, **outputs; /* stdio form */
    int n_io;
} code_problem;

typedef struct {
    char *task_id;
    char *completion;
} code_completion;

typedef struct {
    double score;
    int passed, total;
    int timed_out, tampered, error; /* error: the sandbox could not run it (the score is then 0) */
} code_result;

typedef struct {
    sandbox_opts sandbox;
    int workers;        /* parallel sandboxes (default: online cores) */
    int all_or_nothing;
} code_opts;

/* Defaults: sandbox_opts_default, workers = online cores, fraction scoring. */
void code_opts_default(code_opts *o);

/* Reads one problem from a JSON object (where names the source for messages, e.g. "file:3"). */
int code_problem_from_json(code_problem *p, const json_t *j, const char *where, grpo_err *err);
void code_problem_free(code_problem *p);

/* Reads JSONL files; errors name file:line:field. Free with the matching free functions. */
int code_load_problems(const char *path, code_problem **out, size_t *n, grpo_err *err);
int code_load_completions(const char *path, code_completion **out, size_t *n, grpo_err *err);
void code_free_problems(code_problem *p, size_t n);
void code_free_completions(code_completion *c, size_t n);

/* Scores one completion against one problem in sandbox slot `slot`. */
int code_score_one(const code_problem *p, const char *completion, const code_opts *o, int slot, code_result *r,
                   grpo_err *err);

/* Scores every completion against the problem with its task_id, in parallel; res[i] for comps[i].
 * Fails (before running anything) when a task_id is unknown or the sandbox cannot start. */
int code_score_batch(const code_problem *probs, size_t np, const code_completion *comps, size_t nc,
                     const code_opts *o, code_result *res, grpo_err *err);

#endif
