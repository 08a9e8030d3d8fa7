/* policy/backend.c: choosing a backend by name (--device). */
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
        grpo_errf(err, GRPO_EUNSUPPORTED,
                  "--device cuda: %d GPU(s) found, but the CUDA forward/backward is not implemented yet", n);
        return NULL;
#else
        grpo_errf(err, GRPO_EUNSUPPORTED, "--device cuda: this build has no CUDA backend (configure with -DGRPO_CUDA=ON)");
        return NULL;
#endif
    }
    grpo_errf(err, GRPO_EINVAL, "unknown device \"%s\" (cpu, cuda)", name);
    return NULL;
}
