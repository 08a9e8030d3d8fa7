/* tests/rewards/test_registry.c: the reward registry and the shape-only rewards. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../rewards/registry.h"

void test_registry_register(void);

static void r1_format_needs_think_then_answer_and_nothing_else(void) {
    rw_registry *r;
    const char *names[1] = {"format"};
    CU_ASSERT_EQUAL_FATAL(rw_registry_new(&r, names, NULL, 1, NULL, 0, 0, NULL), GRPO_OK);
    CU_ASSERT_EQUAL(rw_format_r1(r, "<think>2+2=4.</think><answer>4</answer>"), 1.0);
    CU_ASSERT_EQUAL(rw_format_r1(r, " <think>a\nb</think>\n<answer>4</answer>\n"), 1.0);
    CU_ASSERT_EQUAL(rw_format_r1(r, "<answer>4</answer>"), 0.0);
    CU_ASSERT_EQUAL(rw_format_r1(r, "<think>x</think><answer>4</answer> and more"), 0.0);
    CU_ASSERT_EQUAL(rw_format_r1(r, "<think>x<answer>4</answer>"), 0.0);
    rw_registry_free(r);
}

static void format_pattern_is_configurable_and_a_bad_one_is_an_error(void) {
    rw_registry *r;
    const char *names[1] = {"format"};
    CU_ASSERT_EQUAL_FATAL(rw_registry_new(&r, names, NULL, 1, "^Answer: \\d+$", 0, 0, NULL), GRPO_OK);
    CU_ASSERT_EQUAL(rw_format_r1(r, "Answer: 42"), 1.0);
    CU_ASSERT_EQUAL(rw_format_r1(r, "<think>x</think><answer>4</answer>"), 0.0);
    rw_registry_free(r);
    grpo_err e = {0};
    CU_ASSERT_EQUAL(rw_registry_new(&r, names, NULL, 1, "(unclosed", 0, 0, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "format pattern \"(unclosed\""));
}

static void tag_count_gives_a_quarter_per_tag_present_once(void) {
    CU_ASSERT_DOUBLE_EQUAL(rw_tag_count("<think>a</think><answer>1</answer>"), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rw_tag_count("<think>a</think>"), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rw_tag_count("<think><think></think>"), 0.25, 1e-12);
}

static void overlong_penalty_follows_dapo(void) {
    /* L = 20, C = 4: free up to 16, linear to -1 at 20, -1 beyond */
    CU_ASSERT_DOUBLE_EQUAL(rw_overlong(16, 20, 4), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rw_overlong(18, 20, 4), -0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rw_overlong(20, 20, 4), -1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rw_overlong(21, 20, 4), -1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(rw_overlong(30, 20, 0), 0.0, 1e-12);
}

