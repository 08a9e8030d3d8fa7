/* grpo/train.c: the train loop. Sections in data-flow order: setup (run directory, tokenizer,
 * data, model, database), rewards, the SFT cold start, evaluation, one GRPO step (sample, score,
 * advantages, mu optimizer steps over micro-batches, store), checkpoints, and train_run. */
#include "train.h"

#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../checkpoints/ckpt.h"
#include "../checkpoints/model_dir.h"
#include "../common/fsutil.h"
#include "../policy/chat.h"
#include "../policy/model.h"
#include "../policy/tokenizer.h"
#include "../rewards/external.h"
#include "../rewards/math.h"
#include "../rewards/registry.h"
#include "../rollout/generate.h"
#include "../rollout/store.h"
#include "../tasks/tasks.h"
#include "dist.h"
#include "eval_metrics.h"
#include "learner.h"

/* ---- the trainer's state ---- */

typedef struct {
    int *ids;      /* the rendered, tokenized prompt */
    int n;
    char *text;    /* the rendered prompt text (chat template applied) */
} prompt_cache;

typedef struct {
    const run_config *cfg;
    const train_log *log;
    char run_dir[4096];
    char ref_dir[4200];     /* the frozen reference (beta > 0): the GRPO starting point */
    const char *tok_dir;    /* where tokenizer.json came from (copied into checkpoints) */
    tok_tokenizer *tok;
    chat_format chat;
    tasks_dataset train, eval;
    prompt_cache *ptrain, *peval;
    tasks_cursor cursor;
    policy_model model, ref;
    int have_ref;
    store *db;
    rw_registry *rw, *acc;  /* the configured rewards; accuracy alone for metrics and eval */
    rw_external *ext;       /* the external reward command, when configured */
    learner_opts lopts;
    int eos[TOK_MAX_EOS + POLICY_MAX_EOS], n_eos;
    double t_start;
    int64_t step0;          /* GRPO steps done when this process started */
} trainer;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void logf_(const trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const trainer *t, const char *fmt, ...) {
    if (!t->log || !t->log->line || dist_rank() != 0) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->log->line(t->log->ctx, buf);
}

static void progress(const trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const trainer *t, const char *fmt, ...) {
    if (!t->log || !t->log->progress || dist_rank() != 0) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->log->progress(t->log->ctx, buf);
}

