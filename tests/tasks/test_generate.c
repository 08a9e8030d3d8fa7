/* tests/tasks/test_generate.c: the built-in generators. They are deterministic per seed, the first k items
 * do not depend on n, every worked solution is correct (checked here by an independent evaluator, never by
 * the generator's own code), the difficulty knobs hold, and bad options are named. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tasks/tasks.h"

/* ---------------------------------------------------------------- an independent evaluator */

/* Exact rationals over + - * / ( ) and non-negative integer literals, recording every literal. */
typedef struct { long long n, d; } q;
typedef struct {
    const char *s;
    int bad;
    long long lits[64];
    int n_lits;
} ev;

static long long gcdl(long long a, long long b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) { long long t = a % b; a = b; b = t; }
    return a ? a : 1;
}

static q qnorm(q x) {
    if (x.d < 0) x.n = -x.n, x.d = -x.d;
    long long g = gcdl(x.n, x.d);
    return (q){x.n / g, x.d / g};
}

static q ev_sum(ev *e);

static q ev_atom(ev *e) {
    if (*e->s == '(') {
        e->s++;
        q v = ev_sum(e);
        if (*e->s != ')') e->bad = 1;
        else e->s++;
        return v;
    }
    if (*e->s < '0' || *e->s > '9') {
        e->bad = 1;
        return (q){0, 1};
    }
    long long v = 0;
    while (*e->s >= '0' && *e->s <= '9') v = v * 10 + (*e->s++ - '0');
    if (e->n_lits < 64) e->lits[e->n_lits++] = v;
    return (q){v, 1};
}

static q ev_product(ev *e) {
    q v = ev_atom(e);
    while (*e->s == '*' || *e->s == '/') {
        char op = *e->s++;
        q r = ev_atom(e);
        if (op == '/' && r.n == 0) e->bad = 1;
        v = op == '*' ? qnorm((q){v.n * r.n, v.d * r.d}) : qnorm((q){v.n * r.d, v.d * (r.n ? r.n : 1)});
    }
    return v;
}

static q ev_sum(ev *e) {
    q v = ev_product(e);
    while (*e->s == '+' || *e->s == '-') {
        char op = *e->s++;
        q r = ev_product(e);
        v = qnorm((q){op == '+' ? v.n * r.d + r.n * v.d : v.n * r.d - r.n * v.d, v.d * r.d});
    }
    return v;
}

/* Evaluates the whole of text; returns 0 and *out, or -1 when it is not a complete expression. */
static int evaluate(const char *text, q *out, ev *e) {
    memset(e, 0, sizeof *e);
    e->s = text;
    *out = ev_sum(e);
    return e->bad || *e->s ? -1 : 0;
}

/* Checks "<think>a op b=c. a op b=c.</think><answer>X</answer>": every step is arithmetic that holds, there
 * are want_steps of them, and the last result is the answer (when answer_is_last). Returns the answer text. */
static void check_steps(const char *sol, int want_steps, char *answer, size_t cap) {
    CU_ASSERT_FATAL(!strncmp(sol, "<think>", 7));
    const char *end = strstr(sol, "</think><answer>");
    CU_ASSERT_FATAL(end != NULL);
    const char *a = end + strlen("</think><answer>"), *ae = strstr(a, "</answer>");
    CU_ASSERT_FATAL(ae != NULL && ae[strlen("</answer>")] == '\0');
    snprintf(answer, cap, "%.*s", (int)(ae - a), a);
    int steps = 0;
    for (const char *p = sol + 7; p < end;) {
        long long x, y, z;
        char op;
        int used = 0;
        CU_ASSERT_FATAL(sscanf(p, "%lld%c%lld=%lld.%n", &x, &op, &y, &z, &used) == 4 && used > 0);
        long long want = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : (y ? x / y : 0);
        CU_ASSERT(want == z);
        if (op == '/') CU_ASSERT(y != 0 && x % y == 0);
        p += used;
        if (*p == ' ') p++;
        steps++;
    }
    CU_ASSERT_EQUAL(steps, want_steps);
}

/* ---------------------------------------------------------------- arithmetic */

static void assert_same_items(const tasks_dataset *a, const tasks_dataset *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(a->items[i].id, b->items[i].id);
        CU_ASSERT_STRING_EQUAL(a->items[i].prompt, b->items[i].prompt);
        CU_ASSERT_STRING_EQUAL(a->items[i].answer, b->items[i].answer);
        CU_ASSERT_STRING_EQUAL(a->items[i].solution, b->items[i].solution);
    }
}

