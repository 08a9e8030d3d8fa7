/* tasks/jsonl.c: loading datasets from JSONL. Each known format is a default field mapping plus a row
 * reader (GSM8K's "#### N", MATH's last \boxed{...}, HumanEval's tests, MBPP's test_list, stdin/stdout
 * cases, TinyZero's countdown rows); custom rows use the mapping alone. Every row is read and checked before
 * the dataset is handed over, and every problem is reported as file:line: field "name": what is wrong. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fsutil.h"
#include "internal.h"

/* ---------------------------------------------------------------- field mappings per format */

void tasks_fields_default(tasks_format format, tasks_fields *m) {
    memset(m, 0, sizeof *m);
    switch (format) {
    case TASKS_FORMAT_GSM8K: m->prompt = "question", m->answer = "answer"; break;
    case TASKS_FORMAT_MATH: m->prompt = "problem", m->answer = "answer", m->solution = "solution"; break;
    case TASKS_FORMAT_HUMANEVAL:
        m->prompt = "prompt", m->test = "test", m->entry_point = "entry_point", m->task_id = "task_id";
        m->solution = "canonical_solution";
        break;
    case TASKS_FORMAT_MBPP:
        m->prompt = "text|prompt", m->test = "test_list", m->task_id = "task_id", m->solution = "code";
        m->entry_point = "entry_point";
        break;
    case TASKS_FORMAT_STDIO:
        m->prompt = "prompt|question", m->inputs = "inputs", m->outputs = "outputs", m->task_id = "task_id";
        m->solution = "solution";
        break;
    case TASKS_FORMAT_COUNTDOWN: m->nums = "nums", m->target = "target", m->solution = "solution"; break;
    case TASKS_FORMAT_CUSTOM:
    case TASKS_FORMAT_GENERATED: m->prompt = "prompt", m->answer = "answer"; break;
    }
}

/* The format's defaults, each replaced by a non-NULL user entry; "" turns a field off. */
static tasks_fields fields_merge(tasks_format format, const tasks_fields *user) {
    tasks_fields m;
    tasks_fields_default(format, &m);
#define MERGE(field)                                  \
    if (user && user->field) m.field = user->field;   \
    if (m.field && !m.field[0]) m.field = NULL;
    MERGE(prompt) MERGE(answer) MERGE(solution) MERGE(system) MERGE(task_id) MERGE(test) MERGE(entry_point)
    MERGE(inputs) MERGE(outputs) MERGE(nums) MERGE(target)
#undef MERGE
    return m;
}

/* ---------------------------------------------------------------- reading one row */

typedef struct {
    const char *path;
    int line;
    grpo_err *err;
} row_ctx;

static const char *json_type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Error at the row: "path:line: field "name": <message>". */
static int row_err(const row_ctx *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int row_err(const row_ctx *c, const char *field, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return grpo_errf(c->err, GRPO_EFORMAT, "%s:%d: field \"%s\": %s", c->path, c->line, field, msg);
}

/* The first of the '|'-separated names present (and not null) in row; *used gets its name, or all the
 * names joined with "\" or \"" when none is present (for "field "text" or "prompt": missing"). */
static json_t *field_get(const json_t *row, const char *names, char *used, size_t cap) {
    const char *s = names;
    while (*s) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        char name[256];
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, s, len);
        name[len] = '\0';
        json_t *v = json_object_get(row, name);
        if (v && !json_is_null(v)) {
            snprintf(used, cap, "%s", name);
            return v;
        }
        s += len + (bar != NULL);
    }
    used[0] = '\0';
    size_t n = 0;
    for (s = names; *s; s++) /* the names tried, joined by " or " (cut at cap) */
        if ((*s == '|' ? sb_catf(used, cap, &n, "\" or \"") : sb_catn(used, cap, &n, s, 1)) < 0) break;
    return NULL;
}

/* A number as the shortest text that reads back as the same double. */
static void number_text(double x, char *out, size_t cap) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, x);
        if (strtod(out, NULL) == x) return;
    }
}

