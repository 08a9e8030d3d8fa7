/* rollout/generate_internal.h: what the CPU engine (generate.c) and the CUDA engine
 * (generate_cuda.c) share. Private to rollout/. */
#ifndef GRPO_GENERATE_INTERNAL_H
#define GRPO_GENERATE_INTERNAL_H

#include "generate.h"

/* Checks a request (prompts non-empty, in the vocabulary, within max_position_embeddings). */
int gen_check(const policy_model *m, const int *const *prompts, const int *prompt_lens, int n_prompts,
              const gen_params *p, grpo_err *err);
/* Appends a drawn token to c; returns 1 when c is finished (EOS, stop string, length), setting its
 * finish reason. */
int gen_accept(const gen_params *p, gen_completion *c, int id, float lp, float ent);

#ifdef GRPO_HAVE_CUDA
#include "../policy/cuda/cuda_backend.h"
/* gen_run on the CUDA backend: prefill, decode and sampling on the device (generate_cuda.c). */
int gen_run_cuda(policy_model *m, const int *const *prompts, const int *prompt_lens, const int64_t *prompt_ids,
                 int n_prompts, const gen_params *p, gen_completion *out, gen_stats *stats, grpo_err *err);
#endif

#endif
