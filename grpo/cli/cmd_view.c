/* grpo/cli/cmd_view.c: `grpo view --db PATH [--host 127.0.0.1] [--port 8765]`: serves the run's
 * database, read-only, as web pages and a JSON API (docs/viewer.md) until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "viewer/api.h"
#include "viewer/server.h"

static const cli_opt OPTS[] = {
    {"--db", "PATH", NULL, "the run's database (runs/NAME/rollouts.db); required"},
    {"--run", "NAME", NULL, "the run to show (default: the only run in the database)"},
    {"--host", "ADDR", "127.0.0.1", "IPv4 address to listen on; anything but loopback exposes the run to the network"},
    {"--port", "N", "8765", "port to listen on (0: any free port, printed at start)"},
    {NULL, NULL, NULL, NULL},
};
enum { O_DB, O_RUN, O_HOST, O_PORT };

static int run(const cli_cmd *cmd, const char **v) {
    if (!v[O_DB]) {
        fprintf(stderr, "grpo view: option --db PATH is required (see grpo view --help)\n");
        return CLI_EXIT_USAGE;
    }
    long long port;
    if (cli_int(cmd, "--port", v[O_PORT], 0, 65535, &port)) return CLI_EXIT_USAGE;
    /* block the stop signals before the server's thread starts, so that only sigwait below sees them */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    grpo_err err = {0};
    viewer_api *api;
    if (viewer_api_open(&api, v[O_DB], v[O_RUN], &err)) return cli_fail(cmd, &err);
    viewer_server *srv;
    if (viewer_server_start(&srv, api, v[O_HOST], (int)port, &err)) {
        viewer_api_close(api);
        return cli_fail(cmd, &err);
    }
    if (!viewer_host_is_loopback(v[O_HOST]))
        fprintf(stderr,
                "grpo view: warning: listening on %s, not on loopback: anyone who can reach this machine can read the "
                "run (prompts, completions, config); there is no authentication\n",
                v[O_HOST]);
    printf("grpo view: http://%s:%d/ serves %s (read-only; Ctrl-C stops)\n", v[O_HOST], viewer_server_port(srv), v[O_DB]);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    viewer_server_stop(srv);
    viewer_api_close(api);
    fprintf(stderr, "grpo view: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return CLI_EXIT_OK;
}

const cli_cmd cmd_view = {
    .name = "view",
    .summary = "Serve a run's database as local web pages: plots, steps, prompts, search (read-only).",
    .usage = "--db PATH [--run NAME] [--host 127.0.0.1] [--port 8765]",
    .opts = OPTS,
    .run = run,
};
