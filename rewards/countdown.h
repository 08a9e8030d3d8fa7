/* rewards/countdown.h: the countdown reward with TinyZero's rules: the answer (the last <answer>...</answer>,
 * or the whole text when there is no tag) is an arithmetic expression that uses each given number exactly
 * once, only + - * / and parentheses, and equals the target. It is parsed and evaluated with exact
 * rationals, never handed to an interpreter. */
#ifndef GRPO_REWARDS_COUNTDOWN_H
#define GRPO_REWARDS_COUNTDOWN_H

enum { COUNTDOWN_MAX_NUMBERS = 16, COUNTDOWN_MAX_LEN = 1024 };

/* Result of checking one expression. */
typedef enum {
    COUNTDOWN_CORRECT = 0,
    COUNTDOWN_NO_ANSWER,     /* nothing to check */
    COUNTDOWN_SYNTAX,        /* not an expression of numbers, + - * / and parentheses */
    COUNTDOWN_WRONG_NUMBERS, /* numbers not used exactly once each */
    COUNTDOWN_WRONG_VALUE,   /* valid, but a different value (or division by zero) */
} countdown_verdict;

/* Checks the expression expr against numbers[n] and target. */
countdown_verdict countdown_check(const char *expr, const long long *numbers, int n, long long target);

/* The reward: 1.0 when correct, format_score 0.1 when an answer is there but wrong, 0.0 when none. */
double countdown_score(const char *completion, const long long *numbers, int n, long long target);

#endif
