// policy/cuda/nccl_cuda.cu: data parallel across GPUs. One NCCL communicator per process (one
// process per GPU), joined by every rank with the unique id that rank 0 made and grpo/dist.c
// broadcast over MPI. The gradients are summed in place on the device arena (S->grad), in buckets
// of about GRPO_NCCL_BUCKET_MB MiB (default 32):
//   - armed (grpo_cuda_comm_arm, before the last backward of a step), the backward hands each run
//     of finished decoder layers to NCCL as soon as it passes the bucket size, on a stream of its
//     own, while the layers below are still being differentiated (their gradients are disjoint:
//     the arena holds embed | layer 0 | ... | layer L-1 | final norm | lm_head); the rest (the
//     first layers, the embedding, final norm, lm_head) goes when the backward ends, and the
//     backward returns only when every bucket is summed;
//   - otherwise grpo_cuda_comm_sum_grad sums the whole arena in buckets after the fact.
// Every NCCL call goes through ncclCheck (file:line, NCCL's message and a hint); nothing prints.
// Built without NCCL (GRPO_NO_NCCL), grpo_cuda_comm_available() is 0 and grpo/dist.c sums the host
// gradients with MPI instead. Under the host emulation (tests/cuda/emu/nccl_emu.cc) a host
// all-reduce over MPI stands in for NCCL, a test double only.
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.cuh"

#if defined(GRPO_CUDA_EMU)
#include "nccl_emu.h"
#elif !defined(GRPO_NO_NCCL)
#include <nccl.h>
#endif

#ifndef GRPO_NO_NCCL

static struct {
    ncclComm_t comm;
    cudaStream_t stream; // the buckets' stream (non-blocking: it never waits on the legacy stream)
    cudaEvent_t ready;   // recorded on the compute stream when a bucket's gradients are final
    int device, rank, nranks;
    size_t bucket;       // floats per bucket
} g_comm;

// What to try when a call fails, by NCCL's result.
static const char *nccl_hint(ncclResult_t r) {
    switch (r) {
    case ncclUnhandledCudaError: return "a CUDA call inside NCCL failed (NCCL_DEBUG=INFO says which)";
    case ncclSystemError:
        return "a system call or the network failed: check NCCL_SOCKET_IFNAME (the interface the ranks reach "
               "each other on), NCCL_IB_HCA, firewalls; NCCL_DEBUG=INFO says more";
    case ncclInternalError: return "NCCL's own error; NCCL_DEBUG=INFO, and check all ranks run the same NCCL";
    case ncclInvalidArgument: return "a bad argument (a pointer that is not device memory, a count)";
    case ncclInvalidUsage:
        return "two ranks on one GPU, or ranks that disagree on the unique id or the rank count: run one rank "
               "per GPU (CUDA_VISIBLE_DEVICES, the local rank)";
    case ncclRemoteError: return "another rank failed or left (see its log)";
    default: return "NCCL_DEBUG=INFO says more";
    }
}

