/* grpo/cli/cmd_generate.c: `grpo generate`: sample n completions of a prompt with the KV-cached engine. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "policy/model.h"
#include "policy/tokenizer/tokenizer.h"
#include "rollout/generate.h"
#include "cli.h"
#include "grpo/loops/train.h"

static const cli_opt OPTS[] = {
    {"--model", "DIR", NULL, "model directory (config.json + safetensors); required"},
    {"--prompt-ids", "LIST", NULL, "the prompt as comma-separated token ids"},
    {"--prompt", "TEXT", NULL, "the prompt as text (needs tokenizer.json in the model directory)"},
    {"-n", "G", "1", "completions per prompt"},
    {"--max-new-tokens", "N", "64", "tokens to generate at most per completion"},
    {"--temperature", "T", "1.0", "sampling temperature; 0 = greedy"},
    {"--top-p", "P", "1.0", "nucleus sampling mass (1 = off)"},
    {"--top-k", "K", "0", "keep the K most likely tokens (0 = off)"},
    {"--min-p", "M", "0.0", "keep tokens with p >= M * max p (0 = off)"},
    {"--repetition-penalty", "R", "1.0", "HF repetition penalty (1 = off)"},
    {"--seed", "S", "0", "run seed; completion j's generator is derived from (seed, step, prompt, j)"},
    {"--eos", "LIST", NULL, "stop token ids (default: the tokenizer's and config.json's eos ids)"},
    {"--stop", "STR", NULL, "stop string: a completion ends once its text contains it (needs the tokenizer)"},
    {"--kv-budget-mb", "MB", "4096", "refuse requests whose KV cache would exceed this"},
    {"--no-share-prefix", NULL, NULL, "prefill the prompt once per completion instead of sharing it"},
    {"--json", NULL, NULL, "one JSON object per completion per line"},
    {"--threads", "N", NULL, "OpenMP threads (default: all cores)"},
    {"--device", "DEV", "cpu", "backend: cpu or cuda (cuda: prefill, decode and sampling on the GPU in bf16)"},
    {"--max-batch", "N", "0", "completions decoded per step at most (0 = all)"},
    {NULL, NULL, NULL, NULL},
};

enum { O_MODEL, O_IDS, O_PROMPT, O_N, O_MAXNEW, O_TEMP, O_TOPP, O_TOPK, O_MINP, O_REP, O_SEED, O_EOS, O_STOP, O_KV,
       O_NOSHARE, O_JSON, O_THREADS, O_DEVICE, O_MAXB };

/* gen_detok_fn over a tokenizer: the completion's text so far. */
static char *detok(void *ctx, const int *ids, int n) {
    char *text = NULL;
    size_t len;
    if (tok_decode(ctx, ids, (size_t)n, TOK_SKIP_SPECIAL, &text, &len, NULL)) return NULL;
    return text;
}

/* Prints s as a JSON string. */
static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p == '\r') fputs("\\r", stdout);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

/* Parses an integer list option; prints a usage error and returns -1 when it is bad. */
static int parse_list(const char *opt, const char *s, int **out) {
    grpo_err err = {0};
    int n = cli_parse_ints(opt, s, out, &err);
    if (n < 0) fprintf(stderr, "grpo generate: %s\n", err.msg);
    return n < 0 ? -1 : n;
}

static void print_json_ints(const int *v, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", v[i]);
    putchar(']');
}