/* Reads a string field into a malloc'd *out. required: absent is an error; else *out stays NULL.
 * as_text: integers and reals are accepted and written as text. */
static int get_string(const row_ctx *c, const json_t *row, const char *names, int required, int as_text,
                      char **out) {
    *out = NULL;
    if (!names) return GRPO_OK;
    char used[512];
    json_t *v = field_get(row, names, used, sizeof used);
    if (!v) return required ? row_err(c, used, "missing") : GRPO_OK;
    char num[64];
    const char *s = NULL;
    if (json_is_string(v)) {
        s = json_string_value(v);
    } else if (as_text && json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        s = num;
    } else if (as_text && json_is_real(v)) {
        number_text(json_real_value(v), num, sizeof num);
        s = num;
    } else {
        return row_err(c, used, "expected %s, got %s", as_text ? "a string or a number" : "a string",
                       json_type_name(v));
    }
    if (required && !s[0]) return row_err(c, used, "empty");
    if (!(*out = strdup(s))) return grpo_errf(c->err, GRPO_ENOMEM, "%s:%d: out of memory", c->path, c->line);
    return GRPO_OK;
}

static void free_strings(char **a, int n) {
    for (int i = 0; i < n && a; i++) free(a[i]);
    free(a);
}

/* Reads an array of strings (at least one) into malloc'd *out[*n]; a string counts as a one-element array
 * when one_ok. label (when not NULL) names the field in messages instead of the name found. */
static int get_string_array(const row_ctx *c, const json_t *row, const char *names, const char *label, int one_ok,
                            char ***out, int *n) {
    *out = NULL, *n = 0;
    char used[512];
    json_t *v = field_get(row, names, used, sizeof used);
    const char *name = label ? label : used;
    if (!v) return row_err(c, name, "missing");
    if (one_ok && json_is_string(v)) {
        if (!(*out = calloc(1, sizeof **out)) || !((*out)[0] = strdup(json_string_value(v)))) {
            free(*out), *out = NULL;
            return grpo_errf(c->err, GRPO_ENOMEM, "%s:%d: out of memory", c->path, c->line);
        }
        *n = 1;
        return GRPO_OK;
    }
    if (!json_is_array(v)) return row_err(c, name, "expected an array of strings, got %s", json_type_name(v));
    size_t k = json_array_size(v);
    if (k == 0) return row_err(c, name, "empty array");
    if (k > 1000000) return row_err(c, name, "too many elements (%zu)", k);
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return row_err(c, name, "element %zu: expected a string, got %s", i, json_type_name(e));
    }
    char **a = calloc(k, sizeof *a);
    if (!a) return grpo_errf(c->err, GRPO_ENOMEM, "%s:%d: out of memory", c->path, c->line);
    for (size_t i = 0; i < k; i++) {
        if (!(a[i] = strdup(json_string_value(json_array_get(v, i))))) {
            for (size_t j = 0; j < i; j++) free(a[j]);
            free(a);
            return grpo_errf(c->err, GRPO_ENOMEM, "%s:%d: out of memory", c->path, c->line);
        }
    }
    *out = a, *n = (int)k;
    return GRPO_OK;
}

/* An integer that fits an int (a real with an integral value counts). */
static int json_to_int(const json_t *v, int *out) {
    double x;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < -1000000000 || i > 1000000000) return -1;
        *out = (int)i;
        return 0;
    }
    if (!json_is_real(v)) return -1;
    x = json_real_value(v);
    if (!(x >= -1e9 && x <= 1e9) || (double)(int)x != x) return -1;
    *out = (int)x;
    return 0;
}

/* ---------------------------------------------------------------- the formats */

