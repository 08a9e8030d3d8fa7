/* rollout/sampler.c: the sampler chain stages (see sampler.h). */
#include "sampler.h"

#include "../common/fastmath.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

smp_params smp_defaults(void) {
    return (smp_params){.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .repetition_penalty = 1.0f};
}

void smp_init(smp_array *a, const float *logits, int V) {
    for (int i = 0; i < V; i++) a->data[i] = (smp_token){.id = i, .logit = logits[i], .p = 0.0f};
    a->n = V;
    a->sorted = 0;
}

void smp_repetition(smp_array *a, const int *prev, int n_prev, float penalty) {
    if (penalty == 1.0f || n_prev <= 0) return;
    /* candidates are still in id order here (the chain applies this stage first), and p is still 0
     * (smp_init): p = 1 marks an id already penalized, so each id is penalized once, with no
     * allocation per token; the marks are cleared after */
    for (int i = 0; i < n_prev; i++) {
        int id = prev[i];
        if (id < 0 || id >= a->n || a->data[id].p != 0.0f) continue;
        a->data[id].p = 1.0f;
        float *l = &a->data[id].logit;
        *l = *l > 0 ? *l / penalty : *l * penalty;
    }
    for (int i = 0; i < n_prev; i++)
        if (prev[i] >= 0 && prev[i] < a->n) a->data[prev[i]].p = 0.0f;
}

void smp_temperature(smp_array *a, float t) {
    const float inv = 1.0f / t;
    for (int i = 0; i < a->n; i++) a->data[i].logit *= inv;
}

/* ---- the candidates' order: higher logit first, ties lower id first (a strict total order: ids are
 * unique). Every sort and selection below produces exactly this order, so which algorithm ran never
 * changes a result. ---- */

static inline int before(const smp_token *x, const smp_token *y) {
    return x->logit > y->logit || (!(x->logit < y->logit) && x->id < y->id);
}

static inline void swap_tok(smp_token *x, smp_token *y) {
    smp_token t = *x;
    *x = *y;
    *y = t;
}

/* A heap over h[0..k) whose root is the last in order (the worst kept). */
static void heap_sift(smp_token *h, int k, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && before(&h[w], &h[l])) w = l;
        if (r < k && before(&h[w], &h[r])) w = r;
        if (w == i) return;
        swap_tok(&h[i], &h[w]);
        i = w;
    }
}

static void heap_sort(smp_token *d, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) heap_sift(d, n, i);
    for (int end = n - 1; end > 0; end--) {
        swap_tok(&d[0], &d[end]); /* the worst left goes last */
        heap_sift(d, end, 0);
    }
}

static void insertion_sort(smp_token *d, int n) {
    for (int i = 1; i < n; i++) {
        const smp_token x = d[i];
        int j = i;
        for (; j > 0 && before(&x, &d[j - 1]); j--) d[j] = d[j - 1];
        d[j] = x;
    }
}

/* Introsort: quicksort (median of three moved to the front, Hoare partition), insertion sort below 16,
 * heap sort when the depth runs out. Inlined comparisons: several times faster than qsort here. */
static void sort_range(smp_token *d, int n, int depth) {
    while (n > 16) {
        if (depth-- <= 0) {
            heap_sort(d, n);
            return;
        }
        smp_token *a = &d[0], *b = &d[n / 2], *c = &d[n - 1], *m;
        if (before(a, b)) m = before(b, c) ? b : (before(a, c) ? c : a);
        else m = before(a, c) ? a : (before(b, c) ? c : b);
        swap_tok(&d[0], m);
        const smp_token pv = d[0];
        int i = -1, j = n;
        for (;;) {
            do i++;
            while (before(&d[i], &pv));
            do j--;
            while (before(&pv, &d[j]));
            if (i >= j) break;
            swap_tok(&d[i], &d[j]);
        }
        /* d[0..j] before d[j+1..n), both non-empty; recurse on the smaller side */
        if (j + 1 < n - j - 1) {
            sort_range(d, j + 1, depth);
            d += j + 1;
            n -= j + 1;
        } else {
            sort_range(d + j + 1, n - j - 1, depth);
            n = j + 1;
        }
    }
    insertion_sort(d, n);
}

