/* grpo/loops/sft_data.c: reading SFT rows (see sft_data.h): messages, prompt-completion and open-r1 rows. */
#include "sft_data.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"

typedef struct {
    const char *name;
    int line;
    grpo_err *err;
    sft_rows *out;
    size_t cap;
} reader;

static int bad(const reader *r, const char *field, const char *what) {
    return grpo_errf(r->err, GRPO_EFORMAT, "%s:%d: field \"%s\": %s", r->name, r->line, field, what);
}

/* Appends an empty row (zeroed, line set) and returns it, or NULL when out of memory. */
static sft_row *add_row(reader *r) {
    if (r->out->n == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 64;
        sft_row *nr = realloc(r->out->rows, nc * sizeof *nr);
        if (!nr) return NULL;
        r->out->rows = nr;
        r->cap = nc;
    }
    sft_row *row = &r->out->rows[r->out->n++];
    memset(row, 0, sizeof *row);
    row->line = r->line;
    return row;
}

static void row_free(sft_row *row) {
    for (int i = 0; i < row->n_turns; i++) free(row->roles[i]), free(row->contents[i]);
    free(row->roles);
    free(row->contents);
    free(row->completion);
}

/* Appends one prompt turn (copies role and content). */
static int add_turn(reader *r, sft_row *row, const char *role, const char *content) {
    char **ro = realloc(row->roles, (row->n_turns + 1) * sizeof *ro);
    if (ro) row->roles = ro;
    char **co = ro ? realloc(row->contents, (row->n_turns + 1) * sizeof *co) : NULL;
    if (co) row->contents = co;
    if (!ro || !co) return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    row->roles[row->n_turns] = strdup(role);
    row->contents[row->n_turns] = strdup(content);
    row->n_turns++;
    if (!row->roles[row->n_turns - 1] || !row->contents[row->n_turns - 1])
        return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    return GRPO_OK;
}

/* Checks that turn i of the array called field is {"role": system|user|assistant, "content": string}. */
static int check_turn(const reader *r, const char *field, json_t *m, size_t i, const char **role, const char **content) {
    char what[160];
    json_t *ro = json_is_object(m) ? json_object_get(m, "role") : NULL, *co = json_is_object(m) ? json_object_get(m, "content") : NULL;
    if (!json_is_string(ro) || !json_is_string(co)) {
        snprintf(what, sizeof what, "entry %zu must be an object with string \"role\" and \"content\"", i);
        return bad(r, field, what);
    }
    *role = json_string_value(ro);
    *content = json_string_value(co);
    if (strcmp(*role, "system") && strcmp(*role, "user") && strcmp(*role, "assistant")) {
        snprintf(what, sizeof what, "entry %zu has role \"%.40s\" (system, user or assistant)", i, *role);
        return bad(r, field, what);
    }
    return GRPO_OK;
}

/* {"messages": [...]}: the last assistant turn is the completion. */
static int read_messages(reader *r, json_t *msgs) {
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) return bad(r, "messages", "must be a non-empty array of turns");
    size_t n = json_array_size(msgs), last = n;
    const char *role, *content;
    for (size_t i = 0; i < n; i++) {
        int rc = check_turn(r, "messages", json_array_get(msgs, i), i, &role, &content);
        if (rc) return rc;
        if (!strcmp(role, "assistant")) last = i;
    }
    if (last == n) return bad(r, "messages", "has no assistant turn (nothing to learn)");
    sft_row *row = add_row(r);
    if (!row) return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    for (size_t i = 0; i < last; i++) {
        check_turn(r, "messages", json_array_get(msgs, i), i, &role, &content);
        int rc = add_turn(r, row, role, content);
        if (rc) return rc;
    }
    check_turn(r, "messages", json_array_get(msgs, last), last, &role, &content);
    if (!(row->completion = strdup(content))) return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    if (row->n_turns == 0) return bad(r, "messages", "has no turn before the assistant's (no prompt)");
    return GRPO_OK;
}

