/* rewards/math.h: checking math answers: find the answer in a completion (\boxed and answer sets,
 * <answer>, "####", answer cues, closing sentences; math_extract.c), normalize its LaTeX, parse it into an
 * expression tree with exact rationals, and decide whether it equals a gold answer (exactly, numerically,
 * symbolically by evaluation at random points, or structurally for equations, sets, tuples, intervals,
 * matrices, letters and text).
 * Nothing here evaluates model output with an interpreter; parsing is bounded in size, depth and exponent. */
#ifndef GRPO_REWARDS_MATH_H
#define GRPO_REWARDS_MATH_H

#include <stddef.h>

#include "../common/err.h"

/* What to use when a completion holds no answer marker. */
typedef enum {
    MATH_FALLBACK_NONE = 0,    /* no answer: the completion scores 0 */
    MATH_FALLBACK_LAST_NUMBER, /* the last number in the text */
    MATH_FALLBACK_WHOLE,       /* the whole text (for bare answers such as gold strings) */
} math_fallback;

typedef struct {
    math_fallback fallback; /* for predictions; gold answers always fall back to the whole text */
    double rel_tol;         /* numeric equality: |a-b| <= rel_tol * max(|a|,|b|,1) */
    int n_points;           /* random points for expressions with variables */
} math_opts;

/* Bounds that keep hostile input cheap: longer answers compare as text only. */
enum { MATH_MAX_ANSWER = 4096, MATH_MAX_NODES = 2048, MATH_MAX_DEPTH = 64, MATH_MAX_VARS = 16 };

/* Fills o with the defaults: fallback NONE, rel_tol 1e-6, 6 points. */
void math_opts_default(math_opts *o);

/* Parses "none", "last_number" or "whole"; returns 0 or GRPO_EINVAL. */
int math_fallback_parse(const char *s, math_fallback *out, grpo_err *err);

/* Writes the answer found in text (NUL-terminated, truncated to cap) into out; returns 1 when an answer
 * was found, 0 when none was (out is then ""). Order: the last \boxed/\fbox with the boxes joined to it by
 * connectors as one set "a, b" (unless a "final answer" cue follows it), <answer>, "####", answer cues
 * ("final answer is", "answer:", "Answer $x$", Minerva's form), the closing sentence, then the fallback.
 * Linear in the text; see docs/rewards.md. With cap 0 nothing can be written and it returns 0. */
int math_extract(const char *text, math_fallback fb, char *out, size_t cap);

/* Normalizes a LaTeX answer for parsing (strips \left/\right, spacing, \text, units, %, degrees,
 * currency, thousands separators, ...); writes NUL-terminated into out (cap >= 1). */
void math_normalize(const char *in, char *out, size_t cap);

/* 1 when the two (already extracted) answers are mathematically equal, 0 otherwise. */
int math_answers_equal(const char *gold, const char *pred, const math_opts *o);

/* The accuracy reward: 1.0 when the answer extracted from completion equals the one extracted from
 * gold (which may be a whole worked solution), else 0.0. */
double math_accuracy(const char *gold, const char *completion, const math_opts *o);

#endif
