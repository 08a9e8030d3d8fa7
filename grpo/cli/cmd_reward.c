/* grpo/cli/cmd_reward.c: `grpo reward SUBCOMMAND`: score answers from the command line or JSONL files.
 *   math       --gold G --pred P, or --jsonl F with lines {"gold","pred"}: prints {"score": 0|1} per pair
 *   code       --problems P.jsonl --completions C.jsonl: runs each completion's tests in the sandbox
 *   countdown  --numbers 1,2,3 --target T --pred P: TinyZero's countdown rule
 * The subcommand is a bare word in the option table (cli_parse accepts it as a flag), so every option of
 * every subcommand is listed by `grpo reward --help`; each subcommand rejects options that are not its own. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rewards/code.h"
#include "rewards/countdown.h"
#include "rewards/math.h"
#include "cli.h"

static const cli_opt OPTS[] = {
    {"math", NULL, NULL, "subcommand: check math answers (--gold/--pred or --jsonl)"},
    {"code", NULL, NULL, "subcommand: run code completions against tests in the sandbox"},
    {"countdown", NULL, NULL, "subcommand: score a countdown expression (--numbers --target --pred)"},
    {"--gold", "G", NULL, "[math] gold answer (or a whole solution with \\boxed{...})"},
    {"--pred", "P", NULL, "[math, countdown] the prediction (a completion or a bare answer)"},
    {"--jsonl", "F", NULL, "[math] file of {\"gold\",\"pred\"} lines; prints one {\"score\"} line each"},
    {"--fallback", "MODE", "whole", "[math] prediction without a marker: none, last_number or whole"},
    {"--rel-tol", "X", "1e-6", "[math] relative tolerance of numeric equality"},
    {"--problems", "F", NULL, "[code] JSONL problems: {task_id,prompt,test,entry_point} or {task_id,inputs,outputs}"},
    {"--completions", "F", NULL, "[code] JSONL completions: {task_id,completion} (continuing the prompt)"},
    {"--workers", "N", NULL, "[code] parallel sandboxes (default: number of cores)"},
    {"--timeout", "S", "10", "[code] wall-clock seconds per run"},
    {"--memory-mb", "N", "1024", "[code] address-space limit per run"},
    {"--all-or-nothing", NULL, NULL, "[code] score 1 only when every test passes"},
    {"--python", "PATH", "/usr/bin/python3", "[code] interpreter inside the sandbox"},
    {"--weak-isolation", NULL, NULL, "[code] run without bubblewrap when it cannot start (rlimits only; unsafe)"},
    {"--numbers", "LIST", NULL, "[countdown] comma-separated numbers, each to be used exactly once"},
    {"--target", "T", NULL, "[countdown] the value the expression must reach"},
    {NULL, NULL, NULL, NULL},
};
enum { O_MATH, O_CODE, O_COUNTDOWN, O_GOLD, O_PRED, O_JSONL, O_FALLBACK, O_RELTOL, O_PROBLEMS, O_COMPLETIONS,
       O_WORKERS, O_TIMEOUT, O_MEMORY, O_AON, O_PYTHON, O_WEAK, O_NUMBERS, O_TARGET, O_COUNT };

/* Options each subcommand accepts (besides its own word). */
static const int MATH_OPTS[] = {O_GOLD, O_PRED, O_JSONL, O_FALLBACK, O_RELTOL, -1};
static const int CODE_OPTS[] = {O_PROBLEMS, O_COMPLETIONS, O_WORKERS, O_TIMEOUT, O_MEMORY, O_AON, O_PYTHON, O_WEAK, -1};
static const int COUNTDOWN_OPTS[] = {O_NUMBERS, O_TARGET, O_PRED, -1};

