/* policy/cuda/cuda_backend.h: the CUDA side of the policy, callable from C.
 *
 * policy_backend_cuda is the bf16 backend (fp32 master weights and AdamW state, bf16 weight copy
 * and activations, fp32 accumulation, cuBLAS GEMMs); policy_backend_get("cuda") returns it when a
 * GPU is present. Set it on a model with m->backend = policy_backend_get("cuda", &err) after
 * policy_load/policy_build (and m->backend->release(m) first when the model already ran on
 * another backend).
 *
 * Host and device. The host arenas (param_mem, grad_mem, m_mem, v_mem) stay the truth between
 * calls, so policy_zero_grad, policy_clip_grad_norm, checkpoints and the CPU rollout engine work
 * unchanged ("mirror" mode, the default):
 *   - forward/backward upload the parameters (and AdamW moments) only when the host copy changed
 *     behind the backend's back, detected by m->param_mem or m->adam_t differing from what the
 *     backend's last AdamW step left (e.g. a resume or the optimizer reset after SFT); after any
 *     other direct host write to the parameters call grpo_cuda_invalidate;
 *   - backward uploads grad_mem, accumulates this batch on the device and downloads the sum;
 *   - adamw_step uploads grad_mem (clipped on the host), steps on the device and downloads the
 *     parameters and both moments.
 * "Resident" mode (grpo_cuda_set_resident) skips every transfer: gradients accumulate on the
 * device, and the caller uses grpo_cuda_zero_grad / grpo_cuda_clip_grad_norm, then
 * grpo_cuda_sync_host before reading any host arena. forward_step (rollout decode) runs on the CPU
 * over the host parameters in both modes (downloaded first when resident mode left them stale). */
#ifndef GRPO_CUDA_BACKEND_H
#define GRPO_CUDA_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../../common/err.h"

struct policy_model;
struct policy_backend;

/* Number of usable CUDA devices (0 when none); why gets the runtime's reason when 0 or less. */
int grpo_cuda_device_count(char *why, size_t cap);
/* Runs a tiny AXPY kernel and a cuBLAS SGEMM on device 0 and compares them with host results;
 * returns 0 when both match, 77 when no GPU is present, 1 on a mismatch or error (why says which). */
int grpo_cuda_smoke(char *why, size_t cap);

/* The bf16 CUDA backend (policy_backend table). */
extern const struct policy_backend policy_backend_cuda;

/* Forgets the device copy of the parameters and AdamW moments: the next call uploads them. */
void grpo_cuda_invalidate(struct policy_model *m);
/* Resident mode on (1) or off (0); turning it off first downloads everything to the host. */
int grpo_cuda_set_resident(struct policy_model *m, int on, grpo_err *err);
/* Zeroes the device gradients (and, in mirror mode, the host ones). */
int grpo_cuda_zero_grad(struct policy_model *m, grpo_err *err);
/* policy_clip_grad_norm on the device gradients (resident) or the host ones (mirror): *norm gets
 * the global L2 norm before clipping. */
int grpo_cuda_clip_grad_norm(struct policy_model *m, double max_norm, double *norm, grpo_err *err);
/* Downloads the device parameters, gradients and AdamW moments into the host arenas. */
int grpo_cuda_sync_host(struct policy_model *m, grpo_err *err);
/* Bytes the backend holds on the device for m (parameter arenas plus activations). */
size_t grpo_cuda_device_bytes(const struct policy_model *m);

#ifdef __cplusplus
}
#endif

#endif
