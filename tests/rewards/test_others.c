/* tests/rewards/test_others.c: countdown (TinyZero's rules). (The format, overlong, external-command and
 * registry rewards of issue 5 are not written yet; their tests belong here.) */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../rewards/countdown.h"
#include "../test_util.h"

static const long long NUMS[] = {3, 7, 25, 50};

static void countdown_accepts_each_number_once_reaching_the_target(void) {
    CU_ASSERT_EQUAL(countdown_check("(50 - 25) * 3 + 7", NUMS, 4, 82), COUNTDOWN_CORRECT);
    CU_ASSERT_EQUAL(countdown_check("50 + 25 + 7 + 3", NUMS, 4, 85), COUNTDOWN_CORRECT);
    CU_ASSERT_EQUAL(countdown_check("(50 / 25 + 7) * 3", NUMS, 4, 27), COUNTDOWN_CORRECT);
    /* fractional intermediates are exact: 9 / 6 = 3/2, times 4 is 6 */
    CU_ASSERT_EQUAL(countdown_check("9 / 6 * 4", (const long long[]){4, 6, 9}, 3, 6), COUNTDOWN_CORRECT);
}

static void countdown_rejects_reuse_omission_other_ops_and_wrong_values(void) {
    CU_ASSERT_EQUAL(countdown_check("50 + 50 - 25 + 3 + 7", NUMS, 4, 85), COUNTDOWN_WRONG_NUMBERS);
    CU_ASSERT_EQUAL(countdown_check("50 + 25 + 7", NUMS, 4, 82), COUNTDOWN_WRONG_NUMBERS);
    CU_ASSERT_EQUAL(countdown_check("50 + 25 + 7 + 3", NUMS, 4, 84), COUNTDOWN_WRONG_VALUE);
    CU_ASSERT_EQUAL(countdown_check("50 ** 2 + 25 + 7 + 3", NUMS, 4, 85), COUNTDOWN_SYNTAX);
    CU_ASSERT_EQUAL(countdown_check("__import__('os').system('x')", NUMS, 4, 85), COUNTDOWN_SYNTAX);
    CU_ASSERT_EQUAL(countdown_check("50 + 25 + 7 + 3 +", NUMS, 4, 85), COUNTDOWN_SYNTAX);
    CU_ASSERT_EQUAL(countdown_check("(50 + 25 + 7 + 3", NUMS, 4, 85), COUNTDOWN_SYNTAX);
    CU_ASSERT_EQUAL(countdown_check("3 / (25 - 25) + 7 + 50", (const long long[]){3, 25, 25, 7, 50}, 5, 60),
                    COUNTDOWN_WRONG_VALUE);
    CU_ASSERT_EQUAL(countdown_check("   ", NUMS, 4, 85), COUNTDOWN_NO_ANSWER);
}

static void countdown_score_reads_the_last_answer_tag(void) {
    CU_ASSERT_DOUBLE_EQUAL(countdown_score("<think>t</think><answer>50+25+7+3</answer>", NUMS, 4, 85), 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(countdown_score("<answer>1</answer><answer>50+25+7+3 = 85</answer>", NUMS, 4, 85), 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(countdown_score("<answer>50+25+7</answer>", NUMS, 4, 85), 0.1, 0);
    CU_ASSERT_DOUBLE_EQUAL(countdown_score("", NUMS, 4, 85), 0.0, 0);
}

void test_others_register(void) {
    CU_pSuite s = CU_add_suite("countdown", NULL, NULL);
    CU_add_test(s, "countdown accepts each number once reaching the target", countdown_accepts_each_number_once_reaching_the_target);
    CU_add_test(s, "countdown rejects reuse, omission, other ops and wrong values", countdown_rejects_reuse_omission_other_ops_and_wrong_values);
    CU_add_test(s, "countdown score reads the last answer tag", countdown_score_reads_the_last_answer_tag);
}
