/* checkpoints/ckpt.h: training checkpoints: save atomically, find the newest complete one, resume.
 *
 * A checkpoint is a directory RUN/checkpoints/step-NNNNNNNN holding
 *   config.json + model.safetensors   the policy in HF layout (fp32, so resume is bit-exact;
 *                                     transformers and vLLM load it as it is)
 *   optimizer.safetensors             AdamW state: exp_avg.<param> and exp_avg_sq.<param>
 *   trainer_state.json                step, AdamW step count, data cursor, seed, run config
 * It is written to a temporary directory, fsynced, then renamed, so a crash at any point leaves
 * the previous checkpoints intact and never a half-written one under a step-* name. */
#ifndef GRPO_CKPT_H
#define GRPO_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../policy/model.h"

typedef struct {
    int64_t step;          /* training steps completed */
    int64_t cursor_epoch;  /* data cursor */
    int64_t cursor_pos;
    uint64_t seed;
    char *config_json;     /* the run's resolved config (malloc'd on load; may be NULL on save) */
    const char *tokenizer_dir; /* save: its tokenizer files are copied in, so the checkpoint is a
                                * complete HF model directory (NULL: none) */
} ckpt_state;

/* Saves m (with its AdamW state when training is enabled) and st under run_dir/checkpoints, then
 * deletes all but the newest keep_last checkpoints (keep_last <= 0 keeps all). */
int ckpt_save(const char *run_dir, const policy_model *m, const ckpt_state *st, int keep_last, grpo_err *err);
/* Finds the newest complete checkpoint under run_dir/checkpoints; path gets its directory.
 * Returns GRPO_OK with path[0] == '\0' when there is none. */
int ckpt_find_latest(const char *run_dir, char *path, size_t cap, grpo_err *err);
/* Loads a checkpoint directory: the model (policy_load), its AdamW state, and st. */
int ckpt_load(const char *dir, policy_model *m, ckpt_state *st, grpo_err *err);
/* Frees what ckpt_load allocated in st. */
void ckpt_state_free(ckpt_state *st);

#endif
