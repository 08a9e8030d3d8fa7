/* common/fastmath.h: the exp and log-sum-exp that the policy's CPU kernels and the sampler share,
 * so that the sampler's logprobs and the learner's are computed with the same arithmetic. */
#ifndef GRPO_COMMON_FASTMATH_H
#define GRPO_COMMON_FASTMATH_H

#include <math.h>

/* exp(x) for x in [-87, 88] (clamped outside) to about 2 ulp: 2^k times a degree-6 polynomial of
 * the reduced argument. Plain arithmetic and bit moves, so loops calling it vectorize without
 * -ffast-math, unlike glibc's expf. */
static inline float grpo_expf(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    const float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int bits = ((int)k + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* log(sum_v exp(z[v] * inv_t - max)) + max over a row of n logits, with vectorizable partial maxima
 * and sums (16 lanes, combined in double). */
static inline double grpo_logsumexp(const float *z, int n, float inv_t, float *max_out) {
    float m16[16];
    for (int l = 0; l < 16; l++) m16[l] = -3.0e38f;
    int v = 0;
    for (; v + 16 <= n; v += 16)
        for (int l = 0; l < 16; l++) m16[l] = z[v + l] * inv_t > m16[l] ? z[v + l] * inv_t : m16[l];
    float mx = -3.0e38f;
    for (int l = 0; l < 16; l++) mx = m16[l] > mx ? m16[l] : mx;
    for (; v < n; v++) mx = z[v] * inv_t > mx ? z[v] * inv_t : mx;
    float s16[16] = {0};
    for (v = 0; v + 16 <= n; v += 16)
        for (int l = 0; l < 16; l++) s16[l] += grpo_expf(z[v + l] * inv_t - mx);
    double se = 0.0;
    for (int l = 0; l < 16; l++) se += s16[l];
    for (; v < n; v++) se += grpo_expf(z[v] * inv_t - mx);
    *max_out = mx;
    return log(se) + mx;
}

#endif
