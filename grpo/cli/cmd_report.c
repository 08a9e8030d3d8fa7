/* grpo/cli/cmd_report.c: `grpo report --db PATH -o report.html [--max-rollouts N]`: the viewer's pages
 * and the run's data in one self-contained HTML file (docs/viewer.md). */
#include <stdio.h>

#include "cli.h"
#include "viewer/api.h"
#include "viewer/report.h"

static const cli_opt OPTS[] = {
    {"--db", "PATH", NULL, "the run's database (runs/NAME/rollouts.db); required"},
    {"--run", "NAME", NULL, "the run to report (default: the only run in the database)"},
    {"-o", "FILE", NULL, "the HTML file to write; required"},
    {"--max-rollouts", "N", "5000", "keep the rollouts of whole steps spread over the run, at most N (the page says so)"},
    {NULL, NULL, NULL, NULL},
};
enum { O_DB, O_RUN, O_OUT, O_MAX };

static int run(const cli_cmd *cmd, const char **v) {
    if (!v[O_DB] || !v[O_OUT]) {
        fprintf(stderr, "grpo report: options --db PATH and -o FILE are required (see grpo report --help)\n");
        return CLI_EXIT_USAGE;
    }
    long long max;
    if (cli_int(cmd, "--max-rollouts", v[O_MAX], 0, 100000000, &max)) return CLI_EXIT_USAGE;
    grpo_err err = {0};
    viewer_api *api;
    if (viewer_api_open(&api, v[O_DB], v[O_RUN], &err)) return cli_fail(cmd, &err);
    long long inc = 0, total = 0;
    int rc = viewer_report_write(api, v[O_OUT], max, &inc, &total, &err);
    viewer_api_close(api);
    if (rc) return cli_fail(cmd, &err);
    printf("grpo report: wrote %s (%lld of %lld rollouts%s)\n", v[O_OUT], inc, total,
           inc < total ? ", capped by --max-rollouts" : "");
    return CLI_EXIT_OK;
}

const cli_cmd cmd_report = {
    .name = "report",
    .summary = "Write a run's plots, steps and rollouts as one self-contained HTML file.",
    .usage = "--db PATH -o FILE [--run NAME] [--max-rollouts N]",
    .opts = OPTS,
    .run = run,
};
