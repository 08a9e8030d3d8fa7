/* tests/tokenizer/test_chat.c: chat formats render byte-identical text to transformers'
 * apply_chat_template with each family's real template (tests/fixtures/tokenizer/chat_cases.json,
 * made by tests/scripts/make_chat_fixtures.py), plus the raw format and bad input. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/tokenizer/chat.h"
#include "tests/test_util.h"
#include "tok_test.h"

static void every_case_matches_transformers_byte_for_byte(void) {
    char *path = tu_src("tests/fixtures/tokenizer/chat_cases.json");
    json_error_t je;
    json_t *cases = json_load_file(path, 0, &je);
    free(path);
    CU_ASSERT_TRUE_FATAL(json_is_array(cases));
    int total[CHAT_NFORMATS] = {0}, ok[CHAT_NFORMATS] = {0}, shown = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        int f = chat_format_from_name(json_string_value(json_object_get(c, "format")));
        CU_ASSERT_TRUE_FATAL(f >= 0);
        json_t *msgs = json_object_get(c, "messages");
        size_t n = json_array_size(msgs);
        chat_msg m[16];
        CU_ASSERT_TRUE_FATAL(n <= 16);
        for (size_t k = 0; k < n; k++) {
            m[k].role = json_string_value(json_object_get(json_array_get(msgs, k), "role"));
            m[k].content = json_string_value(json_object_get(json_array_get(msgs, k), "content"));
        }
        chat_opts o = {.add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt")),
                       .disable_thinking = json_is_true(json_object_get(c, "disable_thinking"))};
        char *text;
        size_t len;
        grpo_err e = {0};
        int rc = chat_render((chat_format)f, m, n, &o, &text, &len, &e);
        CU_ASSERT_EQUAL(rc, 0);
        if (rc) continue;
        const char *want = json_string_value(json_object_get(c, "text"));
        int same = len == strlen(want) && !memcmp(text, want, len);
        total[f]++;
        ok[f] += same;
        if (!same && shown++ < 3) fprintf(stderr, "\n  case %zu (%s) differs\n  want: [%s]\n  got:  [%s]\n", i,
                                          chat_format_name(f), want, text);
        free(text);
    }
    fprintf(stderr, "\n ");
    for (int f = 0; f < CHAT_NFORMATS; f++)
        if (total[f]) fprintf(stderr, " %s %d/%d", chat_format_name(f), ok[f], total[f]);
    fprintf(stderr, " identical to transformers\n");
    for (int f = 0; f < CHAT_NFORMATS; f++) CU_ASSERT_EQUAL(ok[f], total[f]);
    CU_ASSERT_TRUE(total[CHAT_CHATML] >= 20 && total[CHAT_QWEN25] >= 20 && total[CHAT_QWEN3] >= 20 &&
                   total[CHAT_LLAMA3] >= 20 && total[CHAT_DEEPSEEK_R1] >= 20);
    json_decref(cases);
}

static void raw_format_fills_prompt_and_system(void) {
    chat_msg m[] = {{"system", "Be brief."}, {"user", "first"}, {"assistant", "x"}, {"user", "2+2?"}};
    chat_opts o = {.raw_template = "[{system}] Q: {prompt}\nA: {unknown}"};
    char *text;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(chat_render(CHAT_RAW, m, 4, &o, &text, NULL, &e), 0);
    CU_ASSERT_STRING_EQUAL(text, "[Be brief.] Q: 2+2?\nA: {unknown}");
    free(text);
    CU_ASSERT_EQUAL_FATAL(chat_render(CHAT_RAW, m + 1, 1, NULL, &text, NULL, &e), 0);
    CU_ASSERT_STRING_EQUAL(text, "first");
    free(text);
}

static void format_names_resolve_and_unknown_names_do_not(void) {
    CU_ASSERT_EQUAL(chat_format_from_name("chatml"), CHAT_CHATML);
    CU_ASSERT_EQUAL(chat_format_from_name("qwen"), CHAT_QWEN25);
    CU_ASSERT_EQUAL(chat_format_from_name("qwen2.5"), CHAT_QWEN25);
    CU_ASSERT_EQUAL(chat_format_from_name("qwen3"), CHAT_QWEN3);
    CU_ASSERT_EQUAL(chat_format_from_name("llama3"), CHAT_LLAMA3);
    CU_ASSERT_EQUAL(chat_format_from_name("deepseek-r1"), CHAT_DEEPSEEK_R1);
    CU_ASSERT_EQUAL(chat_format_from_name("raw"), CHAT_RAW);
    CU_ASSERT_EQUAL(chat_format_from_name("mistral"), -1);
    CU_ASSERT_STRING_EQUAL(chat_format_name(CHAT_LLAMA3), "llama3");
}

static void bad_conversations_are_refused_with_a_reason(void) {
    char *text = (char *)"untouched";
    grpo_err e = {0};
    chat_msg tool[] = {{"user", "hi"}, {"tool", "42"}};
    CU_ASSERT_EQUAL(chat_render(CHAT_QWEN3, tool, 2, NULL, &text, NULL, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "message 1 has role \"tool\""));
    CU_ASSERT_PTR_NULL(text);
    CU_ASSERT_EQUAL(chat_render(CHAT_CHATML, tool, 0, NULL, &text, NULL, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "no messages"));
    chat_msg sys[] = {{"system", "only a system prompt"}};
    CU_ASSERT_EQUAL(chat_render(CHAT_RAW, sys, 1, NULL, &text, NULL, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "needs a user message"));
    chat_msg null_content[] = {{"user", NULL}};
    CU_ASSERT_EQUAL(chat_render(CHAT_LLAMA3, null_content, 1, NULL, &text, NULL, &e), GRPO_EINVAL);
    CU_ASSERT_EQUAL(chat_render((chat_format)99, sys, 1, NULL, &text, NULL, &e), GRPO_EINVAL);
}

static void llama3_takes_a_date_and_bos_override(void) {
    chat_msg m[] = {{"user", " hi "}};
    chat_opts o = {.add_generation_prompt = 1, .date_string = "01 Jan 2025", .bos_token = ""};
    char *text;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(chat_render(CHAT_LLAMA3, m, 1, &o, &text, NULL, &e), 0);
    CU_ASSERT_STRING_EQUAL(text, "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                                 "Today Date: 01 Jan 2025\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi"
                                 "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    free(text);
}

void tok_suite_chat(void) {
    CU_pSuite s = CU_add_suite("chat templates", NULL, NULL);
    CU_add_test(s, "every case matches transformers byte for byte", every_case_matches_transformers_byte_for_byte);
    CU_add_test(s, "raw format fills prompt and system", raw_format_fills_prompt_and_system);
    CU_add_test(s, "format names resolve and unknown names do not", format_names_resolve_and_unknown_names_do_not);
    CU_add_test(s, "bad conversations are refused with a reason", bad_conversations_are_refused_with_a_reason);
    CU_add_test(s, "llama3 takes a date and bos override", llama3_takes_a_date_and_bos_override);
}