/* Rejects an option set away from its default that the chosen subcommand does not take. */
static int check_opts(const char *sub, const int *allowed, const char **v) {
    for (int k = O_GOLD; k < O_COUNT; k++) {
        if (v[k] == OPTS[k].dflt) continue;
        int ok = 0;
        for (const int *a = allowed; *a >= 0; a++) ok |= *a == k;
        if (!ok) {
            fprintf(stderr, "grpo reward %s: option %s does not apply to '%s' (see grpo reward --help)\n", sub,
                    OPTS[k].name, sub);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- math */

static int run_math_jsonl(const char *path, const math_opts *mo) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "grpo reward math: cannot open %s\n", path);
        return CLI_EXIT_ERROR;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long ln = 0;
    int rc = CLI_EXIT_OK;
    while ((got = getline(&line, &cap, f)) >= 0) {
        ln++;
        if (got <= 1 && (got == 0 || line[0] == '\n')) continue;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o || !json_is_object(o)) {
            fprintf(stderr, "grpo reward math: %s:%ld: not a JSON object%s%s\n", path, ln, o ? "" : ": ",
                    o ? "" : je.text);
            json_decref(o);
            rc = CLI_EXIT_ERROR;
            break;
        }
        const char *g = json_string_value(json_object_get(o, "gold"));
        const char *p = json_string_value(json_object_get(o, "pred"));
        if (!g || !p) {
            fprintf(stderr, "grpo reward math: %s:%ld: field '%s' is missing or not a string\n", path, ln,
                    !g ? "gold" : "pred");
            json_decref(o);
            rc = CLI_EXIT_ERROR;
            break;
        }
        printf("{\"score\": %g}\n", math_accuracy(g, p, mo));
        json_decref(o);
    }
    free(line);
    fclose(f);
    return rc;
}

