// tests/cuda/emu/nccl_emu.cc: the NCCL test double of nccl_emu.h (see there).
#include "nccl_emu.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef GRPO_EMU_HAVE_MPI
#include <mpi.h>
#endif

struct emu_nccl_comm {
    int rank, nranks;
};
static char g_last[256];

static ncclResult_t fail(ncclResult_t r, const char *msg) {
    snprintf(g_last, sizeof g_last, "emulated NCCL: %s", msg);
    return r;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    const uint64_t w[2] = {(uint64_t)getpid(), (uint64_t)time(NULL) * 1000003u + (uint64_t)clock()};
    memcpy(id->internal, w, sizeof w);
    return ncclSuccess;
}

static uint64_t id_hash(const ncclUniqueId &id) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof id.internal; i++) h = (h ^ (unsigned char)id.internal[i]) * 1099511628211ull;
    return h;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (nranks < 1 || rank < 0 || rank >= nranks) return fail(ncclInvalidArgument, "rank out of range");
    if (nranks > 1) {
#ifdef GRPO_EMU_HAVE_MPI
        int up = 0, r = -1, n = 0;
        MPI_Initialized(&up);
        if (!up) return fail(ncclInvalidUsage, "several ranks need MPI started (the emulation reduces over MPI)");
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
        MPI_Comm_size(MPI_COMM_WORLD, &n);
        if (r != rank || n != nranks) return fail(ncclInvalidUsage, "rank or rank count differ from MPI's");
        // every rank must hold rank 0's id (what the bootstrap broadcast is for)
        unsigned long long h = id_hash(id), lo = 0, hi = 0;
        MPI_Allreduce(&h, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&h, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
        if (lo != hi) return fail(ncclInvalidUsage, "the ranks joined with different unique ids");
#else
        return fail(ncclInvalidUsage, "several ranks need a build with MPI");
#endif
    }
    *comm = new emu_nccl_comm{rank, nranks};
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    delete comm;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t) {
    if (!comm) return fail(ncclInvalidArgument, "no communicator");
    if (type != ncclFloat || op != ncclSum) return fail(ncclInvalidArgument, "only float sums are emulated");
    if (!emu_is_device(sendbuff, count * sizeof(float)) || !emu_is_device(recvbuff, count * sizeof(float)))
        return fail(ncclInvalidArgument, "a buffer is not device memory (or overruns its allocation)");
    if (sendbuff != recvbuff) memmove(recvbuff, sendbuff, count * sizeof(float));
    if (comm->nranks == 1) return ncclSuccess;
#ifdef GRPO_EMU_HAVE_MPI
    for (size_t i = 0; i < count; i += 1u << 28) {
        const int c = (int)(count - i < (1u << 28) ? count - i : (1u << 28));
        if (MPI_Allreduce(MPI_IN_PLACE, (float *)recvbuff + i, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return fail(ncclSystemError, "MPI_Allreduce failed");
    }
    return ncclSuccess;
#else
    return fail(ncclInvalidUsage, "several ranks need a build with MPI");
#endif
}

const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    default: return "unknown result code";
    }
}
const char *ncclGetLastError(ncclComm_t) { return g_last; }
