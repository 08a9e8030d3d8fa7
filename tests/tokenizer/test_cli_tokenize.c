/* tests/tokenizer/test_cli_tokenize.c: `grpo tokenize` as a user meets it: ids for --text, one line per
 * input for --file, --decode back to text, and clear errors (exit 2 for usage, 1 for bad data). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "tests/test_util.h"
#include "tok_test.h"

static char *tmp, *demo;

/* Runs `grpo tokenize ARGS` (stderr merged when merge); checks the exit status and, when want is
 * given, that the output contains it. Returns the output (caller frees). */
static char *tokenize(const char *args, int merge, int want_rc, const char *want) {
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize %s", GRPO_BIN, args);
    int rc = tu_run(cmd, &out, merge);
    if (rc != want_rc || (want && !strstr(out, want)))
        fprintf(stderr, "\n  grpo tokenize %s -> %d (want %d)\n  output: %s\n  wanted: %s\n", args, rc, want_rc, out,
                want ? want : "");
    CU_ASSERT_EQUAL(rc, want_rc);
    if (want) CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    return out;
}

static void help_shows_usage(void) { free(tokenize("--help", 1, 0, "usage: grpo tokenize --tokenizer DIR")); }

static void text_prints_ids_and_decode_gives_the_text_back(void) {
    char args[4096];
    snprintf(args, sizeof args, "--tokenizer %s --text 'What is 12 + 7?<|im_end|>'", demo);
    char *out = tokenize(args, 0, 0, "{\"ids\":[");
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",2]}\n")); /* <|im_end|> is id 2 in the demo tokenizer */
    char *ids = strdup(strstr(out, "["));
    *strchr(ids, '}') = '\0';
    free(out);
    snprintf(args, sizeof args, "--tokenizer %s --decode --text '%s'", demo, ids);
    out = tokenize(args, 0, 0, NULL);
    CU_ASSERT_STRING_EQUAL(out, "What is 12 + 7?<|im_end|>\n");
    free(out);
    snprintf(args, sizeof args, "--tokenizer %s --decode --no-special --text '%s'", demo, ids);
    out = tokenize(args, 0, 0, NULL);
    CU_ASSERT_STRING_EQUAL(out, "What is 12 + 7?\n");
    free(out);
    free(ids);
}

static void file_prints_one_line_per_input_in_order(void) {
    const char *lines = "\"a\"\n\"\"\n\"7 + 8 = 15\\n<think>\"\n";
    char *f = tu_write(tmp, "in.jsonl", lines, strlen(lines));
    char args[4096];
    snprintf(args, sizeof args, "--tokenizer %s --file %s", demo, f);
    char *out = tokenize(args, 0, 0, NULL);
    CU_ASSERT_TRUE(!strncmp(out, "{\"ids\":[", 8));
    int n = 0;
    for (char *p = out; *p; p++) n += *p == '\n';
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n{\"ids\":[]}\n")); /* the empty string, second */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",3]}\n"));           /* <think> is id 3, last */
    free(out);
    const char *ids = "[38]\n{\"ids\":[2,38]}\n";
    char *g = tu_write(tmp, "ids.jsonl", ids, strlen(ids));
    snprintf(args, sizeof args, "--tokenizer %s --decode --file %s", demo, g);
    out = tokenize(args, 0, 0, NULL);
    CU_ASSERT_STRING_EQUAL(out, "\"@\"\n\"<|im_end|>@\"\n"); /* id 38 is "@" */
    free(out);
    free(f);
    free(g);
}

static void bad_input_is_reported_with_file_line_and_reason(void) {
    char args[4096];
    free(tokenize("--text hi", 1, 2, "--tokenizer and exactly one of --text or --file are required"));
    snprintf(args, sizeof args, "--tokenizer %s --text a --file b", demo);
    free(tokenize(args, 1, 2, "exactly one of --text or --file"));
    snprintf(args, sizeof args, "--tokenizer %s/none --text a", tmp);
    free(tokenize(args, 1, 1, "none/tokenizer.json"));
    snprintf(args, sizeof args, "--tokenizer %s --decode --text 1,2,5000", demo);
    free(tokenize(args, 1, 1, "token id 5000 at position 2 is outside the vocabulary (size 1024)"));
    snprintf(args, sizeof args, "--tokenizer %s --decode --text 1,x", demo);
    free(tokenize(args, 1, 2, "option --text: entry 1 ('x') is not an integer"));
    const char *lines = "\"ok\"\n42\n";
    char *f = tu_write(tmp, "bad.jsonl", lines, strlen(lines));
    snprintf(args, sizeof args, "--tokenizer %s --file %s", demo, f);
    char want[4200];
    snprintf(want, sizeof want, "%s:2: expected one JSON string per line", f);
    free(tokenize(args, 1, 1, want));
    free(f);
}

static int setup(void) {
    tmp = tu_tmpdir("tokcli");
    demo = tu_src("tests/fixtures/tokenizer/demo");
    return tmp ? 0 : 1;
}

static int teardown(void) {
    fs_remove_tree(tmp, NULL);
    free(tmp);
    free(demo);
    return 0;
}

void tok_suite_cli(void) {
    CU_pSuite s = CU_add_suite("grpo tokenize", setup, teardown);
    CU_add_test(s, "help shows usage", help_shows_usage);
    CU_add_test(s, "text prints ids and decode gives the text back", text_prints_ids_and_decode_gives_the_text_back);
    CU_add_test(s, "file prints one line per input in order", file_prints_one_line_per_input_in_order);
    CU_add_test(s, "bad input is reported with file, line and reason", bad_input_is_reported_with_file_line_and_reason);
}
