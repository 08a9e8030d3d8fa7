/* tests/common/test_strbuf.c: the string builder grows without bound until memory runs out, then
 * stays failed and hands back nothing; the bounded appends never write past their buffer and say
 * when they cut. This executable is linked with -Wl,--wrap=realloc so that a test can make the
 * builder's allocations fail. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/strbuf.h"
#include "../test_util.h"

/* ---- a realloc that fails on demand ---- */

void *__real_realloc(void *p, size_t n);
static int fail_reallocs; /* while set, every realloc returns NULL */

void *__wrap_realloc(void *p, size_t n) { return fail_reallocs ? NULL : __real_realloc(p, n); }

/* ---- the growable builder ---- */

static void an_untouched_builder_takes_as_the_empty_string(void) {
    strbuf b;
    sb_init(&b);
    CU_ASSERT_PTR_NULL(b.s);
    CU_ASSERT_FALSE(sb_failed(&b));
    char *s = sb_take(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "");
    CU_ASSERT_PTR_NULL(b.s); /* take leaves the builder empty */
    free(s);
    sb_free(&b); /* freeing an empty builder is harmless */
}

static void appends_concatenate_and_grow_past_the_first_block(void) {
    strbuf b = {0};
    CU_ASSERT_EQUAL(sb_add(&b, "ab"), 0);
    CU_ASSERT_EQUAL(sb_addn(&b, "cdXX", 2), 0);
    CU_ASSERT_EQUAL(sb_addn(&b, "", 0), 0);
    CU_ASSERT_EQUAL(b.len, 4);
    CU_ASSERT_STRING_EQUAL(b.s, "abcd");
    /* 10,000 more bytes: many doublings of the 64-byte first block, every byte kept */
    for (int i = 0; i < 10000; i++) CU_ASSERT_EQUAL_FATAL(sb_addn(&b, &"0123456789"[i % 10], 1), 0);
    CU_ASSERT_EQUAL(b.len, 10004);
    CU_ASSERT_TRUE(b.cap > b.len);
    CU_ASSERT_EQUAL(b.s[b.len], '\0');
    int ok = 1;
    for (int i = 0; i < 10000; i++) ok &= b.s[4 + i] == '0' + i % 10;
    CU_ASSERT_TRUE(ok);
    sb_free(&b);
    CU_ASSERT_PTR_NULL(b.s);
    CU_ASSERT_EQUAL(b.len, 0);
}

static void addf_formats_short_and_long_text(void) {
    strbuf b = {0};
    CU_ASSERT_EQUAL(sb_addf(&b, "%d-%s|%.2f", 42, "x", 0.5), 0);
    CU_ASSERT_STRING_EQUAL(b.s, "42-x|0.50");
    /* longer than the room left: the builder grows and formats again */
    char big[3001];
    memset(big, 'q', 3000);
    big[3000] = '\0';
    CU_ASSERT_EQUAL(sb_addf(&b, "<%s>", big), 0);
    CU_ASSERT_EQUAL(b.len, 9 + 3002);
    CU_ASSERT_EQUAL(strncmp(b.s, "42-x|0.50<qqq", 13), 0);
    CU_ASSERT_EQUAL(b.s[b.len - 1], '>');
    CU_ASSERT_EQUAL(strlen(b.s), b.len);
    size_t len = b.len;
    char *s = sb_take(&b);
    CU_ASSERT_EQUAL(strlen(s), len);
    free(s);
}

static void a_failed_allocation_is_sticky_and_take_returns_null(void) {
    strbuf b = {0};
    CU_ASSERT_EQUAL(sb_add(&b, "kept"), 0);
    char big[200];
    memset(big, 'z', sizeof big);
    fail_reallocs = 1;
    CU_ASSERT_EQUAL(sb_addn(&b, big, sizeof big), -1); /* needs more than the 64-byte first block */
    fail_reallocs = 0;
    CU_ASSERT_TRUE(sb_failed(&b));
    CU_ASSERT_STRING_EQUAL(b.s, "kept"); /* the failed append added nothing */
    /* memory is back, but the builder stays failed: its text is incomplete */
    CU_ASSERT_EQUAL(sb_add(&b, "x"), -1);
    CU_ASSERT_EQUAL(sb_addf(&b, "%d", 7), -1);
    CU_ASSERT_STRING_EQUAL(b.s, "kept");
    CU_ASSERT_PTR_NULL(sb_take(&b));
    CU_ASSERT_PTR_NULL(b.s); /* take freed it */
    CU_ASSERT_FALSE(sb_failed(&b));
}

static void a_failed_format_growth_leaves_the_text_as_it_was(void) {
    strbuf b = {0};
    CU_ASSERT_EQUAL(sb_add(&b, "ab"), 0);
    fail_reallocs = 1;
    CU_ASSERT_EQUAL(sb_addf(&b, "%0100d", 1), -1); /* partly written into the spare room, then refused */
    fail_reallocs = 0;
    CU_ASSERT_STRING_EQUAL(b.s, "ab");
    CU_ASSERT_EQUAL(b.len, 2);
    sb_free(&b);
}

