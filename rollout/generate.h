/* rollout/generate.h: grouped generation with a KV cache.
 *
 * Each prompt is prefilled once into its own KV block; its n completions read that block as a
 * shared, read-only prefix (no copy) and append their own tokens to private blocks. All live
 * completions of all prompts decode together, one token each per step; finished ones leave.
 * Completion j of prompt p draws from its own generator, seeded from (seed, step, prompt id, j),
 * and the cached forward is row-deterministic, so tokens do not depend on batch layout, thread
 * count or n. */
#ifndef GRPO_GENERATE_H
#define GRPO_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../policy/model.h"
#include "sampler.h"

enum { GEN_FINISH_STOP = 0, GEN_FINISH_LENGTH = 1 };

/* Returns the text of ids (malloc'd) for stop-string matching, or NULL. */
typedef char *(*gen_detok_fn)(void *ctx, const int *ids, int n);

typedef struct {
    int n;                        /* completions per prompt (G) */
    int max_new_tokens;
    smp_params sampling;
    uint64_t seed;
    int64_t step;                 /* training step, part of each completion's seed */
    const int *eos_ids;           /* stop when one of these is drawn (kept in the completion) */
    int n_eos;
    const char *const *stop;      /* stop strings (need detok); the completion ends after the token completing one */
    int n_stop;
    gen_detok_fn detok;
    void *detok_ctx;
    size_t kv_budget_bytes;       /* 0 = no limit */
    int max_batch;                /* live completions decoded per step (0 = all) */
    int share_prefix;             /* 1: completions read the prompt's KV block; 0: each prefills its own copy */
} gen_params;

typedef struct {
    int prompt_index;             /* position in the request */
    int sample_index;             /* j in 0..n-1 */
    int *tokens;                  /* completion tokens only */
    float *logprobs;              /* one per token, under the temperature-scaled full distribution */
    int n_tokens;
    int finish;                   /* GEN_FINISH_STOP or GEN_FINISH_LENGTH */
    double entropy_sum;           /* sum over tokens of the entropy of the distribution each was drawn from */
} gen_completion;

typedef struct {
    double prefill_s, decode_s;
    size_t prefill_tokens, decode_tokens;
    size_t kv_bytes;              /* KV cache allocated */
} gen_stats;

/* Defaults: n 1, 256 new tokens, sampling defaults, seed 0, step 0, sharing on, no budget. */
gen_params gen_defaults(void);

/* Bytes of KV cache a request needs (all prompt blocks plus all completion blocks, as allocated;
 * the arena of completion blocks may round up to a whole 2 MiB page beyond this). */
size_t gen_kv_bytes(const policy_model *m, const int *prompt_lens, int n_prompts, const gen_params *p);

/* Generates p->n completions for each prompt into out[prompt * n + j] (index order).
 * prompt_ids[i] is prompt i's identity for seeding (e.g. its dataset index; NULL = i).
 * Fails before any work when the KV cache would exceed p->kv_budget_bytes. */
int gen_run(policy_model *m, const int *const *prompts, const int *prompt_lens, const int64_t *prompt_ids,
            int n_prompts, const gen_params *p, gen_completion *out, gen_stats *stats, grpo_err *err);

/* Frees the arrays of n completions. */
void gen_completions_free(gen_completion *c, int n);

/* The seed of completion j of prompt id at step (exposed for tests). */
uint64_t gen_seed(uint64_t seed, int64_t step, int64_t prompt_id, int j);

#endif
