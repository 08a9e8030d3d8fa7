/* grpo/loops/dist.h: data parallelism across processes (DESIGN §1, §5). One process per rank, launched by
 * mpirun/srun; MPI all-reduces on the CPU. A process not launched that way (or a build without MPI)
 * is rank 0 of 1, and every call below is a no-op, so the train loop reads the same either way.
 * Failures come back as error codes with file:line; nothing here prints or exits. */
#ifndef GRPO_DIST_H
#define GRPO_DIST_H

#include <stddef.h>

#include "common/err.h"

/* Starts MPI when the environment says this process was launched as one of several ranks
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_SIZE above 1); otherwise does nothing. */
int dist_init(grpo_err *err);
/* Ends MPI when dist_init started it. */
void dist_finalize(void);
/* Ends every rank at once (a rank that failed must not leave the others waiting in a collective). */
void dist_abort(int code);

int dist_rank(void);
int dist_size(void);

/* In-place sums over all ranks. */
int dist_sum_f32(float *x, size_t n, grpo_err *err);
int dist_sum_f64(double *x, size_t n, grpo_err *err);
/* Each rank gives n doubles; every rank gets all size * n, in rank order. */
int dist_allgather_f64(const double *mine, size_t n, double *all, grpo_err *err);
/* Rank 0 receives every rank's bytes, in rank order, into *all (malloc'ed; counts[r] bytes from
 * rank r, counts has dist_size() entries). Other ranks get *all = NULL. */
int dist_gather_bytes(const void *mine, size_t n, char **all, size_t *counts, grpo_err *err);
int dist_barrier(grpo_err *err);

/* ---- gradients of the learner (the train loop's one sum per optimizer step) ----
 * On the CUDA backend with several ranks, dist_device_init joins the ranks' GPUs into one NCCL
 * communicator (this rank's GPU chosen by its local rank; rank 0 makes the unique id and MPI
 * broadcasts it), and the gradients are then summed on the device; otherwise (the CPU backend, one
 * rank, a build without NCCL) they are summed on the host with MPI. */
struct policy_model;
/* This rank's index among the ranks on its node: GRPO_LOCAL_RANK when set, else MPI's shared-memory
 * split (MPI_Comm_split_type), else OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID / LOCAL_RANK, else 0. */
int dist_local_rank(void);
/* See above; *how gets which path the gradients take, for the log. */
int dist_device_init(struct policy_model *m, char *how, size_t cap, grpo_err *err);
/* Before the last backward of an optimizer step: NCCL sums finished layers while it runs. */
int dist_grads_arm(struct policy_model *m, grpo_err *err);
/* The step's gradients summed over the ranks (in m->grad_mem, and on the device with NCCL). */
int dist_sum_grads(struct policy_model *m, grpo_err *err);

#endif
