/* rollout/generate.c: prefill once per prompt, decode all live completions together. */
#include "generate.h"
#include "generate_internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

gen_params gen_defaults(void) {
    return (gen_params){.n = 1, .max_new_tokens = 256, .sampling = smp_defaults(), .share_prefix = 1};
}

uint64_t gen_seed(uint64_t seed, int64_t step, int64_t prompt_id, int j) {
    uint64_t h = rng_mix64(seed ^ 0x5EEDULL);
    h = rng_mix64(h ^ (uint64_t)step);
    h = rng_mix64(h ^ (uint64_t)prompt_id);
    return rng_mix64(h ^ (uint64_t)(uint32_t)j);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Rows of a completion's own block for prompt i: its new tokens, and the prompt too without sharing. */
static int own_cap(const gen_params *p, const int *prompt_lens, int i) {
    return p->share_prefix ? p->max_new_tokens : prompt_lens[i] + p->max_new_tokens;
}

/* Floats of an own block of cap rows in the arena: its K and V, rounded up to 16 floats so that
 * every block starts on a 64-byte boundary of the arena. */
static size_t own_block_floats(const policy_model *m, int cap) { return (policy_kv_block_floats(m, cap) + 15) & ~(size_t)15; }

size_t gen_kv_bytes(const policy_model *m, const int *prompt_lens, int n_prompts, const gen_params *p) {
    size_t floats = 0;
    for (int i = 0; i < n_prompts; i++) {
        if (p->share_prefix) floats += policy_kv_block_floats(m, prompt_lens[i]);
        floats += (size_t)p->n * own_block_floats(m, own_cap(p, prompt_lens, i));
    }
    return floats * sizeof(float);
}

/* One completion in flight. */
typedef struct {
    gen_completion *out;
    rng_state rng;
    policy_kv_block own;
    const policy_kv_block *prefix;
    int prefix_len;
    int own_used;      /* rows of own already holding K/V */
    int done;
} live_seq;

static int block_alloc(policy_kv_block *b, const policy_model *m, int cap) {
    size_t half = policy_kv_block_floats(m, cap) / 2;
    b->cap = cap;
    b->k = malloc((half ? half : 1) * 2 * sizeof(float));
    b->v = b->k ? b->k + half : NULL;
    return b->k ? 0 : -1;
}

/* One allocation for every completion's own KV block (floats of them). Decode reads all of it
 * every step and first-touches it during the run: in 2 MiB pages (where transparent huge pages
 * are on for madvise) that is a few page faults instead of one per 4 KiB, and far fewer TLB
 * misses for the attention's scattered row streams. */
static float *kv_arena_alloc(size_t floats) {
    enum { HUGE_PAGE = 2 << 20 };
    size_t bytes = (floats ? floats : 1) * sizeof(float);
    if (bytes < HUGE_PAGE) return malloc(bytes);
    bytes = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    float *a = aligned_alloc(HUGE_PAGE, bytes);
#ifdef MADV_HUGEPAGE
    if (a) madvise(a, bytes, MADV_HUGEPAGE); /* advice only: without it the pages are 4 KiB */
#endif
    return a;
}

static int ends_with_stop(const gen_params *p, const gen_completion *c) {
    if (!p->n_stop || !p->detok) return 0;
    char *text = p->detok(p->detok_ctx, c->tokens, c->n_tokens);
    if (!text) return 0;
    int hit = 0;
    for (int i = 0; i < p->n_stop && !hit; i++) hit = p->stop[i][0] && strstr(text, p->stop[i]) != NULL;
    free(text);
    return hit;
}

int gen_accept(const gen_params *p, gen_completion *c, int id, float lp, float ent) {
    c->tokens[c->n_tokens] = id;
    c->logprobs[c->n_tokens] = lp;
    c->entropy_sum += ent;
    c->n_tokens++;
    for (int e = 0; e < p->n_eos; e++)
        if (id == p->eos_ids[e]) {
            c->finish = GEN_FINISH_STOP;
            return 1;
        }
    if (ends_with_stop(p, c)) {
        c->finish = GEN_FINISH_STOP;
        return 1;
    }
    if (c->n_tokens >= p->max_new_tokens) {
        c->finish = GEN_FINISH_LENGTH;
        return 1;
    }
    return 0;
}

static void accept_token(const gen_params *p, live_seq *s, int id, float lp, float ent) {
    if (gen_accept(p, s->out, id, lp, ent)) s->done = 1;
}

int gen_check(const policy_model *m, const int *const *prompts, const int *prompt_lens, int n_prompts,
              const gen_params *p, grpo_err *err) {
    const int V = m->cfg.vocab_size;
    if (n_prompts <= 0 || p->n <= 0 || p->max_new_tokens <= 0)
        return grpo_errf(err, GRPO_EINVAL, "generation needs at least one prompt, n >= 1 and max_new_tokens >= 1");
    for (int i = 0; i < n_prompts; i++) {
        if (prompt_lens[i] < 1) return grpo_errf(err, GRPO_EINVAL, "prompt %d is empty", i);
        if (prompt_lens[i] + p->max_new_tokens > m->cfg.max_position_embeddings)
            return grpo_errf(err, GRPO_EINVAL, "prompt %d: %d tokens + max_new_tokens %d exceed max_position_embeddings %d",
                             i, prompt_lens[i], p->max_new_tokens, m->cfg.max_position_embeddings);
        for (int t = 0; t < prompt_lens[i]; t++)
            if (prompts[i][t] < 0 || prompts[i][t] >= V)
                return grpo_errf(err, GRPO_EINVAL, "prompt %d: token id %d at position %d is outside the vocabulary (0..%d)",
                                 i, prompts[i][t], t, V - 1);
    }
    return GRPO_OK;
}

/* Everything one gen_run call allocates; gen_work_free releases whatever was made. */
typedef struct {
    int G, total, maxb, nbuf;
    policy_kv_block *pblocks;     /* [n_prompts] shared prompt blocks */
    live_seq *seqs;               /* [total] */
    float *arena;                 /* the completions' own KV blocks, end to end */
    float *logits;                /* [nbuf, V] */
    int *rows, *toks, *plen, *ostart, *live, *drawn;
    float *drawn_lp, *drawn_ent;
    const policy_kv_block **pref;
    policy_kv_block **own;
    smp_token *work;              /* [threads, V] sampler scratch */
} gen_work;

static void gen_work_free(gen_work *w, int n_prompts) {
    if (w->pblocks)
        for (int i = 0; i < n_prompts; i++) free(w->pblocks[i].k);
    free(w->arena), free(w->pblocks), free(w->seqs), free(w->logits), free(w->rows), free(w->toks), free(w->plen);
    free(w->ostart), free(w->live), free(w->drawn), free(w->drawn_lp), free(w->drawn_ent), free(w->pref), free(w->own);
    free(w->work);
}

/* Allocates the buffers and sets up every completion: its output arrays, its generator seeded from
 * (seed, step, prompt, j), its own KV block in the arena. -1 when memory runs out. */
static int gen_work_build(gen_work *w, policy_model *m, const int *prompt_lens, const int64_t *prompt_ids, int n_prompts,
                          const gen_params *p, gen_completion *out) {
    const int V = m->cfg.vocab_size, G = p->n, total = n_prompts * G;
    memset(w, 0, sizeof *w);
    memset(out, 0, (size_t)total * sizeof *out); /* so that a failure below frees only what was made */
    w->G = G, w->total = total, w->maxb = p->max_batch > 0 ? p->max_batch : total;
    w->nbuf = w->maxb > n_prompts ? w->maxb : n_prompts;
    w->pblocks = calloc((size_t)n_prompts, sizeof *w->pblocks);
    w->seqs = calloc((size_t)total, sizeof *w->seqs);
    /* own blocks end to end in one arena, each a multiple of 16 floats long */
    size_t arena_floats = 0;
    for (int i = 0; i < n_prompts; i++) arena_floats += (size_t)G * own_block_floats(m, own_cap(p, prompt_lens, i));
    float *next_block = w->arena = kv_arena_alloc(arena_floats);
    if (!w->pblocks || !w->seqs || !w->arena) return -1;
    for (int i = 0; i < n_prompts; i++)
        for (int j = 0; j < G; j++) {
            live_seq *s = &w->seqs[i * G + j];
            gen_completion *c = &out[i * G + j];
            c->prompt_index = i;
            c->sample_index = j;
            c->tokens = malloc((size_t)p->max_new_tokens * sizeof(int));
            c->logprobs = malloc((size_t)p->max_new_tokens * sizeof(float));
            s->out = c;
            rng_seed(&s->rng, gen_seed(p->seed, p->step, prompt_ids ? prompt_ids[i] : i, j));
            const int cap = own_cap(p, prompt_lens, i);
            s->own = (policy_kv_block){.k = next_block, .v = next_block + policy_kv_block_floats(m, cap) / 2, .cap = cap};
            next_block += own_block_floats(m, cap);
            if (!c->tokens || !c->logprobs) return -1;
        }
    const size_t nb = (size_t)w->nbuf;
    w->logits = malloc(nb * V * sizeof(float));
    w->rows = malloc(nb * sizeof(int)), w->toks = malloc(nb * sizeof(int));
    w->plen = calloc(nb, sizeof(int)), w->ostart = calloc(nb, sizeof(int));
    w->live = malloc((size_t)total * sizeof(int)), w->drawn = malloc(nb * sizeof(int));
    w->drawn_lp = malloc(nb * sizeof(float)), w->drawn_ent = malloc(nb * sizeof(float));
    w->pref = calloc(nb, sizeof *w->pref), w->own = calloc(nb, sizeof *w->own);
    w->work = malloc((size_t)omp_get_max_threads() * V * sizeof *w->work);
    return w->logits && w->rows && w->toks && w->plen && w->ostart && w->live && w->pref && w->own && w->work &&
                   w->drawn && w->drawn_lp && w->drawn_ent
               ? 0
               : -1;
}

/* Prefill: each prompt once (sharing), or once per completion (no sharing); then each completion's
 * first token, drawn from its prompt's last logits. */
static int gen_prefill(gen_work *w, policy_model *m, const int *const *prompts, const int *prompt_lens, int n_prompts,
                       const gen_params *p, gen_stats *st, grpo_err *err) {
    const int V = m->cfg.vocab_size, G = w->G, n_units = p->share_prefix ? n_prompts : w->total;
    for (int u = 0; u < n_units; u++) {
        const int i = p->share_prefix ? u : u / G;
        policy_kv_block *blk = p->share_prefix ? &w->pblocks[i] : &w->seqs[u].own;
        if (p->share_prefix && block_alloc(blk, m, prompt_lens[i])) return GRPO_ENOMEM;
        int r = prompt_lens[i], zero = 0;
        policy_step step = {.n_seq = 1, .rows = &r, .tokens = prompts[i], .prefix = NULL, .prefix_len = &zero,
                            .own = &blk, .own_start = &zero};
        int rc = policy_forward_step(m, &step, w->logits, err);
        if (rc) return rc;
        st->prefill_tokens += (size_t)r;
        /* the first token of each completion that reads this prefill */
        for (int j = p->share_prefix ? 0 : u % G; j < (p->share_prefix ? G : u % G + 1); j++) {
            live_seq *s = &w->seqs[i * G + j];
            s->prefix = p->share_prefix ? &w->pblocks[i] : NULL;
            s->prefix_len = p->share_prefix ? prompt_lens[i] : 0;
            s->own_used = p->share_prefix ? 0 : prompt_lens[i];
            float lp, ent;
            int id = smp_sample(&p->sampling, w->logits, V, NULL, 0, &s->rng, w->work, &lp, &ent);
            accept_token(p, s, id, lp, ent);
        }
    }
    return GRPO_OK;
}

/* One decode step of live completions live[b0 .. b0+nb): forward, draw in parallel (each completion
 * has its own generator), then accept in order (stop-string checks decode text, and the
 * detokenizer is not required to be thread-safe). */
static int gen_decode_batch(gen_work *w, policy_model *m, const gen_params *p, int b0, int nb, grpo_err *err) {
    const int V = m->cfg.vocab_size;
    for (int b = 0; b < nb; b++) {
        live_seq *s = &w->seqs[w->live[b0 + b]];
        w->rows[b] = 1;
        w->toks[b] = s->out->tokens[s->out->n_tokens - 1];
        w->pref[b] = s->prefix;
        w->plen[b] = s->prefix_len;
        w->own[b] = &s->own;
        w->ostart[b] = s->own_used;
    }
    policy_step step = {.n_seq = nb, .rows = w->rows, .tokens = w->toks, .prefix = w->pref, .prefix_len = w->plen,
                        .own = w->own, .own_start = w->ostart};
    int rc = policy_forward_step(m, &step, w->logits, err);
    if (rc) return rc;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < nb; b++) {
        live_seq *s = &w->seqs[w->live[b0 + b]];
        const gen_completion *c = s->out;
        w->drawn[b] = smp_sample(&p->sampling, w->logits + (size_t)b * V, V, c->tokens, c->n_tokens, &s->rng,
                                 w->work + (size_t)omp_get_thread_num() * V, &w->drawn_lp[b], &w->drawn_ent[b]);
    }
    for (int b = 0; b < nb; b++) {
        live_seq *s = &w->seqs[w->live[b0 + b]];
        s->own_used++;
        accept_token(p, s, w->drawn[b], w->drawn_lp[b], w->drawn_ent[b]);
    }
    return GRPO_OK;
}

