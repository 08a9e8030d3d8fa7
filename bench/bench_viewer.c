/* bench/bench_viewer.c: the rollout store and the viewer's API at scale (bench/RESULTS.md).
 *
 *   bench_viewer DIR [--steps 200] [--per-step 512] [--tokens 48] [--repeat 20] [--api-only]
 *
 * Writes DIR/fts/rollouts.db (schema 2 as is) and DIR/plain/rollouts.db (the same steps with the
 * FTS5 triggers dropped first) with the store's writer, each step one transaction, and prints the
 * writer's time per step for both: the cost of the full-text index. Then times the API's answers on
 * the indexed file, in process (the handler's work; HTTP adds a loopback round trip): a step's page,
 * the whole step, searches (rare, common, none, filters that reject every candidate: the scan budget's
 * worst case), all steps, a prompt's history. CPU is getrusage's user + system time. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/fsutil.h"
#include "grpo/cli/viewer/api.h"
#include "rollout/store/store.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds of this process, user + system (getrusage): on a shared machine, what a call costs
 * apart from waiting for a core. */
static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static const char *const WORDS[] = {"the", "sum", "of", "and", "is", "so", "we", "get", "answer", "then", "add",
                                    "subtract", "multiply", "total", "first", "next", "step", "value", "equals", "result"};

/* A completion-like text of about len bytes from seed (words, digits and the R1 tags). */
static void make_text(unsigned long long seed, char *out, size_t len) {
    size_t n = (size_t)snprintf(out, len, "<think>");
    while (n + 16 < len - 40) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(seed >> 33);
        if (r % 5 == 0) n += (size_t)snprintf(out + n, len - n, "%u+%u=%u. ", r % 97, (r >> 8) % 89, r % 97 + (r >> 8) % 89);
        else n += (size_t)snprintf(out + n, len - n, "%s ", WORDS[r % (sizeof WORDS / sizeof WORDS[0])]);
    }
    snprintf(out + n, len - n, "</think><answer>%llu</answer>", seed % 1000);
}

