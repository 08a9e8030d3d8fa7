/* rewards/code.c: loading code problems and completions, running one completion's tests in the sandbox
 * (through the embedded harness for the check and calls forms, directly for stdin/stdout), reading the
 * harness's nonce-tagged records, and scoring many completions in parallel sandboxes. */
#define _GNU_SOURCE
#include "code.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "code_harness.h" /* CODE_HARNESS_PY, generated from rewards/code_harness.py */

void code_opts_default(code_opts *o) {
    sandbox_opts_default(&o->sandbox);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = n > 0 ? (int)n : 1;
    o->all_or_nothing = 0;
}

/* ---------------------------------------------------------------- loading */

static char *dup_field(const json_t *j, const char *key) {
    const char *s = json_string_value(json_object_get(j, key));
    return s ? strdup(s) : NULL;
}

static int string_array(const json_t *a, char ***out, int *n) {
    if (!json_is_array(a)) return -1;
    size_t k = json_array_size(a);
    *out = calloc(k ? k : 1, sizeof **out);
    for (size_t i = 0; i < k; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s) return (int)i + 1;
        (*out)[i] = strdup(s);
    }
    *n = (int)k;
    return 0;
}

void code_problem_free(code_problem *p) {
    free(p->task_id), free(p->prompt), free(p->test), free(p->entry_point);
    json_decref(p->calls);
    for (int i = 0; i < p->n_io; i++) {
        if (p->inputs) free(p->inputs[i]);
        if (p->outputs) free(p->outputs[i]);
    }
    free(p->inputs), free(p->outputs);
    memset(p, 0, sizeof *p);
}

int code_problem_from_json(code_problem *p, const json_t *j, const char *where, grpo_err *err) {
    memset(p, 0, sizeof *p);
    if (!json_is_object(j)) return grpo_errf(err, GRPO_EFORMAT, "%s: not a JSON object", where);
    p->task_id = dup_field(j, "task_id");
    if (!p->task_id) return grpo_errf(err, GRPO_EFORMAT, "%s: field 'task_id' is missing or not a string", where);
    p->prompt = dup_field(j, "prompt");
    if (!p->prompt) p->prompt = strdup("");
    if (json_object_get(j, "test")) {
        p->form = CODE_FORM_CHECK;
        p->test = dup_field(j, "test");
        p->entry_point = dup_field(j, "entry_point");
        if (!p->test || !p->entry_point) {
            code_problem_free(p);
            return grpo_errf(err, GRPO_EFORMAT, "%s: field '%s' is missing or not a string", where,
                             !json_string_value(json_object_get(j, "test")) ? "test" : "entry_point");
        }
        return GRPO_OK;
    }
    if (json_object_get(j, "calls")) {
        p->form = CODE_FORM_CALLS;
        p->entry_point = dup_field(j, "entry_point");
        json_t *c = json_object_get(j, "calls");
        int bad = !json_is_array(c);
        for (size_t i = 0; !bad && i < json_array_size(c); i++) {
            json_t *e = json_array_get(c, i);
            bad = !json_is_array(json_object_get(e, "args")) || !json_object_get(e, "expected");
        }
        if (!p->entry_point || bad) {
            code_problem_free(p);
            return grpo_errf(err, GRPO_EFORMAT, "%s: field '%s' is missing or malformed (calls: [{\"args\": [...], \"expected\": ...}])",
                             where, bad ? "calls" : "entry_point");
        }
        p->calls = json_incref(c);
        return GRPO_OK;
    }
    if (json_object_get(j, "inputs") || json_object_get(j, "outputs")) {
        p->form = CODE_FORM_STDIO;
        int ni = 0, no = 0;
        int bi = string_array(json_object_get(j, "inputs"), &p->inputs, &ni);
        int bo = string_array(json_object_get(j, "outputs"), &p->outputs, &no);
        p->n_io = ni < no ? ni : no;
        if (bi || bo || ni != no) {
            int nmax = ni > no ? ni : no;
            p->n_io = nmax; /* free what was allocated */
            const char *f = bi ? "inputs" : bo ? "outputs" : "outputs";
            code_problem_free(p);
            return grpo_errf(err, GRPO_EFORMAT, "%s: field '%s' must be an array of strings as long as the other", where, f);
        }
        return GRPO_OK;
    }
    code_problem_free(p);
    return grpo_errf(err, GRPO_EFORMAT, "%s: no tests: expected 'test'+'entry_point', 'calls', or 'inputs'+'outputs'", where);
}

