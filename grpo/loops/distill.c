/* grpo/loops/distill.c: the traces loop and the standalone SFT loop (see distill.h), made of the train
 * loop's parts (grpo/loops/train_parts.h). Sections: the run directory and database, traces, SFT rows as
 * tokens, SFT batches, the SFT loop. */
#include "distill.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoints/ckpt.h"
#include "checkpoints/model_dir.h"
#include "common/fsutil.h"
#include "gkd.h"
#include "onpolicy.h"
#include "sft_data.h"
#include "train_parts.h"

/* ---- the run directory and database ---- */

/* Sets t->run_dir and db_path from output_dir/run_name, makes the directory, and sets up text. */
static int open_run(trainer *t, char *db_path, size_t cap, grpo_err *err) {
    const run_config *c = t->cfg;
    if ((size_t)snprintf(t->run_dir, sizeof t->run_dir, "%s/%s", c->output_dir, c->run_name) >= sizeof t->run_dir ||
        (size_t)snprintf(db_path, cap, "%s/rollouts.db", t->run_dir) >= cap)
        return grpo_errf(err, GRPO_EINVAL, "output_dir/run_name is too long");
    if (c->num_threads > 0) omp_set_num_threads(c->num_threads);
    int rc = setup_text(t, err);
    return rc ? rc : fs_mkdirs(t->run_dir, err);
}

/* Opens the run's database with its config and marks its kind. */
static int open_db(trainer *t, const char *db_path, const char *kind, grpo_err *err) {
    char *cj = rc_to_json(t->cfg);
    if (!cj) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    int rc = store_open(&t->db, db_path, t->cfg->run_name, cj, err);
    free(cj);
    return rc ? rc : store_set_run_kind(t->db, kind, err);
}

/* ---- traces: K teacher samples per training prompt, scored and stored ---- */

typedef struct {
    double reward_sum, reward_sq, correct, len_sum, len_max, truncated, n;
} chunk_tally;

/* Decodes, scores and stores the n_prompts * K completions of one chunk as step `step`. */
static int store_chunk(trainer *t, int64_t step, const size_t *idx, int n_prompts, gen_completion *gc,
                       const gen_stats *gs, double t_sample, chunk_tally *ct, grpo_err *err) {
    const int K = t->cfg->num_generations, N = n_prompts * K, nr = rw_registry_size(t->rw);
    double t0 = now_s();
    int rc = store_step_begin(t->db, step, err);
    for (int k = 0; k < N && !rc; k++) {
        const tasks_item *it = &t->train.items[idx[k / K]];
        char *text = NULL;
        size_t tl;
        if ((rc = tok_decode(t->tok, gc[k].tokens, gc[k].n_tokens, TOK_SKIP_SPECIAL, &text, &tl, err))) break;
        long long nums[TASKS_MAX_NUMS];
        rw_item ri = reward_item(it, nums, gc[k].n_tokens);
        double comp[RW_MAX];
        const double total = rw_registry_score(t->rw, &ri, text, comp);
        store_component comps[RW_MAX];
        char why[RW_MAX][RW_REASON_MAX], extracted[128];
        rw_registry_explain(t->rw, &ri, text, comp, why, extracted, sizeof extracted); /* for the viewer */
        for (int r = 0; r < nr; r++) comps[r] = (store_component){rw_registry_name(t->rw, r), comp[r], why[r]};
        store_rollout ro = {.prompt_id = it->id, .sample_index = gc[k].sample_index,
                            .prompt_text = t->ptrain[idx[k / K]].text, .completion_text = text,
                            .token_ids = gc[k].tokens, .logprobs = gc[k].logprobs, .n_tokens = gc[k].n_tokens,
                            .components = comps, .n_components = nr, .reward_total = total, .advantage = NAN,
                            .finish = gc[k].finish == GEN_FINISH_STOP ? STORE_FINISH_STOP : STORE_FINISH_LENGTH,
                            .extracted_answer = *extracted ? extracted : NULL, .gold_answer = it->answer};
        rc = store_add_rollout(t->db, &ro, err);
        ct->reward_sum += total, ct->reward_sq += total * total, ct->n++;
        ct->correct += is_correct(t, it, text);
        ct->len_sum += gc[k].n_tokens, ct->len_max = fmax(ct->len_max, gc[k].n_tokens);
        ct->truncated += gc[k].finish == GEN_FINISH_LENGTH;
        free(text);
    }
    if (rc) {
        store_step_abort(t->db);
        return rc;
    }
    store_step_metrics sm = store_metrics_unset();
    const double n = ct->n > 0 ? ct->n : 1, mean = ct->reward_sum / n;
    sm.reward_mean = mean;
    sm.reward_std = ct->n > 1 ? sqrt(fmax(0, (ct->reward_sq - n * mean * mean) / (n - 1))) : 0;
    sm.accuracy = ct->correct / n;
    sm.completion_len_mean = ct->len_sum / n;
    sm.completion_len_max = ct->len_max;
    sm.truncated_frac = ct->truncated / n;
    sm.tokens_per_s_sampling = gs->decode_tokens / fmax(1e-9, t_sample);
    sm.seconds_sampling = t_sample;
    sm.seconds_scoring = now_s() - t0;
    char mj[160];
    snprintf(mj, sizeof mj, "{\"kind\":\"traces\",\"prompts\":%d,\"chunk_prompts\":%d,\"samples_per_prompt\":%d}", n_prompts,
             t->cfg->generation_batch_size / K, K);
    return store_step_commit(t->db, step, &sm, mj, err);
}

