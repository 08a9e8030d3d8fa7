/* tests/tasks/test_load.c: JSONL datasets. Each known format loads its fixture with the right fields, the
 * field mapping renames and overrides, and every bad row fails the whole load with file:line: field "name". */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tasks/tasks.h"
#include "../test_util.h"

/* ---------------------------------------------------------------- helpers */

static void load_fixture(const char *name, tasks_format f, const tasks_fields *map, tasks_dataset *ds) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/tasks/%s", name);
    char *path = tu_src(rel);
    grpo_err err = {0};
    int rc = tasks_load_jsonl(ds, path, map, f, &err);
    if (rc) fprintf(stderr, "\n  %s\n", err.msg);
    free(path);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
}

/* Loads content (written to a fresh data.jsonl) and returns the dataset; fails the test on error. */
static void load_text(const char *content, size_t len, tasks_format f, const tasks_fields *map, tasks_dataset *ds) {
    char *dir = tu_tmpdir("tasks");
    char *path = tu_write(dir, "data.jsonl", content, len);
    grpo_err err = {0};
    int rc = tasks_load_jsonl(ds, path, map, f, &err);
    if (rc) fprintf(stderr, "\n  %s\n", err.msg);
    unlink(path), rmdir(dir), free(path), free(dir);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
}

/* Loads content and checks that the load fails with the message "<path><suffix>" (exactly, or as a prefix
 * when prefix_only) and leaves no dataset behind. */
static void expect_error_at(const char *content, tasks_format f, const tasks_fields *map, const char *suffix,
                            int prefix_only) {
    char *dir = tu_tmpdir("tasks");
    char *path = tu_write(dir, "data.jsonl", content, strlen(content));
    tasks_dataset ds = {TASKS_KIND_CODE, TASKS_FORMAT_MBPP, (tasks_item *)&ds, 99};
    grpo_err err = {0};
    int rc = tasks_load_jsonl(&ds, path, map, f, &err);
    CU_ASSERT_NOT_EQUAL(rc, GRPO_OK);
    CU_ASSERT_EQUAL(ds.n, 0);
    CU_ASSERT_PTR_NULL(ds.items);
    char want[2048];
    snprintf(want, sizeof want, "%s%s", path, suffix);
    int same = prefix_only ? !strncmp(err.msg, want, strlen(want)) : !strcmp(err.msg, want);
    if (!same) fprintf(stderr, "\n  got:  %s\n  want: %s%s\n", err.msg, want, prefix_only ? "..." : "");
    CU_ASSERT(same);
    unlink(path), rmdir(dir), free(path), free(dir);
}

static void expect_error(const char *content, tasks_format f, const tasks_fields *map, const char *suffix) {
    expect_error_at(content, f, map, suffix, 0);
}

/* ---------------------------------------------------------------- the known formats */

static void gsm8k_gives_question_final_answer_and_whole_solution(void) {
    tasks_dataset ds;
    load_fixture("gsm8k.jsonl", TASKS_FORMAT_GSM8K, NULL, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_MATH);
    CU_ASSERT_EQUAL(ds.format, TASKS_FORMAT_GSM8K);
    CU_ASSERT_EQUAL_FATAL(ds.n, 3);
    tasks_item *it = &ds.items[0];
    CU_ASSERT_EQUAL(it->id, 0);
    CU_ASSERT_EQUAL(it->line, 1);
    CU_ASSERT_STRING_EQUAL(it->prompt, "Tom has 3 boxes with 4 apples in each box. He eats 2 apples. How many apples are left?");
    CU_ASSERT_STRING_EQUAL(it->answer, "10");
    CU_ASSERT_STRING_EQUAL(it->solution, "Tom has 3*4=<<3*4=12>>12 apples.\nAfter eating 2, he has 12-2=<<12-2=10>>10 apples "
                                         "left.\n#### 10");
    CU_ASSERT_STRING_EQUAL(it->task_id, "0");
    CU_ASSERT_PTR_NULL(it->system);
    CU_ASSERT_PTR_NULL(it->test);
    CU_ASSERT_STRING_EQUAL(ds.items[1].answer, "36");
    CU_ASSERT_STRING_EQUAL(ds.items[2].answer, "2400");
    CU_ASSERT_EQUAL(ds.items[2].id, 2);
    tasks_dataset_free(&ds);
    CU_ASSERT_EQUAL(ds.n, 0);
}

