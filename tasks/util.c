/* tasks/util.c: the hashing and string set behind tasks/internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

char *tk_strdup(const char *s) { return s ? strdup(s) : NULL; }

uint64_t tk_hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* Slot of str (its own, or the empty one where it would go). */
static size_t strset_find(const tk_strset *s, const char *str, uint64_t h) {
    size_t i = h & (s->cap - 1);
    while (s->slot[i] && (s->hash[i] != h || strcmp(s->slot[i], str) != 0)) i = (i + 1) & (s->cap - 1);
    return i;
}

int tk_strset_add(tk_strset *s, const char *str) {
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        tk_strset g = {calloc(cap, sizeof *g.slot), calloc(cap, sizeof *g.hash), cap, 0};
        if (!g.slot || !g.hash) {
            free(g.slot), free(g.hash);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i]) continue;
            size_t j = strset_find(&g, s->slot[i], s->hash[i]);
            g.slot[j] = s->slot[i], g.hash[j] = s->hash[i], g.n++;
        }
        tk_strset_free(s);
        *s = g;
    }
    uint64_t h = tk_hash_str(str);
    size_t i = strset_find(s, str, h);
    if (s->slot[i]) return 0;
    s->slot[i] = str, s->hash[i] = h, s->n++;
    return 1;
}

int tk_strset_has(const tk_strset *s, const char *str) {
    if (!s->cap) return 0;
    return s->slot[strset_find(s, str, tk_hash_str(str))] != NULL;
}

void tk_strset_free(tk_strset *s) {
    free(s->slot), free(s->hash);
    s->slot = NULL, s->hash = NULL, s->cap = s->n = 0;
}
