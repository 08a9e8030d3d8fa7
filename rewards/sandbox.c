/* rewards/sandbox.c: one sandboxed run: stage the files in a private host directory, fork, drop to an
 * unprivileged uid (when root), apply rlimits, exec bwrap with the isolation flags, then feed stdin and
 * collect capped stdout/stderr under a wall-clock deadline, killing the whole process group on timeout or
 * overflow. Everything the child does between fork and exec is async-signal-safe (argv is built first). */
#define _GNU_SOURCE
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/strbuf.h"

void sandbox_opts_default(sandbox_opts *o) {
    o->bwrap = "/usr/bin/bwrap";
    o->timeout_s = 10.0;
    o->memory_mb = 1024;
    o->cpu_s = 0;
    o->fsize_bytes = 16LL << 20;
    o->nproc = 64;
    o->nofile = 64;
    o->tmp_bytes = 64LL << 20;
    o->output_cap = 1 << 20;
    o->uid_base = 61000;
    o->weak_isolation = 0;
    o->python = "/usr/bin/python3";
}

void sandbox_result_free(sandbox_result *r) {
    if (!r) return;
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---------------------------------------------------------------- staging files */

static int stage_files(char *dir, size_t cap, const sandbox_file *files, int n, grpo_err *err) {
    snprintf(dir, cap, "/tmp/grpo-sbx-XXXXXX");
    if (!mkdtemp(dir)) return grpo_errf(err, GRPO_EIO, "sandbox: cannot create a staging directory: %s", strerror(errno));
    chmod(dir, 0755);
    for (int i = 0; i < n; i++) {
        if (!files[i].name[0] || strchr(files[i].name, '/') || files[i].name[0] == '.')
            return grpo_errf(err, GRPO_EINVAL, "sandbox: bad file name '%s'", files[i].name);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) return grpo_errf(err, GRPO_EIO, "sandbox: cannot write %s: %s", path, strerror(errno));
        size_t off = 0;
        while (off < files[i].len) {
            ssize_t w = write(fd, files[i].data + off, files[i].len - off);
            if (w <= 0) {
                close(fd);
                return grpo_errf(err, GRPO_EIO, "sandbox: cannot write %s: %s", path, strerror(errno));
            }
            off += (size_t)w;
        }
        close(fd);
    }
    return GRPO_OK;
}

static void unstage(const char *dir, const sandbox_file *files, int n) {
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        unlink(path);
    }
    rmdir(dir);
}

/* ---------------------------------------------------------------- the command line */

typedef struct {
    const char *v[160];
    int n;
    char store[32][PATH_MAX]; /* strings built here (sizes, rewritten paths, symlink targets) */
    int ns;
} argvec;

static void av(argvec *a, const char *s) {
    if (a->n < 159) a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static const char *avs(argvec *a, const char *fmt, const char *x, long long y) {
    if (a->ns >= 32) return "";
    char *s = a->store[a->ns++];
    if (x) snprintf(s, PATH_MAX, fmt, x);
    else snprintf(s, PATH_MAX, fmt, y);
    return s;
}

/* System directories: a symlink on the host (merged /usr) becomes the same symlink; a directory a read-only bind. */
static void bind_system(argvec *a, const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISLNK(st.st_mode)) {
        if (a->ns >= 32) return;
        char *t = a->store[a->ns++];
        ssize_t k = readlink(path, t, PATH_MAX - 1);
        if (k <= 0) return;
        t[k] = '\0';
        av(a, "--symlink"), av(a, t), av(a, path);
    } else if (S_ISDIR(st.st_mode)) {
        av(a, "--ro-bind"), av(a, path), av(a, path);
    }
}

