// policy/cuda/decode_cuda.cu: generation on the device (cuda_backend.h, grpo_cuda_gen_*): prefill
// and batched decode through the learner's own forward (cu_forward_body) with a KV sink, the
// device sampler, and the learner's logprob kernel on the same logits rows.
//
// The cache holds, per layer, K then V rows of nkv * head_dim bf16: rows [0, P) the prompts end to
// end (P = sum of prompt lengths), then max_new rows per completion. A decode row of completion k
// at position pos reads keys 0..pos through one paged attention tile: the prompt's rows for
// j < prompt length, the completion's own rows after (att_tile.split / base2).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.cuh"

extern "C" {
#include "../../common/rng.h"
}

struct grpo_cuda_gen {
    policy_model *m;
    cuda_state *S;
    int np, G, total, max_new, max_rows, cap;
    grpo_cuda_sampling smp;
    float invT;                   // of the recorded logprob: 1/T, 1 when greedy
    int *plen, *pstart;           // host, per prompt
    size_t P, R;                  // prompt rows, rows per layer
    bf16 *kv;                     // K: [layers][R][KV], then V
    uint64_t *rng;                // [total][4]
    unsigned char *seen;          // [total][V] or NULL (no repetition penalty)
    int *d_lrow, *d_comp, *d_ids, *d_ident, *d_idx; // device, cap each
    float *d_lp, *d_ent;          // device, cap each
    int *h_i;                     // host staging, 2 * cap
    float *h_f;                   // host staging, 2 * cap
};

// Prompt tokens per prefill forward at most (longer prompts go alone).
#define PREFILL_TOKENS 8192

extern "C" size_t grpo_cuda_gen_kv_bytes(const policy_model *m, const int *prompt_lens, int n_prompts, int G,
                                         int max_new) {
    const policy_config *c = &m->cfg;
    size_t rows = (size_t)n_prompts * G * max_new;
    for (int i = 0; i < n_prompts; i++) rows += (size_t)prompt_lens[i];
    return rows * 2 * c->num_hidden_layers * c->num_key_value_heads * c->head_dim * sizeof(bf16);
}

extern "C" int grpo_cuda_mem_info(size_t *free_b, size_t *total_b) {
    *free_b = *total_b = 0;
    return cudaMemGetInfo(free_b, total_b) == cudaSuccess ? GRPO_OK : GRPO_EIO;
}

extern "C" void grpo_cuda_gen_close(grpo_cuda_gen *g) {
    if (!g) return;
    if (g->S) cudaSetDevice(g->S->device);
    cudaFree(g->kv);
    cudaFree(g->rng);
    cudaFree(g->seen);
    cudaFree(g->d_lrow);
    cudaFree(g->d_lp);
    free(g->plen);
    free(g->pstart);
    free(g->h_i);
    free(g->h_f);
    free(g);
}

// The device and host buffers of an opened generation (g->cap, g->R and the prompt table set).
static int gen_buffers(grpo_cuda_gen *g, const uint64_t *seeds, size_t kv_bytes, grpo_err *err) {
    const int cap = g->cap, V = g->m->cfg.vocab_size;
    CUDA_CHECK(cudaMalloc(&g->kv, kv_bytes));
    CUDA_CHECK(cudaMalloc(&g->rng, (size_t)g->total * 4 * sizeof(uint64_t)));
    if (g->smp.repetition_penalty != 1.0f) {
        CUDA_CHECK(cudaMalloc(&g->seen, (size_t)g->total * V));
        CUDA_CHECK(cudaMemset(g->seen, 0, (size_t)g->total * V));
    }
    CUDA_CHECK(cudaMalloc(&g->d_lrow, (size_t)5 * cap * sizeof(int)));
    g->d_comp = g->d_lrow + cap;
    g->d_ids = g->d_comp + cap;
    g->d_ident = g->d_ids + cap;
    g->d_idx = g->d_ident + cap;
    CUDA_CHECK(cudaMalloc(&g->d_lp, (size_t)2 * cap * sizeof(float)));
    g->d_ent = g->d_lp + cap;
    g->h_i = (int *)malloc((size_t)2 * cap * sizeof(int));
    g->h_f = (float *)malloc((size_t)2 * cap * sizeof(float));
    uint64_t *st = (uint64_t *)malloc((size_t)g->total * 4 * sizeof(uint64_t));
    if (!g->h_i || !g->h_f || !st) {
        free(st);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    }
    for (int k = 0; k < g->total; k++) {
        rng_state r;
        rng_seed(&r, seeds[k]);
        memcpy(st + (size_t)k * 4, r.s, sizeof r.s);
    }
    cudaError_t e = cudaMemcpy(g->rng, st, (size_t)g->total * 4 * sizeof(uint64_t), cudaMemcpyHostToDevice);
    free(st);
    CUDA_CHECK(e);
    for (int i = 0; i < cap; i++) g->h_i[i] = i;
    CUDA_CHECK(cudaMemcpy(g->d_ident, g->h_i, (size_t)cap * sizeof(int), cudaMemcpyHostToDevice));
    return GRPO_OK;
}

