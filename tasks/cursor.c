/* tasks/cursor.c: the resumable data cursor. Epoch e visits every item once, in the order of a
 * Fisher-Yates permutation drawn from (seed, e); the state a checkpoint stores is (epoch, pos). */
#include <stdlib.h>
#include <string.h>

#include "../common/rng.h"
#include "internal.h"

void tasks_cursor_init(tasks_cursor *c, uint64_t seed, int64_t epoch, int64_t pos) {
    memset(c, 0, sizeof *c);
    c->seed = seed, c->epoch = epoch, c->pos = pos, c->perm_epoch = -1;
}

/* Makes c->perm the permutation of n items for c->epoch. */
static int cursor_perm(tasks_cursor *c, size_t n, grpo_err *err) {
    if (c->perm && c->n == n && c->perm_epoch == c->epoch) return GRPO_OK;
    if (c->n != n || !c->perm) {
        size_t *p = realloc(c->perm, n * sizeof *p);
        if (!p) return grpo_errf(err, GRPO_ENOMEM, "out of memory for a permutation of %zu items", n);
        c->perm = p, c->n = n;
    }
    rng_state r;
    rng_seed(&r, rng_mix64(c->seed ^ rng_mix64((uint64_t)c->epoch ^ 0x6375727372ULL))); /* "cursr" */
    for (size_t i = 0; i < n; i++) c->perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(((unsigned __int128)rng_next(&r) * (i + 1)) >> 64); /* uniform in [0, i] */
        size_t t = c->perm[i];
        c->perm[i] = c->perm[j], c->perm[j] = t;
    }
    c->perm_epoch = c->epoch;
    return GRPO_OK;
}

int tasks_cursor_next(tasks_cursor *c, const tasks_dataset *ds, size_t batch, size_t *out, grpo_err *err) {
    if (ds->n == 0) return grpo_errf(err, GRPO_EINVAL, "data cursor: the dataset is empty");
    if (c->epoch < 0 || c->pos < 0 || (uint64_t)c->pos > ds->n)
        return grpo_errf(err, GRPO_EINVAL,
                         "data cursor: saved state (epoch %lld, position %lld) does not fit a dataset of %zu items",
                         (long long)c->epoch, (long long)c->pos, ds->n);
    for (size_t k = 0; k < batch; k++) {
        if ((uint64_t)c->pos == ds->n) c->epoch++, c->pos = 0;
        int rc = cursor_perm(c, ds->n, err);
        if (rc) return rc;
        out[k] = c->perm[c->pos++];
    }
    if ((uint64_t)c->pos == ds->n) c->epoch++, c->pos = 0;
    return GRPO_OK;
}

void tasks_cursor_free(tasks_cursor *c) {
    free(c->perm);
    c->perm = NULL, c->n = 0, c->perm_epoch = -1;
}
