// tests/cuda/emu/cuda_emu.h: just enough of CUDA, cuBLAS and cuda_bf16 to run policy/cuda/ on
// the host, for testing without a GPU (the test_cuda_emu target compiles the backend's .cu files
// as C++ with GRPO_CUDA_EMU defined). Each CUDA thread of a block is a fiber; __syncthreads and
// the warp shuffles are barriers between fibers, so block- and warp-level code runs as written.
// It also checks what a GPU would reject: launch configurations, shared memory over the opt-in
// limit, shuffles with exited lanes, barriers that deadlock, cuBLAS leading dimensions, copies
// whose direction does not match where the pointers live. Device memory is filled with NaN bytes
// on allocation, so reading something never written shows up in the results.
//
// Not emulated: real concurrency (blocks run one after another; the order flips between launches,
// so a block that depends on another block's writes shows, but two blocks racing on one address
// do not), the memory model, timing, tensor-core rounding.
#ifndef GRPO_CUDA_EMU_H
#define GRPO_CUDA_EMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
using std::max;
using std::min;

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct emu_uint3 {
    unsigned x, y, z;
};
struct emu_thread_id {
    emu_uint3 tid, bid;
    dim3 bdim, gdim;
};
extern emu_thread_id *emu_cur_id;
#define threadIdx (emu_cur_id->tid)
#define blockIdx (emu_cur_id->bid)
#define blockDim (emu_cur_id->bdim)
#define gridDim (emu_cur_id->gdim)

void __syncthreads();
void emu_warp_exchange(const void *in, void *out, int src_lane, size_t bytes, unsigned mask);
int emu_lane();
void *emu_dyn_smem();
template <class T> T __shfl_sync(unsigned mask, T v, int src) {
    T r;
    emu_warp_exchange(&v, &r, src, sizeof(T), mask);
    return r;
}
template <class T> T __shfl_xor_sync(unsigned mask, T v, int o) {
    T r;
    emu_warp_exchange(&v, &r, emu_lane() ^ o, sizeof(T), mask);
    return r;
}
inline float atomicAdd(float *p, float v) {
    float o = *p;
    *p = o + v;
    return o;
}
inline double atomicAdd(double *p, double v) {
    double o = *p;
    *p = o + v;
    return o;
}

struct alignas(16) float4 {
    float x, y, z, w;
};
[[noreturn]] void emu_misaligned(const void *p);
inline float4 ld4(const float *p) {
    if ((uintptr_t)p & 15) emu_misaligned(p); // a GPU faults on a misaligned vector load
    float4 r;
    memcpy(&r, p, 16);
    return r;
}

inline unsigned __float_as_uint(float f) {
    unsigned u;
    memcpy(&u, &f, 4);
    return u;
}

