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

int gen_run(policy_model *m, const int *const *prompts, const int *prompt_lens, const int64_t *prompt_ids,
            int n_prompts, const gen_params *p, gen_completion *out, gen_stats *stats, grpo_err *err) {
    const int V = m->cfg.vocab_size, G = p->n, total = n_prompts * G;
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

    policy_kv_block *pblocks = calloc((size_t)n_prompts, sizeof *pblocks);
    live_seq *seqs = calloc((size_t)total, sizeof *seqs);
    float *logits = NULL;
    smp_token *work = NULL;
    int maxb = p->max_batch > 0 ? p->max_batch : total;
    int *rows = NULL, *toks = NULL, *plen = NULL, *ostart = NULL, *live = NULL, *drawn = NULL;
    float *drawn_lp = NULL, *drawn_ent = NULL;
    const policy_kv_block **pref = NULL;
    policy_kv_block **own = NULL;
    /* own blocks end to end in one arena, each a multiple of 16 floats long */
    size_t arena_floats = 0;
    for (int i = 0; i < n_prompts; i++) arena_floats += (size_t)G * own_block_floats(m, own_cap(p, prompt_lens, i));
    float *arena = kv_arena_alloc(arena_floats), *next_block = arena;
    if (!pblocks || !seqs || !arena) goto oom;

    for (int i = 0; i < n_prompts; i++)
        for (int j = 0; j < G; j++) {
            live_seq *s = &seqs[i * G + j];
            gen_completion *c = &out[i * G + j];
            memset(c, 0, sizeof *c);
            c->prompt_index = i;
            c->sample_index = j;
            c->tokens = malloc((size_t)p->max_new_tokens * sizeof(int));
            c->logprobs = malloc((size_t)p->max_new_tokens * sizeof(float));
            s->out = c;
            rng_seed(&s->rng, gen_seed(p->seed, p->step, prompt_ids ? prompt_ids[i] : i, j));
            const int cap = own_cap(p, prompt_lens, i);
            s->own = (policy_kv_block){.k = next_block, .v = next_block + policy_kv_block_floats(m, cap) / 2, .cap = cap};
            next_block += own_block_floats(m, cap);
            if (!c->tokens || !c->logprobs) goto oom;
        }
    int nbuf = maxb > n_prompts ? maxb : n_prompts;
    logits = malloc((size_t)nbuf * V * sizeof(float));
    rows = malloc((size_t)nbuf * sizeof(int));
    toks = malloc((size_t)nbuf * sizeof(int));
    plen = calloc((size_t)nbuf, sizeof(int));
    ostart = calloc((size_t)nbuf, sizeof(int));
    live = malloc((size_t)total * sizeof(int));
    drawn = malloc((size_t)nbuf * sizeof(int));
    drawn_lp = malloc((size_t)nbuf * sizeof(float));
    drawn_ent = malloc((size_t)nbuf * sizeof(float));
    pref = calloc((size_t)nbuf, sizeof *pref);
    own = calloc((size_t)nbuf, sizeof *own);
    work = malloc((size_t)omp_get_max_threads() * V * sizeof *work);
    if (!logits || !rows || !toks || !plen || !ostart || !live || !pref || !own || !work || !drawn || !drawn_lp || !drawn_ent) goto oom;

    /* ---- prefill: each prompt once (sharing), or once per completion (no sharing) ---- */
    double t0 = now_s();
    const int n_units = p->share_prefix ? n_prompts : total;
    for (int u = 0; u < n_units; u++) {
        const int i = p->share_prefix ? u : u / G;
        policy_kv_block *blk = p->share_prefix ? &pblocks[i] : &seqs[u].own;
        if (p->share_prefix && block_alloc(blk, m, prompt_lens[i])) goto oom;
        int r = prompt_lens[i], zero = 0;
        policy_step step = {.n_seq = 1, .rows = &r, .tokens = prompts[i], .prefix = NULL, .prefix_len = &zero,
                            .own = &blk, .own_start = &zero};
        if ((rc = policy_forward_step(m, &step, logits, err))) goto done;
        st.prefill_tokens += (size_t)r;
        /* the first token of each completion that reads this prefill */
        for (int j = p->share_prefix ? 0 : u % G; j < (p->share_prefix ? G : u % G + 1); j++) {
            live_seq *s = &seqs[i * G + j];
            s->prefix = p->share_prefix ? &pblocks[i] : NULL;
            s->prefix_len = p->share_prefix ? prompt_lens[i] : 0;
            s->own_used = p->share_prefix ? 0 : prompt_lens[i];
            float lp, ent;
            int id = smp_sample(&p->sampling, logits, V, NULL, 0, &s->rng, work, &lp, &ent);
            accept_token(p, s, id, lp, ent);
        }
    }
    st.prefill_s = now_s() - t0;

    /* ---- decode: every live completion advances one token per step ---- */
    t0 = now_s();
    for (;;) {
        int n_live = 0;
        for (int k = 0; k < total; k++)
            if (!seqs[k].done) live[n_live++] = k;
        if (n_live == 0) break;
        for (int b0 = 0; b0 < n_live; b0 += maxb) {
            const int nb = n_live - b0 < maxb ? n_live - b0 : maxb;
            for (int b = 0; b < nb; b++) {
                live_seq *s = &seqs[live[b0 + b]];
                rows[b] = 1;
                toks[b] = s->out->tokens[s->out->n_tokens - 1];
                pref[b] = s->prefix;
                plen[b] = s->prefix_len;
                own[b] = &s->own;
                ostart[b] = s->own_used;
            }
            policy_step step = {.n_seq = nb, .rows = rows, .tokens = toks, .prefix = pref, .prefix_len = plen,
                                .own = own, .own_start = ostart};
            if ((rc = policy_forward_step(m, &step, logits, err))) goto done;
            st.decode_tokens += (size_t)nb;
            /* draw in parallel (each completion has its own generator), then accept in order: stop-string
             * checks decode text, and the detokenizer is not required to be thread-safe */
#pragma omp parallel for schedule(dynamic, 1)
            for (int b = 0; b < nb; b++) {
                live_seq *s = &seqs[live[b0 + b]];
                const gen_completion *c = s->out;
                drawn[b] = smp_sample(&p->sampling, logits + (size_t)b * V, V, c->tokens, c->n_tokens, &s->rng,
                                      work + (size_t)omp_get_thread_num() * V, &drawn_lp[b], &drawn_ent[b]);
            }
            for (int b = 0; b < nb; b++) {
                live_seq *s = &seqs[live[b0 + b]];
                s->own_used++;
                accept_token(p, s, drawn[b], drawn_lp[b], drawn_ent[b]);
            }
        }
    }
    st.decode_s = now_s() - t0;
    goto done;
oom:
    rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for generation (%.1f MiB of KV cache)", st.kv_bytes / 1048576.0);
done:
    if (pblocks)
        for (int i = 0; i < n_prompts; i++) free(pblocks[i].k);
    free(arena);
    free(pblocks);
    free(seqs);
    free(logits);
    free(rows);
    free(toks);
    free(plen);
    free(ostart);
    free(live);
    free(drawn);
    free(drawn_lp);
    free(drawn_ent);
    free(pref);
    free(own);
    free(work);
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
