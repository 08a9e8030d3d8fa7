/* rewards/external.h: an external reward: a long-running user command that reads one JSON object
 * per line on stdin ({"prompt": ..., "completion": ..., "answer": ...}) and answers one JSON object
 * per line on stdout ({"score": number}), in order. Each answer must come within a timeout; a late
 * answer, a malformed line or a dead process is an error naming the command. */
#ifndef GRPO_REWARDS_EXTERNAL_H
#define GRPO_REWARDS_EXTERNAL_H

#include "../common/err.h"

typedef struct rw_external rw_external;

/* Starts `/bin/sh -c cmd` with pipes on its stdin and stdout (stderr is inherited). */
int rw_external_start(rw_external **out, const char *cmd, double timeout_s, grpo_err *err);
/* Sends one request and waits for its score. answer may be NULL. */
int rw_external_score(rw_external *x, const char *prompt, const char *completion, const char *answer, double *score,
                      grpo_err *err);
/* Closes its stdin, waits briefly, then kills the command's process group. */
void rw_external_stop(rw_external *x);

#endif