static void build_argv(argvec *a, const sandbox_opts *o, const char *dir, const char *const *argv, int use_bwrap) {
    a->n = a->ns = 0;
    if (use_bwrap) {
        av(a, o->bwrap);
        av(a, "--unshare-all");       /* pid, net, ipc, uts, cgroup: no network at all */
        av(a, "--unshare-user");      /* always (with --disable-userns below) */
        av(a, "--die-with-parent");
        av(a, "--new-session");       /* no TIOCSTI into a terminal */
        av(a, "--disable-userns");    /* no nested user namespaces from inside */
        av(a, "--hostname"), av(a, "sandbox");
        av(a, "--ro-bind"), av(a, "/usr"), av(a, "/usr");
        static const char *sys[] = {"/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"};
        for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++) bind_system(a, sys[i]);
        av(a, "--ro-bind-try"), av(a, "/etc/alternatives"), av(a, "/etc/alternatives");
        av(a, "--ro-bind-try"), av(a, "/etc/ld.so.cache"), av(a, "/etc/ld.so.cache");
        av(a, "--proc"), av(a, "/proc");
        av(a, "--dev"), av(a, "/dev");
        av(a, "--size"), av(a, avs(a, "%lld", NULL, o->tmp_bytes)), av(a, "--tmpfs"), av(a, "/tmp");
        av(a, "--ro-bind"), av(a, dir), av(a, "/sandbox");
        av(a, "--remount-ro"), av(a, "/"); /* only /tmp is writable */
        av(a, "--chdir"), av(a, "/tmp");
        av(a, "--clearenv");
        av(a, "--setenv"), av(a, "PATH"), av(a, "/usr/bin:/bin");
        av(a, "--setenv"), av(a, "HOME"), av(a, "/tmp");
        av(a, "--setenv"), av(a, "LANG"), av(a, "C.UTF-8");
        av(a, "--setenv"), av(a, "PYTHONDONTWRITEBYTECODE"), av(a, "1");
        av(a, "--");
        for (int i = 0; argv[i]; i++) av(a, argv[i]);
    } else {
        /* weak isolation: same program, /sandbox/NAME rewritten to the staging directory */
        for (int i = 0; argv[i]; i++) {
            if (!strncmp(argv[i], "/sandbox/", 9)) {
                if (a->ns >= 32) break;
                char *s = a->store[a->ns++];
                snprintf(s, PATH_MAX, "%s/%s", dir, argv[i] + 9);
                av(a, s);
            } else {
                av(a, argv[i]);
            }
        }
    }
}

/* ---------------------------------------------------------------- running */

/* The child between fork and exec: only async-signal-safe calls. */
static void child(const sandbox_opts *o, int slot, int in_fd, int out_fd, int err_fd, const argvec *a, const char *dir,
                  int use_bwrap) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536) maxfd = 65536;
    for (int fd = 3; fd < maxfd; fd++) close(fd);
    signal(SIGPIPE, SIG_DFL);
    rlim_t cpu = (rlim_t)(o->cpu_s > 0 ? o->cpu_s : (int)ceil(o->timeout_s) + 1);
    struct rlimit lim[] = {
        {cpu, cpu},
        {(rlim_t)o->memory_mb << 20, (rlim_t)o->memory_mb << 20},
        {(rlim_t)o->fsize_bytes, (rlim_t)o->fsize_bytes},
        {(rlim_t)o->nproc, (rlim_t)o->nproc},
        {(rlim_t)o->nofile, (rlim_t)o->nofile},
        {0, 0},
    };
    int which[] = {RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_CORE};
    for (int i = 0; i < 6; i++)
        if (setrlimit(which[i], &lim[i]) != 0) _exit(126);
    if (geteuid() == 0) {
        gid_t id = (gid_t)(o->uid_base + slot);
        if (setgroups(0, NULL) != 0 || setgid(id) != 0 || setuid((uid_t)id) != 0) _exit(126);
        if (setuid(0) == 0) _exit(126); /* the drop must be irreversible */
    }
    if (!use_bwrap && chdir(dir) != 0) _exit(126);
    execv(a->v[0], (char *const *)a->v);
    _exit(127);
}

