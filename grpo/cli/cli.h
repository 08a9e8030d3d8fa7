/* grpo/cli/cli.h: the command table and option parsing shared by every subcommand.
 * Only the CLI prints and exits; it turns library errors into messages and exit codes. */
#ifndef GRPO_CLI_H
#define GRPO_CLI_H

#include <stdio.h>

#include "common/err.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

typedef struct {
    const char *name;  /* "--out" */
    const char *arg;   /* placeholder ("DIR"), or NULL for a flag */
    const char *dflt;  /* default value shown in --help and returned when absent, or NULL */
    const char *help;
} cli_opt;

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *usage;         /* after "grpo NAME " */
    const cli_opt *opts;       /* terminated by an entry with name == NULL (unused with main) */
    int (*run)(const struct cli_cmd *cmd, const char **vals);
    int (*main)(int argc, char **argv); /* when set, the command parses its own arguments (after its name) */
} cli_cmd;

/* Parses argv (after the command name) against cmd->opts into vals (one per option, dflt when absent;
 * flags get "1"). Prints help and returns -1 on --help; prints an error and returns CLI_EXIT_USAGE on bad
 * usage; returns 0 otherwise. */
int cli_parse(const cli_cmd *cmd, int argc, char **argv, const char **vals);
void cli_help(const cli_cmd *cmd);
/* The command's usage line: its usage text, then [--opt ARG] for every option the text leaves out
 * (the one source of --help's usage line and README's command table). */
void cli_usage(const cli_cmd *cmd, FILE *f);
/* Index of option name in cmd->opts (must exist). */
int cli_index(const cli_cmd *cmd, const char *name);
/* Prints "grpo NAME: message" to stderr and returns CLI_EXIT_ERROR. */
int cli_fail(const cli_cmd *cmd, const grpo_err *err);
/* Parses an integer / float option; prints a usage error naming the option on failure. */
int cli_int(const cli_cmd *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int cli_float(const cli_cmd *cmd, const char *opt, const char *s, double *out);

/* Parses "1,2,3" into a malloc'd array; returns the count, or a negative error code with a message
 * naming opt and the bad entry. */
int cli_parse_ints(const char *opt, const char *s, int **out, grpo_err *err);

/* The program as it was started (argv[0]), for the commands a user is told to run next. */
extern const char *cli_program;

extern const cli_cmd cmd_init, cmd_score, cmd_demo, cmd_train, cmd_eval, cmd_selfcheck, cmd_generate, cmd_tokenize, cmd_reward, cmd_db, cmd_tasks, cmd_view, cmd_report;
extern const cli_cmd cmd_traces, cmd_export, cmd_sft;

#endif
