/* rollout/sampler.h: the sampler chain, in the llama.cpp style: small stages over an array of
 * {id, logit, p} candidates. Each stage is a function that can be tested on a tiny vocabulary.
 * The chain runs: repetition penalty -> temperature -> top-k -> top-p -> min-p -> draw (or greedy).
 * The logprob recorded for a drawn token is log_softmax(logits / T) over the raw, full vocabulary
 * (DESIGN §3): penalties and truncation change which token is drawn, never the logprob. */
#ifndef GRPO_SAMPLER_H
#define GRPO_SAMPLER_H

#include <stddef.h>

#include "../common/rng.h"

typedef struct {
    int id;
    float logit;
    float p;
} smp_token;

typedef struct {
    smp_token *data;
    int n;
    int sorted;  /* data is in descending logit order (ties: lower id first) */
} smp_array;

typedef struct {
    float temperature;        /* 0 = greedy */
    int top_k;                /* 0 = off */
    float top_p;              /* 1 = off */
    float min_p;              /* 0 = off */
    float repetition_penalty; /* 1 = off (HF: logit > 0 ? logit / r : logit * r) */
} smp_params;

/* Default parameters: temperature 1, everything else off. */
smp_params smp_defaults(void);

/* Fills a from logits[0..V) in id order (not sorted). a->data must hold V entries. */
void smp_init(smp_array *a, const float *logits, int V);
/* HF repetition penalty on every id in prev[0..n_prev) (each id once). a is as smp_init left it
 * (id order, p = 0), as at the chain's first stage; it allocates nothing. */
void smp_repetition(smp_array *a, const int *prev, int n_prev, float penalty);
/* Divides logits by t (> 0). */
void smp_temperature(smp_array *a, float t);
/* Sorts by logit, descending (ties: lower id first). */
void smp_sort(smp_array *a);
/* Keeps the k highest logits (k <= 0: no-op). Leaves a sorted. */
void smp_top_k(smp_array *a, int k);
/* Sets p = softmax(logit) over the current candidates. */
void smp_softmax(smp_array *a);
/* Keeps the smallest highest-probability prefix whose mass reaches top_p (at least one), sorted,
 * and renormalizes p. The same result as smp_sort then a cumulative scan, bit for bit, without
 * sorting the candidates that are dropped. */
void smp_top_p(smp_array *a, float top_p);
/* Keeps candidates with p >= min_p * max p (at least one); renormalizes p. */
void smp_min_p(smp_array *a, float min_p);
/* The id with the highest logit (ties: lowest id). */
int smp_greedy(const smp_array *a);
/* Draws an id from p (which must sum to ~1) with one uniform from r. */
int smp_draw(const smp_array *a, rng_state *r);

/* Runs the whole chain on logits[0..V); returns the drawn id and stores its logprob
 * (log_softmax(logits / T), T = 1 when greedy) in *logprob and, when entropy is not NULL, the
 * entropy of that same full distribution in *entropy. work must hold V entries. */
int smp_sample(const smp_params *p, const float *logits, int V, const int *prev, int n_prev, rng_state *r,
               smp_token *work, float *logprob, float *entropy);
/* log_softmax(logits / t)[id] over the full vocabulary, accumulated in double; when entropy is not
 * NULL it also gets -sum p log p of softmax(logits / t) (same pass). */
float smp_logprob(const float *logits, int V, float t, int id, float *entropy);

#endif
