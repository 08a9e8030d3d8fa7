/* grpo/cli/viewer/api.c: the viewer's JSON API (see api.h; docs/viewer.md). Sections: opening, query
 * parameters, one handler per route in the order the pages use them (run, steps, rollouts, search,
 * prompt, evals), and the route table. Version 1 files have no extracted answers, reasons, gold
 * answers or full-text index: their columns read as NULL and search falls back to a scan. */
#define _GNU_SOURCE /* strcasestr */
#include "api.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/tokenizer/tokenizer.h"
#include "rollout/store/store.h"
#include "common/strbuf.h"

struct viewer_api {
    store *db;
    int version;
    tok_tokenizer *tok; /* NULL: token texts are not available */
};

/* What a handler returns besides its status: the response, or a message for a 4xx/5xx. */
typedef struct {
    json_t *out;
    char msg[320];
} reply;

/* ---------------------------------------------------------------- opening */

/* A store_row_fn that appends each row to the JSON array ctx. */
static int collect(void *ctx, json_t *row) {
    return json_array_append(ctx, row) != 0;
}

/* Loads the tokenizer the run's config names (its "tokenizer", else its "model" directory), if any. */
static void load_tokenizer(viewer_api *a) {
    json_t *cfg = NULL;
    int64_t id = store_run_id(a->db);
    grpo_err e = {0};
    json_t *rows = json_array();
    if (!rows) return;
    if (store_query(a->db, "SELECT config_json FROM runs WHERE run_id=?1", &id, 1, collect, rows, &e) == GRPO_OK)
        cfg = json_object_get(json_array_get(rows, 0), "config");
    const char *dir = json_string_value(json_object_get(cfg, "tokenizer"));
    if (!dir || !*dir) dir = json_string_value(json_object_get(cfg, "model"));
    if (dir && *dir && strncmp(dir, "init:", 5)) tok_load(&a->tok, dir, &e);
    json_decref(rows);
}

int viewer_api_open(viewer_api **out, const char *db, const char *run, grpo_err *err) {
    *out = NULL;
    viewer_api *a = calloc(1, sizeof *a);
    if (!a) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    int rc = store_open_read(&a->db, db, run, err);
    if (rc) {
        free(a);
        return rc;
    }
    a->version = store_schema_version(a->db);
    load_tokenizer(a);
    *out = a;
    return GRPO_OK;
}

void viewer_api_close(viewer_api *a) {
    if (!a) return;
    store_close(a->db);
    tok_free(a->tok);
    free(a);
}

/* ---------------------------------------------------------------- query parameters */

/* The value of parameter name, or NULL when absent. */
static const char *param(const viewer_query *q, const char *name) {
    for (int i = 0; q && i < q->n; i++)
        if (!strcmp(q->key[i], name)) return q->val[i];
    return NULL;
}

