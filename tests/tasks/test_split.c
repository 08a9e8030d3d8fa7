/* tests/tasks/test_split.c: what happens to a dataset after loading: the train/eval split (deterministic,
 * disjoint even for duplicate prompts), removing overlap with a separate eval set, prompt templates and the
 * system prompt, and the data cursor (a resumed cursor continues exactly). */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tasks/tasks.h"

/* ---------------------------------------------------------------- helpers */

static void generate(tasks_dataset *ds, const char *gen, size_t n, uint64_t seed, const tasks_gen_opts *o) {
    grpo_err err = {0};
    int rc = tasks_generate(ds, gen, n, seed, o, &err);
    if (rc) fprintf(stderr, "\n  %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
}

/* No prompt of a appears in b, and no id either. */
static void assert_disjoint(const tasks_dataset *a, const tasks_dataset *b) {
    int shared_prompts = 0, shared_ids = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++) {
            shared_prompts += !strcmp(a->items[i].prompt, b->items[j].prompt);
            shared_ids += a->items[i].id == b->items[j].id;
        }
    CU_ASSERT_EQUAL(shared_prompts, 0);
    CU_ASSERT_EQUAL(shared_ids, 0);
}

/* ---------------------------------------------------------------- split */

static void split_by_fraction_is_exact_disjoint_and_covers_everything(void) {
    tasks_dataset ds, train, eval;
    tasks_gen_opts o;
    tasks_gen_opts_default(&o);
    o.unique = 1;
    generate(&ds, "arithmetic", 400, 1, &o);
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_split(&ds, 0.25, 0, 9, &train, &eval, &err), GRPO_OK);
    CU_ASSERT_EQUAL(eval.n, 100);
    CU_ASSERT_EQUAL(train.n, 300);
    CU_ASSERT_EQUAL(train.kind, TASKS_KIND_ARITHMETIC);
    CU_ASSERT_EQUAL(eval.kind, TASKS_KIND_ARITHMETIC);
    assert_disjoint(&train, &eval);
    /* order within each side follows the source, ids are kept */
    for (size_t i = 1; i < train.n; i++) CU_ASSERT(train.items[i - 1].id < train.items[i].id);
    for (size_t i = 1; i < eval.n; i++) CU_ASSERT(eval.items[i - 1].id < eval.items[i].id);
    tasks_dataset_free(&train), tasks_dataset_free(&eval);
    /* by count */
    CU_ASSERT_EQUAL_FATAL(tasks_split(&ds, 0.0, 37, 9, &train, &eval, &err), GRPO_OK);
    CU_ASSERT_EQUAL(eval.n, 37);
    CU_ASSERT_EQUAL(train.n, 363);
    assert_disjoint(&train, &eval);
    tasks_dataset_free(&train), tasks_dataset_free(&eval);
    tasks_dataset_free(&ds);
}

