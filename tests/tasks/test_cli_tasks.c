/* tests/tasks/test_cli_tasks.c: `grpo tasks show` prints items as JSON lines and reports a bad dataset row
 * as file:line: field before printing anything, with exit status 1. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_util.h"

#ifndef GRPO_BIN
#define GRPO_BIN "grpo"
#endif

static void show_prints_one_json_line_per_item(void) {
    char *fixture = tu_src("tests/fixtures/tasks/gsm8k.jsonl"), cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tasks show --data %s --format gsm8k --limit 2 --template 'Q: {prompt}' 2>/dev/null",
             GRPO_BIN, fixture);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 0), 0);
    CU_ASSERT(!strncmp(out, "{\"id\": 0, \"line\": 1, \"prompt\": \"Tom has 3 boxes", 45));
    CU_ASSERT(strstr(out, "\"rendered\": \"Q: Tom has 3 boxes") != NULL);
    CU_ASSERT(strstr(out, "\"answer\": \"36\"") != NULL);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 2);
    free(out), free(fixture);
    snprintf(cmd, sizeof cmd, "%s tasks show --generate countdown --n 3 --seed 1 --limit 0 2>&1", GRPO_BIN);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 0), 0);
    CU_ASSERT(strstr(out, "\"nums\": [") != NULL);
    CU_ASSERT(strstr(out, "grpo tasks: 3 items (kind countdown, format generated), 3 shown") != NULL);
    free(out);
}

static void show_reports_a_bad_row_as_file_line_field_and_prints_nothing(void) {
    char *dir = tu_tmpdir("tasks-cli");
    const char *rows = "{\"question\": \"a\", \"answer\": \"#### 1\"}\n{\"question\": \"b\"}\n";
    char *path = tu_write(dir, "train.jsonl", rows, strlen(rows)), cmd[8192], *out = NULL, want[8192];
    snprintf(cmd, sizeof cmd, "%s tasks show --data %s --format gsm8k", GRPO_BIN, path);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 1), 1);
    snprintf(want, sizeof want, "grpo tasks: error: %s:2: field \"answer\": missing\n", path);
    CU_ASSERT_STRING_EQUAL(out, want);
    free(out);
    snprintf(cmd, sizeof cmd, "%s tasks show --data %s --format gsm9k", GRPO_BIN, path);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 1), 2);
    CU_ASSERT(strstr(out, "unknown dataset format \"gsm9k\"") != NULL);
    free(out);
    unlink(path), rmdir(dir), free(path), free(dir);
}

void test_cli_tasks_register(void) {
    CU_pSuite s = CU_add_suite("tasks: grpo tasks show", NULL, NULL);
    CU_add_test(s, "show prints one JSON line per item", show_prints_one_json_line_per_item);
    CU_add_test(s, "show reports a bad row as file:line: field and prints nothing", show_reports_a_bad_row_as_file_line_field_and_prints_nothing);
}
