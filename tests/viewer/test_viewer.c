/* tests/viewer/test_viewer.c: `grpo view` over a real HTTP socket on 127.0.0.1, against a database
 * written here with the store (3 steps x 2 prompts x 4 completions, with reasons, gold answers, a
 * planted string and hostile text). What the pages rely on: each route answers what the database
 * holds; lists are paginated and bounded; bad parameters get a 400 naming them; unknown paths a 404;
 * path traversal, other methods and foreign Host names are refused; the file is unchanged by a
 * session; and a writer never gets SQLITE_BUSY while the viewer reads, its steps visible at once. */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/fsutil.h"
#include "rollout/store/store.h"
#include "../store/v1_fixture.h"
#include "../test_util.h"

static char *tmp, *db;
static pid_t server = -1;
static int port;

/* ---------------------------------------------------------------- the fixture database */

enum { STEPS = 3, PROMPTS = 2, G = 4 };
static const char PLANTED[] = "needle-in-haystack-9137";
static const char HOSTILE[] = "<script>alert(1)</script><img src=x onerror=alert(2)></textarea><a href=\"javascript:alert(3)\">x</a>";

/* The completion text of (step, prompt p, sample j): sample 3 of prompt 11 at step 2 holds the planted
 * string, sample 2 of prompt 10 at step 1 the hostile markup. */
static void completion_of(int step, int p, int j, char *out, size_t cap) {
    snprintf(out, cap, "<think>step %d</think><answer>%d</answer>%s%s", step, 10 + j,
             step == 2 && p == 11 && j == 3 ? PLANTED : "", step == 1 && p == 10 && j == 2 ? HOSTILE : "");
}

static void write_fixture(const char *path) {
    store *s;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_open(&s, path, "fixture", "{\"max_steps\": 3, \"num_generations\": 4}", &e), GRPO_OK);
    int ids[3] = {1, 2, 3};
    float lp[3] = {-0.5f, -1.0f, -2.0f};
    for (int step = 1; step <= STEPS; step++) {
        CU_ASSERT_EQUAL_FATAL(store_step_begin(s, step, &e), GRPO_OK);
        for (int p = 10; p < 10 + PROMPTS; p++)
            for (int j = 0; j < G; j++) {
                char text[256], reason[64], ans[16];
                completion_of(step, p, j, text, sizeof text);
                snprintf(reason, sizeof reason, "extracted %d, gold 10", 10 + j);
                snprintf(ans, sizeof ans, "%d", 10 + j);
                store_component c[2] = {{"accuracy", j == 0 ? 1.0 : 0.0, reason}, {"format", 0.5 * step, "matches"}};
                store_rollout r = {.prompt_id = p, .sample_index = j, .prompt_text = "Compute 5+5.",
                                   .completion_text = text, .token_ids = ids, .logprobs = lp, .n_tokens = 3,
                                   .components = c, .n_components = 2, .reward_total = c[0].value + c[1].value,
                                   .advantage = j == 0 ? 1.5 : -0.5, .finish = j == 3 ? STORE_FINISH_LENGTH : STORE_FINISH_STOP,
                                   .extracted_answer = ans, .gold_answer = "10"};
                CU_ASSERT_EQUAL_FATAL(store_add_rollout(s, &r, &e), GRPO_OK);
            }
        store_step_metrics m = store_metrics_unset();
        m.reward_mean = 0.25 + 0.5 * step;
        m.accuracy = 0.25;
        CU_ASSERT_EQUAL_FATAL(store_step_commit(s, step, &m, "{\"lr\": 0.001}", &e), GRPO_OK);
    }
    store_eval ev = {.step = 3, .name = "arith", .split = "eval", .metric = "accuracy", .value = 0.5, .n = 10};
    CU_ASSERT_EQUAL(store_add_eval(s, &ev, &e), GRPO_OK);
    store_close(s);
}

/* ---------------------------------------------------------------- the server and an HTTP client */