/* Samples chunk c (prompts c*B ..) with seeds of (seed, 0, prompt id, j): the same traces whatever the
 * chunking, and stores it as step c + 1. */
static int traces_chunk(trainer *t, int64_t c, int B, traces_result *res, grpo_err *err) {
    const int K = t->cfg->num_generations;
    const size_t lo = (size_t)c * B, hi = lo + B < t->train.n ? lo + B : t->train.n;
    const int np = (int)(hi - lo), N = np * K;
    size_t *idx = malloc(np * sizeof *idx);
    const int **pp = malloc(np * sizeof *pp);
    int *lens = malloc(np * sizeof *lens);
    int64_t *ids = malloc(np * sizeof *ids);
    gen_completion *gc = calloc(N, sizeof *gc);
    int rc = GRPO_OK;
    if (!idx || !pp || !lens || !ids || !gc) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %d traces", N);
        goto out;
    }
    for (int i = 0; i < np; i++) {
        idx[i] = lo + i;
        pp[i] = t->ptrain[lo + i].ids;
        lens[i] = t->ptrain[lo + i].n;
        ids[i] = t->train.items[lo + i].id;
    }
    gen_params gp = run_gen_params(t, K, run_sampling(t->cfg, t->cfg->temperature), 0);
    gp.step = 0;
    gen_stats gs = {0};
    double t0 = now_s();
    if ((rc = gen_run(&t->model, pp, lens, ids, np, &gp, gc, &gs, err))) goto out;
    const double t_sample = now_s() - t0;
    chunk_tally ct = {0};
    if ((rc = store_chunk(t, c + 1, idx, np, gc, &gs, t_sample, &ct, err))) goto out;
    res->correct += (long long)ct.correct;
    res->tokens_per_s += (double)gs.decode_tokens; /* summed here, divided by the time at the end */
out:
    if (gc) gen_completions_free(gc, N);
    free(gc);
    free(idx);
    free(pp);
    free(lens);
    free(ids);
    return rc;
}

static int first_chunk_row(void *ctx, json_t *row) {
    json_t *b = json_object_get(row, "b"), *k = json_object_get(row, "k");
    ((long long *)ctx)[0] = json_is_integer(b) ? json_integer_value(b) : -1;
    ((long long *)ctx)[1] = json_is_integer(k) ? json_integer_value(k) : -1;
    return 1;
}

