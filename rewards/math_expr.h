/* rewards/math_expr.h: the bounded parser for normalized math answers and the comparison of two parsed
 * answers. Numbers are exact rationals while they fit in 64 bits and doubles after; trees live in one
 * arena per answer, bounded by MATH_MAX_NODES and MATH_MAX_DEPTH. Internal to rewards/ (and the fuzz
 * target); callers normally use math.h. */
#ifndef GRPO_REWARDS_MATH_EXPR_H
#define GRPO_REWARDS_MATH_EXPR_H

#include "math.h"

typedef struct math_expr math_expr;

/* Parses a normalized answer. Returns NULL when it is not math (text, unknown commands, unbalanced
 * brackets, over the bounds); the caller then compares text. */
math_expr *math_expr_parse(const char *s);

/* Releases an answer (NULL is fine). */
void math_expr_free(math_expr *e);

/* 1 when a and b denote the same answer under the rules in math.h, 0 otherwise. */
int math_expr_equal(const math_expr *a, const math_expr *b, const math_opts *o);

/* Evaluates a scalar answer without variables to a double; returns 0 on success, -1 otherwise
 * (used by tests and by countdown). */
int math_expr_value(const math_expr *e, double *out);

#endif
