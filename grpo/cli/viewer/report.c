/* grpo/cli/viewer/report.c: the one-file report (see report.h). Sections: reading the run through the
 * API (the same answers the server gives), choosing the steps whose rollouts fit, and writing the
 * HTML with the pages' CSS and script inline and the data in a JSON block that no text can close. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fsutil.h"
#include "assets.h"

/* ---------------------------------------------------------------- reading through the API */

/* api_json of route with "k=v" pairs (a NULL-terminated list of alternating keys and values). */
static json_t *get(viewer_api *a, const char *route, const char *const *kv, grpo_err *err) {
    viewer_query q = {0};
    for (int i = 0; kv && kv[i] && q.n < VIEWER_MAX_PARAMS; i += 2) q.key[q.n] = kv[i], q.val[q.n++] = kv[i + 1];
    json_t *o = NULL;
    int status = viewer_api_json(a, route, &q, &o);
    if (status == 200) return o;
    grpo_errf(err, status == 404 ? GRPO_EINVAL : GRPO_EIO, "report: /api/%s: %s", route,
              o ? json_string_value(json_object_get(o, "error")) : "out of memory");
    json_decref(o);
    return NULL;
}

/* Every step, paging through /api/steps. */
static json_t *all_steps(viewer_api *a, grpo_err *err) {
    json_t *steps = json_array();
    char after[32] = "-2";
    for (int more = 1; more && steps;) {
        const char *kv[] = {"after", after, "limit", "5000", NULL};
        json_t *r = get(a, "steps", kv, err);
        if (!r) {
            json_decref(steps);
            return NULL;
        }
        json_array_extend(steps, json_object_get(r, "steps"));
        more = json_is_true(json_object_get(r, "more"));
        snprintf(after, sizeof after, "%lld", (long long)json_integer_value(json_object_get(r, "last")));
        json_decref(r);
    }
    return steps;
}

/* The rollouts of step (at most cap), paging through /api/rollouts; merges their prompts into prompts. */
static json_t *step_rollouts(viewer_api *a, long long step, long long cap, json_t *prompts, grpo_err *err) {
    json_t *rows = json_array();
    char s[32], off[32], lim[32];
    snprintf(s, sizeof s, "%lld", step);
    for (long long o = 0; rows && (long long)json_array_size(rows) < cap;) {
        long long want = cap - (long long)json_array_size(rows);
        snprintf(off, sizeof off, "%lld", o);
        snprintf(lim, sizeof lim, "%lld", want < VIEWER_ROLLOUTS_MAX ? want : (long long)VIEWER_ROLLOUTS_MAX);
        const char *kv[] = {"step", s, "offset", off, "limit", lim, NULL};
        json_t *r = get(a, "rollouts", kv, err);
        if (!r) {
            json_decref(rows);
            return NULL;
        }
        json_t *page = json_object_get(r, "rollouts");
        size_t i;
        json_t *ro;
        json_array_foreach(page, i, ro) json_object_del(ro, "token_ids"); /* the token texts and logprobs stay */
        json_array_extend(rows, page);
        json_object_update(prompts, json_object_get(r, "prompts"));
        size_t got = json_array_size(page);
        o += (long long)got;
        long long total = json_integer_value(json_object_get(r, "total"));
        json_decref(r);
        if (!got || o >= total) break;
    }
    return rows;
}

/* ---------------------------------------------------------------- choosing steps */

