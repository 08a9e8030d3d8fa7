/* policy/cuda/cuda_backend.h: the CUDA side of the policy, callable from C.
 * This build compiles and links the CUDA runtime and cuBLAS; the bf16 forward/backward
 * kernels are the CUDA issue's work and are not here yet. */
#ifndef GRPO_CUDA_BACKEND_H
#define GRPO_CUDA_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices (0 when none); why gets the runtime's reason when 0 or less. */
int grpo_cuda_device_count(char *why, size_t cap);
/* Runs a tiny AXPY kernel and a cuBLAS SGEMM on device 0 and compares them with host results;
 * returns 0 when both match, 77 when no GPU is present, 1 on a mismatch or error (why says which). */
int grpo_cuda_smoke(char *why, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
