/* tests/rewards/test_math.c: the math checker as a specification: extraction from completions, normalization,
 * bounded parsing of hostile input, and agreement with the labelled case file tests/rewards/math_cases.jsonl
 * (>= 97%, every disagreement printed). Countdown lives in test_others.c. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../rewards/math.h"
#include "../../rewards/math_expr.h"
#include "../test_util.h"

static math_opts opts(void) {
    math_opts o;
    math_opts_default(&o);
    return o;
}

static void expect_extract(const char *text, math_fallback fb, int want_found, const char *want) {
    char out[256];
    int found = math_extract(text, fb, out, sizeof out);
    if (found != want_found || strcmp(out, want))
        fprintf(stderr, "\n  extract(%s) -> %d '%s', want %d '%s'\n", text, found, out, want_found, want);
    CU_ASSERT_EQUAL(found, want_found);
    CU_ASSERT_STRING_EQUAL(out, want);
}

static void extraction_takes_the_last_balanced_boxed(void) {
    expect_extract("so \\boxed{1} or rather \\boxed{\\frac{1}{2}}.", MATH_FALLBACK_NONE, 1, "\\frac{1}{2}");
    expect_extract("\\fbox{x^{2}}", MATH_FALLBACK_NONE, 1, "x^{2}");
    expect_extract("\\boxed 7$", MATH_FALLBACK_NONE, 1, "7");
    /* a truncated last box falls back to the previous complete one */
    expect_extract("\\boxed{3} and \\boxed{\\frac{1}{2}", MATH_FALLBACK_NONE, 1, "3");
}

static void extraction_reads_answer_tags_gsm8k_and_phrases(void) {
    expect_extract("<think>x</think><answer> 42 </answer>", MATH_FALLBACK_NONE, 1, "42");
    expect_extract("<answer>so \\boxed{5}</answer>", MATH_FALLBACK_NONE, 1, "5");
    expect_extract("48/2 = 24\n#### 72", MATH_FALLBACK_NONE, 1, "72");
    expect_extract("The final answer is $28\\%$. I hope it is correct.", MATH_FALLBACK_NONE, 1, "28\\%");
    expect_extract("Answer: 3.5", MATH_FALLBACK_NONE, 1, "3.5");
}

static void extraction_without_a_marker_follows_the_fallback(void) {
    expect_extract("we get 3 apples and then 1,250 more", MATH_FALLBACK_NONE, 0, "");
    expect_extract("we get 3 apples and then 1,250 more", MATH_FALLBACK_LAST_NUMBER, 1, "1,250");
    expect_extract("x is -4", MATH_FALLBACK_LAST_NUMBER, 1, "-4");
    expect_extract("\\frac{1}{2}", MATH_FALLBACK_WHOLE, 1, "\\frac{1}{2}");
    expect_extract("no numbers", MATH_FALLBACK_LAST_NUMBER, 0, "");
}

static void expect_norm(const char *in, const char *want) {
    char out[512];
    math_normalize(in, out, sizeof out);
    if (strcmp(out, want)) fprintf(stderr, "\n  normalize(%s) -> '%s', want '%s'\n", in, out, want);
    CU_ASSERT_STRING_EQUAL(out, want);
}

static void normalization_strips_styling_units_and_separators(void) {
    expect_norm("\\left( \\dfrac{1}{2} \\right)", "( \\frac{1}{2} )");
    expect_norm("10\\text{ inches}", "10");
    expect_norm("\\$1,000.99", "1000.99");
    expect_norm("90^\\circ", "90");
    expect_norm("28\\%", "28");
    expect_norm("10,\\!000", "10000");
    expect_norm("1 000", "1000");
    expect_norm("$\\displaystyle \\tfrac{3}{4}$.", "\\frac{3}{4}");
    expect_norm("\\text{Evelyn}", "Evelyn");
    /* a list is not a thousands-separated number */
    expect_norm("(1,234)", "(1,234)");
}

static void equal(const char *g, const char *p, int want) {
    math_opts o = opts();
    int got = math_answers_equal(g, p, &o);
    if (got != want) fprintf(stderr, "\n  equal(%s, %s) -> %d, want %d\n", g, p, got, want);
    CU_ASSERT_EQUAL(got, want);
}