extern "C" int grpo_cuda_gen_open(policy_model *m, const int *prompt_lens, int n_prompts, int G, int max_new,
                                  int max_rows, const grpo_cuda_sampling *s, const uint64_t *seeds, size_t kv_budget,
                                  grpo_cuda_gen **out, size_t *kv_bytes, grpo_err *err) {
    *out = NULL;
    const size_t bytes = grpo_cuda_gen_kv_bytes(m, prompt_lens, n_prompts, G, max_new);
    if (kv_bytes) *kv_bytes = bytes;
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    TRY(cu_sync_params_in(m, S, err));
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const size_t limit = (size_t)(0.9 * (double)free_b);
    if (bytes > limit || (kv_budget && bytes > kv_budget))
        return grpo_errf(err, GRPO_ENOMEM,
                         "KV cache for %d prompts x %d completions x %d new tokens needs %.1f MiB on the GPU, over %s "
                         "of %.1f MiB",
                         n_prompts, G, max_new, bytes / 1048576.0,
                         bytes > limit ? "90% of its free memory" : "the budget",
                         (bytes > limit ? limit : kv_budget) / 1048576.0);
    grpo_cuda_gen *g = (grpo_cuda_gen *)calloc(1, sizeof *g);
    if (!g) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    g->m = m;
    g->S = S;
    g->np = n_prompts;
    g->G = G;
    g->total = n_prompts * G;
    g->max_new = max_new;
    g->max_rows = max_rows > 0 && max_rows < g->total ? max_rows : g->total;
    g->cap = g->total > g->max_rows ? g->total : g->max_rows;
    g->smp = *s;
    g->invT = s->temperature > 0.0f ? 1.0f / s->temperature : 1.0f;
    g->plen = (int *)malloc((size_t)n_prompts * sizeof(int));
    g->pstart = (int *)malloc((size_t)n_prompts * sizeof(int));
    if (!g->plen || !g->pstart) {
        grpo_cuda_gen_close(g);
        return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n_prompts; i++) {
        g->plen[i] = prompt_lens[i];
        g->pstart[i] = (int)g->P;
        g->P += (size_t)prompt_lens[i];
    }
    g->R = g->P + (size_t)g->total * max_new;
    int rc = gen_buffers(g, seeds, bytes, err);
    if (rc) {
        grpo_cuda_gen_close(g);
        return rc;
    }
    *out = g;
    return GRPO_OK;
}

static kv_sink gen_sink(const grpo_cuda_gen *g, size_t row0, const int *dst) {
    const policy_config *c = &g->m->cfg;
    const size_t layer = g->R * c->num_key_value_heads * c->head_dim;
    kv_sink k = {g->kv, g->kv + (size_t)c->num_hidden_layers * layer, g->R, row0, dst};
    return k;
}