static void sort_tokens(smp_token *d, int n) {
    int depth = 0;
    for (int x = n; x > 1; x >>= 1) depth += 2;
    sort_range(d, n, depth);
}

void smp_sort(smp_array *a) {
    if (a->sorted) return;
    sort_tokens(a->data, a->n);
    a->sorted = 1;
}

/* Keeps the k best with a size-k heap whose root is the worst kept, then sorts them: O(n log k). */
static void select_top(smp_array *a, int k) {
    smp_token *h = a->data; /* the first k entries become the heap */
    for (int i = k / 2 - 1; i >= 0; i--) heap_sift(h, k, i);
    for (int i = k; i < a->n; i++)
        if (before(&a->data[i], &h[0])) {
            h[0] = a->data[i];
            heap_sift(h, k, 0);
        }
    a->n = k;
    a->sorted = 0;
    smp_sort(a);
}

void smp_top_k(smp_array *a, int k) {
    if (k <= 0 || k >= a->n) return;
    if (a->sorted) a->n = k;
    else select_top(a, k);
}

void smp_softmax(smp_array *a) {
    float mx = -INFINITY;
    for (int i = 0; i < a->n; i++) mx = a->data[i].logit > mx ? a->data[i].logit : mx;
    double sum = 0.0;
    for (int i = 0; i < a->n; i++) {
        a->data[i].p = expf(a->data[i].logit - mx);
        sum += a->data[i].p;
    }
    for (int i = 0; i < a->n; i++) a->data[i].p = (float)(a->data[i].p / sum);
}

static void renormalize(smp_array *a) {
    double sum = 0.0;
    for (int i = 0; i < a->n; i++) sum += a->data[i].p;
    for (int i = 0; i < a->n; i++) a->data[i].p = (float)(a->data[i].p / sum);
}

/* ---- top-p without a full sort ----
 * Candidates fall into N_BUCKETS buckets by how far their logit lies below the top one: the finite
 * logits' span (at most MAX_SPAN nats) cut into equal slices, the last bucket holding everything
 * further down (and -inf, NaN). The bucket is monotone in the logit (float subtraction and scaling
 * are), so every candidate of a lower bucket comes first in the order. One pass sums each bucket's
 * mass; the buckets up to the one where that mass reaches top_p are moved to the front bucket by
 * bucket (an in-place counting sort) and each is sorted; the exact cumulative scan then runs over
 * that sorted prefix in the same order, with the same sums, as over a full sort. Should rounding
 * leave the scan short, the next bucket follows the same way. */
enum { N_BUCKETS = 256 };
#define MAX_SPAN 32.0f

static inline int bucket_of(float logit, float top, float scale) {
    const float x = (top - logit) * scale;
    return x < (float)(N_BUCKETS - 1) ? (int)x : N_BUCKETS - 1;
}

/* Moves d[0..n) so that the candidates of buckets b0..b1 come first, bucket after bucket (cnt[b] of
 * each), the rest after them; sorts each of those buckets. Returns how many were placed. */
static int place_buckets(smp_token *d, int n, float top, float scale, int b0, int b1, const int *cnt) {
    int start[N_BUCKETS + 1], next[N_BUCKETS + 1];
    const int nb = b1 - b0 + 1; /* slot nb is "the rest" */
    int off = 0;
    for (int b = 0; b < nb; b++) start[b] = next[b] = off, off += cnt[b0 + b];
    start[nb] = next[nb] = off;
    const int placed = off;
    for (int b = 0; b < nb; b++) {
        const int end = start[b + 1];
        while (next[b] < end) {
            int t = bucket_of(d[next[b]].logit, top, scale) - b0;
            if (t > nb) t = nb;
            if (t == b) next[b]++;
            else swap_tok(&d[next[b]], &d[next[t]++]);
        }
    }
    for (int b = 0; b < nb; b++) sort_tokens(d + start[b], cnt[b0 + b]);
    return placed;
}