static int run_with(const sandbox_opts *o, int slot, const char *dir, const char *const *argv, const char *stdin_data,
                    size_t stdin_len, sandbox_result *r, int use_bwrap, grpo_err *err) {
    argvec *a = malloc(sizeof *a);
    if (!a) return grpo_errf(err, GRPO_ENOMEM, "sandbox: out of memory");
    build_argv(a, o, dir, argv, use_bwrap);
    int sv[2], po[2], pe[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(a);
        return grpo_errf(err, GRPO_EIO, "sandbox: socketpair: %s", strerror(errno));
    }
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        free(a);
        return grpo_errf(err, GRPO_EIO, "sandbox: pipe: %s", strerror(errno));
    }
    r->out = malloc(o->output_cap + 1);
    r->err = malloc(o->output_cap + 1);
    if (!r->out || !r->err) {
        free(a);
        return grpo_errf(err, GRPO_ENOMEM, "sandbox: out of memory");
    }
    r->out[0] = r->err[0] = '\0';
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        free(a);
        return grpo_errf(err, GRPO_EIO, "sandbox: fork: %s", strerror(errno));
    }
    if (pid == 0) child(o, slot, sv[1], po[1], pe[1], a, dir, use_bwrap);
    setpgid(pid, pid); /* also done by the child; whichever runs first */
    close(sv[1]), close(po[1]), close(pe[1]);
    free(a);
    int in_fd = sv[0], fds[2] = {po[0], pe[0]};
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
    if (stdin_len == 0) shutdown(in_fd, SHUT_WR);
    size_t in_off = 0;
    int status = 0, reaped = 0, killed = 0;
    double deadline = t0 + o->timeout_s, exited_at = 0;
    char chunk[65536];
    while (fds[0] >= 0 || fds[1] >= 0 || !reaped) {
        double t = now_s();
        if (!killed && t >= deadline) {
            r->timed_out = 1;
            kill(-pid, SIGKILL), kill(pid, SIGKILL);
            killed = 1;
        }
        if (!reaped && waitpid(pid, &status, WNOHANG) == pid) reaped = 1, exited_at = t;
        /* after the program ended, pipes still held open by leftovers get a short grace, then the group dies */
        if (reaped && exited_at > 0 && t - exited_at > 0.5 && !killed) {
            kill(-pid, SIGKILL);
            killed = 1;
        }
        if (reaped && killed && t - exited_at > 1.0) break;
        struct pollfd pf[3];
        int np = 0;
        for (int k = 0; k < 2; k++)
            if (fds[k] >= 0) pf[np++] = (struct pollfd){fds[k], POLLIN, 0};
        int want_in = in_fd >= 0 && in_off < stdin_len;
        if (want_in) pf[np++] = (struct pollfd){in_fd, POLLOUT, 0};
        int ms = (int)((deadline - t) * 1000) + 1;
        if (ms > 20) ms = 20;
        if (ms < 1) ms = 1;
        if (np == 0) {
            if (!reaped) {
                struct timespec ts = {0, 2000000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (poll(pf, (nfds_t)np, ms) < 0 && errno != EINTR) break;
        for (int i = 0; i < np; i++) {
            if (!pf[i].revents) continue;
            if (want_in && pf[i].fd == in_fd) {
                ssize_t w = send(in_fd, stdin_data + in_off, stdin_len - in_off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0) in_off += (size_t)w;
                if (w < 0 && errno != EAGAIN && errno != EINTR) in_off = stdin_len;
                if (in_off >= stdin_len) shutdown(in_fd, SHUT_WR);
                continue;
            }
            int k = pf[i].fd == fds[0] ? 0 : 1;
            ssize_t got = read(fds[k], chunk, sizeof chunk);
            if (got > 0) {
                /* each buffer holds output_cap bytes and the NUL; what does not fit is cut */
                int over = k == 0 ? sb_catn(r->out, o->output_cap + 1, &r->out_len, chunk, (size_t)got)
                                  : sb_catn(r->err, o->output_cap + 1, &r->err_len, chunk, (size_t)got);
                if (over && !r->output_overflow) {
                    r->output_overflow = 1;
                    kill(-pid, SIGKILL), kill(pid, SIGKILL);
                    killed = 1;
                }
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(fds[k]);
                fds[k] = -1;
            }
        }
    }
    for (int k = 0; k < 2; k++)
        if (fds[k] >= 0) close(fds[k]);
    close(in_fd);
    kill(-pid, SIGKILL); /* stragglers in the group (the sandbox's own are gone with its PID namespace) */
    if (!reaped) waitpid(pid, &status, 0);
    r->wall_s = now_s() - t0;
    r->exited = WIFEXITED(status);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return GRPO_OK;
}

/* bwrap's PID-namespace init can outlive bwrap itself by a moment and is then re-parented to init. When this
 * process is init (PID 1 in a container) or a child subreaper, those zombies are ours: reap exactly the ones
 * owned by the slot's uid, so they do not pile up against RLIMIT_NPROC. */
static void reap_orphans(uid_t uid) {
    int sub = 0;
    if (getpid() != 1 && (prctl(PR_GET_CHILD_SUBREAPER, &sub) != 0 || !sub)) return;
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    pid_t self = getpid();
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s", e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || st.st_uid != uid) continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && state == 'Z' && ppid == self)
            waitpid((pid_t)atoi(e->d_name), NULL, WNOHANG);
    }
    closedir(d);
}

int sandbox_run(const sandbox_opts *o, int slot, const sandbox_file *files, int n_files, const char *const *argv,
                const char *stdin_data, size_t stdin_len, sandbox_result *r, grpo_err *err) {
    memset(r, 0, sizeof *r);
    if (!argv || !argv[0]) return grpo_errf(err, GRPO_EINVAL, "sandbox: no program given");
    int use_bwrap = access(o->bwrap, X_OK) == 0;
    if (!use_bwrap && !o->weak_isolation)
        return grpo_errf(err, GRPO_EUNSUPPORTED,
                         "sandbox: %s is not available; refusing to run untrusted code without isolation "
                         "(install bubblewrap, or opt into weak isolation explicitly)",
                         o->bwrap);
    char dir[64];
    int rc = stage_files(dir, sizeof dir, files, n_files, err);
    if (!rc) rc = run_with(o, slot, dir, argv, stdin_data, stdin_len, r, use_bwrap, err);
    unstage(dir, files, n_files);
    if (geteuid() == 0) reap_orphans((uid_t)(o->uid_base + slot));
    if (rc) sandbox_result_free(r);
    return rc;
}

int sandbox_check(const sandbox_opts *o, grpo_err *err) {
    sandbox_opts t = *o;
    t.weak_isolation = 0;
    t.timeout_s = 10;
    const char *argv[] = {"/bin/sh", "-c", "test \"$(cat /sandbox/probe)\" = ok", NULL};
    sandbox_file f = {"probe", "ok", 2};
    sandbox_result r;
    int rc = sandbox_run(&t, 0, &f, 1, argv, NULL, 0, &r, err);
    if (!rc && !(r.exited && r.exit_code == 0)) {
        rc = grpo_errf(err, GRPO_EUNSUPPORTED,
                       "sandbox: bubblewrap cannot start a sandbox here (exit %d, signal %d): %.300s%s", r.exit_code,
                       r.signal, r.err ? r.err : "",
                       " (user namespaces may be disabled; opt into weak isolation explicitly to run anyway)");
    }
    if (!rc) sandbox_result_free(&r);
    else if (r.out || r.err) sandbox_result_free(&r);
    if (rc && o->weak_isolation) return GRPO_OK;
    return rc;
}
