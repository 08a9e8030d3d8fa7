/* tasks/internal.h: helpers shared by the tasks/ sources (not part of the API): a growable string
 * buffer, string hashing, and a set of strings for duplicate detection. */
#ifndef GRPO_TASKS_INTERNAL_H
#define GRPO_TASKS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tasks.h"

/* A growable NUL-terminated string; oom is set (and further appends ignored) when an allocation fails. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} tk_buf;

/* Appends len bytes / a NUL-terminated string / a printf-formatted string. */
void tk_buf_addn(tk_buf *b, const char *s, size_t len);
void tk_buf_add(tk_buf *b, const char *s);
void tk_buf_addf(tk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the malloc'd string (never NULL unless oom) and resets b; NULL and frees on oom. */
char *tk_buf_take(tk_buf *b);
void tk_buf_free(tk_buf *b);

/* strdup that tolerates NULL (returns NULL). */
char *tk_strdup(const char *s);

/* FNV-1a 64 of a NUL-terminated string. */
uint64_t tk_hash_str(const char *s);

/* A set of borrowed strings (open addressing). */
typedef struct {
    const char **slot;
    uint64_t *hash;
    size_t cap, n;
} tk_strset;

/* Adds s (borrowed: it must outlive the set); returns 1 when added, 0 when already present, -1 on oom. */
int tk_strset_add(tk_strset *s, const char *str);
/* 1 when str is in the set. */
int tk_strset_has(const tk_strset *s, const char *str);
void tk_strset_free(tk_strset *s);

/* The countdown prompt for nums[n] and target: TinyZero's first sentence, plus its instructions (think and
 * answer tags) when long_prompt; malloc'd, NULL on oom. */
char *tk_countdown_prompt(const int *nums, int n, int target, int long_prompt);

/* Frees the strings an item owns (not the item itself). */
void tk_item_clear(tasks_item *it);

#endif
