/* tests/rollout/test_sampler.c: each sampler stage on tiny vocabularies against hand-computed
 * distributions, and sampling frequencies against the truncated distribution (chi-square). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../rollout/sampler.h"

int register_sampler_suite(void);

static smp_token buf[64];

static smp_array from_logits(const float *l, int n) {
    smp_array a = {.data = buf};
    smp_init(&a, l, n);
    return a;
}

static void temperature_divides_every_logit(void) {
    const float l[5] = {1, 2, 3, 0, -1};
    smp_array a = from_logits(l, 5);
    smp_temperature(&a, 0.5f);
    for (int i = 0; i < 5; i++) CU_ASSERT_DOUBLE_EQUAL(a.data[i].logit, 2 * l[i], 1e-7);
}

static void softmax_matches_hand_computed_probabilities(void) {
    /* logits ln(1), ln(2), ln(3), ln(4): p = 0.1, 0.2, 0.3, 0.4 */
    const float l[4] = {0.0f, logf(2), logf(3), logf(4)};
    smp_array a = from_logits(l, 4);
    smp_softmax(&a);
    const float want[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(a.data[i].p, want[i], 1e-6);
}

static void top_k_keeps_the_k_largest_in_order(void) {
    const float l[5] = {0.5f, 3.0f, -1.0f, 2.0f, 2.0f};
    smp_array a = from_logits(l, 5);
    smp_top_k(&a, 3);
    CU_ASSERT_EQUAL(a.n, 3);
    CU_ASSERT_EQUAL(a.data[0].id, 1);
    CU_ASSERT_EQUAL(a.data[1].id, 3); /* tie with id 4: lower id first */
    CU_ASSERT_EQUAL(a.data[2].id, 4);
}

static void top_k_selection_equals_a_full_sort_on_random_arrays(void) {
    rng_state r;
    rng_seed(&r, 99);
    for (int trial = 0; trial < 500; trial++) {
        int n = 1 + (int)(rng_next(&r) % 60), k = 1 + (int)(rng_next(&r) % n);
        float l[64];
        for (int i = 0; i < n; i++) l[i] = (float)(rng_next(&r) % 7); /* many ties */
        smp_array a = from_logits(l, n);
        smp_top_k(&a, k);
        smp_token ref[64];
        smp_array b = {.data = ref};
        smp_init(&b, l, n);
        smp_sort(&b);
        /* k == n keeps everything in place; k < n leaves the k best in order */
        int same = a.n == k;
        if (k < n)
            for (int i = 0; i < k && same; i++) same = a.data[i].id == ref[i].id;
        CU_ASSERT(same);
        if (!same) break;
    }
}