/* A resumed run must chunk as the stored one did, or chunks would be numbered differently. */
static int check_chunking(trainer *t, int B, int K, grpo_err *err) {
    long long got[2] = {-2, -2};
    const int64_t id = store_run_id(t->db);
    int rc = store_query(t->db,
                         "SELECT json_extract(metrics_json, '$.chunk_prompts') AS b, json_extract(metrics_json, "
                         "'$.samples_per_prompt') AS k FROM steps WHERE run_id=?1 AND step=1",
                         &id, 1, first_chunk_row, got, err);
    if (rc || got[0] < 0) return rc; /* nothing stored yet (or by an older grpo) */
    if (got[0] != B || got[1] != K)
        return grpo_errf(err, GRPO_EINVAL,
                         "--resume: the stored traces have %lld prompts per chunk and %lld samples per prompt, this config "
                         "%d and %d (keep generation_batch_size and num_generations, or start a new run_name)",
                         got[0], got[1], B, K);
    return GRPO_OK;
}

int distill_traces(const run_config *cfg, int resume, const train_log *log, traces_result *res, grpo_err *err) {
    trainer T = {.cfg = cfg, .log = log, .t_start = now_s()};
    trainer *t = &T;
    memset(res, 0, sizeof *res);
    const int K = cfg->num_generations;
    if (K < 1 || cfg->generation_batch_size < K || cfg->max_completion_length < 1)
        return grpo_errf(err, GRPO_EINVAL,
                         "num_generations (%d) must be at least 1 and generation_batch_size (%d) at least num_generations",
                         K, cfg->generation_batch_size);
    if (!(cfg->temperature >= 0)) return grpo_errf(err, GRPO_EINVAL, "temperature must be >= 0");
    const int B = cfg->generation_batch_size / K;
    int rc;
    const policy_backend *be = policy_backend_get("cpu", err);
    if (!be) return err ? err->code : GRPO_EUNSUPPORTED;
    if ((rc = open_run(t, res->db_path, sizeof res->db_path, err)) || (rc = load_data(t, err)) ||
        (rc = cache_prompts(t, &t->train, &t->ptrain, "train", err)) || (rc = load_model(t, &t->model, err)))
        goto done;
    t->model.backend = be;
    if ((rc = check_vocab(t, t->tok_dir, err))) goto done;
    t->n_eos = train_eos_ids(t->tok, &t->model, t->eos, (int)(sizeof t->eos / sizeof t->eos[0]));
    if ((rc = open_db(t, res->db_path, "traces", err))) goto done;
    int64_t last = -1;
    if (resume && ((rc = store_last_step(t->db, &last, err)) || (rc = check_chunking(t, B, K, err)))) goto done;
    if (!resume && (rc = store_truncate_after(t->db, -1, NULL, err))) goto done;
    const int64_t n_chunks = ((int64_t)t->train.n + B - 1) / B, c0 = last > 0 ? last : 0;
    res->chunks_resumed = c0;
    logf_(t, "traces %s: teacher %s (%.2fM parameters); %zu prompts x %d samples, %d prompts per chunk", t->run_dir,
          cfg->model, t->model.n_params / 1e6, t->train.n, K, B);
    if (c0) logf_(t, "resuming after chunk %lld of %lld", (long long)c0, (long long)n_chunks);
    double t0 = now_s();
    for (int64_t c = c0; c < n_chunks; c++) {
        if ((rc = traces_chunk(t, c, B, res, err))) goto done;
        res->chunks_done++;
        const double el = now_s() - t0;
        char eta[32];
        fmt_duration(el / (c + 1 - c0) * (n_chunks - c - 1), eta, sizeof eta);
        progress(t, "traces chunk %lld/%lld | %lld correct | %.0f tok/s | ETA %s", (long long)c + 1, (long long)n_chunks,
                 res->correct, res->tokens_per_s / fmax(1e-9, el), eta);
        if (cfg->logging_steps > 0 && (c + 1) % cfg->logging_steps == 0)
            logf_(t, "traces chunk %lld/%lld | %lld correct so far | %.1fs | ETA %s", (long long)c + 1,
                  (long long)n_chunks, res->correct, el, eta);
    }
    res->seconds = now_s() - t0;
    res->tokens_per_s = res->tokens_per_s / fmax(1e-9, res->seconds);
    res->prompts = (long long)t->train.n;
    res->samples = res->prompts * K;
done:
    trainer_free(t);
    return rc;
}