/* The sampling settings from the options into gp; CLI_EXIT_USAGE (message printed) when one is bad. */
static int parse_settings(const cli_cmd *cmd, const char **v, gen_params *gp) {
    long long n, maxnew, topk, seed, kvmb, th, maxb;
    double temp, topp, minp, rep;
    if (cli_int(cmd, "-n", v[O_N], 1, 4096, &n) || cli_int(cmd, "--max-new-tokens", v[O_MAXNEW], 1, 1 << 20, &maxnew) ||
        cli_int(cmd, "--top-k", v[O_TOPK], 0, 1 << 24, &topk) || cli_int(cmd, "--seed", v[O_SEED], 0, 1LL << 62, &seed) ||
        cli_int(cmd, "--kv-budget-mb", v[O_KV], 1, 1LL << 30, &kvmb) || cli_float(cmd, "--temperature", v[O_TEMP], &temp) ||
        cli_float(cmd, "--top-p", v[O_TOPP], &topp) || cli_float(cmd, "--min-p", v[O_MINP], &minp) ||
        cli_float(cmd, "--repetition-penalty", v[O_REP], &rep) || cli_int(cmd, "--max-batch", v[O_MAXB], 0, 1 << 24, &maxb))
        return CLI_EXIT_USAGE;
    if (temp < 0 || topp <= 0 || topp > 1 || minp < 0 || minp > 1 || rep <= 0) {
        fprintf(stderr, "grpo generate: need temperature >= 0, 0 < top-p <= 1, 0 <= min-p <= 1, repetition-penalty > 0\n");
        return CLI_EXIT_USAGE;
    }
    if (v[O_THREADS]) {
        if (cli_int(cmd, "--threads", v[O_THREADS], 1, 4096, &th)) return CLI_EXIT_USAGE;
        omp_set_num_threads((int)th);
    }
    *gp = gen_defaults();
    gp->n = (int)n;
    gp->max_new_tokens = (int)maxnew;
    gp->sampling = (smp_params){(float)temp, (int)topk, (float)topp, (float)minp, (float)rep};
    gp->seed = (uint64_t)seed;
    gp->kv_budget_bytes = (size_t)kvmb << 20;
    gp->share_prefix = v[O_NOSHARE] == NULL;
    gp->max_batch = (int)maxb;
    return 0;
}

/* Everything one generate call holds; request_free releases whatever was made. */
typedef struct {
    tok_tokenizer *tok;          /* when the model directory has a tokenizer.json */
    policy_model m;
    int have_model;
    int *ids, n_ids;             /* the prompt */
    int *eos, n_eos;             /* --eos, or the tokenizer's and config's */
    int eos_all[TOK_MAX_EOS + POLICY_MAX_EOS];
    gen_completion *out;
} request;

static void request_free(request *r) {
    free(r->out);
    free(r->ids);
    free(r->eos);
    if (r->tok) tok_free(r->tok);
    if (r->have_model) policy_free(&r->m);
}

/* Loads the tokenizer (when present), the prompt, the model and the EOS ids. Returns CLI_EXIT_USAGE
 * (message printed), CLI_EXIT_ERROR with err set, or 0. */
static int request_build(const cli_cmd *cmd, const char **v, request *r, grpo_err *err) {
    if (v[O_EOS] && (r->n_eos = parse_list("--eos", v[O_EOS], &r->eos)) < 0) return CLI_EXIT_USAGE;
    char tpath[4200];
    snprintf(tpath, sizeof tpath, "%s/tokenizer.json", v[O_MODEL]);
    if (fs_exists(tpath) && tok_load(&r->tok, v[O_MODEL], err)) return CLI_EXIT_ERROR;
    if ((v[O_PROMPT] || v[O_STOP]) && !r->tok) {
        fprintf(stderr, "grpo generate: --prompt and --stop need %s; use --prompt-ids\n", tpath);
        return CLI_EXIT_USAGE;
    }
    if (v[O_PROMPT]) {
        size_t n;
        if (tok_encode(r->tok, v[O_PROMPT], strlen(v[O_PROMPT]), TOK_SPECIAL, &r->ids, &n, err)) return CLI_EXIT_ERROR;
        r->n_ids = (int)n;
    } else if ((r->n_ids = parse_list("--prompt-ids", v[O_IDS], &r->ids)) < 0) {
        return CLI_EXIT_USAGE;
    }
    if (policy_load(&r->m, v[O_MODEL], err)) return CLI_EXIT_ERROR;
    r->have_model = 1;
    if (r->tok && tok_get_info(r->tok)->vocab_size > r->m.cfg.vocab_size) {
        grpo_errf(err, GRPO_EINVAL, "vocabulary mismatch: tokenizer %s has %d ids, model vocab_size is %d", tpath,
                  tok_get_info(r->tok)->vocab_size, r->m.cfg.vocab_size);
        return CLI_EXIT_ERROR;
    }
    if (!(r->m.backend = policy_backend_get(v[O_DEVICE], err))) return CLI_EXIT_ERROR;
    if (r->tok) tok_set_model_vocab(r->tok, r->m.cfg.vocab_size); /* padding ids decode to "" */
    if (!r->eos) r->n_eos = train_eos_ids(r->tok, &r->m, r->eos_all, (int)(sizeof r->eos_all / sizeof r->eos_all[0]));
    return 0;
}