static void top_p_keeps_the_smallest_prefix_reaching_the_mass(void) {
    const float p[5] = {0.5f, 0.25f, 0.15f, 0.07f, 0.03f};
    float l[5];
    for (int i = 0; i < 5; i++) l[i] = logf(p[i]);
    smp_array a = from_logits(l, 5);
    smp_softmax(&a);
    smp_top_p(&a, 0.7f);
    CU_ASSERT_EQUAL(a.n, 2);
    CU_ASSERT_DOUBLE_EQUAL(a.data[0].p, 2.0 / 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(a.data[1].p, 1.0 / 3.0, 1e-6);
}

/* The reference the sampler's sorts and its top-p must equal bit for bit: qsort in the candidates'
 * order (higher logit first, ties lower id first), then a cumulative scan in double and a
 * renormalization, as the chain did before top-p learned to skip the dropped candidates. */
static int ref_cmp(const void *x, const void *y) {
    const smp_token *a = x, *b = y;
    if (a->logit > b->logit) return -1;
    if (a->logit < b->logit) return 1;
    return (a->id > b->id) - (a->id < b->id);
}

static void ref_top_p(smp_array *a, float top_p) {
    qsort(a->data, (size_t)a->n, sizeof *a->data, ref_cmp);
    double cum = 0.0;
    int keep = a->n;
    for (int i = 0; i < a->n; i++)
        if ((cum += a->data[i].p) >= top_p) {
            keep = i + 1;
            break;
        }
    a->n = keep;
    double sum = 0.0;
    for (int i = 0; i < keep; i++) sum += a->data[i].p;
    for (int i = 0; i < keep; i++) a->data[i].p = (float)(a->data[i].p / sum);
}

/* Random logits of six shapes (flat, peaked, integer ties, a long tail, -inf entries, one dominant
 * id) over vocabularies of 1..5000 at several top_p: the same kept ids in the same order with the
 * same probability bits as the reference, and smp_sort equal to qsort. */
static void top_p_and_sort_equal_the_qsort_reference_bit_for_bit(void) {
    enum { VMAX = 5000 };
    smp_token *x = malloc(VMAX * sizeof *x), *y = malloc(VMAX * sizeof *y);
    float *l = malloc(VMAX * sizeof *l);
    CU_ASSERT_FATAL(x && y && l);
    const float tps[6] = {0.05f, 0.5f, 0.9f, 0.95f, 0.99f, 0.9999999f};
    rng_state g;
    rng_seed(&g, 2024);
    int bad = 0, trials = 0;
    for (int trial = 0; trial < 600 && !bad; trial++, trials++) {
        const int V = 1 + (int)(rng_next(&g) % (trial < 300 ? 64 : VMAX)), shape = trial % 6;
        for (int i = 0; i < V; i++) {
            const double z = rng_normal(&g);
            l[i] = shape == 0   ? (float)(0.3 * z)
                   : shape == 1 ? (float)(6.0 * z)
                   : shape == 2 ? (float)(rng_next(&g) % 5)
                   : shape == 3 ? (float)(-0.01 * i + 0.2 * z)
                   : shape == 4 ? (rng_next(&g) % 4 ? (float)z : -INFINITY)
                                : (i == V / 3 ? 12.0f : (float)z);
        }
        smp_array a = {.data = x}, b = {.data = y};
        smp_init(&a, l, V);
        smp_init(&b, l, V);
        smp_temperature(&a, 0.6f);
        smp_temperature(&b, 0.6f);
        smp_softmax(&a);
        smp_softmax(&b);
        const float tp = tps[rng_next(&g) % 6];
        smp_top_p(&a, tp);
        ref_top_p(&b, tp);
        bad = a.n != b.n || memcmp(a.data, b.data, (size_t)a.n * sizeof *a.data) != 0;
        if (bad) printf("[V %d shape %d top_p %g: kept %d, reference %d] ", V, shape, tp, a.n, b.n);
        smp_init(&a, l, V);
        smp_init(&b, l, V);
        smp_sort(&a);
        qsort(b.data, (size_t)V, sizeof *b.data, ref_cmp);
        bad = bad || memcmp(a.data, b.data, (size_t)V * sizeof *a.data) != 0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(trials, 600);
    free(x);
    free(y);
    free(l);
}

static void min_p_drops_tokens_below_a_fraction_of_the_top(void) {
    const float p[5] = {0.5f, 0.25f, 0.15f, 0.07f, 0.03f};
    float l[5];
    for (int i = 0; i < 5; i++) l[i] = logf(p[i]);
    smp_array a = from_logits(l, 5);
    smp_softmax(&a);
    smp_min_p(&a, 0.2f); /* threshold 0.1 */
    CU_ASSERT_EQUAL(a.n, 3);
    CU_ASSERT_DOUBLE_EQUAL(a.data[0].p, 0.5 / 0.9, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(a.data[2].p, 0.15 / 0.9, 1e-6);
}

static void repetition_penalty_divides_positive_and_multiplies_negative_logits_once(void) {
    const float l[3] = {2.0f, -1.0f, 3.0f};
    smp_array a = from_logits(l, 3);
    const int prev[3] = {0, 1, 0};
    smp_repetition(&a, prev, 3, 2.0f);
    CU_ASSERT_DOUBLE_EQUAL(a.data[0].logit, 1.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(a.data[1].logit, -2.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(a.data[2].logit, 3.0, 1e-7);
}

static void greedy_picks_the_highest_logit_and_the_lowest_id_on_ties(void) {
    const float l[4] = {1.0f, 5.0f, 5.0f, 2.0f};
    smp_array a = from_logits(l, 4);
    CU_ASSERT_EQUAL(smp_greedy(&a), 1);
}

static void recorded_logprob_is_under_the_full_temperature_distribution(void) {
    const float l[6] = {2.0f, 1.5f, 0.3f, -0.2f, 1.0f, -2.0f};
    smp_params p = smp_defaults();
    p.temperature = 0.8f;
    p.top_k = 2;
    rng_state r;
    rng_seed(&r, 5);
    double z = 0;
    for (int i = 0; i < 6; i++) z += exp(l[i] / 0.8);
    for (int t = 0; t < 50; t++) {
        float lp;
        int id = smp_sample(&p, l, 6, NULL, 0, &r, buf, &lp, NULL);
        CU_ASSERT(id == 0 || id == 1);
        CU_ASSERT_DOUBLE_EQUAL(lp, l[id] / 0.8 - log(z), 1e-6);
    }
}

/* logits ln 1, ln 2, ln 4: p = 1/7, 2/7, 4/7 at T = 1; at T = 0.5 the logits double, p = 1/21, 4/21, 16/21.
 * The entropy is of the full temperature distribution, whatever top-k keeps. */
static void entropy_is_of_the_full_temperature_distribution(void) {
    const float l[3] = {0.0f, (float)log(2.0), (float)log(4.0)};
    const double p1[3] = {1.0 / 7, 2.0 / 7, 4.0 / 7}, p2[3] = {1.0 / 21, 4.0 / 21, 16.0 / 21};
    double h1 = 0, h2 = 0;
    for (int i = 0; i < 3; i++) h1 -= p1[i] * log(p1[i]), h2 -= p2[i] * log(p2[i]);
    float e = -1;
    float lp = smp_logprob(l, 3, 1.0f, 2, &e);
    CU_ASSERT_DOUBLE_EQUAL(e, h1, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(lp, log(4.0 / 7), 1e-6);
    smp_params p = smp_defaults();
    p.temperature = 0.5f;
    p.top_k = 1;
    rng_state r;
    rng_seed(&r, 3);
    e = -1;
    int id = smp_sample(&p, l, 3, NULL, 0, &r, buf, &lp, &e);
    CU_ASSERT_EQUAL(id, 2);
    CU_ASSERT_DOUBLE_EQUAL(e, h2, 1e-6);
    /* greedy: recorded under T = 1 */
    p.temperature = 0.0f;
    e = -1;
    smp_sample(&p, l, 3, NULL, 0, &r, buf, &lp, &e);
    CU_ASSERT_DOUBLE_EQUAL(e, h1, 1e-6);
}

/* The temperature-only chain takes a fused path: over 32768 random logits its recorded logprob and
 * entropy match smp_logprob (double accumulation, libm expf). */
static void plain_path_logprob_and_entropy_match_the_reference(void) {
    const int V = 32768;
    float *l = malloc(V * sizeof *l);
    smp_token *w = malloc(V * sizeof *w);
    rng_state g;
    rng_seed(&g, 77);
    for (int i = 0; i < V; i++) l[i] = (float)(3.0 * rng_normal(&g));
    const float temps[2] = {1.0f, 0.7f};
    double worst_lp = 0, worst_h = 0;
    for (int k = 0; k < 2; k++) {
        smp_params p = smp_defaults();
        p.temperature = temps[k];
        rng_state r;
        rng_seed(&r, 9 + k);
        for (int t = 0; t < 20; t++) {
            float lp, h, href;
            int id = smp_sample(&p, l, V, NULL, 0, &r, w, &lp, &h);
            CU_ASSERT_FATAL(id >= 0 && id < V);
            float ref = smp_logprob(l, V, temps[k], id, &href);
            worst_lp = fmax(worst_lp, fabs(lp - ref));
            worst_h = fmax(worst_h, fabs(h - href));
        }
    }
    printf("[|d logprob| %.1e, |d entropy| %.1e] ", worst_lp, worst_h);
    CU_ASSERT(worst_lp <= 5e-6);
    CU_ASSERT(worst_h <= 5e-6);
    free(l);
    free(w);
}

/* The fused path's draws over 2500 ids (three blocks of 1024) against the exact softmax: four ids
 * in different blocks hold most of the mass, the other 2496 share the rest. Chi-square, 5 bins. */
static void plain_path_draw_frequencies_match_the_softmax(void) {
    const int V = 2500, special[4] = {5, 1030, 2100, 2499};
    const float sl[4] = {2.0f, 1.0f, 1.5f, 0.5f};
    float *l = malloc(V * sizeof *l);
    smp_token *w = malloc(V * sizeof *w);
    for (int i = 0; i < V; i++) l[i] = -2.0f;
    for (int j = 0; j < 4; j++) l[special[j]] = sl[j];
    const double T = 0.8;
    double z = 0, pj[5] = {0};
    for (int i = 0; i < V; i++) z += exp(l[i] / T);
    for (int j = 0; j < 4; j++) pj[j] = exp(sl[j] / T) / z;
    pj[4] = 1.0 - pj[0] - pj[1] - pj[2] - pj[3];
    smp_params p = smp_defaults();
    p.temperature = (float)T;
    rng_state r;
    rng_seed(&r, 4242);
    const int N = 100000;
    int counts[5] = {0};
    for (int t = 0; t < N; t++) {
        float lp;
        int id = smp_sample(&p, l, V, NULL, 0, &r, w, &lp, NULL), bin = 4;
        for (int j = 0; j < 4; j++)
            if (id == special[j]) bin = j;
        counts[bin]++;
    }
    double chi2 = 0;
    for (int j = 0; j < 5; j++) chi2 += (counts[j] - N * pj[j]) * (counts[j] - N * pj[j]) / (N * pj[j]);
    printf("[chi2 %.2f, df 4] ", chi2);
    CU_ASSERT(chi2 < 18.47); /* p = 0.001 */
    free(l);
    free(w);
}

/* 10^5 draws through the whole chain against the truncated distribution computed here by hand:
 * T = 0.8, top-k 4, top-p 0.9 over six logits. Chi-square with a fixed seed. */
static void draw_frequencies_match_the_truncated_distribution(void) {
    const float l[6] = {2.0f, 1.5f, 0.3f, -0.2f, 1.0f, -2.0f};
    /* by hand: order by logit 0 (2.0), 1 (1.5), 4 (1.0), 2 (0.3) survive top-k 4 */
    const int keep4[4] = {0, 1, 4, 2};
    double w[4], z = 0;
    for (int i = 0; i < 4; i++) z += (w[i] = exp(l[keep4[i]] / 0.8));
    /* top-p 0.9 over the renormalized four: cumulative mass decides how many survive */
    double cum = 0;
    int kept = 4;
    for (int i = 0; i < 4; i++) {
        cum += w[i] / z;
        if (cum >= 0.9) {
            kept = i + 1;
            break;
        }
    }
    double zk = 0;
    for (int i = 0; i < kept; i++) zk += w[i];
    smp_params p = smp_defaults();
    p.temperature = 0.8f;
    p.top_k = 4;
    p.top_p = 0.9f;
    rng_state r;
    rng_seed(&r, 20261128);
    int counts[6] = {0};
    const int N = 100000;
    for (int t = 0; t < N; t++) {
        float lp;
        counts[smp_sample(&p, l, 6, NULL, 0, &r, buf, &lp, NULL)]++;
    }
    double chi2 = 0;
    int outside = 0;
    for (int id = 0; id < 6; id++) {
        double e = 0;
        for (int i = 0; i < kept; i++)
            if (keep4[i] == id) e = N * w[i] / zk;
        if (e == 0) outside += counts[id];
        else chi2 += (counts[id] - e) * (counts[id] - e) / e;
    }
    printf("[kept %d, chi2 %.2f] ", kept, chi2);
    CU_ASSERT_EQUAL(outside, 0);
    /* critical values at p = 0.001 for df = kept - 1 */
    const double crit[5] = {0, 10.83, 13.82, 16.27, 18.47};
    CU_ASSERT(chi2 < crit[kept - 1]);
}

int register_sampler_suite(void) {
    CU_pSuite s = CU_add_suite("sampler", NULL, NULL);
    if (!s) return 1;
    CU_add_test(s, "temperature_divides_every_logit", temperature_divides_every_logit);
    CU_add_test(s, "softmax_matches_hand_computed_probabilities", softmax_matches_hand_computed_probabilities);
    CU_add_test(s, "top_k_keeps_the_k_largest_in_order", top_k_keeps_the_k_largest_in_order);
    CU_add_test(s, "top_k_selection_equals_a_full_sort_on_random_arrays", top_k_selection_equals_a_full_sort_on_random_arrays);
    CU_add_test(s, "top_p_keeps_the_smallest_prefix_reaching_the_mass", top_p_keeps_the_smallest_prefix_reaching_the_mass);
    CU_add_test(s, "top_p_and_sort_equal_the_qsort_reference_bit_for_bit", top_p_and_sort_equal_the_qsort_reference_bit_for_bit);
    CU_add_test(s, "min_p_drops_tokens_below_a_fraction_of_the_top", min_p_drops_tokens_below_a_fraction_of_the_top);
    CU_add_test(s, "repetition_penalty_divides_positive_and_multiplies_negative_logits_once",
                repetition_penalty_divides_positive_and_multiplies_negative_logits_once);
    CU_add_test(s, "greedy_picks_the_highest_logit_and_the_lowest_id_on_ties",
                greedy_picks_the_highest_logit_and_the_lowest_id_on_ties);
    CU_add_test(s, "recorded_logprob_is_under_the_full_temperature_distribution",
                recorded_logprob_is_under_the_full_temperature_distribution);
    CU_add_test(s, "entropy_is_of_the_full_temperature_distribution", entropy_is_of_the_full_temperature_distribution);
    CU_add_test(s, "plain_path_logprob_and_entropy_match_the_reference", plain_path_logprob_and_entropy_match_the_reference);
    CU_add_test(s, "plain_path_draw_frequencies_match_the_softmax", plain_path_draw_frequencies_match_the_softmax);
    CU_add_test(s, "draw_frequencies_match_the_truncated_distribution", draw_frequencies_match_the_truncated_distribution);
    return 0;
}