/* ---- SFT rows as student tokens ---- */

typedef struct {
    int *ids;      /* prompt then completion (then EOS), cut to max_length */
    int n, n_prompt;
} sft_seq;

/* Renders row's prompt turns with the student's chat template (the config's system prompt when the row
 * has none) and tokenizes prompt and completion; *seq->ids is NULL when nothing of the completion fits. */
static int tokenize_row(trainer *t, const sft_row *row, sft_seq *seq, grpo_err *err) {
    const run_config *c = t->cfg;
    memset(seq, 0, sizeof *seq);
    chat_msg *msgs = malloc((row->n_turns + 1) * sizeof *msgs);
    if (!msgs) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    size_t nm = 0;
    if (c->system_prompt[0] && strcmp(row->roles[0], "system")) msgs[nm++] = (chat_msg){"system", c->system_prompt};
    for (int i = 0; i < row->n_turns; i++) msgs[nm++] = (chat_msg){row->roles[i], row->contents[i]};
    chat_opts co = {.add_generation_prompt = 1};
    char *text = NULL;
    size_t len, np = 0, nc = 0;
    int *pids = NULL, *cids = NULL;
    int rc = chat_render(t->chat, msgs, nm, &co, &text, &len, err);
    free(msgs);
    if (!rc) rc = tok_encode(t->tok, text, len, TOK_SPECIAL, &pids, &np, err);
    /* completions are plain text (flags 0), as the cold start's solutions: <think> stays ordinary tokens */
    if (!rc) rc = tok_encode(t->tok, row->completion, strlen(row->completion), 0, &cids, &nc, err);
    free(text);
    if (rc) goto out;
    const size_t total = np + nc + (t->n_eos ? 1 : 0), keep = total < (size_t)c->max_length ? total : (size_t)c->max_length;
    if (keep <= np) goto out; /* the prompt fills max_length: nothing to learn */
    if (!(seq->ids = malloc(keep * sizeof(int)))) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(seq->ids, pids, np * sizeof(int));
    for (size_t i = np; i < keep; i++) seq->ids[i] = i - np < nc ? cids[i - np] : t->eos[0];
    seq->n = (int)keep;
    seq->n_prompt = (int)np;
out:
    free(pids);
    free(cids);
    return rc;
}

/* ---- SFT batches: rows in the cursor's order, up to sft_batch_size rows or sft_tokens_per_batch tokens ---- */

/* Takes the next batch's row indices into idx (*n of them); the cursor moves past them only. */
static int next_batch(tasks_cursor *cur, const tasks_dataset *ds, const sft_seq *seqs, const run_config *c, size_t *idx,
                      int *n, int *tokens, grpo_err *err) {
    const int max_rows = c->sft_tokens_per_batch > 0 ? (int)ds->n : c->sft_batch_size;
    *n = 0;
    *tokens = 0;
    while (*n < max_rows) {
        const int64_t e = cur->epoch, p = cur->pos;
        size_t i;
        int rc = tasks_cursor_next(cur, ds, 1, &i, err);
        if (rc) return rc;
        if (*n > 0 && c->sft_tokens_per_batch > 0 && *tokens + seqs[i].n > c->sft_tokens_per_batch) {
            cur->epoch = e, cur->pos = p; /* this row opens the next batch */
            break;
        }
        idx[(*n)++] = i;
        *tokens += seqs[i].n;
    }
    return GRPO_OK;
}