void smp_top_p(smp_array *a, float top_p) {
    if (top_p >= 1.0f) return;
    double cum = 0.0;
    int keep = a->n;
    if (a->sorted) {
        for (int i = 0; i < a->n; i++)
            if ((cum += a->data[i].p) >= top_p) {
                keep = i + 1;
                break;
            }
    } else {
        float top = -INFINITY, low = INFINITY;
        for (int i = 0; i < a->n; i++) {
            const float l = a->data[i].logit;
            top = l > top ? l : top;
            low = l < low && l > -INFINITY ? l : low;
        }
        float span = top - low;
        span = span < MAX_SPAN ? span : MAX_SPAN; /* NaN (no finite logit) too */
        const float scale = (float)(N_BUCKETS - 1) / (span > 1e-6f ? span : 1e-6f);
        int cnt[N_BUCKETS] = {0};
        double mass[N_BUCKETS] = {0};
        for (int i = 0; i < a->n; i++) {
            const int b = bucket_of(a->data[i].logit, top, scale);
            cnt[b]++;
            mass[b] += a->data[i].p;
        }
        int lo = 0, b0 = 0, found = 0;
        while (!found && lo < a->n) {
            int b1 = b0; /* the buckets b0..b1 whose mass takes the sum to top_p */
            for (double m = cum + mass[b1]; b1 < N_BUCKETS - 1 && m < top_p; m += mass[++b1]) {}
            const int hi = lo + place_buckets(a->data + lo, a->n - lo, top, scale, b0, b1, cnt);
            for (int i = lo; i < hi; i++)
                if ((cum += a->data[i].p) >= top_p) {
                    keep = i + 1;
                    found = 1;
                    break;
                }
            lo = hi;
            b0 = b1 + 1;
        }
    }
    a->n = keep;
    a->sorted = 1;
    renormalize(a);
}

void smp_min_p(smp_array *a, float min_p) {
    if (min_p <= 0.0f) return;
    float pmax = 0.0f;
    for (int i = 0; i < a->n; i++) pmax = a->data[i].p > pmax ? a->data[i].p : pmax;
    const float thr = min_p * pmax;
    int k = 0;
    for (int i = 0; i < a->n; i++)
        if (a->data[i].p >= thr) a->data[k++] = a->data[i];
    a->n = k;
    renormalize(a);
}

int smp_greedy(const smp_array *a) {
    int best = 0;
    for (int i = 1; i < a->n; i++)
        if (before(&a->data[i], &a->data[best])) best = i;
    return a->data[best].id;
}

int smp_draw(const smp_array *a, rng_state *r) {
    double u = rng_uniform_d(r), cum = 0.0;
    for (int i = 0; i < a->n; i++) {
        cum += a->data[i].p;
        if (u < cum) return a->data[i].id;
    }
    return a->data[a->n - 1].id; /* u landed in the rounding slack at the top */
}

float smp_logprob(const float *logits, int V, float t, int id, float *entropy) {
    const float inv = 1.0f / t;
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = logits[i] * inv > mx ? logits[i] * inv : mx;
    /* se = sum e^z, sz = sum z e^z with z = logits/t - mx; H = log se - sz / se */
    double se = 0.0, sz = 0.0;
    if (entropy) {
        for (int i = 0; i < V; i++) {
            const float z = logits[i] * inv - mx, e = expf(z);
            se += e;
            sz += (double)z * e;
        }
        *entropy = (float)(log(se) - sz / se);
    } else {
        for (int i = 0; i < V; i++) se += expf(logits[i] * inv - mx);
    }
    return logits[id] * inv - mx - (float)log(se);
}

/* The plain chain (temperature only: no penalty, top-k, top-p or min-p) in three vectorized passes
 * instead of eight: the max, then e = exp(z) with z = (logit - max) / T in blocks of 1024 (16 float
 * lanes per block, blocks summed in double), then the draw, which finds its block from the block sums
 * and scans only that block. It draws from the same distribution as the full chain (tested by
 * chi-square), though not with the same rounding, so ids can differ from the chain's at equal seeds.
 * work holds V smp_tokens: the first V floats take e, the block sums follow. */