// ---- bf16 ----
struct __nv_bfloat16 {
    uint16_t x;
};
inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    __nv_bfloat16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u) b.x = 0x7fc0; // NaN
    else b.x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16); // round to nearest even
    return b;
}
inline float __bfloat162float(__nv_bfloat16 b) {
    uint32_t u = (uint32_t)b.x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- wmma (tensor-core fragments): every lane holds the whole 16 x 16 tile and does the whole
// operation, which is what the warp as a whole computes; fp32 sums in k order ----
#define __align__(n) __attribute__((aligned(n)))
namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
template <class Use, int M_, int N_, int K_, class T, class L = void> struct fragment {
    float x[16 * 16];
};
template <class F> inline void fill_fragment(F &f, float v) {
    for (float &e : f.x) e = v;
}
[[noreturn]] void emu_wmma_misaligned(const void *p, unsigned ld);
inline void emu_wmma_check(const void *p, unsigned ld, unsigned mult) {
    if (((uintptr_t)p & 31) || ld % mult) emu_wmma_misaligned(p, ld); // 256-bit pointers, ld multiple of 16 bytes
}
template <class Use, class L>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, __nv_bfloat16, L> &f, const __nv_bfloat16 *p, unsigned ld) {
    emu_wmma_check(p, ld, 8);
    const bool rm = std::is_same<L, row_major>::value;
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = __bfloat162float(rm ? p[r * ld + c] : p[c * ld + r]);
}
// An accumulator loaded from memory that the warp then stores back (O = alpha O + P V kept in
// shared memory): every lane must have read before any lane writes, as the warp-wide instruction
// guarantees on a GPU, so the lanes meet at a warp barrier after reading.
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p, unsigned ld, layout_t l) {
    emu_wmma_check(p, ld, 4);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.x[r * 16 + c] = l == mem_row_major ? p[r * ld + c] : p[c * ld + r];
    char in = 0, out;
    emu_warp_exchange(&in, &out, emu_lane(), 1, 0xffffffffu);
}
template <class A, class B>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const A &a, const B &b,
                     const fragment<accumulator, 16, 16, 16, float> &c) {
    float out[256];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float s = c.x[i * 16 + j];
            for (int k = 0; k < 16; k++) s += a.x[i * 16 + k] * b.x[k * 16 + j];
            out[i * 16 + j] = s;
        }
    memcpy(d.x, out, sizeof out);
}
inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f, unsigned ld, layout_t l) {
    emu_wmma_check(p, ld, 4);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) (l == mem_row_major ? p[r * ld + c] : p[c * ld + r]) = f.x[r * 16 + c];
}
} // namespace wmma
} // namespace nvcuda

// ---- runtime ----
typedef enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorLaunchFailure = 719,
} cudaError_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
typedef void *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
#define cudaHostRegisterDefault 0u
#define cudaStreamNonBlocking 1u
#define cudaEventDisableTiming 2u

cudaError_t emu_malloc(void **p, size_t n);
template <class T> cudaError_t cudaMalloc(T **p, size_t n) { return emu_malloc((void **)p, n); }
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemset(void *p, int v, size_t n);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaGetDevice(int *d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaHostRegister(void *p, size_t n, unsigned flags);
cudaError_t cudaHostUnregister(void *p);
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b);
// Streams and events: work runs when it is launched (there is no concurrency to order), so these
// only check their arguments.
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
// Whether [p, p + n) lies inside one device allocation.
bool emu_is_device(const void *p, size_t n);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t emu_set_smem_attr(const void *kernel, int bytes);
template <class K> cudaError_t cudaFuncSetAttribute(K kernel, cudaFuncAttribute a, int value) {
    (void)a;
    return emu_set_smem_attr((const void *)kernel, value);
}
void emu_launch(const char *name, const void *kernel, dim3 grid, dim3 block, size_t smem, std::function<void()> body);
#define KLAUNCH(kernel, grid, block, smem, ...) \
    emu_launch(#kernel, (const void *)kernel, dim3(grid), dim3(block), (size_t)(smem), [=]() { kernel(__VA_ARGS__); })
#define DYN_SMEM(name) float *name = (float *)emu_dyn_smem()
// Red zones between the buffers of an arena (AddressSanitizer builds catch overruns into them).
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ARENA_GUARD 256
#define ARENA_RESET(base, bytes) ASAN_UNPOISON_MEMORY_REGION(base, bytes)
#define ARENA_POISON(p, bytes) ASAN_POISON_MEMORY_REGION(p, bytes)
#else
#define ARENA_GUARD 0
#define ARENA_RESET(base, bytes) ((void)0)
#define ARENA_POISON(p, bytes) ((void)0)
#endif

// ---- cuBLAS ----
typedef struct emu_blas *cublasHandle_t;
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_NOT_SUPPORTED = 15
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType;
typedef enum { CUBLAS_COMPUTE_32F = 68 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
cublasStatus_t cublasCreate(cublasHandle_t *h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B, cudaDataType bt,
                            int ldb, const void *beta, void *C, cudaDataType ct, int ldc, cublasComputeType_t comp,
                            cublasGemmAlgo_t algo);
const char *cublasGetStatusString(cublasStatus_t s);

// the test's view of the emulator
extern "C" size_t emu_kernel_launches(void);

#endif
