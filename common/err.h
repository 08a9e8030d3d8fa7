/* common/err.h: the error value every library function returns through.
 * Library code never prints or exits: it fills a grpo_err and returns its code.
 * Only the CLI (grpo/) reports errors and chooses an exit status. */
#ifndef GRPO_ERR_H
#define GRPO_ERR_H

#include <stddef.h>

enum {
    GRPO_OK = 0,
    GRPO_EIO = 1,          /* a file could not be opened, read, written or renamed */
    GRPO_EFORMAT = 2,      /* bytes or JSON that do not follow their format */
    GRPO_ENOMEM = 3,       /* an allocation failed */
    GRPO_EINVAL = 4,       /* an argument or value out of range */
    GRPO_EUNSUPPORTED = 5, /* valid input that this build does not handle */
};

typedef struct grpo_err {
    int code;
    char msg[1024];
} grpo_err;

/* Sets e (when not NULL) to code and a printf-formatted message; returns code. */
int grpo_errf(grpo_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in e with a printf-formatted context; returns e->code. */
int grpo_err_prefix(grpo_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears e to GRPO_OK with an empty message. */
void grpo_err_clear(grpo_err *e);

#endif
