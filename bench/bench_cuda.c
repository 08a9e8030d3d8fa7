/* bench/bench_cuda.c: training throughput of the CUDA backend on a Qwen2.5-0.5B-shaped model
 * (vocab 151936, hidden 896, 24 layers, 14 heads over 2 kv heads of 64, MLP 4864, tied
 * embeddings, q/k/v biases), random weights, sequences of --seq tokens (default 1024).
 *
 * One training step = zero_grad, forward (keep), backward of the mean token logprob, global
 * grad-norm clip at 1.0, AdamW: in resident mode (everything on the device, as a GPU trainer
 * runs) and, with --mirror, also once through the host-synchronised calls train.c makes today.
 *
 *   tokens/s = batch * seq * steps / seconds
 *   MFU      = (6 * N * tokens + attention FLOPs) / (989e12 * seconds)   (H100/H200 bf16 dense peak)
 *   N        = every parameter once (the tied embedding counts once: it is the lm_head GEMM)
 *   attention FLOPs per step = 6 * layers * heads * head_dim * sum over sequences of seq^2
 *              (causal: QK^T and PV are 2 * seq^2/2 * hd * 2 FLOPs each forward, x3 with backward)
 * Peak GPU memory: the device's used memory (total - free) after the timed steps (every arena is
 * allocated on first use and kept, so this is the peak), and the backend's own arenas.
 * Prints a human summary and one "RESULT {json}" line for scripts/gpu-check.sh. */
#ifdef GRPO_CUDA_EMU /* the host emulation (tests/cuda/emu): a smoke run of this program without a GPU */
#include <stddef.h>
int emu_mem_get_info(size_t *free_b, size_t *total_b);
#define cudaMemGetInfo emu_mem_get_info
#else
#include <cuda_runtime_api.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../policy/cuda/cuda_backend.h"
#include "../policy/model.h"
#include "qwen05.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int die(const char *what, const grpo_err *e) {
    fprintf(stderr, "bench_cuda: %s: %s\n", what, e->msg);
    return 1;
}

int main(int argc, char **argv) {
    int seq = 1024, batch = 16, steps = 5, warmup = 2, layers = 24, mirror = 0, tiny = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seq") && i + 1 < argc) seq = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mirror")) mirror = 1;
        else if (!strcmp(argv[i], "--tiny")) tiny = 1; /* a small model of the same structure (smoke runs) */
        else {
            fprintf(stderr, "usage: bench_cuda [--seq 1024] [--batch 16] [--steps 5] [--warmup 2] [--layers 24] [--mirror] [--tiny]\n");
            return 2;
        }
    }
    char why[512];
    if (grpo_cuda_device_count(why, sizeof why) <= 0) {
        printf("SKIP: no CUDA GPU present (%s)\n", why);
        return 77;
    }
    grpo_err e = {0};
    policy_config c;
    if (qwen05_config(&c, layers, tiny, &e)) return die("preset", &e);
    policy_model m;
    double t0 = now_s();
    if (policy_build(&m, &c, &e)) return die("build", &e);
    policy_init_random(&m, 1234);
    if (policy_enable_training(&m, &e)) return die("enable_training", &e);
    size_t n_real = 0;
    for (size_t i = 0; i < m.n_tensors; i++) n_real += m.params[i].numel;
    printf("model: %s, %d layers, %.1fM parameters (init %.1f s)\n", tiny ? "tiny Qwen2-shaped" : "Qwen2.5-0.5B-shaped", layers, n_real / 1e6,
           now_s() - t0);
#ifdef GRPO_CUDA_EMU
    m.backend = &policy_backend_cuda; /* a CPU-only build's backend.c refuses "cuda" */
#else
    if (!(m.backend = policy_backend_get("cuda", &e))) return die("backend", &e);