/* Starts `grpo view --db path [extra]` on a free port; returns its pid and sets *port_out. */
static pid_t start_view(const char *path, const char *extra, int *port_out, char *err_line, size_t cap) {
    int out[2], errp[2];
    if (pipe(out) || pipe(errp)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(errp[1], 2);
        close(out[0]), close(errp[0]);
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "exec %s view --db '%s' --port 0 %s", GRPO_BIN, path, extra ? extra : "");
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(out[1]), close(errp[1]);
    FILE *f = fdopen(out[0], "r");
    char line[1024] = "";
    *port_out = 0;
    if (f && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "://"); /* "grpo view: http://HOST:PORT/ serves ..." */
        p = p ? strchr(p + 3, ':') : NULL;
        if (p) *port_out = atoi(p + 1);
    }
    if (f) fclose(f);
    if (err_line) {
        FILE *fe = fdopen(errp[0], "r");
        err_line[0] = '\0';
        /* the warning, if any, is written before the "serving" line: it is in the pipe by now */
        if (fe) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            int fd = fileno(fe);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); /* nothing there must not block */
            ssize_t n = read(fd, err_line, cap - 1);
            err_line[n > 0 ? n : 0] = '\0';
            fclose(fe);
        }
    } else {
        close(errp[0]);
    }
    return pid;
}

