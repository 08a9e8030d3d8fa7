// tests/cuda/emu/cuda_emu.cc: the host emulation of CUDA behind cuda_emu.h (see there): fibers
// (ucontext) for the threads of one block at a time, barrier bookkeeping, tracked "device"
// allocations, and a reference GEMM with cublasGemmEx's column-major contract.
#include "cuda_emu.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include <map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <stdarg.h>

__attribute__((format(printf, 1, 2))) [[noreturn]] static void emu_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nCUDA EMULATOR: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

void emu_misaligned(const void *p) { emu_fatal("misaligned float4 load at %p", p); }
void nvcuda::wmma::emu_wmma_misaligned(const void *p, unsigned ld) {
    emu_fatal("wmma load/store at %p with ld %u: needs a 256-bit aligned pointer and ld a multiple of 16 bytes", p, ld);
}

// ---- device memory ----

static std::map<uintptr_t, size_t> g_allocs; // start -> bytes
static cudaError_t g_last = cudaSuccess;
static size_t g_launches = 0;

// Whether [p, p + n) lies inside one device allocation.
static bool is_device(const void *p, size_t n) {
    uintptr_t a = (uintptr_t)p;
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return false;
    --it;
    return a >= it->first && a + n <= it->first + it->second;
}
static bool touches_device(const void *p) { return is_device(p, 1); }
bool emu_is_device(const void *p, size_t n) { return is_device(p, n); }

cudaError_t emu_malloc(void **p, size_t n) {
    void *q = malloc(n ? n : 1);
    if (!q) return cudaErrorMemoryAllocation;
    memset(q, 0xff, n); // NaN in fp32 and bf16: reading unwritten memory poisons results
    g_allocs[(uintptr_t)q] = n ? n : 1;
    *p = q;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) emu_fatal("cudaFree of a pointer that is not a device allocation");
    g_allocs.erase(it);
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
    if (!n) return cudaSuccess;
    const bool dd = is_device(dst, n), sd = is_device(src, n);
    const bool ok = kind == cudaMemcpyHostToDevice   ? dd && !touches_device(src)
                    : kind == cudaMemcpyDeviceToHost ? sd && !touches_device(dst)
                    : kind == cudaMemcpyDeviceToDevice ? dd && sd
                                                       : true;
    if (!ok) emu_fatal("cudaMemcpy kind %s of %ld bytes: a pointer is not where the kind says (or overruns)",
                       kind == cudaMemcpyHostToDevice ? "HostToDevice" : kind == cudaMemcpyDeviceToHost ? "DeviceToHost" : "DeviceToDevice",
                       (long)n);
    memmove(dst, src, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, n, kind);
}
cudaError_t cudaMemset(void *p, int v, size_t n) {
    if (n && !is_device(p, n)) emu_fatal("cudaMemset of %ld bytes outside a device allocation", (long)n);
    memset(p, v, n);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return g_last; }
cudaError_t cudaGetLastError() {
    cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *d) {
    *d = 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaHostRegister(void *p, size_t, unsigned) {
    if (touches_device(p)) emu_fatal("cudaHostRegister of device memory");
    return cudaSuccess;
}
cudaError_t cudaHostUnregister(void *) { return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t *f, size_t *t) {
    *f = (size_t)64 << 30;
    *t = (size_t)80 << 30;
    return cudaSuccess;
}
struct emu_event {
    int recorded;
};
static int g_streams = 0;
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) {
    *s = (cudaStream_t)(uintptr_t)(++g_streams); // a nonzero handle: 0 is the default stream
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) { return s ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return g_last; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t e, unsigned) {
    if (!e) return cudaErrorInvalidValue;
    if (!e->recorded) emu_fatal("cudaStreamWaitEvent on an event never recorded");
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) {
    *e = new emu_event{0};
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
    if (!e) return cudaErrorInvalidValue;
    e->recorded = 1;
    return cudaSuccess;
}
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    default: return "emulated error";
    }
}
const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    default: return "cudaErrorUnknown";
    }
}

static std::map<const void *, int> g_smem_attr;
cudaError_t emu_set_smem_attr(const void *kernel, int bytes) {
    if (bytes < 0 || bytes > 227 * 1024) return cudaErrorInvalidValue; // sm_90 opt-in maximum
    g_smem_attr[kernel] = bytes;
    return cudaSuccess;
}

// ---- fibers ----

enum { RUNNABLE, AT_SYNCTHREADS, AT_SHUFFLE, DONE };
// A fiber starts with setcontext (makecontext gives it its own stack) and then switches with
// _setjmp/_longjmp, which unlike swapcontext make no system call.
struct fiber {
    ucontext_t ctx;
    jmp_buf jb;
    emu_thread_id id;
    int lane, warp, state, started;
};
static std::vector<fiber> g_f;
static std::vector<char *> g_stacks;
static jmp_buf g_sched;
static int g_cur;
static std::function<void()> *g_body;
static std::vector<unsigned char> g_dyn;
static unsigned char g_xchg[32][32][8]; // [warp][lane][value]
emu_thread_id *emu_cur_id;
static const size_t STACK = 256 * 1024;