static int run_math(const cli_cmd *cmd, const char **v) {
    if (check_opts("math", MATH_OPTS, v)) return CLI_EXIT_USAGE;
    math_opts mo;
    math_opts_default(&mo);
    grpo_err err = {0};
    if (math_fallback_parse(v[O_FALLBACK], &mo.fallback, &err)) {
        fprintf(stderr, "grpo reward math: option --fallback: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    if (cli_float(cmd, "--rel-tol", v[O_RELTOL], &mo.rel_tol)) return CLI_EXIT_USAGE;
    if (v[O_JSONL]) {
        if (v[O_GOLD] || v[O_PRED]) {
            fprintf(stderr, "grpo reward math: give either --jsonl or --gold/--pred, not both\n");
            return CLI_EXIT_USAGE;
        }
        return run_math_jsonl(v[O_JSONL], &mo);
    }
    if (!v[O_GOLD] || !v[O_PRED]) {
        fprintf(stderr, "grpo reward math: options --gold and --pred (or --jsonl) are required\n");
        return CLI_EXIT_USAGE;
    }
    printf("{\"score\": %g}\n", math_accuracy(v[O_GOLD], v[O_PRED], &mo));
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- code */

static int run_code(const cli_cmd *cmd, const char **v) {
    if (check_opts("code", CODE_OPTS, v)) return CLI_EXIT_USAGE;
    if (!v[O_PROBLEMS] || !v[O_COMPLETIONS]) {
        fprintf(stderr, "grpo reward code: options --problems and --completions are required\n");
        return CLI_EXIT_USAGE;
    }
    code_opts co;
    code_opts_default(&co);
    long long x;
    if (v[O_WORKERS]) {
        if (cli_int(cmd, "--workers", v[O_WORKERS], 1, 1024, &x)) return CLI_EXIT_USAGE;
        co.workers = (int)x;
    }
    double t;
    if (cli_float(cmd, "--timeout", v[O_TIMEOUT], &t)) return CLI_EXIT_USAGE;
    if (t <= 0 || t > 3600) {
        fprintf(stderr, "grpo reward code: option --timeout: expected seconds in (0, 3600], got '%s'\n", v[O_TIMEOUT]);
        return CLI_EXIT_USAGE;
    }
    co.sandbox.timeout_s = t;
    if (cli_int(cmd, "--memory-mb", v[O_MEMORY], 16, 1 << 20, &x)) return CLI_EXIT_USAGE;
    co.sandbox.memory_mb = (int)x;
    co.all_or_nothing = v[O_AON] != NULL;
    co.sandbox.python = v[O_PYTHON];
    co.sandbox.weak_isolation = v[O_WEAK] != NULL;

    grpo_err err = {0};
    code_problem *probs = NULL;
    size_t np = 0;
    if (code_load_problems(v[O_PROBLEMS], &probs, &np, &err)) return cli_fail(cmd, &err);
    code_completion *comps = NULL;
    size_t nc = 0;
    if (code_load_completions(v[O_COMPLETIONS], &comps, &nc, &err)) {
        code_free_problems(probs, np);
        return cli_fail(cmd, &err);
    }
    code_result *res = calloc(nc ? nc : 1, sizeof *res);
    int rc = res ? code_score_batch(probs, np, comps, nc, &co, res, &err) : grpo_errf(&err, GRPO_ENOMEM, "out of memory");
    if (!rc) {
        for (size_t i = 0; i < nc; i++) {
            json_t *id = json_string(comps[i].task_id);
            char *s = json_dumps(id, JSON_ENCODE_ANY);
            printf("{\"task_id\":%s,\"score\":%.6g,\"passed\":%d,\"total\":%d}\n", s ? s : "\"\"", res[i].score,
                   res[i].passed, res[i].total);
            free(s);
            json_decref(id);
        }
    }
    free(res);
    code_free_completions(comps, nc);
    code_free_problems(probs, np);
    return rc ? cli_fail(cmd, &err) : CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- countdown */

static int run_countdown(const cli_cmd *cmd, const char **v) {
    if (check_opts("countdown", COUNTDOWN_OPTS, v)) return CLI_EXIT_USAGE;
    if (!v[O_NUMBERS] || !v[O_TARGET] || !v[O_PRED]) {
        fprintf(stderr, "grpo reward countdown: options --numbers, --target and --pred are required\n");
        return CLI_EXIT_USAGE;
    }
    long long nums[COUNTDOWN_MAX_NUMBERS], target;
    int n = 0;
    const char *p = v[O_NUMBERS];
    while (*p) {
        char *end;
        long long val = strtoll(p, &end, 10);
        if (end == p || n >= COUNTDOWN_MAX_NUMBERS || (*end && *end != ',')) {
            fprintf(stderr, "grpo reward countdown: option --numbers: expected up to %d comma-separated integers, got '%s'\n",
                    COUNTDOWN_MAX_NUMBERS, v[O_NUMBERS]);
            return CLI_EXIT_USAGE;
        }
        nums[n++] = val;
        p = *end ? end + 1 : end;
    }
    if (cli_int(cmd, "--target", v[O_TARGET], -1000000000LL, 1000000000LL, &target)) return CLI_EXIT_USAGE;
    printf("{\"score\": %g}\n", countdown_score(v[O_PRED], nums, n, target));
    return CLI_EXIT_OK;
}

static int run(const cli_cmd *cmd, const char **v) {
    int subs = (v[O_MATH] != NULL) + (v[O_CODE] != NULL) + (v[O_COUNTDOWN] != NULL);
    if (subs != 1) {
        fprintf(stderr, "grpo reward: give exactly one subcommand: math, code or countdown (see grpo reward --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (v[O_MATH]) return run_math(cmd, v);
    if (v[O_CODE]) return run_code(cmd, v);
    return run_countdown(cmd, v);
}

const cli_cmd cmd_reward = {
    .name = "reward",
    .summary = "Score completions with rule-based rewards: math answers, code tests in a sandbox, countdown.",
    .usage = "math|code|countdown [--gold G --pred P]",
    .opts = OPTS,
    .run = run,
};
