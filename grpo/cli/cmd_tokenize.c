/* grpo/cli/cmd_tokenize.c: `grpo tokenize`: text to token ids and back with a tokenizer.json directory.
 *   --text STR            prints {"ids":[...]}
 *   --file F.jsonl        one JSON string per line in, one {"ids":[...]} line out, in order
 *   --decode              the input is ids instead: "1,2,3" or "[1,2,3]" for --text (prints the text),
 *                         a JSON array (or {"ids":[...]}) per line for --file (prints a JSON string per line) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/tokenizer/tokenizer.h"
#include "cli.h"

static const cli_opt OPTS[] = {
    {"--tokenizer", "DIR", NULL, "directory with tokenizer.json (and tokenizer_config.json); required"},
    {"--text", "STR", NULL, "one text to encode (or ids to decode)"},
    {"--file", "F.jsonl", NULL, "one JSON string per line to encode (or one JSON id array per line to decode)"},
    {"--decode", NULL, NULL, "decode ids to text instead of encoding"},
    {"--no-special", NULL, NULL, "encode special tokens' text as ordinary text / leave them out when decoding"},
    {NULL, NULL, NULL, NULL},
};
enum { O_TOK, O_TEXT, O_FILE, O_DECODE, O_NOSPECIAL };

static void print_ids(const int *ids, size_t n) {
    fputs("{\"ids\":[", stdout);
    for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    fputs("]}\n", stdout);
}

/* Parses "1,2,3" or a JSON array of integers (or {"ids": [...]}) into a malloc'd array. */
static int parse_ids(const char *s, int **ids, size_t *n, grpo_err *err) {
    json_error_t je;
    json_t *v = NULL;
    const char *p = s;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '[' || *p == '{') {
        v = json_loads(s, JSON_DECODE_ANY, &je);
        if (!v) return grpo_errf(err, GRPO_EINVAL, "not valid JSON (column %d: %s)", je.column, je.text);
        if (json_is_object(v)) {
            json_t *a = json_incref(json_object_get(v, "ids"));
            json_decref(v);
            v = a;
        }
        if (!json_is_array(v)) {
            json_decref(v);
            return grpo_errf(err, GRPO_EINVAL, "expected a JSON array of token ids");
        }
        *n = json_array_size(v);
        *ids = malloc((*n ? *n : 1) * sizeof **ids);
        if (!*ids) {
            json_decref(v);
            return grpo_errf(err, GRPO_ENOMEM, "out of memory reading %zu token ids", *n);
        }
        for (size_t i = 0; i < *n; i++) {
            json_t *x = json_array_get(v, i);
            if (!json_is_integer(x) || json_integer_value(x) < -2147483647LL || json_integer_value(x) > 2147483647LL) {
                json_decref(v);
                free(*ids);
                return grpo_errf(err, GRPO_EINVAL, "entry %zu is not an integer token id", i);
            }
            (*ids)[i] = (int)json_integer_value(x);
        }
        json_decref(v);
        return 0;
    }
    size_t cap = 16;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    if (!*ids) return grpo_errf(err, GRPO_ENOMEM, "out of memory reading token ids");
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < -2147483647L || x > 2147483647L) {
            free(*ids);
            return grpo_errf(err, GRPO_EINVAL, "entry %zu ('%.20s') is not an integer", *n, p);
        }
        if (*n == cap) {
            int *grown = realloc(*ids, (cap *= 2) * sizeof **ids);
            if (!grown) {
                free(*ids);
                *ids = NULL;
                return grpo_errf(err, GRPO_ENOMEM, "out of memory after %zu token ids", *n);
            }
            *ids = grown;
        }
        (*ids)[(*n)++] = (int)x;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p) {
            free(*ids);
            return grpo_errf(err, GRPO_EINVAL, "unexpected '%c' after entry %zu", *p, *n - 1);
        }
    }
    return 0;
}

/* Encodes or decodes one input; prints the result line. */
static int one(tok_tokenizer *t, const char *in, size_t len, int decode, int special, int json_out, grpo_err *err) {
    if (!decode) {
        int *ids;
        size_t n;
        int rc = tok_encode(t, in, len, special ? TOK_SPECIAL : 0, &ids, &n, err);
        if (rc) return rc;
        print_ids(ids, n);
        free(ids);
        return 0;
    }
    int *ids;
    size_t n;
    int rc = parse_ids(in, &ids, &n, err);
    if (rc) return rc;
    char *text;
    size_t tlen;
    rc = tok_decode(t, ids, n, special ? 0 : TOK_SKIP_SPECIAL, &text, &tlen, err);
    free(ids);
    if (rc) return rc;
    if (json_out) {
        json_t *s = json_stringn(text, tlen);
        char *d = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        if (d) puts(d);
        free(d);
        json_decref(s);
    } else {
        fwrite(text, 1, tlen, stdout);
        putchar('\n');
    }
    free(text);
    return 0;
}

static int run_file(const cli_cmd *cmd, tok_tokenizer *t, const char *path, int decode, int special) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "grpo tokenize: error: %s: cannot open\n", path);
        return CLI_EXIT_ERROR;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = 0;
    grpo_err err = {0};
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (got == 0) continue;
        if (decode) rc = one(t, line, (size_t)got, 1, special, 1, &err);
        else {
            json_error_t je;
            json_t *s = json_loadb(line, (size_t)got, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            if (!json_is_string(s)) rc = grpo_errf(&err, GRPO_EINVAL, "expected one JSON string per line");
            else rc = one(t, json_string_value(s), json_string_length(s), 0, special, 0, &err);
            json_decref(s);
        }
        if (rc) {
            fprintf(stderr, "grpo tokenize: error: %s:%zu: %s\n", path, lineno, err.msg);
            break;
        }
    }
    free(line);
    fclose(f);
    return rc ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

static int run(const cli_cmd *cmd, const char **v) {
    if (!v[O_TOK] || (!v[O_TEXT] == !v[O_FILE])) {
        fprintf(stderr, "grpo tokenize: --tokenizer and exactly one of --text or --file are required (see grpo "
                        "tokenize --help)\n");
        return CLI_EXIT_USAGE;
    }
    grpo_err err = {0};
    tok_tokenizer *t;
    if (tok_load(&t, v[O_TOK], &err)) return cli_fail(cmd, &err);
    int decode = v[O_DECODE] != NULL, special = v[O_NOSPECIAL] == NULL, rc;
    if (v[O_FILE]) rc = run_file(cmd, t, v[O_FILE], decode, special);
    else {
        int *ids;
        size_t n;
        if (decode && parse_ids(v[O_TEXT], &ids, &n, &err)) { /* bad ids are a usage error */
            fprintf(stderr, "grpo tokenize: option --text: %s\n", err.msg);
            rc = CLI_EXIT_USAGE;
        } else {
            if (decode) free(ids);
            rc = one(t, v[O_TEXT], strlen(v[O_TEXT]), decode, special, 0, &err) ? cli_fail(cmd, &err) : CLI_EXIT_OK;
        }
    }
    fflush(stdout);
    tok_free(t);
    return rc;
}

const cli_cmd cmd_tokenize = {
    .name = "tokenize",
    .summary = "Encode text to token ids ({\"ids\":[...]}) or decode ids to text with a tokenizer.json.",
    .usage = "--tokenizer DIR (--text STR | --file F.jsonl) [--decode] [--no-special]",
    .opts = OPTS,
    .run = run,
};