/* {"prompt": str | [turns], "completion": str | [one assistant turn]} */
static int read_prompt_completion(reader *r, json_t *p, json_t *c) {
    sft_row *row = add_row(r);
    if (!row) return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    const char *role, *content;
    int rc;
    if (json_is_string(p)) {
        if ((rc = add_turn(r, row, "user", json_string_value(p)))) return rc;
    } else if (json_is_array(p) && json_array_size(p) > 0) {
        for (size_t i = 0; i < json_array_size(p); i++) {
            if ((rc = check_turn(r, "prompt", json_array_get(p, i), i, &role, &content)) ||
                (rc = add_turn(r, row, role, content)))
                return rc;
        }
    } else {
        return bad(r, "prompt", "must be a string or a non-empty array of turns");
    }
    if (json_is_string(c)) {
        content = json_string_value(c);
    } else if (json_is_array(c) && json_array_size(c) == 1) {
        if ((rc = check_turn(r, "completion", json_array_get(c, 0), 0, &role, &content))) return rc;
        if (strcmp(role, "assistant")) return bad(r, "completion", "has no assistant turn (nothing to learn)");
    } else {
        return bad(r, "completion", "must be a string or an array of one assistant turn");
    }
    if (!(row->completion = strdup(content))) return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    return GRPO_OK;
}

/* open-r1: {"problem": str, "generations": [str], "correctness_math_verify": [bool]}: the correct generations. */
static int read_openr1(reader *r, json_t *obj, json_t *gens) {
    json_t *prob = json_object_get(obj, "problem");
    const char *pf = "problem";
    if (!prob) prob = json_object_get(obj, "prompt"), pf = "prompt";
    if (!json_is_string(prob)) return bad(r, pf, "must be a string (the problem of the generations)");
    if (!json_is_array(gens)) return bad(r, "generations", "must be an array of strings");
    json_t *ok = json_object_get(obj, "correctness_math_verify");
    if (ok && (!json_is_array(ok) || json_array_size(ok) != json_array_size(gens)))
        return bad(r, "correctness_math_verify", "must be an array of booleans, one per generation");
    for (size_t i = 0; i < json_array_size(gens); i++) {
        json_t *g = json_array_get(gens, i);
        if (!json_is_string(g)) return bad(r, "generations", "must be an array of strings");
        if (ok && !json_is_true(json_array_get(ok, i))) continue;
        sft_row *row = add_row(r);
        if (!row) return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
        int rc = add_turn(r, row, "user", json_string_value(prob));
        if (rc) return rc;
        if (!(row->completion = strdup(json_string_value(g))))
            return grpo_errf(r->err, GRPO_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    }
    return GRPO_OK;
}

/* One JSONL line: messages first, then prompt/completion, then open-r1 generations. */
static int read_line(reader *r, const char *text, size_t len) {
    json_error_t je;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!obj) return grpo_errf(r->err, GRPO_EFORMAT, "%s:%d: not valid JSON: %s", r->name, r->line, je.text);
    int rc;
    json_t *m = json_is_object(obj) ? json_object_get(obj, "messages") : NULL;
    json_t *p = json_is_object(obj) ? json_object_get(obj, "prompt") : NULL;
    json_t *c = json_is_object(obj) ? json_object_get(obj, "completion") : NULL;
    json_t *g = json_is_object(obj) ? json_object_get(obj, "generations") : NULL;
    if (!json_is_object(obj)) rc = grpo_errf(r->err, GRPO_EFORMAT, "%s:%d: a row must be a JSON object", r->name, r->line);
    else if (m) rc = read_messages(r, m);
    else if (c) rc = read_prompt_completion(r, p, c);
    else if (g) rc = read_openr1(r, obj, g);
    else if (p) rc = bad(r, "completion", "missing (a prompt row needs its completion)");
    else rc = bad(r, "messages", "missing (rows need \"messages\", \"prompt\"/\"completion\" or \"generations\")");
    json_decref(obj);
    return rc;
}

int sft_rows_load_buffer(sft_rows *out, const char *name, const char *data, size_t len, grpo_err *err) {
    memset(out, 0, sizeof *out);
    reader r = {.name = name, .err = err, .out = out};
    size_t i = 0;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) i = 3;
    int rc = GRPO_OK;
    while (i < len && !rc) {
        size_t j = i;
        while (j < len && data[j] != '\n') j++;
        r.line++;
        size_t k = i;
        while (k < j && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r')) k++;
        if (k < j) rc = read_line(&r, data + i, j - i);
        i = j + 1;
    }
    if (!rc && out->n == 0) rc = grpo_errf(err, GRPO_EINVAL, "%s: no SFT rows (every row was empty or had no correct generation)", name);
    if (rc) sft_rows_free(out);
    return rc;
}

int sft_rows_load(sft_rows *out, const char *path, grpo_err *err) {
    char *data;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = fs_read_file(path, &data, &len, err);
    if (rc) return rc;
    rc = sft_rows_load_buffer(out, path, data, len, err);
    free(data);
    return rc;
}

void sft_rows_free(sft_rows *r) {
    for (size_t i = 0; i < r->n; i++) row_free(&r->rows[i]);
    free(r->rows);
    memset(r, 0, sizeof *r);
}
