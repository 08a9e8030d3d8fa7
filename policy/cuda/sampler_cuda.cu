// policy/cuda/sampler_cuda.cu: the sampler chain of rollout/sampler.c on the device, one block per
// row: repetition penalty -> temperature -> top-k -> top-p -> min-p -> draw (or greedy), with the
// completion's own xoshiro256** stream (common/rng.c, seeded on the host from (seed, step, prompt,
// j)). The logprob of the drawn token is not computed here: the generation engine runs the
// learner's own k_logprob_forward on the same logits row, so that it equals the learner's.
//
// No sort: top-k and top-p find their cut in the chain's total order (logit descending, ties by
// lower id) by bisection over the 32-bit order key of the candidate logits, then over the ids of
// the tied candidates; min-p keeps exp(w - max) >= min_p. The draw inverts the CDF of the kept
// candidates in id order (the CPU chain draws in its sorted order: the same distribution, other
// ids at equal seeds). Every reduction runs in a fixed order over a fixed thread layout, so a
// row's result does not depend on the rows around it.
#include <math.h>

#include "cuda_backend.h"
#include "cuda_common.cuh"

#define SMP_THREADS 256

struct smp_add {
    template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct smp_max {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct smp_min {
    __device__ int operator()(int a, int b) const { return a < b ? a : b; }
};

// The op over the block's values, in a fixed tree order; every thread gets the result.
template <class T, class Op> __device__ T smp_reduce(T v, Op op, T *sm) {
    const int t = threadIdx.x;
    sm[t] = v;
    __syncthreads();
    for (int s = SMP_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) sm[t] = op(sm[t], sm[t + s]);
        __syncthreads();
    }
    const T r = sm[0];
    __syncthreads();
    return r;
}

// One row's candidates: the penalized, temperature-scaled logit of id v.
struct smp_row {
    const float *z;
    const unsigned char *seen; // NULL: no repetition penalty
    float rep, inv;            // inv = 1/T (1 when greedy)
    __device__ float w(int v) const {
        float x = z[v];
        if (seen && seen[v]) x = x > 0 ? x / rep : x * rep;
        return x * inv;
    }
};

// A total order on floats as unsigned keys (larger float, larger key).
__device__ __forceinline__ unsigned smp_key(float x) {
    const unsigned u = __float_as_uint(x);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

__device__ __forceinline__ uint64_t smp_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
// rng_uniform_d of common/rng.c: xoshiro256** then 53 bits
__device__ double smp_uniform(uint64_t *s) {
    const uint64_t r = smp_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = smp_rotl(s[3], 45);
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

// What the row keeps after top-k and top-p: key > kcut, or key == kcut and id <= idcut.
struct smp_cut {
    unsigned key;
    int id;
    __device__ bool keeps(unsigned k, int v) const { return k > key || (k == key && v <= id); }
};

struct smp_shared {
    double d[SMP_THREADS];
    float f[SMP_THREADS];
    int i[SMP_THREADS];
};

// The cut that keeps the first candidates (in the chain's order, among those `prev` keeps) whose
// measure reaches `need`: the count (mass = 0) or the mass of exp(w - M) (mass = 1).
__device__ smp_cut smp_find_cut(const smp_row &r, int V, smp_cut prev, int mass, float M, double need,
                                smp_shared *sh) {
    unsigned key = 0;
    for (int bit = 31; bit >= 0; bit--) {
        const unsigned cand = key | (1u << bit);
        double acc = 0.0;
        for (int v = threadIdx.x; v < V; v += SMP_THREADS) {
            const float x = r.w(v);
            const unsigned k = smp_key(x);
            if (k >= cand && prev.keeps(k, v)) acc += mass ? (double)expf(x - M) : 1.0;
        }
        if (smp_reduce(acc, smp_add(), sh->d) >= need) key = cand;
    }
    // above the cut key, and the ties at it in id order
    double above = 0.0;
    for (int v = threadIdx.x; v < V; v += SMP_THREADS) {
        const float x = r.w(v);
        const unsigned k = smp_key(x);
        if (k > key && prev.keeps(k, v)) above += mass ? (double)expf(x - M) : 1.0;
    }
    above = smp_reduce(above, smp_add(), sh->d);
    int lo = 0, hi = V - 1; // the smallest id c with above + ties(id <= c) >= need
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        double acc = 0.0;
        for (int v = threadIdx.x; v <= mid; v += SMP_THREADS) {
            const float x = r.w(v);
            const unsigned k = smp_key(x);
            if (k == key && prev.keeps(k, v)) acc += mass ? (double)expf(x - M) : 1.0;
        }
        if (above + smp_reduce(acc, smp_add(), sh->d) >= need) hi = mid;
        else lo = mid + 1;
    }
    smp_cut c = {key, lo};
    return c;
}

__global__ static void sample_kernel(int *ids, float *ent, const float *logits, const int *lrow, const int *comp,
                                     int V, grpo_cuda_sampling p, uint64_t *rng, unsigned char *seen) {
    __shared__ smp_shared sh;
    const int b = blockIdx.x, t = threadIdx.x, c = comp[b];
    const int greedy = p.temperature <= 0.0f;
    smp_row r;
    r.z = logits + (size_t)lrow[b] * V;
    r.seen = seen && p.repetition_penalty != 1.0f ? seen + (size_t)c * V : NULL;
    r.rep = p.repetition_penalty;
    r.inv = greedy ? 1.0f : 1.0f / p.temperature;

    // the entropy of softmax(z * inv) over the raw logits (no penalty), as smp_logprob
    float zm = -INFINITY;
    for (int v = t; v < V; v += SMP_THREADS) zm = fmaxf(zm, r.z[v] * r.inv);
    zm = smp_reduce(zm, smp_max(), sh.f);
    double se = 0.0, sz = 0.0;
    for (int v = t; v < V; v += SMP_THREADS) {
        const float y = r.z[v] * r.inv - zm, e = expf(y);
        se += e;
        sz += (double)y * e;
    }
    se = smp_reduce(se, smp_add(), sh.d);
    sz = smp_reduce(sz, smp_add(), sh.d);

    float M = -INFINITY;
    for (int v = t; v < V; v += SMP_THREADS) M = fmaxf(M, r.w(v));
    M = smp_reduce(M, smp_max(), sh.f);
    int id;
    if (greedy) { // the highest candidate logit, ties to the lowest id
        int best = V;
        for (int v = t; v < V; v += SMP_THREADS)
            if (r.w(v) == M && v < best) best = v;
        id = smp_reduce(best, smp_min(), sh.i);
    } else {
        smp_cut cut = {0u, V - 1}; // keeps everything
        if (p.top_k > 0 && p.top_k < V) cut = smp_find_cut(r, V, cut, 0, M, (double)p.top_k, &sh);
        if (p.top_p < 1.0f) {
            double kept = 0.0;
            for (int v = t; v < V; v += SMP_THREADS) {
                const float x = r.w(v);
                if (cut.keeps(smp_key(x), v)) kept += expf(x - M);
            }
            kept = smp_reduce(kept, smp_add(), sh.d);
            cut = smp_find_cut(r, V, cut, 1, M, (double)p.top_p * kept, &sh);
        }
        // the kept masses per thread's contiguous chunk, then one thread inverts the CDF
        const int chunk = (V + SMP_THREADS - 1) / SMP_THREADS, v0 = t * chunk, v1 = min(V, v0 + chunk);
        double cs = 0.0;
        for (int v = v0; v < v1; v++) {
            const float x = r.w(v), e = expf(x - M);
            if (cut.keeps(smp_key(x), v) && e >= p.min_p) cs += e;
        }
        sh.d[t] = cs;
        __syncthreads();
        if (t == 0) {
            double total = 0.0;
            for (int i = 0; i < SMP_THREADS; i++) total += sh.d[i];
            const double target = smp_uniform(rng + (size_t)c * 4) * total;
            double cum = 0.0;
            int ch = 0;
            while (ch + 1 < SMP_THREADS && cum + sh.d[ch] <= target) cum += sh.d[ch++];
            int pick = -1, last = -1; // scan on from chunk ch (rounding slack can carry past its end)
            for (int v = ch * chunk; v < V && pick < 0; v++) {
                const float x = r.w(v), e = expf(x - M);
                if (!(cut.keeps(smp_key(x), v) && e >= p.min_p)) continue;
                last = v;
                cum += e;
                if (target < cum) pick = v;
            }
            sh.i[0] = pick >= 0 ? pick : last >= 0 ? last : 0;
        }
        __syncthreads();
        id = sh.i[0];
    }
    if (t == 0) {
        ids[b] = id;
        ent[b] = (float)(log(se) - sz / se);
        if (seen) seen[(size_t)c * V + id] = 1;
    }
}

int k_sample(int *ids, float *ent, const float *logits, const int *lrow, const int *comp, int rows, int V,
             const grpo_cuda_sampling *p, uint64_t *rng, unsigned char *seen, grpo_err *err) {
    if (rows <= 0) return GRPO_OK;
    KLAUNCH(sample_kernel, rows, SMP_THREADS, 0, ids, ent, logits, lrow, comp, V, *p, rng, seen);
    LAUNCH_CHECK("sample_kernel");
    return GRPO_OK;
}