/* The number of optimizer steps of num_train_epochs epochs (else sft_steps). */
static int count_steps(const run_config *c, const tasks_dataset *ds, const sft_seq *seqs, size_t *idx, int64_t *out,
                       grpo_err *err) {
    if (c->num_train_epochs <= 0) {
        *out = c->sft_steps;
        return GRPO_OK;
    }
    tasks_cursor cur;
    tasks_cursor_init(&cur, (uint64_t)c->seed, 0, 0);
    int64_t steps = 0;
    int rc = GRPO_OK, n, tok;
    while (!rc && cur.epoch + (double)cur.pos / ds->n < c->num_train_epochs - 1e-9) {
        rc = next_batch(&cur, ds, seqs, c, idx, &n, &tok, err);
        steps++;
    }
    tasks_cursor_free(&cur);
    *out = steps;
    return rc;
}

/* ---- the SFT loop ---- */

typedef struct {
    sft_seq *seqs;
    size_t n;
    tasks_dataset ds;   /* n empty items: what the cursor walks */
    size_t *idx;
    int *toks, *lens;
    float *mask;
    size_t cap;
    gkd_targets tg;     /* distill "gkd": the teacher's top-k for the batch */
} sft_data;

static void sft_data_free(sft_data *d) {
    for (size_t i = 0; i < d->n; i++) free(d->seqs[i].ids);
    free(d->seqs);
    free(d->idx);
    free(d->toks);
    free(d->lens);
    free(d->mask);
    gkd_targets_free(&d->tg);
}

/* Loads cfg->sft_dataset and tokenizes it; rows whose completion does not fit are dropped (counted). */
static int sft_prepare(trainer *t, sft_data *d, long long *rows, grpo_err *err) {
    sft_rows R;
    int rc = sft_rows_load(&R, t->cfg->sft_dataset, err);
    if (rc) return rc;
    d->seqs = calloc(R.n, sizeof *d->seqs);
    d->idx = malloc(R.n * sizeof *d->idx);
    d->lens = malloc(R.n * sizeof *d->lens);
    if (!d->seqs || !d->idx || !d->lens) rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %zu SFT rows", R.n);
    long long dropped = 0;
    for (size_t i = 0; i < R.n && !rc; i++) {
        sft_seq s;
        if ((rc = tokenize_row(t, &R.rows[i], &s, err))) {
            grpo_err_prefix(err, "%s:%d", t->cfg->sft_dataset, R.rows[i].line);
            break;
        }
        if (!s.ids) dropped++;
        else d->seqs[d->n++] = s;
    }
    *rows = (long long)R.n;
    sft_rows_free(&R);
    if (!rc && d->n == 0)
        rc = grpo_errf(err, GRPO_EINVAL, "%s: no row has a completion token within max_length %d", t->cfg->sft_dataset,
                       t->cfg->max_length);
    if (!rc && dropped) logf_(t, "sft: %lld row(s) dropped: the prompt alone fills max_length %d", dropped, t->cfg->max_length);
    d->ds.n = d->n;
    return rc;
}

/* Packs batch rows idx[0..n-1] into d->toks/lens/mask (loss on completion targets only). */
static int pack_batch(sft_data *d, int n, int tokens, grpo_err *err) {
    if ((size_t)tokens > d->cap) {
        int *nt = realloc(d->toks, tokens * sizeof *nt);
        if (nt) d->toks = nt;
        float *nm = nt ? realloc(d->mask, tokens * sizeof *nm) : NULL;
        if (nm) d->mask = nm;
        if (!nt || !nm) return grpo_errf(err, GRPO_ENOMEM, "out of memory for a batch of %d tokens", tokens);
        d->cap = (size_t)tokens;
    }
    int off = 0, moff = 0;
    for (int k = 0; k < n; k++) {
        const sft_seq *s = &d->seqs[d->idx[k]];
        memcpy(d->toks + off, s->ids, s->n * sizeof(int));
        d->lens[k] = s->n;
        /* target j predicts token j + 1: completion tokens are targets n_prompt - 1 .. n - 2 */
        for (int j = 0; j + 1 < s->n; j++) d->mask[moff + j] = j + 1 >= s->n_prompt;
        off += s->n;
        moff += s->n - 1;
    }
    return GRPO_OK;
}

