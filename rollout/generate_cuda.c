/* rollout/generate_cuda.c: gen_run for the CUDA backend. The device does the work (policy/cuda,
 * grpo_cuda_gen_*: prefill of each prompt once, batched decode of all live completions over a KV
 * cache where each prompt's rows are shared by its G completions, the sampler chain with
 * per-completion generators); this file keeps the bookkeeping of generate.c: who is live, the
 * decode batches of at most max_batch rows, EOS ids, stop strings and finish reasons (gen_accept).
 * The prompt's KV is always shared on the device (share_prefix = 0 is a CPU benchmark switch and
 * changes nothing here: a completion's rows are the same either way). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generate_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The completions' token and logprob arrays, and each one's generator seed. */
static int gen_cuda_setup(const int64_t *prompt_ids, int n_prompts, const gen_params *p, gen_completion *out,
                          uint64_t *seeds) {
    for (int i = 0; i < n_prompts; i++)
        for (int j = 0; j < p->n; j++) {
            gen_completion *c = &out[i * p->n + j];
            memset(c, 0, sizeof *c);
            c->prompt_index = i;
            c->sample_index = j;
            c->tokens = malloc((size_t)p->max_new_tokens * sizeof(int));
            c->logprobs = malloc((size_t)p->max_new_tokens * sizeof(float));
            seeds[i * p->n + j] = gen_seed(p->seed, p->step, prompt_ids ? prompt_ids[i] : i, j);
            if (!c->tokens || !c->logprobs) return -1;
        }
    return 0;
}

/* Decodes until every completion is finished: the live ones in completion order, max_batch per step. */
static int gen_cuda_decode(grpo_cuda_gen *g, const gen_params *p, gen_completion *out, char *done, int total,
                           int maxb, int *buf, float *fbuf, gen_stats *st, grpo_err *err) {
    int *live = buf, *tok = buf + total, *used = tok + total, *ids = used + total;
    float *lp = fbuf, *ent = fbuf + total;
    for (;;) {
        int n_live = 0;
        for (int k = 0; k < total; k++)
            if (!done[k]) live[n_live++] = k;
        if (n_live == 0) return GRPO_OK;
        for (int b0 = 0; b0 < n_live; b0 += maxb) {
            const int nb = n_live - b0 < maxb ? n_live - b0 : maxb;
            for (int b = 0; b < nb; b++) {
                const gen_completion *c = &out[live[b0 + b]];
                tok[b] = c->tokens[c->n_tokens - 1];
                used[b] = c->n_tokens - 1;
            }
            int rc = grpo_cuda_gen_step(g, nb, live + b0, tok, used, ids, lp, ent, err);
            if (rc) return rc;
            st->decode_tokens += (size_t)nb;
            for (int b = 0; b < nb; b++) done[live[b0 + b]] = (char)gen_accept(p, &out[live[b0 + b]], ids[b], lp[b], ent[b]);
        }
    }
}

int gen_run_cuda(policy_model *m, const int *const *prompts, const int *prompt_lens, const int64_t *prompt_ids,
                 int n_prompts, const gen_params *p, gen_completion *out, gen_stats *stats, grpo_err *err) {
    const int G = p->n, total = n_prompts * G, maxb = p->max_batch > 0 && p->max_batch < total ? p->max_batch : total;
    gen_stats st = {0};
    int rc = GRPO_OK;
    grpo_cuda_gen *g = NULL;
    uint64_t *seeds = malloc((size_t)total * sizeof *seeds);
    int *buf = malloc((size_t)4 * total * sizeof *buf);
    float *fbuf = malloc((size_t)2 * total * sizeof *fbuf);
    char *done = calloc((size_t)total, 1);
    if (!seeds || !buf || !fbuf || !done || gen_cuda_setup(prompt_ids, n_prompts, p, out, seeds)) {
        rc = grpo_errf(err, GRPO_ENOMEM, "out of memory for %d completions", total);
        goto end;
    }
    const grpo_cuda_sampling s = {p->sampling.temperature, p->sampling.top_k, p->sampling.top_p, p->sampling.min_p,
                                  p->sampling.repetition_penalty};
    if ((rc = grpo_cuda_gen_open(m, prompt_lens, n_prompts, G, p->max_new_tokens, maxb, &s, seeds, p->kv_budget_bytes,
                                 &g, &st.kv_bytes, err)))
        goto end;
    double t0 = now_s();
    if ((rc = grpo_cuda_gen_prefill(g, prompts, buf, fbuf, fbuf + total, err))) goto end;
    for (int i = 0; i < n_prompts; i++) st.prefill_tokens += (size_t)prompt_lens[i];
    for (int k = 0; k < total; k++) done[k] = (char)gen_accept(p, &out[k], buf[k], fbuf[k], fbuf[total + k]);
    st.prefill_s = now_s() - t0;
    t0 = now_s();
    rc = gen_cuda_decode(g, p, out, done, total, maxb, buf, fbuf, &st, err);
    st.decode_s = now_s() - t0;
end:
    grpo_cuda_gen_close(g);
    free(seeds);
    free(buf);
    free(fbuf);
    free(done);
    if (rc) gen_completions_free(out, total);
    if (stats) *stats = st;
    return rc;
}
