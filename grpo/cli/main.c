/* grpo/cli/main.c: the program's entry point: dispatches to a subcommand from the table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_cmd *COMMANDS[] = {&cmd_demo, &cmd_train, &cmd_traces, &cmd_export, &cmd_sft, &cmd_eval, &cmd_init, &cmd_score, &cmd_generate, &cmd_tokenize, &cmd_reward, &cmd_selfcheck, &cmd_db, &cmd_view, &cmd_report, &cmd_tasks};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: grpo COMMAND [options]\n\nGRPO training for reasoning language models.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
    fprintf(f, "\nRun 'grpo COMMAND --help' for a command's options ('grpo help --markdown': this list as README's table).\n");
}

const char *cli_program = "grpo";

/* Prints s with markdown table cells' pipes escaped. */
static void md_cell(const char *s) {
    for (; *s; s++) {
        if (*s == '|') putchar('\\');
        putchar(*s);
    }
}

/* README's command table, from the same table as every --help (tests/cli checks that README holds it). */
static void commands_markdown(void) {
    printf("| command | what it does |\n| --- | --- |\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char line[2048] = "";
        FILE *f = fmemopen(line, sizeof line - 1, "w");
        if (f) {
            cli_usage(COMMANDS[i], f);
            fclose(f);
        }
        printf("| `");
        md_cell(line);
        printf("` | ");
        md_cell(COMMANDS[i]->summary);
        printf(" |\n");
    }
}

int main(int argc, char **argv) {
    if (argc > 0 && argv[0] && *argv[0]) cli_program = argv[0];
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") && argc > 2 && !strcmp(argv[2], "--markdown")) {
        commands_markdown();
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const cli_cmd *c = COMMANDS[i];
        if (strcmp(argv[1], c->name) != 0) continue;
        if (c->main) return c->main(argc - 2, argv + 2);
        const char *vals[64];
        int rc = cli_parse(c, argc - 2, argv + 2, vals);
        if (rc < 0) return CLI_EXIT_OK;
        if (rc) return rc;
        return c->run(c, vals);
    }
    fprintf(stderr, "grpo: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