static void fmt_duration(double s, char *out, size_t cap) {
    if (s < 0 || !isfinite(s)) snprintf(out, cap, "?");
    else if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* ---- setup ---- */

static int load_data(trainer *t, grpo_err *err) {
    const run_config *c = t->cfg;
    tasks_dataset all = {0};
    int rc;
    if (!strncmp(c->dataset, "builtin:", 8)) {
        const char *gen = c->dataset + 8;
        tasks_gen_opts o;
        tasks_gen_opts_default(&o);
        o.unique = 1;
        o.max_operands = c->builtin_operands;
        o.max_digits = c->builtin_digits;
        size_t n = (size_t)c->train_size + (c->eval_dataset[0] ? 0 : (size_t)c->eval_size);
        if ((rc = tasks_generate(&all, gen, n, (uint64_t)c->seed, &o, err))) return rc;
    } else {
        tasks_format f;
        if ((rc = tasks_format_parse(c->dataset_format, &f, err))) return rc;
        tasks_fields map = {0};
        if (c->prompt_field[0]) map.prompt = c->prompt_field;
        if (c->answer_field[0]) map.answer = c->answer_field;
        if ((rc = tasks_load_jsonl(&all, c->dataset, &map, f, err))) return rc;
    }
    if (c->eval_dataset[0]) {
        tasks_format f;
        tasks_fields map = {0};
        if (c->prompt_field[0]) map.prompt = c->prompt_field;
        if (c->answer_field[0]) map.answer = c->answer_field;
        if ((rc = tasks_format_parse(c->dataset_format, &f, err)) ||
            (rc = tasks_load_jsonl(&t->eval, c->eval_dataset, &map, f, err)) ||
            (rc = tasks_exclude(&all, &t->eval, NULL, err))) {
            tasks_dataset_free(&all);
            return rc;
        }
        t->train = all;
        return GRPO_OK;
    }
    rc = tasks_split(&all, 0.0, (size_t)c->eval_size, (uint64_t)c->seed, &t->train, &t->eval, err);
    tasks_dataset_free(&all);
    return rc;
}

/* Renders and tokenizes every prompt once; a prompt over max_prompt_length is an error naming it. */
static int cache_prompts(trainer *t, const tasks_dataset *ds, prompt_cache **out, const char *what, grpo_err *err) {
    const run_config *c = t->cfg;
    prompt_cache *pc = calloc(ds->n ? ds->n : 1, sizeof *pc);
    if (!pc) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    *out = pc;
    for (size_t i = 0; i < ds->n; i++) {
        const tasks_item *it = &ds->items[i];
        char *user = NULL, *text = NULL;
        size_t len;
        int rc = tasks_render_prompt(it, c->prompt_template, &user, err);
        if (rc) return rc;
        const char *sys = tasks_system_prompt(it, c->system_prompt[0] ? c->system_prompt : NULL);
        chat_msg msgs[2];
        size_t nm = 0;
        if (sys && *sys) msgs[nm++] = (chat_msg){"system", sys};
        msgs[nm++] = (chat_msg){"user", user};
        chat_opts co = {.add_generation_prompt = 1};
        rc = chat_render(t->chat, msgs, nm, &co, &text, &len, err);
        free(user);
        if (rc) return rc;
        size_t n;
        if ((rc = tok_encode(t->tok, text, len, TOK_SPECIAL, &pc[i].ids, &n, err))) {
            free(text);
            return rc;
        }
        pc[i].n = (int)n;
        pc[i].text = text;
        if (pc[i].n > c->max_prompt_length || pc[i].n < 1)
            return grpo_errf(err, GRPO_EINVAL, "%s item %lld (line %d): prompt has %d tokens, max_prompt_length is %d", what,
                             (long long)it->id, it->line, pc[i].n, c->max_prompt_length);
    }
    return GRPO_OK;
}

static void free_prompts(prompt_cache *pc, size_t n) {
    if (!pc) return;
    for (size_t i = 0; i < n; i++) {
        free(pc[i].ids);
        free(pc[i].text);
    }
    free(pc);
}

static int load_model(trainer *t, policy_model *m, grpo_err *err) {
    const char *spec = t->cfg->model;
    if (!strncmp(spec, "init:", 5)) {
        char arch[32] = "", preset[32] = "";
        if (sscanf(spec + 5, "%31[^:]:%31s", arch, preset) != 2 || policy_arch_from_short(arch) < 0)
            return grpo_errf(err, GRPO_EINVAL, "model \"%s\": expected init:ARCH:PRESET (qwen2|qwen3|llama, tiny|small)", spec);
        policy_config pc;
        int rc = policy_config_preset(&pc, (policy_arch)policy_arch_from_short(arch), preset, err);
        if (rc) return rc;
        const tok_info *ti = tok_get_info(t->tok);
        pc.vocab_size = ti->vocab_size;
        pc.bos_token_id = ti->bos_id;
        pc.n_eos = 0;
        for (int i = 0; i < ti->n_eos && i < POLICY_MAX_EOS; i++) pc.eos_token_ids[pc.n_eos++] = ti->eos_ids[i];
        if ((rc = policy_build(m, &pc, err))) return rc;
        policy_init_random(m, (uint64_t)t->cfg->seed);
        return GRPO_OK;
    }
    return policy_load(m, spec, err);
}

/* The tokenizer must not produce ids the model has no embedding for. */
static int check_vocab(const trainer *t, const char *tokdir, grpo_err *err) {
    const tok_info *ti = tok_get_info(t->tok);
    if (ti->vocab_size > t->model.cfg.vocab_size)
        return grpo_errf(err, GRPO_EINVAL, "vocabulary mismatch: tokenizer %s has %d ids, model vocab_size is %d", tokdir,
                         ti->vocab_size, t->model.cfg.vocab_size);
    return GRPO_OK;
}

/* Every id that ends a completion: the tokenizer's (generation_config.json first), then the model
 * config's, each once. tok may be NULL. Returns the count. */
int train_eos_ids(const tok_tokenizer *tok, const policy_model *m, int *out, int cap) {
    int n = 0;
    const tok_info *ti = tok ? tok_get_info(tok) : NULL;
    const int n_tok = ti ? ti->n_eos : 0;
    for (int i = 0; i < n_tok + m->cfg.n_eos; i++) {
        int id = i < n_tok ? ti->eos_ids[i] : m->cfg.eos_token_ids[i - n_tok], dup = 0;
        for (int j = 0; j < n; j++) dup |= out[j] == id;
        if (!dup && n < cap) out[n++] = id;
    }
    return n;
}

/* ---- rewards ---- */

/* The reward registry's view of a task item. */
static rw_item reward_item(const tasks_item *it, long long *nums, int n_tokens) {
    for (int i = 0; i < it->n_nums; i++) nums[i] = it->nums[i];
    return (rw_item){.answer = it->answer, .nums = nums, .n_nums = it->n_nums, .target = it->target, .n_tokens = n_tokens};
}

/* 1 when the completion's answer is right (the accuracy reward, whatever reward_funcs holds). */
static int is_correct(const trainer *t, const tasks_item *it, const char *text) {
    long long nums[TASKS_MAX_NUMS];
    rw_item ri = reward_item(it, nums, 0);
    return rw_registry_score(t->acc, &ri, text, NULL) >= 1.0;
}

static int build_rewards(trainer *t, grpo_err *err) {
    const run_config *c = t->cfg;
    const char *names[RW_MAX];
    double w[RW_MAX];
    int n = 0;
    for (int i = 0; i < c->n_reward_funcs && n < RW_MAX; i++, n++) {
        names[n] = c->reward_funcs[i];
        w[n] = c->n_reward_weights ? c->reward_weights[i] : 1.0;
    }
    if (c->overlong_buffer_length > 0 && n < RW_MAX) {
        names[n] = "overlong";
        w[n++] = c->overlong_penalty_factor;
    }
    int rc = rw_registry_new(&t->rw, names, w, n, NULL, c->max_completion_length, c->overlong_buffer_length, err);
    if (rc) return rc;
    const char *acc[1] = {"accuracy"};
    if ((rc = rw_registry_new(&t->acc, acc, NULL, 1, NULL, 0, 0, err))) return rc;
    if (c->external_reward_cmd[0])
        rc = rw_external_start(&t->ext, c->external_reward_cmd, c->external_reward_timeout, err);
    return rc;
}

/* The run's sampling settings (top-k, top-p, min-p, repetition penalty) at the given temperature. */
static smp_params run_sampling(const run_config *c, double temperature) {
    return (smp_params){(float)temperature, c->top_k, (float)c->top_p, (float)c->min_p, (float)c->repetition_penalty};
}

/* Generation of n completions per prompt for this run: max_completion_length new tokens, the run's
 * seed and EOS ids, the given sampling; max_batch 0 keeps gen_run's default. */
static gen_params run_gen_params(const trainer *t, int n, smp_params sampling, int max_batch) {
    gen_params gp = gen_defaults();
    gp.n = n;
    gp.max_new_tokens = t->cfg->max_completion_length;
    gp.sampling = sampling;
    gp.seed = (uint64_t)t->cfg->seed;
    gp.eos_ids = t->eos;
    gp.n_eos = t->n_eos;
    if (max_batch) gp.max_batch = max_batch;
    return gp;
}

/* ---- evaluation: greedy accuracy on the held-out set ---- */

static int evaluate(trainer *t, int64_t step, double *acc, grpo_err *err) {
    const tasks_dataset *ds = &t->eval;
    if (ds->n == 0) {
        *acc = -1;
        return GRPO_OK;
    }
    /* with several ranks each takes every P-th problem (greedy rows do not depend on the batch) */
    const int n = (int)ds->n, P = dist_size(), R = dist_rank();
    const int **pp = malloc(n * sizeof *pp);
    int *lens = malloc(n * sizeof *lens);
    int64_t *ids = malloc(n * sizeof *ids);
    size_t *item = malloc(n * sizeof *item);
    gen_completion *out = calloc(n, sizeof *out);
    if (!pp || !lens || !ids || !item || !out) {
        free(pp), free(lens), free(ids), free(item), free(out);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory for %d held-out problems", n);
    }
    int nl = 0;
    for (int i = R; i < n; i += P, nl++) {
        pp[nl] = t->peval[i].ids;
        lens[nl] = t->peval[i].n;
        ids[nl] = ds->items[i].id;
        item[nl] = (size_t)i;
    }
    smp_params greedy = smp_defaults();
    greedy.temperature = 0.0f;
    const gen_params gp = run_gen_params(t, 1, greedy, 256);
    int rc = nl ? gen_run(&t->model, pp, lens, ids, nl, &gp, out, NULL, err) : GRPO_OK;
    double correct = 0;
    if (!rc) {
        for (int i = 0; i < nl; i++) {
            char *text = NULL;
            size_t tl;
            if (tok_decode(t->tok, out[i].tokens, out[i].n_tokens, TOK_SKIP_SPECIAL, &text, &tl, NULL) == GRPO_OK)
                correct += is_correct(t, &ds->items[item[i]], text);
            free(text);
        }
        gen_completions_free(out, nl);
        rc = dist_sum_f64(&correct, 1, err);
    }
    if (!rc) {
        *acc = correct / n;
        if (t->db) {
            store_eval ev = {.step = step, .name = t->cfg->dataset, .split = "eval", .metric = "accuracy_greedy",
                             .value = *acc, .n = n, .detail_json = "{\"temperature\":0}"};
            rc = store_add_eval(t->db, &ev, err);
        }
    }
    free(pp);
    free(lens);
    free(ids);
    free(item);
    free(out);
    return rc;
}

/* The tokenizer (cfg->tokenizer, else the model directory), the chat format, the prompt template and
 * the rewards: the setup train_run and train_evaluate share. */
static int setup_text(trainer *t, grpo_err *err) {
    const run_config *cfg = t->cfg;
    const char *tokdir = cfg->tokenizer[0] ? cfg->tokenizer : cfg->model;
    if (!strncmp(tokdir, "init:", 5))
        return grpo_errf(err, GRPO_EINVAL, "model \"%s\" is a fresh random model: set \"tokenizer\" to a directory", cfg->model);
    int cf = chat_format_from_name(cfg->chat_template);
    if (cf < 0)
        return grpo_errf(err, GRPO_EINVAL, "chat_template \"%s\" is unknown (chatml, qwen2.5, qwen3, llama3, deepseek-r1, raw)",
                         cfg->chat_template);
    t->chat = (chat_format)cf;
    int rc;
    if ((rc = tasks_template_check(cfg->prompt_template, err))) return rc;
    if ((rc = tok_load(&t->tok, tokdir, err))) return rc;
    t->tok_dir = tokdir;
    return build_rewards(t, err);
}

static void trainer_free(trainer *t) {
    if (t->db) store_close(t->db);
    free_prompts(t->ptrain, t->train.n);
    free_prompts(t->peval, t->eval.n);
    tasks_dataset_free(&t->train);
    tasks_dataset_free(&t->eval);
    tasks_cursor_free(&t->cursor);
    policy_free(&t->model);
    if (t->have_ref) policy_free(&t->ref);
    if (t->tok) tok_free(t->tok);
    rw_registry_free(t->rw);
    rw_registry_free(t->acc);
    rw_external_stop(t->ext);
}

/* ---- SFT cold start: cross-entropy on solution tokens, prompt masked ---- */

static int sft(trainer *t, grpo_err *err) {
    const run_config *c = t->cfg;
    const tasks_dataset *ds = &t->train;
    int *sol_n = calloc(ds->n, sizeof *sol_n), **sol = calloc(ds->n, sizeof *sol), have = 0, rc = GRPO_OK;
    for (size_t i = 0; i < ds->n; i++) {
        if (!ds->items[i].solution) continue;
        size_t n;
        /* solutions are plain text (flags 0): tags such as <think> stay ordinary tokens, so that decoding
         * with TOK_SKIP_SPECIAL for the rewards keeps them in the completion's text */
        if ((rc = tok_encode(t->tok, ds->items[i].solution, strlen(ds->items[i].solution), 0, &sol[i], &n, err))) goto out;
        sol[i] = realloc(sol[i], (n + 1) * sizeof(int));
        if (t->n_eos) sol[i][n++] = t->eos[0];
        sol_n[i] = (int)n;
        have++;
    }
    if (!have) {
        rc = grpo_errf(err, GRPO_EINVAL, "sft_steps = %d but no training item has a worked solution", c->sft_steps);
        goto out;
    }
    tasks_cursor cur;
    tasks_cursor_init(&cur, (uint64_t)c->seed ^ 0x5F7ULL, 0, 0);
    const int B = c->sft_batch_size;
    size_t *idx = malloc(B * sizeof *idx);
    int *lens = malloc(B * sizeof *lens), *toks = NULL;
    float *mask = NULL;
    policy_adamw h = {.lr = (float)c->sft_learning_rate, .beta1 = (float)c->adam_beta1, .beta2 = (float)c->adam_beta2,
                      .eps = (float)c->adam_epsilon, .weight_decay = (float)c->weight_decay};
    double t0 = now_s(), ema = -1;
    for (int s = 0; s < c->sft_steps && !rc; s++) {
        if ((rc = tasks_cursor_next(&cur, ds, B, idx, err))) break;
        int total = 0, nb = 0;
        for (int k = 0; k < B; k++)
            if (sol[idx[k]]) total += t->ptrain[idx[k]].n + sol_n[idx[k]];
        toks = realloc(toks, (total ? total : 1) * sizeof *toks);
        mask = realloc(mask, (total ? total : 1) * sizeof *mask);
        int off = 0, moff = 0;
        for (int k = 0; k < B; k++) {
            size_t i = idx[k];
            if (!sol[i]) continue;
            const prompt_cache *p = &t->ptrain[i];
            memcpy(toks + off, p->ids, p->n * sizeof(int));
            memcpy(toks + off + p->n, sol[i], sol_n[i] * sizeof(int));
            lens[nb++] = p->n + sol_n[i];
            /* target j predicts token j+1: solution tokens are targets p->n-1 .. len-2 */
            for (int j = 0; j + 1 < p->n + sol_n[i]; j++) mask[moff + j] = j + 1 >= p->n;
            off += p->n + sol_n[i];
            moff += p->n + sol_n[i] - 1;
        }
        if (!nb) continue;
        policy_batch b = {.n_seq = nb, .seq_len = lens, .tokens = toks};
        double loss;
        policy_zero_grad(&t->model);
        if ((rc = policy_ce_step(&t->model, &b, mask, 1, &loss, err))) break;
        double gn = policy_clip_grad_norm(&t->model, c->max_grad_norm);
        if (!isfinite(loss) || !isfinite(gn)) {
            logf_(t, "sft step %d: non-finite loss or gradient; update skipped", s + 1);
            continue;
        }
        if ((rc = policy_adamw_step(&t->model, &h, err))) break;
        ema = ema < 0 ? loss : 0.9 * ema + 0.1 * loss;
        double el = now_s() - t0;
        char eta[32];
        fmt_duration(el / (s + 1) * (c->sft_steps - s - 1), eta, sizeof eta);
        progress(t, "sft %d/%d  loss %.4f  ETA %s", s + 1, c->sft_steps, ema, eta);
        if ((s + 1) % 50 == 0 || s + 1 == c->sft_steps)
            logf_(t, "sft step %d/%d  loss %.4f  %.1fs", s + 1, c->sft_steps, ema, el);
    }
    tasks_cursor_free(&cur);
    free(idx);
    free(lens);
    free(toks);
    free(mask);
out:
    for (size_t i = 0; i < ds->n; i++) free(sol[i]);
    free(sol);
    free(sol_n);
    return rc;
}

/* ---- one GRPO step ---- */

typedef struct {
    size_t item;        /* index into train */
    gen_completion *c;
    char *text;
    double comp[RW_MAX + 1];
    double total, adv;
} sample;

/* What the store keeps for inspection of one scored sample: a reason per registry component, the
 * answer found in the completion, and the item's gold answer (a countdown item's target and numbers). */
static void inspection_of(const trainer *t, const tasks_item *it, const sample *s, char (*why)[RW_REASON_MAX],
                          char *extracted, size_t ecap, char *gold, size_t gcap) {
    long long nums[TASKS_MAX_NUMS];
    rw_item ri = reward_item(it, nums, s->c->n_tokens);
    rw_registry_explain(t->rw, &ri, s->text, s->comp, why, extracted, ecap);
    if (it->n_nums > 0) {
        size_t n = (size_t)snprintf(gold, gcap, "%lld from", (long long)it->target);
        for (int i = 0; i < it->n_nums && n < gcap; i++)
            n += (size_t)snprintf(gold + n, gcap - n, "%s %lld", i ? "," : "", (long long)it->nums[i]);
    } else {
        snprintf(gold, gcap, "%s", it->answer ? it->answer : "");
    }
}

static double lr_at(const run_config *c, int64_t step) {
    if (c->warmup_steps > 0 && step < c->warmup_steps) return c->learning_rate * (step + 1) / c->warmup_steps;
    if (!strcmp(c->lr_scheduler_type, "cosine") && c->max_steps > c->warmup_steps) {
        double p = (double)(step - c->warmup_steps) / (c->max_steps - c->warmup_steps);
        return c->learning_rate * 0.5 * (1.0 + cos(M_PI * fmin(1.0, p)));
    }
    return c->learning_rate;
}

/* Draws B prompts from the cursor (every rank draws the same B), then samples and scores G completions
 * for this rank's groups g0..g1-1 only; gc[] and S[] hold B * G entries, S[k].item is set for all.
 * round > 0 (dynamic sampling) changes the completions' seeds. */
static int sample_and_score(trainer *t, int64_t step, int round, int B, int g0, int g1, gen_completion *gc, sample *S,
                            gen_stats *gs, double *t_sample, double *t_score, grpo_err *err) {
    const run_config *c = t->cfg;
    const int G = c->num_generations, N = B * G, kl = g0 * G, kh = g1 * G;
    int rc = GRPO_OK;
    double t0 = now_s();
    size_t *idx = malloc(B * sizeof *idx);
    const int **pp = malloc(B * sizeof *pp);
    int *plens = malloc(B * sizeof *plens);
    int64_t *pids = malloc(B * sizeof *pids);
    if (!idx || !pp || !plens || !pids) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %d prompts", B);
        goto out;
    }
    if ((rc = tasks_cursor_next(&t->cursor, &t->train, B, idx, err))) goto out;
    for (int i = 0; i < B; i++) {
        pp[i] = t->ptrain[idx[i]].ids;
        plens[i] = t->ptrain[idx[i]].n;
        pids[i] = t->train.items[idx[i]].id;
    }
    /* 1. sample G completions per prompt */
    gen_params gp = run_gen_params(t, G, run_sampling(c, c->temperature), 0);
    /* round 0 keeps the plain (seed, step, prompt, j) seeds; a resampling round must not repeat them
     * when the cursor brings the same prompt back within one step */
    gp.step = round == 0 ? step : (int64_t)((uint64_t)step ^ ((uint64_t)round << 48));
    gen_stats gst;
    if ((rc = gen_run(&t->model, pp + g0, plens + g0, pids + g0, g1 - g0, &gp, gc + kl, &gst, err))) goto out;
    gs->decode_tokens += gst.decode_tokens;
    *t_sample += now_s() - t0;
    double t1 = now_s();

    /* 2. score: each component, then the weighted total */
    const int nr = rw_registry_size(t->rw);
    for (int k = 0; k < N; k++) {
        S[k].c = &gc[k];
        S[k].item = idx[k / G];
    }
    for (int k = kl; k < kh; k++) {
        sample *s = &S[k];
        size_t tl;
        if ((rc = tok_decode(t->tok, s->c->tokens, s->c->n_tokens, TOK_SKIP_SPECIAL, &s->text, &tl, err))) goto out;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = kl; k < kh; k++) {
        sample *s = &S[k];
        long long nums[TASKS_MAX_NUMS];
        rw_item ri = reward_item(&t->train.items[s->item], nums, s->c->n_tokens);
        s->total = rw_registry_score(t->rw, &ri, s->text, s->comp);
    }
    /* the external command answers one line at a time, in order */
    for (int k = kl; k < kh && t->ext && !rc; k++) {
        sample *s = &S[k];
        const tasks_item *it = &t->train.items[s->item];
        rc = rw_external_score(t->ext, t->ptrain[s->item].text, s->text, it->answer, &s->comp[nr], err);
        s->total += c->external_reward_weight * s->comp[nr];
    }
    *t_score += now_s() - t1;
out:
    free(idx);
    free(pp);
    free(plens);
    free(pids);
    return rc;
}