static void math_answer_is_the_last_boxed_or_the_explicit_answer_field(void) {
    tasks_dataset ds;
    load_fixture("math.jsonl", TASKS_FORMAT_MATH, NULL, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_MATH);
    CU_ASSERT_EQUAL_FATAL(ds.n, 4);
    CU_ASSERT_STRING_EQUAL(ds.items[0].prompt, "What is $\\frac{1}{4} + \\frac{1}{4}$?");
    CU_ASSERT_STRING_EQUAL(ds.items[0].answer, "\\frac{1}{2}");
    CU_ASSERT_STRING_EQUAL(ds.items[0].solution, "Adding, $\\frac{1}{4}+\\frac{1}{4} = \\frac{2}{4} = \\boxed{\\frac{1}{2}}$.");
    CU_ASSERT_STRING_EQUAL(ds.items[1].answer, "3");          /* the last of two \boxed */
    CU_ASSERT_STRING_EQUAL(ds.items[2].answer, "\\{-2, 2\\}"); /* escaped braces do not end the box */
    CU_ASSERT_STRING_EQUAL(ds.items[3].answer, "1024");        /* an explicit "answer" wins */
    CU_ASSERT_STRING_EQUAL(ds.items[3].solution, "We have $2^{10} = 1024$.");
    tasks_dataset_free(&ds);
}

static void humaneval_keeps_prompt_test_entry_point_task_id_and_solution(void) {
    tasks_dataset ds;
    load_fixture("humaneval.jsonl", TASKS_FORMAT_HUMANEVAL, NULL, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_CODE);
    CU_ASSERT_EQUAL_FATAL(ds.n, 2);
    tasks_item *it = &ds.items[0];
    CU_ASSERT_STRING_EQUAL(it->task_id, "Tiny/0");
    CU_ASSERT_STRING_EQUAL(it->prompt, "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n");
    CU_ASSERT_STRING_EQUAL(it->test, "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n");
    CU_ASSERT_STRING_EQUAL(it->entry_point, "add");
    CU_ASSERT_STRING_EQUAL(it->solution, "    return a + b\n");
    CU_ASSERT_PTR_NULL(it->answer);
    CU_ASSERT_EQUAL(it->n_io, 0);
    CU_ASSERT_STRING_EQUAL(ds.items[1].entry_point, "is_even");
    tasks_dataset_free(&ds);
}

static void mbpp_prompt_lists_the_tests_and_the_tests_become_a_check_function(void) {
    tasks_dataset ds;
    load_fixture("mbpp.jsonl", TASKS_FORMAT_MBPP, NULL, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_CODE);
    CU_ASSERT_EQUAL_FATAL(ds.n, 2);
    tasks_item *a = &ds.items[0], *b = &ds.items[1];
    CU_ASSERT_STRING_EQUAL(a->task_id, "901");
    CU_ASSERT_STRING_EQUAL(a->prompt, "Write a function to find the largest of three numbers.\n"
                                      "Your code should pass these tests:\n"
                                      "assert max_of_three(1, 5, 3) == 5\n"
                                      "assert max_of_three(-1, -5, -3) == -1\n");
    CU_ASSERT_STRING_EQUAL(a->test, "\n\ndef check(candidate):\n"
                                    "    assert max_of_three(1, 5, 3) == 5\n"
                                    "    assert max_of_three(-1, -5, -3) == -1\n");
    CU_ASSERT_STRING_EQUAL(a->entry_point, "max_of_three"); /* the function the code defines and the tests call */
    CU_ASSERT_STRING_EQUAL(a->solution, "def max_of_three(a, b, c):\r\n  return max(a, b, c)");
    /* the sanitized layout: "prompt" instead of "text", imports before the tests */
    CU_ASSERT_STRING_EQUAL(b->task_id, "902");
    CU_ASSERT_STRING_EQUAL(b->prompt, "Write a function to compute the area of a circle of radius r.\n"
                                      "Your code should pass these tests:\n"
                                      "assert math.isclose(circle_area(1), 3.141592653589793, rel_tol=1e-9)\n");
    CU_ASSERT_STRING_EQUAL(b->test, "import math\n\n\ndef check(candidate):\n"
                                    "    assert math.isclose(circle_area(1), 3.141592653589793, rel_tol=1e-9)\n");
    CU_ASSERT_STRING_EQUAL(b->entry_point, "circle_area");
    tasks_dataset_free(&ds);
}