/* 0 when every parameter of q is in the space-separated list known, each at most once. */
static int check_params(const viewer_query *q, const char *route, const char *known, reply *r) {
    if (q && q->overflow) {
        snprintf(r->msg, sizeof r->msg, "too many query parameters (at most %d)", VIEWER_MAX_PARAMS);
        return -1;
    }
    for (int i = 0; q && i < q->n; i++) {
        size_t n = strlen(q->key[i]);
        const char *p = known;
        int found = 0;
        while (!found && (p = strstr(p, q->key[i]))) {
            found = (p == known || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0');
            p++;
        }
        if (!found || !n) {
            snprintf(r->msg, sizeof r->msg, "unknown parameter '%.40s' for /api/%s (known: %s)", q->key[i], route,
                     *known ? known : "none");
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(q->key[j], q->key[i])) {
                snprintf(r->msg, sizeof r->msg, "parameter '%.40s' is given twice", q->key[i]);
                return -1;
            }
    }
    return 0;
}

/* Parses integer parameter name in [lo, hi] (dflt when absent); 0, or -1 with r->msg set. */
static int int_param(const viewer_query *q, const char *name, long long dflt, long long lo, long long hi,
                     long long *out, reply *r) {
    const char *s = param(q, name);
    *out = dflt;
    if (!s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        snprintf(r->msg, sizeof r->msg, "parameter '%s' must be an integer from %lld to %lld (got '%.40s')", name, lo, hi,
                 s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses a finite real parameter (NAN when absent). */
static int real_param(const viewer_query *q, const char *name, double *out, reply *r) {
    const char *s = param(q, name);
    *out = NAN;
    if (!s) return 0;
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) {
        snprintf(r->msg, sizeof r->msg, "parameter '%s' must be a finite number (got '%.40s')", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Index of parameter name's value in the NULL-terminated list (dflt when absent). */
static int enum_param(const viewer_query *q, const char *name, const char *const *values, int dflt, int *out, reply *r) {
    const char *s = param(q, name);
    *out = dflt;
    if (!s) return 0;
    for (int i = 0; values[i]; i++)
        if (!strcmp(s, values[i])) return *out = i, 0;
    size_t n = 0;
    sb_catf(r->msg, sizeof r->msg, &n, "parameter '%s' must be one of", name);
    for (int i = 0; values[i] && n < sizeof r->msg; i++)
        sb_catf(r->msg, sizeof r->msg, &n, "%s %s", i ? "," : "", values[i]);
    return -1;
}

/* ---------------------------------------------------------------- queries */

/* Runs sql with args; returns its rows (a new array), or NULL with r->msg set. */
static json_t *rows_of(viewer_api *a, const char *sql, const store_arg *args, int n, reply *r) {
    json_t *rows = json_array();
    grpo_err e = {0};
    if (!rows) {
        snprintf(r->msg, sizeof r->msg, "out of memory");
        return NULL;
    }
    if (store_query_args(a->db, sql, args, n, collect, rows, &e)) {
        snprintf(r->msg, sizeof r->msg, "%.300s", e.msg);
        json_decref(rows);
        return NULL;
    }
    return rows;
}

/* The first column's integer of the first row of sql (-1 when none, -2 on error). */
static long long int_of(viewer_api *a, const char *sql, const store_arg *args, int n, reply *r) {
    json_t *rows = rows_of(a, sql, args, n, r);
    if (!rows) return -2;
    long long v = -1;
    json_t *row = json_array_get(rows, 0);
    if (row) {
        const char *k;
        json_t *x;
        json_object_foreach(row, k, x) {
            if (json_is_integer(x)) v = json_integer_value(x);
            break;
        }
    }
    json_decref(rows);
    return v;
}

#define A_INT(v) ((store_arg){.type = STORE_ARG_INT, .i = (v)})
#define A_REAL(v) ((store_arg){.type = STORE_ARG_REAL, .d = (v)})
#define A_TEXT(v) ((store_arg){.type = STORE_ARG_TEXT, .s = (v)})

/* The columns of one rollout, as every rollout list returns them. */
static const char *rollout_cols(const viewer_api *a) {
    return a->version >= 2
               ? "r.rowid AS rollout_id, r.step, r.prompt_id, r.sample_index, r.reward_total, r.advantage, r.length,"
                 " r.finish_reason, r.extracted_answer"
               : "r.rowid AS rollout_id, r.step, r.prompt_id, r.sample_index, r.reward_total, r.advantage, r.length,"
                 " r.finish_reason, NULL AS extracted_answer";
}

/* Sets key of obj (a new reference), failing on out of memory. */
static int set_new(json_t *obj, const char *key, json_t *v, reply *r) {
    if (!v || json_object_set_new(obj, key, v)) {
        snprintf(r->msg, sizeof r->msg, "out of memory");
        return -1;
    }
    return 0;
}

/* The response object with each key set (values are new references; NULL ends the list). */
static json_t *pack_reply(reply *r, const char *k1, json_t *v1, const char *k2, json_t *v2, const char *k3, json_t *v3) {
    json_t *o = json_object();
    const char *k[3] = {k1, k2, k3};
    json_t *v[3] = {v1, v2, v3};
    for (int i = 0; i < 3; i++) {
        if (!k[i]) {
            json_decref(v[i]);
            continue;
        }
        if (!o || set_new(o, k[i], v[i], r)) {
            for (int j = i + 1; j < 3; j++) json_decref(v[j]);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* Adds "components": [{name, value, reason}] to each rollout of rows (all of one step, or of one prompt
 * when prompt >= 0), read with one query per distinct step. */
static int add_components(viewer_api *a, json_t *rows, reply *r) {
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT prompt_id, sample_index, name, value, %s FROM reward_components"
             " WHERE run_id=?1 AND step=?2 AND prompt_id=?3 ORDER BY sample_index, rowid",
             a->version >= 2 ? "reason" : "NULL AS reason");
    size_t i;
    json_t *ro;
    json_t *cache = NULL; /* the components of the last (step, prompt) read */
    long long cstep = -1, cprompt = -1;
    int rc = 0;
    json_array_foreach(rows, i, ro) {
        long long step = json_integer_value(json_object_get(ro, "step"));
        long long pid = json_integer_value(json_object_get(ro, "prompt_id"));
        long long j = json_integer_value(json_object_get(ro, "sample_index"));
        if (!cache || step != cstep || pid != cprompt) {
            json_decref(cache);
            store_arg args[3] = {A_INT(store_run_id(a->db)), A_INT(step), A_INT(pid)};
            if (!(cache = rows_of(a, sql, args, 3, r))) return -1;
            cstep = step, cprompt = pid;
        }
        json_t *mine = json_array();
        size_t k;
        json_t *c;
        json_array_foreach(cache, k, c) {
            if (json_integer_value(json_object_get(c, "sample_index")) != j) continue;
            json_t *o = json_pack("{s:O,s:O,s:O}", "name", json_object_get(c, "name"), "value",
                                  json_object_get(c, "value"), "reason", json_object_get(c, "reason"));
            if (!o || json_array_append_new(mine, o)) rc = -1;
        }
        if (rc || set_new(ro, "components", mine, r)) {
            snprintf(r->msg, sizeof r->msg, "out of memory");
            rc = -1;
            break;
        }
    }
    json_decref(cache);
    return rc;
}

/* Adds "tokens" to each row: the text of each token, special tokens as "" (when a tokenizer is
 * loaded; null otherwise). The pages shade them only when they join into completion_text. */
static int add_tokens(viewer_api *a, json_t *rows, reply *r) {
    size_t i;
    json_t *ro;
    json_array_foreach(rows, i, ro) {
        json_t *ids = json_object_get(ro, "token_ids"), *texts = a->tok ? json_array() : json_null();
        size_t k;
        json_t *id;
        if (a->tok && json_is_array(ids))
            json_array_foreach(ids, k, id) {
                int t = (int)json_integer_value(id);
                char *s = NULL;
                size_t n = 0;
                grpo_err e = {0};
                if (tok_decode(a->tok, &t, 1, TOK_SKIP_SPECIAL, &s, &n, &e) == GRPO_OK) json_array_append_new(texts, json_stringn(s, n));
                else json_array_append_new(texts, json_string("\xEF\xBF\xBD"));
                free(s);
            }
        if (set_new(ro, "tokens", texts, r)) return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- /api/run */

static int h_run(viewer_api *a, const char *arg, const viewer_query *q, reply *r) {
    if (check_params(q, "run", "", r)) return 400;
    store_arg id = A_INT(store_run_id(a->db));
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT name, %s AS kind, config_json, grpo_version, created_at, updated_at,"
             " (SELECT count(*) FROM steps WHERE run_id=?1) AS steps,"
             " (SELECT min(step) FROM steps WHERE run_id=?1) AS first_step,"
             " (SELECT max(step) FROM steps WHERE run_id=?1) AS last_step,"
             " (SELECT count(*) FROM rollouts WHERE run_id=?1) AS rollouts,"
             " (SELECT count(*) FROM evals WHERE run_id=?1) AS evals"
             " FROM runs WHERE run_id=?1",
             a->version >= 2 ? "kind" : "'grpo'");
    json_t *rows = rows_of(a, sql, &id, 1, r);
    if (!rows) return 500;
    json_t *o = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    json_t *comps =
        rows_of(a, "SELECT DISTINCT name FROM reward_components WHERE run_id=?1 ORDER BY name LIMIT 64", &id, 1, r);
    if (!o || !comps) {
        json_decref(o);
        json_decref(comps);
        return 500;
    }
    json_t *names = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(comps, i, c) json_array_append(names, json_object_get(c, "name"));
    json_decref(comps);
    json_t *limits = json_pack("{s:i,s:i,s:i,s:i}", "steps", VIEWER_STEPS_MAX, "rollouts", VIEWER_ROLLOUTS_MAX,
                               "search", VIEWER_SEARCH_MAX, "evals", VIEWER_EVALS_MAX);
    if (limits && json_object_set_new(limits, "search_scan", json_integer(VIEWER_SCAN_MAX))) json_decref(limits), limits = NULL;
    if (set_new(o, "components", names, r) || set_new(o, "schema_version", json_integer(a->version), r) ||
        set_new(o, "full_text_index", json_boolean(a->version >= 2), r) ||
        set_new(o, "token_texts", json_boolean(a->tok != NULL), r) || set_new(o, "read_only", json_true(), r) ||
        set_new(o, "limits", limits, r)) {
        json_decref(o);
        return 500;
    }
    r->out = o;
    return 200;
}

/* ---------------------------------------------------------------- /api/steps */

/* Adds "components": {name: {mean, std, n}} to each step of rows, for steps in (after, last]. */
static int add_step_components(viewer_api *a, json_t *rows, long long after, long long last, reply *r) {
    store_arg args[3] = {A_INT(store_run_id(a->db)), A_INT(after), A_INT(last)};
    json_t *st = rows_of(a,
                         "SELECT step, name, avg(value) AS mean, avg(value * value) AS sq, count(value) AS n"
                         " FROM reward_components WHERE run_id=?1 AND step>?2 AND step<=?3 GROUP BY step, name",
                         args, 3, r);
    if (!st) return -1;
    size_t i = 0, k;
    json_t *row, *c;
    json_array_foreach(rows, k, row) {
        json_t *obj = json_object();
        long long step = json_integer_value(json_object_get(row, "step"));
        for (; i < json_array_size(st); i++) {
            c = json_array_get(st, i);
            long long cs = json_integer_value(json_object_get(c, "step"));
            if (cs < step) continue;
            if (cs > step) break;
            double n = (double)json_integer_value(json_object_get(c, "n"));
            double mean = json_number_value(json_object_get(c, "mean")), sq = json_number_value(json_object_get(c, "sq"));
            double sd = n > 1 ? sqrt(fmax(0.0, sq - mean * mean) * n / (n - 1)) : 0.0;
            json_t *v = n > 0 ? json_pack("{s:f,s:f,s:I}", "mean", mean, "std", sd, "n", (json_int_t)n)
                              : json_pack("{s:n,s:n,s:i}", "mean", "std", "n", 0);
            if (!v) break;
            json_object_set_new(obj, json_string_value(json_object_get(c, "name")), v);
        }
        if (set_new(row, "components", obj, r)) {
            json_decref(st);
            return -1;
        }
    }
    json_decref(st);
    return 0;
}

static int h_steps(viewer_api *a, const char *arg, const viewer_query *q, reply *r) {
    long long after, limit;
    if (check_params(q, "steps", "after limit", r) || int_param(q, "after", -2, -2, INT64_MAX / 2, &after, r) ||
        int_param(q, "limit", 1000, 1, VIEWER_STEPS_MAX, &limit, r))
        return 400;
    store_arg args[3] = {A_INT(store_run_id(a->db)), A_INT(after), A_INT(limit + 1)};
    json_t *rows = rows_of(a, "SELECT * FROM steps WHERE run_id=?1 AND step>?2 ORDER BY step LIMIT ?3", args, 3, r);
    if (!rows) return 500;
    int more = json_array_size(rows) > (size_t)limit;
    if (more) json_array_remove(rows, (size_t)limit);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) json_object_del(row, "run_id");
    long long last = json_array_size(rows) ? json_integer_value(json_object_get(json_array_get(rows, json_array_size(rows) - 1), "step")) : after;
    if (add_step_components(a, rows, after, last, r)) {
        json_decref(rows);
        return 500;
    }
    r->out = pack_reply(r, "steps", rows, "more", json_boolean(more), "last", json_integer(last));
    return r->out ? 200 : 500;
}

/* ---------------------------------------------------------------- /api/rollouts */

/* Adds "prompts": {id: {prompt_text, gold_answer}} to out for the prompts of rows. */
static int add_prompts(viewer_api *a, json_t *out, json_t *rows, reply *r) {
    json_t *prompts = json_object();
    const char *sql = a->version >= 2 ? "SELECT prompt_text, gold_answer FROM prompts WHERE run_id=?1 AND prompt_id=?2"
                                      : "SELECT prompt_text, NULL AS gold_answer FROM rollouts WHERE run_id=?1 AND"
                                        " prompt_id=?2 LIMIT 1";
    size_t i;
    json_t *ro;
    json_array_foreach(rows, i, ro) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(ro, "prompt_id")));
        if (json_object_get(prompts, key)) continue;
        store_arg args[2] = {A_INT(store_run_id(a->db)), A_INT(json_integer_value(json_object_get(ro, "prompt_id")))};
        json_t *p = rows_of(a, sql, args, 2, r);
        if (!p) {
            json_decref(prompts);
            return -1;
        }
        json_t *one = json_array_get(p, 0);
        json_object_set(prompts, key, one ? one : json_null());
        json_decref(p);
    }
    return set_new(out, "prompts", prompts, r);
}

static const char *const SORTS[] = {"index", "best", "worst", "advantage", "length", NULL};
static const char *const SORT_SQL[] = {"r.prompt_id, r.sample_index", "r.reward_total DESC, r.prompt_id, r.sample_index",
                                       "r.reward_total ASC, r.prompt_id, r.sample_index",
                                       "r.advantage DESC, r.prompt_id, r.sample_index",
                                       "r.length DESC, r.prompt_id, r.sample_index"};

static int h_rollouts(viewer_api *a, const char *arg, const viewer_query *q, reply *r) {
    long long step, offset, limit, prompt;
    int sort;
    if (check_params(q, "rollouts", "step offset limit sort prompt", r)) return 400;
    if (!param(q, "step")) {
        snprintf(r->msg, sizeof r->msg, "parameter 'step' is required");
        return 400;
    }
    if (int_param(q, "step", 0, -1, INT64_MAX / 2, &step, r) || int_param(q, "offset", 0, 0, 1000000000, &offset, r) ||
        int_param(q, "limit", 64, 1, VIEWER_ROLLOUTS_MAX, &limit, r) ||
        int_param(q, "prompt", -1, 0, INT64_MAX / 2, &prompt, r) || enum_param(q, "sort", SORTS, 0, &sort, r))
        return 400;
    store_arg args[5] = {A_INT(store_run_id(a->db)), A_INT(step), A_INT(prompt), A_INT(limit), A_INT(offset)};
    long long have = int_of(a, "SELECT count(*) FROM steps WHERE run_id=?1 AND step=?2", args, 2, r);
    if (have < 0) return 500;
    if (have == 0) {
        snprintf(r->msg, sizeof r->msg, "no step %lld in this run", step);
        return 404;
    }
    long long total = int_of(a, "SELECT count(*) FROM rollouts WHERE run_id=?1 AND step=?2 AND (?3 < 0 OR prompt_id=?3)",
                             args, 3, r);
    if (total < 0) return 500;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s, r.completion_text, r.token_ids AS token_ids_json, r.logprobs AS logprobs_json FROM rollouts r"
             " WHERE r.run_id=?1 AND r.step=?2 AND (?3 < 0 OR r.prompt_id=?3) ORDER BY %s LIMIT ?4 OFFSET ?5",
             rollout_cols(a), SORT_SQL[sort]);
    json_t *rows = rows_of(a, sql, args, 5, r);
    if (!rows) return 500;
    json_t *out = NULL;
    if (add_components(a, rows, r) || add_tokens(a, rows, r) ||
        !(out = pack_reply(r, "step", json_integer(step), "total", json_integer(total), "offset", json_integer(offset))) ||
        set_new(out, "limit", json_integer(limit), r) || add_prompts(a, out, rows, r) ||
        set_new(out, "rollouts", json_incref(rows), r)) {
        json_decref(rows);
        json_decref(out);
        return 500;
    }
    json_decref(rows);
    r->out = out;
    return 200;
}

/* ---------------------------------------------------------------- /api/search */

/* Start of the UTF-8 character at or before p (never before s). */
static const char *utf8_back(const char *s, const char *p) {
    while (p > s && ((unsigned char)*p & 0xC0) == 0x80) p--;
    return p;
}

/* Sets row's "snippet" to [before, match, after] around the first case-insensitive occurrence of
 * needle in text (about 60 bytes each side), or [start of text, "", ""] when there is none. */
static int set_snippet(json_t *row, const char *text, const char *needle, reply *r) {
    size_t tl = strlen(text), nl = needle ? strlen(needle) : 0;
    const char *hit = nl ? strcasestr(text, needle) : NULL;
    const char *b, *e, *me;
    if (hit) {
        b = utf8_back(text, hit - (hit - text > 60 ? 60 : hit - text));
        me = hit + nl;
        e = utf8_back(text, me + ((size_t)(text + tl - me) > 60 ? 60 : (size_t)(text + tl - me)));
        if (e < me) e = me;
    } else {
        hit = me = e = utf8_back(text, text + (tl > 160 ? 160 : tl));
        b = text;
    }
    json_t *s = json_pack("[s#,s#,s#]", b, (int)(hit - b), hit, (int)(me - hit), me, (int)(e - me));
    return set_new(row, "snippet", s, r);
}

/* A search's filters as one SQL condition over rollouts r with its arguments (?1 is the run), and
 * its text: as an FTS5 phrase (schema 2), or a scan's instr() condition (schema 1). */
typedef struct {
    char cond[1024];
    store_arg args[12];
    int n;
    const char *text; /* NULL: no text */
    int fts;          /* the text is matched by the index (fts_phrase), not by cond */
    char fts_phrase[2 * VIEWER_QUERY_MAX + 8];
    long long smin, smax; /* step range (-1, INT64_MAX / 2: none) */
} search_q;

/* Appends " AND cond" with one argument (the caller writes ?N for it). */
static void add_cond(search_q *s, const char *cond, store_arg v) {
    s->args[s->n++] = v;
    size_t l = strlen(s->cond);
    sb_catf(s->cond, sizeof s->cond, &l, " AND %s", cond);
}

static int search_where(viewer_api *a, const viewer_query *q, search_q *s, reply *r) {
    double lo, hi, clo, chi;
    int finish;
    static const char *const FIN[] = {"stop", "length", NULL};
    if (real_param(q, "min_reward", &lo, r) || real_param(q, "max_reward", &hi, r) ||
        real_param(q, "component_min", &clo, r) || real_param(q, "component_max", &chi, r) ||
        int_param(q, "step_min", -1, -1, INT64_MAX / 2, &s->smin, r) ||
        int_param(q, "step_max", INT64_MAX / 2, -1, INT64_MAX / 2, &s->smax, r) || enum_param(q, "finish", FIN, -1, &finish, r))
        return -1;
    const char *text = param(q, "q"), *comp = param(q, "component");
    if (text && (strlen(text) > VIEWER_QUERY_MAX || !*text)) {
        snprintf(r->msg, sizeof r->msg, "parameter 'q' must be 1 to %d bytes", VIEWER_QUERY_MAX);
        return -1;
    }
    if (text && a->version >= 2 && strlen(text) < 3) {
        snprintf(r->msg, sizeof r->msg, "parameter 'q' needs at least 3 characters (the full-text index is of trigrams)");
        return -1;
    }
    if (comp && (!*comp || strlen(comp) > 64)) {
        snprintf(r->msg, sizeof r->msg, "parameter 'component' must be a reward name of 1 to 64 bytes");
        return -1;
    }
    if (!comp && (!isnan(clo) || !isnan(chi))) {
        snprintf(r->msg, sizeof r->msg, "parameters 'component_min' and 'component_max' need 'component'");
        return -1;
    }
    s->text = text;
    s->fts = text && a->version >= 2;
    s->n = 0;
    snprintf(s->cond, sizeof s->cond, "r.run_id=?1");
    s->args[s->n++] = A_INT(store_run_id(a->db));
    char c[400];
#define COND(fmt, v) (snprintf(c, sizeof c, fmt, s->n + 1), add_cond(s, c, v))
    if (s->fts) {
        /* a trigram phrase: the text as a substring, case-insensitive; quotes doubled */
        size_t n = 0, cap = sizeof s->fts_phrase;
        s->fts_phrase[n++] = '"';
        for (const char *p = text; *p && n + 3 < cap; p++) {
            if (*p == '"') s->fts_phrase[n++] = '"';
            s->fts_phrase[n++] = *p;
        }
        s->fts_phrase[n++] = '"';
        s->fts_phrase[n] = '\0';
    } else if (text) { /* a version 1 file has no index: a scan */
        COND("instr(lower(r.completion_text), lower(?%d)) > 0", A_TEXT(text));
    }
    if (!isnan(lo)) COND("r.reward_total >= ?%d", A_REAL(lo));
    if (!isnan(hi)) COND("r.reward_total <= ?%d", A_REAL(hi));
    if (s->smin >= 0) COND("r.step >= ?%d", A_INT(s->smin));
    if (s->smax < INT64_MAX / 2) COND("r.step <= ?%d", A_INT(s->smax));
    if (finish >= 0) COND("r.finish_reason = ?%d", A_TEXT(FIN[finish]));
    if (comp) {
        int k = s->n + 1;
        snprintf(c, sizeof c,
                 "EXISTS (SELECT 1 FROM reward_components c WHERE c.run_id=r.run_id AND c.step=r.step AND"
                 " c.prompt_id=r.prompt_id AND c.sample_index=r.sample_index AND c.name=?%d AND"
                 " (?%d IS NULL OR c.value >= ?%d) AND (?%d IS NULL OR c.value <= ?%d))",
                 k, k + 1, k + 1, k + 2, k + 2);
        add_cond(s, c, A_TEXT(comp));
        s->args[s->n++] = isnan(clo) ? (store_arg){.type = STORE_ARG_NULL} : A_REAL(clo);
        s->args[s->n++] = isnan(chi) ? (store_arg){.type = STORE_ARG_NULL} : A_REAL(chi);
    }
#undef COND
    return 0;
}

/* The rowid range [*lo, *hi] that holds every rollout of the run in the step range (from the
 * (run, step, ...) index, whatever order the steps were written in); 0, 1 when no rollout is in it,
 * -1 on error. */
static int step_rowids(viewer_api *a, const search_q *s, long long *lo, long long *hi, reply *r) {
    *lo = 0, *hi = INT64_MAX;
    store_arg args[2] = {A_INT(store_run_id(a->db)), A_INT(s->smin)};
    if (s->smin >= 0) {
        *lo = int_of(a, "SELECT min(rowid) FROM rollouts WHERE run_id=?1 AND step>=?2", args, 2, r);
        if (*lo < -1) return -1;
        if (*lo == -1) return 1;
    }
    if (s->smax < INT64_MAX / 2) {
        args[1] = A_INT(s->smax);
        *hi = int_of(a, "SELECT max(rowid) FROM rollouts WHERE run_id=?1 AND step<=?2", args, 2, r);
        if (*hi < -1) return -1;
        if (*hi == -1) return 1;
    }
    return 0;
}

/* The scan of a search: candidates in rowid order, each with whether it passes the filters. */
typedef struct {
    long long budget, want; /* candidates to examine at most; matches to collect (a page and one) */
    long long scanned, last, last_step; /* candidates seen; the last one's rowid and step */
    json_t *ids;                        /* rowids of the matches so far */
    int oom;
} scan_state;

static int scan_row(void *ctx, json_t *row) {
    scan_state *st = ctx;
    st->scanned++;
    st->last = json_integer_value(json_object_get(row, "id"));
    st->last_step = json_integer_value(json_object_get(row, "step"));
    if (json_integer_value(json_object_get(row, "ok")) == 1 && json_array_append(st->ids, json_object_get(row, "id")))
        return st->oom = 1;
    return (long long)json_array_size(st->ids) >= st->want || st->scanned >= st->budget;
}

/* Bounded work: one request examines at most `scan` candidates (the text index's matches, or the
 * run's rollouts when there is no text), in rowid order (the order written) from `after` on, and
 * stops once it holds a page and one more match. So its cost does not grow with the number of
 * matches, and a page that ran out of candidates says how far it got (`next`). */
static int h_search(viewer_api *a, const char *arg, const viewer_query *q, reply *r) {
    long long after, limit, scan;
    if (check_params(q, "search",
                     "q min_reward max_reward component component_min component_max finish step_min step_max after limit"
                     " scan",
                     r) ||
        int_param(q, "after", 0, 0, INT64_MAX / 2, &after, r) || int_param(q, "limit", 50, 1, VIEWER_SEARCH_MAX, &limit, r) ||
        int_param(q, "scan", VIEWER_SCAN_MAX, 1, VIEWER_SCAN_MAX, &scan, r))
        return 400;
    search_q s;
    if (search_where(a, q, &s, r)) return 400;
    long long lo, hi;
    int none = step_rowids(a, &s, &lo, &hi, r);
    if (none < 0) return 500;
    if (lo <= after) lo = after + 1;
    scan_state st = {.budget = scan, .want = limit + 1, .last = after, .last_step = -1, .ids = json_array()};
    if (!st.ids) return snprintf(r->msg, sizeof r->msg, "out of memory"), 500;
    if (!none && lo <= hi) {
        char sql[2048];
        int k = s.n;
        if (s.fts)
            snprintf(sql, sizeof sql,
                     "SELECT f.rowid AS id, r.step, (%s) AS ok FROM rollouts_fts f JOIN rollouts r ON r.rowid=f.rowid"
                     " WHERE rollouts_fts MATCH ?%d AND f.rowid BETWEEN ?%d AND ?%d ORDER BY f.rowid LIMIT ?%d",
                     s.cond, k + 1, k + 2, k + 3, k + 4);
        else
            snprintf(sql, sizeof sql,
                     "SELECT r.rowid AS id, r.step, (%s) AS ok FROM rollouts r WHERE r.rowid BETWEEN ?%d AND ?%d"
                     " ORDER BY r.rowid LIMIT ?%d",
                     s.cond, k + 1, k + 2, k + 3);
        if (s.fts) s.args[s.n++] = A_TEXT(s.fts_phrase);
        s.args[s.n++] = A_INT(lo);
        s.args[s.n++] = A_INT(hi);
        s.args[s.n++] = A_INT(scan);
        grpo_err e = {0};
        if (store_query_args(a->db, sql, s.args, s.n, scan_row, &st, &e) || st.oom) {
            snprintf(r->msg, sizeof r->msg, "%.300s", st.oom ? "out of memory" : e.msg);
            json_decref(st.ids);
            return 500;
        }
    }
    /* more: a match beyond the page was seen, or the budget ran out before the candidates did */
    long long found = (long long)json_array_size(st.ids);
    int more = found > limit || st.scanned >= scan;
    long long next = found > limit ? json_integer_value(json_array_get(st.ids, (size_t)limit - 1)) : st.last;
    if (found > limit) json_array_remove(st.ids, (size_t)limit);
    char *page_text = json_dumps(st.ids, JSON_COMPACT);
    json_decref(st.ids);
    if (!page_text) return snprintf(r->msg, sizeof r->msg, "out of memory"), 500;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s, r.completion_text FROM rollouts r WHERE r.rowid IN (SELECT value FROM json_each(?1))"
             " ORDER BY r.rowid",
             rollout_cols(a));
    store_arg pa = A_TEXT(page_text);
    json_t *rows = rows_of(a, sql, &pa, 1, r);
    free(page_text);
    if (!rows) return 500;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *t = json_string_value(json_object_get(row, "completion_text"));
        if (set_snippet(row, t ? t : "", s.text, r)) {
            json_decref(rows);
            return 500;
        }
        json_object_del(row, "completion_text");
    }
    json_t *out = pack_reply(r, "rollouts", rows, "more", json_boolean(more), "next", more ? json_integer(next) : json_null());
    if (out && (set_new(out, "after", json_integer(after), r) || set_new(out, "limit", json_integer(limit), r) ||
                set_new(out, "scanned", json_integer(st.scanned), r) ||
                set_new(out, "scanned_to_step", st.last_step >= 0 ? json_integer(st.last_step) : json_null(), r) ||
                set_new(out, "full_text_index", json_boolean(s.fts), r))) {
        json_decref(out);
        out = NULL;
    }
    r->out = out;
    return out ? 200 : 500;
}

/* ---------------------------------------------------------------- /api/prompt/ID */

static int h_prompt(viewer_api *a, const char *arg, const viewer_query *q, reply *r) {
    long long offset, limit;
    if (check_params(q, "prompt/ID", "offset limit", r) || int_param(q, "offset", 0, 0, 1000000000, &offset, r) ||
        int_param(q, "limit", 64, 1, VIEWER_ROLLOUTS_MAX, &limit, r))
        return 400;
    char *end;
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (!*arg || *end || errno || id < 0 || arg[0] == '+' || arg[0] == ' ') {
        snprintf(r->msg, sizeof r->msg, "/api/prompt/ID: ID must be a non-negative integer (got '%.40s')", arg);
        return 400;
    }
    store_arg args[4] = {A_INT(store_run_id(a->db)), A_INT(id), A_INT(limit), A_INT(offset)};
    json_t *summary = rows_of(a,
                              "SELECT step, count(*) AS n, avg(reward_total) AS reward_mean, max(reward_total) AS reward_max,"
                              " min(reward_total) AS reward_min FROM rollouts WHERE run_id=?1 AND prompt_id=?2"
                              " GROUP BY step ORDER BY step LIMIT 5000",
                              args, 2, r);
    if (!summary) return 500;
    if (!json_array_size(summary)) {
        json_decref(summary);
        snprintf(r->msg, sizeof r->msg, "no prompt %lld in this run", id);
        return 404;
    }
    long long total = int_of(a, "SELECT count(*) FROM rollouts WHERE run_id=?1 AND prompt_id=?2", args, 2, r);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s, r.completion_text FROM rollouts r WHERE r.run_id=?1 AND r.prompt_id=?2"
             " ORDER BY r.step, r.sample_index LIMIT ?3 OFFSET ?4",
             rollout_cols(a));
    json_t *rows = total >= 0 ? rows_of(a, sql, args, 4, r) : NULL;
    json_t *out = NULL;
    if (!rows || add_components(a, rows, r) ||
        !(out = pack_reply(r, "prompt_id", json_integer(id), "steps", json_incref(summary), "total", json_integer(total))) ||
        set_new(out, "offset", json_integer(offset), r) || set_new(out, "limit", json_integer(limit), r) ||
        add_prompts(a, out, rows, r) || set_new(out, "rollouts", json_incref(rows), r)) {
        json_decref(out);
        out = NULL;
    }
    json_decref(rows);
    json_decref(summary);
    r->out = out;
    return out ? 200 : 500;
}

/* ---------------------------------------------------------------- /api/evals */

static int h_evals(viewer_api *a, const char *arg, const viewer_query *q, reply *r) {
    long long offset, limit;
    if (check_params(q, "evals", "offset limit", r) || int_param(q, "offset", 0, 0, 1000000000, &offset, r) ||
        int_param(q, "limit", 1000, 1, VIEWER_EVALS_MAX, &limit, r))
        return 400;
    store_arg args[3] = {A_INT(store_run_id(a->db)), A_INT(limit), A_INT(offset)};
    long long total = int_of(a, "SELECT count(*) FROM evals WHERE run_id=?1", args, 1, r);
    json_t *rows = total >= 0 ? rows_of(a,
                                        "SELECT step, name, split, metric, value, n, detail_json, created_at FROM evals"
                                        " WHERE run_id=?1 ORDER BY name, split, metric, step LIMIT ?2 OFFSET ?3",
                                        args, 3, r)
                              : NULL;
    if (!rows) return 500;
    r->out = pack_reply(r, "evals", rows, "total", json_integer(total), "offset", json_integer(offset));
    return r->out ? 200 : 500;
}

/* ---------------------------------------------------------------- routes */

static const struct {
    const char *name;
    int prefix; /* the route is name followed by an argument ("prompt/17") */
    int (*fn)(viewer_api *, const char *, const viewer_query *, reply *);
} ROUTES[] = {
    {"run", 0, h_run},         {"steps", 0, h_steps},   {"rollouts", 0, h_rollouts},
    {"search", 0, h_search},   {"prompt/", 1, h_prompt}, {"evals", 0, h_evals},
};

int viewer_api_json(viewer_api *a, const char *route, const viewer_query *q, json_t **out) {
    reply r = {0};
    int status = 404;
    snprintf(r.msg, sizeof r.msg, "no API route /api/%.60s (routes: run, steps, rollouts, search, prompt/ID, evals)",
             route);
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        size_t n = strlen(ROUTES[i].name);
        if (ROUTES[i].prefix ? strncmp(route, ROUTES[i].name, n) : strcmp(route, ROUTES[i].name)) continue;
        status = ROUTES[i].fn(a, route + (ROUTES[i].prefix ? n : strlen(route)), q, &r);
        break;
    }
    if (status == 200 && r.out) {
        *out = r.out;
        return 200;
    }
    json_decref(r.out);
    if (status == 200) status = 500, snprintf(r.msg, sizeof r.msg, "out of memory");
    *out = json_pack("{s:s,s:i}", "error", r.msg, "status", status);
    return status;
}

int viewer_api_get(viewer_api *a, const char *route, const viewer_query *q, char **body) {
    json_t *o = NULL;
    int status = viewer_api_json(a, route, q, &o);
    *body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(o);
    return status;
}
