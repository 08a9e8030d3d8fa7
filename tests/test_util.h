/* tests/test_util.h: helpers shared by the CUnit suites. */
#ifndef GRPO_TEST_UTIL_H
#define GRPO_TEST_UTIL_H

#include <stddef.h>

/* A fresh empty directory under $TMPDIR (or /tmp), created once per call. Caller frees. */
char *tu_tmpdir(const char *tag);
/* Writes len bytes to dir/name; returns the malloc'd full path. */
char *tu_write(const char *dir, const char *name, const void *data, size_t len);
/* Runs a shell command, captures stdout (and stderr when merge != 0) into a malloc'd string;
 * returns the exit status (or -1). */
int tu_run(const char *cmd, char **out, int merge);
/* Path under the source tree: GRPO_SOURCE_DIR "/" rel. Caller frees. */
char *tu_src(const char *rel);
/* Runs the CUnit registry with the basic runner; returns the process exit status
 * (0 when every test passed, 1 otherwise). */
int tu_run_registry(void);

#endif
