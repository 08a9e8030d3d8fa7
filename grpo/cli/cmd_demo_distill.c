/* grpo/cli/cmd_demo_distill.c: `grpo demo distill`: the distillation pipeline from nothing on built-in
 * arithmetic: (1) the demo teacher (SFT cold start then GRPO; or --teacher DIR), (2) teacher traces,
 * keeping the correct, well-formed ones, (3) SFT of a fresh student a quarter of the teacher's size or
 * less, (4) on-policy distillation from the teacher. It prints held-out greedy accuracy after each stage
 * and ends with one JSON line. Every stage is an ordinary run (grpo train / traces / export / sft / train)
 * under OUTPUT_DIR, so each can be inspected or rerun on its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_config.h"
#include "grpo/loops/dist.h"
#include "grpo/loops/distill.h"
#include "grpo/loops/export.h"

#ifndef GRPO_SOURCE_DIR
#define GRPO_SOURCE_DIR "."
#endif

/* The student SFT and on-policy stages' decoupled weight decay: 1.0, what bench/RESULTS.md
 * (Distillation) measured them with; the teacher's own cold start now uses 2.0 and its GRPO phase 0. */
static const double distill_weight_decay = 1.0;

static const cli_opt OPTS[] = {
    {"--teacher", "DIR", NULL, "use this teacher (an HF directory with the demo tokenizer's vocabulary) instead of training one"},
    {"--output_dir", "DIR", "runs", "every stage's run goes under DIR (distill-teacher, -traces, -student, -onpolicy)"},
    {"--seed", "S", "1", "seed of every stage"},
    {"--teacher_steps", "N", "60", "GRPO steps of the demo teacher (after its SFT cold start)"},
    {"--samples", "K", "4", "traces per training prompt"},
    {"--student_hidden", "H", "64", "the student's hidden size (with 3 layers: 0.23 of the teacher's parameters)"},
    {"--student_layers", "L", "3", "the student's layers"},
    {"--sft_steps", "N", "1500", "student SFT steps"},
    {"--distill_steps", "N", "40", "on-policy distillation steps"},
    {"--unfiltered", NULL, NULL, "SFT on every trace, correct or not (the control for rejection sampling)"},
    {NULL, NULL, NULL, NULL},
};
enum { O_TEACHER, O_OUT, O_SEED, O_TSTEPS, O_K, O_HIDDEN, O_LAYERS, O_SFT, O_DISTILL, O_UNFILTERED };