/* 1 when the G totals of a group are not all the same */
static int group_has_spread(const sample *S, int G) {
    for (int j = 1; j < G; j++)
        if (S[j].total != S[0].total) return 1;
    return 0;
}

/* A rank's samples as bytes for rank 0 (data parallelism): per sample a fixed head, then its tokens,
 * logprobs and text. */
typedef struct {
    int32_t n_tokens, finish, sample_index, text_len;
    double total, entropy_sum, comp[RW_MAX + 1];
} packed_head;

static char *pack_samples(const sample *S, int kl, int kh, size_t *n) {
    size_t sz = 0;
    for (int k = kl; k < kh; k++)
        sz += sizeof(packed_head) + (size_t)S[k].c->n_tokens * (sizeof(int) + sizeof(float)) + strlen(S[k].text);
    char *buf = malloc(sz ? sz : 1), *p = buf;
    if (!buf) return NULL;
    for (int k = kl; k < kh; k++) {
        const gen_completion *g = S[k].c;
        packed_head h = {.n_tokens = g->n_tokens, .finish = g->finish, .sample_index = g->sample_index,
                         .text_len = (int32_t)strlen(S[k].text), .total = S[k].total, .entropy_sum = g->entropy_sum};
        memcpy(h.comp, S[k].comp, sizeof h.comp);
        memcpy(p, &h, sizeof h), p += sizeof h;
        memcpy(p, g->tokens, g->n_tokens * sizeof(int)), p += g->n_tokens * sizeof(int);
        memcpy(p, g->logprobs, g->n_tokens * sizeof(float)), p += g->n_tokens * sizeof(float);
        memcpy(p, S[k].text, h.text_len), p += h.text_len;
    }
    *n = sz;
    return buf;
}

