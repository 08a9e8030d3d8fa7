/* rewards/registry.h: named reward functions combined by weight (like TRL's reward_funcs and
 * reward_weights), each component kept. Also the rewards that look only at the text's shape:
 * the R1 format (a configurable PCRE2 pattern), tag count, and the DAPO soft overlong penalty. */
#ifndef GRPO_REWARDS_REGISTRY_H
#define GRPO_REWARDS_REGISTRY_H

#include <stddef.h>

#include "../common/err.h"

#define RW_MAX 16

/* What a reward may look at besides the completion text. Unused fields are zero/NULL. */
typedef struct {
    const char *answer;          /* gold answer (math, arithmetic), may be a whole solution */
    const long long *nums;       /* countdown numbers */
    int n_nums;
    long long target;            /* countdown target */
    int n_tokens;                /* completion length in tokens */
} rw_item;

typedef struct rw_registry rw_registry;

/* The default R1 format pattern: <think>...</think> then <answer>...</answer>, nothing else. */
extern const char RW_R1_PATTERN[];

/* Builds a registry of n rewards by name with weights (NULL: all 1). Known names: accuracy (math
 * answer, or countdown when the item has numbers), format (R1 pattern), tag_count, countdown,
 * overlong, random (a control). format_pattern NULL means RW_R1_PATTERN; overlong needs max_len L and buffer C.
 * An unknown name or a bad pattern is an error naming it. */
int rw_registry_new(rw_registry **out, const char *const *names, const double *weights, int n,
                    const char *format_pattern, int overlong_max_len, int overlong_buffer, grpo_err *err);
void rw_registry_free(rw_registry *r);
int rw_registry_size(const rw_registry *r);
const char *rw_registry_name(const rw_registry *r, int i);
/* Scores one completion: components[i] gets reward i; returns the weighted total. Thread-safe. */
double rw_registry_score(const rw_registry *r, const rw_item *it, const char *completion, double *components);

/* Bytes of one component's reason, NUL included. */
#define RW_REASON_MAX 128

/* Says why each component got the value rw_registry_score gave it (components[i], as scored): a short
 * text per component into reasons[i] ("extracted 12, gold 13", "no answer found", "does not match the
 * format pattern"), and the answer found in the completion into extracted (cap bytes; "" when none).
 * Cheap (no expression parsing), so a caller may run it apart from scoring. Thread-safe. */
void rw_registry_explain(const rw_registry *r, const rw_item *it, const char *completion, const double *components,
                         char (*reasons)[RW_REASON_MAX], char *extracted, size_t cap);

/* 1 when text matches the compiled pattern of the registry's format reward (RW_R1_PATTERN by default). */
double rw_format_r1(const rw_registry *r, const char *text);
/* 0.25 for each of <think>, </think>, <answer>, </answer> present exactly once. */
double rw_tag_count(const char *text);
/* A control reward: 0 or 1 from a hash of the text, unrelated to correctness (same text, same value). */
double rw_random(const char *text);
/* DAPO: 0 when len <= L - C, ((L - C) - len) / C inside the buffer, -1 beyond L. */
double rw_overlong(int len, int max_len, int buffer);

#endif
