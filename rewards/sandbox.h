/* rewards/sandbox.h: running untrusted programs under bubblewrap: no network, read-only system binds, a
 * private size-limited writable /tmp, new PID/IPC/UTS/user namespaces, --die-with-parent, an unprivileged
 * host uid when grpo runs as root, rlimits (CPU, address space, file size, processes, open files), a
 * wall-clock timeout that kills the whole process group, and stdout/stderr captured up to a cap (a program
 * that writes past the cap is killed). Where bwrap cannot start, runs are refused unless weak_isolation is
 * set (then only rlimits, the uid drop and the timeout apply). */
#ifndef GRPO_REWARDS_SANDBOX_H
#define GRPO_REWARDS_SANDBOX_H

#include <stddef.h>

#include "../common/err.h"

typedef struct {
    const char *bwrap;      /* path of bwrap ("/usr/bin/bwrap") */
    double timeout_s;       /* wall clock per run */
    int memory_mb;          /* RLIMIT_AS */
    int cpu_s;              /* RLIMIT_CPU; 0: ceil(timeout_s) + 1 */
    long long fsize_bytes;  /* RLIMIT_FSIZE */
    int nproc;              /* RLIMIT_NPROC (per sandbox uid) */
    int nofile;             /* RLIMIT_NOFILE */
    long long tmp_bytes;    /* size of the private /tmp */
    size_t output_cap;      /* bytes of stdout and of stderr kept; more kills the run */
    int uid_base;           /* when root: run slot k as uid/gid uid_base + k */
    int weak_isolation;     /* allow running without bwrap */
    const char *python;     /* interpreter used by code.c */
} sandbox_opts;

typedef struct {
    int exited, exit_code, signal; /* how the program ended */
    int timed_out, output_overflow;
    char *out, *err;               /* NUL-terminated, at most output_cap bytes each */
    size_t out_len, err_len;
    double wall_s;
} sandbox_result;

/* A file placed read-only at /sandbox/NAME inside the sandbox. */
typedef struct { const char *name; const char *data; size_t len; } sandbox_file;

/* Defaults: bwrap at /usr/bin/bwrap, 10 s, 1024 MiB, 16 MiB files, 64 processes, 64 files, 64 MiB /tmp,
 * 1 MiB output, uid base 61000, python /usr/bin/python3, no weak isolation. */
void sandbox_opts_default(sandbox_opts *o);

/* Checks once that bwrap can start a sandbox here; returns 0, or GRPO_EUNSUPPORTED with the reason (and
 * 0 anyway when o->weak_isolation is set, leaving the reason in err). */
int sandbox_check(const sandbox_opts *o, grpo_err *err);

/* Runs argv (argv[0] an absolute path inside the sandbox) with files under /sandbox, stdin_data on stdin,
 * as slot `slot` (distinct slots may run concurrently). Fills r (free with sandbox_result_free). Returns 0
 * when the program ran (whatever its outcome), an error code when the sandbox could not be set up. */
int sandbox_run(const sandbox_opts *o, int slot, const sandbox_file *files, int n_files, const char *const *argv,
                const char *stdin_data, size_t stdin_len, sandbox_result *r, grpo_err *err);

void sandbox_result_free(sandbox_result *r);

#endif
