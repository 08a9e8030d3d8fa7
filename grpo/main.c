/* grpo/main.c: the program's entry point: dispatches to a subcommand from the table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_cmd *COMMANDS[] = {&cmd_demo, &cmd_train, &cmd_eval, &cmd_init, &cmd_score, &cmd_generate, &cmd_tokenize, &cmd_reward, &cmd_selfcheck, &cmd_db, &cmd_view, &cmd_report, &cmd_tasks};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: grpo COMMAND [options]\n\nGRPO training for reasoning language models.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
    fprintf(f, "\nRun 'grpo COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
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