/* One optimizer step on the next batch, stored as steps row step + 1. */
static int sft_step(trainer *t, sft_data *d, const run_config *sched, int64_t step, double *loss_out, double *tps,
                    grpo_err *err) {
    const run_config *c = t->cfg;
    int n, tokens, rc;
    double t0 = now_s();
    if ((rc = next_batch(&t->cursor, &d->ds, d->seqs, c, d->idx, &n, &tokens, err)) || (rc = pack_batch(d, n, tokens, err)))
        return rc;
    policy_batch b = {.n_seq = n, .seq_len = d->lens, .tokens = d->toks};
    double loss;
    policy_zero_grad(&t->model);
    if (t->have_teacher) { /* gkd: the forward KL to the teacher's top-k over the completion tokens */
        if ((rc = gkd_teacher_targets(&t->teacher, &b, d->mask, c->distill_top_k, 0, &d->tg, err)) ||
            (rc = gkd_step(&t->model, &b, d->mask, &d->tg, 0, 1, &loss, err)))
            return rc;
    } else if ((rc = policy_ce_step(&t->model, &b, d->mask, 1, &loss, err))) return rc;
    const double gn = policy_clip_grad_norm(&t->model, c->max_grad_norm);
    const policy_adamw h = {.lr = (float)lr_at(sched, step), .beta1 = (float)c->adam_beta1, .beta2 = (float)c->adam_beta2,
                            .eps = (float)c->adam_epsilon, .weight_decay = (float)c->weight_decay};
    const int skip = !isfinite(loss) || !isfinite(gn);
    if (!skip && (rc = policy_adamw_step(&t->model, &h, err))) return rc;
    const double secs = now_s() - t0;
    *loss_out = loss;
    *tps = tokens / fmax(1e-9, secs);
    store_step_metrics sm = store_metrics_unset();
    sm.loss = loss;
    sm.tokens_per_s_training = *tps;
    sm.seconds_training = secs;
    char mj[320];
    snprintf(mj, sizeof mj, "{\"kind\":\"sft\",\"lr\":%.6g,\"grad_norm\":%.6g,\"rows\":%d,\"tokens\":%d,\"epoch\":%.4f,\"skipped_updates\":%d%s}",
             h.lr, gn, n, tokens, t->cursor.epoch + (double)t->cursor.pos / d->n, skip,
             t->have_teacher ? ",\"loss_kind\":\"gkd_forward_kl\"" : "");
    if ((rc = store_step_begin(t->db, step + 1, err))) return rc;
    return store_step_commit(t->db, step + 1, &sm, mj, err);
}

/* distill "gkd": the frozen teacher on the CPU (its forward only), one vocabulary with the student, and a
 * student backend with a backward over the logits. */
static int gkd_setup(trainer *t, grpo_err *err) {
    const run_config *c = t->cfg;
    if (!strcmp(c->distill, "on_policy"))
        return grpo_errf(err, GRPO_EINVAL,
                         "distill \"on_policy\" samples from the student: it runs in grpo train; grpo sft takes \"gkd\"");
    if (strcmp(c->distill, "gkd")) return GRPO_OK;
    if (!t->model.backend->backward_logits)
        return grpo_errf(err, GRPO_EUNSUPPORTED,
                         "distill \"gkd\" with --device %s is not supported yet (the %s backend has no backward over the "
                         "logits); run it with --device cpu",
                         t->model.backend->name, t->model.backend->name);
    int rc = distill_load_teacher(t, &policy_backend_cpu, err);
    if (rc) return rc;
    logf_(t, "gkd: teacher %s (%.2fM parameters), forward KL over its top-%d ids plus a tail bucket", c->teacher_model,
          t->teacher.n_params / 1e6, c->distill_top_k);
    return GRPO_OK;
}