static void comparison_is_exact_for_rationals_and_tolerant_for_reals(void) {
    equal("\\frac{1}{3}", "2/6", 1);
    equal("\\frac{1}{3}", "0.3333333333", 1);
    equal("\\frac{1}{3}", "0.33", 0);
    equal("99999999999999999999", "99999999999999999999", 1);
    equal("9223372036854775807", "9223372036854775806", 0);
}

static void comparison_evaluates_expressions_with_variables_at_points(void) {
    equal("(a+b)^2", "a^2+2ab+b^2", 1);
    equal("(a+b)^2", "a^2+b^2", 0);
    equal("\\frac{x}{x}", "1", 1);
}

static void comparison_handles_structures(void) {
    equal("x=3", "3", 1);
    equal("a=b", "b=a", 1);
    equal("\\{1,2\\}", "\\{2,1\\}", 1);
    equal("(1,2)", "(2,1)", 0);
    equal("[1,2)", "[1,2]", 0);
    equal("x \\ge 1", "[1,\\infty)", 1);
    equal("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", 1);
    equal("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}", 0);
    equal("C", "(C)", 1);
    equal("\\text{Paris}", "paris", 1);
}

/* Hostile input: deep nesting, huge exponents, long strings and junk finish fast and compare unequal. */
static void hostile_input_is_bounded(void) {
    size_t n = 200000;
    char *deep = malloc(2 * n + 2);
    memset(deep, '(', n);
    memset(deep + n, ')', n);
    deep[2 * n] = '\0';
    clock_t t0 = clock();
    equal(deep, "1", 0);
    CU_ASSERT_PTR_NULL(math_expr_parse(deep));
    memset(deep, '{', 2 * n);
    equal(deep, deep, 1); /* identical strings are equal without parsing */
    equal("2^{2^{2^{2^{2^{100}}}}}", "1", 0);
    equal("10^{10^{10}}!", "3", 0);
    equal("\\sqrt[0]{2}", "1", 0);
    equal("\\frac{}{}", "\\frac{}{}", 1);
    equal("\\frac{", "1", 0);
    equal("((((((", "1", 0);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CU_ASSERT(secs < 2.0);
    free(deep);
}

/* The case file: agreement with the labels >= 97%; every disagreement is printed. */
static void case_file_agreement_is_at_least_97_percent(void) {
    char *path = tu_src("tests/rewards/math_cases.jsonl");
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    math_opts o = opts();
    o.fallback = MATH_FALLBACK_WHOLE;
    char *line = NULL;
    size_t cap = 0;
    int total = 0, agree = 0, lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        json_t *j = json_loads(line, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        const char *g = json_string_value(json_object_get(j, "gold"));
        const char *p = json_string_value(json_object_get(j, "pred"));
        int want = json_is_true(json_object_get(j, "equal"));
        int got = math_accuracy(g, p, &o) > 0.5;
        total++;
        if (got == want) agree++;
        else
            printf("\n  disagreement (line %d, %s): gold=%s pred=%.120s label=%d got=%d", lineno,
                   json_string_value(json_object_get(j, "src")), g, p, want, got);
        json_decref(j);
    }
    free(line);
    fclose(f);
    free(path);
    printf("\n  math case file: %d/%d agree (%.1f%%)\n", agree, total, 100.0 * agree / (total ? total : 1));
    CU_ASSERT(total >= 300);
    CU_ASSERT(agree * 100 >= total * 97);
}

void test_math_register(void) {
    CU_pSuite s = CU_add_suite("math", NULL, NULL);
    CU_add_test(s, "extraction takes the last balanced boxed", extraction_takes_the_last_balanced_boxed);
    CU_add_test(s, "extraction reads answer tags, GSM8K and phrases", extraction_reads_answer_tags_gsm8k_and_phrases);
    CU_add_test(s, "extraction without a marker follows the fallback", extraction_without_a_marker_follows_the_fallback);
    CU_add_test(s, "normalization strips styling, units and separators", normalization_strips_styling_units_and_separators);
    CU_add_test(s, "comparison is exact for rationals, tolerant for reals", comparison_is_exact_for_rationals_and_tolerant_for_reals);
    CU_add_test(s, "comparison evaluates expressions with variables at points", comparison_evaluates_expressions_with_variables_at_points);
    CU_add_test(s, "comparison handles equations, sets, tuples, intervals, matrices, letters, text", comparison_handles_structures);
    CU_add_test(s, "hostile input is bounded", hostile_input_is_bounded);
    CU_add_test(s, "case file agreement is at least 97%", case_file_agreement_is_at_least_97_percent);
}
