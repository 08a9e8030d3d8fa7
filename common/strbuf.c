/* common/strbuf.c: the growable string builder and the bounded appends of strbuf.h. */
#include "strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(strbuf *b) { *b = (strbuf){0}; }

/* Marks the builder failed; returns -1. */
static int fail(strbuf *b) {
    b->failed = 1;
    return -1;
}

/* Makes room for `more` bytes plus the NUL; 0, or -1 (and the builder marked failed). */
static int grow(strbuf *b, size_t more) {
    if (b->failed) return -1;
    if (more > SIZE_MAX / 4 - b->len) return fail(b);
    size_t need = b->len + more + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) return fail(b);
    b->s = s, b->cap = cap;
    return 0;
}

int sb_addn(strbuf *b, const void *s, size_t n) {
    if (grow(b, n)) return -1;
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int sb_add(strbuf *b, const char *s) { return sb_addn(b, s, strlen(s)); }

int sb_vaddf(strbuf *b, const char *fmt, va_list ap) {
    if (b->failed) return -1;
    va_list again;
    va_copy(again, ap);
    size_t room = b->cap ? b->cap - b->len : 0;
    int k = vsnprintf(room ? b->s + b->len : NULL, room, fmt, ap);
    int rc = 0;
    if (k < 0) rc = fail(b);
    else if ((size_t)k >= room) {
        rc = grow(b, (size_t)k);
        if (!rc) vsnprintf(b->s + b->len, (size_t)k + 1, fmt, again);
    }
    va_end(again);
    if (rc) {
        if (b->s) b->s[b->len] = '\0'; /* a failed format may have written into the spare room */
        return -1;
    }
    b->len += (size_t)k;
    return 0;
}

int sb_addf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = sb_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int sb_failed(const strbuf *b) { return b->failed; }

void sb_truncate(strbuf *b, size_t len) {
    if (len < b->len) b->len = len;
    b->failed = 0;
    if (b->s) b->s[b->len] = '\0';
}

void sb_clear(strbuf *b) { sb_truncate(b, 0); }

char *sb_take(strbuf *b) {
    if (!b->s) sb_addn(b, "", 0);
    if (b->failed) {
        sb_free(b);
        return NULL;
    }
    char *s = b->s;
    sb_init(b);
    return s;
}

void sb_free(strbuf *b) {
    free(b->s);
    sb_init(b);
}

int sb_catn(char *buf, size_t cap, size_t *n, const void *s, size_t len) {
    if (cap == 0) return -1;
    if (*n >= cap) *n = cap - 1;
    size_t room = cap - 1 - *n;
    int cut = len > room;
    if (cut) len = room;
    if (len) memcpy(buf + *n, s, len);
    *n += len;
    buf[*n] = '\0';
    return cut ? -1 : 0;
}

int sb_catf(char *buf, size_t cap, size_t *n, const char *fmt, ...) {
    if (cap == 0) return -1;
    if (*n >= cap) *n = cap - 1;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k < 0) {
        buf[*n] = '\0';
        return -1;
    }
    if ((size_t)k > cap - 1 - *n) {
        *n = cap - 1; /* vsnprintf cut the text there and wrote the NUL */
        return -1;
    }
    *n += (size_t)k;
    return 0;
}
