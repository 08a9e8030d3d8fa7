/* grpo/cli/cmd_train.c: `grpo train CONFIG.json [--key value ...]` and `grpo demo`, the main job's
 * embedded default: SFT cold start then GRPO on built-in arithmetic with the tiny model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "cli.h"
#include "cmd_config.h"
#include "grpo/loops/dist.h"
#include "grpo/loops/run_config.h"
#include "grpo/loops/train.h"

#ifndef GRPO_SOURCE_DIR
#define GRPO_SOURCE_DIR "."
#endif

static int tty;

static void log_line(void *ctx, const char *text) {
    (void)ctx;
    if (tty) fputs("\r\033[K", stdout);
    puts(text);
    fflush(stdout);
}

static void log_progress(void *ctx, const char *text) {
    (void)ctx;
    if (!tty) return;
    printf("\r\033[K%s", text);
    fflush(stdout);
}

static void train_help(void) {
    printf("usage: grpo train CONFIG.json [--key value ...] [--resume] [--print-config] [--config-doc]\n\n"
           "Runs GRPO (optionally after an SFT cold start) as CONFIG.json says. Every key can be given or\n"
           "overridden on the command line as --key value (docs/config.md lists them all).\n\n"
           "Data parallel: mpirun -np P grpo train CONFIG.json (one process per rank; each samples and\n"
           "trains B/P of the B prompts per step, gradients are summed with MPI; rank 0 prints and writes\n"
           "the database and checkpoints).\n\n"
           "options:\n"
           "  --resume           continue from the newest complete checkpoint of the run directory\n"
           "  --print-config     print the resolved configuration as JSON and exit\n"
           "  --config-doc       print the configuration reference (docs/config.md) and exit\n"
           "  --help             show this help\n");
}

static int report(const char *cmd, const grpo_err *err) {
    if (dist_size() > 1) {
        fprintf(stderr, "grpo %s: error on rank %d of %d: %s\n", cmd, dist_rank(), dist_size(), err->msg);
        fflush(stderr);
        dist_abort(CLI_EXIT_ERROR); /* the other ranks would wait for this one forever */
    }
    fprintf(stderr, "grpo %s: error: %s\n", cmd, err->msg);
    return CLI_EXIT_ERROR;
}

/* Under mpirun/srun every rank runs this; rank 0 prints. */
static int run_and_report(const char *cmd, const run_config *c, int resume, int demo_json) {
    tty = isatty(STDOUT_FILENO);
    train_log log = {.line = log_line, .progress = log_progress};
    train_result res;
    grpo_err err = {0};
    if (dist_init(&err)) return report(cmd, &err);
    if (dist_size() > 1) tty = 0; /* mpirun hands ranks a pseudo-terminal even when its output goes to a file */
    if (train_run(c, resume, &log, &res, &err)) return report(cmd, &err);
    const int quiet = dist_rank() != 0;
    dist_finalize();
    if (quiet) return CLI_EXIT_OK;
    printf("done: %lld GRPO steps; held-out accuracy %.3f -> %.3f (%d problems)\n", res.steps_done,
           res.accuracy_before, res.accuracy_after, res.eval_n);
    printf("checkpoint: %s\n", res.last_checkpoint);
    printf("database:   %s\n", res.db_path);
    printf("inspect:    sqlite3 %s 'SELECT step, reward_mean, accuracy, kl FROM steps'\n", res.db_path);
    printf("            %s db steps --db %s\n", cli_program, res.db_path);
    if (demo_json)
        printf("{\"accuracy_before\": %.4f, \"accuracy_after\": %.4f, \"db\": \"%s\"}\n", res.accuracy_before,
               res.accuracy_after, res.db_path);
    return CLI_EXIT_OK;
}