static void registry_keeps_each_component_and_weights_the_total(void) {
    rw_registry *r;
    const char *names[3] = {"accuracy", "format", "overlong"};
    const double w[3] = {1.0, 0.5, 2.0};
    CU_ASSERT_EQUAL_FATAL(rw_registry_new(&r, names, w, 3, NULL, 20, 4, NULL), GRPO_OK);
    rw_item it = {.answer = "64", .n_tokens = 18};
    double comp[3];
    double total = rw_registry_score(r, &it, "<think>23+41=64.</think><answer>64</answer>", comp);
    CU_ASSERT_DOUBLE_EQUAL(comp[0], 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(comp[1], 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(comp[2], -0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(total, 1.0 + 0.5 - 1.0, 1e-12);
    total = rw_registry_score(r, &it, "<answer>65</answer>", comp);
    CU_ASSERT_DOUBLE_EQUAL(comp[0], 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(total, -1.0, 1e-12);
    CU_ASSERT_STRING_EQUAL(rw_registry_name(r, 1), "format");
    rw_registry_free(r);
}

static void accuracy_on_a_countdown_item_checks_the_equation(void) {
    rw_registry *r;
    const char *names[1] = {"accuracy"};
    CU_ASSERT_EQUAL_FATAL(rw_registry_new(&r, names, NULL, 1, NULL, 0, 0, NULL), GRPO_OK);
    const long long nums[3] = {3, 7, 25};
    rw_item it = {.nums = nums, .n_nums = 3, .target = 46};
    CU_ASSERT_EQUAL(rw_registry_score(r, &it, "<answer>25 + 3 * 7</answer>", NULL), 1.0);
    CU_ASSERT_EQUAL(rw_registry_score(r, &it, "<answer>25 + 3 + 7</answer>", NULL), 0.0);
    rw_registry_free(r);
}

static void unknown_reward_name_is_an_error_naming_it(void) {
    rw_registry *r;
    const char *names[2] = {"accuracy", "vibes"};
    grpo_err e = {0};
    CU_ASSERT_EQUAL(rw_registry_new(&r, names, NULL, 2, NULL, 0, 0, &e), GRPO_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "unknown reward \"vibes\""));
}

static void explain_gives_a_reason_per_component_and_the_extracted_answer(void) {
    rw_registry *r;
    const char *names[4] = {"accuracy", "format", "tag_count", "overlong"};
    CU_ASSERT_EQUAL_FATAL(rw_registry_new(&r, names, NULL, 4, NULL, 20, 4, NULL), GRPO_OK);
    rw_item it = {.answer = "So the total is 13.\n#### 13", .n_tokens = 18};
    const char *text = "<think>7+5=12</think><answer>12</answer>";
    double comp[4];
    char why[4][RW_REASON_MAX], got[64];
    rw_registry_score(r, &it, text, comp);
    rw_registry_explain(r, &it, text, comp, why, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "12");
    CU_ASSERT_STRING_EQUAL(why[0], "extracted 12, gold 13");
    CU_ASSERT_STRING_EQUAL(why[1], "matches the format pattern");
    CU_ASSERT_STRING_EQUAL(why[2], "once: <think> </think> <answer> </answer>; missing or repeated: none");
    CU_ASSERT_STRING_EQUAL(why[3], "18 tokens; penalty past 16, -1 past 20");
    text = "I think it is twelve";
    rw_registry_score(r, &it, text, comp);
    rw_registry_explain(r, &it, text, comp, why, got, sizeof got);
    CU_ASSERT_STRING_EQUAL(got, "");
    CU_ASSERT_STRING_EQUAL(why[0], "no answer found");
    CU_ASSERT_STRING_EQUAL(why[1], "does not match the format pattern");
    CU_ASSERT_STRING_EQUAL(why[2], "once: none; missing or repeated: <think> </think> <answer> </answer>");
    rw_registry_free(r);
}

static void explain_on_a_countdown_item_names_the_equation_and_target(void) {
    rw_registry *r;
    const char *names[1] = {"accuracy"};
    CU_ASSERT_EQUAL_FATAL(rw_registry_new(&r, names, NULL, 1, NULL, 0, 0, NULL), GRPO_OK);
    const long long nums[3] = {3, 7, 25};
    rw_item it = {.nums = nums, .n_nums = 3, .target = 46};
    double v;
    char why[1][RW_REASON_MAX];
    const char *text = "<answer>25 + 3 * 7</answer>";
    rw_registry_score(r, &it, text, &v);
    rw_registry_explain(r, &it, text, &v, why, NULL, 0);
    CU_ASSERT_STRING_EQUAL(why[0], "equation 25 + 3 * 7, target 46: reached");
    rw_registry_free(r);
}

void test_registry_register(void) {
    CU_pSuite s = CU_add_suite("registry", NULL, NULL);
    CU_add_test(s, "r1_format_needs_think_then_answer_and_nothing_else", r1_format_needs_think_then_answer_and_nothing_else);
    CU_add_test(s, "format_pattern_is_configurable_and_a_bad_one_is_an_error",
                format_pattern_is_configurable_and_a_bad_one_is_an_error);
    CU_add_test(s, "tag_count_gives_a_quarter_per_tag_present_once", tag_count_gives_a_quarter_per_tag_present_once);
    CU_add_test(s, "overlong_penalty_follows_dapo", overlong_penalty_follows_dapo);
    CU_add_test(s, "registry_keeps_each_component_and_weights_the_total", registry_keeps_each_component_and_weights_the_total);
    CU_add_test(s, "accuracy_on_a_countdown_item_checks_the_equation", accuracy_on_a_countdown_item_checks_the_equation);
    CU_add_test(s, "unknown_reward_name_is_an_error_naming_it", unknown_reward_name_is_an_error_naming_it);
    CU_add_test(s, "explain_gives_a_reason_per_component_and_the_extracted_answer",
                explain_gives_a_reason_per_component_and_the_extracted_answer);
    CU_add_test(s, "explain_on_a_countdown_item_names_the_equation_and_target",
                explain_on_a_countdown_item_names_the_equation_and_target);
}
