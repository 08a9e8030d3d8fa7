/* checkpoints/model_dir.h: writing a model directory in HF layout atomically:
 * everything goes to DIR.tmp-PID, is fsynced, then renamed to DIR, so that a crash
 * never leaves a half-written model under DIR. */
#ifndef GRPO_CKPT_MODEL_DIR_H
#define GRPO_CKPT_MODEL_DIR_H

#include "../common/err.h"
#include "../policy/model.h"

/* Writes m (config.json + model.safetensors, dtype "float32"/"bfloat16") as dir.
 * An existing dir is an error unless overwrite, in which case it is replaced whole. */
int ckpt_export_model(const policy_model *m, const char *dir, const char *dtype, int overwrite, grpo_err *err);

#endif