/* Resumes from the newest checkpoint (resume) or loads the student; enables training on the CPU backend. */
static int sft_model(trainer *t, int resume, grpo_err *err) {
    const policy_backend *be = policy_backend_get(t->cfg->device[0] ? t->cfg->device : "cpu", err);
    if (!be) return err ? err->code : GRPO_EUNSUPPORTED;
    char ck[4300] = "";
    int rc;
    if (resume && (rc = ckpt_find_latest(t->run_dir, ck, sizeof ck, err))) return rc;
    if (ck[0]) {
        ckpt_state cst = {0};
        if ((rc = ckpt_load(ck, &t->model, &cst, err))) return rc;
        t->step0 = cst.step;
        tasks_cursor_init(&t->cursor, (uint64_t)t->cfg->seed, cst.cursor_epoch, cst.cursor_pos);
        ckpt_state_free(&cst);
        logf_(t, "resumed from %s (step %lld)", ck, (long long)t->step0);
    } else {
        if ((rc = load_model(t, &t->model, err))) return rc;
        tasks_cursor_init(&t->cursor, (uint64_t)t->cfg->seed, 0, 0);
    }
    t->model.backend = be;
    if ((rc = policy_enable_training(&t->model, err)) || (rc = check_vocab(t, t->tok_dir, err))) return rc;
    t->n_eos = train_eos_ids(t->tok, &t->model, t->eos, (int)(sizeof t->eos / sizeof t->eos[0]));
    return gkd_setup(t, err);
}

int distill_sft(const run_config *cfg, int resume, const train_log *log, sft_result *res, grpo_err *err) {
    trainer T = {.cfg = cfg, .log = log, .t_start = now_s()};
    trainer *t = &T;
    memset(res, 0, sizeof *res);
    res->accuracy_before = res->accuracy_after = -1;
    sft_data d = {0};
    run_config *sched = malloc(sizeof *sched);
    if (!sched) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    int rc;
    if (!cfg->sft_dataset[0]) {
        rc = grpo_errf(err, GRPO_EINVAL, "grpo sft needs sft_dataset (a JSONL of messages, prompt/completion or generations rows)");
        goto done;
    }
    if (cfg->sft_batch_size < 1 && cfg->sft_tokens_per_batch < 1) {
        rc = grpo_errf(err, GRPO_EINVAL, "sft_batch_size or sft_tokens_per_batch must be positive");
        goto done;
    }
    if ((rc = open_run(t, res->db_path, sizeof res->db_path, err)) || (rc = sft_model(t, resume, err)) ||
        (rc = sft_prepare(t, &d, &res->rows, err)))
        goto done;
    /* the held-out problems of the task (dataset, eval_dataset or eval_size): greedy accuracy */
    if (cfg->dataset[0] && ((rc = load_data(t, err)) || (rc = cache_prompts(t, &t->eval, &t->peval, "eval", err)))) goto done;
    int64_t total;
    if ((rc = count_steps(cfg, &d.ds, d.seqs, d.idx, &total, err))) goto done;
    res->total_steps = total;
    *sched = *cfg;
    sched->learning_rate = cfg->sft_learning_rate;
    sched->max_steps = (int)total;
    if ((rc = open_db(t, res->db_path, "sft", err)) || (rc = store_truncate_after(t->db, t->step0, NULL, err))) goto done;
    logf_(t, "sft %s: %s, %.2fM parameters; %zu sequences from %lld rows of %s; %lld steps", t->run_dir,
          policy_arch_name(t->model.cfg.arch), t->model.n_params / 1e6, d.n, res->rows, cfg->sft_dataset,
          (long long)total);
    if ((rc = evaluate(t, t->step0, &res->accuracy_before, err))) goto done;
    if (res->accuracy_before >= 0)
        logf_(t, "held-out accuracy at step %lld: %.3f (%zu problems, greedy)", (long long)t->step0, res->accuracy_before,
              t->eval.n);
    double t0 = now_s(), ema = -1, tps_sum = 0;
    int64_t step;
    for (step = t->step0; step < total; step++) {
        double loss, tps;
        if ((rc = sft_step(t, &d, sched, step, &loss, &tps, err))) goto done;
        ema = ema < 0 ? loss : 0.9 * ema + 0.1 * loss;
        tps_sum += tps;
        res->steps_done = step + 1;
        char eta[32];
        fmt_duration((now_s() - t0) / (step + 1 - t->step0) * (total - step - 1), eta, sizeof eta);
        progress(t, "sft %lld/%lld  loss %.4f  %.0f tok/s  ETA %s", (long long)step + 1, (long long)total, ema, tps, eta);
        if (cfg->logging_steps > 0 && ((step + 1) % (cfg->logging_steps * 10) == 0 || step + 1 == total))
            logf_(t, "sft step %lld/%lld | loss %.4f | %.0f tok/s | ETA %s", (long long)step + 1, (long long)total, ema, tps, eta);
        const int last = step + 1 == total;
        if ((cfg->save_steps > 0 && (step + 1) % cfg->save_steps == 0) || last)
            if ((rc = save_checkpoint(t, step + 1, err))) goto done;
        if (cfg->eval_steps > 0 && (step + 1) % cfg->eval_steps == 0 && !last) {
            double a;
            if ((rc = evaluate(t, step + 1, &a, err))) goto done;
            logf_(t, "held-out accuracy at step %lld: %.3f", (long long)step + 1, a);
        }
    }
    res->tokens_per_s = step > t->step0 ? tps_sum / (double)(step - t->step0) : 0;
    if ((rc = evaluate(t, step, &res->accuracy_after, err))) goto done;
    if (res->accuracy_after >= 0)
        logf_(t, "held-out accuracy at step %lld: %.3f (%zu problems, greedy)", (long long)step, res->accuracy_after, t->eval.n);
    res->eval_n = (int)t->eval.n;
    ckpt_find_latest(t->run_dir, res->last_checkpoint, sizeof res->last_checkpoint, NULL);
done:
    free(sched);
    sft_data_free(&d);
    trainer_free(t);
    return rc;
}

