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

static int cmp_desc(const void *x, const void *y) {
    const smp_token *a = x, *b = y;
    if (a->logit > b->logit) return -1;
    if (a->logit < b->logit) return 1;
    return (a->id > b->id) - (a->id < b->id);
}

void smp_sort(smp_array *a) {
    if (a->sorted) return;
    qsort(a->data, (size_t)a->n, sizeof *a->data, cmp_desc);
    a->sorted = 1;
}

/* Keeps the k best (in cmp_desc's total order) with a size-k heap whose root is the worst kept,
 * then sorts them: O(n log k). */
static void heap_sift(smp_token *h, int k, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && cmp_desc(&h[l], &h[w]) > 0) w = l;
        if (r < k && cmp_desc(&h[r], &h[w]) > 0) w = r;
        if (w == i) return;
        smp_token t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void select_top(smp_array *a, int k) {
    smp_token *h = a->data; /* the first k entries become the heap */
    for (int i = k / 2 - 1; i >= 0; i--) heap_sift(h, k, i);
    for (int i = k; i < a->n; i++)
        if (cmp_desc(&a->data[i], &h[0]) < 0) {
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

void smp_top_p(smp_array *a, float top_p) {
    if (top_p >= 1.0f) return;
    smp_sort(a);
    double cum = 0.0;
    int keep = a->n;
    for (int i = 0; i < a->n; i++) {
        cum += a->data[i].p;
        if (cum >= top_p) {
            keep = i + 1;
            break;
        }
    }
    a->n = keep;
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
        if (cmp_desc(&a->data[i], &a->data[best]) < 0) best = i;
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
