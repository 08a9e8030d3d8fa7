/* grpo/cmd_db.c: `grpo db SUBCOMMAND --db PATH`: read a run's rollout database (docs/database.md).
 *   steps     one JSON line per step: its metric columns, and "metrics" (the step's metrics_json)
 *   rollouts  one JSON line per completion of --step (token ids, logprobs and rewards decoded)
 *   evals     one JSON line per eval result
 *   summary   a few lines of text: the run, its steps, first/last/best rewards, rollouts, evals
 * The database is opened read-only, so this is safe while a run writes it. As in `grpo reward`, the
 * subcommand is a bare word in the option table. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rollout/store.h"
#include "cli.h"

static const cli_opt OPTS[] = {
    {"steps", NULL, NULL, "subcommand: one JSON line per step (the metric columns and \"metrics\")"},
    {"rollouts", NULL, NULL, "subcommand: one JSON line per completion of --step"},
    {"evals", NULL, NULL, "subcommand: one JSON line per eval result"},
    {"summary", NULL, NULL, "subcommand: the run, its steps, rewards first/last/best, rollouts and evals"},
    {"--db", "PATH", NULL, "the run's database (runs/NAME/rollouts.db); required"},
    {"--run", "NAME", NULL, "the run to read (default: the only run in the database)"},
    {"--step", "N", NULL, "[rollouts] the step whose completions to print; required"},
    {"--limit", "K", NULL, "[rollouts] print at most K completions (default: all)"},
    {NULL, NULL, NULL, NULL},
};
enum { O_STEPS, O_ROLLOUTS, O_EVALS, O_SUMMARY, O_DB, O_RUN, O_STEP, O_LIMIT };

/* Real numbers are printed with 15 significant digits: 0.1 stays "0.1", float logprobs stay exact. */
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Prints a row as one JSON line, without its run_id. */
static int print_row(void *ctx, json_t *row) {
    (void)ctx;
    json_object_del(row, "run_id");
    json_dumpf(row, stdout, JSON_FLAGS);
    fputc('\n', stdout);
    return 0;
}

/* Appends a row to the JSON array ctx. */
static int collect(void *ctx, json_t *row) {
    json_array_append(ctx, row);
    return 0;
}

/* Runs sql (?1 = run id, ?2 = extra) and returns its rows as a JSON array, or NULL with err filled. */
static json_t *rows(store *s, const char *sql, int64_t extra, grpo_err *err) {
    json_t *a = json_array();
    int64_t args[2] = {store_run_id(s), extra};
    if (!a || store_query(s, sql, args, 2, collect, a, err)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* ---------------------------------------------------------------- summary */

/* Prints "  label: first F (step a), last L (step b), best B (step c)" over the non-NULL values of
 * steps column col. */
static int summary_metric(store *s, const char *col, grpo_err *err) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT step, %s AS v FROM steps WHERE run_id=?1 AND %s IS NOT NULL ORDER BY step", col,
             col);
    json_t *a = rows(s, sql, 0, err);
    if (!a) return err->code;
    size_t n = json_array_size(a);
    if (n) {
        json_t *first = json_array_get(a, 0), *last = json_array_get(a, n - 1), *best = first;
        size_t i;
        json_t *r;
        json_array_foreach(a, i, r) {
            if (json_number_value(json_object_get(r, "v")) > json_number_value(json_object_get(best, "v"))) best = r;
        }
#define V(r) json_number_value(json_object_get(r, "v")), (long long)json_integer_value(json_object_get(r, "step"))
        printf("%s: first %.4g (step %lld), last %.4g (step %lld), best %.4g (step %lld)\n", col, V(first), V(last),
               V(best));
#undef V
    }
    json_decref(a);
    return GRPO_OK;
}

