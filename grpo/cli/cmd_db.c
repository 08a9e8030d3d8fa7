/* grpo/cli/cmd_db.c: `grpo db SUBCOMMAND --db PATH`: read a run's rollout database (docs/database.md).
 *   steps     one JSON line per step: its metric columns, and "metrics" (the step's metrics_json)
 *   rollouts  one JSON line per completion (token ids, logprobs, rewards and reasons decoded), filtered
 *             by --step, --prompt, --grep, --min-reward/--max-reward, sorted by --sort, cut at --limit
 *   evals     one JSON line per eval result
 *   summary   a few lines of text: the run, its steps, first/last/best rewards, rollouts, evals
 *   export    every completion as JSON lines or CSV (--format), with rewards, reasons and answers
 *   migrate   the file to the current schema version (the only subcommand that writes)
 * Except for migrate, the database is opened read-only, so this is safe while a run writes it. As in `grpo reward`, the
 * subcommand is a bare word in the option table. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/store/store.h"
#include "cli.h"
#include "common/strbuf.h"

static const cli_opt OPTS[] = {
    {"steps", NULL, NULL, "subcommand: one JSON line per step (the metric columns and \"metrics\")"},
    {"rollouts", NULL, NULL, "subcommand: one JSON line per completion (of --step, or of every step)"},
    {"evals", NULL, NULL, "subcommand: one JSON line per eval result"},
    {"summary", NULL, NULL, "subcommand: the run, its steps, rewards first/last/best, rollouts and evals"},
    {"export", NULL, NULL, "subcommand: every completion with its rewards, reasons and answers (--format)"},
    {"migrate", NULL, NULL, "subcommand: migrate the database to the current schema version, in one transaction"},
    {"--db", "PATH", NULL, "the run's database (runs/NAME/rollouts.db); required"},
    {"--run", "NAME", NULL, "the run to read (default: the only run in the database)"},
    {"--step", "N", NULL, "[rollouts] only the completions of step N"},
    {"--limit", "K", NULL, "[rollouts] print at most K completions (default: all)"},
    {"--sort", "KEY", NULL, "[rollouts] reward, advantage or length, highest first (default: step, prompt, sample)"},
    {"--grep", "TEXT", NULL, "[rollouts] completions containing TEXT (case-insensitive; the FTS5 index when it has one)"},
    {"--min-reward", "X", NULL, "[rollouts] completions whose total reward is at least X"},
    {"--max-reward", "X", NULL, "[rollouts] completions whose total reward is at most X"},
    {"--prompt", "ID", NULL, "[rollouts] only the completions of prompt ID"},
    {"--format", "FMT", "jsonl", "[export] jsonl (one object per completion) or csv (one column per reward component)"},
    {NULL, NULL, NULL, NULL},
};
enum { O_STEPS, O_ROLLOUTS, O_EVALS, O_SUMMARY, O_EXPORT, O_MIGRATE, O_DB, O_RUN, O_STEP, O_LIMIT, O_SORT, O_GREP,
       O_MINR, O_MAXR, O_PROMPT, O_FORMAT };

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

/* ---------------------------------------------------------------- rollouts with filters */

/* The columns of a rollout line or export row; version 1 files read NULL for what they lack. */
static const char *rollout_select(store *s) {
    return store_schema_version(s) >= 2
               ? "r.step, r.prompt_id, r.sample_index, r.prompt_text, r.completion_text, r.token_ids AS token_ids_json,"
                 " r.logprobs AS logprobs_json, r.rewards_json, r.reward_total, r.advantage, r.length, r.finish_reason,"
                 " r.extracted_answer, (SELECT gold_answer FROM prompts p WHERE p.run_id=r.run_id AND"
                 " p.prompt_id=r.prompt_id) AS gold_answer, (SELECT json_group_object(name, reason) FROM"
                 " reward_components c WHERE c.run_id=r.run_id AND c.step=r.step AND c.prompt_id=r.prompt_id AND"
                 " c.sample_index=r.sample_index) AS reasons_json"
               : "r.step, r.prompt_id, r.sample_index, r.prompt_text, r.completion_text, r.token_ids AS token_ids_json,"
                 " r.logprobs AS logprobs_json, r.rewards_json, r.reward_total, r.advantage, r.length, r.finish_reason,"
                 " NULL AS extracted_answer, NULL AS gold_answer, NULL AS reasons_json";
}

