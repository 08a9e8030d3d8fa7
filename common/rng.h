/* common/rng.h: a small, portable, seedable generator (xoshiro256**, seeded by splitmix64),
 * so that runs reproduce bit for bit on every platform. */
#ifndef GRPO_RNG_H
#define GRPO_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[4]; } rng_state;

/* Mixes x into a well-spread 64-bit value (splitmix64 finalizer). */
uint64_t rng_mix64(uint64_t x);
/* Seeds the generator from one 64-bit value. */
void rng_seed(rng_state *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t rng_next(rng_state *r);
/* Uniform in [0, 1) with 24 bits (float) / 53 bits (double). */
float rng_uniform(rng_state *r);
double rng_uniform_d(rng_state *r);
/* Standard normal (Box-Muller, double precision). */
double rng_normal(rng_state *r);

#endif
