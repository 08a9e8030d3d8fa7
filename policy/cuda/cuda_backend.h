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
 * grpo_cuda_sync_host before reading any host arena. forward_step (the CPU decode step) runs on the
 * CPU over the host parameters in both modes (downloaded first when resident mode left them stale);
 * rollout/generate.c does not call it for this backend but generates with grpo_cuda_gen_* below,
 * on the device, over the same bf16 weights the learner uses. */
#ifndef GRPO_CUDA_BACKEND_H
#define GRPO_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

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
/* The device's free and total memory in bytes (cudaMemGetInfo); 0 or an error code. */
int grpo_cuda_mem_info(size_t *free_b, size_t *total_b);
/* Bytes the backend holds on the device for m (parameter arenas plus activations). */
size_t grpo_cuda_device_bytes(const struct policy_model *m);

/* For tests: causal attention alone, forward then backward, over n_seq packed sequences of lens[]
 * on host arrays (rounded to bf16 on upload, as the model's are): q and dO [N, nh * hd], k and v
 * [N, nkv * hd]; o (bf16 values), dq [N, nh * hd], dk, dv [N, nkv * hd] (fp32). kernels: 0 the
 * CUDA-core kernels (attention.cu), 1 the tensor-core ones (attention_tc.cu, head_dim 64 or 128). */
int grpo_cuda_attention_host(int n_seq, const int *lens, int nh, int nkv, int hd, const float *q, const float *k,
                             const float *v, const float *dO, int kernels, float *o, float *dq, float *dk, float *dv,
                             grpo_err *err);

/* ---- data parallel across GPUs (policy/cuda/nccl_cuda.cu) ----
 * One NCCL communicator per process, one process per GPU. grpo/dist.c bootstraps it under MPI:
 * rank 0 calls grpo_cuda_comm_unique_id, MPI broadcasts the id, every rank calls
 * grpo_cuda_comm_init. Then each step's gradients are summed on the device arena: arm before the
 * last backward of the step (it hands finished layers to NCCL in buckets while it differentiates
 * the layers below), and grpo_cuda_comm_sum_grad after it (it sums whatever was not summed; in
 * mirror mode m->grad_mem holds the sum afterwards). */
#define GRPO_CUDA_COMM_ID_BYTES 128
/* 1 when this build has NCCL (or its emulation), else 0: the host MPI path is the fallback. */
int grpo_cuda_comm_available(void);
/* 1 once grpo_cuda_comm_init succeeded. */
int grpo_cuda_comm_active(void);
/* Rank 0: a new communicator id (GRPO_CUDA_COMM_ID_BYTES bytes) for every rank to join. */
int grpo_cuda_comm_unique_id(unsigned char *id, grpo_err *err);
/* Joins the communicator of nranks ranks as rank, on GPU local_rank % (GPUs visible); m's device
 * state is made on that GPU (or must already be there). */
int grpo_cuda_comm_init(struct policy_model *m, const unsigned char *id, int rank, int nranks, int local_rank,
                        grpo_err *err);
/* The next backward of m sums its gradients over the ranks as it goes (no-op without a communicator). */
int grpo_cuda_comm_arm(struct policy_model *m, grpo_err *err);
/* m's device gradients summed over the ranks (see above). */
int grpo_cuda_comm_sum_grad(struct policy_model *m, grpo_err *err);
/* Leaves the communicator (before MPI_Finalize). */
void grpo_cuda_comm_free(void);

/* ---- generation on the device (policy/cuda/decode_cuda.cu) ----
 * Prefill and batched decode run the learner's own kernels (cu_forward_body: embedding, layers,
 * final norm; the lm_head GEMM; k_logprob_forward) on the learner's bf16 weights, in place. The
 * KV cache is bf16, one allocation: every prompt's rows once (its G completions read them as a
 * shared prefix, no copy), then max_new rows per completion. Attention reads it through the
 * learner's attention kernel (paged tiles), and the forward GEMMs are row-invariant
 * (gemm_cuda.cu), so the logprob recorded for a drawn token is the learner's for that token, bit
 * for bit (tested on the host emulation; to be confirmed on a GPU by scripts/gpu-check.sh). */

/* The device sampler's settings (rollout/sampler.h's smp_params, field for field). */
typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;
    float top_p, min_p, repetition_penalty;
} grpo_cuda_sampling;

typedef struct grpo_cuda_gen grpo_cuda_gen;

/* Bytes of the KV cache of a generation of G completions of max_new tokens per prompt. */
size_t grpo_cuda_gen_kv_bytes(const struct policy_model *m, const int *prompt_lens, int n_prompts, int G, int max_new);
/* Opens a generation on m's device state: n_prompts prompts, G completions each (completion
 * k = prompt * G + j draws from the xoshiro256** stream rng_seed(seeds[k])), at most max_rows
 * completions per decode step. Refuses (GRPO_ENOMEM, nothing allocated) a KV cache over kv_budget
 * (0 = no limit) or over 90% of the device's free memory; *kv_bytes gets its size. */
int grpo_cuda_gen_open(struct policy_model *m, const int *prompt_lens, int n_prompts, int G, int max_new, int max_rows,
                       const grpo_cuda_sampling *s, const uint64_t *seeds, size_t kv_budget, grpo_cuda_gen **out,
                       size_t *kv_bytes, grpo_err *err);
/* Prefills every prompt once and draws the first token of each of its completions: ids, lp
 * (logprob under the temperature, 1 when greedy) and ent (entropy), [n_prompts * G], by completion. */
int grpo_cuda_gen_prefill(grpo_cuda_gen *g, const int *const *prompts, int *ids, float *lp, float *ent, grpo_err *err);
/* One decode step for rows completions comp[b] (at most max_rows): each feeds its last token
 * tok[b] as its own row used[b] (its rows 0..used[b]-1 hold earlier tokens) and draws the next
 * into ids[b], lp[b], ent[b]. */
int grpo_cuda_gen_step(grpo_cuda_gen *g, int rows, const int *comp, const int *tok, const int *used, int *ids,
                       float *lp, float *ent, grpo_err *err);
/* Frees the generation's device memory (the model's state stays). */
void grpo_cuda_gen_close(grpo_cuda_gen *g);
/* The device sampler alone (for tests): rows draws from one row of V logits, draw r with the
 * stream rng_seed(seeds[r]); prev[0..n_prev) are ids drawn before (repetition penalty). ids and
 * ent get [rows]. */
int grpo_cuda_sample_rows(const float *logits, int V, int rows, const grpo_cuda_sampling *s, const uint64_t *seeds,
                          const int *prev, int n_prev, int *ids, float *ent, grpo_err *err);

#ifdef __cplusplus
}
#endif

#endif
