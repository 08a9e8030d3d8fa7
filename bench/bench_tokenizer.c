/* bench/bench_tokenizer.c: single-thread encode throughput of the tokenizer on a corpus.
 *   bench_tokenizer TOKENIZER_DIR CORPUS.jsonl[.gz] [REPS]
 * The corpus holds one JSON string per line. Load time is not counted; each rep encodes every string
 * once (special tokens matched, as HF's encode does); prints the best rep as MB/s of UTF-8 input. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/tokenizer/tokenizer.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER_DIR CORPUS.jsonl[.gz] [REPS]\n");
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    grpo_err err = {0};
    tok_tokenizer *t;
    double t0 = now();
    if (tok_load(&t, argv[1], &err)) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double load_s = now() - t0;
    char cmd[4200];
    size_t plen = strlen(argv[2]);
    snprintf(cmd, sizeof cmd, "%s '%s'", plen > 3 && !strcmp(argv[2] + plen - 3, ".gz") ? "gzip -dc" : "cat", argv[2]);
    FILE *f = popen(cmd, "r");
    if (!f) return 1;
    size_t cap = 1024, n = 0, bytes = 0;
    char **texts = malloc(cap * sizeof *texts);
    size_t *lens = malloc(cap * sizeof *lens);
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        json_t *s = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!json_is_string(s)) {
            fprintf(stderr, "bench_tokenizer: %s: line %zu is not a JSON string\n", argv[2], n + 1);
            return 1;
        }
        if (n == cap) {
            texts = realloc(texts, (cap *= 2) * sizeof *texts);
            lens = realloc(lens, cap * sizeof *lens);
        }
        lens[n] = json_string_length(s);
        texts[n] = malloc(lens[n] + 1);
        memcpy(texts[n], json_string_value(s), lens[n] + 1);
        bytes += lens[n++];
        json_decref(s);
    }
    free(line);
    pclose(f);
    double best = 1e30;
    size_t total_ids = 0;
    for (int r = 0; r < reps; r++) {
        total_ids = 0;
        double a = now();
        for (size_t i = 0; i < n; i++) {
            int *ids;
            size_t k;
            if (tok_encode(t, texts[i], lens[i], TOK_SPECIAL, &ids, &k, &err)) {
                fprintf(stderr, "bench_tokenizer: string %zu: %s\n", i, err.msg);
                return 1;
            }
            total_ids += k;
            free(ids);
        }
        double s = now() - a;
        if (s < best) best = s;
    }
    printf("{\"impl\":\"grpo\",\"tokenizer\":\"%s\",\"strings\":%zu,\"bytes\":%zu,\"ids\":%zu,\"load_s\":%.3f,"
           "\"encode_s\":%.4f,\"mb_per_s\":%.2f}\n", argv[1], n, bytes, total_ids, load_s, best, bytes / best / 1e6);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    tok_free(t);
    return 0;
}