/* Calls fn for every non-empty line of a JSONL file. */
static int each_line(const char *path, int (*fn)(void *ctx, const json_t *j, const char *where, grpo_err *err),
                     void *ctx, grpo_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return grpo_errf(err, GRPO_EIO, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long ln = 0;
    int rc = GRPO_OK;
    while (!rc && (got = getline(&line, &cap, f)) >= 0) {
        ln++;
        const char *s = line;
        while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') s++;
        if (!*s) continue;
        char where[4200];
        snprintf(where, sizeof where, "%s:%ld", path, ln);
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j) rc = grpo_errf(err, GRPO_EFORMAT, "%s: invalid JSON: %s", where, je.text);
        else rc = fn(ctx, j, where, err);
        json_decref(j);
    }
    free(line);
    fclose(f);
    return rc;
}

typedef struct { void **items; size_t n, cap, size; } vec;

static void *vec_push(vec *v) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        void *m = realloc(v->items, v->cap * v->size);
        if (!m) return NULL;
        v->items = m;
    }
    return (char *)v->items + v->size * v->n++;
}

static int add_problem(void *ctx, const json_t *j, const char *where, grpo_err *err) {
    vec *v = ctx;
    code_problem *p = vec_push(v);
    if (!p) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    int rc = code_problem_from_json(p, j, where, err);
    if (rc) v->n--;
    return rc;
}

static int add_completion(void *ctx, const json_t *j, const char *where, grpo_err *err) {
    vec *v = ctx;
    if (!json_is_object(j)) return grpo_errf(err, GRPO_EFORMAT, "%s: not a JSON object", where);
    const char *t = json_string_value(json_object_get(j, "task_id"));
    const char *c = json_string_value(json_object_get(j, "completion"));
    if (!t || !c)
        return grpo_errf(err, GRPO_EFORMAT, "%s: field '%s' is missing or not a string", where, !t ? "task_id" : "completion");
    code_completion *x = vec_push(v);
    if (!x) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    x->task_id = strdup(t);
    x->completion = strdup(c);
    return GRPO_OK;
}

int code_load_problems(const char *path, code_problem **out, size_t *n, grpo_err *err) {
    vec v = {NULL, 0, 0, sizeof(code_problem)};
    int rc = each_line(path, add_problem, &v, err);
    if (rc) {
        code_free_problems((code_problem *)v.items, v.n);
        return rc;
    }
    *out = (code_problem *)v.items;
    *n = v.n;
    return GRPO_OK;
}

int code_load_completions(const char *path, code_completion **out, size_t *n, grpo_err *err) {
    vec v = {NULL, 0, 0, sizeof(code_completion)};
    int rc = each_line(path, add_completion, &v, err);
    if (rc) {
        code_free_completions((code_completion *)v.items, v.n);
        return rc;
    }
    *out = (code_completion *)v.items;
    *n = v.n;
    return GRPO_OK;
}

void code_free_problems(code_problem *p, size_t n) {
    for (size_t i = 0; i < n; i++) code_problem_free(&p[i]);
    free(p);
}

void code_free_completions(code_completion *c, size_t n) {
    for (size_t i = 0; i < n; i++) free(c[i].task_id), free(c[i].completion);
    free(c);
}

/* ---------------------------------------------------------------- comparing values and outputs */

/* JSON equality where integers and reals compare as numbers (relative 1e-9). */
static int value_equal(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) return json_integer_value(a) == json_integer_value(b);
        double x = json_number_value(a), y = json_number_value(b);
        return fabs(x - y) <= 1e-9 * fmax(1.0, fmax(fabs(x), fabs(y)));
    }
    if (json_typeof(a) != json_typeof(b)) return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!value_equal(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !value_equal(v, w)) return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* Whitespace-normalized text: lines stripped, inner runs of blanks collapsed, trailing empty lines dropped. */