/* PRAGMA user_version of the file at path. */
static int sql_version(const char *path) {
    sqlite3 *d;
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_open_v2(path, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(d, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(d);
    return v;
}

static void stop_view(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
}

/* Sends a raw request (method, target, Host header) and returns the status; *body gets the body. */
static int http_raw(const char *method, const char *target, const char *host, char **body) {
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[4096];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, host);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t got;
    while (buf && (got = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    close(fd);
    if (!buf) return -1;
    buf[len] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    char *b = strstr(buf, "\r\n\r\n");
    *body = strdup(b ? b + 4 : "");
    free(buf);
    return status;
}

static int http_get(const char *target, char **body) {
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    return http_raw("GET", target, host, body);
}

/* GETs target, expects status, and returns the body as JSON (NULL when it is not JSON). */
static json_t *get_json(const char *target, int status) {
    char *body;
    int got = http_get(target, &body);
    if (got != status) fprintf(stderr, "\n  GET %s: status %d, wanted %d: %.300s\n", target, got, status, body ? body : "");
    CU_ASSERT_EQUAL(got, status);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* Expects a 400 (or status) whose error message contains want. */
static void expect_error(const char *target, int status, const char *want) {
    json_t *j = get_json(target, status);
    const char *msg = json_string_value(json_object_get(j, "error"));
    if (!msg || !strstr(msg, want)) fprintf(stderr, "\n  GET %s: error '%s', wanted '%s'\n", target, msg ? msg : "(none)", want);
    CU_ASSERT_PTR_NOT_NULL(msg && strstr(msg, want));
    json_decref(j);
}

#define JI(o, k) json_integer_value(json_object_get((o), (k)))
#define JR(o, k) json_number_value(json_object_get((o), (k)))
#define JS(o, k) json_string_value(json_object_get((o), (k)))

/* ---------------------------------------------------------------- the routes */

/* The fixture and the server every later test talks to. */
static void the_fixture_is_written_and_served(void) {
    write_fixture(db);
    server = start_view(db, NULL, &port, NULL, 0);
    CU_ASSERT_FATAL(server > 0 && port > 0);
}

static void run_describes_the_run_and_its_components(void) {
    json_t *j = get_json("/api/run", 200);
    CU_ASSERT_STRING_EQUAL(JS(j, "name"), "fixture");
    CU_ASSERT_STRING_EQUAL(JS(j, "kind"), "grpo");
    CU_ASSERT_EQUAL(JI(j, "steps"), STEPS);
    CU_ASSERT_EQUAL(JI(j, "last_step"), STEPS);
    CU_ASSERT_EQUAL(JI(j, "rollouts"), STEPS * PROMPTS * G);
    CU_ASSERT_EQUAL(JI(j, "schema_version"), 2);
    CU_ASSERT(json_is_true(json_object_get(j, "read_only")));
    CU_ASSERT_EQUAL(JI(json_object_get(j, "config"), "max_steps"), 3);
    json_t *c = json_object_get(j, "components");
    CU_ASSERT_EQUAL(json_array_size(c), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(c, 0)), "accuracy");
    json_decref(j);
}

static void steps_list_every_step_with_component_means(void) {
    json_t *j = get_json("/api/steps", 200);
    json_t *s = json_object_get(j, "steps");
    CU_ASSERT_EQUAL_FATAL(json_array_size(s), STEPS);
    for (int i = 0; i < STEPS; i++) {
        json_t *st = json_array_get(s, (size_t)i);
        CU_ASSERT_EQUAL(JI(st, "step"), i + 1);
        CU_ASSERT_DOUBLE_EQUAL(JR(st, "reward_mean"), 0.25 + 0.5 * (i + 1), 1e-12);
        json_t *acc = json_object_get(json_object_get(st, "components"), "accuracy");
        CU_ASSERT_DOUBLE_EQUAL(JR(acc, "mean"), 0.25, 1e-12);
        /* one in four is 1: sample std sqrt(0.25 * 0.75 * 8 / 7) */
        CU_ASSERT_DOUBLE_EQUAL(JR(acc, "std"), sqrt(0.1875 * 8.0 / 7.0), 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(JR(json_object_get(json_object_get(st, "components"), "format"), "mean"), 0.5 * (i + 1), 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(JR(json_object_get(st, "metrics"), "lr"), 0.001, 1e-12);
    }
    CU_ASSERT(json_is_false(json_object_get(j, "more")));
    json_decref(j);
    /* polling: only the steps after the last one seen, and pages of `limit` */
    j = get_json("/api/steps?after=2", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "steps")), 1);
    json_decref(j);
    j = get_json("/api/steps?after=-2&limit=2", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "steps")), 2);
    CU_ASSERT(json_is_true(json_object_get(j, "more")));
    CU_ASSERT_EQUAL(JI(j, "last"), 2);
    json_decref(j);
}

static void rollouts_of_a_step_carry_components_reasons_and_gold(void) {
    json_t *j = get_json("/api/rollouts?step=2", 200);
    json_t *r = json_object_get(j, "rollouts");
    CU_ASSERT_EQUAL(JI(j, "total"), PROMPTS * G);
    CU_ASSERT_EQUAL_FATAL(json_array_size(r), PROMPTS * G);
    for (int k = 0; k < PROMPTS * G; k++) {
        json_t *ro = json_array_get(r, (size_t)k);
        int p = 10 + k / G, jj = k % G;
        char text[256], reason[64], ans[16];
        completion_of(2, p, jj, text, sizeof text);
        snprintf(reason, sizeof reason, "extracted %d, gold 10", 10 + jj);
        snprintf(ans, sizeof ans, "%d", 10 + jj);
        CU_ASSERT_EQUAL(JI(ro, "prompt_id"), p);
        CU_ASSERT_EQUAL(JI(ro, "sample_index"), jj);
        CU_ASSERT_STRING_EQUAL(JS(ro, "completion_text"), text);
        CU_ASSERT_STRING_EQUAL(JS(ro, "extracted_answer"), ans);
        CU_ASSERT_STRING_EQUAL(JS(ro, "finish_reason"), jj == 3 ? "length" : "stop");
        CU_ASSERT_DOUBLE_EQUAL(JR(ro, "reward_total"), (jj == 0) + 1.0, 1e-12);
        json_t *c = json_object_get(ro, "components");
        CU_ASSERT_EQUAL(json_array_size(c), 2);
        CU_ASSERT_STRING_EQUAL(JS(json_array_get(c, 0), "name"), "accuracy");
        CU_ASSERT_STRING_EQUAL(JS(json_array_get(c, 0), "reason"), reason);
        CU_ASSERT_EQUAL(json_array_size(json_object_get(ro, "logprobs")), 3);
    }
    json_t *p10 = json_object_get(json_object_get(j, "prompts"), "10");
    CU_ASSERT_STRING_EQUAL(JS(p10, "gold_answer"), "10");
    CU_ASSERT_STRING_EQUAL(JS(p10, "prompt_text"), "Compute 5+5.");
    json_decref(j);
}

static void rollouts_are_paginated_sorted_and_bounded(void) {
    json_t *j = get_json("/api/rollouts?step=1&offset=6&limit=5", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), 2);
    CU_ASSERT_EQUAL(JI(j, "total"), 8);
    json_decref(j);
    j = get_json("/api/rollouts?step=1&sort=best&limit=2", 200);
    json_t *r = json_object_get(j, "rollouts");
    CU_ASSERT_DOUBLE_EQUAL(JR(json_array_get(r, 0), "reward_total"), 1.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(JR(json_array_get(r, 1), "reward_total"), 1.5, 1e-12);
    json_decref(j);
    j = get_json("/api/rollouts?step=1&sort=worst&limit=1&prompt=11", 200);
    r = json_array_get(json_object_get(j, "rollouts"), 0);
    CU_ASSERT_EQUAL(JI(r, "prompt_id"), 11);
    CU_ASSERT_DOUBLE_EQUAL(JR(r, "reward_total"), 0.5, 1e-12);
    CU_ASSERT_EQUAL(JI(j, "total"), G);
    json_decref(j);
    expect_error("/api/rollouts?step=1&limit=513", 400, "parameter 'limit' must be an integer from 1 to 512");
    expect_error("/api/steps?limit=5001", 400, "'limit' must be an integer from 1 to 5000");
    expect_error("/api/search?q=step&limit=201", 400, "from 1 to 200");
}

/* Follows a search's pages (query, then &after=NEXT while "more") and returns how many completions
 * they hold in all; checks that each page's ids rise past the one before and stay within bounds. */
static int search_all(const char *query, int scan) {
    long long after = 0;
    int n = 0, pages = 0;
    for (;;) {
        char url[512];
        snprintf(url, sizeof url, "/api/search?%s&after=%lld&scan=%d", query, after, scan);
        json_t *j = get_json(url, 200);
        json_t *rows = json_object_get(j, "rollouts");
        CU_ASSERT(JI(j, "scanned") <= scan);
        CU_ASSERT((long long)json_array_size(rows) <= JI(j, "limit"));
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            CU_ASSERT(JI(row, "rollout_id") > after);
            after = JI(row, "rollout_id");
            n++;
        }
        int more = json_is_true(json_object_get(j, "more"));
        CU_ASSERT(more ? JI(j, "next") >= after : json_is_null(json_object_get(j, "next")));
        if (more) after = JI(j, "next");
        json_decref(j);
        if (!more || ++pages > STEPS * PROMPTS * G + 2) break; /* a page per candidate at worst */
    }
    return n;
}