/* Copies a path into a config field (cap bytes); a path that does not fit is cut (and then not found). */
static void set_path(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The main demo's task and the settings every stage shares. */
static void base_config(run_config *c, const char *out, long long seed) {
    cli_demo_config(c);
    set_path(c->output_dir, sizeof c->output_dir, out);
    c->seed = seed;
    c->save_total_limit = 1;
}

static void log_line(void *ctx, const char *text) {
    (void)ctx;
    printf("  %s\n", text);
    fflush(stdout);
}

static int fail(const char *stage, const grpo_err *err) {
    fprintf(stderr, "grpo demo distill: %s: error: %s\n", stage, err->msg);
    return CLI_EXIT_ERROR;
}

static int run(const cli_cmd *cmd, const char **v) {
    long long seed, tsteps, K, hidden, layers, sft_steps, dsteps;
    if (cli_int(cmd, "--seed", v[O_SEED], 0, 1LL << 40, &seed) || cli_int(cmd, "--teacher_steps", v[O_TSTEPS], 0, 100000, &tsteps) ||
        cli_int(cmd, "--samples", v[O_K], 1, 64, &K) || cli_int(cmd, "--student_hidden", v[O_HIDDEN], 32, 4096, &hidden) ||
        cli_int(cmd, "--student_layers", v[O_LAYERS], 1, 64, &layers) || cli_int(cmd, "--sft_steps", v[O_SFT], 0, 1000000, &sft_steps) ||
        cli_int(cmd, "--distill_steps", v[O_DISTILL], 0, 100000, &dsteps))
        return CLI_EXIT_USAGE;
    if (hidden % 32) {
        fprintf(stderr, "grpo demo distill: option --student_hidden: %lld is not a multiple of 32 (the head size)\n", hidden);
        return CLI_EXIT_USAGE;
    }
    const char *out = v[O_OUT];
    train_log log = {.line = log_line};
    grpo_err err = {0};
    run_config *c = malloc(sizeof *c);
    if (!c || dist_init(&err)) return fail("setup", &err);
    char teacher[4400], student0[4400], traces_db[4400], rows[4400], student[4400];
    double teacher_acc = -1;
    long long teacher_params = 0, student_params = 0;

    /* 1. the teacher */
    if (v[O_TEACHER]) {
        snprintf(teacher, sizeof teacher, "%s", v[O_TEACHER]);
        printf("[1/4] teacher: %s\n", teacher);
    } else {
        base_config(c, out, seed);
        snprintf(c->run_name, sizeof c->run_name, "distill-teacher");
        c->max_steps = (int)tsteps;
        printf("[1/4] teacher: the demo (SFT cold start, then %lld GRPO steps)\n", tsteps);
        fflush(stdout);
        train_result tr;
        if (train_run(c, 0, &log, &tr, &err)) return fail("teacher", &err);
        snprintf(teacher, sizeof teacher, "%s", tr.last_checkpoint);
        teacher_acc = tr.accuracy_after;
    }

    /* 2. traces, then the correct and well-formed ones */
    base_config(c, out, seed);
    snprintf(c->run_name, sizeof c->run_name, "distill-traces");
    set_path(c->model, sizeof c->model, teacher);
    snprintf(c->reward_funcs[0], sizeof c->reward_funcs[0], "accuracy");
    c->n_reward_funcs = 1;
    c->num_generations = (int)K;
    c->generation_batch_size = (int)(64 * K);
    c->temperature = 0.6;
    c->top_p = 0.95;
    c->logging_steps = 0;
    printf("[2/4] traces: %lld per training prompt at temperature 0.6, top_p 0.95\n", K);
    fflush(stdout);
    traces_result trr;
    if (distill_traces(c, 0, &log, &trr, &err)) return fail("traces", &err);
    snprintf(traces_db, sizeof traces_db, "%s", trr.db_path);
    snprintf(rows, sizeof rows, "%s/distill-traces/traces.jsonl", out);
    export_opts eo;
    export_defaults(&eo);
    eo.db = traces_db;
    if (!v[O_UNFILTERED]) eo.min_reward = 1.0, eo.complete_only = 1, eo.dedup = 1;
    export_result er;
    if (export_run(&eo, rows, &er, &err)) return fail("export", &err);
    printf("  kept %lld of %lld traces (%s) in %s\n", er.completions_written, er.completions_read,
           v[O_UNFILTERED] ? "all of them" : "correct, complete, deduplicated", rows);

    /* teacher accuracy and size, measured the same way as the student's */
    base_config(c, out, seed);
    set_path(c->model, sizeof c->model, teacher);

    /* 3. a fresh student, SFT on the kept traces */
    snprintf(student0, sizeof student0, "%s/distill-student-init", out);
    if (distill_init_student(c->tokenizer, student0, (int)hidden, (int)layers, (uint64_t)seed, &err)) return fail("student", &err);
    base_config(c, out, seed);
    snprintf(c->run_name, sizeof c->run_name, "distill-student");
    set_path(c->model, sizeof c->model, student0);
    set_path(c->sft_dataset, sizeof c->sft_dataset, rows);
    c->sft_steps = (int)sft_steps;
    c->save_steps = 0;
    c->weight_decay = distill_weight_decay;
    printf("[3/4] student SFT: %lld steps on the kept traces\n", sft_steps);
    fflush(stdout);
    sft_result sr;
    if (distill_sft(c, 0, &log, &sr, &err)) return fail("student SFT", &err);
    snprintf(student, sizeof student, "%s", sr.last_checkpoint);

    /* 4. on-policy distillation from the teacher */
    base_config(c, out, seed);
    snprintf(c->run_name, sizeof c->run_name, "distill-onpolicy");
    set_path(c->model, sizeof c->model, student);
    set_path(c->teacher_model, sizeof c->teacher_model, teacher);
    snprintf(c->distill, sizeof c->distill, "on_policy");
    c->sft_steps = 0;
    c->max_steps = (int)dsteps;
    c->weight_decay = distill_weight_decay;
    c->eval_steps = 0;
    c->dynamic_sampling = 0; /* the per-token teacher signal needs no reward spread: keep every group */
    printf("[4/4] on-policy distillation: %lld steps\n", dsteps);
    fflush(stdout);
    train_result opr;
    if (train_run(c, 0, &log, &opr, &err)) return fail("on-policy distillation", &err);

    /* sizes and the teacher's accuracy when it came from elsewhere */
    policy_model tm = {0}, sm = {0};
    if (policy_load(&tm, teacher, &err) || policy_load(&sm, student0, &err)) return fail("sizes", &err);
    teacher_params = (long long)tm.n_params;
    student_params = (long long)sm.n_params;
    policy_free(&tm);
    policy_free(&sm);
    if (teacher_acc < 0) {
        base_config(c, out, seed);
        set_path(c->model, sizeof c->model, teacher);
        snprintf(c->run_name, sizeof c->run_name, "distill-teacher-eval");
        c->sft_steps = 0, c->max_steps = 0;
        train_result te;
        if (train_run(c, 0, &log, &te, &err)) return fail("teacher eval", &err);
        teacher_acc = te.accuracy_after;
    }
    printf("held-out accuracy (%d problems, greedy): teacher %.3f (%lld parameters); student after SFT %.3f, after "
           "on-policy distillation %.3f (%lld parameters)\n",
           sr.eval_n, teacher_acc, teacher_params, sr.accuracy_after, opr.accuracy_after, student_params);
    printf("databases: %s (traces), %s (SFT), %s (on-policy)\n", traces_db, sr.db_path, opr.db_path);
    printf("{\"teacher_accuracy\": %.4f, \"student_sft_accuracy\": %.4f, \"student_accuracy\": %.4f, \"teacher_params\": %lld, "
           "\"student_params\": %lld, \"db\": \"%s\"}\n",
           teacher_acc, sr.accuracy_after, opr.accuracy_after, teacher_params, student_params, opr.db_path);
    free(c);
    dist_finalize();
    return CLI_EXIT_OK;
}

const cli_cmd cmd_demo_distill = {
    .name = "demo distill",
    .summary = "Distillation from nothing: teacher, traces, student SFT, on-policy distillation.",
    .usage = "[--teacher DIR] [--seed S] [--output_dir DIR]",
    .opts = OPTS,
    .run = run,
};

int demo_distill_main(int argc, char **argv) {
    const char *vals[64];
    int rc = cli_parse(&cmd_demo_distill, argc, argv, vals);
    if (rc < 0) return CLI_EXIT_OK;
    if (rc) return rc;
    return cmd_demo_distill.run(&cmd_demo_distill, vals);
}
