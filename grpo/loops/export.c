/* grpo/loops/export.c: selection and export of a run's completions (see export.h). Sections: reading the
 * run (config, dataset, rollouts), judging each completion, the filters, writing the rows. */
#include "export.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "rollout/store/store.h"
#include "train_parts.h"
#include "common/strbuf.h"

enum { FMT_MESSAGES, FMT_PROMPT_COMPLETION, FMT_OPENR1 };
static const char *const FORMATS[] = {"messages", "prompt-completion", "openr1"};

void export_defaults(export_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = "messages";
    o->min_reward = -INFINITY;
    o->step_lo = 0;
    o->step_hi = INT64_MAX;
}

int export_format_from_name(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, FORMATS[i])) return i;
    return -1;
}

/* ---- reading the run ---- */

typedef struct {
    int64_t step, prompt_id;
    int sample;
    char *text;
    double reward;
    int stop;
    int correct, formatted;  /* judged against the dataset */
} completion;

typedef struct {
    completion *c;
    size_t n, cap;
    grpo_err *err;
    int failed;          /* the error code of a failed row */
} completions;

static int collect_completion(void *ctx, json_t *row) {
    completions *cs = ctx;
    if (cs->n == cs->cap) {
        size_t nc = cs->cap ? 2 * cs->cap : 256;
        completion *p = realloc(cs->c, nc * sizeof *p);
        if (!p) return cs->failed = grpo_errf(cs->err, GRPO_ENOMEM, "out of memory reading rollouts"), 1;
        cs->c = p, cs->cap = nc;
    }
    completion *c = &cs->c[cs->n];
    memset(c, 0, sizeof *c);
    const char *text = json_string_value(json_object_get(row, "completion_text"));
    if (!(c->text = strdup(text ? text : "")))
        return cs->failed = grpo_errf(cs->err, GRPO_ENOMEM, "out of memory reading rollouts"), 1;
    cs->n++;
    c->step = json_integer_value(json_object_get(row, "step"));
    c->prompt_id = json_integer_value(json_object_get(row, "prompt_id"));
    c->sample = (int)json_integer_value(json_object_get(row, "sample_index"));
    json_t *r = json_object_get(row, "reward_total");
    c->reward = json_is_number(r) ? json_number_value(r) : -INFINITY;
    const char *f = json_string_value(json_object_get(row, "finish_reason"));
    c->stop = f && !strcmp(f, "stop");
    return 0;
}

static int collect_string(void *ctx, json_t *row) {
    const char *s = json_string_value(json_object_get(row, "config"));
    *(char **)ctx = s ? strdup(s) : NULL;
    return 1;
}

/* The run's config as it was stored, and its dataset loaded again into t->train / t->eval. */
static int load_run(store *db, const char *path, run_config *cfg, trainer *t, grpo_err *err) {
    char *text = NULL;
    const int64_t id = store_run_id(db);
    int rc = store_query(db, "SELECT config_json AS config FROM runs WHERE run_id=?1", &id, 1, collect_string, &text, err);
    if (rc) return rc;
    if (!text) return grpo_errf(err, GRPO_EFORMAT, "%s: runs.config_json is missing", path);
    char where[4200];
    snprintf(where, sizeof where, "%s: runs.config_json", path);
    rc_defaults(cfg);
    rc = rc_apply_json(cfg, text, strlen(text), where, err);
    free(text);
    if (rc) return rc;
    t->cfg = cfg;
    if ((rc = load_data(t, err))) return grpo_err_prefix(err, "%s: the run's dataset (runs.config_json \"dataset\")", path);
    return GRPO_OK;
}

/* Every item of the run's dataset (train and eval), sorted by id for find_item. */
typedef struct {
    const tasks_item **by_id;
    size_t n;
} item_index;

static int cmp_item_id(const void *a, const void *b) {
    const int64_t x = (*(const tasks_item *const *)a)->id, y = (*(const tasks_item *const *)b)->id;
    return x < y ? -1 : x > y;
}

static int index_items(const trainer *t, item_index *ix, grpo_err *err) {
    ix->n = t->train.n + t->eval.n;
    if (!(ix->by_id = malloc((ix->n ? ix->n : 1) * sizeof *ix->by_id))) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->train.n; i++) ix->by_id[i] = &t->train.items[i];
    for (size_t i = 0; i < t->eval.n; i++) ix->by_id[t->train.n + i] = &t->eval.items[i];
    qsort(ix->by_id, ix->n, sizeof *ix->by_id, cmp_item_id);
    return GRPO_OK;
}

/* The item with this id, or NULL. */
static const tasks_item *find_item(const item_index *ix, int64_t id) {
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->by_id[mid]->id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < ix->n && ix->by_id[lo]->id == id ? ix->by_id[lo] : NULL;
}

/* ---- writing rows ---- */