static void search_finds_a_planted_string_and_filters(void) {
    json_t *j = get_json("/api/search?q=haystack-91", 200);
    json_t *r = json_object_get(j, "rollouts");
    CU_ASSERT(json_is_false(json_object_get(j, "more")));
    CU_ASSERT(json_is_null(json_object_get(j, "next")));
    CU_ASSERT(json_is_true(json_object_get(j, "full_text_index")));
    CU_ASSERT_EQUAL(JI(j, "scanned"), 1); /* the index's one match is the one candidate */
    CU_ASSERT_EQUAL_FATAL(json_array_size(r), 1);
    json_t *hit = json_array_get(r, 0);
    CU_ASSERT_EQUAL(JI(hit, "step"), 2);
    CU_ASSERT_EQUAL(JI(hit, "prompt_id"), 11);
    CU_ASSERT_EQUAL(JI(hit, "sample_index"), 3);
    CU_ASSERT_EQUAL(JI(j, "scanned_to_step"), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(hit, "snippet"), 1)), "haystack-91");
    json_decref(j);
    /* case-insensitive, a quote in the text is no syntax error */
    j = get_json("/api/search?q=NEEDLE-IN", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), 1);
    json_decref(j);
    j = get_json("/api/search?q=%22x%22%20OR", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), 0);
    CU_ASSERT(json_is_false(json_object_get(j, "more")));
    json_decref(j);
    /* texts of 3 characters and more: the trigram index can answer no shorter ones; filters combine */
    j = get_json("/api/search?q=%3E12%3C", 200); /* ">12<" */
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), STEPS * PROMPTS);
    json_decref(j);
    expect_error("/api/search?q=12", 400, "parameter 'q' needs at least 3 characters");
    j = get_json("/api/search?min_reward=1.2&step_min=2&finish=stop", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), PROMPTS * (1 + 3)); /* j=0 at step 2 (2.0); j=0, 1, 2 at step 3 (2.5, 1.5) */
    CU_ASSERT_EQUAL(JI(j, "scanned"), 2 * PROMPTS * G); /* the step range bounds the candidates: steps 2 and 3 */
    json_decref(j);
    j = get_json("/api/search?component=accuracy&component_min=1&step_max=1", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), PROMPTS);
    json_decref(j);
    j = get_json("/api/search?q=haystack&step_max=1", 200); /* an empty step range's rows: none scanned */
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), 0);
    json_decref(j);
    j = get_json("/api/search?step_min=99", 200);
    CU_ASSERT_EQUAL(JI(j, "scanned"), 0);
    CU_ASSERT(json_is_false(json_object_get(j, "more")));
    json_decref(j);
    expect_error("/api/search?component_min=1", 400, "need 'component'");
    expect_error("/api/search?finish=maybe", 400, "parameter 'finish' must be one of stop, length");
}

/* A search's work is bounded: a page stops at `limit` matches or `scan` candidates, whichever
 * comes first, and says where to go on; the pages together hold every match, once, in order. */