static int run_summary(store *s, const char *path, grpo_err *err) {
    json_t *run = rows(s, "SELECT * FROM runs WHERE run_id=?1", 0, err);
    json_t *st = run ? rows(s, "SELECT count(*) AS n, min(step) AS first, max(step) AS last FROM steps WHERE run_id=?1",
                            0, err)
                     : NULL;
    if (!run || !st) {
        json_decref(run);
        return err->code;
    }
    json_t *r = json_array_get(run, 0), *c = json_array_get(st, 0);
    printf("run: %s (grpo %s, created %s, updated %s)\n", json_string_value(json_object_get(r, "name")),
           json_string_value(json_object_get(r, "grpo_version")), json_string_value(json_object_get(r, "created_at")),
           json_string_value(json_object_get(r, "updated_at")));
    printf("database: %s\n", path);
    const char *kind = json_string_value(json_object_get(r, "kind")); /* runs.kind: grpo, traces, sft */
    if (kind) printf("kind: %s\n", kind);
    long long n = json_integer_value(json_object_get(c, "n"));
    long long last = n ? json_integer_value(json_object_get(c, "last")) : -1;
    if (n)
        printf("steps: %lld (first %lld, last %lld)\n", n, (long long)json_integer_value(json_object_get(c, "first")),
               last);
    else
        printf("steps: 0\n");
    printf("last step: %lld\n", last);
    json_decref(run);
    json_decref(st);
    if (summary_metric(s, "reward_mean", err) || summary_metric(s, "accuracy", err)) return err->code;

    json_t *ro = rows(s,
                      "SELECT count(*) AS n, avg(length) AS len, avg(finish_reason = 'length') AS truncated"
                      " FROM rollouts WHERE run_id=?1",
                      0, err);
    if (!ro) return err->code;
    json_t *o = json_array_get(ro, 0);
    if (json_integer_value(json_object_get(o, "n")))
        printf("rollouts: %lld completions, mean length %.1f tokens, %.1f%% truncated\n",
               (long long)json_integer_value(json_object_get(o, "n")), json_number_value(json_object_get(o, "len")),
               100 * json_number_value(json_object_get(o, "truncated")));
    json_decref(ro);

    json_t *comp = rows(s,
                        "SELECT name, avg(value) AS mean_all, avg(CASE WHEN step=?2 THEN value END) AS mean_last"
                        " FROM reward_components WHERE run_id=?1 GROUP BY name ORDER BY name",
                        last, err);
    if (!comp) return err->code;
    size_t i;
    json_array_foreach(comp, i, o) {
        printf("reward %s: mean %.4g over all rollouts, %.4g at the last step\n",
               json_string_value(json_object_get(o, "name")), json_number_value(json_object_get(o, "mean_all")),
               json_number_value(json_object_get(o, "mean_last")));
    }
    json_decref(comp);

    json_t *ev = rows(s, "SELECT name, split, metric, step, value FROM evals WHERE run_id=?1"
                         " ORDER BY name, split, metric, step", 0, err);
    if (!ev) return err->code;
    size_t ne = json_array_size(ev);
    for (size_t a = 0; a < ne;) {
        json_t *e0 = json_array_get(ev, a);
        size_t b = a;
        while (b + 1 < ne) { /* the same (name, split, metric) */
            json_t *e1 = json_array_get(ev, b + 1);
            int same = 1;
            for (const char *const *k = (const char *const[]){"name", "split", "metric", NULL}; *k; k++)
                same &= json_equal(json_object_get(e0, *k), json_object_get(e1, *k));
            if (!same) break;
            b++;
        }
        json_t *e1 = json_array_get(ev, b);
        printf("eval %s/%s %s: %.4g at step %lld -> %.4g at step %lld\n", json_string_value(json_object_get(e0, "name")),
               json_string_value(json_object_get(e0, "split")), json_string_value(json_object_get(e0, "metric")),
               json_number_value(json_object_get(e0, "value")), (long long)json_integer_value(json_object_get(e0, "step")),
               json_number_value(json_object_get(e1, "value")), (long long)json_integer_value(json_object_get(e1, "step")));
        a = b + 1;
    }
    json_decref(ev);
    return GRPO_OK;
}

/* ---------------------------------------------------------------- dispatch */

static int run(const cli_cmd *cmd, const char **v) {
    int subs = !!v[O_STEPS] + !!v[O_ROLLOUTS] + !!v[O_EVALS] + !!v[O_SUMMARY];
    if (subs != 1) {
        fprintf(stderr, "grpo db: give exactly one subcommand: steps, rollouts, evals or summary (see grpo db --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (!v[O_DB]) {
        fprintf(stderr, "grpo db: option --db PATH is required (see grpo db --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (!v[O_ROLLOUTS] && (v[O_STEP] || v[O_LIMIT])) {
        fprintf(stderr, "grpo db: options --step and --limit apply to 'rollouts' only\n");
        return CLI_EXIT_USAGE;
    }
    long long step = 0, limit = -1;
    if (v[O_ROLLOUTS]) {
        if (!v[O_STEP]) {
            fprintf(stderr, "grpo db rollouts: option --step N is required\n");
            return CLI_EXIT_USAGE;
        }
        if (cli_int(cmd, "--step", v[O_STEP], 0, INT64_MAX, &step)) return CLI_EXIT_USAGE;
        if (v[O_LIMIT] && cli_int(cmd, "--limit", v[O_LIMIT], 0, INT64_MAX, &limit)) return CLI_EXIT_USAGE;
    }
    grpo_err err = {0};
    store *s;
    if (store_open_read(&s, v[O_DB], v[O_RUN], &err)) return cli_fail(cmd, &err);
    int rc = GRPO_OK;
    if (v[O_STEPS]) {
        int64_t a = store_run_id(s);
        rc = store_query(s, "SELECT * FROM steps WHERE run_id=?1 ORDER BY step", &a, 1, print_row, NULL, &err);
    } else if (v[O_ROLLOUTS]) {
        int64_t a[3] = {store_run_id(s), step, limit};
        rc = store_query(s,
                         "SELECT step, prompt_id, sample_index, prompt_text, completion_text, token_ids AS token_ids_json,"
                         " logprobs AS logprobs_json, rewards_json, reward_total, advantage, length, finish_reason"
                         " FROM rollouts WHERE run_id=?1 AND step=?2 ORDER BY prompt_id, sample_index LIMIT ?3",
                         a, 3, print_row, NULL, &err);
    } else if (v[O_EVALS]) {
        int64_t a = store_run_id(s);
        rc = store_query(s,
                         "SELECT step, name, split, metric, value, n, detail_json, created_at FROM evals"
                         " WHERE run_id=?1 ORDER BY step, name, split, metric",
                         &a, 1, print_row, NULL, &err);
    } else {
        rc = run_summary(s, v[O_DB], &err);
    }
    store_close(s);
    fflush(stdout);
    return rc ? cli_fail(cmd, &err) : CLI_EXIT_OK;
}

const cli_cmd cmd_db = {
    .name = "db",
    .summary = "Read a run's rollout database: steps, rollouts, evals (JSON lines) or a summary.",
    .usage = "steps|rollouts|evals|summary --db PATH [--run NAME] [--step N] [--limit K]",
    .opts = OPTS,
    .run = run,
};