static char *norm_output(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(n + 1), *w = o;
    if (!o) return NULL;
    while (*s) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        const char *a = s, *b = e;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        int blank = 0;
        for (const char *q = a; q < b; q++) {
            int sp = *q == ' ' || *q == '\t' || *q == '\r';
            if (sp && blank) continue;
            *w++ = sp ? ' ' : *q;
            blank = sp;
        }
        *w++ = '\n';
        s = *e ? e + 1 : e;
    }
    while (w > o && w[-1] == '\n') w--;
    *w = '\0';
    return o;
}

/* ---------------------------------------------------------------- one completion */

static void make_nonce(char *out) {
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)(rand() ^ (int)(i * 131));
    for (size_t i = 0; i < sizeof b; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static char *concat(const char *a, const char *b) {
    size_t x = strlen(a), y = strlen(b);
    char *s = malloc(x + y + 1);
    if (!s) return NULL;
    memcpy(s, a, x);
    memcpy(s + x, b, y + 1);
    return s;
}

static void finish(code_result *r, const code_opts *o) {
    if (r->tampered || r->total <= 0) r->passed = 0;
    r->score = r->total > 0 ? (double)r->passed / r->total : 0.0;
    if (o->all_or_nothing) r->score = r->total > 0 && r->passed == r->total ? 1.0 : 0.0;
}

static int run_harness(const code_problem *p, const char *completion, const code_opts *o, int slot, code_result *r,
                       grpo_err *err) {
    char *program = concat(p->prompt, completion);
    json_t *spec = json_object();
    json_object_set_new(spec, "mode", json_string(p->form == CODE_FORM_CHECK ? "check" : "calls"));
    json_object_set_new(spec, "program", json_string(program ? program : ""));
    json_object_set_new(spec, "entry_point", json_string(p->entry_point));
    if (p->form == CODE_FORM_CHECK) {
        json_object_set_new(spec, "test", json_string(p->test));
    } else {
        json_t *args = json_array();
        for (size_t i = 0; i < json_array_size(p->calls); i++)
            json_array_append(args, json_object_get(json_array_get(p->calls, i), "args"));
        json_object_set_new(spec, "calls", args);
    }
    char *spec_s = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    free(program);
    if (!spec_s) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    char nonce[40];
    make_nonce(nonce);
    char stdin_line[48];
    snprintf(stdin_line, sizeof stdin_line, "%s\n", nonce);
    sandbox_file files[2] = {{"harness.py", CODE_HARNESS_PY, sizeof CODE_HARNESS_PY - 1}, {"spec.json", spec_s, strlen(spec_s)}};
    const char *argv[] = {o->sandbox.python, "-I", "-S", "/sandbox/harness.py", "/sandbox/spec.json", NULL};
    sandbox_result sr;
    int rc = sandbox_run(&o->sandbox, slot, files, 2, argv, stdin_line, strlen(stdin_line), &sr, err);
    free(spec_s);
    if (rc) return rc;
    r->timed_out = sr.timed_out;
    /* records: "<nonce> <json>" lines; the first (start) carries the total, written before untrusted code ran */
    int total = -1, cap = p->form == CODE_FORM_CALLS ? (int)json_array_size(p->calls) : 100000;
    unsigned char *ok = NULL, *bad = NULL;
    size_t nl = strlen(nonce);
    for (char *line = sr.out; line && *line;) {
        char *e = strchr(line, '\n');
        if (e) *e = '\0';
        if (!strncmp(line, nonce, nl) && line[nl] == ' ') {
            json_t *j = json_loads(line + nl + 1, 0, NULL);
            if (j) {
                if (total < 0 && json_is_true(json_object_get(j, "start"))) {
                    json_int_t t = json_integer_value(json_object_get(j, "total"));
                    total = t >= 0 && t <= cap ? (int)t : 0;
                    if (p->form == CODE_FORM_CALLS) total = cap;
                    ok = calloc((size_t)total + 1, 1), bad = calloc((size_t)total + 1, 1);
                } else if (json_is_true(json_object_get(j, "tampered"))) {
                    r->tampered = 1;
                } else if (total >= 0 && ok && bad && json_is_integer(json_object_get(j, "case"))) {
                    json_int_t i = json_integer_value(json_object_get(j, "case"));
                    if (i >= 0 && i < total) {
                        int pass;
                        if (p->form == CODE_FORM_CHECK) {
                            pass = json_is_true(json_object_get(j, "ok"));
                        } else {
                            json_t *v = json_object_get(j, "value");
                            pass = v && value_equal(v, json_object_get(json_array_get(p->calls, (size_t)i), "expected"));
                        }
                        if (pass) ok[i] = 1;
                        else bad[i] = 1;
                    }
                }
                json_decref(j);
            }
        }
        line = e ? e + 1 : NULL;
    }
    r->total = total > 0 ? total : (p->form == CODE_FORM_CALLS ? cap : 0);
    r->passed = 0;
    for (int i = 0; ok && bad && i < total; i++) r->passed += ok[i] && !bad[i];
    if (total < 0 && p->form == CODE_FORM_CHECK) r->total = 1; /* the harness never started: one failed case */
    free(ok), free(bad);
    sandbox_result_free(&sr);
    return GRPO_OK;
}

static int run_stdio(const code_problem *p, const char *completion, const code_opts *o, int slot, code_result *r,
                     grpo_err *err) {
    char *program = concat(p->prompt, completion);
    if (!program) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    sandbox_file f = {"prog.py", program, strlen(program)};
    const char *argv[] = {o->sandbox.python, "-I", "-S", "/sandbox/prog.py", NULL};
    r->total = p->n_io;
    int rc = GRPO_OK;
    for (int i = 0; i < p->n_io && !rc; i++) {
        sandbox_result sr;
        rc = sandbox_run(&o->sandbox, slot, &f, 1, argv, p->inputs[i], strlen(p->inputs[i]), &sr, err);
        if (rc) break;
        r->timed_out |= sr.timed_out;
        if (sr.exited && sr.exit_code == 0 && !sr.timed_out && !sr.output_overflow) {
            char *a = norm_output(sr.out), *b = norm_output(p->outputs[i]);
            if (a && b && !strcmp(a, b)) r->passed++;
            free(a), free(b);
        }
        sandbox_result_free(&sr);
    }
    free(program);
    return rc;
}

int code_score_one(const code_problem *p, const char *completion, const code_opts *o, int slot, code_result *r,
                   grpo_err *err) {
    memset(r, 0, sizeof *r);
    int rc = p->form == CODE_FORM_STDIO ? run_stdio(p, completion, o, slot, r, err)
                                        : run_harness(p, completion, o, slot, r, err);
    if (rc) {
        r->error = 1;
        return rc;
    }
    finish(r, o);
    return GRPO_OK;
}

/* ---------------------------------------------------------------- many completions */

int code_score_batch(const code_problem *probs, size_t np, const code_completion *comps, size_t nc,
                     const code_opts *o, code_result *res, grpo_err *err) {
    long *which = malloc((nc ? nc : 1) * sizeof *which);
    if (!which) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    for (size_t i = 0; i < nc; i++) {
        which[i] = -1;
        for (size_t k = 0; k < np && which[i] < 0; k++)
            if (!strcmp(probs[k].task_id, comps[i].task_id)) which[i] = (long)k;
        if (which[i] < 0) {
            free(which);
            return grpo_errf(err, GRPO_EINVAL, "completion %zu: unknown task_id '%s' (not among the problems)", i + 1,
                             comps[i].task_id);
        }
    }
    int rc = sandbox_check(&o->sandbox, err);
    if (rc) {
        free(which);
        return rc;
    }
    int first_err = -1;
    grpo_err e0 = {0};
    int workers = o->workers > 0 ? o->workers : 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(workers)
    for (long i = 0; i < (long)nc; i++) {
        grpo_err e = {0};
        if (code_score_one(&probs[which[i]], comps[i].completion, o, omp_get_thread_num(), &res[i], &e)) {
#pragma omp critical
            if (first_err < 0 || i < first_err) first_err = (int)i, e0 = e;
        }
    }
    free(which);
    if (first_err >= 0) {
        if (err) *err = e0;
        return grpo_err_prefix(err, "completion %d (%s)", first_err + 1, comps[first_err].task_id);
    }
    return GRPO_OK;
}
