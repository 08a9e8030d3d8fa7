/* policy/backend.c: choosing a backend by name (--device). "cuda" is the bf16 backend of
 * policy/cuda/ (learner forward/backward/AdamW on the GPU; rollout decode on the CPU over the
 * host copy of the weights, see policy/cuda/cuda_backend.h). */
#include <string.h>

#include "model.h"

#ifdef GRPO_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

const policy_backend *policy_backend_get(const char *name, grpo_err *err) {
    if (!strcmp(name, "cpu")) return &policy_backend_cpu;
    if (!strcmp(name, "cuda")) {
#ifdef GRPO_HAVE_CUDA
        char why[512];
        int n = grpo_cuda_device_count(why, sizeof why);
        if (n <= 0) {
            grpo_errf(err, GRPO_EUNSUPPORTED, "--device cuda: no usable GPU (%s)", why);
            return NULL;
        }
        return &policy_backend_cuda;
#else
        grpo_errf(err, GRPO_EUNSUPPORTED, "--device cuda: this build has no CUDA backend (configure with -DGRPO_CUDA=ON)");
        return NULL;
#endif
    }
    grpo_errf(err, GRPO_EINVAL, "unknown device \"%s\" (cpu, cuda)", name);
    return NULL;
}