/* GSM8K: the answer text ends in "#### N"; N is the answer, the whole text the worked solution. */
static int row_gsm8k(const row_ctx *c, const json_t *row, const tasks_fields *f, tasks_item *it) {
    if (!f->answer) return row_err(c, "answer", "missing (no answer field is mapped)");
    char *text = NULL;
    int rc = get_string(c, row, f->answer, 1, 0, &text);
    if (rc) return rc;
    char used[512];
    field_get(row, f->answer, used, sizeof used);
    const char *mark = NULL;
    for (const char *p = strstr(text, "####"); p; p = strstr(p + 1, "####")) mark = p;
    if (!mark) {
        free(text);
        return row_err(c, used, "no \"#### \" final answer");
    }
    const char *a = mark + 4, *e;
    while (*a == ' ' || *a == '\t') a++;
    for (e = a; *e && *e != '\n' && *e != '\r'; e++) {}
    while (e > a && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (e == a) {
        free(text);
        return row_err(c, used, "empty final answer after \"####\"");
    }
    if (!(it->answer = strndup(a, (size_t)(e - a)))) {
        free(text);
        return grpo_errf(c->err, GRPO_ENOMEM, "out of memory");
    }
    if (f->solution) { /* an explicitly mapped solution field wins over the answer text */
        free(text);
        return get_string(c, row, f->solution, 0, 0, &it->solution);
    }
    it->solution = text;
    return GRPO_OK;
}

/* MATH: the answer is an explicit answer field, else the last \boxed{...} of the solution. */
static int row_math(const row_ctx *c, const json_t *row, const tasks_fields *f, tasks_item *it) {
    int rc = get_string(c, row, f->solution, 0, 0, &it->solution);
    if (!rc) rc = get_string(c, row, f->answer, 0, 1, &it->answer);
    if (rc) return rc;
    char used[512];
    if (it->answer) {
        field_get(row, f->answer, used, sizeof used);
        return it->answer[0] ? GRPO_OK : row_err(c, used, "empty");
    }
    if (!f->solution) {
        field_get(row, f->answer ? f->answer : "answer", used, sizeof used);
        return row_err(c, used, "missing");
    }
    field_get(row, f->solution, used, sizeof used);
    if (!it->solution)
        return row_err(c, used, "missing (a MATH row needs a solution with \\boxed{...} or an \"%s\" field)",
                       f->answer ? f->answer : "answer");
    int found = tasks_last_boxed(it->solution, &it->answer);
    if (found < 0) return grpo_errf(c->err, GRPO_ENOMEM, "out of memory");
    if (!found || !it->answer[0]) return row_err(c, used, "no \\boxed{...} final answer");
    return GRPO_OK;
}

/* HumanEval: prompt (a function signature and docstring), test (defines check), entry_point. */
static int row_humaneval(const row_ctx *c, const json_t *row, const tasks_fields *f, tasks_item *it) {
    if (!f->test || !f->entry_point)
        return row_err(c, f->test ? "entry_point" : "test", "missing (no field is mapped)");
    int rc = get_string(c, row, f->test, 1, 0, &it->test);
    if (!rc) rc = get_string(c, row, f->entry_point, 1, 0, &it->entry_point);
    if (!rc) rc = get_string(c, row, f->solution, 0, 0, &it->solution);
    return rc;
}

static int ident_start(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static int ident_char(char ch) { return ident_start(ch) || (ch >= '0' && ch <= '9'); }

/* 1 when s contains name followed by '(' as a whole word. */
static int calls_name(const char *s, const char *name, size_t len) {
    for (const char *p = strstr(s, name); p; p = strstr(p + 1, name)) {
        if (p > s && (ident_char(p[-1]) || p[-1] == '.')) continue;
        const char *q = p + len;
        while (*q == ' ') q++;
        if (*q == '(') return 1;
    }
    return 0;
}

/* MBPP's function under test: the first function the reference code defines that the tests call, else the
 * first call in the tests that is not a builtin or a method. NULL when there is none (or oom). */
static char *mbpp_entry_point(const char *code, char **tests, int nt) {
    if (code) {
        for (const char *p = code; p; p = strchr(p, '\n')) {
            if (*p == '\n') p++;
            if (strncmp(p, "def ", 4)) continue;
            const char *s = p + 4, *e = s;
            while (ident_char(*e)) e++;
            if (e == s || e - s > 200) continue;
            char name[256];
            memcpy(name, s, (size_t)(e - s));
            name[e - s] = '\0';
            for (int i = 0; i < nt; i++)
                if (calls_name(tests[i], name, (size_t)(e - s))) return strdup(name);
        }
    }
    static const char *SKIP[] = {"assert", "set", "sorted", "list", "tuple", "dict", "str", "int", "float", "abs",
                                 "round", "len", "sum", "min", "max", "all", "any", "bool", "frozenset", "type",
                                 "isinstance", "repr", "not", "and", "or", "in", "is", "lambda", "range", "print"};
    for (int i = 0; i < nt; i++) {
        const char *s = tests[i];
        char quote = 0;
        for (const char *p = s; *p; p++) {
            if (quote) {
                if (*p == '\\' && p[1]) p++;
                else if (*p == quote) quote = 0;
                continue;
            }
            if (*p == '"' || *p == '\'') {
                quote = *p;
                continue;
            }
            if (!ident_start(*p) || (p > s && (ident_char(p[-1]) || p[-1] == '.'))) continue;
            const char *e = p;
            while (ident_char(*e)) e++;
            const char *q = e;
            while (*q == ' ') q++;
            size_t len = (size_t)(e - p);
            int skip = *q != '(';
            for (size_t k = 0; !skip && k < sizeof SKIP / sizeof *SKIP; k++)
                skip = strlen(SKIP[k]) == len && !memcmp(SKIP[k], p, len);
            if (!skip) return strndup(p, len);
            p = e - 1;
        }
    }
    return NULL;
}

/* MBPP: the prompt is the description plus the tests (so the function name is known); the tests become a
 * check(candidate) of asserts, after the row's imports and setup code. */
static int row_mbpp(const row_ctx *c, const json_t *row, const tasks_fields *f, tasks_item *it) {
    if (!f->test) return row_err(c, "test_list", "missing (no test field is mapped)");
    char **tests = NULL, **imports = NULL, *setup = NULL;
    int nt = 0, ni = 0, rc;
    rc = get_string_array(c, row, f->test, NULL, 1, &tests, &nt);
    if (!rc) rc = get_string(c, row, f->solution, 0, 0, &it->solution);
    if (!rc) rc = get_string(c, row, "test_setup_code", 0, 0, &setup);
    if (!rc && json_object_get(row, "test_imports") && !json_is_null(json_object_get(row, "test_imports"))) {
        json_t *ti = json_object_get(row, "test_imports");
        if (!json_is_array(ti) || json_array_size(ti) > 0) rc = get_string_array(c, row, "test_imports", NULL, 1, &imports, &ni);
    }
    if (!rc) rc = get_string(c, row, f->entry_point, 0, 0, &it->entry_point);
    if (!rc && !it->entry_point) {
        it->entry_point = mbpp_entry_point(it->solution, tests, nt);
        if (!it->entry_point) {
            char used[512];
            field_get(row, f->test, used, sizeof used);
            rc = row_err(c, used, "cannot tell which function the tests call");
        }
    }
    if (!rc) {
        strbuf t = {0}, p = {0};
        for (int i = 0; i < ni; i++) sb_addf(&t, "%s\n", imports[i]);
        if (setup && setup[0]) sb_addf(&t, "%s\n", setup);
        sb_add(&t, "\n\ndef check(candidate):\n");
        sb_add(&p, it->prompt);
        sb_add(&p, "\nYour code should pass these tests:\n");
        for (int i = 0; i < nt; i++) {
            for (const char *s = tests[i]; *s;) { /* indent every line of the test into check() */
                const char *e = strchr(s, '\n');
                size_t len = e ? (size_t)(e - s) : strlen(s);
                sb_add(&t, "    ");
                sb_addn(&t, s, len);
                sb_add(&t, "\n");
                s += len + (e != NULL);
            }
            sb_addf(&p, "%s\n", tests[i]);
        }
        char *np = sb_take(&p);
        it->test = sb_take(&t);
        if (!np || !it->test) {
            free(np);
            rc = grpo_errf(c->err, GRPO_ENOMEM, "out of memory");
        } else {
            free(it->prompt);
            it->prompt = np;
        }
    }
    free_strings(tests, nt), free_strings(imports, ni), free(setup);
    return rc;
}

/* Fills inputs/outputs from an object (or a JSON string holding one) {"inputs": [...], "outputs": [...]}. */
static int io_from_object(const row_ctx *c, const json_t *v, const char *name, tasks_item *it) {
    json_t *parsed = NULL;
    if (json_is_string(v)) {
        json_error_t je;
        parsed = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, &je);
        if (!parsed) return row_err(c, name, "not valid JSON inside the string: %s", je.text);
        v = parsed;
    }
    int n_in = 0, n_out = 0, rc = GRPO_OK;
    char **in = NULL, **out = NULL, label[600];
    if (!json_is_object(v))
        rc = row_err(c, name, "expected an object with \"inputs\" and \"outputs\", got %s", json_type_name(v));
    if (!rc) {
        snprintf(label, sizeof label, "%s.inputs", name);
        rc = get_string_array(c, v, "inputs", label, 0, &in, &n_in);
    }
    if (!rc) {
        snprintf(label, sizeof label, "%s.outputs", name);
        rc = get_string_array(c, v, "outputs", label, 0, &out, &n_out);
    }
    if (!rc && n_in != n_out) rc = row_err(c, name, "%d outputs for %d inputs", n_out, n_in);
    json_decref(parsed);
    if (rc) {
        free_strings(in, n_in), free_strings(out, n_out);
        return rc;
    }
    it->inputs = in, it->outputs = out, it->n_io = n_in;
    return GRPO_OK;
}

/* stdin/stdout code: inputs and outputs, equal in number; APPS's "input_output" is read when they are absent. */
static int row_stdio(const row_ctx *c, const json_t *row, const tasks_fields *f, tasks_item *it) {
    int rc = get_string(c, row, f->solution, 0, 0, &it->solution);
    if (rc) return rc;
    char used[512];
    if (f->inputs && !field_get(row, f->inputs, used, sizeof used)) {
        json_t *io = json_object_get(row, "input_output");
        if (io && !json_is_null(io)) return io_from_object(c, io, "input_output", it);
    }
    if (!f->inputs || !f->outputs) return row_err(c, f->inputs ? "outputs" : "inputs", "missing (no field is mapped)");
    int n_in = 0, n_out = 0;
    rc = get_string_array(c, row, f->inputs, NULL, 0, &it->inputs, &n_in);
    if (!rc) rc = get_string_array(c, row, f->outputs, NULL, 0, &it->outputs, &n_out);
    if (!rc && n_in != n_out) {
        field_get(row, f->outputs, used, sizeof used);
        rc = row_err(c, used, "%d outputs for %d inputs", n_out, n_in);
    }
    if (rc) {
        free_strings(it->inputs, n_in), free_strings(it->outputs, n_out);
        it->inputs = it->outputs = NULL;
        return rc;
    }
    it->n_io = n_in;
    return GRPO_OK;
}

/* countdown (TinyZero): nums (2..16 integers) and target; the prompt is TinyZero's when none is mapped. */
static int row_countdown(const row_ctx *c, const json_t *row, const tasks_fields *f, tasks_item *it) {
    char used[512];
    if (!f->nums || !f->target) return row_err(c, f->nums ? "target" : "nums", "missing (no field is mapped)");
    json_t *v = field_get(row, f->nums, used, sizeof used);
    if (!v) return row_err(c, used, "missing");
    if (!json_is_array(v)) return row_err(c, used, "expected an array of integers, got %s", json_type_name(v));
    size_t k = json_array_size(v);
    if (k < 2 || k > TASKS_MAX_NUMS) return row_err(c, used, "has %zu numbers, expected 2 to %d", k, TASKS_MAX_NUMS);
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(v, i);
        if (json_to_int(e, &it->nums[i]))
            return row_err(c, used, "element %zu: expected an integer (|x| <= 1e9), got %s", i,
                           json_is_number(e) ? "a number out of range or not integral" : json_type_name(e));
    }
    it->n_nums = (int)k;
    v = field_get(row, f->target, used, sizeof used);
    if (!v) return row_err(c, used, "missing");
    if (json_to_int(v, &it->target))
        return row_err(c, used, "expected an integer (|x| <= 1e9), got %s",
                       json_is_number(v) ? "a number out of range or not integral" : json_type_name(v));
    char num[32];
    snprintf(num, sizeof num, "%d", it->target);
    if (!(it->answer = strdup(num))) return grpo_errf(c->err, GRPO_ENOMEM, "out of memory");
    int rc = get_string(c, row, f->solution, 0, 0, &it->solution);
    if (!rc && it->prompt && !it->prompt[0]) free(it->prompt), it->prompt = NULL;
    if (!rc && !it->prompt && !(it->prompt = tk_countdown_prompt(it->nums, it->n_nums, it->target, 1)))
        rc = grpo_errf(c->err, GRPO_ENOMEM, "out of memory");
    return rc;
}