#endif

    const int N = seq * batch;
    int *lens = malloc(batch * sizeof(int)), *tok = malloc((size_t)N * sizeof(int));
    for (int s = 0; s < batch; s++) lens[s] = seq;
    unsigned x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        tok[i] = (int)((x >> 8) % (unsigned)c.vocab_size);
    }
    policy_batch b = {.n_seq = batch, .seq_len = lens, .tokens = tok};
    const size_t nt = policy_batch_targets(&b);
    float *logp = malloc(nt * sizeof(float)), *dl = malloc(nt * sizeof(float));
    for (size_t i = 0; i < nt; i++) dl[i] = -1.0f / (float)nt;
    policy_adamw h = {.lr = 1e-5f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};

    if (grpo_cuda_set_resident(&m, 1, &e)) return die("set_resident", &e);
    double loss = 0, gn = 0, t_start = 0, ph[4] = {0}; /* forward, backward, clip, adamw (each call syncs) */
    for (int it = 0; it < warmup + steps; it++) {
        if (it == warmup) t_start = now_s();
        const int timed = it >= warmup;
        double t = now_s();
        if (grpo_cuda_zero_grad(&m, &e)) return die("zero_grad", &e);
        if (policy_forward(&m, &b, 1.0f, logp, NULL, 1, &e)) return die("forward", &e);
        ph[0] += timed * (now_s() - t), t = now_s();
        if (policy_backward(&m, &b, 1.0f, dl, &e)) return die("backward", &e);
        ph[1] += timed * (now_s() - t), t = now_s();
        if (grpo_cuda_clip_grad_norm(&m, 1.0, &gn, &e)) return die("clip", &e);
        ph[2] += timed * (now_s() - t), t = now_s();
        if (policy_adamw_step(&m, &h, &e)) return die("adamw", &e);
        ph[3] += timed * (now_s() - t);
        loss = 0;
        for (size_t i = 0; i < nt; i++) loss -= logp[i];
        loss /= nt;
        printf("  step %d: loss %.4f grad norm %.4f\n", it + 1, loss, gn);
    }
    const double secs = now_s() - t_start;
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    const double tokens = (double)N * steps;
    double att = 0;
    for (int s = 0; s < batch; s++) att += (double)lens[s] * lens[s];
    att *= 6.0 * layers * c.num_attention_heads * c.head_dim * steps;
    const double flops = 6.0 * (double)n_real * tokens + att;
    const double mfu = flops / (989e12 * secs);
    const double used_mib = (double)(total_b - free_b) / 1048576.0;
    const double arena_mib = grpo_cuda_device_bytes(&m) / 1048576.0;
    printf("grpo cuda (resident): %d x %d tokens/step, %d steps in %.3f s: %.0f tokens/s, %.1f ms/step, MFU %.1f%% "
           "(attention %.1f%% of FLOPs); GPU memory used %.0f MiB (backend arenas %.0f MiB)\n",
           batch, seq, steps, secs, tokens / secs, 1e3 * secs / steps, 100 * mfu, 100 * att / flops, used_mib,
           arena_mib);

    printf("per step: forward %.1f ms, backward %.1f ms, clip %.1f ms, adamw %.1f ms\n", 1e3 * ph[0] / steps,
           1e3 * ph[1] / steps, 1e3 * ph[2] / steps, 1e3 * ph[3] / steps);
    double mirror_ms = -1;
    if (mirror) { /* one step through the calls train.c makes (host zero_grad and clip) */
        if (grpo_cuda_set_resident(&m, 0, &e)) return die("set_resident", &e);
        for (int it = 0; it < 2; it++) { /* the first step also page-locks the host arenas */
            double t1 = now_s();
            policy_zero_grad(&m);
            if (policy_forward(&m, &b, 1.0f, logp, NULL, 1, &e)) return die("forward", &e);
            if (policy_backward(&m, &b, 1.0f, dl, &e)) return die("backward", &e);
            policy_clip_grad_norm(&m, 1.0);
            if (policy_adamw_step(&m, &h, &e)) return die("adamw", &e);
            mirror_ms = 1e3 * (now_s() - t1);
        }
        printf("grpo cuda (mirror, host-synchronised as train.c calls it): one step %.1f ms\n", mirror_ms);
    }
    printf("RESULT {\"impl\":\"grpo-cuda\",\"batch\":%d,\"seq\":%d,\"layers\":%d,\"params\":%zu,\"steps\":%d,"
           "\"seconds\":%.4f,\"tokens_per_s\":%.1f,\"mfu\":%.4f,\"gpu_mem_used_mib\":%.0f,\"arena_mib\":%.0f,"
           "\"final_loss\":%.4f,\"mirror_step_ms\":%.1f,\"fwd_ms\":%.1f,\"bwd_ms\":%.1f,\"adamw_ms\":%.1f}\n",
           batch, seq, layers, n_real, steps, secs, tokens / secs, mfu, used_mib, arena_mib, loss, mirror_ms,
           1e3 * ph[0] / steps, 1e3 * ph[1] / steps, 1e3 * ph[3] / steps);
    free(lens);
    free(tok);
    free(logp);
    free(dl);
    policy_free(&m);
    return 0;
}