static const char *const SORT_KEYS[] = {"reward", "advantage", "length", NULL};
static const char *const SORT_ORDER[] = {"r.reward_total DESC", "r.advantage DESC", "r.length DESC"};

/* Builds the WHERE clause of `rollouts` from the filter options into where and args; *n gets the count. */
static int rollout_filters(const cli_cmd *cmd, const char **v, store *s, char *where, size_t cap, store_arg *args,
                           int *n, char *fts, size_t fcap) {
    long long step = 0, prompt = 0;
    double lo = 0, hi = 0;
    *n = 0;
    args[(*n)++] = (store_arg){.type = STORE_ARG_INT, .i = store_run_id(s)};
    size_t w = 0;
    sb_catf(where, cap, &w, "r.run_id=?1");
#define ADD(fmt, arg) (args[*n] = (arg), (*n)++, sb_catf(where, cap, &w, fmt, *n))
    if (v[O_STEP]) {
        if (cli_int(cmd, "--step", v[O_STEP], -1, INT64_MAX, &step)) return -1;
        ADD(" AND r.step=?%d", ((store_arg){.type = STORE_ARG_INT, .i = step}));
    }
    if (v[O_PROMPT]) {
        if (cli_int(cmd, "--prompt", v[O_PROMPT], 0, INT64_MAX, &prompt)) return -1;
        ADD(" AND r.prompt_id=?%d", ((store_arg){.type = STORE_ARG_INT, .i = prompt}));
    }
    if (v[O_MINR]) {
        if (cli_float(cmd, "--min-reward", v[O_MINR], &lo)) return -1;
        ADD(" AND r.reward_total>=?%d", ((store_arg){.type = STORE_ARG_REAL, .d = lo}));
    }
    if (v[O_MAXR]) {
        if (cli_float(cmd, "--max-reward", v[O_MAXR], &hi)) return -1;
        ADD(" AND r.reward_total<=?%d", ((store_arg){.type = STORE_ARG_REAL, .d = hi}));
    }
    if (v[O_GREP]) {
        if (!*v[O_GREP]) {
            fprintf(stderr, "grpo db rollouts: --grep needs a non-empty TEXT\n");
            return -1;
        }
        if (store_schema_version(s) >= 2 && strlen(v[O_GREP]) >= 3) {
            /* a trigram phrase: the text as a substring; quotes doubled */
            size_t k = 0;
            fts[k++] = '"';
            for (const char *p = v[O_GREP]; *p && k + 3 < fcap; p++) {
                if (*p == '"') fts[k++] = '"';
                fts[k++] = *p;
            }
            fts[k++] = '"';
            fts[k] = '\0';
            ADD(" AND r.rowid IN (SELECT rowid FROM rollouts_fts WHERE rollouts_fts MATCH ?%d)",
                ((store_arg){.type = STORE_ARG_TEXT, .s = fts}));
        } else {
            ADD(" AND instr(lower(r.completion_text), lower(?%d)) > 0",
                ((store_arg){.type = STORE_ARG_TEXT, .s = v[O_GREP]}));
        }
    }
#undef ADD
    return 0;
}

