/* grpo/cli/cmd_tasks.c: `grpo tasks show`: load a JSONL dataset (or run a built-in generator) exactly as training
 * would, and print its items as JSON lines, so a field mapping or a template can be checked before a run.
 *   grpo tasks show --data train.jsonl --format gsm8k [--prompt-field F ...] [--template T] [--limit N]
 *   grpo tasks show --generate arithmetic|countdown [--n N] [--seed S] [--ops +-*] [--operands N] [--digits N] [--unique] [--limit N]
 * A bad row is reported as file:line: field "name": what is wrong, and nothing is printed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks.h"
#include "cli.h"

static const cli_opt OPTS[] = {
    {"show", NULL, NULL, "subcommand: print the items as JSON lines"},
    {"--data", "F", NULL, "JSONL dataset to load"},
    {"--format", "NAME", "custom", "gsm8k, math, humaneval, mbpp, stdio, countdown or custom"},
    {"--prompt-field", "F", NULL, "JSON field of the prompt ('a|b': the first present)"},
    {"--answer-field", "F", NULL, "JSON field of the gold answer"},
    {"--solution-field", "F", NULL, "JSON field of a worked solution"},
    {"--system-field", "F", NULL, "JSON field of a per-row system prompt"},
    {"--task-id-field", "F", NULL, "JSON field of the task id"},
    {"--test-field", "F", NULL, "JSON field of the test code (or MBPP's test list)"},
    {"--entry-point-field", "F", NULL, "JSON field of the function under test"},
    {"--inputs-field", "F", NULL, "JSON field of the stdin inputs"},
    {"--outputs-field", "F", NULL, "JSON field of the expected stdout outputs"},
    {"--nums-field", "F", NULL, "JSON field of the countdown numbers"},
    {"--target-field", "F", NULL, "JSON field of the countdown target"},
    {"--generate", "NAME", NULL, "built-in generator instead of --data: arithmetic or countdown"},
    {"--n", "N", "10", "items to generate"},
    {"--seed", "S", "0", "generator seed"},
    {"--ops", "OPS", NULL, "arithmetic operators to draw from (default +-)"},
    {"--operands", "N", NULL, "arithmetic: at most N operands (train key builtin_operands)"},
    {"--digits", "N", NULL, "arithmetic: at most N digits per operand (train key builtin_digits)"},
    {"--unique", NULL, NULL, "no two items share a prompt (as grpo train's builtin: datasets)"},
    {"--template", "T", NULL, "render each prompt through this template ({prompt}, {nums}, {target}, ...)"},
    {"--limit", "N", "5", "items to print (0: all)"},
    {NULL, NULL, NULL, NULL},
};
enum { O_SHOW, O_DATA, O_FORMAT, O_PROMPT, O_ANSWER, O_SOLUTION, O_SYSTEM, O_TASKID, O_TEST, O_ENTRY, O_INPUTS,
       O_OUTPUTS, O_NUMS, O_TARGET, O_GENERATE, O_N, O_SEED, O_OPS, O_OPERANDS, O_DIGITS, O_UNIQUE, O_TEMPLATE, O_LIMIT };

static void set_str(json_t *o, const char *key, const char *s) {
    if (s) json_object_set_new(o, key, json_string(s));
}

/* One item as a JSON object (absent fields left out). */
static json_t *item_json(const tasks_item *it, const char *rendered) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(it->id));
    if (it->line) json_object_set_new(o, "line", json_integer(it->line));
    set_str(o, "prompt", it->prompt);
    set_str(o, "rendered", rendered);
    set_str(o, "answer", it->answer);
    set_str(o, "solution", it->solution);
    set_str(o, "system", it->system);
    set_str(o, "task_id", it->task_id);
    set_str(o, "test", it->test);
    set_str(o, "entry_point", it->entry_point);
    if (it->n_io) {
        json_t *in = json_array(), *out = json_array();
        for (int i = 0; i < it->n_io; i++) {
            json_array_append_new(in, json_string(it->inputs[i]));
            json_array_append_new(out, json_string(it->outputs[i]));
        }
        json_object_set_new(o, "inputs", in);
        json_object_set_new(o, "outputs", out);
    }
    if (it->n_nums) {
        json_t *nums = json_array();
        for (int i = 0; i < it->n_nums; i++) json_array_append_new(nums, json_integer(it->nums[i]));
        json_object_set_new(o, "nums", nums);
        json_object_set_new(o, "target", json_integer(it->target));
    }
    return o;
}

