/* grpo/loops/dist.c: see dist.h. */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "policy/model.h"
#ifdef GRPO_HAVE_CUDA
#include "policy/cuda/cuda_backend.h"
#endif
#ifdef GRPO_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_mpi = 0, g_nccl = 0;

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }

static const char *launched_size(void) {
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && atoi(v) > 1) return v;
    }
    return NULL;
}

#ifdef GRPO_HAVE_MPI

static int mpi_fail(grpo_err *err, int code, const char *call, const char *file, int line) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = '\0';
    return grpo_errf(err, GRPO_EIO, "%s failed at %s:%d (rank %d of %d): %s", call, file, line, g_rank, g_size, msg);
}
#define MPI_CHECK(call)                                                                  \
    do {                                                                                 \
        int mpi_rc_ = (call);                                                            \
        if (mpi_rc_ != MPI_SUCCESS) return mpi_fail(err, mpi_rc_, #call, __FILE__, __LINE__); \
    } while (0)

int dist_init(grpo_err *err) {
    if (g_mpi || !launched_size()) return GRPO_OK;
    int provided = 0;
    MPI_CHECK(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided));
    g_mpi = 1;
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &g_size));
    return GRPO_OK;
}

void dist_finalize(void) {
#ifdef GRPO_HAVE_CUDA
    if (g_nccl) grpo_cuda_comm_free();
#endif
    g_nccl = 0;
    if (g_mpi) MPI_Finalize();
    g_mpi = 0;
}