static int unpack_samples(sample *S, gen_completion *gc, int kl, int kh, const char *buf, size_t n, int rank,
                          grpo_err *err) {
    const char *p = buf, *end = buf + n;
    for (int k = kl; k < kh; k++) {
        packed_head h;
        if ((size_t)(end - p) < sizeof h) goto bad;
        memcpy(&h, p, sizeof h), p += sizeof h;
        const size_t need = (size_t)h.n_tokens * (sizeof(int) + sizeof(float)) + (size_t)h.text_len;
        if (h.n_tokens < 0 || h.text_len < 0 || (size_t)(end - p) < need) goto bad;
        gen_completion *g = &gc[k];
        g->tokens = malloc((h.n_tokens ? h.n_tokens : 1) * sizeof(int));
        g->logprobs = malloc((h.n_tokens ? h.n_tokens : 1) * sizeof(float));
        S[k].text = malloc((size_t)h.text_len + 1);
        if (!g->tokens || !g->logprobs || !S[k].text) return grpo_errf(err, GRPO_ENOMEM, "out of memory for gathered rollouts");
        memcpy(g->tokens, p, h.n_tokens * sizeof(int)), p += h.n_tokens * sizeof(int);
        memcpy(g->logprobs, p, h.n_tokens * sizeof(float)), p += h.n_tokens * sizeof(float);
        memcpy(S[k].text, p, h.text_len), p += h.text_len;
        S[k].text[h.text_len] = '\0';
        g->n_tokens = h.n_tokens;
        g->finish = h.finish;
        g->sample_index = h.sample_index;
        g->entropy_sum = h.entropy_sum;
        S[k].c = g;
        S[k].total = h.total;
        memcpy(S[k].comp, h.comp, sizeof h.comp);
    }
    if (p == end) return GRPO_OK;
bad:
    return grpo_errf(err, GRPO_EFORMAT, "rollouts gathered from rank %d are malformed", rank);
}