static json_t *turn(const char *role, const char *content) {
    return json_pack("{s:s, s:s}", "role", role, "content", content);
}

/* [system?, user] of an item under the run's templates (malloc'd user text in *user). */
static json_t *prompt_turns(const run_config *cfg, const tasks_item *it, char **user, grpo_err *err) {
    *user = NULL;
    if (tasks_render_prompt(it, cfg->prompt_template, user, err)) return NULL;
    json_t *a = json_array();
    const char *sys = tasks_system_prompt(it, cfg->system_prompt[0] ? cfg->system_prompt : NULL);
    if (sys && *sys) json_array_append_new(a, turn("system", sys));
    json_array_append_new(a, turn("user", *user));
    return a;
}

/* Appends one JSON line to the growing buffer. */
static int emit(char **buf, size_t *n, size_t *cap, json_t *row, grpo_err *err) {
    char *line = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(row);
    if (!line) return grpo_errf(err, GRPO_ENOMEM, "out of memory writing a row");
    size_t len = strlen(line);
    if (*n + len + 2 > *cap) {
        size_t nc = *cap ? *cap : 1 << 16;
        while (nc < *n + len + 2) nc *= 2;
        char *p = realloc(*buf, nc);
        if (!p) {
            free(line);
            return grpo_errf(err, GRPO_ENOMEM, "out of memory writing rows");
        }
        *buf = p, *cap = nc;
    }
    memcpy(*buf + *n, line, len);
    (*buf)[*n + len] = '\n';
    *n += len + 1;
    free(line);
    return GRPO_OK;
}

/* ---- one prompt's completions: filters and rows ---- */

/* 1 when completion k of g[0..n) passes the filters (dedup against the kept ones before it). */
static int keep(const export_opts *o, const completion *g, int k, const int *kept) {
    const completion *c = &g[k];
    if (c->reward < o->min_reward) return 0;
    if (o->complete_only && !(c->stop && c->formatted)) return 0;
    if (o->dedup)
        for (int j = 0; j < k; j++)
            if (kept[j] && !strcmp(g[j].text, c->text)) return 0;
    return 1;
}

/* Writes the rows of one prompt's n completions g (sorted by step, sample). */
static int export_prompt(const export_opts *o, int fmt, const run_config *cfg, const tasks_item *it, completion *g, int n,
                         char **buf, size_t *len, size_t *cap, export_result *r, grpo_err *err) {
    double correct = 0;
    for (int k = 0; k < n; k++) correct += g[k].correct;
    const double pass = n ? correct / n : 0;
    char *user = NULL;
    int rc = GRPO_OK;
    if (o->pass_rate) {
        if (pass < o->pass_lo || pass > o->pass_hi) return GRPO_OK;
        json_t *row = json_pack("{s:s, s:s?, s:f, s:i}", "prompt", it->prompt, "answer", it->answer, "pass_rate", pass, "samples", n);
        r->rows_written++;
        return emit(buf, len, cap, row, err);
    }
    int *kept = calloc(n, sizeof *kept), nk = 0;
    if (!kept) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    for (int k = 0; k < n; k++)
        if ((o->max_per_prompt <= 0 || nk < o->max_per_prompt) && keep(o, g, k, kept)) kept[k] = 1, nk++;
    if (!nk) goto out;
    json_t *turns = prompt_turns(cfg, it, &user, err);
    if (!turns) {
        rc = err ? err->code : GRPO_ENOMEM;
        goto out;
    }
    if (fmt == FMT_OPENR1) {
        json_t *gens = json_array(), *ok = json_array(), *fin = json_array();
        for (int k = 0; k < n; k++) {
            if (!kept[k]) continue;
            json_array_append_new(gens, json_string(g[k].text));
            json_array_append_new(ok, json_boolean(g[k].correct));
            json_array_append_new(fin, json_string(g[k].stop ? "stop" : "length"));
        }
        json_t *row = json_pack("{s:s, s:s?, s:o, s:o, s:o}", "problem", user, "answer", it->answer, "generations", gens,
                                "correctness_math_verify", ok, "finish_reasons", fin);
        rc = emit(buf, len, cap, row, err);
        r->rows_written++;
        r->completions_written += nk;
    } else {
        for (int k = 0; k < n && !rc; k++) {
            if (!kept[k]) continue;
            json_t *row, *t2 = json_deep_copy(turns);
            if (fmt == FMT_MESSAGES) {
                json_array_append_new(t2, turn("assistant", g[k].text));
                row = json_pack("{s:o}", "messages", t2);
            } else {
                row = json_pack("{s:o, s:[o]}", "prompt", t2, "completion", turn("assistant", g[k].text));
            }
            rc = emit(buf, len, cap, row, err);
            r->rows_written++;
            r->completions_written++;
        }
    }
    json_decref(turns);
out:
    free(user);
    free(kept);
    return rc;
}