static void search_pages_are_bounded_and_complete(void) {
    json_t *j = get_json("/api/search?q=%3E12%3C&limit=2", 200);
    json_t *rows = json_object_get(j, "rollouts");
    CU_ASSERT_EQUAL_FATAL(json_array_size(rows), 2);
    CU_ASSERT(json_is_true(json_object_get(j, "more")));
    CU_ASSERT_EQUAL(JI(j, "next"), JI(json_array_get(rows, 1), "rollout_id"));
    CU_ASSERT(JI(j, "scanned") <= 3); /* it stopped at the third match: no count of them all */
    json_decref(j);
    /* a budget of 3 candidates: the first page holds what 3 candidates gave, and goes on from the third */
    j = get_json("/api/search?min_reward=1.2&scan=3", 200);
    CU_ASSERT_EQUAL(JI(j, "scanned"), 3);
    CU_ASSERT(json_is_true(json_object_get(j, "more")));
    CU_ASSERT_EQUAL(JI(j, "next"), 3); /* the fixture's rowids are 1, 2, ... in the order written */
    json_decref(j);
    CU_ASSERT_EQUAL(search_all("q=%3E12%3C&limit=2", 10000), STEPS * PROMPTS);
    CU_ASSERT_EQUAL(search_all("q=%3E12%3C&limit=1", 2), STEPS * PROMPTS);
    CU_ASSERT_EQUAL(search_all("min_reward=1.2&step_min=2&finish=stop&limit=3", 3), PROMPTS * (1 + 3));
    CU_ASSERT_EQUAL(search_all("component=accuracy&component_min=1&limit=200", 1), STEPS * PROMPTS);
    CU_ASSERT_EQUAL(search_all("q=step&step_min=2&step_max=2&limit=5", 4), PROMPTS * G);
    expect_error("/api/search?q=step&offset=50", 400, "unknown parameter 'offset'");
    expect_error("/api/search?q=step&scan=0", 400, "parameter 'scan' must be an integer from 1 to 10000");
    expect_error("/api/search?q=step&scan=10001", 400, "parameter 'scan' must be an integer from 1 to 10000");
    expect_error("/api/search?q=step&after=-1", 400, "parameter 'after' must be an integer");
}

static void prompt_history_spans_the_steps(void) {
    json_t *j = get_json("/api/prompt/11", 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "steps")), STEPS);
    CU_ASSERT_EQUAL(JI(j, "total"), STEPS * G);
    json_t *r = json_object_get(j, "rollouts");
    CU_ASSERT_EQUAL(json_array_size(r), STEPS * G);
    CU_ASSERT_EQUAL(JI(json_array_get(r, 0), "step"), 1);
    CU_ASSERT_EQUAL(JI(json_array_get(r, STEPS * G - 1), "step"), 3);
    CU_ASSERT_STRING_EQUAL(JS(json_object_get(json_object_get(j, "prompts"), "11"), "gold_answer"), "10");
    json_decref(j);
    expect_error("/api/prompt/999", 404, "no prompt 999");
    expect_error("/api/prompt/abc", 400, "ID must be a non-negative integer");
    expect_error("/api/prompt/-1", 400, "ID must be a non-negative integer");
}

static void evals_are_listed(void) {
    json_t *j = get_json("/api/evals", 200);
    json_t *e = json_array_get(json_object_get(j, "evals"), 0);
    CU_ASSERT_EQUAL(JI(j, "total"), 1);
    CU_ASSERT_STRING_EQUAL(JS(e, "metric"), "accuracy");
    CU_ASSERT_DOUBLE_EQUAL(JR(e, "value"), 0.5, 1e-12);
    json_decref(j);
}

/* ---------------------------------------------------------------- what is refused */

static void bad_parameters_get_a_400_naming_them(void) {
    expect_error("/api/rollouts", 400, "parameter 'step' is required");
    expect_error("/api/rollouts?step=abc", 400, "parameter 'step' must be an integer");
    expect_error("/api/rollouts?step=1x", 400, "parameter 'step' must be an integer");
    expect_error("/api/rollouts?step=", 400, "parameter 'step' must be an integer");
    expect_error("/api/rollouts?step=1&limit=0", 400, "'limit'");
    expect_error("/api/rollouts?step=1&offset=-1", 400, "'offset'");
    expect_error("/api/rollouts?step=1&sort=sideways", 400, "parameter 'sort' must be one of index, best, worst");
    expect_error("/api/rollouts?step=1&foo=1", 400, "unknown parameter 'foo' for /api/rollouts");
    expect_error("/api/rollouts?step=1&step=2", 400, "parameter 'step' is given twice");
    expect_error("/api/search?min_reward=nan", 400, "'min_reward' must be a finite number");
    expect_error("/api/search?max_reward=1e999", 400, "'max_reward' must be a finite number");
    expect_error("/api/steps?after=99999999999999999999", 400, "'after'");
    expect_error("/api/run?x=1", 400, "unknown parameter 'x' for /api/run (known: none)");
    char q[512];
    snprintf(q, sizeof q, "/api/search?q=%0250d", 0);
    expect_error(q, 400, "parameter 'q' must be 1 to 200 bytes");
    expect_error("/api/rollouts?step=99", 404, "no step 99");
}