static void arithmetic_is_deterministic_per_seed(void) {
    tasks_dataset a, b, c;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&a, "arithmetic", 200, 7, NULL, &err), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&b, "arithmetic", 200, 7, NULL, &err), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&c, "arithmetic", 200, 8, NULL, &err), GRPO_OK);
    CU_ASSERT_EQUAL(a.kind, TASKS_KIND_ARITHMETIC);
    CU_ASSERT_EQUAL(a.format, TASKS_FORMAT_GENERATED);
    CU_ASSERT_EQUAL(a.n, 200);
    assert_same_items(&a, &b, 200);
    int differ = 0;
    for (size_t i = 0; i < 200; i++) differ += strcmp(a.items[i].prompt, c.items[i].prompt) != 0;
    CU_ASSERT(differ > 150);
    tasks_dataset_free(&a), tasks_dataset_free(&b), tasks_dataset_free(&c);
}

static void the_first_k_items_do_not_depend_on_n(void) {
    tasks_dataset a, b;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&a, "arithmetic", 30, 3, NULL, &err), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&b, "arithmetic", 100, 3, NULL, &err), GRPO_OK);
    assert_same_items(&a, &b, 30);
    tasks_dataset_free(&a), tasks_dataset_free(&b);
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&a, "countdown", 10, 3, NULL, &err), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&b, "countdown", 40, 3, NULL, &err), GRPO_OK);
    assert_same_items(&a, &b, 10);
    tasks_dataset_free(&a), tasks_dataset_free(&b);
}

static void arithmetic_example_reads_as_documented(void) {
    tasks_dataset ds;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&ds, "arithmetic", 50, 1, NULL, &err), GRPO_OK);
    for (size_t i = 0; i < ds.n; i++) {
        const tasks_item *it = &ds.items[i];
        /* "Compute 23+58-17." -> "<think>23+58=81. 81-17=64.</think><answer>64</answer>" */
        CU_ASSERT(!strncmp(it->prompt, "Compute ", 8));
        CU_ASSERT(it->prompt[strlen(it->prompt) - 1] == '.');
        CU_ASSERT(strspn(it->prompt + 8, "0123456789+-") == strlen(it->prompt) - 9);
        CU_ASSERT_EQUAL(it->line, 0);
        CU_ASSERT_EQUAL(it->id, (int64_t)i);
    }
    tasks_dataset_free(&ds);
}

/* Checks every item of an arithmetic dataset against the independent evaluator and the knobs of o. */
static void check_arithmetic(const tasks_dataset *ds, const tasks_gen_opts *o) {
    for (size_t i = 0; i < ds->n; i++) {
        const tasks_item *it = &ds->items[i];
        char expr[256];
        size_t len = strlen(it->prompt);
        CU_ASSERT_FATAL(len > 9 && len - 9 < sizeof expr);
        snprintf(expr, sizeof expr, "%.*s", (int)(len - 9), it->prompt + 8);
        q v;
        ev e;
        CU_ASSERT_FATAL(evaluate(expr, &v, &e) == 0);
        CU_ASSERT_EQUAL(v.d, 1); /* divisions are exact */
        char want[32], got[64];
        snprintf(want, sizeof want, "%lld", v.n);
        CU_ASSERT_STRING_EQUAL(it->answer, want);
        check_steps(it->solution, e.n_lits - 1, got, sizeof got);
        CU_ASSERT_STRING_EQUAL(got, want);
        /* the knobs */
        CU_ASSERT(e.n_lits >= o->min_operands && e.n_lits <= o->max_operands);
        for (int k = 0; k < e.n_lits; k++) {
            char d[32];
            int nd = snprintf(d, sizeof d, "%lld", e.lits[k]);
            CU_ASSERT(nd >= o->min_digits && nd <= o->max_digits);
        }
        for (const char *p = expr; *p; p++)
            if (*p < '0' || *p > '9') CU_ASSERT(strchr(o->ops, *p) != NULL);
        if (!o->allow_negative) CU_ASSERT(strchr(it->solution, '=') && !strstr(it->solution, "=-"));
    }
}