/* ---- a fresh student directory ---- */

int distill_init_student(const char *tokenizer_dir, const char *out_dir, int hidden, int layers, uint64_t seed,
                         grpo_err *err) {
    tok_tokenizer *tok = NULL;
    policy_model m = {0};
    policy_config pc;
    int rc = tok_load(&tok, tokenizer_dir, err);
    if (rc) return rc;
    if ((rc = policy_config_preset(&pc, POLICY_ARCH_QWEN2, "tiny", err))) goto out;
    /* the tiny preset scaled down: head_dim stays 32, one KV head per two query heads, MLP 3 x hidden */
    const tok_info *ti = tok_get_info(tok);
    pc.hidden_size = hidden;
    pc.num_hidden_layers = layers;
    pc.intermediate_size = 3 * hidden;
    pc.num_attention_heads = hidden / pc.head_dim > 0 ? hidden / pc.head_dim : 1;
    pc.num_key_value_heads = pc.num_attention_heads > 1 ? pc.num_attention_heads / 2 : 1;
    pc.vocab_size = ti->vocab_size;
    pc.bos_token_id = ti->bos_id;
    pc.n_eos = 0;
    for (int i = 0; i < ti->n_eos && i < POLICY_MAX_EOS; i++) pc.eos_token_ids[pc.n_eos++] = ti->eos_ids[i];
    if ((rc = policy_build(&m, &pc, err))) goto out;
    policy_init_random(&m, seed);
    if ((rc = ckpt_export_model(&m, out_dir, "float32", 1, err))) goto out;
    /* the tokenizer files travel with the model, so that the directory is a complete HF model */
    static const char *const FILES[] = {"tokenizer.json", "tokenizer_config.json", "generation_config.json"};
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0] && !rc; i++) {
        char src[4300], dst[4300], *data = NULL;
        size_t len;
        snprintf(src, sizeof src, "%s/%s", tokenizer_dir, FILES[i]);
        snprintf(dst, sizeof dst, "%s/%s", out_dir, FILES[i]);
        if (!fs_exists(src)) continue;
        if (!(rc = fs_read_file(src, &data, &len, err))) rc = fs_write_file_atomic(dst, data, len, err);
        free(data);
    }
out:
    policy_free(&m);
    tok_free(tok);
    return rc;
}
