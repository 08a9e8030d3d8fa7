/* tests/rewards/test_external.c: the external reward command speaks JSON lines, in order, within
 * a timeout; slow, malformed and dead commands are clear errors. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "../../rewards/external.h"

void test_external_register(void);

static void scores_come_back_in_order_from_a_long_running_command(void) {
    rw_external *x;
    const char *cmd = "while IFS= read -r l; do case \"$l\" in *'\"completion\":\"42\"'*) echo '{\"score\": 1}';; "
                      "*) echo '{\"score\": 0.25}';; esac; done";
    CU_ASSERT_EQUAL_FATAL(rw_external_start(&x, cmd, 5.0, NULL), GRPO_OK);
    double s = -1;
    CU_ASSERT_EQUAL(rw_external_score(x, "p", "42", "42", &s, NULL), GRPO_OK);
    CU_ASSERT_DOUBLE_EQUAL(s, 1.0, 0);
    CU_ASSERT_EQUAL(rw_external_score(x, "p", "41", NULL, &s, NULL), GRPO_OK);
    CU_ASSERT_DOUBLE_EQUAL(s, 0.25, 0);
    CU_ASSERT_EQUAL(rw_external_score(x, "p\nwith \"quotes\"", "42", NULL, &s, NULL), GRPO_OK);
    CU_ASSERT_DOUBLE_EQUAL(s, 1.0, 0);
    rw_external_stop(x);
}

static void a_command_that_does_not_answer_in_time_is_an_error(void) {
    rw_external *x;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(rw_external_start(&x, "read l; sleep 30", 0.3, NULL), GRPO_OK);
    double s;
    CU_ASSERT_EQUAL(rw_external_score(x, "p", "c", NULL, &s, &e), GRPO_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "no answer within 0.3 s"));
    rw_external_stop(x); /* kills the sleeping command's process group */
}

static void a_malformed_answer_is_an_error_quoting_it(void) {
    rw_external *x;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(rw_external_start(&x, "while read l; do echo nope; done", 5.0, NULL), GRPO_OK);
    double s;
    CU_ASSERT_EQUAL(rw_external_score(x, "p", "c", NULL, &s, &e), GRPO_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "got 'nope'"));
    rw_external_stop(x);
}

static void a_command_that_exits_is_an_error(void) {
    rw_external *x;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(rw_external_start(&x, "exit 0", 5.0, NULL), GRPO_OK);
    double s;
    CU_ASSERT_NOT_EQUAL(rw_external_score(x, "p", "c", NULL, &s, &e), GRPO_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "external reward \"exit 0\""));
    rw_external_stop(x);
}

void test_external_register(void) {
    CU_pSuite s = CU_add_suite("external", NULL, NULL);
    CU_add_test(s, "scores_come_back_in_order_from_a_long_running_command", scores_come_back_in_order_from_a_long_running_command);
    CU_add_test(s, "a_command_that_does_not_answer_in_time_is_an_error", a_command_that_does_not_answer_in_time_is_an_error);
    CU_add_test(s, "a_malformed_answer_is_an_error_quoting_it", a_malformed_answer_is_an_error_quoting_it);
    CU_add_test(s, "a_command_that_exits_is_an_error", a_command_that_exits_is_an_error);
}