/* The data object: run, steps, evals, the rollouts of steps spread over the run, prompts, cap. */
static json_t *report_data(viewer_api *a, long long max_rollouts, grpo_err *err) {
    json_t *run = get(a, "run", NULL, err), *steps = run ? all_steps(a, err) : NULL;
    const char *ekv[] = {"limit", "5000", NULL};
    json_t *evals = steps ? get(a, "evals", ekv, err) : NULL;
    json_t *data = evals ? json_object() : NULL, *by_step = json_object(), *prompts = json_object(), *chosen = json_array();
    long long total = run ? json_integer_value(json_object_get(run, "rollouts")) : 0, included = 0;
    size_t n = steps ? json_array_size(steps) : 0;
    int ok = data && by_step && prompts && chosen;
    /* whole steps, evenly spaced, first and last included, as many as the cap allows */
    double per = n ? (double)total / (double)n : 0;
    size_t k = per > 0 ? (size_t)((double)max_rollouts / per) : n;
    if (k > n) k = n;
    if (k == 0 && n && max_rollouts > 0) k = 1;
    for (size_t i = 0; ok && i < k; i++) {
        size_t idx = k == 1 ? n - 1 : (size_t)((double)i * (double)(n - 1) / (double)(k - 1) + 0.5);
        long long step = json_integer_value(json_object_get(json_array_get(steps, idx), "step"));
        char key[32];
        snprintf(key, sizeof key, "%lld", step);
        if (json_object_get(by_step, key) || included >= max_rollouts) continue;
        json_t *rows = step_rollouts(a, step, max_rollouts - included, prompts, err);
        if (!rows) {
            ok = 0;
            break;
        }
        included += (long long)json_array_size(rows);
        json_object_set_new(by_step, key, rows);
        json_array_append_new(chosen, json_integer(step));
    }
    char made[32];
    time_t now = time(NULL);
    strftime(made, sizeof made, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *cap = json_pack("{s:I,s:I,s:I,s:O,s:s}", "max_rollouts", (json_int_t)max_rollouts, "included",
                            (json_int_t)included, "total", (json_int_t)total, "steps", chosen, "made_at", made);
    if (ok && cap && !json_object_set(data, "run", run) && !json_object_set(data, "steps", steps) &&
        !json_object_set(data, "evals", json_object_get(evals, "evals")) && !json_object_set(data, "rollouts", by_step) &&
        !json_object_set(data, "prompts", prompts) && !json_object_set(data, "cap", cap)) {
    } else {
        if (ok) grpo_errf(err, GRPO_ENOMEM, "report: out of memory");
        json_decref(data);
        data = NULL;
    }
    json_decref(cap);
    json_decref(run);
    json_decref(steps);
    json_decref(evals);
    json_decref(by_step);
    json_decref(prompts);
    json_decref(chosen);
    return data;
}

/* ---------------------------------------------------------------- the HTML */

/* A growing text buffer. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 1 << 16;
        while (c < b->n + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* JSON text with '<', '>' and '&' written as \u escapes: valid JSON still, and no "</script>" or
 * "<!--" can appear in the block, whatever the completions hold. */
static void put_json_for_script(buf *b, const char *json) {
    for (const char *p = json; *p; p++) {
        if (*p == '<') puts_(b, "\\u003c");
        else if (*p == '>') puts_(b, "\\u003e");
        else if (*p == '&') puts_(b, "\\u0026");
        else put(b, p, 1);
    }
}

/* Text escaped for an HTML element's content. */
static void put_html_text(buf *b, const char *s) {
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '<': puts_(b, "&lt;"); break;
        case '>': puts_(b, "&gt;"); break;
        case '&': puts_(b, "&amp;"); break;
        case '"': puts_(b, "&quot;"); break;
        default: put(b, p, 1);
        }
    }
}

/* No network, no plugins, no frames; inline script and style only (the page's own, and the data). */
static const char REPORT_CSP[] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
                                 " img-src data:; base-uri 'none'; form-action 'none'";

int viewer_report_write(viewer_api *a, const char *path, long long max_rollouts, long long *included, long long *total,
                        grpo_err *err) {
    json_t *data = report_data(a, max_rollouts, err);
    if (!data) return err->code ? err->code : GRPO_ENOMEM;
    json_t *cap = json_object_get(data, "cap");
    if (included) *included = json_integer_value(json_object_get(cap, "included"));
    if (total) *total = json_integer_value(json_object_get(cap, "total"));
    char *json = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(7));
    buf b = {0};
    puts_(&b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta http-equiv=\"Content-Security-Policy\" content=\"");
    puts_(&b, REPORT_CSP);
    puts_(&b, "\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>grpo report: ");
    put_html_text(&b, json_string_value(json_object_get(json_object_get(data, "run"), "name")));
    puts_(&b, "</title>\n<style>\n");
    put(&b, VIEWER_APP_CSS, sizeof VIEWER_APP_CSS - 1);
    puts_(&b, "</style>\n</head>\n<body>\n<header id=\"nav\"></header>\n<div id=\"banner\"></div>\n"
              "<main id=\"main\"><p class=\"muted\">Loading…</p></main>\n"
              "<script type=\"application/json\" id=\"grpo-data\">");
    if (json) put_json_for_script(&b, json);
    puts_(&b, "</script>\n<script>\n");
    put(&b, VIEWER_APP_JS, sizeof VIEWER_APP_JS - 1);
    puts_(&b, "</script>\n</body>\n</html>\n");
    json_decref(data);
    int rc;
    if (!json || b.oom) rc = grpo_errf(err, GRPO_ENOMEM, "report: out of memory");
    else rc = fs_write_file_atomic(path, b.p, b.n, err);
    free(json);
    free(b.p);
    return rc;
}