static int run(const cli_cmd *cmd, const char **v) {
    if (!v[O_SHOW]) {
        fprintf(stderr, "grpo tasks: give the subcommand: show (see grpo tasks --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (!v[O_DATA] == !v[O_GENERATE]) {
        fprintf(stderr, "grpo tasks show: give exactly one of --data or --generate\n");
        return CLI_EXIT_USAGE;
    }
    long long limit, n = 0, seed = 0;
    if (cli_int(cmd, "--limit", v[O_LIMIT], 0, 1LL << 40, &limit)) return CLI_EXIT_USAGE;
    grpo_err err = {0};
    if (v[O_TEMPLATE] && tasks_template_check(v[O_TEMPLATE], &err)) return cli_fail(cmd, &err);
    tasks_dataset ds;
    int rc;
    if (v[O_DATA]) {
        tasks_format format;
        if (tasks_format_parse(v[O_FORMAT], &format, &err)) {
            fprintf(stderr, "grpo tasks show: option --format: %s\n", err.msg);
            return CLI_EXIT_USAGE;
        }
        tasks_fields map = {
            .prompt = v[O_PROMPT], .answer = v[O_ANSWER], .solution = v[O_SOLUTION], .system = v[O_SYSTEM],
            .task_id = v[O_TASKID], .test = v[O_TEST], .entry_point = v[O_ENTRY], .inputs = v[O_INPUTS],
            .outputs = v[O_OUTPUTS], .nums = v[O_NUMS], .target = v[O_TARGET],
        };
        rc = tasks_load_jsonl(&ds, v[O_DATA], &map, format, &err);
    } else {
        if (cli_int(cmd, "--n", v[O_N], 1, 100000000, &n)) return CLI_EXIT_USAGE;
        if (cli_int(cmd, "--seed", v[O_SEED], 0, 9223372036854775807LL, &seed)) return CLI_EXIT_USAGE;
        tasks_gen_opts o;
        tasks_gen_opts_default(&o);
        if (v[O_OPS]) o.ops = v[O_OPS];
        long long k;
        if (v[O_OPERANDS]) {
            if (cli_int(cmd, "--operands", v[O_OPERANDS], 2, 8, &k)) return CLI_EXIT_USAGE;
            o.max_operands = (int)k;
            if (o.min_operands > o.max_operands) o.min_operands = o.max_operands;
        }
        if (v[O_DIGITS]) {
            if (cli_int(cmd, "--digits", v[O_DIGITS], 1, 6, &k)) return CLI_EXIT_USAGE;
            o.max_digits = (int)k;
            if (o.min_digits > o.max_digits) o.min_digits = o.max_digits;
        }
        o.unique = v[O_UNIQUE] != NULL;
        rc = tasks_generate(&ds, v[O_GENERATE], (size_t)n, (uint64_t)seed, &o, &err);
    }
    if (rc) return cli_fail(cmd, &err);
    size_t shown = limit && (size_t)limit < ds.n ? (size_t)limit : ds.n;
    for (size_t i = 0; i < shown && !rc; i++) {
        char *rendered = NULL;
        if (v[O_TEMPLATE] && (rc = tasks_render_prompt(&ds.items[i], v[O_TEMPLATE], &rendered, &err))) break;
        json_t *o = item_json(&ds.items[i], rendered);
        char *line = json_dumps(o, JSON_ENSURE_ASCII);
        if (line) puts(line);
        free(line), free(rendered);
        json_decref(o);
    }
    if (!rc)
        fprintf(stderr, "grpo tasks: %zu items (kind %s, format %s), %zu shown\n", ds.n, tasks_kind_name(ds.kind),
                tasks_format_name(ds.format), shown);
    tasks_dataset_free(&ds);
    return rc ? cli_fail(cmd, &err) : CLI_EXIT_OK;
}

const cli_cmd cmd_tasks = {
    .name = "tasks",
    .summary = "Inspect a dataset as training reads it: JSONL with a field mapping, or a built-in generator.",
    .usage = "show (--data F [--format NAME] | --generate NAME)",
    .opts = OPTS,
    .run = run,
};