static void mbpp_entry_point_without_code_is_the_first_non_builtin_call(void) {
    const char *rows = "{\"text\": \"Sort a list.\", \"test_list\": [\"assert sorted(my_sort([3, 1])) == [1, 3]\", "
                       "\"assert 'x(' != my_sort([])\"]}\n";
    tasks_dataset ds;
    load_text(rows, strlen(rows), TASKS_FORMAT_MBPP, NULL, &ds);
    CU_ASSERT_STRING_EQUAL(ds.items[0].entry_point, "my_sort");
    tasks_dataset_free(&ds);
}

static void stdio_reads_inputs_and_outputs_or_apps_input_output(void) {
    tasks_dataset ds;
    load_fixture("stdio.jsonl", TASKS_FORMAT_STDIO, NULL, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_CODE);
    CU_ASSERT_EQUAL_FATAL(ds.n, 2);
    tasks_item *a = &ds.items[0], *b = &ds.items[1];
    CU_ASSERT_STRING_EQUAL(a->prompt, "Read two integers and print their sum.");
    CU_ASSERT_EQUAL_FATAL(a->n_io, 2);
    CU_ASSERT_STRING_EQUAL(a->inputs[1], "10 -3\n");
    CU_ASSERT_STRING_EQUAL(a->outputs[1], "7\n");
    CU_ASSERT_PTR_NULL(a->test);
    CU_ASSERT_PTR_NULL(a->entry_point);
    CU_ASSERT_STRING_EQUAL(a->solution, "a, b = map(int, input().split())\nprint(a + b)\n");
    CU_ASSERT_STRING_EQUAL(b->prompt, "Print the input line reversed."); /* "question" is the alternative */
    CU_ASSERT_EQUAL_FATAL(b->n_io, 1);
    CU_ASSERT_STRING_EQUAL(b->inputs[0], "abc\n");
    CU_ASSERT_STRING_EQUAL(b->outputs[0], "cba\n");
    tasks_dataset_free(&ds);
}

static void countdown_reads_nums_and_target_and_writes_tinyzero_prompt(void) {
    tasks_dataset ds;
    load_fixture("countdown.jsonl", TASKS_FORMAT_COUNTDOWN, NULL, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_COUNTDOWN);
    CU_ASSERT_EQUAL_FATAL(ds.n, 3);
    tasks_item *it = &ds.items[0];
    CU_ASSERT_EQUAL(it->n_nums, 3);
    CU_ASSERT_EQUAL(it->nums[0], 44);
    CU_ASSERT_EQUAL(it->nums[2], 35);
    CU_ASSERT_EQUAL(it->target, 98);
    CU_ASSERT_STRING_EQUAL(it->answer, "98");
    CU_ASSERT_STRING_EQUAL(it->prompt,
                           "Using the numbers [44, 19, 35], create an equation that equals 98. You can use basic "
                           "arithmetic operations (+, -, *, /) and each number can only be used once. Show your work "
                           "in <think> </think> tags. And return the final answer in <answer> </answer> tags, for "
                           "example <answer> (1 + 2) / 3 </answer>.");
    CU_ASSERT_EQUAL(ds.items[1].n_nums, 4);
    CU_ASSERT_EQUAL(ds.items[2].n_nums, 2);
    CU_ASSERT_PTR_NULL(it->solution);
    tasks_dataset_free(&ds);
}

