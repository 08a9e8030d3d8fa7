// policy/cuda/cuda_backend.cu: device discovery and a smoke check of the CUDA toolchain
// (a kernel and a cuBLAS GEMM against host results). Every CUDA and cuBLAS call is checked
// and reports file:line.
#include "cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CUDA_TRY(call)                                                                              \
    do {                                                                                            \
        cudaError_t e_ = (call);                                                                    \
        if (e_ != cudaSuccess) {                                                                    \
            snprintf(why, cap, "%s:%d: %s: %s", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            goto fail;                                                                              \
        }                                                                                           \
    } while (0)
#define CUBLAS_TRY(call)                                                                  \
    do {                                                                                  \
        cublasStatus_t s_ = (call);                                                       \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                \
            snprintf(why, cap, "%s:%d: %s: cuBLAS status %d", __FILE__, __LINE__, #call, \
                     (int)s_);                                                            \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

extern "C" int grpo_cuda_device_count(char *why, size_t cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why) snprintf(why, cap, "%s", cudaGetErrorString(e));
        return 0;
    }
    if (n == 0 && why) snprintf(why, cap, "no CUDA devices");
    return n;
}

__global__ static void axpy_kernel(int n, float a, const float *x, float *y) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}

extern "C" int grpo_cuda_smoke(char *why, size_t cap) {
    if (grpo_cuda_device_count(why, cap) <= 0) return 77;
    const int n = 64;
    float hx[64 * 64], hy[64 * 64], hc[64 * 64], ref[64 * 64];
    float *dx = NULL, *dy = NULL, *dc = NULL;
    cublasHandle_t h = NULL;
    int rc = 1;
    for (int i = 0; i < n * n; i++) {
        hx[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
        hy[i] = (float)((i * 11) % 13) / 13.0f - 0.5f;
    }
    CUDA_TRY(cudaMalloc(&dx, sizeof hx));
    CUDA_TRY(cudaMalloc(&dy, sizeof hy));
    CUDA_TRY(cudaMalloc(&dc, sizeof hc));
    CUDA_TRY(cudaMemcpy(dx, hx, sizeof hx, cudaMemcpyHostToDevice));
    CUDA_TRY(cudaMemcpy(dy, hy, sizeof hy, cudaMemcpyHostToDevice));
    axpy_kernel<<<(n * n + 255) / 256, 256>>>(n * n, 2.0f, dx, dy);
    CUDA_TRY(cudaGetLastError());
    CUDA_TRY(cudaMemcpy(hc, dy, sizeof hc, cudaMemcpyDeviceToHost));
    for (int i = 0; i < n * n; i++)
        if (fabsf(hc[i] - (hy[i] + 2.0f * hx[i])) > 1e-6f) {
            snprintf(why, cap, "axpy mismatch at %d: %g vs %g", i, hc[i], hy[i] + 2.0f * hx[i]);
            goto fail;
        }
    {
        const float one = 1.0f, zero = 0.0f;
        CUBLAS_TRY(cublasCreate(&h));
        CUBLAS_TRY(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));
        CUDA_TRY(cudaMemcpy(dy, hy, sizeof hy, cudaMemcpyHostToDevice));
        // column-major C = X * Y
        CUBLAS_TRY(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, dx, n, dy, n, &zero, dc, n));
        CUDA_TRY(cudaMemcpy(hc, dc, sizeof hc, cudaMemcpyDeviceToHost));
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += (double)hx[k * n + i] * hy[j * n + k];
            ref[j * n + i] = (float)s;
        }
    for (int i = 0; i < n * n; i++)
        if (fabsf(hc[i] - ref[i]) > 1e-4f) {
            snprintf(why, cap, "sgemm mismatch at %d: %g vs %g", i, hc[i], ref[i]);
            goto fail;
        }
    snprintf(why, cap, "ok");
    rc = 0;
fail:
    if (h) cublasDestroy(h);
    cudaFree(dx);
    cudaFree(dy);
    cudaFree(dc);
    return rc;
}