static void split_is_deterministic_and_depends_on_the_seed(void) {
    tasks_dataset ds, t1, e1, t2, e2, t3, e3;
    grpo_err err = {0};
    generate(&ds, "countdown", 100, 5, NULL);
    CU_ASSERT_EQUAL_FATAL(tasks_split(&ds, 0.2, 0, 1, &t1, &e1, &err), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(tasks_split(&ds, 0.2, 0, 1, &t2, &e2, &err), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(tasks_split(&ds, 0.2, 0, 2, &t3, &e3, &err), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(e1.n, e2.n);
    int same12 = 1, same13 = 1;
    for (size_t i = 0; i < e1.n; i++) same12 &= e1.items[i].id == e2.items[i].id;
    for (size_t i = 0; i < e1.n && i < e3.n; i++) same13 &= e1.items[i].id == e3.items[i].id;
    CU_ASSERT(same12);
    CU_ASSERT(!same13);
    /* the split copies: the source stays intact and the copies own their strings */
    CU_ASSERT_EQUAL(ds.n, 100);
    CU_ASSERT(e1.items[0].prompt != ds.items[e1.items[0].id].prompt);
    CU_ASSERT_STRING_EQUAL(e1.items[0].prompt, ds.items[e1.items[0].id].prompt);
    CU_ASSERT_EQUAL(e1.items[0].target, ds.items[e1.items[0].id].target);
    tasks_dataset_free(&t1), tasks_dataset_free(&e1), tasks_dataset_free(&t2), tasks_dataset_free(&e2);
    tasks_dataset_free(&t3), tasks_dataset_free(&e3), tasks_dataset_free(&ds);
}

static void duplicate_prompts_never_straddle_the_split(void) {
    /* one-digit sums: 100 possible prompts among 600 items, so nearly every prompt repeats */
    tasks_gen_opts o;
    tasks_gen_opts_default(&o);
    o.min_operands = o.max_operands = 2, o.min_digits = o.max_digits = 1, o.ops = "+";
    tasks_dataset ds, train, eval;
    generate(&ds, "arithmetic", 600, 3, &o);
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_split(&ds, 0.2, 0, 4, &train, &eval, &err), GRPO_OK);
    CU_ASSERT(eval.n >= 120);
    CU_ASSERT_EQUAL(train.n + eval.n, 600);
    int leaked = 0;
    for (size_t i = 0; i < eval.n; i++)
        for (size_t j = 0; j < train.n; j++) leaked += !strcmp(eval.items[i].prompt, train.items[j].prompt);
    CU_ASSERT_EQUAL(leaked, 0);
    tasks_dataset_free(&train), tasks_dataset_free(&eval), tasks_dataset_free(&ds);
}

static void a_split_that_leaves_no_training_items_is_an_error(void) {
    tasks_dataset ds, train, eval;
    grpo_err err = {0};
    generate(&ds, "arithmetic", 10, 1, NULL);
    CU_ASSERT_EQUAL(tasks_split(&ds, 1.0, 0, 1, &train, &eval, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "eval fraction 1 is outside [0, 1)");
    CU_ASSERT_EQUAL(tasks_split(&ds, 0.0, 10, 1, &train, &eval, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "an eval set of 10 items leaves no training items (the dataset has 10)");
    CU_ASSERT_EQUAL(train.n + eval.n, 0);
    /* a zero fraction keeps everything for training */
    CU_ASSERT_EQUAL_FATAL(tasks_split(&ds, 0.0, 0, 1, &train, &eval, &err), GRPO_OK);
    CU_ASSERT_EQUAL(train.n, 10);
    CU_ASSERT_EQUAL(eval.n, 0);
    tasks_dataset_free(&train), tasks_dataset_free(&eval), tasks_dataset_free(&ds);
}

static void exclude_removes_prompts_a_separate_eval_set_holds(void) {
    tasks_gen_opts o;
    tasks_gen_opts_default(&o);
    o.min_operands = o.max_operands = 2, o.min_digits = o.max_digits = 1;
    tasks_dataset train, eval;
    generate(&train, "arithmetic", 300, 1, &o);
    generate(&eval, "arithmetic", 50, 2, &o); /* another seed, same small space: overlaps */
    int overlap = 0;
    for (size_t i = 0; i < train.n; i++)
        for (size_t j = 0; j < eval.n; j++) overlap += !strcmp(train.items[i].prompt, eval.items[j].prompt);
    CU_ASSERT(overlap > 0);
    size_t removed = 0;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_exclude(&train, &eval, &removed, &err), GRPO_OK);
    CU_ASSERT(removed > 0);
    CU_ASSERT_EQUAL(train.n + removed, 300);
    for (size_t i = 0; i < train.n; i++)
        for (size_t j = 0; j < eval.n; j++) CU_ASSERT(strcmp(train.items[i].prompt, eval.items[j].prompt) != 0);
    tasks_dataset_free(&train), tasks_dataset_free(&eval);
}

/* ---------------------------------------------------------------- templates */

static void template_fills_placeholders_and_keeps_other_braces(void) {
    tasks_item it = {.id = 3, .prompt = "Compute 2+2."};
    char *out = NULL;
    grpo_err err = {0};
    CU_ASSERT_EQUAL_FATAL(tasks_render_prompt(&it, "Q: {prompt}\nPut the answer in \\boxed{}. {{literal}}", &out, &err),
                          GRPO_OK);
    CU_ASSERT_STRING_EQUAL(out, "Q: Compute 2+2.\nPut the answer in \\boxed{}. {literal}");
    free(out);
    CU_ASSERT_EQUAL_FATAL(tasks_render_prompt(&it, "{question} / {question}", &out, &err), GRPO_OK);
    CU_ASSERT_STRING_EQUAL(out, "Compute 2+2. / Compute 2+2.");
    free(out);
    CU_ASSERT_EQUAL_FATAL(tasks_render_prompt(&it, NULL, &out, &err), GRPO_OK); /* NULL is "{prompt}" */
    CU_ASSERT_STRING_EQUAL(out, "Compute 2+2.");
    free(out);
    tasks_item cd = {.id = 1, .prompt = "p", .nums = {3, 7, 25}, .n_nums = 3, .target = 46};
    CU_ASSERT_EQUAL_FATAL(tasks_render_prompt(&cd, "Make {target} from {nums}.", &out, &err), GRPO_OK);
    CU_ASSERT_STRING_EQUAL(out, "Make 46 from [3, 7, 25].");
    free(out);
}

static void template_with_an_unknown_or_inapplicable_placeholder_is_an_error(void) {
    grpo_err err = {0};
    CU_ASSERT_EQUAL(tasks_template_check("Solve: {promt}", &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "template: unknown placeholder \"{promt}\" (known: {prompt}, {question}, {nums}, "
                                    "{target}, {entry_point}; write {{ and }} for literal braces)");
    CU_ASSERT_EQUAL(tasks_template_check("{prompt} in \\boxed{}", &err), GRPO_OK);
    tasks_item it = {.id = 4, .prompt = "Compute 2+2."};
    char *out = (char *)"untouched";
    CU_ASSERT_EQUAL(tasks_render_prompt(&it, "{prompt} = {target}", &out, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "template: {target} needs a countdown item, item 4 has no numbers");
    CU_ASSERT_PTR_NULL(out);
}

static void system_prompt_is_the_rows_own_or_the_default(void) {
    tasks_item plain = {.prompt = "p"}, own = {.prompt = "p", .system = "Be brief."};
    CU_ASSERT_PTR_EQUAL(tasks_system_prompt(&plain, TASKS_SYSTEM_R1), TASKS_SYSTEM_R1);
    CU_ASSERT_STRING_EQUAL(tasks_system_prompt(&own, TASKS_SYSTEM_R1), "Be brief.");
    CU_ASSERT_PTR_NULL(tasks_system_prompt(&plain, NULL));
    CU_ASSERT(strstr(TASKS_SYSTEM_R1, "<think> </think>") != NULL);
}

/* ---------------------------------------------------------------- cursor */

static void cursor_resumed_from_epoch_and_position_continues_identically(void) {
    tasks_dataset ds;
    generate(&ds, "arithmetic", 23, 1, NULL);
    enum { B = 5 };
    size_t straight[10][B], resumed[10][B];
    grpo_err err = {0};
    tasks_cursor c;
    tasks_cursor_init(&c, 42, 0, 0);
    for (int k = 0; k < 10; k++) CU_ASSERT_EQUAL_FATAL(tasks_cursor_next(&c, &ds, B, straight[k], &err), GRPO_OK);
    tasks_cursor_free(&c);

    tasks_cursor a;
    tasks_cursor_init(&a, 42, 0, 0);
    for (int k = 0; k < 4; k++) CU_ASSERT_EQUAL_FATAL(tasks_cursor_next(&a, &ds, B, resumed[k], &err), GRPO_OK);
    int64_t epoch = a.epoch, pos = a.pos; /* what a checkpoint stores */
    tasks_cursor_free(&a);
    CU_ASSERT_EQUAL(epoch, 0);
    CU_ASSERT_EQUAL(pos, 20);
    tasks_cursor b;
    tasks_cursor_init(&b, 42, epoch, pos);
    for (int k = 4; k < 10; k++) CU_ASSERT_EQUAL_FATAL(tasks_cursor_next(&b, &ds, B, resumed[k], &err), GRPO_OK);
    CU_ASSERT_EQUAL(b.epoch, 2); /* 50 items of 23: two epochs done, 4 into the third */
    CU_ASSERT_EQUAL(b.pos, 4);
    tasks_cursor_free(&b);
    CU_ASSERT_EQUAL(memcmp(straight, resumed, sizeof straight), 0);
    tasks_dataset_free(&ds);
}

static void each_epoch_visits_every_item_once_in_a_new_order(void) {
    tasks_dataset ds;
    generate(&ds, "arithmetic", 40, 1, NULL);
    size_t e0[40], e1[40];
    grpo_err err = {0};
    tasks_cursor c;
    tasks_cursor_init(&c, 7, 0, 0);
    CU_ASSERT_EQUAL_FATAL(tasks_cursor_next(&c, &ds, 40, e0, &err), GRPO_OK);
    CU_ASSERT_EQUAL(c.epoch, 1);
    CU_ASSERT_EQUAL(c.pos, 0);
    CU_ASSERT_EQUAL_FATAL(tasks_cursor_next(&c, &ds, 40, e1, &err), GRPO_OK);
    int seen0[40] = {0}, seen1[40] = {0}, same = 0, identity = 0;
    for (int i = 0; i < 40; i++) {
        CU_ASSERT_FATAL(e0[i] < 40 && e1[i] < 40);
        seen0[e0[i]]++, seen1[e1[i]]++;
        same += e0[i] == e1[i];
        identity += e0[i] == (size_t)i;
    }
    for (int i = 0; i < 40; i++) CU_ASSERT(seen0[i] == 1 && seen1[i] == 1);
    CU_ASSERT(same < 10);
    CU_ASSERT(identity < 10);
    tasks_cursor_free(&c);
    tasks_dataset_free(&ds);
}

static void a_cursor_state_that_does_not_fit_the_dataset_is_an_error(void) {
    tasks_dataset ds, empty = {0};
    generate(&ds, "arithmetic", 8, 1, NULL);
    size_t out[4];
    grpo_err err = {0};
    tasks_cursor c;
    tasks_cursor_init(&c, 1, 3, 9);
    CU_ASSERT_EQUAL(tasks_cursor_next(&c, &ds, 4, out, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "data cursor: saved state (epoch 3, position 9) does not fit a dataset of 8 items");
    tasks_cursor_free(&c);
    tasks_cursor_init(&c, 1, 0, 0);
    CU_ASSERT_EQUAL(tasks_cursor_next(&c, &empty, 4, out, &err), GRPO_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.msg, "data cursor: the dataset is empty");
    /* a saved state at the very end of an epoch is fine: it rolls over */
    tasks_cursor_init(&c, 1, 0, 8);
    CU_ASSERT_EQUAL(tasks_cursor_next(&c, &ds, 4, out, &err), GRPO_OK);
    CU_ASSERT_EQUAL(c.epoch, 1);
    CU_ASSERT_EQUAL(c.pos, 4);
    tasks_cursor_free(&c);
    tasks_dataset_free(&ds);
}

void test_split_register(void) {
    CU_pSuite s = CU_add_suite("tasks: split, templates, cursor", NULL, NULL);
    CU_add_test(s, "split by fraction is exact, disjoint and covers everything", split_by_fraction_is_exact_disjoint_and_covers_everything);
    CU_add_test(s, "split is deterministic and depends on the seed", split_is_deterministic_and_depends_on_the_seed);
    CU_add_test(s, "duplicate prompts never straddle the split", duplicate_prompts_never_straddle_the_split);
    CU_add_test(s, "a split that leaves no training items is an error", a_split_that_leaves_no_training_items_is_an_error);
    CU_add_test(s, "exclude removes prompts a separate eval set holds", exclude_removes_prompts_a_separate_eval_set_holds);
    CU_add_test(s, "template fills placeholders and keeps other braces", template_fills_placeholders_and_keeps_other_braces);
    CU_add_test(s, "template with an unknown or inapplicable placeholder is an error", template_with_an_unknown_or_inapplicable_placeholder_is_an_error);
    CU_add_test(s, "system prompt is the row's own or the default", system_prompt_is_the_rows_own_or_the_default);
    CU_add_test(s, "cursor resumed from (epoch, position) continues identically", cursor_resumed_from_epoch_and_position_continues_identically);
    CU_add_test(s, "each epoch visits every item once in a new order", each_epoch_visits_every_item_once_in_a_new_order);
    CU_add_test(s, "a cursor state that does not fit the dataset is an error", a_cursor_state_that_does_not_fit_the_dataset_is_an_error);
}