static void truncate_and_clear_cut_back_and_forget_a_failure(void) {
    strbuf b = {0};
    sb_add(&b, "hello world");
    sb_truncate(&b, 5);
    CU_ASSERT_STRING_EQUAL(b.s, "hello");
    sb_truncate(&b, 99); /* longer than the text: nothing changes */
    CU_ASSERT_STRING_EQUAL(b.s, "hello");
    char big[200] = {0};
    fail_reallocs = 1;
    CU_ASSERT_EQUAL(sb_addn(&b, big, sizeof big), -1);
    fail_reallocs = 0;
    sb_clear(&b);
    CU_ASSERT_FALSE(sb_failed(&b));
    CU_ASSERT_EQUAL(sb_add(&b, "again"), 0);
    char *s = sb_take(&b);
    CU_ASSERT_STRING_EQUAL(s, "again");
    free(s);
}

/* ---- the bounded appends ---- */

static void catf_appends_while_the_text_fits(void) {
    char buf[16];
    size_t n = 0;
    CU_ASSERT_EQUAL(sb_catf(buf, sizeof buf, &n, "[%d", 1), 0);
    CU_ASSERT_EQUAL(sb_catf(buf, sizeof buf, &n, ", %d]", 22), 0);
    CU_ASSERT_STRING_EQUAL(buf, "[1, 22]");
    CU_ASSERT_EQUAL(n, 7);
    /* exactly filling the buffer (15 characters and the NUL) is not a cut */
    CU_ASSERT_EQUAL(sb_catf(buf, sizeof buf, &n, "%s", "abcdefgh"), 0);
    CU_ASSERT_EQUAL(n, 15);
    CU_ASSERT_STRING_EQUAL(buf, "[1, 22]abcdefgh");
}

static void catf_cuts_at_cap_and_never_writes_past_it(void) {
    char buf[12];
    memset(buf, '#', sizeof buf);
    size_t n = 0;
    /* the old `n += snprintf(buf + n, cap - n, ...)` would set n = 14 here and the next call
     * would pass cap - n = (size_t)-2 as the room */
    CU_ASSERT_EQUAL(sb_catf(buf, 8, &n, "%s", "0123456789abcd"), -1);
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_STRING_EQUAL(buf, "0123456");
    CU_ASSERT_EQUAL(sb_catf(buf, 8, &n, "more"), -1); /* full: nothing more fits */
    CU_ASSERT_EQUAL(n, 7);
    CU_ASSERT_STRING_EQUAL(buf, "0123456");
    CU_ASSERT_EQUAL(buf[8], '#'); /* the bytes past cap are untouched */
    CU_ASSERT_EQUAL(buf[11], '#');
    /* a zero-sized buffer is always a cut, and is not written */
    size_t m = 0;
    CU_ASSERT_EQUAL(sb_catf(buf + 11, 0, &m, "x"), -1);
    CU_ASSERT_EQUAL(m, 0);
    CU_ASSERT_EQUAL(buf[11], '#');
}

static void catn_copies_bytes_up_to_cap(void) {
    char buf[6];
    memset(buf, '#', sizeof buf);
    size_t n = 0;
    CU_ASSERT_EQUAL(sb_catn(buf, 5, &n, "ab", 2), 0);
    CU_ASSERT_EQUAL(sb_catn(buf, 5, &n, "", 0), 0);
    CU_ASSERT_EQUAL(sb_catn(buf, 5, &n, "cdef", 4), -1); /* room for two of the four */
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_STRING_EQUAL(buf, "abcd");
    CU_ASSERT_EQUAL(buf[5], '#');
    /* a length already at or past cap (a caller's bug) is clamped, not trusted */
    size_t big = 100;
    CU_ASSERT_EQUAL(sb_catn(buf, 5, &big, "x", 1), -1);
    CU_ASSERT_EQUAL(big, 4);
    CU_ASSERT_EQUAL(buf[5], '#');
}

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("strbuf", NULL, NULL);
    CU_add_test(s, "an_untouched_builder_takes_as_the_empty_string", an_untouched_builder_takes_as_the_empty_string);
    CU_add_test(s, "appends_concatenate_and_grow_past_the_first_block", appends_concatenate_and_grow_past_the_first_block);
    CU_add_test(s, "addf_formats_short_and_long_text", addf_formats_short_and_long_text);
    CU_add_test(s, "a_failed_allocation_is_sticky_and_take_returns_null",
                a_failed_allocation_is_sticky_and_take_returns_null);
    CU_add_test(s, "a_failed_format_growth_leaves_the_text_as_it_was", a_failed_format_growth_leaves_the_text_as_it_was);
    CU_add_test(s, "truncate_and_clear_cut_back_and_forget_a_failure", truncate_and_clear_cut_back_and_forget_a_failure);
    CU_add_test(s, "catf_appends_while_the_text_fits", catf_appends_while_the_text_fits);
    CU_add_test(s, "catf_cuts_at_cap_and_never_writes_past_it", catf_cuts_at_cap_and_never_writes_past_it);
    CU_add_test(s, "catn_copies_bytes_up_to_cap", catn_copies_bytes_up_to_cap);
    return tu_run_registry();
}