static void unknown_paths_get_a_404_and_traversal_is_refused(void) {
    expect_error("/nope", 404, "no such page");
    expect_error("/app.js/x", 404, "no such page");
    expect_error("/api/nope", 404, "no API route /api/nope");
    expect_error("/api/", 404, "no API route");
    expect_error("/../../etc/passwd", 400, "path traversal refused");
    expect_error("/%2e%2e/%2e%2e/etc/passwd", 400, "path traversal refused");
    expect_error("/api/../../etc/passwd", 400, "path traversal refused");
    expect_error("/..%2f..%2fetc%2fpasswd", 400, "path traversal refused");
    expect_error("/%5c..%5cetc", 400, "path traversal refused");
    char *body;
    CU_ASSERT_EQUAL(http_get("/", &body), 200);
    CU_ASSERT_PTR_NOT_NULL(body && strstr(body, "<script src=\"/app.js\"></script>"));
    free(body);
    CU_ASSERT_EQUAL(http_get("/app.js", &body), 200);
    CU_ASSERT_PTR_NOT_NULL(body && strstr(body, "'use strict'"));
    CU_ASSERT(body && !strstr(body, "innerHTML") && !strstr(body, "eval(")); /* text goes in as text nodes */
    free(body);
}

static void other_methods_and_foreign_hosts_are_refused(void) {
    char host[64], *body;
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    CU_ASSERT_EQUAL(http_raw("POST", "/api/run", host, &body), 405);
    free(body);
    CU_ASSERT_EQUAL(http_raw("DELETE", "/api/steps", host, &body), 405);
    free(body);
    /* a page on another site that resolves its name to 127.0.0.1 (DNS rebinding) gets nothing */
    CU_ASSERT_EQUAL(http_raw("GET", "/api/run", "evil.example:8765", &body), 403);
    CU_ASSERT_PTR_NOT_NULL(body && strstr(body, "Host header"));
    free(body);
    snprintf(host, sizeof host, "localhost:%d", port);
    CU_ASSERT_EQUAL(http_raw("GET", "/api/run", host, &body), 200);
    free(body);
}

static void every_response_forbids_inline_script(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256], buf[4096] = "";
    int n = snprintf(req, sizeof req, "GET /api/search?q=script HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    CU_ASSERT_EQUAL(write(fd, req, (size_t)n), n);
    size_t len = 0;
    ssize_t got;
    while ((got = read(fd, buf + len, sizeof buf - len - 1)) > 0) len += (size_t)got;
    buf[len] = '\0';
    close(fd);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Security-Policy: default-src 'none'; script-src 'self';"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Content-Type: application/json"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "X-Content-Type-Options: nosniff"));
    /* the hostile completion comes back as a JSON string */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"scanned\":1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"more\":false"));
}

/* ---------------------------------------------------------------- binding, read-only, live */

static void binding_elsewhere_than_loopback_prints_a_warning(void) {
    int p2 = 0;
    char err[2048];
    pid_t pid = start_view(db, "--host 0.0.0.0", &p2, err, sizeof err);
    CU_ASSERT(p2 > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "grpo view: warning: listening on 0.0.0.0, not on loopback"));
    stop_view(pid);
    pid = start_view(db, NULL, &p2, err, sizeof err);
    CU_ASSERT(p2 > 0);
    CU_ASSERT_PTR_NULL(strstr(err, "warning"));
    stop_view(pid);
    char *out = NULL;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s view --db '%s' --host 300.1.1.1 --port 0", GRPO_BIN, db);
    CU_ASSERT_EQUAL(tu_run(cmd, &out, 1), 1);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "--host 300.1.1.1: not an IPv4 address"));
    free(out);
}