static int nccl_check(ncclResult_t r, const char *file, int line, const char *expr, grpo_err *err) {
    if (r == ncclSuccess) return GRPO_OK;
    const char *last = ncclGetLastError(g_comm.comm);
    return grpo_errf(err, GRPO_EIO, "%s:%d: %s: %s%s%s (rank %d of %d; hint: %s)", file, line, expr,
                     ncclGetErrorString(r), last && last[0] ? ": " : "", last ? last : "", g_comm.rank, g_comm.nranks,
                     nccl_hint(r));
}
// llm.c's ncclCheck, returning the error instead of exiting: needs `grpo_err *err` in scope.
#define ncclCheck(call)                                                      \
    do {                                                                     \
        int rc_ = nccl_check((call), __FILE__, __LINE__, #call, err);        \
        if (rc_) return rc_;                                                 \
    } while (0)

extern "C" int grpo_cuda_comm_available(void) { return 1; }
extern "C" int grpo_cuda_comm_active(void) { return g_comm.comm != NULL; }

extern "C" int grpo_cuda_comm_unique_id(unsigned char *id, grpo_err *err) {
    static_assert(sizeof(ncclUniqueId) == GRPO_CUDA_COMM_ID_BYTES, "ncclUniqueId size");
    ncclUniqueId u;
    ncclCheck(ncclGetUniqueId(&u));
    memcpy(id, &u, sizeof u);
    return GRPO_OK;
}

extern "C" int grpo_cuda_comm_init(policy_model *m, const unsigned char *id, int rank, int nranks, int local_rank,
                                   grpo_err *err) {
    if (g_comm.comm) return grpo_errf(err, GRPO_EINVAL, "the NCCL communicator is already up");
    int ndev = 0;
    CUDA_CHECK(cudaGetDeviceCount(&ndev));
    if (ndev <= 0) return grpo_errf(err, GRPO_EUNSUPPORTED, "NCCL: no GPU on this node");
    const int want = local_rank % ndev;
    CUDA_CHECK(cudaSetDevice(want)); // a new device state is made on this GPU; an old one must be there
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    if (S->device != want)
        return grpo_errf(err, GRPO_EINVAL, "NCCL: the model is on GPU %d but local rank %d wants GPU %d", S->device,
                         local_rank, want);
    g_comm.rank = rank;
    g_comm.nranks = nranks;
    g_comm.device = S->device;
    const char *mb = getenv("GRPO_NCCL_BUCKET_MB");
    const double mib = mb && atof(mb) > 0 ? atof(mb) : 32.0;
    g_comm.bucket = (size_t)(mib * 1048576.0 / sizeof(float));
    if (g_comm.bucket < 1024) g_comm.bucket = 1024;
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclComm_t c = NULL;
    ncclCheck(ncclCommInitRank(&c, nranks, u, rank));
    g_comm.comm = c;
    CUDA_CHECK(cudaStreamCreateWithFlags(&g_comm.stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&g_comm.ready, cudaEventDisableTiming));
    return GRPO_OK;
}

extern "C" void grpo_cuda_comm_free(void) {
    if (!g_comm.comm) return;
    cudaSetDevice(g_comm.device);
    ncclCommDestroy(g_comm.comm);
    if (g_comm.stream) cudaStreamDestroy(g_comm.stream);
    if (g_comm.ready) cudaEventDestroy(g_comm.ready);
    memset(&g_comm, 0, sizeof g_comm);
}

// Sums grad[off, off + n) over the ranks on the buckets' stream, once the compute stream has
// finished what it launched so far.
static int reduce_range(cuda_state *S, size_t off, size_t n, grpo_err *err) {
    if (!n) return GRPO_OK;
    CUDA_CHECK(cudaEventRecord(g_comm.ready, 0));
    CUDA_CHECK(cudaStreamWaitEvent(g_comm.stream, g_comm.ready, 0));
    for (size_t i = 0; i < n; i += g_comm.bucket) {
        const size_t c = n - i < g_comm.bucket ? n - i : g_comm.bucket;
        float *p = S->grad + off + i;
        ncclCheck(ncclAllReduce(p, p, c, ncclFloat, ncclSum, g_comm.comm, g_comm.stream));
    }
    return GRPO_OK;
}

// The first float of decoder layer l (l = L: the final norm, right after the last layer).
static size_t layer_start(const policy_model *m, int l) {
    const int L = m->cfg.num_hidden_layers;
    for (size_t t = 0; t < m->n_tensors; t++)
        if (l < L ? m->params[t].layer == l : m->params[t].offset > 0 && m->params[t].layer < 0)
            return m->params[t].offset;
    return m->n_params;
}

extern "C" int grpo_cuda_comm_arm(policy_model *m, grpo_err *err) {
    if (!g_comm.comm) return GRPO_OK;
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    S->comm_armed = 1;
    S->comm_pending = layer_start(m, m->cfg.num_hidden_layers); // nothing of the layers handed over yet
    return GRPO_OK;
}

int cu_comm_after_layer(policy_model *m, cuda_state *S, int l, grpo_err *err) {
    if (!S->comm_armed) return GRPO_OK;
    const size_t lo = layer_start(m, l); // layers l.. are final; [lo, comm_pending) not yet handed over
    if (S->comm_pending - lo < g_comm.bucket && l > 0) return GRPO_OK;
    TRY(reduce_range(S, lo, S->comm_pending - lo, err));
    S->comm_pending = lo;
    return GRPO_OK;
}

int cu_comm_after_backward(policy_model *m, cuda_state *S, grpo_err *err) {
    if (!S->comm_armed) return GRPO_OK;
    S->comm_armed = 0;
    const size_t first = layer_start(m, 0), after = layer_start(m, m->cfg.num_hidden_layers);
    TRY(reduce_range(S, first, S->comm_pending - first, err)); // what the layers left (none when l = 0 flushed)
    TRY(reduce_range(S, 0, first, err));                       // the embedding
    TRY(reduce_range(S, after, S->n_params - after, err));     // final norm, lm_head
    CUDA_CHECK(cudaStreamSynchronize(g_comm.stream));
    S->comm_summed = 1;
    return GRPO_OK;
}

extern "C" int grpo_cuda_comm_sum_grad(policy_model *m, grpo_err *err) {
    if (!g_comm.comm) return grpo_errf(err, GRPO_EINVAL, "no NCCL communicator (grpo_cuda_comm_init first)");
    cuda_state *S;
    TRY(cu_state_get(m, &S, err));
    if (!S->grad) return grpo_errf(err, GRPO_EINVAL, "NCCL gradient sum before policy_enable_training");
    if (!S->comm_summed) { // not armed (or nothing ran backward): the whole arena now
        S->comm_armed = 0;
        TRY(reduce_range(S, 0, S->n_params, err));
        CUDA_CHECK(cudaStreamSynchronize(g_comm.stream));
        if (!S->resident)
            CUDA_CHECK(cudaMemcpy(m->grad_mem, S->grad, S->n_params * sizeof(float), cudaMemcpyDeviceToHost));
    }
    S->comm_summed = 0;
    return GRPO_OK;
}

#else // built without NCCL

extern "C" int grpo_cuda_comm_available(void) { return 0; }
extern "C" int grpo_cuda_comm_active(void) { return 0; }
static int no_nccl(grpo_err *err) {
    return grpo_errf(err, GRPO_EUNSUPPORTED,
                     "this grpo was built without NCCL (CMake found no nccl.h/libnccl: install NCCL and rebuild)");
}
extern "C" int grpo_cuda_comm_unique_id(unsigned char *id, grpo_err *err) { return no_nccl(err); }
extern "C" int grpo_cuda_comm_init(policy_model *m, const unsigned char *id, int rank, int nranks, int local_rank,
                                   grpo_err *err) {
    return no_nccl(err);
}
extern "C" void grpo_cuda_comm_free(void) {}
extern "C" int grpo_cuda_comm_arm(policy_model *m, grpo_err *err) { return GRPO_OK; }
extern "C" int grpo_cuda_comm_sum_grad(policy_model *m, grpo_err *err) { return no_nccl(err); }
int cu_comm_after_layer(policy_model *m, cuda_state *S, int l, grpo_err *err) { return GRPO_OK; }
int cu_comm_after_backward(policy_model *m, cuda_state *S, grpo_err *err) { return GRPO_OK; }

#endif
