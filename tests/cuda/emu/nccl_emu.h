// tests/cuda/emu/nccl_emu.h: the part of NCCL that policy/cuda/nccl_cuda.cu calls, for the host
// emulation of CUDA (cuda_emu.h). A test double only: the "device" buffers are host memory, and
// ncclAllReduce is an MPI_Allreduce over MPI_COMM_WORLD (nccl_emu.cc), so that `mpirun -np 2 grpo
// train --device cuda` runs the data-parallel device path without a GPU. It checks what NCCL
// would: the buffers are device allocations, every rank joined with the same unique id, the rank
// and the rank count match the launcher's. Built without MPI, only a one-rank communicator works.
#ifndef GRPO_NCCL_EMU_H
#define GRPO_NCCL_EMU_H

#include <stddef.h>

#include "cuda_emu.h"

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7
} ncclResult_t;
typedef enum { ncclFloat = 7 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
typedef struct emu_nccl_comm *ncclComm_t;
typedef struct {
    char internal[128];
} ncclUniqueId;

ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
const char *ncclGetErrorString(ncclResult_t r);
const char *ncclGetLastError(ncclComm_t comm);

#endif