static void arithmetic_worked_solutions_are_correct_for_every_knob_setting(void) {
    tasks_gen_opts o;
    struct { int lo_ops, hi_ops, lo_dig, hi_dig; const char *ops; int neg; } settings[] = {
        {2, 3, 1, 2, "+-", 0},     /* the default */
        {2, 2, 1, 1, "+", 0},      /* the easiest */
        {3, 5, 1, 3, "+-*", 0},    /* precedence */
        {2, 4, 1, 2, "+-*/", 1},   /* exact division, negatives allowed */
        {4, 6, 2, 3, "-", 1},      /* long chains of subtraction */
        {2, 3, 2, 2, "*/", 0},
    };
    for (size_t k = 0; k < sizeof settings / sizeof *settings; k++) {
        tasks_gen_opts_default(&o);
        o.min_operands = settings[k].lo_ops, o.max_operands = settings[k].hi_ops;
        o.min_digits = settings[k].lo_dig, o.max_digits = settings[k].hi_dig;
        o.ops = settings[k].ops, o.allow_negative = settings[k].neg;
        tasks_dataset ds;
        grpo_err err = {0};
        int rc = tasks_generate(&ds, "arithmetic", 300, 11 + k, &o, &err);
        if (rc) fprintf(stderr, "\n  %s\n", err.msg);
        CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
        check_arithmetic(&ds, &o);
        tasks_dataset_free(&ds);
    }
}

static void division_and_precedence_appear_in_the_steps(void) {
    tasks_gen_opts o;
    tasks_gen_opts_default(&o);
    o.ops = "+*/", o.min_operands = 3, o.max_operands = 3;
    tasks_dataset ds;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&ds, "arithmetic", 200, 5, &o, &err), GRPO_OK);
    int div = 0, mul_first = 0;
    for (size_t i = 0; i < ds.n; i++) {
        div += strchr(ds.items[i].prompt, '/') != NULL;
        /* "Compute a+b*c." is worked as b*c first */
        const char *p = ds.items[i].prompt + 8;
        const char *plus = strchr(p, '+'), *star = strchr(p, '*');
        if (plus && star && plus < star) mul_first += strchr(ds.items[i].solution + 7, '*') < strchr(ds.items[i].solution + 7, '+');
    }
    CU_ASSERT(div > 20);
    CU_ASSERT(mul_first > 10);
    tasks_dataset_free(&ds);
}

/* ---------------------------------------------------------------- countdown */

static void countdown_solutions_use_each_number_once_and_hit_the_target(void) {
    tasks_gen_opts o;
    tasks_gen_opts_default(&o);
    for (int round = 0; round < 2; round++) {
        if (round == 1) o.min_nums = 2, o.max_nums = 5, o.max_num = 20, o.max_target = 500;
        tasks_dataset ds;
        grpo_err err = {0};
        CU_ASSERT_EQUAL_FATAL(tasks_generate(&ds, "countdown", round ? 60 : 300, 21, &o, &err), GRPO_OK);
        CU_ASSERT_EQUAL(ds.kind, TASKS_KIND_COUNTDOWN);
        for (size_t i = 0; i < ds.n; i++) {
            const tasks_item *it = &ds.items[i];
            CU_ASSERT(it->n_nums >= o.min_nums && it->n_nums <= o.max_nums);
            CU_ASSERT(it->target >= 1 && it->target <= o.max_target);
            char want_answer[32];
            snprintf(want_answer, sizeof want_answer, "%d", it->target);
            CU_ASSERT_STRING_EQUAL(it->answer, want_answer);
            char expr[256];
            check_steps(it->solution, it->n_nums - 1, expr, sizeof expr);
            q v;
            ev e;
            CU_ASSERT_FATAL(evaluate(expr, &v, &e) == 0);
            CU_ASSERT(v.n == it->target && v.d == 1);
            /* each number exactly once: the literals are a permutation of nums */
            CU_ASSERT_EQUAL_FATAL(e.n_lits, it->n_nums);
            int used[TASKS_MAX_NUMS] = {0};
            for (int k = 0; k < e.n_lits; k++) {
                int hit = 0;
                for (int j = 0; j < it->n_nums && !hit; j++)
                    if (!used[j] && it->nums[j] == e.lits[k]) used[j] = hit = 1;
                CU_ASSERT(hit);
            }
            for (int j = 0; j < it->n_nums; j++) CU_ASSERT(it->nums[j] >= 1 && it->nums[j] <= o.max_num);
        }
        tasks_dataset_free(&ds);
    }
}

