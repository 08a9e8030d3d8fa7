/* rewards/external.c: the external reward command (see external.h). */
#include "external.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct rw_external {
    pid_t pid;
    int to_child, from_child;
    double timeout_s;
    char cmd[512];
    char *buf;      /* bytes read but not yet consumed */
    size_t len, cap;
};

int rw_external_start(rw_external **out, const char *cmd, double timeout_s, grpo_err *err) {
    *out = NULL;
    int in[2], outp[2];
    if (pipe(in) || pipe(outp)) return grpo_errf(err, GRPO_EIO, "external reward \"%s\": pipe: %s", cmd, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) return grpo_errf(err, GRPO_EIO, "external reward \"%s\": fork: %s", cmd, strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    rw_external *x = calloc(1, sizeof *x);
    if (!x) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    x->pid = pid;
    x->to_child = in[1];
    x->from_child = outp[0];
    x->timeout_s = timeout_s > 0 ? timeout_s : 30.0;
    snprintf(x->cmd, sizeof x->cmd, "%s", cmd);
    signal(SIGPIPE, SIG_IGN); /* a dead command shows up as EPIPE on write */
    *out = x;
    return GRPO_OK;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Reads one line (without the newline) into a malloc'd *line within the deadline. */
static int read_line(rw_external *x, double deadline, char **line, grpo_err *err) {
    for (;;) {
        char *nl = x->len ? memchr(x->buf, '\n', x->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - x->buf);
            *line = malloc(n + 1);
            memcpy(*line, x->buf, n);
            (*line)[n] = '\0';
            memmove(x->buf, nl + 1, x->len - n - 1);
            x->len -= n + 1;
            return GRPO_OK;
        }
        double left = deadline - now_s();
        if (left <= 0) return grpo_errf(err, GRPO_EIO, "external reward \"%s\": no answer within %.1f s", x->cmd, x->timeout_s);
        struct pollfd p = {.fd = x->from_child, .events = POLLIN};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) continue;
        if (x->len + 4096 > x->cap) {
            x->cap = (x->len + 4096) * 2;
            x->buf = realloc(x->buf, x->cap);
        }
        ssize_t k = read(x->from_child, x->buf + x->len, x->cap - x->len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return grpo_errf(err, GRPO_EIO, "external reward \"%s\": the command closed its output (exited?)", x->cmd);
        x->len += (size_t)k;
        if (x->len > (1u << 20))
            return grpo_errf(err, GRPO_EFORMAT, "external reward \"%s\": answer line longer than 1 MiB", x->cmd);
    }
}

int rw_external_score(rw_external *x, const char *prompt, const char *completion, const char *answer, double *score,
                      grpo_err *err) {
    json_t *req = json_object();
    json_object_set_new(req, "prompt", json_string(prompt ? prompt : ""));
    json_object_set_new(req, "completion", json_string(completion ? completion : ""));
    json_object_set_new(req, "answer", answer ? json_string(answer) : json_null());
    char *line = json_dumps(req, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(req);
    if (!line) return grpo_errf(err, GRPO_EINVAL, "external reward: the request is not valid UTF-8");
    size_t n = strlen(line);
    char *msg = malloc(n + 1);
    if (!msg) {
        free(line);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    }
    memcpy(msg, line, n);
    msg[n] = '\n';
    free(line);
    size_t off = 0;
    while (off < n + 1) {
        ssize_t k = write(x->to_child, msg + off, n + 1 - off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            free(msg);
            return grpo_errf(err, GRPO_EIO, "external reward \"%s\": cannot write a request: %s", x->cmd, strerror(errno));
        }
        off += (size_t)k;
    }
    free(msg);
    char *ans = NULL;
    int rc = read_line(x, now_s() + x->timeout_s, &ans, err);
    if (rc) return rc;
    json_error_t je;
    json_t *o = json_loads(ans, 0, &je);
    json_t *s = o ? json_object_get(o, "score") : NULL;
    if (!o || !json_is_number(s) || !isfinite(json_number_value(s))) {
        rc = grpo_errf(err, GRPO_EFORMAT, "external reward \"%s\": expected {\"score\": number}, got '%.80s'", x->cmd, ans);
    } else {
        *score = json_number_value(s);
    }
    json_decref(o);
    free(ans);
    return rc;
}

void rw_external_stop(rw_external *x) {
    if (!x) return;
    close(x->to_child);
    close(x->from_child);
    for (int i = 0; i < 20; i++) {
        if (waitpid(x->pid, NULL, WNOHANG) == x->pid) goto done;
        usleep(10000);
    }
    kill(-x->pid, SIGKILL);
    waitpid(x->pid, NULL, 0);
done:
    free(x->buf);
    free(x);
}