static void code_prefix_is_the_humaneval_prompt_and_empty_otherwise(void) {
    tasks_dataset he, mb;
    load_fixture("humaneval.jsonl", TASKS_FORMAT_HUMANEVAL, NULL, &he);
    load_fixture("mbpp.jsonl", TASKS_FORMAT_MBPP, NULL, &mb);
    CU_ASSERT_PTR_EQUAL(tasks_code_prefix(&he, &he.items[0]), he.items[0].prompt); /* completion continues it */
    CU_ASSERT_STRING_EQUAL(tasks_code_prefix(&mb, &mb.items[0]), "");             /* completion is the program */
    tasks_dataset_free(&he), tasks_dataset_free(&mb);
}

static void rows_in_memory_load_like_a_file_and_errors_name_the_source(void) {
    const char rows[] = "{\"question\": \"q\", \"answer\": \"#### 3\"}\n{\"question\": 1}\n";
    tasks_dataset ds;
    grpo_err err = {0};
    /* the first line alone */
    CU_ASSERT_EQUAL_FATAL(tasks_load_jsonl_buffer(&ds, "<stdin>", rows, (size_t)(strchr(rows, '\n') - rows), NULL, TASKS_FORMAT_GSM8K, &err), GRPO_OK);
    CU_ASSERT_EQUAL(ds.n, 1);
    CU_ASSERT_STRING_EQUAL(ds.items[0].answer, "3");
    tasks_dataset copy;
    CU_ASSERT_EQUAL_FATAL(tasks_dataset_copy(&copy, &ds, &err), GRPO_OK);
    tasks_dataset_free(&ds);
    CU_ASSERT_STRING_EQUAL(copy.items[0].solution, "#### 3"); /* the copy owns its strings */
    tasks_dataset_free(&copy);
    CU_ASSERT_EQUAL(tasks_load_jsonl_buffer(&ds, "<stdin>", rows, sizeof rows - 1, NULL, TASKS_FORMAT_GSM8K, &err),
                    GRPO_EFORMAT);
    CU_ASSERT_STRING_EQUAL(err.msg, "<stdin>:2: field \"question\": expected a string, got an integer");
}

/* ---------------------------------------------------------------- the field mapping */

static void custom_mapping_reads_renamed_fields_and_numbers_as_text(void) {
    tasks_fields map = {.prompt = "q", .answer = "a", .system = "sys"};
    tasks_dataset ds;
    load_fixture("custom.jsonl", TASKS_FORMAT_CUSTOM, &map, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_MATH);
    CU_ASSERT_EQUAL_FATAL(ds.n, 3);
    CU_ASSERT_STRING_EQUAL(ds.items[0].prompt, "What is 6 times 7?");
    CU_ASSERT_STRING_EQUAL(ds.items[0].answer, "42");
    CU_ASSERT_STRING_EQUAL(ds.items[0].system, "Answer with a number.");
    CU_ASSERT_STRING_EQUAL(ds.items[1].answer, "2.5");
    CU_ASSERT_STRING_EQUAL(ds.items[2].answer, "Paris");
    CU_ASSERT_PTR_NULL(ds.items[2].system); /* an optional field may be absent */
    tasks_dataset_free(&ds);
}

