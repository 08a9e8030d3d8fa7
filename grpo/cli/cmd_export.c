/* grpo/cli/cmd_export.c: `grpo export --db PATH --out F.jsonl [filters] [--format F]`: select a run's
 * completions (traces or GRPO rollouts) and write them as SFT or RL-curation JSONL (grpo/loops/export.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grpo/loops/export.h"

static const cli_opt OPTS[] = {
    {"--db", "PATH", NULL, "the run's database (runs/NAME/rollouts.db); required"},
    {"--out", "F.jsonl", NULL, "the file to write (atomically; nothing is written when the selection is empty); required"},
    {"--run", "NAME", NULL, "the run to read (default: the only run in the database)"},
    {"--format", "F", "messages", "messages (TRL conversational), prompt-completion (TRL) or openr1 (one row per problem)"},
    {"--min-reward", "R", NULL, "keep completions whose total reward is at least R (rejection sampling: 1 with accuracy)"},
    {"--complete-only", NULL, NULL, "keep completions that stopped (finish_reason 'stop') with well-formed tags"},
    {"--max-per-prompt", "N", NULL, "keep at most N completions per prompt (in step, sample order)"},
    {"--steps", "A:B", NULL, "only steps A..B (inclusive; either side may be empty)"},
    {"--dedup", NULL, NULL, "drop a completion whose text equals one already kept for the same prompt"},
    {"--pass-rate", "LO:HI", NULL, "write the prompts (with answers) whose share of correct samples is in [LO, HI] instead"},
    {NULL, NULL, NULL, NULL},
};
enum { O_DB, O_OUT, O_RUN, O_FORMAT, O_MIN_REWARD, O_COMPLETE, O_MAX, O_STEPS, O_DEDUP, O_PASS };

/* Parses "A:B" (either side may be empty) into lo/hi (defaults kept). */
static int parse_range(const cli_cmd *cmd, const char *opt, const char *s, double *lo, double *hi) {
    const char *colon = strchr(s, ':');
    char a[64] = "", b[64] = "";
    if (!colon || (size_t)(colon - s) >= sizeof a || strlen(colon + 1) >= sizeof b) {
        fprintf(stderr, "grpo %s: option %s: expected A:B, got '%s'\n", cmd->name, opt, s);
        return CLI_EXIT_USAGE;
    }
    memcpy(a, s, colon - s);
    snprintf(b, sizeof b, "%s", colon + 1);
    if (a[0] && cli_float(cmd, opt, a, lo)) return CLI_EXIT_USAGE;
    if (b[0] && cli_float(cmd, opt, b, hi)) return CLI_EXIT_USAGE;
    return 0;
}

static int export_cmd(const cli_cmd *cmd, const char **v) {
    if (!v[O_DB] || !v[O_OUT]) {
        fprintf(stderr, "grpo export: --db and --out are required (see grpo export --help)\n");
        return CLI_EXIT_USAGE;
    }
    export_opts o;
    export_defaults(&o);
    o.db = v[O_DB];
    o.run = v[O_RUN];
    o.format = v[O_FORMAT];
    if (export_format_from_name(o.format) < 0) {
        fprintf(stderr, "grpo export: option --format: '%s' is not messages, prompt-completion or openr1\n", o.format);
        return CLI_EXIT_USAGE;
    }
    if (v[O_MIN_REWARD] && cli_float(cmd, "--min-reward", v[O_MIN_REWARD], &o.min_reward)) return CLI_EXIT_USAGE;
    o.complete_only = v[O_COMPLETE] != NULL;
    o.dedup = v[O_DEDUP] != NULL;
    long long n;
    if (v[O_MAX]) {
        if (cli_int(cmd, "--max-per-prompt", v[O_MAX], 1, 1000000, &n)) return CLI_EXIT_USAGE;
        o.max_per_prompt = (int)n;
    }
    if (v[O_STEPS]) {
        double lo = 0, hi = INFINITY;
        if (parse_range(cmd, "--steps", v[O_STEPS], &lo, &hi)) return CLI_EXIT_USAGE;
        o.step_lo = (int64_t)lo;
        o.step_hi = isfinite(hi) ? (int64_t)hi : INT64_MAX;
    }
    if (v[O_PASS]) {
        o.pass_rate = 1;
        o.pass_lo = 0, o.pass_hi = 1;
        if (parse_range(cmd, "--pass-rate", v[O_PASS], &o.pass_lo, &o.pass_hi)) return CLI_EXIT_USAGE;
    }
    export_result r;
    grpo_err err = {0};
    if (export_run(&o, v[O_OUT], &r, &err)) return cli_fail(cmd, &err);
    if (o.pass_rate)
        printf("wrote %s: %lld prompts with pass rate in [%g, %g] (of %lld prompts, %lld completions)\n", v[O_OUT],
               r.rows_written, o.pass_lo, o.pass_hi, r.prompts_read, r.completions_read);
    else
        printf("wrote %s: %lld rows, %lld completions (of %lld completions of %lld prompts), format %s\n", v[O_OUT],
               r.rows_written, r.completions_written, r.completions_read, r.prompts_read, o.format);
    return CLI_EXIT_OK;
}

const cli_cmd cmd_export = {
    .name = "export",
    .summary = "Select a run's completions and write SFT / RL-curation JSONL (messages, prompt-completion, openr1).",
    .usage = "--db PATH --out F.jsonl [--min-reward R] [--complete-only] [--max-per-prompt N] [--format F]",
    .opts = OPTS,
    .run = export_cmd,
};
