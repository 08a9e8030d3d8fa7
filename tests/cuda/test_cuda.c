/* tests/cuda/test_cuda.c: the GPU suite. Without a GPU it prints why and exits 77, which ctest
 * reports as skipped (never as passed). With one, it runs the toolchain smoke check
 * (a kernel and a cuBLAS SGEMM against host results). */
#include <stdio.h>

#include "../../policy/cuda/cuda_backend.h"

int main(void) {
    char why[512] = "";
    int n = grpo_cuda_device_count(why, sizeof why);
    if (n <= 0) {
        printf("SKIP: no CUDA GPU present (%s); GPU tests need one (scripts/gpu-check.sh)\n", why);
        return 77;
    }
    int rc = grpo_cuda_smoke(why, sizeof why);
    printf("cuda smoke (kernel + cuBLAS SGEMM vs host): %s\n", why);
    return rc;
}