static void mapping_overrides_one_field_of_a_known_format(void) {
    /* GSM8K semantics ("#### N"), but the question lives in "problem" */
    const char *rows = "{\"problem\": \"1+1?\", \"answer\": \"1+1=2\\n#### 2\"}\n";
    tasks_fields map = {.prompt = "problem"};
    tasks_dataset ds;
    load_text(rows, strlen(rows), TASKS_FORMAT_GSM8K, &map, &ds);
    CU_ASSERT_STRING_EQUAL(ds.items[0].prompt, "1+1?");
    CU_ASSERT_STRING_EQUAL(ds.items[0].answer, "2");
    tasks_dataset_free(&ds);
    /* alternatives: the first name present is used */
    map.prompt = "query|problem";
    load_text(rows, strlen(rows), TASKS_FORMAT_GSM8K, &map, &ds);
    CU_ASSERT_STRING_EQUAL(ds.items[0].prompt, "1+1?");
    tasks_dataset_free(&ds);
}

static void custom_mapping_with_tests_or_numbers_picks_the_kind(void) {
    const char *code = "{\"p\": \"def f():\\n\", \"t\": \"def check(c):\\n    assert c() == 1\\n\", \"e\": \"f\"}\n";
    tasks_fields cm = {.prompt = "p", .test = "t", .entry_point = "e"};
    tasks_dataset ds;
    load_text(code, strlen(code), TASKS_FORMAT_CUSTOM, &cm, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_CODE);
    CU_ASSERT_STRING_EQUAL(ds.items[0].entry_point, "f");
    CU_ASSERT_PTR_NULL(ds.items[0].answer);
    tasks_dataset_free(&ds);
    const char *cd = "{\"numbers\": [2, 3], \"goal\": 6, \"prompt\": \"Make 6 from 2 and 3.\"}\n";
    tasks_fields dm = {.prompt = "prompt", .nums = "numbers", .target = "goal"};
    load_text(cd, strlen(cd), TASKS_FORMAT_CUSTOM, &dm, &ds);
    CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_COUNTDOWN);
    CU_ASSERT_EQUAL(ds.items[0].target, 6);
    CU_ASSERT_STRING_EQUAL(ds.items[0].prompt, "Make 6 from 2 and 3."); /* a mapped prompt is kept */
    tasks_dataset_free(&ds);
}

static void blank_lines_crlf_and_a_utf8_bom_are_tolerated(void) {
    const char rows[] = "\xEF\xBB\xBF{\"question\": \"a\", \"answer\": \"#### 1\"}\r\n"
                        "\r\n"
                        "   \n"
                        "{\"question\": \"b\", \"answer\": \"#### 2\"}\r\n"
                        "\n";
    tasks_dataset ds;
    load_text(rows, sizeof rows - 1, TASKS_FORMAT_GSM8K, NULL, &ds);
    CU_ASSERT_EQUAL_FATAL(ds.n, 2);
    CU_ASSERT_STRING_EQUAL(ds.items[0].prompt, "a");
    CU_ASSERT_STRING_EQUAL(ds.items[1].answer, "2");
    CU_ASSERT_EQUAL(ds.items[1].id, 1);   /* ids count rows */
    CU_ASSERT_EQUAL(ds.items[1].line, 4); /* lines count lines */
    tasks_dataset_free(&ds);
}

