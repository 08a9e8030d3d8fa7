/* grpo/loops/train.c: the train loop. Sections in data-flow order: setup (run directory, tokenizer,
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

#include "checkpoints/ckpt.h"
#include "checkpoints/model_dir.h"
#include "common/fsutil.h"
#include "policy/tokenizer/chat.h"
#include "policy/model.h"
#include "policy/tokenizer/tokenizer.h"
#include "rewards/external.h"
#include "rewards/math.h"
#include "rewards/registry.h"
#include "rollout/generate.h"
#include "rollout/store/store.h"
#include "tasks/tasks.h"
#include "dist.h"
#include "eval_metrics.h"
#include "grpo/learner/learner.h"
#include "onpolicy.h"
#include "train_parts.h"
#include "common/strbuf.h"

/* ---- the trainer's state: grpo/loops/train_parts.h (shared with the distillation loops) ---- */

double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void logf_(const trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void logf_(const trainer *t, const char *fmt, ...) {
    if (!t->log || !t->log->line || dist_rank() != 0) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->log->line(t->log->ctx, buf);
}

void progress(const trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress(const trainer *t, const char *fmt, ...) {
    if (!t->log || !t->log->progress || dist_rank() != 0) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->log->progress(t->log->ctx, buf);
}

void fmt_duration(double s, char *out, size_t cap) {
    if (s < 0 || !isfinite(s)) snprintf(out, cap, "?");
    else if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* ---- setup ---- */

/* Reads a JSONL dataset at path with the config's format and field mapping (the one mapping that
 * training, its held-out set and `grpo eval` use). */
static int load_jsonl(const run_config *c, const char *path, tasks_dataset *out, grpo_err *err) {
    tasks_format f;
    tasks_fields map = {0};
    if (c->prompt_field[0]) map.prompt = c->prompt_field;
    if (c->answer_field[0]) map.answer = c->answer_field;
    int rc = tasks_format_parse(c->dataset_format, &f, err);
    return rc ? rc : tasks_load_jsonl(out, path, &map, f, err);
}

/* sft_size > 0: splits the cold start's items off t->train into t->cold, and drops the worked solutions
 * of the items left, so that GRPO learns from answers alone (the R1 recipe). */
static int split_cold_start(trainer *t, grpo_err *err) {
    const run_config *c = t->cfg;
    if (c->sft_size <= 0) return GRPO_OK;
    tasks_dataset rest = {0};
    int rc = tasks_split(&t->train, 0.0, (size_t)c->sft_size, (uint64_t)c->seed ^ 0xC01D57A27ULL, &rest, &t->cold, err);
    if (rc) return grpo_err_prefix(err, "sft_size = %d", c->sft_size);
    tasks_dataset_free(&t->train);
    t->train = rest;
    for (size_t i = 0; i < t->train.n; i++) {
        free(t->train.items[i].solution);
        t->train.items[i].solution = NULL;
    }
    return GRPO_OK;
}

int load_data(trainer *t, grpo_err *err) {
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
        o.ops = c->builtin_ops;
        size_t n = (size_t)c->train_size + (size_t)c->sft_size + (c->eval_dataset[0] ? 0 : (size_t)c->eval_size);
        if ((rc = tasks_generate(&all, gen, n, (uint64_t)c->seed, &o, err))) return rc;
    } else if ((rc = load_jsonl(c, c->dataset, &all, err))) {
        return rc;
    }
    if (c->eval_dataset[0]) {
        if ((rc = load_jsonl(c, c->eval_dataset, &t->eval, err)) || (rc = tasks_exclude(&all, &t->eval, NULL, err))) {
            tasks_dataset_free(&all);
            return rc;
        }
        t->train = all;
    } else {
        rc = tasks_split(&all, 0.0, (size_t)c->eval_size, (uint64_t)c->seed, &t->train, &t->eval, err);
        tasks_dataset_free(&all);
        if (rc) return rc;
    }
    return split_cold_start(t, err);
}

/* Renders and tokenizes every prompt once; a prompt over max_prompt_length is an error naming it. */
int cache_prompts(trainer *t, const tasks_dataset *ds, prompt_cache **out, const char *what, grpo_err *err) {
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

void free_prompts(prompt_cache *pc, size_t n) {
    if (!pc) return;
    for (size_t i = 0; i < n; i++) {
        free(pc[i].ids);
        free(pc[i].text);
    }
    free(pc);
}

int load_model(trainer *t, policy_model *m, grpo_err *err) {
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

/* The tokenizer must not produce ids the model has no embedding for. The model may have more
 * (padded embeddings): those ids then decode to empty text (tok_set_model_vocab). */
int check_vocab(const trainer *t, const char *tokdir, grpo_err *err) {
    const tok_info *ti = tok_get_info(t->tok);
    if (ti->vocab_size > t->model.cfg.vocab_size)
        return grpo_errf(err, GRPO_EINVAL, "vocabulary mismatch: tokenizer %s has %d ids, model vocab_size is %d", tokdir,
                         ti->vocab_size, t->model.cfg.vocab_size);
    tok_set_model_vocab(t->tok, t->model.cfg.vocab_size);
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
rw_item reward_item(const tasks_item *it, long long *nums, int n_tokens) {
    for (int i = 0; i < it->n_nums; i++) nums[i] = it->nums[i];
    return (rw_item){.answer = it->answer, .nums = nums, .n_nums = it->n_nums, .target = it->target, .n_tokens = n_tokens};
}

/* 1 when the completion's answer is right (the accuracy reward, whatever reward_funcs holds). */
int is_correct(const trainer *t, const tasks_item *it, const char *text) {
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
smp_params run_sampling(const run_config *c, double temperature) {
    return (smp_params){(float)temperature, c->top_k, (float)c->top_p, (float)c->min_p, (float)c->repetition_penalty};
}

/* Generation of n completions per prompt for this run: max_completion_length new tokens, the run's
 * seed and EOS ids, the given sampling; max_batch 0 keeps gen_run's default. */
gen_params run_gen_params(const trainer *t, int n, smp_params sampling, int max_batch) {
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

/* ---- evaluation: k samples per held-out problem, scored by the correctness reward ---- */

/* Scores the k samples of one problem (out[0..k)) into tally: correctness and extracted answers. */
static int tally_problem(const trainer *t, const tasks_item *it, const gen_completion *out, int k, eval_tally *tally,
                         grpo_err *err) {
    char(*ans)[256] = malloc((size_t)k * sizeof *ans);
    const char **ansp = malloc((size_t)k * sizeof *ansp);
    int *ok = malloc((size_t)k * sizeof *ok), rc = GRPO_OK;
    if (!ans || !ansp || !ok) rc = grpo_errf(err, GRPO_ENOMEM, "eval: out of memory");
    for (int j = 0; j < k && !rc; j++) {
        char *text = NULL, raw[256];
        size_t tl;
        ans[j][0] = '\0';
        ansp[j] = ans[j];
        if ((rc = tok_decode(t->tok, out[j].tokens, out[j].n_tokens, TOK_SKIP_SPECIAL, &text, &tl, err))) break;
        ok[j] = is_correct(t, it, text);
        if (math_extract(text, MATH_FALLBACK_NONE, raw, sizeof raw)) math_normalize(raw, ans[j], sizeof ans[j]);
        free(text);
    }
    if (!rc) eval_tally_add(tally, ok, ansp, k);
    free(ans);
    free(ansp);
    free(ok);
    return rc;
}

/* The one evaluation path (training's held-out accuracy and `grpo eval`): k completions of every
 * problem of ds at the given sampling, tallied as pass@1, pass@k and maj@k. With several ranks each
 * takes every P-th problem (a row's tokens do not depend on the batch) and the sums are added up. */
static int eval_run(trainer *t, const tasks_dataset *ds, const prompt_cache *pc, int k, smp_params sampling,
                    eval_result *res, grpo_err *err) {
    const int n = (int)ds->n, P = dist_size(), R = dist_rank();
    memset(res, 0, sizeof *res);
    const int **pp = malloc((n ? n : 1) * sizeof *pp);
    int *lens = malloc((n ? n : 1) * sizeof *lens);
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t *item = malloc((n ? n : 1) * sizeof *item);
    gen_completion *out = calloc((size_t)(n ? n : 1) * k, sizeof *out);
    int rc = pp && lens && ids && item && out ? GRPO_OK
                                              : grpo_errf(err, GRPO_ENOMEM, "out of memory for %d held-out problems", n);
    int nl = 0;
    for (int i = R; i < n && !rc; i += P, nl++) {
        pp[nl] = pc[i].ids;
        lens[nl] = pc[i].n;
        ids[nl] = ds->items[i].id;
        item[nl] = (size_t)i;
    }
    const gen_params gp = run_gen_params(t, k, sampling, 256);
    if (!rc && nl) rc = gen_run(&t->model, pp, lens, ids, nl, &gp, out, NULL, err);
    eval_tally tally = {0};
    for (int i = 0; i < nl && !rc; i++) rc = tally_problem(t, &ds->items[item[i]], out + (size_t)i * k, k, &tally, err);
    if (out) gen_completions_free(out, nl * k); /* calloc'd, and gen_run clears what it frees on failure */
    double sums[3] = {tally.pass1_sum, tally.pass_k_sum, tally.maj_k_sum};
    if (!rc) rc = dist_sum_f64(sums, 3, err);
    if (!rc) {
        res->n_problems = n;
        res->k = k;
        res->pass1 = n ? sums[0] / n : 0;
        res->pass_k = n ? sums[1] / n : 0;
        res->maj_k = n ? sums[2] / n : 0;
    }
    free(pp);
    free(lens);
    free(ids);
    free(item);
    free(out);
    return rc;
}

/* Greedy accuracy on the held-out set (-1 when there is none), stored as an eval row. */
/* Greedy accuracy on the held-out split (-1 when there is none; *n gets the problem count), not recorded. */
static int eval_greedy(trainer *t, double *acc, int *n, grpo_err *err) {
    *acc = -1, *n = 0;
    if (t->eval.n == 0) return GRPO_OK;
    smp_params greedy = smp_defaults();
    greedy.temperature = 0.0f;
    eval_result r;
    int rc = eval_run(t, &t->eval, t->peval, 1, greedy, &r, err);
    if (!rc) *acc = r.pass1, *n = r.n_problems;
    return rc;
}

int evaluate(trainer *t, int64_t step, double *acc, grpo_err *err) {
    int n, rc = eval_greedy(t, acc, &n, err);
    if (rc || !n || !t->db) return rc;
    store_eval ev = {.step = step, .name = t->cfg->dataset, .split = "eval", .metric = "accuracy_greedy",
                     .value = *acc, .n = n, .detail_json = "{\"temperature\":0}"};
    return store_add_eval(t->db, &ev, err);
}

/* The tokenizer (cfg->tokenizer, else the model directory), the chat format, the prompt template and
 * the rewards: the setup train_run and train_evaluate share. */
int setup_text(trainer *t, grpo_err *err) {
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

static void step_ws_free(struct step_ws *w);

void trainer_free(trainer *t) {
    if (t->ws) step_ws_free(t->ws);
    free(t->ws);
    if (t->db) store_close(t->db);
    free_prompts(t->ptrain, t->train.n);
    free_prompts(t->peval, t->eval.n);
    free_prompts(t->pcold, t->cold.n);
    tasks_dataset_free(&t->train);
    tasks_dataset_free(&t->eval);
    tasks_dataset_free(&t->cold);
    tasks_cursor_free(&t->cursor);
    policy_free(&t->model);
    if (t->have_ref) policy_free(&t->ref);
    if (t->have_teacher) policy_free(&t->teacher);
    if (t->tok) tok_free(t->tok);
    rw_registry_free(t->rw);
    rw_registry_free(t->acc);
    rw_external_stop(t->ext);
}

/* ---- SFT cold start: cross-entropy on solution tokens, prompt masked ---- */

static int sft(trainer *t, grpo_err *err) {
    const run_config *c = t->cfg;
    const tasks_dataset *ds = c->sft_size > 0 ? &t->cold : &t->train;
    const prompt_cache *prompts = c->sft_size > 0 ? t->pcold : t->ptrain;
    int *sol_n = calloc(ds->n ? ds->n : 1, sizeof *sol_n), **sol = calloc(ds->n ? ds->n : 1, sizeof *sol), have = 0;
    int rc = sol_n && sol ? GRPO_OK : grpo_errf(err, GRPO_ENOMEM, "sft: out of memory");
    for (size_t i = 0; i < ds->n && !rc; i++) {
        if (!ds->items[i].solution) continue;
        size_t n;
        /* solutions are plain text (flags 0): tags such as <think> stay ordinary tokens, so that decoding
         * with TOK_SKIP_SPECIAL for the rewards keeps them in the completion's text */
        if ((rc = tok_encode(t->tok, ds->items[i].solution, strlen(ds->items[i].solution), 0, &sol[i], &n, err))) goto out;
        int *grown = realloc(sol[i], (n + 1) * sizeof(int));
        if (!grown) {
            rc = grpo_errf(err, GRPO_ENOMEM, "sft: out of memory");
            goto out;
        }
        sol[i] = grown;
        if (t->n_eos) sol[i][n++] = t->eos[0];
        sol_n[i] = (int)n;
        have++;
    }
    if (rc) goto out;
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
    if (!idx || !lens) rc = grpo_errf(err, GRPO_ENOMEM, "sft: out of memory");
    policy_adamw h = {.lr = (float)c->sft_learning_rate, .beta1 = (float)c->adam_beta1, .beta2 = (float)c->adam_beta2,
                      .eps = (float)c->adam_epsilon,
                      .weight_decay = (float)(c->sft_weight_decay < 0 ? c->weight_decay : c->sft_weight_decay)};
    double t0 = now_s(), ema = -1;
    for (int s = 0; s < c->sft_steps && !rc; s++) {
        h.lr = (float)lr_schedule(c->sft_lr_scheduler_type, c->sft_learning_rate, 0, c->sft_steps, s);
        if ((rc = tasks_cursor_next(&cur, ds, B, idx, err))) break;
        int total = 0, nb = 0;
        for (int k = 0; k < B; k++)
            if (sol[idx[k]]) total += prompts[idx[k]].n + sol_n[idx[k]];
        int *nt = realloc(toks, (total ? total : 1) * sizeof *toks);
        if (nt) toks = nt;
        float *nm = nt ? realloc(mask, (total ? total : 1) * sizeof *mask) : NULL;
        if (nm) mask = nm;
        if (!nt || !nm) {
            rc = grpo_errf(err, GRPO_ENOMEM, "sft: out of memory for a batch of %d tokens", total);
            break;
        }
        int off = 0, moff = 0;
        for (int k = 0; k < B; k++) {
            size_t i = idx[k];
            if (!sol[i]) continue;
            const prompt_cache *p = &prompts[i];
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
        if (c->sft_eval_steps > 0 && (s + 1) % c->sft_eval_steps == 0 && s + 1 < c->sft_steps) {
            double a;
            int n;
            if ((rc = eval_greedy(t, &a, &n, err))) break;
            logf_(t, "sft step %d/%d: held-out accuracy %.3f (wall %.1fs)", s + 1, c->sft_steps, a, now_s() - t->t_run);
        }
    }
    tasks_cursor_free(&cur);
    free(idx);
    free(lens);
    free(toks);
    free(mask);
out:
    for (size_t i = 0; sol && i < ds->n; i++) free(sol[i]);
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
        size_t n = 0;
        sb_catf(gold, gcap, &n, "%lld from", (long long)it->target);
        for (int i = 0; i < it->n_nums && n < gcap; i++)
            sb_catf(gold, gcap, &n, "%s %lld", i ? "," : "", (long long)it->nums[i]);
    } else {
        snprintf(gold, gcap, "%s", it->answer ? it->answer : "");
    }
}

double lr_schedule(const char *type, double peak, int64_t warmup, int64_t total, int64_t step) {
    if (warmup > 0 && step < warmup) return peak * (step + 1) / warmup;
    if (!strcmp(type, "cosine") && total > warmup) {
        double p = (double)(step - warmup) / (total - warmup);
        return peak * 0.5 * (1.0 + cos(M_PI * fmin(1.0, p)));
    }
    return peak;
}

double lr_at(const run_config *c, int64_t step) {
    return lr_schedule(c->lr_scheduler_type, c->learning_rate, c->warmup_steps, c->max_steps, step);
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

/* The buffers one GRPO step works in, allocated once per run (step_ws_build) for the largest step
 * the config allows, and the step's running state. Sizes: N = B * G completions of which this rank
 * owns Nl (samples kl..kh-1); each completion at most max_completion_length tokens; a micro-batch at
 * most MB sequences of max_prompt_length + max_completion_length tokens. */
typedef struct step_ws {
    int G, B, N, P, R, Bl, g0, g1, kl, kh, Nl, MB, n_micro;
    size_t max_ctok, max_btok;   /* completion tokens of this rank; tokens of one micro-batch */
    gen_completion *gc, *rgc;    /* [N] the step's completions; one generation round's */
    sample *S, *RS;              /* [N] */
    double *rw, *adv, *mine;     /* [N], [N], [Nl] */
    float *mask, *old, *ref, *lpn, *dl; /* [max_ctok] per completion token of this rank */
    float *tlp, *advtok;         /* [max_ctok] on-policy distillation: teacher logprobs, per-token advantages */
    float *flp, *fdl;            /* [max_btok] per target of one micro-batch */
    int *coff, *toks, *slen, *clen;
    /* the step's state */
    int rounds, drawn, zero_std0, filtered, skipped, loss_n, ctot;
    double t0, t_sample, t_score, t_train, train_tokens, gn_last, loss_sum, active, reverse_kl;
    gen_stats gs;
    learner_stats st;            /* of the last pass */
    policy_adamw h;
} step_ws;

static void step_ws_free(step_ws *w) {
    if (w->S)
        for (int k = 0; k < w->N; k++) free(w->S[k].text);
    if (w->gc) gen_completions_free(w->gc, w->N);
    free(w->gc), free(w->rgc), free(w->S), free(w->RS), free(w->rw), free(w->adv), free(w->mine);
    free(w->mask), free(w->old), free(w->ref), free(w->lpn), free(w->dl), free(w->flp), free(w->fdl);
    free(w->tlp), free(w->advtok);
    free(w->coff), free(w->toks), free(w->slen), free(w->clen);
    memset(w, 0, sizeof *w);
}

static int step_ws_build(step_ws *w, const run_config *c, int have_ref, int have_teacher, grpo_err *err) {
    memset(w, 0, sizeof *w);
    w->G = c->num_generations, w->B = c->generation_batch_size / w->G, w->N = w->B * w->G;
    /* data parallelism: rank R samples, scores and trains groups g0..g1-1 (samples kl..kh-1); every
     * rank draws the same prompts and seeds completions by (seed, step, prompt, j), so the rollouts
     * are those of one rank with the whole batch */
    w->P = dist_size(), w->R = dist_rank(), w->Bl = w->B / w->P, w->g0 = w->R * w->Bl, w->g1 = w->g0 + w->Bl;
    w->kl = w->g0 * w->G, w->kh = w->g1 * w->G, w->Nl = w->kh - w->kl;
    w->MB = c->per_device_train_batch_size, w->n_micro = (w->Nl + w->MB - 1) / w->MB;
    const size_t N = (size_t)w->N, Nl = w->Nl ? (size_t)w->Nl : 1, seqs = (size_t)(w->MB < w->Nl ? w->MB : w->Nl);
    w->max_ctok = Nl * (size_t)c->max_completion_length;
    w->max_btok = (seqs ? seqs : 1) * (size_t)(c->max_prompt_length + c->max_completion_length);
    w->gc = calloc(N, sizeof *w->gc), w->rgc = calloc(N, sizeof *w->rgc);
    w->S = calloc(N, sizeof *w->S), w->RS = calloc(N, sizeof *w->RS);
    w->rw = malloc(N * sizeof *w->rw), w->adv = malloc(N * sizeof *w->adv), w->mine = malloc(Nl * sizeof *w->mine);
    w->mask = malloc(w->max_ctok * sizeof *w->mask), w->old = malloc(w->max_ctok * sizeof *w->old);
    w->ref = have_ref ? malloc(w->max_ctok * sizeof *w->ref) : NULL;
    w->lpn = malloc(w->max_ctok * sizeof *w->lpn), w->dl = malloc(w->max_ctok * sizeof *w->dl);
    w->tlp = have_teacher ? malloc(w->max_ctok * sizeof *w->tlp) : NULL;
    w->advtok = have_teacher ? malloc(w->max_ctok * sizeof *w->advtok) : NULL;
    w->flp = malloc(w->max_btok * sizeof *w->flp), w->fdl = malloc(w->max_btok * sizeof *w->fdl);
    w->coff = malloc((Nl + 1) * sizeof *w->coff), w->toks = malloc(w->max_btok * sizeof *w->toks);
    w->slen = malloc(Nl * sizeof *w->slen), w->clen = malloc(Nl * sizeof *w->clen);
    if (!w->gc || !w->rgc || !w->S || !w->RS || !w->rw || !w->adv || !w->mine || !w->mask || !w->old ||
        (have_ref && !w->ref) || (have_teacher && (!w->tlp || !w->advtok)) || !w->lpn || !w->dl || !w->flp || !w->fdl || !w->coff || !w->toks || !w->slen ||
        !w->clen) {
        step_ws_free(w);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory for the step's buffers (%d completions of up to %d tokens)",
                         c->generation_batch_size, c->max_completion_length);
    }
    return GRPO_OK;
}

/* Clears the previous step's completions and state. */
static void step_ws_reset(step_ws *w) {
    for (int k = 0; k < w->N; k++) free(w->S[k].text);
    gen_completions_free(w->gc, w->N);
    memset(w->gc, 0, (size_t)w->N * sizeof *w->gc);
    memset(w->S, 0, (size_t)w->N * sizeof *w->S);
    w->rounds = w->drawn = w->zero_std0 = w->filtered = w->skipped = w->loss_n = w->ctot = 0;
    w->t_sample = w->t_score = w->t_train = w->train_tokens = w->gn_last = w->loss_sum = w->active = 0;
    w->reverse_kl = NAN;
    memset(&w->gs, 0, sizeof w->gs);
    memset(&w->st, 0, sizeof w->st);
    w->t0 = now_s();
}

int train_resample_round_size(int B, int missing, int drawn, int spread) {
    if (spread <= 0) return B;
    const double want = 1.25 * missing * drawn / spread;
    const int n = want >= B ? B : (int)ceil(want);
    return n < missing ? missing : n;
}

/* 1-2. Samples and scores B groups. With dynamic sampling (DAPO), groups whose rewards are all equal
 * carry no signal: they are dropped and more prompts sampled, up to 1 + max_resample_rounds rounds,
 * each drawing only what the missing groups need (train_resample_round_size); the last round's groups
 * fill what is still missing, spread or not (one rank only: train_run refuses dynamic sampling with
 * several). */
static int collect_groups(trainer *t, step_ws *w, int64_t step, grpo_err *err) {
    const int G = w->G, B = w->B, N = w->N;
    const int max_rounds = t->cfg->dynamic_sampling ? 1 + t->cfg->max_resample_rounds : 1;
    int kept = 0, rc = GRPO_OK;
    while (kept < B && !rc) {
        const int last = w->rounds + 1 >= max_rounds;
        /* before the last round every kept group had spread and every group with spread was kept, so
         * kept is the step's count of groups with spread so far */
        const int Br = w->rounds == 0 ? B : train_resample_round_size(B, B - kept, w->drawn, kept);
        const int g1 = w->rounds == 0 ? w->g1 : Br;
        memset(w->rgc, 0, N * sizeof *w->rgc);
        memset(w->RS, 0, N * sizeof *w->RS);
        rc = sample_and_score(t, step, w->rounds, Br, w->g0, g1, w->rgc, w->RS, &w->gs, &w->t_sample, &w->t_score, err);
        w->drawn += Br;
        for (int g = 0; g < Br && !rc; g++) {
            const int spread = group_has_spread(w->RS + g * G, G);
            if (w->rounds == 0) w->zero_std0 += !spread;
            if (kept < B && (spread || last)) {
                for (int j = 0; j < G; j++) {
                    const int k = kept * G + j;
                    w->gc[k] = w->rgc[g * G + j];
                    w->S[k] = w->RS[g * G + j];
                    w->S[k].c = &w->gc[k];
                    memset(&w->rgc[g * G + j], 0, sizeof *w->rgc);
                    w->RS[g * G + j].text = NULL;
                }
                kept++;
            } else if (!spread) {
                w->filtered++;
            }
        }
        for (int k = 0; k < N; k++) free(w->RS[k].text);
        gen_completions_free(w->rgc, N);
        w->rounds++;
    }
    if (!rc && (w->rounds > 1 || w->filtered))
        logf_(t, "step %lld: dynamic sampling dropped %d zero-spread group(s) in %d generation round(s) of %d prompts",
              (long long)step + 1, w->filtered, w->rounds, w->drawn);
    return rc;
}

/* 3. Group-relative advantages, from every rank's totals. */
static int compute_advantages(trainer *t, step_ws *w, grpo_err *err) {
    const int G = w->G, B = w->B;
    for (int k = w->kl; k < w->kh; k++) w->mine[k - w->kl] = w->S[k].total;
    int rc = dist_allgather_f64(w->mine, w->Nl, w->rw, err);
    if (rc) return rc;
    if (w->P > 1) {
        w->zero_std0 = 0;
        for (int g = 0; g < B; g++) {
            int spread = 0;
            for (int j = 1; j < G; j++) spread |= w->rw[g * G + j] != w->rw[g * G];
            w->zero_std0 += !spread;
        }
    }
    learner_advantages(w->rw, B, G, t->lopts.scale_rewards, w->adv);
    for (int k = 0; k < w->N; k++) w->S[k].adv = w->adv[k];
    return GRPO_OK;
}

/* The learner's per-token inputs of this rank's completions: offsets, mask, old logprobs, and the
 * active-token count across ranks. */
static int pack_completions(const trainer *t, step_ws *w, grpo_err *err) {
    const run_config *c = t->cfg;
    w->coff[0] = 0;
    for (int k = w->kl; k < w->kh; k++) {
        const gen_completion *g = w->S[k].c;
        const int q = k - w->kl;
        w->coff[q + 1] = w->coff[q] + g->n_tokens;
        float m = (c->mask_truncated_completions && g->finish == GEN_FINISH_LENGTH) ? 0.0f : 1.0f;
        for (int j = 0; j < g->n_tokens; j++) {
            w->mask[w->coff[q] + j] = m;
            w->old[w->coff[q] + j] = g->logprobs[j];
        }
        w->active += m * g->n_tokens;
    }
    w->ctot = w->coff[w->Nl];
    return dist_sum_f64(&w->active, 1, err);
}

/* Lays micro-batch [k0, k1) out as whole sequences (prompt + completion) into w->toks. */
static policy_batch micro_batch(const trainer *t, step_ws *w, int k0, int k1) {
    int off = 0;
    for (int k = k0; k < k1; k++) {
        const prompt_cache *p = &t->ptrain[w->S[k].item];
        memcpy(w->toks + off, p->ids, p->n * sizeof(int));
        memcpy(w->toks + off + p->n, w->S[k].c->tokens, w->S[k].c->n_tokens * sizeof(int));
        w->slen[k - k0] = p->n + w->S[k].c->n_tokens;
        w->clen[k - k0] = w->S[k].c->n_tokens;
        off += w->slen[k - k0];
    }
    return (policy_batch){.n_seq = k1 - k0, .seq_len = w->slen, .tokens = w->toks};
}

/* One micro-batch of one pass: forward (the teacher's on pass -2, the reference's on pass -1), then on
 * the policy the loss and backward. Completion token j of sequence k is target p->n - 1 + j of that
 * sequence. */
static int micro_step(trainer *t, step_ws *w, int pass, int k0, int k1, const learner_norm *nrm, grpo_err *err) {
    const float T = (float)t->cfg->temperature;
    policy_model *pm = pass == -2 ? &t->teacher : pass < 0 ? &t->ref : &t->model;
    policy_batch b = micro_batch(t, w, k0, k1);
    const size_t nt = policy_batch_targets(&b);
    int rc = policy_forward(pm, &b, T, w->flp, NULL, pass >= 0, err);
    if (rc) return rc;
    float *dst = pass == -2 ? w->tlp : pass < 0 ? w->ref : w->lpn;
    for (int k = k0, q = 0; k < k1; q += w->slen[k - k0] - 1, k++) {
        const int pn = t->ptrain[w->S[k].item].n;
        for (int j = 0; j < w->S[k].c->n_tokens; j++) dst[w->coff[k - w->kl] + j] = w->flp[q + pn - 1 + j];
    }
    if (pass < 0) return GRPO_OK;
    const int o = w->coff[k0 - w->kl];
    learner_batch lb = {.n_seq = k1 - k0, .len = w->clen, .logp_new = w->lpn + o, .logp_old = w->old + o,
                        .logp_ref = t->have_ref ? w->ref + o : NULL, .mask = w->mask + o, .adv = w->adv + k0,
                        .adv_token = t->have_teacher ? w->advtok + o : NULL};
    if ((rc = learner_loss(&t->lopts, nrm, &lb, w->dl + o, &w->st, err))) return rc;
    memset(w->fdl, 0, nt * sizeof *w->fdl);
    for (int k = k0, q = 0; k < k1; q += w->slen[k - k0] - 1, k++) {
        const int pn = t->ptrain[w->S[k].item].n;
        for (int j = 0; j < w->S[k].c->n_tokens; j++) w->fdl[q + pn - 1 + j] = w->dl[w->coff[k - w->kl] + j];
    }
    if ((rc = policy_backward(&t->model, &b, T, w->fdl, err))) return rc;
    w->train_tokens += (double)policy_batch_tokens(&b);
    return GRPO_OK;
}

/* 4. The teacher's logprobs (on-policy distillation) and the reference's (beta > 0), then mu optimizer
 * steps over micro-batches; with several ranks each backpropagates its micro-batches and the
 * gradients are summed before clipping. */
static int learner_passes(trainer *t, step_ws *w, int64_t step, grpo_err *err) {
    const run_config *c = t->cfg;
    const double t2 = now_s();
    int rc = pack_completions(t, w, err);
    const learner_norm nrm = {.n_seq_step = w->N, .n_micro = w->n_micro * w->P,
                              .max_completion_length = c->max_completion_length, .active_tokens_step = w->active};
    w->h = (policy_adamw){.lr = (float)lr_at(c, step), .beta1 = (float)c->adam_beta1, .beta2 = (float)c->adam_beta2,
                          .eps = (float)c->adam_epsilon, .weight_decay = (float)c->weight_decay};
    for (int pass = t->have_teacher ? -2 : t->have_ref ? -1 : 0; pass < c->num_iterations && !rc; pass++) {
        if (pass == -1 && !t->have_ref) continue;
        if (pass == 0 && t->have_teacher) { /* per-token reverse-KL advantages (docs/distill.md) */
            w->reverse_kl = onpolicy_advantages(w->old, w->tlp, w->mask, w->ctot, w->advtok, w->adv, w->N,
                                                c->distill_task_weight);
            for (int k = 0; k < w->N; k++) w->S[k].adv = w->adv[k];
        }
        if (pass >= 0) {
            policy_zero_grad(&t->model);
            memset(&w->st, 0, sizeof w->st);
        }
        for (int mb = 0; mb < w->n_micro && !rc; mb++) {
            const int k0 = w->kl + mb * w->MB, k1 = k0 + w->MB < w->kh ? k0 + w->MB : w->kh;
            if (pass >= 0 && w->P > 1 && mb == w->n_micro - 1) rc = dist_grads_arm(&t->model, err);
            if (!rc) rc = micro_step(t, w, pass, k0, k1, &nrm, err);
        }
        if (rc || pass < 0) continue;
        if (w->P > 1 && ((rc = dist_sum_grads(&t->model, err)) ||
                         (rc = dist_sum_f64(&w->st.loss, sizeof w->st / sizeof(double), err))))
            break;
        const double gn = policy_clip_grad_norm(&t->model, c->max_grad_norm);
        w->gn_last = gn;
        w->loss_sum += w->st.loss;
        w->loss_n++;
        if (!isfinite(gn) || !isfinite(w->st.loss)) {
            w->skipped++;
            continue; /* non-finite guard: no update this pass */
        }
        rc = policy_adamw_step(&t->model, &w->h, err);
    }
    w->t_train = now_s() - t2;
    if (!rc && w->skipped)
        logf_(t, "step %lld: %d update(s) skipped: non-finite loss or gradient norm", (long long)step + 1, w->skipped);
    return rc;
}

/* 5. Rank 0 gets every rank's rollouts for the metrics and the database. */
static int gather_rollouts(trainer *t, step_ws *w, grpo_err *err) {
    if (w->P == 1) return GRPO_OK;
    double sums[2] = {w->train_tokens, (double)w->gs.decode_tokens};
    int rc = dist_sum_f64(sums, 2, err);
    if (rc) return rc;
    w->train_tokens = sums[0];
    w->gs.decode_tokens = (size_t)sums[1];
    size_t np = 0, *counts = calloc(w->P, sizeof *counts);
    char *packed = counts ? pack_samples(w->S, w->kl, w->kh, &np) : NULL, *gathered = NULL;
    if (!packed) rc = grpo_errf(err, GRPO_ENOMEM, "out of memory packing rollouts");
    if (!rc) rc = dist_gather_bytes(packed, np, &gathered, counts, err);
    if (!rc && w->R == 0) {
        size_t off = counts[0];
        for (int r = 1; r < w->P && !rc; r++) {
            rc = unpack_samples(w->S, w->gc, r * w->Nl, (r + 1) * w->Nl, gathered + off, counts[r], r, err);
            off += counts[r];
        }
    }
    free(packed);
    free(gathered);
    free(counts);
    return rc;
}

/* The step's headline metrics (DESIGN's metric list; docs/database.md). */
static store_step_metrics step_metrics(const trainer *t, const step_ws *w) {
    const int N = w->N;
    double mean = 0, sd = 0, acc = 0, len_sum = 0, len_max = 0, trunc = 0, ent = 0, ntok = 0;
    for (int k = 0; k < N; k++) {
        mean += w->S[k].total;
        len_sum += w->S[k].c->n_tokens;
        len_max = fmax(len_max, w->S[k].c->n_tokens);
        trunc += w->S[k].c->finish == GEN_FINISH_LENGTH;
        acc += is_correct(t, &t->train.items[w->S[k].item], w->S[k].text);
    }
    mean /= N;
    for (int k = 0; k < N; k++) sd += (w->S[k].total - mean) * (w->S[k].total - mean);
    sd = N > 1 ? sqrt(sd / (N - 1)) : 0;
    const learner_stats *st = &w->st;
    store_step_metrics sm = store_metrics_unset();
    sm.reward_mean = mean;
    sm.reward_std = sd;
    sm.accuracy = acc / N;
    /* NaN is stored as NULL: no KL without a reference model (beta = 0) */
    sm.kl = t->have_ref && st->tokens > 0 ? st->kl_sum / st->tokens : NAN;
    sm.loss = w->loss_n ? w->loss_sum / w->loss_n : NAN; /* mean over the μ passes (each the sum of its micro-batches) */
    sm.clip_frac_low = st->tokens > 0 ? st->clip_low / st->tokens : 0;
    sm.clip_frac_high = st->tokens > 0 ? st->clip_high / st->tokens : 0;
    sm.completion_len_mean = len_sum / N;
    sm.completion_len_max = len_max;
    sm.truncated_frac = trunc / N;
    sm.zero_std_frac = (double)w->zero_std0 / w->B;
    sm.tokens_per_s_sampling = w->gs.decode_tokens / fmax(1e-9, w->t_sample);
    sm.tokens_per_s_training = w->train_tokens / fmax(1e-9, w->t_train);
    sm.seconds_sampling = w->t_sample;
    sm.seconds_scoring = w->t_score;
    sm.seconds_training = w->t_train;
    for (int k = 0; k < N; k++) ent += w->S[k].c->entropy_sum, ntok += w->S[k].c->n_tokens;
    sm.entropy = ntok > 0 ? ent / ntok : 0.0;
    return sm;
}

/* metrics_json: every metric without a column (learning rate, grad norm, per-component means, ...). */
static void step_metrics_json(const trainer *t, const step_ws *w, char *mj, size_t cap) {
    const int nr = rw_registry_size(t->rw);
    size_t mn = 0;
    sb_catf(mj, cap, &mn, "{\"lr\":%.6g,\"grad_norm\":%.6g,\"skipped_updates\":%d", w->h.lr, w->gn_last, w->skipped);
    if (t->cfg->dynamic_sampling)
        sb_catf(mj, cap, &mn, ",\"generation_rounds\":%d,\"prompts_drawn\":%d,\"groups_dropped\":%d", w->rounds,
                w->drawn, w->filtered);
    if (w->P > 1) sb_catf(mj, cap, &mn, ",\"ranks\":%d", w->P);
    if (t->have_teacher) sb_catf(mj, cap, &mn, ",\"distill/reverse_kl\":%.6g", w->reverse_kl);
    for (int r = 0; r < nr; r++) {
        double cm = 0;
        for (int k = 0; k < w->N; k++) cm += w->S[k].comp[r];
        sb_catf(mj, cap, &mn, ",\"reward/%s\":%.6g", rw_registry_name(t->rw, r), cm / w->N);
    }
    sb_catf(mj, cap, &mn, "}");
}

/* 6. The step in the database, in one transaction: every rollout, then the steps row. */
static int write_step(trainer *t, const step_ws *w, int64_t step, const store_step_metrics *sm, grpo_err *err) {
    const int G = w->G, nr = rw_registry_size(t->rw);
    char mj[2048];
    step_metrics_json(t, w, mj, sizeof mj);
    int rc = store_step_begin(t->db, step + 1, err);
    if (rc) return rc;
    for (int k = 0; k < w->N && !rc; k++) {
        const sample *s = &w->S[k];
        /* a prompt drawn twice in one step (a small dataset, or dynamic sampling's extra rounds) numbers
         * its second group's samples G..2G-1, so (step, prompt_id, sample_index) stays unique */
        int occ = 0;
        for (int g = 0; g < k / G; g++) occ += w->S[g * G].item == s->item;
        store_component comps[RW_MAX + 1];
        char why[RW_MAX][RW_REASON_MAX], extracted[128], gold[256];
        inspection_of(t, &t->train.items[s->item], s, why, extracted, sizeof extracted, gold, sizeof gold);
        int ncomp = 0;
        for (int r = 0; r < nr; r++) comps[ncomp++] = (store_component){rw_registry_name(t->rw, r), s->comp[r], why[r]};
        if (t->ext) comps[ncomp++] = (store_component){"external", s->comp[nr], "from the external reward command"};
        store_rollout ro = {.prompt_id = t->train.items[s->item].id, .sample_index = occ * G + s->c->sample_index,
                            .prompt_text = t->ptrain[s->item].text, .completion_text = s->text,
                            .token_ids = s->c->tokens, .logprobs = s->c->logprobs, .n_tokens = s->c->n_tokens,
                            .components = comps, .n_components = ncomp, .reward_total = s->total,
                            .advantage = s->adv,
                            .finish = s->c->finish == GEN_FINISH_STOP ? STORE_FINISH_STOP : STORE_FINISH_LENGTH,
                            .extracted_answer = *extracted ? extracted : NULL, .gold_answer = *gold ? gold : NULL};
        rc = store_add_rollout(t->db, &ro, err);
        if (!rc && w->tlp) /* one rank (onpolicy_setup): completion k's tokens start at coff[k] */
            rc = store_add_teacher_logprobs(t->db, ro.prompt_id, ro.sample_index, w->tlp + w->coff[k], s->c->n_tokens,
                                            err);
    }
    if (rc) store_step_abort(t->db);
    else rc = store_step_commit(t->db, step + 1, sm, mj, err);
    return rc;
}

/* The step's console line, every logging_steps steps. */
static void log_step(const trainer *t, const step_ws *w, int64_t step, const store_step_metrics *sm) {
    const run_config *c = t->cfg;
    if (c->logging_steps <= 0 || (step + 1) % c->logging_steps != 0) return;
    double el = now_s() - t->t_start, per = el / (step + 1 - t->step0);
    char eta[32];
    fmt_duration(per * (c->max_steps - step - 1), eta, sizeof eta);
    logf_(t,
          "step %lld/%d | reward %.3f±%.3f | acc %.3f | loss %.4f | kl %.4f | ent %.3f | clip %.3f/%.3f | len %.1f/%.0f | "
          "trunc %.2f | zero-std %.2f | %.0f tok/s gen, %.0f tok/s train | %.1fs | ETA %s",
          (long long)step + 1, c->max_steps, sm->reward_mean, sm->reward_std, sm->accuracy, sm->loss,
          isnan(sm->kl) ? 0.0 : sm->kl, sm->entropy, sm->clip_frac_low, sm->clip_frac_high, sm->completion_len_mean,
          sm->completion_len_max, sm->truncated_frac, sm->zero_std_frac, sm->tokens_per_s_sampling,
          sm->tokens_per_s_training, now_s() - w->t0, eta);
}

/* One GRPO step (docs/architecture.md, "One GRPO step"): collect groups (sample and score), their
 * advantages, the learner's passes, the rollouts gathered to rank 0, the step written. */
static int grpo_step(trainer *t, int64_t step, grpo_err *err) {
    step_ws *w = t->ws;
    step_ws_reset(w);
    int rc = collect_groups(t, w, step, err);
    if (!rc) rc = compute_advantages(t, w, err);
    if (!rc) rc = learner_passes(t, w, step, err);
    if (!rc) rc = gather_rollouts(t, w, err);
    if (rc || w->R != 0) return rc;
    const store_step_metrics sm = step_metrics(t, w);
    if (!(rc = write_step(t, w, step, &sm, err))) log_step(t, w, step, &sm);
    return rc;
}

/* ---- checkpoints ---- */

int save_checkpoint(trainer *t, int64_t step, grpo_err *err) {
    if (dist_rank() != 0) return GRPO_OK; /* every rank holds the same weights: rank 0 writes them */
    char *cj = rc_to_json(t->cfg);
    if (!cj) return grpo_errf(err, GRPO_ENOMEM, "checkpoint of step %lld: out of memory", (long long)step);
    ckpt_state st = {.step = step, .cursor_epoch = t->cursor.epoch, .cursor_pos = t->cursor.pos,
                     .seed = (uint64_t)t->cfg->seed, .config_json = cj, .tokenizer_dir = t->tok_dir};
    int rc = ckpt_save(t->run_dir, &t->model, &st, t->cfg->save_total_limit, err);
    free(cj);
    return rc;
}

/* ---- the job ---- */

int train_run(const run_config *cfg, int resume, const train_log *log, train_result *res, grpo_err *err) {
    trainer T = {.cfg = cfg, .log = log, .t_start = now_s(), .t_run = now_s()};
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
    /* the learner's forward/backward/AdamW and the rollouts (gen_run dispatches on the model's backend)
     * run on this backend; policy/cuda also keeps the host arenas current (mirror mode) */
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
        (rc = cache_prompts(t, &t->eval, &t->peval, "eval", err)) ||
        (rc = cache_prompts(t, &t->cold, &t->pcold, "cold start", err)))
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
    { /* several ranks on the CUDA backend: one NCCL communicator over their GPUs */
        char how[96];
        if ((rc = dist_device_init(&t->model, how, sizeof how, err))) goto done;
        if (P > 1) logf_(t, "data parallel: %d ranks, gradients summed with %s", P, how);
    }
    t->n_eos = train_eos_ids(t->tok, &t->model, t->eos, (int)(sizeof t->eos / sizeof t->eos[0]));
    {
        size_t pb, gb, ob, ab;
        policy_memory(&t->model, &pb, &gb, &ob, &ab);
        logf_(t, "run %s: %s, %.2fM parameters; memory: params %.1f MiB, grads %.1f MiB, AdamW %.1f MiB", t->run_dir,
              policy_arch_name(t->model.cfg.arch), t->model.n_params / 1e6, pb / 1048576.0, gb / 1048576.0,
              ob / 1048576.0);
        char cold[96] = "";
        if (t->cold.n) snprintf(cold, sizeof cold, " + %zu cold-start items with worked solutions", t->cold.n);
        logf_(t, "data: %zu train%s%s, %zu held-out items (%s); %d prompts x %d completions per step", t->train.n,
              t->cold.n ? " (answers only)" : "", cold, t->eval.n, cfg->dataset,
              cfg->generation_batch_size / cfg->num_generations, cfg->num_generations);
    }

    /* database */
    char *cj = rc_to_json(cfg);
    /* database and checkpoints: rank 0 writes them */
    rc = !cj ? grpo_errf(err, GRPO_ENOMEM, "out of memory") : R == 0 ? store_open(&t->db, res->db_path, cfg->run_name, cj, err) : GRPO_OK;
    free(cj);
    if (rc) goto done;
    if (R == 0 && (rc = store_truncate_after(t->db, t->step0, NULL, err))) goto done;

    /* SFT cold start, then the GRPO starting point */
    if (!ck[0]) {
        if (cfg->sft_steps > 0) {
            double a0;
            if ((rc = evaluate(t, -1, &a0, err))) goto done;
            logf_(t, "held-out accuracy before SFT: %.3f (%zu problems, greedy; wall %.1fs)", a0, t->eval.n,
                  now_s() - t->t_run);
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
    if ((rc = onpolicy_setup(t, be, err))) goto done;
    if ((rc = evaluate(t, t->step0, &res->accuracy_before, err))) goto done;
    logf_(t, "held-out accuracy at step %lld: %.3f (%zu problems, greedy; wall %.1fs)", (long long)t->step0,
          res->accuracy_before, t->eval.n, now_s() - t->t_run);

    /* GRPO */
    if (!(t->ws = calloc(1, sizeof *t->ws))) rc = grpo_errf(err, GRPO_ENOMEM, "out of memory");
    if (rc || (rc = step_ws_build(t->ws, cfg, t->have_ref, t->have_teacher, err))) goto done;
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
            logf_(t, "held-out accuracy at step %lld: %.3f (wall %.1fs)", (long long)step + 1, a, now_s() - t->t_run);
        }
    }
    if ((rc = evaluate(t, step, &res->accuracy_after, err))) goto done;
    logf_(t, "held-out accuracy at step %lld: %.3f (%zu problems, greedy; wall %.1fs)", (long long)step,
          res->accuracy_after, t->eval.n, now_s() - t->t_run);
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
    if ((rc = load_jsonl(cfg, cfg->dataset, &t->eval, err)) || (rc = cache_prompts(t, &t->eval, &t->peval, "eval", err)))
        goto done;
    if ((rc = load_model(t, &t->model, err)) || (rc = check_vocab(t, t->tok_dir, err))) goto done;
    t->n_eos = train_eos_ids(t->tok, &t->model, t->eos, (int)(sizeof t->eos / sizeof t->eos[0]));
    if ((rc = eval_run(t, &t->eval, t->peval, k, run_sampling(cfg, temperature), res, err))) goto done;
    res->seconds = now_s() - t0;
done:
    trainer_free(t);
    return rc;
}