static void a_session_leaves_the_file_unchanged(void) {
    char *copy = malloc(4096), *before = NULL, *after = NULL;
    snprintf(copy, 4096, "%s/ro/rollouts.db", tmp);
    write_fixture(copy);
    size_t n0 = 0, n1 = 0;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(fs_read_file(copy, &before, &n0, &e), GRPO_OK);
    int saved = port, p2 = 0;
    pid_t pid = start_view(copy, NULL, &p2, NULL, 0);
    port = p2;
    static const char *const TARGETS[] = {"/", "/api/run", "/api/steps", "/api/rollouts?step=1", "/api/search?q=needle",
                                          "/api/prompt/10", "/api/evals", "/api/nope"};
    for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++) {
        char *b;
        CU_ASSERT(http_get(TARGETS[i], &b) > 0);
        free(b);
    }
    stop_view(pid);
    port = saved;
    CU_ASSERT_EQUAL(fs_read_file(copy, &after, &n1, &e), GRPO_OK);
    CU_ASSERT(before && after && n0 == n1 && !memcmp(before, after, n0));
    free(before);
    free(after);
    free(copy);
}

static void a_version_1_file_is_served_as_it_is(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/v1", tmp);
    fs_mkdirs(path, NULL);
    snprintf(path, sizeof path, "%s/v1/rollouts.db", tmp);
    sqlite3 *d;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &d), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(d, V1_FIXTURE, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
    int saved = port, p2 = 0;
    pid_t pid = start_view(path, NULL, &p2, NULL, 0);
    port = p2;
    json_t *j = get_json("/api/run", 200);
    CU_ASSERT_EQUAL(JI(j, "schema_version"), 1);
    CU_ASSERT(json_is_false(json_object_get(j, "full_text_index")));
    json_decref(j);
    j = get_json("/api/rollouts?step=1", 200);
    json_t *ro = json_array_get(json_object_get(j, "rollouts"), 0);
    CU_ASSERT(json_is_null(json_object_get(ro, "extracted_answer")));
    CU_ASSERT(json_is_null(json_object_get(json_array_get(json_object_get(ro, "components"), 0), "reason")));
    CU_ASSERT_STRING_EQUAL(JS(json_object_get(json_object_get(j, "prompts"), "5"), "prompt_text"), "What is 2+3?");
    json_decref(j);
    j = get_json("/api/search?q=aardvark", 200); /* no index: a scan */
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "rollouts")), 1);
    CU_ASSERT(json_is_false(json_object_get(j, "full_text_index")));
    json_decref(j);
    j = get_json("/api/prompt/5", 200);
    CU_ASSERT_EQUAL(JI(j, "total"), 2);
    json_decref(j);
    stop_view(pid);
    port = saved;
    CU_ASSERT_EQUAL(sql_version(path), 1);
}