static int grpo_step(trainer *t, int64_t step, grpo_err *err) {
    const run_config *c = t->cfg;
    const int G = c->num_generations, B = c->generation_batch_size / G, N = B * G;
    /* data parallelism: rank R samples, scores and trains groups g0..g1-1 (samples kl..kh-1); every
     * rank draws the same prompts and seeds completions by (seed, step, prompt, j), so the rollouts
     * are those of one rank with the whole batch */
    const int P = dist_size(), R = dist_rank(), Bl = B / P, g0 = R * Bl, g1 = g0 + Bl, kl = g0 * G, kh = g1 * G,
              Nl = kh - kl;
    int rc = GRPO_OK;
    double t0 = now_s();
    gen_completion *gc = calloc(N, sizeof *gc), *rgc = calloc(N, sizeof *rgc);
    sample *S = calloc(N, sizeof *S), *RS = calloc(N, sizeof *RS);
    double *rw = NULL, *adv = NULL, *mine = NULL;
    float *mask_all = NULL, *old = NULL, *ref = NULL, *lpn = NULL, *dl = NULL, *flp = NULL, *fdl = NULL;
    int *coff = NULL, *toks = NULL, *slen = NULL, *clen = NULL;
    char *packed = NULL, *gathered = NULL;
    size_t *counts = NULL;
    double t_sample = 0, t_score = 0;
    gen_stats gs = {0};
    int kept = 0, rounds = 0, zero_std0 = 0, filtered = 0;
    if (!gc || !rgc || !S || !RS) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %d completions", N);
        goto out;
    }
    /* 1-2. sample and score B groups; with dynamic sampling (DAPO) groups whose rewards are all equal
     * carry no signal: drop them and sample more prompts, up to 1 + max_resample_rounds rounds; the
     * last round's groups fill what is still missing, spread or not (one rank only: train_run refuses
     * dynamic sampling with several) */
    const int max_rounds = c->dynamic_sampling ? 1 + c->max_resample_rounds : 1;
    while (kept < B && !rc) {
        const int last = rounds + 1 >= max_rounds;
        memset(rgc, 0, N * sizeof *rgc);
        memset(RS, 0, N * sizeof *RS);
        rc = sample_and_score(t, step, rounds, B, g0, g1, rgc, RS, &gs, &t_sample, &t_score, err);
        for (int g = 0; g < B && !rc; g++) {
            const int spread = group_has_spread(RS + g * G, G);
            if (rounds == 0) zero_std0 += !spread;
            if (kept < B && (spread || last)) {
                for (int j = 0; j < G; j++) {
                    const int k = kept * G + j;
                    gc[k] = rgc[g * G + j];
                    S[k] = RS[g * G + j];
                    S[k].c = &gc[k];
                    memset(&rgc[g * G + j], 0, sizeof *rgc);
                    RS[g * G + j].text = NULL;
                }
                kept++;
            } else if (!spread) {
                filtered++;
            }
        }
        for (int k = 0; k < N; k++) free(RS[k].text);
        gen_completions_free(rgc, N);
        rounds++;
    }
    if (rc) goto out;
    if (rounds > 1 || filtered)
        logf_(t, "step %lld: dynamic sampling dropped %d zero-spread group(s) in %d generation round(s)",
              (long long)step + 1, filtered, rounds);

    /* 3. advantages, from every rank's totals */
    rw = malloc(N * sizeof *rw);
    adv = malloc(N * sizeof *adv);
    mine = malloc((Nl ? Nl : 1) * sizeof *mine);
    if (!rw || !adv || !mine) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %d rewards", N);
        goto out;
    }
    for (int k = kl; k < kh; k++) mine[k - kl] = S[k].total;
    if ((rc = dist_allgather_f64(mine, Nl, rw, err))) goto out;
    if (P > 1) {
        zero_std0 = 0;
        for (int g = 0; g < B; g++) {
            int spread = 0;
            for (int j = 1; j < G; j++) spread |= rw[g * G + j] != rw[g * G];
            zero_std0 += !spread;
        }
    }
    learner_advantages(rw, B, G, t->lopts.scale_rewards, adv);
    for (int k = 0; k < N; k++) S[k].adv = adv[k];

    /* 4. mu optimizer steps over micro-batches of whole sequences (prompt + completion); with several
     * ranks, each backpropagates its micro-batches and the gradients are summed before clipping */
    double t2 = now_s();
    const int MB = c->per_device_train_batch_size, n_micro = (Nl + MB - 1) / MB;
    double active = 0;
    int ctot = 0;
    for (int k = kl; k < kh; k++) ctot += S[k].c->n_tokens;
    mask_all = malloc((ctot ? ctot : 1) * sizeof *mask_all);
    old = malloc((ctot ? ctot : 1) * sizeof *old);
    lpn = malloc((ctot ? ctot : 1) * sizeof *lpn);
    dl = malloc((ctot ? ctot : 1) * sizeof *dl);
    coff = malloc((Nl + 1) * sizeof *coff);
    toks = malloc((size_t)(MB < Nl ? MB : Nl) * (c->max_prompt_length + c->max_completion_length) * sizeof *toks + 1);
    slen = malloc((Nl ? Nl : 1) * sizeof *slen);
    clen = malloc((Nl ? Nl : 1) * sizeof *clen);
    if (!mask_all || !old || !lpn || !dl || !coff || !toks || !slen || !clen) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %d tokens of training batch", ctot);
        goto out;
    }
    coff[0] = 0;
    for (int k = kl; k < kh; k++) {
        const gen_completion *g = S[k].c;
        const int q = k - kl;
        coff[q + 1] = coff[q] + g->n_tokens;
        float m = (c->mask_truncated_completions && g->finish == GEN_FINISH_LENGTH) ? 0.0f : 1.0f;
        for (int j = 0; j < g->n_tokens; j++) {
            mask_all[coff[q] + j] = m;
            old[coff[q] + j] = g->logprobs[j];
        }
        active += m * g->n_tokens;
    }
    if ((rc = dist_sum_f64(&active, 1, err))) goto out;
    learner_norm nrm = {.n_seq_step = N, .n_micro = n_micro * P, .max_completion_length = c->max_completion_length,
                        .active_tokens_step = active};
    size_t fcap = 0;
    const float T = (float)c->temperature;
    learner_stats st = {0};
    double train_tokens = 0, gn_last = 0, loss_last = 0;
    int skipped = 0;
    policy_adamw h = {.lr = (float)lr_at(c, step), .beta1 = (float)c->adam_beta1, .beta2 = (float)c->adam_beta2,
                      .eps = (float)c->adam_epsilon, .weight_decay = (float)c->weight_decay};
    for (int pass = -1; pass < c->num_iterations && !rc; pass++) {
        /* pass -1 computes the reference logprobs (only when beta > 0) */
        if (pass < 0 && !t->have_ref) continue;
        policy_model *pm = pass < 0 ? &t->ref : &t->model;
        if (pass >= 0) {
            policy_zero_grad(&t->model);
            memset(&st, 0, sizeof st);
        }
        for (int mb = 0; mb < n_micro && !rc; mb++) {
            const int k0 = kl + mb * MB, k1 = k0 + MB < kh ? k0 + MB : kh, ns = k1 - k0;
            int off = 0;
            for (int k = k0; k < k1; k++) {
                const prompt_cache *p = &t->ptrain[S[k].item];
                memcpy(toks + off, p->ids, p->n * sizeof(int));
                memcpy(toks + off + p->n, S[k].c->tokens, S[k].c->n_tokens * sizeof(int));
                slen[k - k0] = p->n + S[k].c->n_tokens;
                clen[k - k0] = S[k].c->n_tokens;
                off += slen[k - k0];
            }
            policy_batch b = {.n_seq = ns, .seq_len = slen, .tokens = toks};
            size_t nt = policy_batch_targets(&b);
            if (nt > fcap) {
                fcap = nt;
                float *f1 = realloc(flp, fcap * sizeof *flp), *f2 = f1 ? realloc(fdl, fcap * sizeof *fdl) : NULL;
                if (f1) flp = f1;
                if (f2) fdl = f2;
                if (!f1 || !f2) {
                    rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %zu training targets", nt);
                    break;
                }
            }
            if ((rc = policy_forward(pm, &b, T, flp, NULL, pass >= 0, err))) break;
            /* completion token j of sequence k is target p->n - 1 + j of that sequence */
            float *dst = pass < 0 ? ref : lpn;
            if (pass < 0 && !ref && !(dst = ref = malloc((ctot ? ctot : 1) * sizeof *ref))) {
                rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for reference logprobs");
                break;
            }
            for (int k = k0, q = 0; k < k1; q += slen[k - k0] - 1, k++) {
                const int pn = t->ptrain[S[k].item].n;
                for (int j = 0; j < S[k].c->n_tokens; j++) dst[coff[k - kl] + j] = flp[q + pn - 1 + j];
            }
            if (pass < 0) continue;
            const int o = coff[k0 - kl];
            learner_batch lb = {.n_seq = ns, .len = clen, .logp_new = lpn + o, .logp_old = old + o,
                                .logp_ref = ref ? ref + o : NULL, .mask = mask_all + o, .adv = adv + k0};
            if ((rc = learner_loss(&t->lopts, &nrm, &lb, dl + o, &st, err))) break;
            memset(fdl, 0, nt * sizeof *fdl);
            for (int k = k0, q = 0; k < k1; q += slen[k - k0] - 1, k++) {
                const int pn = t->ptrain[S[k].item].n;
                for (int j = 0; j < S[k].c->n_tokens; j++) fdl[q + pn - 1 + j] = dl[coff[k - kl] + j];
            }
            if ((rc = policy_backward(&t->model, &b, T, fdl, err))) break;
            train_tokens += (double)off;
        }
        if (rc || pass < 0) continue;
        if (P > 1 && ((rc = dist_sum_f32(t->model.grad_mem, t->model.n_params, err)) ||
                      (rc = dist_sum_f64(&st.loss, sizeof st / sizeof(double), err))))
            break;
        double gn = policy_clip_grad_norm(&t->model, c->max_grad_norm);
        gn_last = gn;
        loss_last = st.loss;
        if (!isfinite(gn) || !isfinite(st.loss)) {
            skipped++;
            continue; /* non-finite guard: no update this pass */
        }
        if ((rc = policy_adamw_step(&t->model, &h, err))) break;
    }
    double t_train = now_s() - t2;
    const int nr = rw_registry_size(t->rw);
    if (rc) goto out;
    if (skipped) logf_(t, "step %lld: %d update(s) skipped: non-finite loss or gradient norm", (long long)step + 1, skipped);

    /* rank 0 gets every rank's rollouts for the metrics and the database */
    if (P > 1) {
        double sums[2] = {train_tokens, (double)gs.decode_tokens};
        if ((rc = dist_sum_f64(sums, 2, err))) goto out;
        train_tokens = sums[0];
        gs.decode_tokens = (size_t)sums[1];
        size_t np = 0;
        if (!(packed = pack_samples(S, kl, kh, &np))) {
            rc = grpo_errf(err, GRPO_ENOMEM, "out of memory packing rollouts");
            goto out;
        }
        counts = calloc(P, sizeof *counts);
        if (!counts) {
            rc = grpo_errf(err, GRPO_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = dist_gather_bytes(packed, np, &gathered, counts, err))) goto out;
        if (R != 0) goto out;
        size_t off = counts[0];
        for (int r = 1; r < P && !rc; r++) {
            rc = unpack_samples(S, gc, r * Nl, (r + 1) * Nl, gathered + off, counts[r], r, err);
            off += counts[r];
        }
        if (rc) goto out;
    }

    /* 5. metrics and the database: one transaction per step */
    double mean = 0, sd = 0, acc = 0, len_sum = 0, len_max = 0, trunc = 0;
    for (int k = 0; k < N; k++) {
        mean += S[k].total;
        len_sum += S[k].c->n_tokens;
        len_max = fmax(len_max, S[k].c->n_tokens);
        trunc += S[k].c->finish == GEN_FINISH_LENGTH;
        acc += is_correct(t, &t->train.items[S[k].item], S[k].text);
    }
    mean /= N;
    for (int k = 0; k < N; k++) sd += (S[k].total - mean) * (S[k].total - mean);
    sd = N > 1 ? sqrt(sd / (N - 1)) : 0;
    store_step_metrics sm = store_metrics_unset();
    sm.reward_mean = mean;
    sm.reward_std = sd;
    sm.accuracy = acc / N;
    sm.kl = t->have_ref && st.tokens > 0 ? st.kl_sum / st.tokens : 0.0;
    sm.loss = loss_last;
    sm.clip_frac_low = st.tokens > 0 ? st.clip_low / st.tokens : 0;
    sm.clip_frac_high = st.tokens > 0 ? st.clip_high / st.tokens : 0;
    sm.completion_len_mean = len_sum / N;
    sm.completion_len_max = len_max;
    sm.truncated_frac = trunc / N;
    sm.zero_std_frac = (double)zero_std0 / B;
    sm.tokens_per_s_sampling = gs.decode_tokens / fmax(1e-9, t_sample);
    sm.tokens_per_s_training = train_tokens / fmax(1e-9, t_train);
    sm.seconds_sampling = t_sample;
    sm.seconds_scoring = t_score;
    sm.seconds_training = t_train;
    double ent = 0, ntok = 0;
    for (int k = 0; k < N; k++) ent += S[k].c->entropy_sum, ntok += S[k].c->n_tokens;
    sm.entropy = ntok > 0 ? ent / ntok : 0.0;
    char mj[2048];
    int mn = snprintf(mj, sizeof mj, "{\"lr\":%.6g,\"grad_norm\":%.6g,\"skipped_updates\":%d", h.lr, gn_last, skipped);
    if (c->dynamic_sampling)
        mn += snprintf(mj + mn, sizeof mj - mn, ",\"generation_rounds\":%d,\"groups_dropped\":%d", rounds, filtered);
    if (P > 1) mn += snprintf(mj + mn, sizeof mj - mn, ",\"ranks\":%d", P);
    for (int r = 0; r < nr; r++) {
        double cm = 0;
        for (int k = 0; k < N; k++) cm += S[k].comp[r];
        mn += snprintf(mj + mn, sizeof mj - mn, ",\"reward/%s\":%.6g", rw_registry_name(t->rw, r), cm / N);
    }
    snprintf(mj + mn, sizeof mj - mn, "}");
    if ((rc = store_step_begin(t->db, step + 1, err))) goto out;
    for (int k = 0; k < N && !rc; k++) {
        /* a prompt drawn twice in one step (a small dataset, or dynamic sampling's extra rounds) numbers
         * its second group's samples G..2G-1, so (step, prompt_id, sample_index) stays unique */
        int occ = 0;
        for (int g = 0; g < k / G; g++) occ += S[g * G].item == S[k].item;
        store_component comps[RW_MAX + 1];
        char why[RW_MAX][RW_REASON_MAX], extracted[128], gold[256];
        const tasks_item *item = &t->train.items[S[k].item];
        inspection_of(t, item, &S[k], why, extracted, sizeof extracted, gold, sizeof gold);
        int ncomp = 0;
        for (int r = 0; r < nr; r++) comps[ncomp++] = (store_component){rw_registry_name(t->rw, r), S[k].comp[r], why[r]};
        if (t->ext) comps[ncomp++] = (store_component){"external", S[k].comp[nr], "from the external reward command"};
        store_rollout ro = {.prompt_id = t->train.items[S[k].item].id, .sample_index = occ * G + S[k].c->sample_index,
                            .prompt_text = t->ptrain[S[k].item].text, .completion_text = S[k].text,
                            .token_ids = S[k].c->tokens, .logprobs = S[k].c->logprobs, .n_tokens = S[k].c->n_tokens,
                            .components = comps, .n_components = ncomp, .reward_total = S[k].total,
                            .advantage = S[k].adv,
                            .finish = S[k].c->finish == GEN_FINISH_STOP ? STORE_FINISH_STOP : STORE_FINISH_LENGTH,
                            .extracted_answer = *extracted ? extracted : NULL, .gold_answer = *gold ? gold : NULL};
        rc = store_add_rollout(t->db, &ro, err);
    }
    if (rc) store_step_abort(t->db);
    else rc = store_step_commit(t->db, step + 1, &sm, mj, err);
    if (!rc && c->logging_steps > 0 && (step + 1) % c->logging_steps == 0) {
        double el = now_s() - t->t_start, per = el / (step + 1 - t->step0);
        char eta[32];
        fmt_duration(per * (c->max_steps - step - 1), eta, sizeof eta);
        logf_(t,
              "step %lld/%d | reward %.3f±%.3f | acc %.3f | loss %.4f | kl %.4f | ent %.3f | clip %.3f/%.3f | len %.1f/%.0f | "
              "trunc %.2f | zero-std %.2f | %.0f tok/s gen, %.0f tok/s train | %.1fs | ETA %s",
              (long long)step + 1, c->max_steps, mean, sd, sm.accuracy, sm.loss, sm.kl, sm.entropy, sm.clip_frac_low, sm.clip_frac_high,
              sm.completion_len_mean, len_max, sm.truncated_frac, sm.zero_std_frac, sm.tokens_per_s_sampling,
              sm.tokens_per_s_training, now_s() - t0, eta);
    }