/* Judges every completion against its item: accuracy and the R1 format (item NULL: not found). */
static int judge(const trainer *t, completion *cs, size_t n, const tasks_item **items, const char *path, grpo_err *err) {
    rw_registry *reg = NULL;
    const char *names[2] = {"accuracy", "format"};
    item_index ix = {0};
    int rc = index_items(t, &ix, err);
    if (!rc) rc = rw_registry_new(&reg, names, NULL, 2, NULL, 0, 0, err);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!(items[i] = find_item(&ix, cs[i].prompt_id))) {
            rc = grpo_errf(err, GRPO_EINVAL, "%s: step %lld: prompt_id %lld is not an item of the run's dataset %s", path,
                           (long long)cs[i].step, (long long)cs[i].prompt_id, t->cfg->dataset);
            break;
        }
        long long nums[TASKS_MAX_NUMS];
        rw_item ri = reward_item(items[i], nums, 0);
        double comp[2];
        rw_registry_score(reg, &ri, cs[i].text, comp);
        cs[i].correct = comp[0] >= 1.0;
        cs[i].formatted = comp[1] >= 1.0;
    }
    rw_registry_free(reg);
    free(ix.by_id);
    return rc;
}

/* "min reward 1, complete only, ..." for the nothing-selected message. */
static void describe(const export_opts *o, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    if (o->pass_rate) sb_catf(out, cap, &n, "pass rate in [%g, %g]", o->pass_lo, o->pass_hi);
    if (!o->pass_rate && isfinite(o->min_reward)) sb_catf(out, cap, &n, "%smin reward %g", n ? ", " : "", o->min_reward);
    if (!o->pass_rate && o->complete_only) sb_catf(out, cap, &n, "%scomplete only", n ? ", " : "");
    if (!o->pass_rate && o->max_per_prompt > 0) sb_catf(out, cap, &n, "%sat most %d per prompt", n ? ", " : "", o->max_per_prompt);
    if (!o->pass_rate && o->dedup) sb_catf(out, cap, &n, "%sdedup", n ? ", " : "");
    if (!n) snprintf(out, cap, "no filter");
}

int export_run(const export_opts *o, const char *out_path, export_result *r, grpo_err *err) {
    memset(r, 0, sizeof *r);
    const int fmt = export_format_from_name(o->format);
    if (fmt < 0) return grpo_errf(err, GRPO_EINVAL, "--format %s: not messages, prompt-completion or openr1", o->format);
    if (o->step_lo > o->step_hi) return grpo_errf(err, GRPO_EINVAL, "--steps: the range is empty");
    store *db = NULL;
    trainer T = {0};
    run_config *cfg = malloc(sizeof *cfg);
    completions cs = {.err = err};
    const tasks_item **items = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = cfg ? store_open_read(&db, o->db, o->run, err) : grpo_errf(err, GRPO_ENOMEM, "out of memory");
    if (rc || (rc = load_run(db, o->db, cfg, &T, err))) goto done;
    const int64_t args[3] = {store_run_id(db), o->step_lo, o->step_hi};
    if ((rc = store_query(db,
                          "SELECT step, prompt_id, sample_index, completion_text, reward_total, finish_reason FROM rollouts"
                          " WHERE run_id=?1 AND step>=?2 AND step<=?3 ORDER BY prompt_id, step, sample_index",
                          args, 3, collect_completion, &cs, err)))
        goto done;
    if ((rc = cs.failed)) goto done;
    r->completions_read = (long long)cs.n;
    if (!(items = calloc(cs.n ? cs.n : 1, sizeof *items))) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = judge(&T, cs.c, cs.n, items, o->db, err))) goto done;
    for (size_t i = 0; i < cs.n && !rc;) {
        size_t j = i;
        while (j < cs.n && cs.c[j].prompt_id == cs.c[i].prompt_id) j++;
        r->prompts_read++;
        rc = export_prompt(o, fmt, cfg, items[i], cs.c + i, (int)(j - i), &buf, &len, &cap, r, err);
        i = j;
    }
    if (rc) goto done;
    if (r->rows_written == 0) {
        char f[256];
        describe(o, f, sizeof f);
        rc = grpo_errf(err, GRPO_EINVAL,
                       "%s: the export selects nothing: %lld completions of %lld prompts in the step range, none passes "
                       "the filters (%s); %s was not written",
                       o->db, r->completions_read, r->prompts_read, f, out_path);
        goto done;
    }
    rc = fs_write_file_atomic(out_path, buf, len, err);
done:
    for (size_t i = 0; i < cs.n; i++) free(cs.c[i].text);
    free(cs.c);
    free(items);
    free(buf);
    tasks_dataset_free(&T.train);
    tasks_dataset_free(&T.eval);
    if (db) store_close(db);
    free(cfg);
    return rc;
}
