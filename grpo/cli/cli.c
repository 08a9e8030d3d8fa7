/* grpo/cli/cli.c: option parsing, help text and error reporting for subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the option's name appears in usage as a whole word. */
static int usage_names(const char *usage, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(usage, name); p; p = strstr(p + 1, name))
        if ((p == usage || p[-1] == ' ' || p[-1] == '[' || p[-1] == '(' || p[-1] == '|') &&
            (p[n] == '\0' || p[n] == ' ' || p[n] == ']' || p[n] == ')' || p[n] == '|'))
            return 1;
    return 0;
}

void cli_usage(const cli_cmd *cmd, FILE *f) {
    fprintf(f, "grpo %s %s", cmd->name, cmd->usage);
    for (const cli_opt *o = cmd->opts; o && o->name; o++)
        if (!usage_names(cmd->usage, o->name)) fprintf(f, " [%s%s%s]", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

void cli_help(const cli_cmd *cmd) {
    printf("usage: ");
    cli_usage(cmd, stdout);
    printf("\n\n%s\n\noptions:\n", cmd->summary);
    for (const cli_opt *o = cmd->opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-24s %s", left, o->help);
        if (o->dflt) printf(" (default: %s)", o->dflt);
        printf("\n");
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

int cli_index(const cli_cmd *cmd, const char *name) {
    for (int i = 0; cmd->opts[i].name; i++)
        if (!strcmp(cmd->opts[i].name, name)) return i;
    return -1;
}

int cli_parse(const cli_cmd *cmd, int argc, char **argv, const char **vals) {
    int n = 0;
    while (cmd->opts[n].name) n++;
    for (int i = 0; i < n; i++) vals[i] = cmd->opts[i].dflt;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_help(cmd);
            return -1;
        }
        const char *a = argv[i], *eq = strchr(a, '=');
        char name[64];
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, a, len);
        name[len] = '\0';
        int k = cli_index(cmd, name);
        if (k < 0) {
            fprintf(stderr, "grpo %s: unknown option '%s' (see grpo %s --help)\n", cmd->name, a, cmd->name);
            return CLI_EXIT_USAGE;
        }
        if (!cmd->opts[k].arg) {
            if (eq) {
                fprintf(stderr, "grpo %s: option %s takes no value\n", cmd->name, name);
                return CLI_EXIT_USAGE;
            }
            vals[k] = "1";
        } else if (eq) {
            vals[k] = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "grpo %s: option %s needs a value %s\n", cmd->name, name, cmd->opts[k].arg);
                return CLI_EXIT_USAGE;
            }
            vals[k] = argv[++i];
        }
    }
    return 0;
}

int cli_fail(const cli_cmd *cmd, const grpo_err *err) {
    fprintf(stderr, "grpo %s: error: %s\n", cmd->name, err->msg[0] ? err->msg : "unknown error");
    return CLI_EXIT_ERROR;
}

int cli_int(const cli_cmd *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "grpo %s: option %s: expected an integer in [%lld, %lld], got '%s'\n", cmd->name, opt, lo, hi,
                s ? s : "");
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

int cli_float(const cli_cmd *cmd, const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || errno || end == s || *end) {
        fprintf(stderr, "grpo %s: option %s: expected a number, got '%s'\n", cmd->name, opt, s ? s : "");
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

int cli_parse_ints(const char *opt, const char *s, int **out, grpo_err *err) {
    size_t cap = 16, n = 0;
    int *v = malloc(cap * sizeof *v);
    const char *p = s ? s : "";
    while (v && *p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < -2147483647L || x > 2147483647L || (*end && *end != ',')) {
            free(v);
            return -grpo_errf(err, GRPO_EINVAL, "option %s: entry %zu ('%.20s') is not an integer", opt, n, p);
        }
        if (n == cap) {
            int *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return -grpo_errf(err, GRPO_ENOMEM, "option %s: out of memory after %zu entries", opt, n);
            }
            v = nv;
        }
        v[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    if (!v) return -grpo_errf(err, GRPO_ENOMEM, "option %s: out of memory", opt);
    if (n == 0) {
        free(v);
        return -grpo_errf(err, GRPO_EINVAL, "option %s: no integers given", opt);
    }
    *out = v;
    return (int)n;
}