out:
    free(rw);
    free(adv);
    free(mine);
    free(mask_all);
    free(old);
    free(ref);
    free(lpn);
    free(dl);
    free(coff);
    free(toks);
    free(slen);
    free(clen);
    free(flp);
    free(fdl);
    free(packed);
    free(gathered);
    free(counts);
    for (int k = 0; k < N && S; k++) free(S[k].text);
    if (gc) gen_completions_free(gc, N);
    free(gc);
    free(rgc);
    free(S);
    free(RS);
    return rc;
}

/* ---- checkpoints ---- */

static int save_checkpoint(trainer *t, int64_t step, grpo_err *err) {
    if (dist_rank() != 0) return GRPO_OK; /* every rank holds the same weights: rank 0 writes them */
    char *cj = rc_to_json(t->cfg);
    ckpt_state st = {.step = step, .cursor_epoch = t->cursor.epoch, .cursor_pos = t->cursor.pos,
                     .seed = (uint64_t)t->cfg->seed, .config_json = cj, .tokenizer_dir = t->tok_dir};
    int rc = ckpt_save(t->run_dir, &t->model, &st, t->cfg->save_total_limit, err);
    free(cj);
    return rc;
}

/* ---- the job ---- */

int train_run(const run_config *cfg, int resume, const train_log *log, train_result *res, grpo_err *err) {
    trainer T = {.cfg = cfg, .log = log, .t_start = now_s()};
    trainer *t = &T;
    memset(res, 0, sizeof *res);
    res->accuracy_before = res->accuracy_after = -1;
    int rc = rc_validate(cfg, err);
    if (rc) return rc;
    const int P = dist_size(), R = dist_rank();
    if (P > 1) {
        const int B = cfg->generation_batch_size / cfg->num_generations;
        if (B % P)
            return grpo_errf(err, GRPO_EINVAL,
                             "generation_batch_size / num_generations = %d prompts per step do not divide among %d ranks", B,
                             P);
        if ((B / P * cfg->num_generations) % cfg->per_device_train_batch_size)
            return grpo_errf(err, GRPO_EINVAL,
                             "per_device_train_batch_size %d does not divide the %d completions of each of %d ranks",
                             cfg->per_device_train_batch_size, B / P * cfg->num_generations, P);
        if (cfg->dynamic_sampling)
            return grpo_errf(err, GRPO_EUNSUPPORTED, "dynamic_sampling with %d ranks is not supported yet (run one rank)", P);
    }
    /* the learner's forward/backward/AdamW run on this backend; rollouts decode on the CPU over the
     * host weights (policy/cuda keeps the host arenas current) */
    const policy_backend *be = policy_backend_get(cfg->device[0] ? cfg->device : "cpu", err);
    if (!be) return err ? err->code : GRPO_EUNSUPPORTED;
    if (cfg->num_threads > 0) omp_set_num_threads(cfg->num_threads);
    learner_opts lo = {.loss_type = (learner_loss_type)learner_loss_type_from_name(cfg->loss_type),
                       .scale_rewards = (learner_scale)learner_scale_from_name(cfg->scale_rewards),
                       .is_level = (learner_is_level)learner_is_level_from_name(cfg->importance_sampling_level),
                       .epsilon = (float)cfg->epsilon, .epsilon_high = (float)cfg->epsilon_high, .beta = (float)cfg->beta};
    t->lopts = lo;
    if ((size_t)snprintf(t->run_dir, sizeof t->run_dir, "%s/%s", cfg->output_dir, cfg->run_name) >= sizeof t->run_dir ||
        (size_t)snprintf(res->run_dir, sizeof res->run_dir, "%s", t->run_dir) >= sizeof res->run_dir ||
        (size_t)snprintf(res->db_path, sizeof res->db_path, "%s/rollouts.db", t->run_dir) >= sizeof res->db_path ||
        (size_t)snprintf(t->ref_dir, sizeof t->ref_dir, "%s/reference", t->run_dir) >= sizeof t->ref_dir) {
        rc = grpo_errf(err, GRPO_EINVAL, "output_dir/run_name is too long");
        goto done;
    }
    /* tokenizer, chat format, template, rewards */
    if ((rc = setup_text(t, err))) goto done;
    if ((rc = fs_mkdirs(t->run_dir, err))) goto done;

    /* data, prompts */
    if ((rc = load_data(t, err))) goto done;
    if ((rc = cache_prompts(t, &t->train, &t->ptrain, "train", err)) ||
        (rc = cache_prompts(t, &t->eval, &t->peval, "eval", err)))
        goto done;

    /* model: resume from the newest checkpoint, or start */
    char ck[4300];
    ckpt_state cst = {0};
    ck[0] = '\0';
    if (resume && (rc = ckpt_find_latest(t->run_dir, ck, sizeof ck, err))) goto done;
    if (ck[0]) {
        if ((rc = ckpt_load(ck, &t->model, &cst, err))) goto done;
        t->model.backend = be;
        if ((rc = policy_enable_training(&t->model, err))) goto done;
        t->step0 = cst.step;
        tasks_cursor_init(&t->cursor, (uint64_t)cfg->seed, cst.cursor_epoch, cst.cursor_pos);
        ckpt_state_free(&cst);
        logf_(t, "resumed from %s (step %lld)", ck, (long long)t->step0);
    } else {
        if ((rc = load_model(t, &t->model, err))) goto done;
        t->model.backend = be;
        if ((rc = policy_enable_training(&t->model, err))) goto done;
        tasks_cursor_init(&t->cursor, (uint64_t)cfg->seed, 0, 0);
    }
    if ((rc = check_vocab(t, t->tok_dir, err))) goto done;
    t->n_eos = train_eos_ids(t->tok, &t->model, t->eos, (int)(sizeof t->eos / sizeof t->eos[0]));
    {
        size_t pb, gb, ob, ab;
        policy_memory(&t->model, &pb, &gb, &ob, &ab);
        logf_(t, "run %s: %s, %.2fM parameters; memory: params %.1f MiB, grads %.1f MiB, AdamW %.1f MiB", t->run_dir,
              policy_arch_name(t->model.cfg.arch), t->model.n_params / 1e6, pb / 1048576.0, gb / 1048576.0,
              ob / 1048576.0);
        logf_(t, "data: %zu train, %zu held-out items (%s); %d prompts x %d completions per step", t->train.n,
              t->eval.n, cfg->dataset, cfg->generation_batch_size / cfg->num_generations, cfg->num_generations);
    }

    /* database */
    char *cj = rc_to_json(cfg);
    /* database and checkpoints: rank 0 writes them */
    rc = R == 0 ? store_open(&t->db, res->db_path, cfg->run_name, cj, err) : GRPO_OK;
    free(cj);
    if (rc) goto done;
    if (R == 0 && (rc = store_truncate_after(t->db, t->step0, NULL, err))) goto done;

    /* SFT cold start, then the GRPO starting point */
    if (!ck[0]) {
        if (cfg->sft_steps > 0) {
            double a0;
            if ((rc = evaluate(t, -1, &a0, err))) goto done;
            logf_(t, "held-out accuracy before SFT: %.3f (%zu problems, greedy)", a0, t->eval.n);
            if ((rc = sft(t, err))) goto done;
        }
        /* the optimizer starts fresh for GRPO */
        memset(t->model.m_mem, 0, t->model.n_params * sizeof(float));
        memset(t->model.v_mem, 0, t->model.n_params * sizeof(float));
        t->model.adam_t = 0;
        if (R == 0 && cfg->beta > 0 && (rc = ckpt_export_model(&t->model, t->ref_dir, "float32", 1, err))) goto done;
        if ((rc = save_checkpoint(t, 0, err))) goto done;
    }
    if ((rc = dist_barrier(err))) goto done; /* the reference is on disk before any rank reads it */
    if (cfg->beta > 0) {
        /* the reference is the GRPO starting point, kept apart from the pruned checkpoints */
        if (!fs_exists(t->ref_dir)) {
            rc = grpo_errf(err, GRPO_EIO, "%s: the reference model (the GRPO starting point) is missing", t->ref_dir);
            goto done;
        }
        if ((rc = policy_load(&t->ref, t->ref_dir, err))) goto done;
        t->ref.backend = be;
        t->have_ref = 1;
    }
    if ((rc = evaluate(t, t->step0, &res->accuracy_before, err))) goto done;
    logf_(t, "held-out accuracy at step %lld: %.3f (%zu problems, greedy)", (long long)t->step0, res->accuracy_before,
          t->eval.n);

    /* GRPO */
    t->t_start = now_s();
    int64_t step;
    for (step = t->step0; step < cfg->max_steps; step++) {
        if ((rc = grpo_step(t, step, err))) goto done;
        res->steps_done = step + 1;
        int last = step + 1 == cfg->max_steps;
        if ((cfg->save_steps > 0 && (step + 1) % cfg->save_steps == 0) || last)
            if ((rc = save_checkpoint(t, step + 1, err))) goto done;
        if (cfg->eval_steps > 0 && (step + 1) % cfg->eval_steps == 0 && !last) {
            double a;
            if ((rc = evaluate(t, step + 1, &a, err))) goto done;
            logf_(t, "held-out accuracy at step %lld: %.3f", (long long)step + 1, a);
        }
    }
    if ((rc = evaluate(t, step, &res->accuracy_after, err))) goto done;
    logf_(t, "held-out accuracy at step %lld: %.3f (%zu problems, greedy)", (long long)step, res->accuracy_after, t->eval.n);
    ckpt_find_latest(t->run_dir, res->last_checkpoint, sizeof res->last_checkpoint, NULL);
    res->eval_n = (int)t->eval.n;
done:
    trainer_free(t);
    return rc;
}