/* custom math rows: a prompt and an answer (string or number), nothing derived. */
static int row_custom_math(const row_ctx *c, const json_t *row, const tasks_fields *f, tasks_item *it) {
    if (!f->answer) return row_err(c, "answer", "missing (no answer field is mapped)");
    int rc = get_string(c, row, f->answer, 1, 1, &it->answer);
    if (!rc) rc = get_string(c, row, f->solution, 0, 0, &it->solution);
    return rc;
}

typedef int (*row_reader)(const row_ctx *, const json_t *, const tasks_fields *, tasks_item *);

/* The kind and reader of a format; custom infers the kind from the fields that are mapped. */
static void format_reader(tasks_format format, const tasks_fields *f, tasks_kind *kind, row_reader *read,
                          int *prompt_required) {
    *prompt_required = 1;
    switch (format) {
    case TASKS_FORMAT_GSM8K: *kind = TASKS_KIND_MATH, *read = row_gsm8k; return;
    case TASKS_FORMAT_MATH: *kind = TASKS_KIND_MATH, *read = row_math; return;
    case TASKS_FORMAT_HUMANEVAL: *kind = TASKS_KIND_CODE, *read = row_humaneval; return;
    case TASKS_FORMAT_MBPP: *kind = TASKS_KIND_CODE, *read = row_mbpp; return;
    case TASKS_FORMAT_STDIO: *kind = TASKS_KIND_CODE, *read = row_stdio; return;
    case TASKS_FORMAT_COUNTDOWN: *kind = TASKS_KIND_COUNTDOWN, *read = row_countdown, *prompt_required = 0; return;
    default: break;
    }
    if (f->nums || f->target) *kind = TASKS_KIND_COUNTDOWN, *read = row_countdown, *prompt_required = 0;
    else if (f->inputs) *kind = TASKS_KIND_CODE, *read = row_stdio;
    else if (f->test) *kind = TASKS_KIND_CODE, *read = row_humaneval;
    else *kind = TASKS_KIND_MATH, *read = row_custom_math;
}