enum { PLAIN_BLOCK = 1024 };

static int sample_plain(const float *logits, int V, float t, rng_state *r, smp_token *work, float *logprob,
                        float *entropy) {
    float *e = (float *)work;
    const int nb = (V + PLAIN_BLOCK - 1) / PLAIN_BLOCK;
    double *bsum = (double *)(void *)(((uintptr_t)(e + V) + 7) & ~(uintptr_t)7);
    const float inv = 1.0f / t;
    float m16[16];
    for (int l = 0; l < 16; l++) m16[l] = -INFINITY;
    int v = 0;
    for (; v + 16 <= V; v += 16)
        for (int l = 0; l < 16; l++) m16[l] = logits[v + l] > m16[l] ? logits[v + l] : m16[l];
    float lmax = -INFINITY;
    for (int l = 0; l < 16; l++) lmax = m16[l] > lmax ? m16[l] : lmax;
    for (; v < V; v++) lmax = logits[v] > lmax ? logits[v] : lmax;
    double sum = 0.0, sz = 0.0;
    for (int b = 0; b < nb; b++) {
        const int b0 = b * PLAIN_BLOCK, b1 = b0 + PLAIN_BLOCK < V ? b0 + PLAIN_BLOCK : V;
        float s16[16] = {0}, q16[16] = {0};
        int i = b0;
        for (; i + 16 <= b1; i += 16)
            for (int l = 0; l < 16; l++) {
                const float z = (logits[i + l] - lmax) * inv, x = grpo_expf(z);
                e[i + l] = x;
                s16[l] += x;
                q16[l] += z * x;
            }
        double bs = 0.0, bq = 0.0;
        for (int l = 0; l < 16; l++) bs += s16[l], bq += q16[l];
        for (; i < b1; i++) {
            const float z = (logits[i] - lmax) * inv, x = grpo_expf(z);
            e[i] = x;
            bs += x;
            bq += (double)z * x;
        }
        bsum[b] = bs;
        sum += bs;
        sz += bq;
    }
    const double target = rng_uniform_d(r) * sum;
    double cum = 0.0;
    int b = 0;
    while (b + 1 < nb && cum + bsum[b] <= target) cum += bsum[b++];
    const int b0 = b * PLAIN_BLOCK, b1 = b0 + PLAIN_BLOCK < V ? b0 + PLAIN_BLOCK : V;
    int id = -1, last = b0;
    for (int i = b0; i < b1; i++) {
        if (e[i] > 0.0f) last = i;
        cum += e[i];
        if (target < cum && e[i] > 0.0f) {
            id = i;
            break;
        }
    }
    if (id < 0) id = last; /* target landed in the rounding slack between the block sum and the scan */
    const double lse = log(sum);
    if (entropy) *entropy = (float)(lse - sz / sum);
    *logprob = (float)((double)((logits[id] - lmax) * inv) - lse);
    return id;
}

int smp_sample(const smp_params *p, const float *logits, int V, const int *prev, int n_prev, rng_state *r,
               smp_token *work, float *logprob, float *entropy) {
    if (V >= 2 && p->temperature > 0.0f && (p->repetition_penalty == 1.0f || n_prev <= 0) && (p->top_k <= 0 || p->top_k >= V) &&
        p->top_p >= 1.0f && p->min_p <= 0.0f)
        return sample_plain(logits, V, p->temperature, r, work, logprob, entropy);
    smp_array a = {.data = work};
    smp_init(&a, logits, V);
    smp_repetition(&a, prev, n_prev, p->repetition_penalty);
    int id;
    if (p->temperature <= 0.0f) {
        id = smp_greedy(&a);
        *logprob = smp_logprob(logits, V, 1.0f, id, entropy);
        return id;
    }
    smp_temperature(&a, p->temperature);
    smp_top_k(&a, p->top_k);
    smp_softmax(&a);
    smp_top_p(&a, p->top_p);
    smp_min_p(&a, p->min_p);
    id = smp_draw(&a, r);
    *logprob = smp_logprob(logits, V, p->temperature, id, entropy);
    return id;
}