void dist_abort(int code) {
    if (g_mpi && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

/* MPI counts are ints: large arrays go in chunks. */
enum { CHUNK = 1 << 28 };

int dist_sum_f32(float *x, size_t n, grpo_err *err) {
    for (size_t i = 0; g_size > 1 && i < n; i += CHUNK) {
        const int c = (int)(n - i < CHUNK ? n - i : CHUNK);
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x + i, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
    return GRPO_OK;
}

int dist_sum_f64(double *x, size_t n, grpo_err *err) {
    for (size_t i = 0; g_size > 1 && i < n; i += CHUNK) {
        const int c = (int)(n - i < CHUNK ? n - i : CHUNK);
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, x + i, c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    }
    return GRPO_OK;
}

int dist_allgather_f64(const double *mine, size_t n, double *all, grpo_err *err) {
    if (g_size == 1) {
        for (size_t i = 0; i < n; i++) all[i] = mine[i];
        return GRPO_OK;
    }
    if (n > INT_MAX) return grpo_errf(err, GRPO_EINVAL, "allgather of %zu values per rank is too large", n);
    MPI_CHECK(MPI_Allgather(mine, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD));
    return GRPO_OK;
}

int dist_gather_bytes(const void *mine, size_t n, char **all, size_t *counts, grpo_err *err) {
    *all = NULL;
    if (n > INT_MAX) return grpo_errf(err, GRPO_EINVAL, "rank %d: %zu bytes to gather is too large", g_rank, n);
    int mine_n = (int)n, *cnt = NULL, *displ = NULL;
    if (g_rank == 0) {
        cnt = malloc(g_size * sizeof *cnt);
        displ = malloc(g_size * sizeof *displ);
        if (!cnt || !displ) {
            free(cnt);
            free(displ);
            return grpo_errf(err, GRPO_ENOMEM, "out of memory gathering from %d ranks", g_size);
        }
    }
    int rc = MPI_Gather(&mine_n, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        free(cnt);
        free(displ);
        return mpi_fail(err, rc, "MPI_Gather", __FILE__, __LINE__);
    }
    size_t total = 0;
    if (g_rank == 0) {
        for (int r = 0; r < g_size; r++) {
            if (total + (size_t)cnt[r] > INT_MAX) {
                const size_t want = total + (size_t)cnt[r];
                free(cnt);
                free(displ);
                return grpo_errf(err, GRPO_EINVAL, "gathering %zu+ bytes on rank 0 is too large", want);
            }
            displ[r] = (int)total;
            counts[r] = (size_t)cnt[r];
            total += (size_t)cnt[r];
        }
        *all = malloc(total ? total : 1);
        if (!*all) {
            free(cnt);
            free(displ);
            return grpo_errf(err, GRPO_ENOMEM, "out of memory for %zu gathered bytes", total);
        }
    }
    rc = MPI_Gatherv(mine, mine_n, MPI_BYTE, *all, cnt, displ, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(cnt);
    free(displ);
    if (rc != MPI_SUCCESS) {
        free(*all);
        *all = NULL;
        return mpi_fail(err, rc, "MPI_Gatherv", __FILE__, __LINE__);
    }
    return GRPO_OK;
}

int dist_barrier(grpo_err *err) {
    if (g_size > 1) MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    return GRPO_OK;
}

static int env_local_rank(void);
int dist_local_rank(void) {
    const char *v = getenv("GRPO_LOCAL_RANK");
    if (v) return atoi(v);
    if (g_mpi) { /* the ranks that share this node's memory, in world order */
        MPI_Comm node;
        int lr = -1;
        if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
            if (MPI_Comm_rank(node, &lr) != MPI_SUCCESS) lr = -1;
            MPI_Comm_free(&node);
        }
        if (lr >= 0) return lr;
    }
    return env_local_rank();
}

/* The NCCL bootstrap: rank 0's unique id to every rank over MPI, then every rank joins. */
static int nccl_bootstrap(struct policy_model *m, grpo_err *err) {
#ifdef GRPO_HAVE_CUDA
    unsigned char id[GRPO_CUDA_COMM_ID_BYTES] = {0};
    int rc = g_rank == 0 ? grpo_cuda_comm_unique_id(id, err) : GRPO_OK;
    int ok = rc == GRPO_OK, all_ok = 0;
    /* every rank learns whether rank 0 has an id before anyone waits on the broadcast */
    MPI_CHECK(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (!all_ok) return rc ? rc : grpo_errf(err, GRPO_EIO, "rank 0 could not make the NCCL unique id");
    MPI_CHECK(MPI_Bcast(id, (int)sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD));
    return grpo_cuda_comm_init(m, id, g_rank, g_size, dist_local_rank(), err);
#else
    (void)m;
    return grpo_errf(err, GRPO_EUNSUPPORTED, "NCCL without the CUDA backend");
#endif
}

#endif /* GRPO_HAVE_MPI: the one-rank versions follow */
#ifndef GRPO_HAVE_MPI


int dist_init(grpo_err *err) {
    const char *n = launched_size();
    if (n) return grpo_errf(err, GRPO_EUNSUPPORTED, "launched as one of %s ranks, but this grpo was built without MPI "
                            "(install libopenmpi-dev and rebuild)", n);
    return GRPO_OK;
}
void dist_finalize(void) {}
void dist_abort(int code) { (void)code; }
int dist_sum_f32(float *x, size_t n, grpo_err *err) { (void)x, (void)n, (void)err; return GRPO_OK; }
int dist_sum_f64(double *x, size_t n, grpo_err *err) { (void)x, (void)n, (void)err; return GRPO_OK; }
int dist_allgather_f64(const double *mine, size_t n, double *all, grpo_err *err) {
    (void)err;
    for (size_t i = 0; i < n; i++) all[i] = mine[i];
    return GRPO_OK;
}
int dist_gather_bytes(const void *mine, size_t n, char **all, size_t *counts, grpo_err *err) {
    (void)mine, (void)n, (void)all, (void)counts;
    return grpo_errf(err, GRPO_EUNSUPPORTED, "gather without MPI");
}
int dist_barrier(grpo_err *err) { (void)err; return GRPO_OK; }
static int env_local_rank(void);
int dist_local_rank(void) {
    const char *v = getenv("GRPO_LOCAL_RANK");
    return v ? atoi(v) : env_local_rank();
}
static int nccl_bootstrap(struct policy_model *m, grpo_err *err) {
    (void)m;
    return grpo_errf(err, GRPO_EUNSUPPORTED, "NCCL needs MPI to start");
}

#endif

static int env_local_rank(void) {
    const char *names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v) return atoi(v);
    }
    return 0;
}

int dist_device_init(struct policy_model *m, char *how, size_t cap, grpo_err *err) {
    const char *why = "MPI on the host";
    int use = g_size > 1 && m->backend && !strcmp(m->backend->name, "cuda");
#ifdef GRPO_HAVE_CUDA
    if (use && !grpo_cuda_comm_available()) {
        why = "MPI on the host (this grpo was built without NCCL)";
        use = 0;
    }
#else
    use = 0;
#endif
    if (use) {
        int rc = nccl_bootstrap(m, err);
        if (rc) return rc;
        g_nccl = 1;
        why = "NCCL on the GPUs";
    }
    if (how) snprintf(how, cap, "%s", g_size > 1 ? why : "one rank");
    return GRPO_OK;
}

int dist_grads_arm(struct policy_model *m, grpo_err *err) {
#ifdef GRPO_HAVE_CUDA
    if (g_nccl) return grpo_cuda_comm_arm(m, err);
#endif
    (void)m, (void)err;
    return GRPO_OK;
}

int dist_sum_grads(struct policy_model *m, grpo_err *err) {
#ifdef GRPO_HAVE_CUDA
    if (g_nccl) return grpo_cuda_comm_sum_grad(m, err);
#endif
    return dist_sum_f32(m->grad_mem, m->n_params, err);
}