/* ---- grpo eval: pass@1, pass@k, maj@k on a dataset ---- */

int train_evaluate(const run_config *cfg, int k, double temperature, const train_log *log, eval_result *res,
                   grpo_err *err) {
    trainer T = {.cfg = cfg, .log = log};
    trainer *t = &T;
    memset(res, 0, sizeof *res);
    if (temperature <= 0) k = 1;
    if (k < 1) return grpo_errf(err, GRPO_EINVAL, "k must be at least 1");
    double t0 = now_s();
    int rc;
    if ((rc = setup_text(t, err))) goto done;
    /* the whole file is the evaluation set */
    if (!strncmp(cfg->dataset, "builtin:", 8)) {
        rc = grpo_errf(err, GRPO_EINVAL, "grpo eval needs a JSONL file (--data)");
        goto done;
    }
    tasks_format f;
    tasks_fields map = {0};
    if (cfg->prompt_field[0]) map.prompt = cfg->prompt_field;
    if (cfg->answer_field[0]) map.answer = cfg->answer_field;
    if ((rc = tasks_format_parse(cfg->dataset_format, &f, err)) ||
        (rc = tasks_load_jsonl(&t->eval, cfg->dataset, &map, f, err)) ||
        (rc = cache_prompts(t, &t->eval, &t->peval, "eval", err)))
        goto done;
    if ((rc = load_model(t, &t->model, err)) || (rc = check_vocab(t, t->tok_dir, err))) goto done;
    t->n_eos = train_eos_ids(t->tok, &t->model, t->eos, (int)(sizeof t->eos / sizeof t->eos[0]));
    const int n = (int)t->eval.n;
    const int **pp = malloc(n * sizeof *pp);
    int *lens = malloc(n * sizeof *lens);
    int64_t *ids = malloc(n * sizeof *ids);
    gen_completion *out = calloc((size_t)n * k, sizeof *out);
    for (int i = 0; i < n; i++) {
        pp[i] = t->peval[i].ids;
        lens[i] = t->peval[i].n;
        ids[i] = t->eval.items[i].id;
    }
    const gen_params gp = run_gen_params(t, k, run_sampling(cfg, temperature), 256);
    rc = gen_run(&t->model, pp, lens, ids, n, &gp, out, NULL, err);
    if (!rc) {
        eval_tally tally = {0};
        char(*ans)[256] = malloc((size_t)k * sizeof *ans);
        const char **ansp = malloc(k * sizeof *ansp);
        int *ok = malloc(k * sizeof *ok);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                char *text = NULL;
                size_t tl;
                ok[j] = 0;
                ans[j][0] = '\0';
                ansp[j] = ans[j];
                if (tok_decode(t->tok, out[i * k + j].tokens, out[i * k + j].n_tokens, TOK_SKIP_SPECIAL, &text, &tl,
                               NULL) == GRPO_OK) {
                    ok[j] = is_correct(t, &t->eval.items[i], text);
                    char raw[256];
                    if (math_extract(text, MATH_FALLBACK_NONE, raw, sizeof raw)) math_normalize(raw, ans[j], sizeof ans[j]);
                }
                free(text);
            }
            eval_tally_add(&tally, ok, ansp, k);
        }
        free(ans);
        free(ansp);
        free(ok);
        gen_completions_free(out, n * k);
        const double p1 = tally.pass1_sum, pk = tally.pass_k_sum, mk = tally.maj_k_sum;
        res->n_problems = n;
        res->k = k;
        res->pass1 = n ? p1 / n : 0;
        res->pass_k = n ? pk / n : 0;
        res->maj_k = n ? mk / n : 0;
        res->seconds = now_s() - t0;
    }
    free(pp);
    free(lens);
    free(ids);
    free(out);
done:
    trainer_free(t);
    return rc;
}