/* Applies argv as --key value pairs; the flags set resume, print and doc. */
static int apply_args(run_config *c, int argc, char **argv, int *resume, int *print, int *doc, const char *cmd) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--resume")) { *resume = 1; continue; }
        if (!strcmp(a, "--print-config")) { *print = 1; continue; }
        if (!strcmp(a, "--config-doc")) { *doc = 1; continue; }
        if (strncmp(a, "--", 2)) {
            fprintf(stderr, "grpo %s: unexpected argument '%s'\n", cmd, a);
            return CLI_EXIT_USAGE;
        }
        char key[128];
        const char *eq = strchr(a, '='), *val;
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2), a + 2);
            val = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "grpo %s: option %s needs a value\n", cmd, a);
                return CLI_EXIT_USAGE;
            }
            snprintf(key, sizeof key, "%s", a + 2);
            val = argv[++i];
        }
        grpo_err err = {0};
        if (rc_set(c, key, val, &err)) {
            fprintf(stderr, "grpo %s: %s\n", cmd, err.msg);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

static int train_main(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            train_help();
            return CLI_EXIT_OK;
        }
    run_config c;
    rc_defaults(&c);
    int resume = 0, print = 0, doc = 0, first = 0;
    grpo_err err = {0};
    if (argc > 0 && strncmp(argv[0], "--", 2)) {
        char *text;
        size_t len;
        if (fs_read_file(argv[0], &text, &len, &err)) return report("train", &err);
        int rc = rc_apply_json(&c, text, len, argv[0], &err);
        free(text);
        if (rc) return report("train", &err);
        first = 1;
    }
    int rc = apply_args(&c, argc - first, argv + first, &resume, &print, &doc, "train");
    if (rc) return rc;
    if (doc) {
        char *md = rc_doc_markdown();
        if (!md) {
            fprintf(stderr, "grpo train: out of memory\n");
            return CLI_EXIT_ERROR;
        }
        fputs(md, stdout);
        free(md);
        return CLI_EXIT_OK;
    }
    if (print) {
        char *j = rc_to_json(&c);
        puts(j);
        free(j);
        return CLI_EXIT_OK;
    }
    if (!first) {
        fprintf(stderr, "grpo train: a CONFIG.json is required (see grpo train --help; grpo demo runs a built-in one)\n");
        return CLI_EXIT_USAGE;
    }
    return run_and_report("train", &c, resume, 0);
}

/* The demo: the R1 recipe at tiny scale, from nothing on 2 CPU cores in minutes. A cold start of 300
 * worked solutions (its own split) teaches the format; GRPO then learns from 2,000 problems that carry
 * answers only, which SFT cannot use. 3 one-digit operands (+, -) leave ~2,700 distinct problems: the
 * cold start sees 11% of them. Dynamic sampling keeps the learner on groups with a reward spread, which
 * the cold start's confident policy (entropy ~0.02) makes scarce. bench/demo_learning.sh measures it
 * against SFT alone for the same wall time (bench/RESULTS.md: with 200 solutions SFT alone falls
 * further behind, but GRPO from the weaker cold start dips early, and on one seed of three collapsed). */
static void demo_config(run_config *c) {
    rc_defaults(c);
    snprintf(c->model, sizeof c->model, "init:qwen2:tiny");
    snprintf(c->tokenizer, sizeof c->tokenizer, "%s/data/demo-tokenizer", GRPO_SOURCE_DIR);
    snprintf(c->dataset, sizeof c->dataset, "builtin:arithmetic");
    snprintf(c->run_name, sizeof c->run_name, "demo");
    c->builtin_operands = 3;
    c->builtin_digits = 1;
    c->train_size = 2000;
    c->eval_size = 200;
    c->sft_size = 300;
    c->num_generations = 8;
    c->generation_batch_size = 256;
    c->per_device_train_batch_size = 256;
    c->max_completion_length = 40;
    c->max_prompt_length = 64;
    c->temperature = 1.0;
    c->learning_rate = 3e-4;
    c->beta = 0.0;
    c->dynamic_sampling = 1;
    c->max_steps = 250;
    c->sft_steps = 1500;
    c->sft_learning_rate = 3e-3;
    snprintf(c->sft_lr_scheduler_type, sizeof c->sft_lr_scheduler_type, "cosine");
    c->sft_weight_decay = 2.0; /* what lets the cold start generalize from 300 solutions on every build (1.0: one seed stuck at 0.3) */
    c->weight_decay = 0.0;     /* GRPO's: 1.0 shrinks the cold start by lr x 1.0 a step and costs it held-out accuracy */
    c->sft_batch_size = 32;
    c->save_steps = 50;
    c->save_total_limit = 2;
    c->eval_steps = 50;
    c->seed = 1;
}

static int demo_main(int argc, char **argv) {
    if (argc > 0 && !strcmp(argv[0], "distill")) return demo_distill_main(argc - 1, argv + 1);
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grpo demo [--key value ...] [--resume] [--print-config]\n\n"
                   "The main job's embedded default, the R1 recipe at tiny scale: a tiny Qwen2-shaped policy\n"
                   "initialized from nothing, an SFT cold start on 300 worked arithmetic solutions (a split of\n"
                   "their own, sft_size; cosine schedule, weight decay 2.0), then 250 GRPO steps with the accuracy\n"
                   "and format rewards, dynamic sampling and no weight decay on 2,000 problems that carry answers\n"
                   "only. It prints held-out accuracy before and after GRPO and where the database is, and ends\n"
                   "with one JSON line {\"accuracy_before\", \"accuracy_after\", \"db\"}. Any train key can be\n"
                   "overridden (grpo demo --print-config shows them; docs/config.md explains them).\n\n"
                   "grpo demo distill: the distillation demo (teacher, traces, student SFT, on-policy\n"
                   "distillation; grpo demo distill --help).\n");
            return CLI_EXIT_OK;
        }
    run_config c;
    demo_config(&c);
    int resume = 0, print = 0, doc = 0;
    int rc = apply_args(&c, argc, argv, &resume, &print, &doc, "demo");
    if (rc) return rc;
    if (print) {
        char *j = rc_to_json(&c);
        puts(j);
        free(j);
        return CLI_EXIT_OK;
    }
    return run_and_report("demo", &c, resume, 1);
}