static void fiber_entry() {
    (*g_body)();
    g_f[g_cur].state = DONE;
    _longjmp(g_sched, 1);
}
static void yield_to_sched() {
    if (!_setjmp(g_f[g_cur].jb)) _longjmp(g_sched, 1);
}

void __syncthreads() {
    g_f[g_cur].state = AT_SYNCTHREADS;
    yield_to_sched();
}
int emu_lane() { return g_f[g_cur].lane; }
void *emu_dyn_smem() { return g_dyn.data(); }

void emu_warp_exchange(const void *in, void *out, int src, size_t bytes, unsigned mask) {
    if (mask != 0xffffffffu) emu_fatal("shuffle with a partial mask");
    const int w = g_f[g_cur].warp, lane = g_f[g_cur].lane;
    memcpy(g_xchg[w][lane], in, bytes);
    g_f[g_cur].state = AT_SHUFFLE; // every lane has written
    yield_to_sched();
    memcpy(out, g_xchg[w][src & 31], bytes);
    g_f[g_cur].state = AT_SHUFFLE; // every lane has read
    yield_to_sched();
}

static void run_block(const char *name, dim3 grid, dim3 block, unsigned bx, unsigned by, unsigned bz) {
    const int n = (int)(block.x * block.y * block.z);
    if ((int)g_f.size() < n) g_f.resize(n);
    while ((int)g_stacks.size() < n) g_stacks.push_back((char *)malloc(STACK));
    for (int t = 0; t < n; t++) {
        fiber &f = g_f[t];
        f.id.tid = {(unsigned)t % block.x, ((unsigned)t / block.x) % block.y, (unsigned)t / (block.x * block.y)};
        f.id.bid = {bx, by, bz};
        f.id.bdim = block;
        f.id.gdim = grid;
        f.lane = t % 32;
        f.warp = t / 32;
        f.state = RUNNABLE;
        f.started = 0;
    }
    static ucontext_t proto;
    static int have_proto = 0;
    if (!have_proto) {
        getcontext(&proto);
        have_proto = 1;
    }
    const int nw = (n + 31) / 32;
    // Fibers run in ascending order on even passes and descending on odd ones, so that a read of
    // shared memory that another thread writes without a barrier between them gives a different
    // result under one of the two orders (and fails the tests) instead of passing by luck.
    for (int pass = 0;; pass++) {
        bool ran = false;
        for (int u = 0; u < n; u++) {
            const int t = (pass + g_launches) % 2 ? n - 1 - u : u;
            if (g_f[t].state == RUNNABLE) {
                fiber &f = g_f[t];
                g_cur = t;
                emu_cur_id = &f.id;
                ran = true;
                if (_setjmp(g_sched)) continue; // the fiber yielded or finished
                if (f.started) _longjmp(f.jb, 1);
                f.started = 1;
                f.ctx = proto;
                f.ctx.uc_stack.ss_sp = g_stacks[t];
                f.ctx.uc_stack.ss_size = STACK;
                f.ctx.uc_link = NULL;
                makecontext(&f.ctx, fiber_entry, 0);
                setcontext(&f.ctx);
            }
        }
        int live = 0, at_sync = 0;
        for (int t = 0; t < n; t++) {
            live += g_f[t].state != DONE;
            at_sync += g_f[t].state == AT_SYNCTHREADS;
        }
        if (!live) break;
        bool released = false;
        if (at_sync == live) {
            for (int t = 0; t < n; t++)
                if (g_f[t].state == AT_SYNCTHREADS) g_f[t].state = RUNNABLE;
            released = true;
        }
        for (int w = 0; w < nw; w++) {
            int lanes = 0, shuf = 0, done = 0;
            for (int t = w * 32; t < n && t < w * 32 + 32; t++) {
                lanes++;
                shuf += g_f[t].state == AT_SHUFFLE;
                done += g_f[t].state == DONE;
            }
            if (shuf && shuf + done == lanes) {
                if (done) emu_fatal("%s: a shuffle in warp %d after %d lanes exited", name, w, done);
                for (int t = w * 32; t < n && t < w * 32 + 32; t++) g_f[t].state = RUNNABLE;
                released = true;
            }
        }
        if (!ran && !released) emu_fatal("%s: deadlock (threads wait at different barriers) in block %u", name, bx);
    }
}

