/* tasks/dataset.c: the life of items and datasets (free, deep copy, names), the train/eval split by a
 * seeded hash of the prompt text, and removing prompts that another dataset already holds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/rng.h"
#include "internal.h"

/* ---------------------------------------------------------------- items */

void tk_item_clear(tasks_item *it) {
    free(it->prompt), free(it->answer), free(it->solution), free(it->system);
    free(it->task_id), free(it->test), free(it->entry_point);
    for (int i = 0; i < it->n_io; i++) {
        if (it->inputs) free(it->inputs[i]);
        if (it->outputs) free(it->outputs[i]);
    }
    free(it->inputs), free(it->outputs);
    memset(it, 0, sizeof *it);
}

/* Deep-copies src into dst; 0, or -1 on oom (dst then holds nothing). */
static int item_copy(tasks_item *dst, const tasks_item *src) {
    *dst = *src;
    dst->prompt = tk_strdup(src->prompt), dst->answer = tk_strdup(src->answer);
    dst->solution = tk_strdup(src->solution), dst->system = tk_strdup(src->system);
    dst->task_id = tk_strdup(src->task_id), dst->test = tk_strdup(src->test);
    dst->entry_point = tk_strdup(src->entry_point);
    dst->inputs = dst->outputs = NULL;
    int bad = (src->prompt && !dst->prompt) || (src->answer && !dst->answer) || (src->solution && !dst->solution) ||
              (src->system && !dst->system) || (src->task_id && !dst->task_id) || (src->test && !dst->test) ||
              (src->entry_point && !dst->entry_point);
    if (src->n_io > 0 && !bad) {
        dst->inputs = calloc((size_t)src->n_io, sizeof *dst->inputs);
        dst->outputs = calloc((size_t)src->n_io, sizeof *dst->outputs);
        bad = !dst->inputs || !dst->outputs;
        for (int i = 0; i < src->n_io && !bad; i++) {
            dst->inputs[i] = tk_strdup(src->inputs[i]);
            dst->outputs[i] = tk_strdup(src->outputs[i]);
            bad = !dst->inputs[i] || !dst->outputs[i];
        }
    }
    if (bad) {
        if (!dst->inputs || !dst->outputs) {
            free(dst->inputs), free(dst->outputs);
            dst->inputs = dst->outputs = NULL, dst->n_io = 0;
        }
        tk_item_clear(dst);
        return -1;
    }
    return 0;
}

void tasks_dataset_free(tasks_dataset *ds) {
    if (!ds) return;
    for (size_t i = 0; i < ds->n; i++) tk_item_clear(&ds->items[i]);
    free(ds->items);
    memset(ds, 0, sizeof *ds);
}

/* Copies the items of src whose pick[i] equals want (all when pick is NULL) into dst. */
static int copy_where(tasks_dataset *dst, const tasks_dataset *src, const unsigned char *pick, int want,
                      grpo_err *err) {
    memset(dst, 0, sizeof *dst);
    dst->kind = src->kind, dst->format = src->format;
    size_t n = 0;
    for (size_t i = 0; i < src->n; i++) n += !pick || pick[i] == want;
    if (n) {
        dst->items = calloc(n, sizeof *dst->items);
        if (!dst->items) return grpo_errf(err, GRPO_ENOMEM, "out of memory copying %zu task items", n);
    }
    for (size_t i = 0; i < src->n; i++) {
        if (pick && pick[i] != want) continue;
        if (item_copy(&dst->items[dst->n], &src->items[i])) {
            tasks_dataset_free(dst);
            return grpo_errf(err, GRPO_ENOMEM, "out of memory copying task items");
        }
        dst->n++;
    }
    return GRPO_OK;
}

int tasks_dataset_copy(tasks_dataset *dst, const tasks_dataset *src, grpo_err *err) {
    return copy_where(dst, src, NULL, 0, err);
}

const char *tasks_code_prefix(const tasks_dataset *ds, const tasks_item *it) {
    return ds->format == TASKS_FORMAT_HUMANEVAL && it->prompt ? it->prompt : "";
}

/* ---------------------------------------------------------------- names */

static const char *KIND_NAMES[] = {"math", "code", "countdown", "arithmetic"};
static const char *FORMAT_NAMES[] = {"custom", "gsm8k", "math", "humaneval", "mbpp", "stdio", "countdown", "generated"};