/* Decode: every live completion advances one token per step, max_batch at a time, until all stop. */
static int gen_decode(gen_work *w, policy_model *m, const gen_params *p, gen_stats *st, grpo_err *err) {
    for (;;) {
        int n_live = 0;
        for (int k = 0; k < w->total; k++)
            if (!w->seqs[k].done) w->live[n_live++] = k;
        if (n_live == 0) return GRPO_OK;
        for (int b0 = 0; b0 < n_live; b0 += w->maxb) {
            const int nb = n_live - b0 < w->maxb ? n_live - b0 : w->maxb;
            int rc = gen_decode_batch(w, m, p, b0, nb, err);
            if (rc) return rc;
            st->decode_tokens += (size_t)nb;
        }
    }
}

int gen_run(policy_model *m, const int *const *prompts, const int *prompt_lens, const int64_t *prompt_ids,
            int n_prompts, const gen_params *p, gen_completion *out, gen_stats *stats, grpo_err *err) {
    const int G = p->n, total = n_prompts * G;
    gen_stats st = {0};
    int rc = gen_check(m, prompts, prompt_lens, n_prompts, p, err);
    if (rc || n_prompts <= 0 || G <= 0) return rc; /* (the second test is gen_check's, for the compiler) */
#ifdef GRPO_HAVE_CUDA
    if (m->backend == &policy_backend_cuda) /* on the device, over the learner's bf16 weights */
        return gen_run_cuda(m, prompts, prompt_lens, prompt_ids, n_prompts, p, out, stats, err);
#endif
    st.kv_bytes = gen_kv_bytes(m, prompt_lens, n_prompts, p);
    if (p->kv_budget_bytes && st.kv_bytes > p->kv_budget_bytes)
        return grpo_errf(err, GRPO_ENOMEM,
                         "KV cache for %d prompts x %d completions x %d new tokens needs %.1f MiB, over the budget of %.1f MiB",
                         n_prompts, G, p->max_new_tokens, st.kv_bytes / 1048576.0, p->kv_budget_bytes / 1048576.0);
    gen_work w;
    if (gen_work_build(&w, m, prompt_lens, prompt_ids, n_prompts, p, out)) rc = GRPO_ENOMEM;
    double t0 = now_s();
    if (!rc) rc = gen_prefill(&w, m, prompts, prompt_lens, n_prompts, p, &st, err);
    st.prefill_s = now_s() - t0;
    t0 = now_s();
    if (!rc) rc = gen_decode(&w, m, p, &st, err);
    st.decode_s = now_s() - t0;
    if (rc == GRPO_ENOMEM && (!err || !err->msg[0] || err->code != GRPO_ENOMEM))
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for generation (%.1f MiB of KV cache)", st.kv_bytes / 1048576.0);
    gen_work_free(&w, n_prompts);
    if (rc) gen_completions_free(out, total);
    if (stats) *stats = st;
    return rc;
}

void gen_completions_free(gen_completion *c, int n) {
    for (int i = 0; i < n; i++) {
        free(c[i].tokens);
        free(c[i].logprobs);
        c[i].tokens = NULL;
        c[i].logprobs = NULL;
    }
}