static int run_rollouts(const cli_cmd *cmd, const char **v, store *s, grpo_err *err, int *usage) {
    long long limit = -1;
    int sort = -1;
    if (v[O_LIMIT] && cli_int(cmd, "--limit", v[O_LIMIT], 0, INT64_MAX, &limit)) return *usage = 1, 0;
    if (v[O_SORT]) {
        for (int i = 0; SORT_KEYS[i]; i++)
            if (!strcmp(v[O_SORT], SORT_KEYS[i])) sort = i;
        if (sort < 0) {
            fprintf(stderr, "grpo db rollouts: --sort must be reward, advantage or length (got '%s')\n", v[O_SORT]);
            return *usage = 1, 0;
        }
    }
    char where[1024], fts[2048], sql[4096];
    store_arg args[8];
    int n;
    if (rollout_filters(cmd, v, s, where, sizeof where, args, &n, fts, sizeof fts)) return *usage = 1, 0;
    args[n++] = (store_arg){.type = STORE_ARG_INT, .i = limit};
    snprintf(sql, sizeof sql, "SELECT %s FROM rollouts r WHERE %s ORDER BY %s%sr.step, r.prompt_id, r.sample_index LIMIT ?%d",
             rollout_select(s), where, sort >= 0 ? SORT_ORDER[sort] : "", sort >= 0 ? ", " : "", n);
    return store_query_args(s, sql, args, n, print_row, NULL, err);
}

/* ---------------------------------------------------------------- export */

/* Writes one CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a formula (it starts
 * with = + - @ or a tab/CR and is not a plain number) gets a leading apostrophe. */