const char *tasks_kind_name(tasks_kind k) {
    return (unsigned)k < sizeof KIND_NAMES / sizeof *KIND_NAMES ? KIND_NAMES[k] : "?";
}

const char *tasks_format_name(tasks_format f) {
    return (unsigned)f < sizeof FORMAT_NAMES / sizeof *FORMAT_NAMES ? FORMAT_NAMES[f] : "?";
}

int tasks_format_parse(const char *name, tasks_format *out, grpo_err *err) {
    for (int f = TASKS_FORMAT_CUSTOM; f < TASKS_FORMAT_GENERATED; f++) {
        if (name && !strcmp(name, FORMAT_NAMES[f])) {
            *out = (tasks_format)f;
            return GRPO_OK;
        }
    }
    return grpo_errf(err, GRPO_EINVAL,
                     "unknown dataset format \"%s\" (known: gsm8k, math, humaneval, mbpp, stdio, countdown, custom)",
                     name ? name : "");
}

/* ---------------------------------------------------------------- train/eval split */

typedef struct {
    uint64_t key;
    const char *prompt;
    size_t idx;
} split_key;

static int split_cmp(const void *a, const void *b) {
    const split_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    int c = strcmp(x->prompt, y->prompt);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int tasks_split(const tasks_dataset *ds, double eval_fraction, size_t eval_count, uint64_t seed,
                tasks_dataset *train, tasks_dataset *eval, grpo_err *err) {
    memset(train, 0, sizeof *train);
    memset(eval, 0, sizeof *eval);
    size_t want = eval_count;
    if (!eval_count) {
        if (!(eval_fraction >= 0.0 && eval_fraction < 1.0))
            return grpo_errf(err, GRPO_EINVAL, "eval fraction %g is outside [0, 1)", eval_fraction);
        want = (size_t)llround(eval_fraction * (double)ds->n);
    }
    if (want >= ds->n && ds->n > 0)
        return grpo_errf(err, GRPO_EINVAL, "an eval set of %zu items leaves no training items (the dataset has %zu)",
                         want, ds->n);
    if (ds->n == 0) return grpo_errf(err, GRPO_EINVAL, "cannot split an empty dataset");

    split_key *keys = malloc(ds->n * sizeof *keys);
    unsigned char *pick = calloc(ds->n, 1);
    if (!keys || !pick) {
        free(keys), free(pick);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory splitting %zu items", ds->n);
    }
    uint64_t salt = rng_mix64(seed ^ 0x73706c6974ULL); /* "split" */
    for (size_t i = 0; i < ds->n; i++)
        keys[i] = (split_key){rng_mix64(tk_hash_str(ds->items[i].prompt) ^ salt), ds->items[i].prompt, i};
    qsort(keys, ds->n, sizeof *keys, split_cmp);
    /* Whole groups of equal prompts (adjacent after sorting) go to eval until it holds `want`. */
    size_t taken = 0;
    for (size_t i = 0; i < ds->n && taken < want;) {
        size_t j = i;
        while (j < ds->n && !strcmp(keys[j].prompt, keys[i].prompt)) pick[keys[j++].idx] = 1;
        taken += j - i;
        i = j;
    }
    free(keys);
    int rc = GRPO_OK;
    if (taken >= ds->n)
        rc = grpo_errf(err, GRPO_EINVAL, "every item shares a prompt with an eval item: no training items are left");
    if (!rc) rc = copy_where(train, ds, pick, 0, err);
    if (!rc) rc = copy_where(eval, ds, pick, 1, err);
    free(pick);
    if (rc) tasks_dataset_free(train), tasks_dataset_free(eval);
    return rc;
}

int tasks_exclude(tasks_dataset *ds, const tasks_dataset *other, size_t *removed, grpo_err *err) {
    tk_strset set = {0};
    for (size_t i = 0; i < other->n; i++) {
        if (tk_strset_add(&set, other->items[i].prompt) < 0) {
            tk_strset_free(&set);
            return grpo_errf(err, GRPO_ENOMEM, "out of memory indexing %zu prompts", other->n);
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < ds->n; i++) {
        if (tk_strset_has(&set, ds->items[i].prompt)) {
            tk_item_clear(&ds->items[i]);
            continue;
        }
        if (k != i) ds->items[k] = ds->items[i];
        k++;
    }
    tk_strset_free(&set);
    if (removed) *removed = ds->n - k;
    ds->n = k;
    return GRPO_OK;
}