/* Writes steps x per_step rollouts; fts = 0 drops the index's triggers first. Returns seconds. */
static double write_db(const char *path, int steps, int per_step, int tokens, int fts) {
    grpo_err e = {0};
    store *s;
    if (store_open(&s, path, "bench", "{\"max_steps\": 200}", &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    if (!fts) {
        sqlite3 *db;
        sqlite3_open(path, &db);
        sqlite3_exec(db, "DROP TRIGGER rollouts_fts_insert; DROP TRIGGER rollouts_fts_delete; DROP TRIGGER rollouts_fts_update",
                     NULL, NULL, NULL);
        sqlite3_close(db);
    }
    int *ids = malloc((size_t)tokens * sizeof *ids);
    float *lp = malloc((size_t)tokens * sizeof *lp);
    char text[400], reason[64], ans[16];
    for (int t = 0; t < tokens; t++) ids[t] = 1000 + t * 37 % 30000, lp[t] = -0.01f * (float)(t % 300);
    double t0 = now_s();
    for (int step = 1; step <= steps; step++) {
        if (store_step_begin(s, step, &e)) goto fail;
        for (int k = 0; k < per_step; k++) {
            int prompt = (step * 131 + k / 8) % 5000, j = k % 8;
            make_text((unsigned long long)step * 100003 + (unsigned long long)k, text, sizeof text);
            if (step == steps / 2 && k == 7) snprintf(text + 20, sizeof text - 20, " needle-7731 ");
            snprintf(ans, sizeof ans, "%d", (step + k) % 1000);
            snprintf(reason, sizeof reason, "extracted %s, gold %d", ans, prompt % 1000);
            store_component c[2] = {{"accuracy", (double)(j == 0), reason}, {"format", 1.0, "matches the format pattern"}};
            store_rollout r = {.prompt_id = prompt, .sample_index = j, .prompt_text = "Compute 3+4.",
                               .completion_text = text, .token_ids = ids, .logprobs = lp, .n_tokens = tokens,
                               .components = c, .n_components = 2, .reward_total = 1.0 + (j == 0), .advantage = j ? -0.3 : 2.4,
                               .finish = STORE_FINISH_STOP, .extracted_answer = ans, .gold_answer = "7"};
            if (store_add_rollout(s, &r, &e)) goto fail;
        }
        store_step_metrics m = store_metrics_unset();
        m.reward_mean = 1.125;
        if (store_step_commit(s, step, &m, "{}", &e)) goto fail;
    }
    double dt = now_s() - t0;
    store_close(s);
    free(ids);
    free(lp);
    return dt;
fail:
    fprintf(stderr, "%s\n", e.msg);
    exit(1);
}

/* Times route?query in process, repeat times; prints mean and max milliseconds and the answer's size. */
static void time_route(viewer_api *a, const char *label, const char *route, const char **kv, int repeat) {
    viewer_query q = {0};
    for (int i = 0; kv && kv[i]; i += 2) q.key[q.n] = kv[i], q.val[q.n++] = kv[i + 1];
    double sum = 0, max = 0, cpu = 0, cpu_max = 0;
    size_t bytes = 0;
    int status = 0;
    for (int r = 0; r < repeat; r++) {
        char *body;
        double t0 = now_s(), c0 = cpu_s();
        status = viewer_api_get(a, route, &q, &body);
        double dt = (now_s() - t0) * 1e3;
        double dc = (cpu_s() - c0) * 1e3;
        cpu += dc;
        if (dc > cpu_max) cpu_max = dc;
        bytes = body ? strlen(body) : 0;
        free(body);
        sum += dt;
        if (dt > max) max = dt;
    }
    printf("| %-46s | %3d | %8.1f | %8.1f | %8.1f | %8.1f | %8.1f |\n", label, status, sum / repeat, max, cpu / repeat,
           cpu_max, (double)bytes / 1024.0);
}

static long long file_kib(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)(sb.st_size / 1024) : -1;
}

/* Writes both files and prints the writer's table. */
static void write_files(const char *fts, const char *plain, int steps, int per, int tokens) {
    double t_plain = write_db(plain, steps, per, tokens, 0);
    double t_fts = write_db(fts, steps, per, tokens, 1);

    printf("writer: %d steps x %d rollouts (%d tokens, ~330-byte texts), one transaction per step, synchronous=FULL\n",
           steps, per, tokens);
    printf("| index | total s | ms per step | us per rollout | file MiB |\n|---|---|---|---|---|\n");
    printf("| none (triggers dropped) | %.2f | %.1f | %.1f | %.1f |\n", t_plain, 1e3 * t_plain / steps,
           1e6 * t_plain / steps / per, file_kib(plain) / 1024.0);
    printf("| FTS5 trigram | %.2f | %.1f | %.1f | %.1f |\n", t_fts, 1e3 * t_fts / steps, 1e6 * t_fts / steps / per,
           file_kib(fts) / 1024.0);
    printf("FTS5 writer cost: %+.0f%% time, %+.0f%% file size\n\n", 100 * (t_fts / t_plain - 1),
           100 * ((double)file_kib(fts) / (double)file_kib(plain) - 1));

}

/* Prints the API's table on the indexed file. */
static void run_api(const char *fts, int steps, int per, int repeat) {
    grpo_err e = {0};
    viewer_api *a;
    if (viewer_api_open(&a, fts, NULL, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    char mid[32], pid[32];
    snprintf(mid, sizeof mid, "%d", steps / 2);
    snprintf(pid, sizeof pid, "prompt/%d", (steps / 2 * 131) % 5000);
    printf("API on %lld rollouts, %d calls each, in process:\n", (long long)steps * per, repeat);
    printf("| call | status | wall mean ms | wall max ms | CPU mean ms | CPU max ms | KiB |\n|---|---|---|---|---|---|---|\n");
    time_route(a, "rollouts?step=MID (first 64)", "rollouts", (const char *[]){"step", mid, NULL}, repeat);
    time_route(a, "rollouts?step=MID&limit=512 (the whole step)", "rollouts",
               (const char *[]){"step", mid, "limit", "512", NULL}, repeat);
    time_route(a, "rollouts?step=MID&sort=worst&offset=448", "rollouts",
               (const char *[]){"step", mid, "sort", "worst", "offset", "448", NULL}, repeat);
    time_route(a, "search?q=needle-7731 (1 match)", "search", (const char *[]){"q", "needle-7731", NULL}, repeat);
    time_route(a, "search?q=multiply (most rollouts match)", "search", (const char *[]){"q", "multiply", NULL}, repeat);
    time_route(a, "search?q=multiply&min_reward=2&step_min=150", "search",
               (const char *[]){"q", "multiply", "min_reward", "2", "step_min", "150", NULL}, repeat);
    time_route(a, "search?q=multiply&min_reward=9 (matches none)", "search",
               (const char *[]){"q", "multiply", "min_reward", "9", NULL}, repeat);
    time_route(a, "search?q=multiply&limit=200&after=90000", "search",
               (const char *[]){"q", "multiply", "limit", "200", "after", "90000", NULL}, repeat);
    time_route(a, "search?q=zzzq (no match)", "search", (const char *[]){"q", "zzzq", NULL}, repeat);
    time_route(a, "search?component=accuracy&component_min=1", "search",
               (const char *[]){"component", "accuracy", "component_min", "1", NULL}, repeat);
    time_route(a, "search?component=accuracy&component_min=5 (none)", "search",
               (const char *[]){"component", "accuracy", "component_min", "5", NULL}, repeat);
    time_route(a, "steps (all, with component mean/std)", "steps", NULL, repeat);
    time_route(a, "prompt/ID (history, first 64)", pid, NULL, repeat);
    time_route(a, "run", "run", NULL, repeat);
    viewer_api_close(a);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_viewer DIR [--steps N] [--per-step K] [--tokens T] [--repeat R] [--api-only]\n");
        return 2;
    }
    int steps = 200, per = 512, tokens = 48, repeat = 20;
    int api_only = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--api-only")) api_only = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--steps")) steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--per-step")) per = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--tokens")) tokens = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--repeat")) repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_viewer: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        }
    }
    char fts[4096], plain[4096];
    snprintf(fts, sizeof fts, "%s/fts/rollouts.db", argv[1]);
    snprintf(plain, sizeof plain, "%s/plain/rollouts.db", argv[1]);
    if (!api_only) {
        remove(fts), remove(plain);
        write_files(fts, plain, steps, per, tokens);
    }
    run_api(fts, steps, per, repeat);
    return 0;
}