/* Prints completion j: one JSON object per line with --json, else a readable line. */
static void print_completion(const request *r, int j, int json) {
    const gen_completion *c = &r->out[j];
    const char *fin = c->finish == GEN_FINISH_STOP ? "stop" : "length";
    char *text = r->tok ? detok(r->tok, c->tokens, c->n_tokens) : NULL;
    if (json) {
        printf("{\"index\":%d,\"text\":", j);
        if (text) print_json_string(text);
        else fputs("null", stdout);
        printf(",\"token_ids\":");
        print_json_ints(c->tokens, c->n_tokens);
        printf(",\"logprobs\":[");
        for (int t = 0; t < c->n_tokens; t++) printf("%s%.9g", t ? "," : "", c->logprobs[t]);
        printf("],\"finish_reason\":\"%s\"}\n", fin);
    } else {
        double sum = 0;
        for (int t = 0; t < c->n_tokens; t++) sum += c->logprobs[t];
        printf("[%d] %d tokens, finish %s, sum logprob %.3f: ", j, c->n_tokens, fin, sum);
        if (text) printf("%s\n", text);
        else {
            print_json_ints(c->tokens, c->n_tokens);
            putchar('\n');
        }
    }
    free(text);
}

static int run(const cli_cmd *cmd, const char **v) {
    if (!v[O_MODEL] || (!v[O_IDS] && !v[O_PROMPT])) {
        fprintf(stderr, "grpo generate: --model and one of --prompt-ids / --prompt are required (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    gen_params gp;
    if (parse_settings(cmd, v, &gp)) return CLI_EXIT_USAGE;
    request r = {0};
    grpo_err err = {0};
    int rc = request_build(cmd, v, &r, &err);
    if (!rc && !(r.out = calloc((size_t)gp.n, sizeof *r.out))) rc = CLI_EXIT_ERROR, grpo_errf(&err, GRPO_ENOMEM, "out of memory");
    const char *stops[1] = {v[O_STOP]};
    gen_stats st;
    if (!rc) {
        gp.eos_ids = r.eos ? r.eos : r.eos_all;
        gp.n_eos = r.n_eos;
        gp.stop = v[O_STOP] ? stops : NULL;
        gp.n_stop = v[O_STOP] ? 1 : 0;
        gp.detok = detok;
        gp.detok_ctx = r.tok;
        const int *prompts[1] = {r.ids};
        if (gen_run(&r.m, prompts, &r.n_ids, NULL, 1, &gp, r.out, &st, &err)) rc = CLI_EXIT_ERROR;
    }
    if (!rc) {
        for (int j = 0; j < gp.n; j++) print_completion(&r, j, v[O_JSON] != NULL);
        fprintf(stderr, "grpo generate: prefill %zu tokens in %.3fs, decode %zu tokens in %.3fs (%.0f tok/s), KV %.1f MiB\n",
                st.prefill_tokens, st.prefill_s, st.decode_tokens, st.decode_s,
                st.decode_s > 0 ? st.decode_tokens / st.decode_s : 0.0, st.kv_bytes / 1048576.0);
        gen_completions_free(r.out, gp.n);
    }
    request_free(&r);
    return rc == CLI_EXIT_ERROR ? cli_fail(cmd, &err) : rc;
}

const cli_cmd cmd_generate = {
    .name = "generate",
    .summary = "Sample n completions of a prompt with the KV-cached engine.",
    .usage = "--model DIR (--prompt TEXT | --prompt-ids 1,2,3) [-n G] [--max-new-tokens N] [--temperature T] "
             "[--top-p P] [--top-k K] [--min-p M] [--seed S] [--json]",
    .opts = OPTS,
    .run = run,
};
