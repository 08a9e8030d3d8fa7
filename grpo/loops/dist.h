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

#endif