static void csv_field(FILE *f, const char *t, int is_text) {
    if (!t) return;
    char *end;
    int formula = is_text && t[0] && strchr("=+-@\t\r", t[0]) && !(strtod(t, &end), *end == '\0' && end != t);
    int quote = strpbrk(t, ",\"\r\n") != NULL;
    if (quote) fputc('"', f);
    if (formula) fputc('\'', f);
    if (!quote) {
        fputs(t, f);
        return;
    }
    for (const char *p = t; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* The CSV context: the reward component names, in column order. */
typedef struct {
    json_t *names;
    int jsonl;
} export_ctx;

static const char *const CSV_COLS[] = {"step", "prompt_id", "sample_index", "reward_total", "advantage", "length",
                                       "finish_reason", "extracted_answer", "gold_answer", NULL};

static void csv_value(FILE *f, json_t *x) {
    char num[64];
    if (json_is_string(x)) csv_field(f, json_string_value(x), 1);
    else if (json_is_integer(x)) fprintf(f, "%lld", (long long)json_integer_value(x));
    else if (json_is_real(x)) snprintf(num, sizeof num, "%.15g", json_real_value(x)), fputs(num, f);
}

static int export_row(void *ctx, json_t *row) {
    export_ctx *e = ctx;
    if (e->jsonl) return print_row(NULL, row);
    for (int i = 0; CSV_COLS[i]; i++) {
        if (i) fputc(',', stdout);
        csv_value(stdout, json_object_get(row, CSV_COLS[i]));
    }
    size_t i;
    json_t *name;
    json_array_foreach(e->names, i, name) {
        const char *nm = json_string_value(json_object_get(name, "name"));
        fputc(',', stdout);
        csv_value(stdout, json_object_get(json_object_get(row, "rewards"), nm));
        fputc(',', stdout);
        csv_value(stdout, json_object_get(json_object_get(row, "reasons"), nm));
    }
    fputc(',', stdout);
    csv_value(stdout, json_object_get(row, "completion_text"));
    fputc(',', stdout);
    csv_value(stdout, json_object_get(row, "prompt_text"));
    fputs("\r\n", stdout);
    return 0;
}

static int run_export(const char **v, store *s, grpo_err *err, int *usage) {
    export_ctx e = {0};
    if (!strcmp(v[O_FORMAT], "jsonl")) e.jsonl = 1;
    else if (strcmp(v[O_FORMAT], "csv")) {
        fprintf(stderr, "grpo db export: --format must be jsonl or csv (got '%s')\n", v[O_FORMAT]);
        return *usage = 1, 0;
    }
    if (!e.jsonl) {
        if (!(e.names = rows(s, "SELECT DISTINCT name FROM reward_components WHERE run_id=?1 ORDER BY name", 0, err)))
            return err->code;
        for (int i = 0; CSV_COLS[i]; i++) printf("%s%s", i ? "," : "", CSV_COLS[i]);
        size_t i;
        json_t *name;
        json_array_foreach(e.names, i, name) {
            fputs(",reward/", stdout);
            csv_field(stdout, json_string_value(json_object_get(name, "name")), 0);
            fputs(",reason/", stdout);
            csv_field(stdout, json_string_value(json_object_get(name, "name")), 0);
        }
        fputs(",completion_text,prompt_text\r\n", stdout);
    }
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT %s FROM rollouts r WHERE r.run_id=?1 ORDER BY r.step, r.prompt_id, r.sample_index",
             rollout_select(s));
    int64_t id = store_run_id(s);
    int rc = store_query(s, sql, &id, 1, export_row, &e, err);
    json_decref(e.names);
    return rc;
}

/* ---------------------------------------------------------------- dispatch */

static int run_migrate(const cli_cmd *cmd, const char *path) {
    grpo_err err = {0};
    int from = 0;
    if (store_migrate(path, &from, &err)) return cli_fail(cmd, &err);
    if (from == STORE_SCHEMA_VERSION) printf("grpo db migrate: %s is already at schema version %d\n", path, from);
    else printf("grpo db migrate: %s: schema version %d -> %d\n", path, from, STORE_SCHEMA_VERSION);
    return CLI_EXIT_OK;
}

static int run(const cli_cmd *cmd, const char **v) {
    int subs = !!v[O_STEPS] + !!v[O_ROLLOUTS] + !!v[O_EVALS] + !!v[O_SUMMARY] + !!v[O_EXPORT] + !!v[O_MIGRATE];
    if (subs != 1) {
        fprintf(stderr, "grpo db: give exactly one subcommand: steps, rollouts, evals, summary, export or migrate "
                        "(see grpo db --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (!v[O_DB]) {
        fprintf(stderr, "grpo db: option --db PATH is required (see grpo db --help)\n");
        return CLI_EXIT_USAGE;
    }
    static const struct {
        int opt;
        const char *name;
    } ONLY_ROLLOUTS[] = {{O_STEP, "--step"}, {O_LIMIT, "--limit"}, {O_SORT, "--sort"}, {O_GREP, "--grep"},
                         {O_MINR, "--min-reward"}, {O_MAXR, "--max-reward"}, {O_PROMPT, "--prompt"}};
    for (size_t i = 0; !v[O_ROLLOUTS] && i < sizeof ONLY_ROLLOUTS / sizeof ONLY_ROLLOUTS[0]; i++)
        if (v[ONLY_ROLLOUTS[i].opt]) {
            fprintf(stderr, "grpo db: option %s applies to 'rollouts' only\n", ONLY_ROLLOUTS[i].name);
            return CLI_EXIT_USAGE;
        }
    if (!v[O_EXPORT] && strcmp(v[O_FORMAT], "jsonl")) {
        fprintf(stderr, "grpo db: option --format applies to 'export' only\n");
        return CLI_EXIT_USAGE;
    }
    if (v[O_MIGRATE]) return run_migrate(cmd, v[O_DB]);
    grpo_err err = {0};
    store *s;
    if (store_open_read(&s, v[O_DB], v[O_RUN], &err)) return cli_fail(cmd, &err);
    int rc = GRPO_OK, usage = 0;
    if (v[O_STEPS]) {
        int64_t a = store_run_id(s);
        rc = store_query(s, "SELECT * FROM steps WHERE run_id=?1 ORDER BY step", &a, 1, print_row, NULL, &err);
    } else if (v[O_ROLLOUTS]) {
        rc = run_rollouts(cmd, v, s, &err, &usage);
    } else if (v[O_EXPORT]) {
        rc = run_export(v, s, &err, &usage);
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
    if (usage) return CLI_EXIT_USAGE;
    return rc ? cli_fail(cmd, &err) : CLI_EXIT_OK;
}

const cli_cmd cmd_db = {
    .name = "db",
    .summary = "Read a run's rollout database: steps, rollouts, evals, summary, export; or migrate it.",
    .usage = "steps|rollouts|evals|summary|export|migrate --db PATH [--run NAME] [--step N] [--limit K] [--sort KEY]"
             " [--grep TEXT] [--min-reward X] [--max-reward X] [--prompt ID] [--format jsonl|csv]",
    .opts = OPTS,
    .run = run,
};
