/* grpo/cli/cmd_selfcheck.c: `grpo selfcheck`: a visible self-check of the tiny model: init, forward,
 * backward, AdamW steps on a fixed batch with the losses printed, then a save/reload round trip.
 * It exits non-zero when a check fails. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoints/model_dir.h"
#include "common/rng.h"
#include "policy/model.h"
#include "cli.h"

static const cli_opt OPTS[] = {
    {"--out", "DIR", "runs/selfcheck", "where the trained tiny model is written"},
    {"--arch", "ARCH", "qwen2", "architecture: qwen2, qwen3 or llama"},
    {"--steps", "N", "30", "AdamW steps on the fixed batch"},
    {"--seed", "S", "1234", "random seed"},
    {"--threads", "N", NULL, "OpenMP/BLAS threads (default: all cores)"},
    {NULL, NULL, NULL, NULL},
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int run(const cli_cmd *cmd, const char **v) {
    int arch = policy_arch_from_short(v[1]);
    if (arch < 0) {
        fprintf(stderr, "grpo selfcheck: option --arch: unknown architecture '%s'\n", v[1]);
        return CLI_EXIT_USAGE;
    }
    long long steps, seed;
    if (cli_int(cmd, "--steps", v[2], 1, 100000, &steps) || cli_int(cmd, "--seed", v[3], 0, 1LL << 62, &seed))
        return CLI_EXIT_USAGE;
    if (v[4]) {
        long long th;
        if (cli_int(cmd, "--threads", v[4], 1, 4096, &th)) return CLI_EXIT_USAGE;
        omp_set_num_threads((int)th);
    }
    grpo_err err = {0};
    policy_config cfg;
    policy_model m;
    if (policy_config_preset(&cfg, (policy_arch)arch, "tiny", &err) || policy_build(&m, &cfg, &err))
        return cli_fail(cmd, &err);
    policy_init_random(&m, (uint64_t)seed);
    if (policy_enable_training(&m, &err)) return cli_fail(cmd, &err);

    printf("grpo self-check: tiny %s, %.2fM parameters, %d threads\n", policy_arch_name(cfg.arch),
           (double)m.n_params / 1e6, omp_get_max_threads());

    /* a fixed batch of four sequences of different lengths: arithmetic progressions mod V,
     * so the next token is predictable and the loss must fall */
    enum { NSEQ = 4 };
    int lens[NSEQ] = {48, 33, 61, 20}, total = 0;
    for (int s = 0; s < NSEQ; s++) total += lens[s];
    int *tok = malloc((size_t)total * sizeof *tok);
    rng_state r;
    rng_seed(&r, (uint64_t)seed);
    for (int s = 0, k = 0; s < NSEQ; s++) {
        int start = (int)(rng_next(&r) % (uint64_t)cfg.vocab_size), step = 1 + (int)(rng_next(&r) % 7);
        for (int t = 0; t < lens[s]; t++) tok[k++] = (start + t * step) % cfg.vocab_size;
    }
    policy_batch b = {.n_seq = NSEQ, .seq_len = lens, .tokens = tok};
    policy_adamw h = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};

    double loss0 = 0, loss = 0, t0 = now();
    int ok = 1;
    for (long long i = 0; i < steps; i++) {
        policy_zero_grad(&m);
        if (policy_ce_step(&m, &b, NULL, 1, &loss, &err)) goto fail;
        double gn = policy_clip_grad_norm(&m, 1.0);
        if (i == 0) {
            size_t pb, gb, ob, ab;
            policy_memory(&m, &pb, &gb, &ob, &ab);
            printf("memory: params %.1f MiB, grads %.1f MiB, AdamW %.1f MiB, activations %.1f MiB\n", pb / 1048576.0,
                   gb / 1048576.0, ob / 1048576.0, ab / 1048576.0);
            loss0 = loss;
            printf("initial loss %.4f (uniform would be ln %d = %.4f)\n", loss, cfg.vocab_size, log(cfg.vocab_size));
        }
        if (!isfinite(loss) || !isfinite(gn)) {
            printf("FAIL: non-finite loss or gradient norm at step %lld\n", i + 1);
            ok = 0;
            break;
        }
        if (policy_adamw_step(&m, &h, &err)) goto fail;
        printf("step %3lld/%lld  loss %.4f  grad_norm %.4f  %.2fs\n", i + 1, steps, loss, gn, now() - t0);
        fflush(stdout);
    }
    double final_loss;
    if (policy_ce_step(&m, &b, NULL, 0, &final_loss, &err)) goto fail;
    printf("final loss %.4f\n", final_loss);
    if (!(final_loss < loss0 * 0.5)) {
        printf("FAIL: the loss did not halve (%.4f -> %.4f)\n", loss0, final_loss);
        ok = 0;
    }

    /* save in HF layout, reload, and check the logprobs are bit-identical */
    if (ckpt_export_model(&m, v[0], "float32", 1, &err)) goto fail;
    size_t nt = policy_batch_targets(&b);
    float *a = malloc(nt * sizeof(float)), *c = malloc(nt * sizeof(float));
    policy_model m2;
    int rc = policy_forward(&m, &b, 1.0f, a, NULL, 0, &err);
    if (!rc) rc = policy_load(&m2, v[0], &err);
    if (!rc) {
        rc = policy_forward(&m2, &b, 1.0f, c, NULL, 0, &err);
        policy_free(&m2);
    }
    if (rc) {
        free(a);
        free(c);
        goto fail;
    }
    double maxd = 0;
    for (size_t i = 0; i < nt; i++) maxd = fmax(maxd, fabs((double)a[i] - c[i]));
    printf("saved %s; reloaded logprobs differ by at most %.3g\n", v[0], maxd);
    if (maxd != 0.0) {
        printf("FAIL: reloaded model gives different logprobs\n");
        ok = 0;
    }
    free(a);
    free(c);
    free(tok);
    policy_free(&m);
    printf("%s\n", ok ? "self-check passed" : "self-check FAILED");
    printf("{\"selfcheck\":\"%s\",\"loss_initial\":%.6f,\"loss_final\":%.6f,\"model\":\"%s\"}\n", ok ? "ok" : "failed",
           loss0, final_loss, v[0]);
    return ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
fail:
    free(tok);
    policy_free(&m);
    return cli_fail(cmd, &err);
}

const cli_cmd cmd_selfcheck = {
    .name = "selfcheck",
    .summary = "Self-check of the tiny model: forward, backward, AdamW steps, save and reload.",
    .usage = "[--out DIR] [--steps N]",
    .opts = OPTS,
    .run = run,
};