static void countdown_prompt_is_tinyzero_short_or_long(void) {
    tasks_gen_opts o;
    tasks_gen_opts_default(&o);
    o.min_nums = o.max_nums = 3;
    tasks_dataset ds;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&ds, "countdown", 1, 4, &o, &err), GRPO_OK);
    const tasks_item *it = &ds.items[0];
    char want[256];
    snprintf(want, sizeof want, "Using the numbers [%d, %d, %d], create an equation that equals %d.", it->nums[0],
             it->nums[1], it->nums[2], it->target);
    CU_ASSERT_STRING_EQUAL(it->prompt, want);
    tasks_dataset_free(&ds);
    o.long_prompt = 1;
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&ds, "countdown", 1, 4, &o, &err), GRPO_OK);
    CU_ASSERT(!strncmp(ds.items[0].prompt, want, strlen(want)));
    CU_ASSERT(strstr(ds.items[0].prompt, "each number can only be used once") != NULL);
    tasks_dataset_free(&ds);
}

/* ---------------------------------------------------------------- unique and bad options */

static void unique_prompts_are_distinct_and_a_small_space_is_an_error(void) {
    tasks_gen_opts o;
    tasks_gen_opts_default(&o);
    o.min_operands = o.max_operands = 2, o.min_digits = o.max_digits = 1, o.ops = "+";
    o.unique = 1;
    tasks_dataset ds;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_generate(&ds, "arithmetic", 60, 2, &o, &err), GRPO_OK);
    for (size_t i = 0; i < ds.n; i++)
        for (size_t j = i + 1; j < ds.n; j++) CU_ASSERT(strcmp(ds.items[i].prompt, ds.items[j].prompt) != 0);
    tasks_dataset_free(&ds);
    /* "a+b" with one digit each has only 100 distinct prompts */
    CU_ASSERT_EQUAL(tasks_generate(&ds, "arithmetic", 101, 2, &o, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "arithmetic: could not make item 100 of 101 in 1000 attempts: the options leave "
                                    "too few distinct problems");
    CU_ASSERT_EQUAL(ds.n, 0);
    CU_ASSERT_PTR_NULL(ds.items);
}

static void bad_generator_options_are_named(void) {
    tasks_gen_opts o;
    tasks_dataset ds;
    grpo_err err = {0};
    tasks_gen_opts_default(&o);
    o.max_digits = 12;
    CU_ASSERT_EQUAL(tasks_generate(&ds, "arithmetic", 5, 1, &o, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "arithmetic: option max_digits = 12 is outside 1..6");
    tasks_gen_opts_default(&o);
    o.min_operands = 1;
    CU_ASSERT_EQUAL(tasks_generate(&ds, "arithmetic", 5, 1, &o, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "arithmetic: option min_operands = 1 is outside 2..8");
    tasks_gen_opts_default(&o);
    o.ops = "+^";
    CU_ASSERT_EQUAL(tasks_generate(&ds, "arithmetic", 5, 1, &o, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "arithmetic: option ops = \"+^\" must be a non-empty set of + - * /");
    tasks_gen_opts_default(&o);
    o.max_nums = 6;
    CU_ASSERT_EQUAL(tasks_generate(&ds, "countdown", 5, 1, &o, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "countdown: option max_nums = 6 is outside 3..5");
    CU_ASSERT_EQUAL(tasks_generate(&ds, "sudoku", 5, 1, NULL, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "unknown generator \"sudoku\" (known: arithmetic, countdown)");
    CU_ASSERT_EQUAL(tasks_generate(&ds, "countdown", 0, 1, NULL, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "countdown: asked for 0 items");
}

void test_generate_register(void) {
    CU_pSuite s = CU_add_suite("tasks: generators", NULL, NULL);
    CU_add_test(s, "arithmetic is deterministic per seed", arithmetic_is_deterministic_per_seed);
    CU_add_test(s, "the first k items do not depend on n", the_first_k_items_do_not_depend_on_n);
    CU_add_test(s, "arithmetic example reads as documented", arithmetic_example_reads_as_documented);
    CU_add_test(s, "arithmetic worked solutions are correct for every knob setting", arithmetic_worked_solutions_are_correct_for_every_knob_setting);
    CU_add_test(s, "division and precedence appear in the steps", division_and_precedence_appear_in_the_steps);
    CU_add_test(s, "countdown solutions use each number once and hit the target", countdown_solutions_use_each_number_once_and_hit_the_target);
    CU_add_test(s, "countdown prompt is TinyZero's, short or long", countdown_prompt_is_tinyzero_short_or_long);
    CU_add_test(s, "unique prompts are distinct and a small space is an error", unique_prompts_are_distinct_and_a_small_space_is_an_error);
    CU_add_test(s, "bad generator options are named", bad_generator_options_are_named);
}
