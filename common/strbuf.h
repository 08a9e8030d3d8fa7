/* common/strbuf.h: the one string builder. Two forms:
 *  - strbuf, a growable heap string whose out-of-memory state is sticky: after one failed
 *    allocation every later append does nothing and sb_take returns NULL, so a caller may append
 *    freely and check once at the end (or check each append's return value);
 *  - sb_catf / sb_catn, bounded appends into a caller's fixed buffer, for the
 *    `n += snprintf(s + n, cap - n, ...)` pattern: they never write past cap, keep the text
 *    NUL-terminated and *n at most cap - 1, and say when the text was cut. */
#ifndef GRPO_STRBUF_H
#define GRPO_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* s is NUL-terminated once anything was appended (NULL before); len excludes the NUL. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed; /* an allocation failed: the contents are incomplete */
} strbuf;

/* An empty builder; equivalent to `strbuf b = {0}`. */
void sb_init(strbuf *b);
/* Appends n bytes; returns 0, or -1 when memory ran out now or before. */
int sb_addn(strbuf *b, const void *s, size_t n);
/* Appends a NUL-terminated string; returns 0 or -1 as sb_addn. */
int sb_add(strbuf *b, const char *s);
/* Appends printf-formatted text; returns 0 or -1 (out of memory, or a bad format). */
int sb_addf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sb_addf with a va_list. */
int sb_vaddf(strbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* 1 when an append has failed since the builder was made or last cleared. */
int sb_failed(const strbuf *b);
/* Cuts the text back to its first len bytes (len <= b->len), keeping the memory, and forgets a
 * failure: what remains was appended whole, since a failed append adds nothing. */
void sb_truncate(strbuf *b, size_t len);
/* sb_truncate(b, 0): empties the builder for reuse. */
void sb_clear(strbuf *b);
/* The malloc'd NUL-terminated text ("" when nothing was appended), the builder left empty;
 * NULL (and everything freed) when an append failed or the last allocation fails. */
char *sb_take(strbuf *b);
/* Frees the text; the builder is empty again. */
void sb_free(strbuf *b);

/* Appends printf-formatted text at buf + *n, never writing at or past buf + cap, and advances *n
 * (at most cap - 1). Returns 0, or -1 when the text was cut (or cap is 0, or the format failed). */
int sb_catf(char *buf, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same for len raw bytes. */
int sb_catn(char *buf, size_t cap, size_t *n, const void *s, size_t len);

#endif