static void last_boxed_is_brace_balanced(void) {
    struct { const char *text, *want; } cases[] = {
        {"so $\\boxed{\\frac{a}{b}}$.", "\\frac{a}{b}"},
        {"\\boxed{1} then \\boxed{2}", "2"},
        {"\\fbox{x^{2}}", "x^{2}"},
        {"answer $\\boxed 5$", "5"},
        {"\\boxed{7} and a cut-off \\boxed{8", "7"}, /* an unbalanced last box is not an answer */
        {"no box here", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out = NULL;
        int found = tasks_last_boxed(cases[i].text, &out);
        CU_ASSERT_EQUAL(found, cases[i].want != NULL);
        if (cases[i].want && out) CU_ASSERT_STRING_EQUAL(out, cases[i].want);
        if (!cases[i].want) CU_ASSERT_PTR_NULL(out);
        free(out);
    }
}

/* ---------------------------------------------------------------- bad input: file:line: field */

static void a_non_json_line_names_file_and_line(void) {
    expect_error_at("{\"question\": \"a\", \"answer\": \"#### 1\"}\n"
                    "{\"question\": \"b\", \"answer\": \"#### 2\"}\n"
                    "{\"question\": \"c\", \"answer\": \n",
                    TASKS_FORMAT_GSM8K, NULL, ":3: not valid JSON: ", 1);
    expect_error_at("question: what?\n", TASKS_FORMAT_GSM8K, NULL, ":1: not valid JSON: ", 1);
    expect_error_at("{\"question\": \"a\", \"question\": \"b\", \"answer\": \"#### 1\"}\n", TASKS_FORMAT_GSM8K, NULL,
                    ":1: not valid JSON: duplicate object key", 1);
}

static void a_row_that_is_not_an_object_is_an_error(void) {
    expect_error("[1, 2]\n", TASKS_FORMAT_GSM8K, NULL, ":1: expected a JSON object, got an array");
    expect_error("\"text\"\n", TASKS_FORMAT_MATH, NULL, ":1: expected a JSON object, got a string");
}

static void a_row_missing_its_answer_names_the_field(void) {
    expect_error("{\"question\": \"a\", \"answer\": \"#### 1\"}\n\n{\"question\": \"b\"}\n", TASKS_FORMAT_GSM8K, NULL,
                 ":3: field \"answer\": missing");
    expect_error("{\"question\": \"b\", \"answer\": null}\n", TASKS_FORMAT_GSM8K, NULL, ":1: field \"answer\": missing");
    expect_error("{\"question\": \"b\", \"answer\": \"it is 4\"}\n", TASKS_FORMAT_GSM8K, NULL,
                 ":1: field \"answer\": no \"#### \" final answer");
    expect_error("{\"question\": \"b\", \"answer\": \"so\\n####  \\n\"}\n", TASKS_FORMAT_GSM8K, NULL,
                 ":1: field \"answer\": empty final answer after \"####\"");
    expect_error("{\"problem\": \"p\", \"solution\": \"it is 4\"}\n", TASKS_FORMAT_MATH, NULL,
                 ":1: field \"solution\": no \\boxed{...} final answer");
    expect_error("{\"problem\": \"p\"}\n", TASKS_FORMAT_MATH, NULL,
                 ":1: field \"solution\": missing (a MATH row needs a solution with \\boxed{...} or an \"answer\" field)");
    tasks_fields map = {.prompt = "q", .answer = "a"};
    expect_error("{\"q\": \"x\", \"a\": 1}\n{\"q\": \"y\"}\n", TASKS_FORMAT_CUSTOM, &map, ":2: field \"a\": missing");
    tasks_fields off = {.answer = ""}; /* "" turns a field off: the row then has no answer */
    expect_error("{\"question\": \"a\", \"answer\": \"#### 1\"}\n", TASKS_FORMAT_GSM8K, &off,
                 ":1: field \"answer\": missing (no answer field is mapped)");
}

static void a_field_of_the_wrong_type_names_both_types(void) {
    expect_error("{\"question\": 5, \"answer\": \"#### 1\"}\n", TASKS_FORMAT_GSM8K, NULL,
                 ":1: field \"question\": expected a string, got an integer");
    expect_error("{\"question\": \"q\", \"answer\": [\"#### 1\"]}\n", TASKS_FORMAT_GSM8K, NULL,
                 ":1: field \"answer\": expected a string, got an array");
    expect_error("{\"problem\": \"p\", \"answer\": true}\n", TASKS_FORMAT_MATH, NULL,
                 ":1: field \"answer\": expected a string or a number, got a boolean");
    expect_error("{\"question\": \"\", \"answer\": \"#### 1\"}\n", TASKS_FORMAT_GSM8K, NULL,
                 ":1: field \"question\": empty");
}

static void an_empty_file_is_an_error(void) {
    expect_error("", TASKS_FORMAT_GSM8K, NULL, ": empty file: no JSONL rows");
    expect_error("\n  \n\r\n", TASKS_FORMAT_GSM8K, NULL, ": empty file: no JSONL rows");
    expect_error("\xEF\xBB\xBF", TASKS_FORMAT_MATH, NULL, ": empty file: no JSONL rows");
}

static void a_missing_file_is_an_error(void) {
    tasks_dataset ds;
    grpo_err err = {0};
    CU_ASSERT_EQUAL(tasks_load_jsonl(&ds, "/nonexistent/train.jsonl", NULL, TASKS_FORMAT_GSM8K, &err), GRPO_EIO);
    CU_ASSERT_STRING_EQUAL(err.msg, "/nonexistent/train.jsonl: cannot open: No such file or directory");
    CU_ASSERT_EQUAL(ds.n, 0);
}

static void code_rows_missing_tests_name_the_field(void) {
    expect_error("{\"task_id\": \"T/0\", \"prompt\": \"def f():\\n\", \"test\": \"def check(c): pass\"}\n",
                 TASKS_FORMAT_HUMANEVAL, NULL, ":1: field \"entry_point\": missing");
    expect_error("{\"text\": \"Do it.\", \"test_list\": []}\n", TASKS_FORMAT_MBPP, NULL,
                 ":1: field \"test_list\": empty array");
    expect_error("{\"test_list\": [\"assert f(1) == 1\"]}\n", TASKS_FORMAT_MBPP, NULL,
                 ":1: field \"text\" or \"prompt\": missing");
    expect_error("{\"text\": \"Do it.\", \"test_list\": [\"assert 1 == 1\"]}\n", TASKS_FORMAT_MBPP, NULL,
                 ":1: field \"test_list\": cannot tell which function the tests call");
    expect_error("{\"prompt\": \"Echo.\", \"inputs\": [\"a\", \"b\"], \"outputs\": [\"a\"]}\n", TASKS_FORMAT_STDIO, NULL,
                 ":1: field \"outputs\": 1 outputs for 2 inputs");
    expect_error("{\"prompt\": \"Echo.\", \"inputs\": [\"a\", 2], \"outputs\": [\"a\", \"2\"]}\n", TASKS_FORMAT_STDIO,
                 NULL, ":1: field \"inputs\": element 1: expected a string, got an integer");
    expect_error("{\"prompt\": \"Echo.\", \"input_output\": \"{\\\"inputs\\\": [[1]], \\\"outputs\\\": [\\\"1\\\"]}\"}\n",
                 TASKS_FORMAT_STDIO, NULL, ":1: field \"input_output.inputs\": element 0: expected a string, got an array");
    expect_error("{\"prompt\": \"Echo.\"}\n", TASKS_FORMAT_STDIO, NULL, ":1: field \"inputs\": missing");
}

static void countdown_rows_with_bad_numbers_name_the_field(void) {
    expect_error("{\"nums\": [1, \"2\", 3], \"target\": 6}\n", TASKS_FORMAT_COUNTDOWN, NULL,
                 ":1: field \"nums\": element 1: expected an integer (|x| <= 1e9), got a string");
    expect_error("{\"nums\": [1, 2.5], \"target\": 6}\n", TASKS_FORMAT_COUNTDOWN, NULL,
                 ":1: field \"nums\": element 1: expected an integer (|x| <= 1e9), got a number out of range or not integral");
    expect_error("{\"nums\": [4], \"target\": 4}\n", TASKS_FORMAT_COUNTDOWN, NULL,
                 ":1: field \"nums\": has 1 numbers, expected 2 to 16");
    expect_error("{\"nums\": [1, 2, 3]}\n", TASKS_FORMAT_COUNTDOWN, NULL, ":1: field \"target\": missing");
    expect_error("{\"nums\": {\"a\": 1}, \"target\": 3}\n", TASKS_FORMAT_COUNTDOWN, NULL,
                 ":1: field \"nums\": expected an array of integers, got an object");
}

static void format_names_parse_and_unknown_ones_are_listed(void) {
    tasks_format f;
    grpo_err err = {0};
    CU_ASSERT_EQUAL(tasks_format_parse("mbpp", &f, &err), GRPO_OK);
    CU_ASSERT_EQUAL(f, TASKS_FORMAT_MBPP);
    CU_ASSERT_STRING_EQUAL(tasks_format_name(f), "mbpp");
    CU_ASSERT_STRING_EQUAL(tasks_kind_name(TASKS_KIND_COUNTDOWN), "countdown");
    CU_ASSERT_EQUAL(tasks_format_parse("gsm9k", &f, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "unknown dataset format \"gsm9k\" (known: gsm8k, math, humaneval, mbpp, stdio, "
                                    "countdown, custom)");
}

void test_load_register(void) {
    CU_pSuite s = CU_add_suite("tasks: loading JSONL", NULL, NULL);
    CU_add_test(s, "gsm8k gives question, final answer and whole solution", gsm8k_gives_question_final_answer_and_whole_solution);
    CU_add_test(s, "math answer is the last boxed or the explicit answer field", math_answer_is_the_last_boxed_or_the_explicit_answer_field);
    CU_add_test(s, "humaneval keeps prompt, test, entry point, task id and solution", humaneval_keeps_prompt_test_entry_point_task_id_and_solution);
    CU_add_test(s, "mbpp prompt lists the tests and the tests become a check function", mbpp_prompt_lists_the_tests_and_the_tests_become_a_check_function);
    CU_add_test(s, "mbpp entry point without code is the first non-builtin call", mbpp_entry_point_without_code_is_the_first_non_builtin_call);
    CU_add_test(s, "stdio reads inputs and outputs or APPS input_output", stdio_reads_inputs_and_outputs_or_apps_input_output);
    CU_add_test(s, "countdown reads nums and target and writes TinyZero's prompt", countdown_reads_nums_and_target_and_writes_tinyzero_prompt);
    CU_add_test(s, "code prefix is the humaneval prompt and empty otherwise", code_prefix_is_the_humaneval_prompt_and_empty_otherwise);
    CU_add_test(s, "rows in memory load like a file and errors name the source", rows_in_memory_load_like_a_file_and_errors_name_the_source);
    CU_add_test(s, "custom mapping reads renamed fields and numbers as text", custom_mapping_reads_renamed_fields_and_numbers_as_text);
    CU_add_test(s, "mapping overrides one field of a known format", mapping_overrides_one_field_of_a_known_format);
    CU_add_test(s, "custom mapping with tests or numbers picks the kind", custom_mapping_with_tests_or_numbers_picks_the_kind);
    CU_add_test(s, "blank lines, CRLF and a UTF-8 BOM are tolerated", blank_lines_crlf_and_a_utf8_bom_are_tolerated);
    CU_add_test(s, "last boxed is brace balanced", last_boxed_is_brace_balanced);
    CU_add_test(s, "a non-JSON line names file and line", a_non_json_line_names_file_and_line);
    CU_add_test(s, "a row that is not an object is an error", a_row_that_is_not_an_object_is_an_error);
    CU_add_test(s, "a row missing its answer names the field", a_row_missing_its_answer_names_the_field);
    CU_add_test(s, "a field of the wrong type names both types", a_field_of_the_wrong_type_names_both_types);
    CU_add_test(s, "an empty file is an error", an_empty_file_is_an_error);
    CU_add_test(s, "a missing file is an error", a_missing_file_is_an_error);
    CU_add_test(s, "code rows missing tests name the field", code_rows_missing_tests_name_the_field);
    CU_add_test(s, "countdown rows with bad numbers name the field", countdown_rows_with_bad_numbers_name_the_field);
    CU_add_test(s, "format names parse and unknown ones are listed", format_names_parse_and_unknown_ones_are_listed);
}