static void a_report_is_one_file_whose_data_no_text_can_close(void) {
    char out[4096], cmd[8192], *msg = NULL;
    snprintf(out, sizeof out, "%s/report.html", tmp);
    snprintf(cmd, sizeof cmd, "%s report --db '%s' -o '%s' --max-rollouts 10", GRPO_BIN, db, out);
    CU_ASSERT_EQUAL(tu_run(cmd, &msg, 1), 0);
    CU_ASSERT_PTR_NOT_NULL(msg && strstr(msg, "(8 of 24 rollouts, capped by --max-rollouts)"));
    free(msg);
    char *html = NULL;
    size_t n = 0;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(fs_read_file(out, &html, &n, &e), GRPO_OK);
    /* exactly the page's own two script blocks; the hostile completion only in escaped form */
    int scripts = 0;
    for (const char *p = html; (p = strstr(p, "<script")); p++) scripts++;
    CU_ASSERT_EQUAL(scripts, 2);
    CU_ASSERT_PTR_NULL(strstr(html, "<img"));
    CU_ASSERT_PTR_NULL(strstr(html, "</textarea>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "Content-Security-Policy"));
    CU_ASSERT_PTR_NULL(strstr(html, "<script src"));
    free(html);
    /* with the cap at 10, only the last step (8 rollouts) is kept; the hostile text is at step 1 */
    snprintf(cmd, sizeof cmd, "%s report --db '%s' -o '%s'", GRPO_BIN, db, out);
    CU_ASSERT_EQUAL(tu_run(cmd, &msg, 1), 0);
    free(msg);
    CU_ASSERT_EQUAL_FATAL(fs_read_file(out, &html, &n, &e), GRPO_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(html, "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"));
    CU_ASSERT_PTR_NULL(strstr(html, "<script>alert"));
    CU_ASSERT_PTR_NULL(strstr(html, "<img"));
    free(html);
    snprintf(cmd, sizeof cmd, "%s report --db '%s'", GRPO_BIN, db);
    CU_ASSERT_EQUAL(tu_run(cmd, &msg, 1), 2);
    CU_ASSERT_PTR_NOT_NULL(msg && strstr(msg, "--db PATH and -o FILE are required"));
    free(msg);
}

/* The reader thread of the live test: GETs the steps and a step's rollouts until told to stop. */
static volatile int hammering;
static void *hammer(void *arg) {
    long *count = arg;
    while (hammering) {
        char *b;
        if (http_get("/api/steps", &b) == 200) (*count)++;
        free(b);
        if (http_get("/api/rollouts?step=1&limit=512", &b) == 200) (*count)++;
        free(b);
    }
    return NULL;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void a_writer_never_gets_busy_and_new_steps_show_at_once(void) {
    /* a writer with no busy timeout at all: any lock the viewer held would fail its statements */
    sqlite3 *w;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &w), SQLITE_OK);
    sqlite3_busy_timeout(w, 0);
    long reads = 0;
    hammering = 1;
    pthread_t th;
    pthread_create(&th, NULL, hammer, &reads);
    int busy = 0;
    double worst = 0;
    for (int step = 100; step < 140; step++) {
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "BEGIN IMMEDIATE; INSERT INTO steps(run_id, step, created_at, reward_mean) VALUES(1, %d, 'now', 0.5);"
                 "INSERT INTO rollouts(run_id, step, prompt_id, sample_index, completion_text, token_ids, rewards_json,"
                 " length, finish_reason) VALUES(1, %d, 10, 0, 'live step %d', '[]', '{}', 0, 'stop'); COMMIT;",
                 step, step, step);
        int rc = sqlite3_exec(w, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            busy += (rc & 0xff) == SQLITE_BUSY;
            fprintf(stderr, "\n  step %d: %s\n", step, sqlite3_errmsg(w));
            sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
            continue;
        }
        /* the step is in /api/steps as soon as it is committed */
        double t0 = now_s(), dt = 0;
        char target[64];
        snprintf(target, sizeof target, "/api/steps?after=%d", step - 1);
        for (;;) {
            json_t *j = get_json(target, 200);
            size_t n = json_array_size(json_object_get(j, "steps"));
            json_decref(j);
            dt = now_s() - t0;
            if (n == 1 || dt > 2.0) break;
        }
        if (dt > worst) worst = dt;
    }
    hammering = 0;
    pthread_join(th, NULL);
    sqlite3_exec(w, "PRAGMA foreign_keys=OFF; DELETE FROM rollouts WHERE step>=100; DELETE FROM steps WHERE step>=100",
                 NULL, NULL, NULL);
    sqlite3_close(w);
    CU_ASSERT_EQUAL(busy, 0);
    CU_ASSERT(reads > 10);
    CU_ASSERT(worst < 2.0);
    fprintf(stderr, "(%ld reads meanwhile, slowest step visible after %.3f s) ", reads, worst);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    tmp = tu_tmpdir("viewer");
    db = malloc(4096);
    snprintf(db, 4096, "%s/run/rollouts.db", tmp);
    if (!tmp || CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("viewer", NULL, NULL);
#define T(f) CU_add_test(s, #f, f)
    T(the_fixture_is_written_and_served);
    T(run_describes_the_run_and_its_components);
    T(steps_list_every_step_with_component_means);
    T(rollouts_of_a_step_carry_components_reasons_and_gold);
    T(rollouts_are_paginated_sorted_and_bounded);
    T(search_finds_a_planted_string_and_filters);
    T(search_pages_are_bounded_and_complete);
    T(prompt_history_spans_the_steps);
    T(evals_are_listed);
    T(bad_parameters_get_a_400_naming_them);
    T(unknown_paths_get_a_404_and_traversal_is_refused);
    T(other_methods_and_foreign_hosts_are_refused);
    T(every_response_forbids_inline_script);
    T(binding_elsewhere_than_loopback_prints_a_warning);
    T(a_session_leaves_the_file_unchanged);
    T(a_version_1_file_is_served_as_it_is);
    T(a_report_is_one_file_whose_data_no_text_can_close);
    T(a_writer_never_gets_busy_and_new_steps_show_at_once);
#undef T
    int rc = tu_run_registry();
    stop_view(server);
    fs_remove_tree(tmp, NULL);
    free(tmp);
    free(db);
    return rc;
}