const cli_cmd cmd_train = {
    .name = "train",
    .summary = "Run GRPO from a JSON config (keys as TRL's GRPOConfig; docs/config.md).",
    .usage = "CONFIG.json [--key value ...] [--resume] [--print-config] [--config-doc]",
    .main = train_main,
};

const cli_cmd cmd_demo = {
    .name = "demo",
    .summary = "The main job's embedded default: SFT then GRPO on built-in arithmetic with a tiny model.",
    .usage = "[--key value ...] [--print-config]",
    .main = demo_main,
};

/* grpo eval: pass@1, pass@k, maj@k of a model on a JSONL dataset. */
static int eval_main(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: grpo eval --model DIR --data F.jsonl [--format gsm8k] [--k K] [--temperature T]\n"
                   "                 [--tokenizer DIR] [--key value ...]\n\n"
                   "Samples K completions per problem (temperature 0: one greedy completion) and prints one JSON\n"
                   "line with pass@1 (mean share of correct samples), pass@k and maj@k (majority vote over the\n"
                   "extracted answers). Prompts are rendered as in training: prompt_template, system_prompt,\n"
                   "chat_template and max_completion_length are train keys (docs/config.md).\n");
            return CLI_EXIT_OK;
        }
    run_config c;
    rc_defaults(&c);
    snprintf(c.model, sizeof c.model, "%s", "");
    int k = 8;
    double temperature = 1.0;
    /* eval's own spellings first, then any train key */
    char **rest = malloc((argc + 1) * sizeof *rest);
    if (!rest) {
        fprintf(stderr, "grpo eval: out of memory\n");
        return CLI_EXIT_ERROR;
    }
    int nr = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "--data") || !strcmp(a, "--format") || !strcmp(a, "--k") || !strcmp(a, "--temperature")) && !v) {
            fprintf(stderr, "grpo eval: option %s needs a value\n", a);
            free(rest);
            return CLI_EXIT_USAGE;
        }
        if (!strcmp(a, "--data")) snprintf(c.dataset, sizeof c.dataset, "%s", v), i++;
        else if (!strcmp(a, "--format")) snprintf(c.dataset_format, sizeof c.dataset_format, "%s", v), i++;
        else if (!strcmp(a, "--k") || !strcmp(a, "--temperature")) {
            long long kk = 0;
            int bad = a[2] == 'k' ? cli_int(&cmd_eval, a, v, 1, 1 << 20, &kk)
                                  : cli_float(&cmd_eval, a, v, &temperature);
            if (!bad && a[2] != 'k' && !(temperature >= 0 && temperature <= 100)) {
                fprintf(stderr, "grpo eval: option --temperature: expected a number in [0, 100], got '%s'\n", v);
                bad = CLI_EXIT_USAGE;
            }
            if (bad) {
                free(rest);
                return bad;
            }
            if (a[2] == 'k') k = (int)kk;
            i++;
        } else rest[nr++] = argv[i];
    }
    int resume = 0, print = 0, doc = 0;
    int rc = apply_args(&c, nr, rest, &resume, &print, &doc, "eval");
    free(rest);
    if (rc) return rc;
    if (!c.model[0] || !strncmp(c.dataset, "builtin:", 8)) {
        fprintf(stderr, "grpo eval: --model and --data are required (see grpo eval --help)\n");
        return CLI_EXIT_USAGE;
    }
    tty = isatty(STDOUT_FILENO);
    train_log log = {.line = log_line, .progress = log_progress};
    eval_result r;
    grpo_err err = {0};
    if (train_evaluate(&c, k, temperature, &log, &r, &err)) return report("eval", &err);
    printf("{\"problems\": %d, \"k\": %d, \"pass@1\": %.4f, \"pass@%d\": %.4f, \"maj@%d\": %.4f, \"seconds\": %.2f}\n",
           r.n_problems, r.k, r.pass1, r.k, r.pass_k, r.k, r.maj_k, r.seconds);
    return CLI_EXIT_OK;
}

const cli_cmd cmd_eval = {
    .name = "eval",
    .summary = "Evaluate a model on a JSONL dataset: pass@1, pass@k and maj@k.",
    .usage = "--model DIR --data F.jsonl [--format NAME] [--k K] [--temperature T] [--tokenizer DIR] [--key value ...]",
    .main = eval_main,
};

/* The --key value / --resume / --print-config / --config-doc parsing of train, for the other config commands. */
int cli_config_args(run_config *c, int argc, char **argv, int *resume, int *print, int *doc, const char *cmd) {
    return apply_args(c, argc, argv, resume, print, doc, cmd);
}

/* The main demo's configuration, the base of grpo demo distill's stages. */
void cli_demo_config(run_config *c) { demo_config(c); }
