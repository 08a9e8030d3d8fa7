/* tasks/internal.h: helpers shared by the tasks/ sources (not part of the API): the string builder
 * (common/strbuf.h), string hashing, and a set of strings for duplicate detection. */
#ifndef GRPO_TASKS_INTERNAL_H
#define GRPO_TASKS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/strbuf.h"
#include "tasks.h"

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