/* Reads one parsed row into it (zeroed); on error it holds nothing. */
static int read_row(const row_ctx *c, const json_t *row, const tasks_fields *f, row_reader read,
                    int prompt_required, int64_t id, tasks_item *it) {
    memset(it, 0, sizeof *it);
    it->id = id, it->line = c->line;
    int rc = GRPO_OK;
    if (!f->prompt && prompt_required) rc = row_err(c, "prompt", "missing (no prompt field is mapped)");
    if (!rc) rc = get_string(c, row, f->prompt, prompt_required, 0, &it->prompt);
    if (!rc) rc = get_string(c, row, f->system, 0, 0, &it->system);
    if (!rc) rc = get_string(c, row, f->task_id, 0, 1, &it->task_id);
    if (!rc) rc = read(c, row, f, it);
    if (!rc && !it->task_id) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)id);
        if (!(it->task_id = strdup(num))) rc = grpo_errf(c->err, GRPO_ENOMEM, "out of memory");
    }
    if (rc) tk_item_clear(it);
    return rc;
}

/* ---------------------------------------------------------------- the file */

int tasks_load_jsonl(tasks_dataset *ds, const char *path, const tasks_fields *map, tasks_format format,
                     grpo_err *err) {
    memset(ds, 0, sizeof *ds);
    char *data = NULL;
    size_t len = 0;
    int rc = fs_read_file(path, &data, &len, err);
    if (rc) return rc;
    rc = tasks_load_jsonl_buffer(ds, path, data, len, map, format, err);
    free(data);
    return rc;
}