void emu_launch(const char *name, const void *kernel, dim3 grid, dim3 block, size_t smem, std::function<void()> body) {
    g_launches++;
    const size_t threads = (size_t)block.x * block.y * block.z;
    int limit = 48 * 1024;
    auto it = g_smem_attr.find(kernel);
    if (it != g_smem_attr.end()) limit = std::max(limit, it->second);
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535 || smem > (size_t)limit) {
        fprintf(stderr, "CUDA EMULATOR: %s: invalid launch: grid (%u,%u,%u) block (%u,%u,%u) shared %zu (limit %d)\n",
                name, grid.x, grid.y, grid.z, block.x, block.y, block.z, smem, limit);
        g_last = cudaErrorInvalidConfiguration;
        return;
    }
    if (threads % 32) emu_fatal("%s: block of %ld threads is not whole warps", name, (long)threads);
    g_body = &body;
    // Blocks run one after another, in ascending order on half of the launches and descending on
    // the other half (decorrelated from the thread order's parity), so that a block reading what
    // another block of the same launch writes gives different results under the two orders. Each
    // block starts with dynamic shared memory full of NaN bytes, as a GPU gives it no values.
    const size_t nb = (size_t)grid.x * grid.y * grid.z;
    const bool reverse = (g_launches >> 1) & 1;
    for (size_t i = 0; i < nb; i++) {
        const size_t b = reverse ? nb - 1 - i : i;
        g_dyn.assign(smem ? smem : 1, 0xff);
        run_block(name, grid, block, (unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y),
                  (unsigned)(b / ((size_t)grid.x * grid.y)));
    }
}

extern "C" size_t emu_kernel_launches(void) { return g_launches; }
extern "C" int emu_mem_get_info(size_t *f, size_t *t) { return (int)cudaMemGetInfo(f, t); }

// ---- cuBLAS ----

struct emu_blas {
    int dummy;
};
cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = new emu_blas();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS"
           : s == CUBLAS_STATUS_INVALID_VALUE ? "CUBLAS_STATUS_INVALID_VALUE"
                                              : "CUBLAS_STATUS_NOT_SUPPORTED";
}

static float load(const void *p, cudaDataType t, size_t i) {
    return t == CUDA_R_32F ? ((const float *)p)[i] : __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

// C = alpha op(A) op(B) + beta C, column-major, fp32 accumulation; beta == 0 never reads C.
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType at, int lda, const void *B, cudaDataType bt,
                            int ldb, const void *beta, void *C, cudaDataType ct, int ldc, cublasComputeType_t comp,
                            cublasGemmAlgo_t) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
    const int arows = ta == CUBLAS_OP_N ? m : k, acols = ta == CUBLAS_OP_N ? k : m;
    const int brows = tb == CUBLAS_OP_N ? k : n, bcols = tb == CUBLAS_OP_N ? n : k;
    if (lda < std::max(1, arows) || ldb < std::max(1, brows) || ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
    if (at != bt || comp != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    const size_t asz = at == CUDA_R_32F ? 4 : 2, csz = ct == CUDA_R_32F ? 4 : 2;
    if (m && n && k) {
        if (!is_device(A, ((size_t)lda * (acols - 1) + arows) * asz)) emu_fatal("cublasGemmEx: A overruns its allocation");
        if (!is_device(B, ((size_t)ldb * (bcols - 1) + brows) * asz)) emu_fatal("cublasGemmEx: B overruns its allocation");
    }
    if (m && n && !is_device(C, ((size_t)ldc * (n - 1) + m) * csz)) emu_fatal("cublasGemmEx: C overruns its allocation");
    const float al = *(const float *)alpha, be = *(const float *)beta;
#pragma omp parallel for schedule(static)
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++) {
                const float a = ta == CUBLAS_OP_N ? load(A, at, i + (size_t)p * lda) : load(A, at, p + (size_t)i * lda);
                const float b = tb == CUBLAS_OP_N ? load(B, bt, p + (size_t)j * ldb) : load(B, bt, j + (size_t)p * ldb);
                s += a * b;
            }
            const size_t ci = i + (size_t)j * ldc;
            float r = al * s;
            if (be != 0.0f) r += be * load(C, ct, ci);
            if (ct == CUDA_R_32F) ((float *)C)[ci] = r;
            else ((__nv_bfloat16 *)C)[ci] = __float2bfloat16(r);
        }
    return CUBLAS_STATUS_SUCCESS;
}

// ---- what policy/cuda/cuda_backend.cu provides in a real build ----

extern "C" int grpo_cuda_device_count(char *why, size_t cap) {
    if (why && cap) snprintf(why, cap, "emulated");
    return 1;
}
extern "C" int grpo_cuda_smoke(char *why, size_t cap) {
    snprintf(why, cap, "emulated (no real kernel ran)");
    return 0;
}