// Draws rows tokens from logits rows d_lrow for completions d_comp (both uploaded), then records
// each one's logprob with the learner's kernel: groups of `per` rows read logits rows 0..per-1.
static int gen_draw(grpo_cuda_gen *g, int rows, int per, grpo_err *err) {
    cuda_state *S = g->S;
    const int V = g->m->cfg.vocab_size;
    TRY(k_sample(g->d_ids, g->d_ent, S->logits, g->d_lrow, g->d_comp, rows, V, &g->smp, g->rng, g->seen, err));
    for (int r0 = 0; r0 < rows; r0 += per)
        TRY(k_logprob_forward(g->d_lp + r0, S->logits, g->d_ident, g->d_ids + r0, per, V, g->invT, err));
    CUDA_CHECK(cudaMemcpy(g->h_i, g->d_ids, (size_t)rows * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(g->h_f, g->d_lp, (size_t)2 * g->cap * sizeof(float), cudaMemcpyDeviceToHost));
    return GRPO_OK;
}

// Prefills prompts [i0, i1) in one forward and draws the first token of each of their completions.
static int prefill_chunk(grpo_cuda_gen *g, const int *const *prompts, int i0, int i1, int *ids, float *lp, float *ent,
                         grpo_err *err) {
    policy_model *m = g->m;
    cuda_state *S = g->S;
    const int np = i1 - i0, G = g->G;
    int N = 0, n_tiles = 0;
    for (int i = i0; i < i1; i++) {
        N += g->plen[i];
        n_tiles += (g->plen[i] + ATT_TILE - 1) / ATT_TILE;
    }
    TRY(cu_acts_alloc(m, S, N, n_tiles, 0, np, err));
    int *tok = S->h_ints, *pos = tok + N, k = 0, ti = 0;
    for (int i = i0; i < i1; i++) {
        const int base = k;
        for (int t = 0; t < g->plen[i]; t++, k++) {
            tok[k] = prompts[i][t];
            pos[k] = t;
        }
        for (int r = 0; r < g->plen[i]; r += ATT_TILE) S->h_tiles[ti++] = att_tile_packed(base, g->plen[i], r);
        g->h_i[i - i0] = k - 1; // the prompt's last row
    }
    CUDA_CHECK(cudaMemcpy(S->tok, tok, (size_t)2 * N * sizeof(int), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(S->tiles, S->h_tiles, (size_t)n_tiles * sizeof(att_tile), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(g->d_idx, g->h_i, (size_t)np * sizeof(int), cudaMemcpyHostToDevice));
    const kv_sink sink = gen_sink(g, (size_t)g->pstart[i0], NULL);
    TRY(cu_forward_body(m, S, &sink, err));
    TRY(k_gather_rows(S->xg, S->xnf, g->d_idx, np, m->cfg.hidden_size, err));
    TRY(cu_lm_head(m, S, S->xg, np, err));
    // row b = j * np + i draws completion j of prompt i0 + i from logits row i
    for (int j = 0; j < G; j++)
        for (int i = 0; i < np; i++) {
            g->h_i[j * np + i] = i;
            g->h_i[g->cap + j * np + i] = (i0 + i) * G + j;
        }
    CUDA_CHECK(cudaMemcpy(g->d_lrow, g->h_i, (size_t)np * G * sizeof(int), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(g->d_comp, g->h_i + g->cap, (size_t)np * G * sizeof(int), cudaMemcpyHostToDevice));
    TRY(gen_draw(g, np * G, np, err));
    for (int j = 0; j < G; j++)
        for (int i = 0; i < np; i++) {
            const int b = j * np + i, c = (i0 + i) * G + j;
            ids[c] = g->h_i[b];
            lp[c] = g->h_f[b];
            ent[c] = g->h_f[g->cap + b];
        }
    return GRPO_OK;
}

extern "C" int grpo_cuda_gen_prefill(grpo_cuda_gen *g, const int *const *prompts, int *ids, float *lp, float *ent,
                                     grpo_err *err) {
    CUDA_CHECK(cudaSetDevice(g->S->device));
    for (int i0 = 0; i0 < g->np;) {
        int i1 = i0 + 1, n = g->plen[i0];
        while (i1 < g->np && n + g->plen[i1] <= PREFILL_TOKENS) n += g->plen[i1++];
        TRY(prefill_chunk(g, prompts, i0, i1, ids, lp, ent, err));
        i0 = i1;
    }
    return GRPO_OK;
}

extern "C" int grpo_cuda_gen_step(grpo_cuda_gen *g, int rows, const int *comp, const int *tok, const int *used,
                                  int *ids, float *lp, float *ent, grpo_err *err) {
    policy_model *m = g->m;
    cuda_state *S = g->S;
    if (rows <= 0 || rows > g->max_rows) return grpo_errf(err, GRPO_EINVAL, "decode step of %d rows (1..%d)", rows, g->max_rows);
    CUDA_CHECK(cudaSetDevice(S->device));
    TRY(cu_acts_alloc(m, S, rows, rows, 0, rows, err));
    int *htok = S->h_ints, *hpos = htok + rows, *hdst = htok + 2 * rows;
    for (int b = 0; b < rows; b++) {
        const int k = comp[b], p = k / g->G;
        if (k < 0 || k >= g->total || used[b] < 0 || used[b] >= g->max_new)
            return grpo_errf(err, GRPO_EINVAL, "decode row %d: completion %d at own row %d", b, k, used[b]);
        const int own = (int)g->P + k * g->max_new, at = g->plen[p] + used[b];
        htok[b] = tok[b];
        hpos[b] = at;
        hdst[b] = own + used[b];
        att_tile t = {g->pstart[p], at + 1, at, b, g->plen[p], own};
        S->h_tiles[b] = t;
        g->h_i[g->cap + b] = k;
    }
    CUDA_CHECK(cudaMemcpy(S->tok, htok, (size_t)3 * rows * sizeof(int), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(S->tiles, S->h_tiles, (size_t)rows * sizeof(att_tile), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(g->d_lrow, g->d_ident, (size_t)rows * sizeof(int), cudaMemcpyDeviceToDevice));
    CUDA_CHECK(cudaMemcpy(g->d_comp, g->h_i + g->cap, (size_t)rows * sizeof(int), cudaMemcpyHostToDevice));
    const kv_sink sink = gen_sink(g, 0, S->tgt); // S->tgt holds the rows' cache rows (hdst)
    TRY(cu_forward_body(m, S, &sink, err));
    TRY(cu_lm_head(m, S, S->xnf, rows, err));
    TRY(gen_draw(g, rows, rows, err));
    for (int b = 0; b < rows; b++) {
        ids[b] = g->h_i[b];
        lp[b] = g->h_f[b];
        ent[b] = g->h_f[g->cap + b];
    }
    return GRPO_OK;
}

// ---- the sampler alone (tests) ----

typedef struct {
    float *logits, *ent;
    int *lrow, *comp, *ids;
    uint64_t *rng;
    unsigned char *seen;
} sample_bufs;

static int sample_rows_run(sample_bufs *d, const float *logits, int V, int rows, const grpo_cuda_sampling *s,
                           const uint64_t *seeds, const int *prev, int n_prev, int *ids, float *ent, grpo_err *err) {
    CUDA_CHECK(cudaMalloc(&d->logits, (size_t)V * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&d->ent, (size_t)rows * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&d->lrow, (size_t)3 * rows * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->rng, (size_t)rows * 4 * sizeof(uint64_t)));
    CUDA_CHECK(cudaMalloc(&d->seen, (size_t)rows * V));
    d->comp = d->lrow + rows;
    d->ids = d->comp + rows;
    int *hi = (int *)malloc((size_t)2 * rows * sizeof(int));
    uint64_t *st = (uint64_t *)malloc((size_t)rows * 4 * sizeof(uint64_t));
    unsigned char *seen = (unsigned char *)calloc((size_t)rows * V, 1);
    int rc = !hi || !st || !seen ? grpo_errf(err, GRPO_ENOMEM, "out of memory") : GRPO_OK;
    for (int r = 0; !rc && r < rows; r++) {
        rng_state g;
        rng_seed(&g, seeds[r]);
        memcpy(st + (size_t)r * 4, g.s, sizeof g.s);
        hi[r] = 0;
        hi[rows + r] = r;
        for (int i = 0; i < n_prev; i++)
            if (prev[i] >= 0 && prev[i] < V) seen[(size_t)r * V + prev[i]] = 1;
    }
    cudaError_t e = cudaSuccess;
    if (!rc) e = cudaMemcpy(d->logits, logits, (size_t)V * sizeof(float), cudaMemcpyHostToDevice);
    if (!rc && e == cudaSuccess) e = cudaMemcpy(d->lrow, hi, (size_t)2 * rows * sizeof(int), cudaMemcpyHostToDevice);
    if (!rc && e == cudaSuccess) e = cudaMemcpy(d->rng, st, (size_t)rows * 4 * sizeof(uint64_t), cudaMemcpyHostToDevice);
    if (!rc && e == cudaSuccess) e = cudaMemcpy(d->seen, seen, (size_t)rows * V, cudaMemcpyHostToDevice);
    free(hi);
    free(st);
    free(seen);
    if (rc) return rc;
    CUDA_CHECK(e);
    TRY(k_sample(d->ids, d->ent, d->logits, d->lrow, d->comp, rows, V, s, d->rng, d->seen, err));
    CUDA_CHECK(cudaMemcpy(ids, d->ids, (size_t)rows * sizeof(int), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(ent, d->ent, (size_t)rows * sizeof(float), cudaMemcpyDeviceToHost));
    return GRPO_OK;
}

extern "C" int grpo_cuda_sample_rows(const float *logits, int V, int rows, const grpo_cuda_sampling *s,
                                     const uint64_t *seeds, const int *prev, int n_prev, int *ids, float *ent,
                                     grpo_err *err) {
    sample_bufs d = {0};
    int rc = sample_rows_run(&d, logits, V, rows, s, seeds, prev, n_prev, ids, ent, err);
    cudaFree(d.logits);
    cudaFree(d.ent);
    cudaFree(d.lrow);
    cudaFree(d.rng);
    cudaFree(d.seen);
    return rc;
}