int tasks_load_jsonl_buffer(tasks_dataset *ds, const char *path, const char *data, size_t len,
                            const tasks_fields *map, tasks_format format, grpo_err *err) {
    memset(ds, 0, sizeof *ds);
    if (format == TASKS_FORMAT_GENERATED)
        return grpo_errf(err, GRPO_EINVAL, "%s: \"generated\" is not a file format", path);
    tasks_fields f = fields_merge(format, map);
    tasks_kind kind;
    row_reader read;
    int prompt_required;
    format_reader(format, &f, &kind, &read, &prompt_required);

    int rc = GRPO_OK;
    tasks_dataset out = {kind, format, NULL, 0};
    size_t cap = 0;
    const char *p = data ? data : "", *end = p + (data ? len : 0);
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    row_ctx c = {path, 0, err};
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        c.line++;
        const char *s = p;
        p = nl ? nl + 1 : end;
        size_t n = (size_t)(e - s);
        while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        size_t lead = 0;
        while (lead < n && (s[lead] == ' ' || s[lead] == '\t')) lead++;
        if (lead == n) continue; /* blank line */
        json_error_t je;
        json_t *row = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
        if (!row) {
            rc = grpo_errf(err, GRPO_EFORMAT, "%s:%d: not valid JSON: %s (column %d)", path, c.line, je.text,
                           je.column);
            break;
        }
        if (!json_is_object(row)) {
            rc = grpo_errf(err, GRPO_EFORMAT, "%s:%d: expected a JSON object, got %s", path, c.line,
                           json_type_name(row));
            json_decref(row);
            break;
        }
        if (out.n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            tasks_item *items = realloc(out.items, nc * sizeof *items);
            if (!items) {
                rc = grpo_errf(err, GRPO_ENOMEM, "%s:%d: out of memory", path, c.line);
                json_decref(row);
                break;
            }
            out.items = items, cap = nc;
        }
        rc = read_row(&c, row, &f, read, prompt_required, (int64_t)out.n, &out.items[out.n]);
        json_decref(row);
        if (!rc) out.n++;
    }
    if (!rc && out.n == 0) rc = grpo_errf(err, GRPO_EFORMAT, "%s: empty file: no JSONL rows", path);
    if (rc) {
        tasks_dataset_free(&out);
        return rc;
    }
    *ds = out;
    return GRPO_OK;
}

