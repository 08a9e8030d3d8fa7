/* grpo/cli/cmd_config.c: config loading and log output shared by the config commands (cmd_config.h). */
#include "cmd_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "cli.h"

static int tty;

static void line(void *ctx, const char *text) {
    (void)ctx;
    if (tty) fputs("\r\033[K", stdout);
    puts(text);
    fflush(stdout);
}

static void status(void *ctx, const char *text) {
    (void)ctx;
    if (!tty) return;
    printf("\r\033[K%s", text);
    fflush(stdout);
}

train_log cli_train_log(void) {
    tty = isatty(STDOUT_FILENO);
    return (train_log){.line = line, .progress = status};
}

int cli_load_config(const char *cmd, int argc, char **argv, run_config *c, int *resume) {
    rc_defaults(c);
    if (argc < 1 || !strncmp(argv[0], "--", 2)) {
        fprintf(stderr, "grpo %s: a CONFIG.json is required (see grpo %s --help)\n", cmd, cmd);
        return CLI_EXIT_USAGE;
    }
    char *text;
    size_t len;
    grpo_err err = {0};
    if (fs_read_file(argv[0], &text, &len, &err)) {
        fprintf(stderr, "grpo %s: error: %s\n", cmd, err.msg);
        return CLI_EXIT_ERROR;
    }
    int rc = rc_apply_json(c, text, len, argv[0], &err);
    free(text);
    if (rc) {
        fprintf(stderr, "grpo %s: error: %s\n", cmd, err.msg);
        return CLI_EXIT_ERROR;
    }
    int print = 0, doc = 0;
    if ((rc = cli_config_args(c, argc - 1, argv + 1, resume, &print, &doc, cmd))) return rc;
    if (print || doc) {
        char *j = doc ? rc_doc_markdown() : rc_to_json(c);
        if (j) puts(j);
        free(j);
        return -1;
    }
    return 0;
}
