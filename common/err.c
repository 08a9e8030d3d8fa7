/* common/err.c: filling grpo_err values. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int grpo_errf(grpo_err *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int grpo_err_prefix(grpo_err *e, const char *fmt, ...) {
    if (!e) return GRPO_EINVAL;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    size_t n = strlen(head);
    if (n > sizeof e->msg - 3) n = sizeof e->msg - 3;
    memcpy(e->msg, head, n);
    memcpy(e->msg + n, ": ", 2);
    size_t room = sizeof e->msg - n - 3;
    size_t k = strnlen(old, room);
    memcpy(e->msg + n + 2, old, k);
    e->msg[n + 2 + k] = '\0';
    return e->code;
}

void grpo_err_clear(grpo_err *e) {
    if (!e) return;
    e->code = GRPO_OK;
    e->msg[0] = '\0';
}