/* ---------------------------------------------------------------- \boxed{...} */

int tasks_last_boxed(const char *text, char **out) {
    *out = NULL;
    const char *best = NULL, *best_a = NULL;
    size_t best_len = 0;
    static const char *CMDS[] = {"\\boxed", "\\fbox"};
    for (size_t k = 0; k < 2; k++) {
        size_t cl = strlen(CMDS[k]);
        for (const char *p = strstr(text, CMDS[k]); p; p = strstr(p + 1, CMDS[k])) {
            const char *s = p + cl, *a, *e;
            if (*s == '{') {
                int depth = 0;
                for (e = s; *e; e++) {
                    if (*e == '\\' && e[1]) {
                        e++;
                        continue;
                    }
                    if (*e == '{') depth++;
                    else if (*e == '}' && --depth == 0) break;
                }
                if (!*e) continue; /* unbalanced: not a complete answer */
                a = s + 1;
            } else if (*s == ' ') { /* "\boxed 5" */
                a = s + 1;
                for (e = a; *e && *e != '$' && *e != ' ' && *e != '\n' && *e != '\\'; e++) {}
            } else {
                continue;
            }
            if (!best || p > best) best = p, best_a = a, best_len = (size_t)(e - a);
        }
    }
    if (!best) return 0;
    *out = strndup(best_a, best_len);
    return *out ? 1 : -GRPO_ENOMEM;
}
