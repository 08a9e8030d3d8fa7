/* tests/store/test_store.c: the rollout store's promises (DESIGN §4, §6): the schema is there in WAL
 * mode; a step is all there or absent, whether it is committed, aborted, abandoned by _exit or killed
 * by SIGKILL at any moment; a resumed run truncates before writing again, and writing a stored step
 * is a clear error; wrong files and newer schemas are refused with a clear message; and `grpo db`
 * prints what it says. Checks read the file with plain sqlite3, as a user would. */
#include <CUnit/CUnit.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/fsutil.h"
#include "rollout/store/store.h"
#include "../test_util.h"

static char *tmp;

/* ---------------------------------------------------------------- helpers */

/* tmp/NAME (malloc'd), a fresh database path per test. */
static char *db_path(const char *name) {
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s/rollouts.db", tmp, name);
    return p;
}

static store *open_ok(const char *path, const char *run, const char *config) {
    store *s = NULL;
    grpo_err e = {0};
    int rc = store_open(&s, path, run, config, &e);
    if (rc) fprintf(stderr, "\n  store_open: %s\n", e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
    return s;
}

/* First column of the first row of sql on path, read by a separate plain sqlite3 connection
 * (malloc'd text, or NULL when there is no row or the value is NULL). */
static char *sql_text(const char *path, const char *sql) {
    sqlite3 *db;
    char *out = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            out = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    } else {
        fprintf(stderr, "\n  sql_text(%s): %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    return out;
}

/* sql_text as an integer (-999 when there is no value). */
static long long sql_int(const char *path, const char *sql) {
    char *t = sql_text(path, sql);
    long long v = t ? atoll(t) : -999;
    free(t);
    return v;
}

/* Runs sql (no results) on path with a plain sqlite3 connection. */
static void sql_exec(const char *path, const char *sql) {
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fprintf(stderr, "\n  %s: %s\n", sql, msg);
    sqlite3_free(msg);
    sqlite3_close(db);
}

static void expect_text(const char *path, const char *sql, const char *want) {
    char *got = sql_text(path, sql);
    if (!got || strcmp(got, want)) fprintf(stderr, "\n  %s\n  got:  %s\n  want: %s\n", sql, got ? got : "(null)", want);
    CU_ASSERT_PTR_NOT_NULL(got);
    if (got) CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
}

static void expect_msg(const grpo_err *e, const char *want) {
    if (!strstr(e->msg, want)) fprintf(stderr, "\n  message: %s\n  wanted:  %s\n", e->msg, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, want));
}

/* Adds G completions for each of n_prompts prompts (ids 100, 101, ...) to the open step, each with
 * ntok tokens, a completion text of text_len bytes and two reward components (format, math). */
static int add_group_rollouts(store *s, int64_t step, int n_prompts, int G, int ntok, size_t text_len, grpo_err *e) {
    int *ids = malloc((size_t)ntok * sizeof *ids);
    float *lp = malloc((size_t)ntok * sizeof *lp);
    char *text = malloc(text_len + 1);
    for (int t = 0; t < ntok; t++) ids[t] = (int)(step * 7 + t) % 1000, lp[t] = -0.25f * (float)(t % 5) - 0.125f;
    for (size_t i = 0; i < text_len; i++) text[i] = (char)('a' + (i * 7 + (size_t)step) % 26);
    text[text_len] = '\0';
    int rc = GRPO_OK;
    for (int p = 0; p < n_prompts && !rc; p++)
        for (int j = 0; j < G && !rc; j++) {
            store_component comp[2] = {{"format", 1.0, NULL}, {"math", (double)(j % 2), NULL}};
            store_rollout r = {.prompt_id = 100 + p, .sample_index = j, .prompt_text = "What is 2+3?",
                               .completion_text = text, .token_ids = ids, .logprobs = lp, .n_tokens = ntok,
                               .components = comp, .n_components = 2, .reward_total = 1.0 + (j % 2),
                               .advantage = (j % 2) ? 0.5 : -0.5, .finish = j == G - 1 ? STORE_FINISH_LENGTH
                                                                                     : STORE_FINISH_STOP};
            rc = store_add_rollout(s, &r, e);
        }
    free(ids);
    free(lp);
    free(text);
    return rc;
}

/* Writes one whole step (2 prompts x 3 samples, 4 tokens each) with reward_mean = step / 10. */
static void write_step(store *s, int64_t step) {
    grpo_err e = {0};
    int rc = store_step_begin(s, step, &e);
    if (!rc) rc = add_group_rollouts(s, step, 2, 3, 4, 16, &e);
    store_step_metrics m = store_metrics_unset();
    m.reward_mean = (double)step / 10;
    m.loss = 0.5;
    if (!rc) rc = store_step_commit(s, step, &m, "{\"reward/math/mean\": 0.5}", &e);
    if (rc) fprintf(stderr, "\n  write_step %lld: %s\n", (long long)step, e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
}

static int64_t last_step(store *s) {
    int64_t last = -2;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_last_step(s, &last, &e), GRPO_OK);
    return last;
}

/* ---------------------------------------------------------------- the schema */

static void opening_creates_the_schema_in_wal_mode_and_the_runs_row(void) {
    char *path = db_path("schema");
    store *s = open_ok(path, "demo", "{\"beta\": 0.04, \"num_generations\": 8}");
    CU_ASSERT_EQUAL(last_step(s), -1);
    CU_ASSERT_STRING_EQUAL(store_run_name(s), "demo");
    expect_text(path, "PRAGMA journal_mode", "wal");
    CU_ASSERT_EQUAL(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(sql_int(path, "PRAGMA application_id"), STORE_APPLICATION_ID);
    expect_text(path,
                "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type='table' ORDER BY name)",
                "evals prompts reward_components rollouts rollouts_fts rollouts_fts_config rollouts_fts_data "
                "rollouts_fts_docsize rollouts_fts_idx runs steps");
    expect_text(path, "SELECT kind FROM runs", "grpo");
    expect_text(path, "SELECT name || ' ' || json_extract(config_json, '$.num_generations') FROM runs", "demo 8");
    CU_ASSERT(sql_int(path, "SELECT length(grpo_version) > 0 AND created_at LIKE '____-__-__T__:__:__.___Z' FROM runs") == 1);
    store_close(s);
    free(path);
}

static void opening_a_path_in_a_missing_directory_creates_it(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/deep/er/still/rollouts.db", tmp);
    store *s = open_ok(path, "r", "{}");
    store_close(s);
    CU_ASSERT(fs_exists(path));
}

static void reopening_updates_the_config_and_keeps_the_steps(void) {
    char *path = db_path("reopen");
    store *s = open_ok(path, "r", "{\"lr\": 1}");
    write_step(s, 0);
    store_close(s);
    s = open_ok(path, "r", "{\"lr\": 2}");
    CU_ASSERT_EQUAL(last_step(s), 0);
    store_close(s);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM runs"), 1);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT json_extract(config_json, '$.lr') FROM runs"), 2);
    free(path);
}

/* ---------------------------------------------------------------- a step is all there or absent */

static void a_committed_step_is_all_there(void) {
    char *path = db_path("commit");
    store *s = open_ok(path, "r", "{}");
    write_step(s, 7);
    CU_ASSERT_EQUAL(last_step(s), 7);
    store_close(s);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM steps WHERE step=7"), 1);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts WHERE step=7"), 6);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM reward_components WHERE step=7"), 12);
    const char *one = "FROM rollouts WHERE step=7 AND prompt_id=101 AND sample_index=2";
    char q[512];
    snprintf(q, sizeof q, "SELECT token_ids %s", one);
    expect_text(path, q, "[49,50,51,52]");
    snprintf(q, sizeof q, "SELECT logprobs %s", one);
    expect_text(path, q, "[-0.125,-0.375,-0.625,-0.875]");
    snprintf(q, sizeof q, "SELECT rewards_json %s", one);
    expect_text(path, q, "{\"format\":1.0,\"math\":0.0}");
    snprintf(q, sizeof q, "SELECT printf('%%s %%d %%g %%g', finish_reason, length, reward_total, advantage) %s", one);
    expect_text(path, q, "length 4 1 -0.5");
    snprintf(q, sizeof q, "SELECT prompt_text %s", one);
    expect_text(path, q, "What is 2+3?");
    expect_text(path, "SELECT finish_reason FROM rollouts WHERE step=7 AND sample_index=0 LIMIT 1", "stop");
    expect_text(path, "SELECT printf('%g %g', reward_mean, loss) FROM steps WHERE step=7", "0.7 0.5");
    CU_ASSERT_EQUAL(sql_int(path, "SELECT kl IS NULL AND entropy IS NULL FROM steps WHERE step=7"), 1);
    expect_text(path, "SELECT json_extract(metrics_json, '$.reward/math/mean') FROM steps", "0.5");
    expect_text(path, "SELECT printf('%s=%.6f', name, avg(value)) FROM reward_components WHERE name='math' GROUP BY name",
                "math=0.333333");
    free(path);
}

static void an_aborted_step_leaves_nothing_and_can_be_written_again(void) {
    char *path = db_path("abort");
    store *s = open_ok(path, "r", "{}");
    write_step(s, 0);
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_step_begin(s, 1, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(add_group_rollouts(s, 1, 2, 4, 8, 32, &e), GRPO_OK);
    store_step_abort(s);
    CU_ASSERT_EQUAL(last_step(s), 0);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts WHERE step=1"), 0);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM reward_components WHERE step=1"), 0);
    write_step(s, 1);
    CU_ASSERT_EQUAL(last_step(s), 1);
    store_close(s);
    free(path);
}

/* Checks the state a killed writer leaves: steps 0..want_last whole, nothing of later steps,
 * no orphan rows, integrity "ok"; and that the next step can then be written. */
static void expect_whole_steps(const char *path, int64_t want_last, long long per_step) {
    expect_text(path, "PRAGMA integrity_check", "ok");
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT coalesce(max(step), -1) FROM steps"), want_last);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM steps"), want_last + 1);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts"), (want_last + 1) * per_step);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM reward_components"), (want_last + 1) * per_step * 2);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts WHERE step NOT IN (SELECT step FROM steps)"), 0);
}

/* A child that commits step 0, then begins step 1 and adds big rollouts (about 5 MB, more than
 * SQLite's page cache, so uncommitted pages spill into the WAL), tells the parent, then waits
 * (how == 'k', to be killed) or calls _exit (how == 'x'). Returns the child's pid. */
static pid_t child_with_open_step(const char *path, char how, int *ready_fd) {
    int fds[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        store *s;
        grpo_err e = {0};
        if (store_open(&s, path, "r", "{}", &e)) _exit(10);
        if (store_step_begin(s, 0, &e) || add_group_rollouts(s, 0, 2, 3, 4, 16, &e) ||
            store_step_commit(s, 0, NULL, NULL, &e))
            _exit(11);
        if (store_step_begin(s, 1, &e) || add_group_rollouts(s, 1, 24, 8, 512, 16000, &e)) _exit(12);
        if (write(fds[1], "r", 1) != 1) _exit(13);
        if (how == 'x') _exit(0);
        for (;;) pause();
    }
    close(fds[1]);
    *ready_fd = fds[0];
    return pid;
}

static void a_step_killed_by_sigkill_before_commit_leaves_nothing(void) {
    char *path = db_path("sigkill");
    int fd;
    pid_t pid = child_with_open_step(path, 'k', &fd);
    char c = 0;
    CU_ASSERT_EQUAL(read(fd, &c, 1), 1);
    close(fd);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    store *s = open_ok(path, "r", "{}");
    CU_ASSERT_EQUAL(last_step(s), 0);
    expect_whole_steps(path, 0, 6);
    write_step(s, 1);
    store_close(s);
    expect_whole_steps(path, 1, 6);
    free(path);
}

static void a_step_abandoned_by_exit_before_commit_leaves_nothing(void) {
    char *path = db_path("exit");
    int fd;
    pid_t pid = child_with_open_step(path, 'x', &fd);
    char c = 0;
    CU_ASSERT_EQUAL(read(fd, &c, 1), 1);
    close(fd);
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    store *s = open_ok(path, "r", "{}");
    CU_ASSERT_EQUAL(last_step(s), 0);
    store_close(s);
    expect_whole_steps(path, 0, 6);
    free(path);
}

static void a_writer_killed_at_random_moments_leaves_every_step_whole(void) {
    char *path = db_path("random-kill");
    store_close(open_ok(path, "r", "{}"));
    srand(12345);
    int64_t prev = -1;
    for (int round = 0; round < 6; round++) {
        fflush(NULL);
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) { /* a run resuming from its last stored step, forever */
            store *s;
            grpo_err e = {0};
            if (store_open(&s, path, "r", "{}", &e)) _exit(10);
            int64_t last;
            if (store_last_step(s, &last, &e)) _exit(11);
            for (int64_t step = last + 1;; step++)
                if (store_step_begin(s, step, &e) || add_group_rollouts(s, step, 4, 4, 64, 2000, &e) ||
                    store_step_commit(s, step, NULL, NULL, &e))
                    _exit(12);
        }
        struct timespec ts = {0, (long)(10 + rand() % 60) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        CU_ASSERT(WIFSIGNALED(st));
        int64_t last = sql_int(path, "SELECT coalesce(max(step), -1) FROM steps");
        CU_ASSERT(last >= prev);
        expect_whole_steps(path, last, 16);
        prev = last;
    }
    free(path);
}

/* ---------------------------------------------------------------- resume: truncation and duplicates */

static void truncate_after_removes_later_steps_and_evals(void) {
    char *path = db_path("truncate");
    store *s = open_ok(path, "r", "{}");
    grpo_err e = {0};
    for (int step = 0; step <= 4; step++) write_step(s, step);
    for (int step = 0; step <= 4; step += 2) {
        store_eval ev = {.step = step, .name = "arith", .split = "eval", .metric = "accuracy", .value = 0.1 * step,
                         .n = 200};
        CU_ASSERT_EQUAL(store_add_eval(s, &ev, &e), GRPO_OK);
    }
    int64_t removed = -1;
    CU_ASSERT_EQUAL(store_truncate_after(s, 2, &removed, &e), GRPO_OK);
    CU_ASSERT_EQUAL(removed, 2);
    CU_ASSERT_EQUAL(last_step(s), 2);
    expect_whole_steps(path, 2, 6);
    expect_text(path, "SELECT group_concat(step, ',') FROM (SELECT step FROM evals ORDER BY step)", "0,2");
    write_step(s, 3); /* the resumed run writes step 3 again */
    expect_whole_steps(path, 3, 6);
    CU_ASSERT_EQUAL(store_truncate_after(s, -1, &removed, &e), GRPO_OK);
    CU_ASSERT_EQUAL(removed, 4);
    CU_ASSERT_EQUAL(last_step(s), -1);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM evals"), 0);
    store_close(s);
    expect_whole_steps(path, -1, 6);
    free(path);
}

static void writing_a_stored_step_again_is_a_clear_error(void) {
    char *path = db_path("twice");
    store *s = open_ok(path, "r", "{}");
    write_step(s, 0);
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_step_begin(s, 0, &e), GRPO_EINVAL);
    expect_msg(&e, "step 0 of run 'r' is already stored");
    expect_msg(&e, "store_truncate_after");
    write_step(s, 1); /* the store is still usable */
    store_close(s);
    expect_whole_steps(path, 1, 6);
    free(path);
}

static void evals_recorded_again_replace_the_old_value(void) {
    char *path = db_path("evals");
    store *s = open_ok(path, "r", "{}");
    grpo_err e = {0};
    store_eval ev = {.step = 0, .name = "arith", .split = "eval", .metric = "accuracy", .value = 0.25, .n = 200};
    CU_ASSERT_EQUAL(store_add_eval(s, &ev, &e), GRPO_OK);
    ev.value = 0.5;
    ev.detail_json = "{\"k\": 1}";
    CU_ASSERT_EQUAL(store_add_eval(s, &ev, &e), GRPO_OK);
    ev.metric = "pass@1";
    CU_ASSERT_EQUAL(store_add_eval(s, &ev, &e), GRPO_OK);
    store_close(s);
    expect_text(path, "SELECT printf('%d %g', count(*), sum(value)) FROM evals WHERE metric='accuracy'", "1 0.5");
    expect_text(path, "SELECT json_extract(detail_json, '$.k') FROM evals WHERE metric='accuracy'", "1");
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM evals"), 2);
    free(path);
}

/* ---------------------------------------------------------------- misuse and bad files */

static void misuse_of_a_step_is_a_clear_error(void) {
    char *path = db_path("misuse");
    store *s = open_ok(path, "r", "{}");
    grpo_err e = {0};
    store_rollout r = {.prompt_id = 1, .sample_index = 0, .token_ids = (const int[]){5}, .n_tokens = 1};
    CU_ASSERT_EQUAL(store_add_rollout(s, &r, &e), GRPO_EINVAL);
    expect_msg(&e, "outside a step");
    CU_ASSERT_EQUAL(store_step_commit(s, 0, NULL, NULL, &e), GRPO_EINVAL);
    expect_msg(&e, "no step is open");

    CU_ASSERT_EQUAL_FATAL(store_step_begin(s, 0, &e), GRPO_OK);
    CU_ASSERT_EQUAL(store_step_begin(s, 1, &e), GRPO_EINVAL);
    expect_msg(&e, "step 0 is still open");
    CU_ASSERT_EQUAL(store_truncate_after(s, 0, NULL, &e), GRPO_EINVAL);
    CU_ASSERT_EQUAL(store_add_rollout(s, &r, &e), GRPO_OK);
    CU_ASSERT_EQUAL(store_add_rollout(s, &r, &e), GRPO_EINVAL);
    expect_msg(&e, "rollouts.db: step 0, prompt 1, sample 0: inserting the rollout: UNIQUE constraint failed");
    r.sample_index = 1;
    r.finish = 7;
    CU_ASSERT_EQUAL(store_add_rollout(s, &r, &e), GRPO_EINVAL);
    expect_msg(&e, "finish reason 7");
    r.finish = STORE_FINISH_STOP;
    r.components = (const store_component[]){{"math", 1, NULL}, {"math", 0, NULL}};
    r.n_components = 2;
    CU_ASSERT_EQUAL(store_add_rollout(s, &r, &e), GRPO_EINVAL);
    expect_msg(&e, "reward component 'math' is given twice");
    CU_ASSERT_EQUAL(store_step_commit(s, 0, NULL, "[1, 2]", &e), GRPO_EFORMAT);
    expect_msg(&e, "metrics_json must be a JSON object");
    CU_ASSERT_EQUAL(last_step(s), -1); /* a failed commit rolls the step back */
    CU_ASSERT_EQUAL_FATAL(store_step_begin(s, 0, &e), GRPO_OK);
    CU_ASSERT_EQUAL(store_step_commit(s, 3, NULL, NULL, &e), GRPO_EINVAL);
    expect_msg(&e, "store_step_commit of step 3, but step 0 is open");
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts"), 0);
    store_close(s);

    store *bad = NULL;
    CU_ASSERT_EQUAL(store_open(&bad, path, "r", "{\"lr\": ", &e), GRPO_EFORMAT);
    expect_msg(&e, "the run config is not valid JSON");
    CU_ASSERT_PTR_NULL(bad);
    free(path);
}

static void a_newer_schema_version_is_a_clear_error(void) {
    char *path = db_path("newer");
    store_close(open_ok(path, "r", "{}"));
    sql_exec(path, "PRAGMA user_version=99");
    store *s = NULL;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_open(&s, path, "r", "{}", &e), GRPO_EUNSUPPORTED);
    expect_msg(&e, "schema version 99 is newer than this grpo");
    expect_msg(&e, path);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(store_open_read(&s, path, NULL, &e), GRPO_EUNSUPPORTED);
    expect_msg(&e, "schema version 99");
    sql_exec(path, "PRAGMA user_version=0");
    CU_ASSERT_EQUAL(store_open(&s, path, "r", "{}", &e), GRPO_EUNSUPPORTED);
    expect_msg(&e, "schema version 0 is not a version grpo ever wrote");
    free(path);
}

static void a_foreign_file_is_refused_and_left_untouched(void) {
    char *path = db_path("foreign");
    char *dir = strdup(path);
    *strrchr(dir, '/') = '\0';
    fs_mkdirs(dir, NULL);
    sql_exec(path, "CREATE TABLE notes(x)");
    store *s = NULL;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_open(&s, path, "r", "{}", &e), GRPO_EFORMAT);
    expect_msg(&e, "not a grpo rollout database");
    expect_text(path, "PRAGMA journal_mode", "delete");
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM sqlite_master"), 1);

    const char *text = "this is not an SQLite file, only text long enough to hold a whole SQLite header of 100 bytes.\n";
    char *junk = tu_write(dir, "junk.db", text, strlen(text));
    CU_ASSERT_EQUAL(store_open(&s, junk, "r", "{}", &e), GRPO_EFORMAT);
    expect_msg(&e, "file is not a database");
    expect_msg(&e, junk);
    CU_ASSERT_EQUAL(store_open_read(&s, "/nonexistent/rollouts.db", NULL, &e), GRPO_EIO);
    expect_msg(&e, "/nonexistent/rollouts.db: no such database");
    free(junk);
    free(dir);
    free(path);
}

static void read_only_open_selects_the_only_run_or_a_named_one(void) {
    char *path = db_path("runs");
    store *w = open_ok(path, "alpha", "{}");
    write_step(w, 0);
    store *r = NULL;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_open_read(&r, path, NULL, &e), GRPO_OK); /* while the writer is open */
    CU_ASSERT_STRING_EQUAL(store_run_name(r), "alpha");
    CU_ASSERT_EQUAL(last_step(r), 0);
    CU_ASSERT_EQUAL(store_step_begin(r, 1, &e), GRPO_EINVAL);
    expect_msg(&e, "opened read-only");
    store_close(r);
    store_close(w);
    store_close(open_ok(path, "beta", "{}"));
    CU_ASSERT_EQUAL(store_open_read(&r, path, NULL, &e), GRPO_EINVAL);
    expect_msg(&e, "holds 2 runs ('alpha', 'beta')");
    CU_ASSERT_EQUAL(store_open_read(&r, path, "gamma", &e), GRPO_EINVAL);
    expect_msg(&e, "no run named 'gamma'");
    CU_ASSERT_EQUAL_FATAL(store_open_read(&r, path, "beta", &e), GRPO_OK);
    CU_ASSERT_EQUAL(last_step(r), -1);
    store_close(r);
    free(path);
}

static int keep_row(void *ctx, json_t *row) {
    json_array_append(ctx, row);
    return 0;
}

static void query_rows_decode_json_columns_and_repair_bad_utf8(void) {
    char *path = db_path("query");
    store *s = open_ok(path, "r", "{}");
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_step_begin(s, 0, &e), GRPO_OK);
    store_rollout r = {.prompt_id = 3, .sample_index = 1, .prompt_text = "p", .completion_text = "ok \xff\xc3 end",
                       .token_ids = (const int[]){7, 8}, .n_tokens = 2, .reward_total = NAN,
                       .finish = STORE_FINISH_STOP};
    CU_ASSERT_EQUAL(store_add_rollout(s, &r, &e), GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(store_step_commit(s, 0, NULL, NULL, &e), GRPO_OK);
    json_t *rows = json_array();
    int64_t args[2] = {store_run_id(s), 0};
    CU_ASSERT_EQUAL_FATAL(store_query(s,
                                      "SELECT token_ids AS token_ids_json, logprobs AS logprobs_json, rewards_json,"
                                      " completion_text, reward_total FROM rollouts WHERE run_id=?1 AND step=?2",
                                      args, 2, keep_row, rows, &e),
                          GRPO_OK);
    CU_ASSERT_EQUAL_FATAL(json_array_size(rows), 1);
    char *got = json_dumps(json_array_get(rows, 0), JSON_COMPACT | JSON_PRESERVE_ORDER);
    CU_ASSERT_STRING_EQUAL(got, "{\"token_ids\":[7,8],\"logprobs\":null,\"rewards\":{},"
                                "\"completion_text\":\"ok \xef\xbf\xbd\xef\xbf\xbd end\",\"reward_total\":null}");
    free(got);
    json_decref(rows);
    CU_ASSERT_EQUAL(store_query(s, "DELETE FROM steps", NULL, 0, keep_row, NULL, &e), GRPO_EINVAL);
    expect_msg(&e, "read-only statements only");
    CU_ASSERT_EQUAL(last_step(s), 0);
    store_close(s);
    free(path);
}

/* ---------------------------------------------------------------- grpo db */

/* Runs `grpo db ARGS`; returns the exit status, with stdout (and stderr when merge) in *out. */
static int grpo_db(const char *args, char **out, int merge) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s db %s", GRPO_BIN, args);
    return tu_run(cmd, out, merge);
}

static void grpo_db_steps_prints_one_json_line_per_step(void) {
    char *path = db_path("cli");
    store *s = open_ok(path, "cli-run", "{}");
    for (int step = 0; step < 3; step++) write_step(s, step);
    store_eval ev = {.step = 2, .name = "arith", .split = "eval", .metric = "accuracy", .value = 0.75, .n = 200};
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_add_eval(s, &ev, &e), GRPO_OK);
    store_close(s);

    char args[4400], *out = NULL;
    snprintf(args, sizeof args, "steps --db %s", path);
    CU_ASSERT_EQUAL_FATAL(grpo_db(args, &out, 0), 0);
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_t *j = json_loads(line, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), lines);
        CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(j, "reward_mean")), lines / 10.0, 1e-12);
        CU_ASSERT(json_is_null(json_object_get(j, "kl")));
        CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(json_object_get(j, "metrics"), "reward/math/mean")),
                               0.5, 0);
        CU_ASSERT_PTR_NULL(json_object_get(j, "run_id"));
        json_decref(j);
    }
    CU_ASSERT_EQUAL(lines, 3);
    free(out);

    snprintf(args, sizeof args, "rollouts --db %s --step 1 --limit 2", path);
    CU_ASSERT_EQUAL_FATAL(grpo_db(args, &out, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"prompt_id\":100,\"sample_index\":1,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"token_ids\":[7,8,9,10],\"logprobs\":[-0.125,-0.375,-0.625,-0.875],"
                                       "\"rewards\":{\"format\":1.0,\"math\":1.0}"));
    CU_ASSERT_PTR_NULL(strstr(out, "\"sample_index\":2"));
    free(out);

    snprintf(args, sizeof args, "evals --db %s", path);
    CU_ASSERT_EQUAL_FATAL(grpo_db(args, &out, 0), 0);
    const char *want_eval = "{\"step\":2,\"name\":\"arith\",\"split\":\"eval\",\"metric\":\"accuracy\","
                            "\"value\":0.75,\"n\":200,\"detail\":null,\"created_at\":";
    CU_ASSERT(strncmp(out, want_eval, strlen(want_eval)) == 0);
    free(out);

    snprintf(args, sizeof args, "summary --db %s", path);
    CU_ASSERT_EQUAL_FATAL(grpo_db(args, &out, 0), 0);
    const char *want[] = {"run: cli-run", "steps: 3 (first 0, last 2)", "last step: 2",
                          "reward_mean: first 0 (step 0), last 0.2 (step 2), best 0.2 (step 2)",
                          "rollouts: 18 completions, mean length 4.0 tokens, 33.3% truncated",
                          "reward math: mean 0.3333 over all rollouts, 0.3333 at the last step",
                          "eval arith/eval accuracy: 0.75 at step 2 -> 0.75 at step 2"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(out, want[i])) fprintf(stderr, "\n  summary lacks '%s':\n%s\n", want[i], out);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, want[i]));
    }
    free(out);
    free(path);
}

static void grpo_db_reports_usage_and_missing_files(void) {
    char *out = NULL;
    CU_ASSERT_EQUAL(grpo_db("--help", &out, 1), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage: grpo db steps|rollouts|evals|summary|export|migrate --db PATH"));
    free(out);
    CU_ASSERT_EQUAL(grpo_db("steps", &out, 1), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--db PATH is required"));
    free(out);
    CU_ASSERT_EQUAL(grpo_db("--db x.db", &out, 1), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "exactly one subcommand"));
    free(out);
    CU_ASSERT_EQUAL(grpo_db("rollouts --db x.db --sort sideways", &out, 1), 1); /* the file is checked first */
    free(out);
    CU_ASSERT_EQUAL(grpo_db("steps --db x.db --grep a", &out, 1), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "option --grep applies to 'rollouts' only"));
    free(out);
    CU_ASSERT_EQUAL(grpo_db("steps --db x.db --format csv", &out, 1), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "option --format applies to 'export' only"));
    free(out);
    CU_ASSERT_EQUAL(grpo_db("steps --db /nonexistent/rollouts.db", &out, 1), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "grpo db: error: /nonexistent/rollouts.db: no such database"));
    free(out);
}

/* ---------------------------------------------------------------- schema version 2 and the migration */

#include "v1_fixture.h"

/* Writes the version 1 fixture to a fresh path under tmp/name. */
static char *make_v1(const char *name) {
    char *path = db_path(name);
    char *dir = strdup(path);
    *strrchr(dir, '/') = '\0';
    fs_mkdirs(dir, NULL);
    free(dir);
    sql_exec(path, V1_FIXTURE);
    return path;
}

/* The file's bytes, to show that something left it unchanged (malloc'd; *n gets the size). */
static char *file_bytes(const char *path, size_t *n) {
    char *b = NULL;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(fs_read_file(path, &b, n, &e), GRPO_OK);
    return b;
}

static void a_version_1_file_is_refused_by_writers_and_left_untouched(void) {
    char *path = make_v1("v1-writer");
    size_t n0, n1;
    char *before = file_bytes(path, &n0);
    store *s = NULL;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_open(&s, path, "old", "{}", &e), GRPO_EUNSUPPORTED);
    expect_msg(&e, "schema version 1 is older than version 2");
    expect_msg(&e, "grpo db migrate --db");
    CU_ASSERT_PTR_NULL(s);
    char *after = file_bytes(path, &n1);
    CU_ASSERT(n0 == n1 && before && after && !memcmp(before, after, n0));
    free(before);
    free(after);
    free(path);
}

static void a_version_1_file_opens_read_only_as_version_1(void) {
    char *path = make_v1("v1-reader");
    store *s = NULL;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_open_read(&s, path, NULL, &e), GRPO_OK);
    CU_ASSERT_EQUAL(store_schema_version(s), 1);
    CU_ASSERT_STRING_EQUAL(store_run_name(s), "old");
    store_close(s);
    CU_ASSERT_EQUAL(sql_int(path, "PRAGMA user_version"), 1);
    free(path);
}

static void migrating_version_1_keeps_every_row_and_adds_the_new_columns(void) {
    char *path = make_v1("v1-migrate");
    int from = 0;
    grpo_err e = {0};
    int rc = store_migrate(path, &from, &e);
    if (rc) fprintf(stderr, "\n  store_migrate: %s\n", e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GRPO_OK);
    CU_ASSERT_EQUAL(from, 1);
    CU_ASSERT_EQUAL(sql_int(path, "PRAGMA user_version"), 2);
    expect_text(path, "SELECT kind FROM runs WHERE name='old'", "grpo");
    expect_text(path,
                "SELECT group_concat(printf('%d/%d %s %s %g %s %s', prompt_id, sample_index, completion_text, token_ids,"
                " advantage, finish_reason, coalesce(extracted_answer, '-')), ' | ') FROM rollouts",
                "5/0 the answer is 5 aardvark [1,2] 0.7 stop - | 5/1 it is 6 [3] -0.7 length -");
    expect_text(path, "SELECT group_concat(name || '=' || value || ' ' || coalesce(reason, '-'), ', ') FROM reward_components",
                "accuracy=1.0 -, accuracy=0.0 -");
    expect_text(path, "SELECT prompt_id || ' ' || prompt_text || ' ' || coalesce(gold_answer, '-') FROM prompts",
                "5 What is 2+3? -");
    /* the full-text index covers the old rows */
    expect_text(path, "SELECT sample_index FROM rollouts WHERE rowid IN (SELECT rowid FROM rollouts_fts"
                      " WHERE rollouts_fts MATCH '\"aardvar\"')", "0");
    /* the migrated file is a current one: a writer opens it and appends */
    store *s = open_ok(path, "old", "{}");
    write_step(s, 2);
    store_close(s);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts"), 8);
    /* migrating again changes nothing */
    CU_ASSERT_EQUAL(store_migrate(path, &from, &e), GRPO_OK);
    CU_ASSERT_EQUAL(from, 2);
    free(path);
}

static void a_migrated_file_has_the_schema_of_a_fresh_one(void) {
    char *old = make_v1("v1-same"), *fresh = db_path("fresh-same");
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_migrate(old, NULL, &e), GRPO_OK);
    store_close(open_ok(fresh, "r", "{}"));
    /* the same tables, columns, indexes and triggers (the v1 fixture's DDL differs in spacing only) */
    const char *q = "SELECT group_concat(type || ' ' || name || ' ' || replace(coalesce(sql, ''), ' ', ''), char(10))"
                    " FROM (SELECT * FROM sqlite_master ORDER BY type, name)";
    char *a = sql_text(old, q), *b = sql_text(fresh, q);
    CU_ASSERT(a && b && !strcmp(a, b));
    if (a && b && strcmp(a, b)) fprintf(stderr, "\n  migrated:\n%s\n  fresh:\n%s\n", a, b);
    free(a);
    free(b);
    free(old);
    free(fresh);
}

static void a_failed_migration_leaves_the_file_as_it_was(void) {
    char *path = make_v1("v1-broken");
    /* a rollout whose step is missing: the migration's foreign-key check refuses it */
    sql_exec(path, "PRAGMA foreign_keys=OFF; INSERT INTO rollouts VALUES(1, 9, 5, 0, 'p', 'c', '[]', NULL, '{}', 0, 0, 0,"
                   " 'stop')");
    size_t n0, n1;
    char *before = file_bytes(path, &n0);
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_migrate(path, NULL, &e), GRPO_EFORMAT);
    expect_msg(&e, "break a foreign key");
    CU_ASSERT_EQUAL(sql_int(path, "PRAGMA user_version"), 1);
    char *after = file_bytes(path, &n1);
    CU_ASSERT(n0 == n1 && before && after && !memcmp(before, after, n0));
    free(before);
    free(after);
    free(path);
}

static void reasons_extracted_answers_and_gold_answers_are_stored(void) {
    char *path = db_path("inspect");
    store *s = open_ok(path, "r", "{}");
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_step_begin(s, 1, &e), GRPO_OK);
    int ids[2] = {7, 8};
    for (int j = 0; j < 2; j++) {
        store_component c[2] = {{"accuracy", (double)j, j ? "extracted 13, gold 13" : "extracted 12, gold 13"},
                                {"format", 0.0, "no <answer> tag"}};
        store_rollout r = {.prompt_id = 3, .sample_index = j, .prompt_text = "p", .completion_text = j ? "13" : "12",
                           .token_ids = ids, .n_tokens = 2, .components = c, .n_components = 2,
                           .reward_total = j, .advantage = 0, .finish = STORE_FINISH_STOP,
                           .extracted_answer = j ? "13" : "12", .gold_answer = "13"};
        CU_ASSERT_EQUAL(store_add_rollout(s, &r, &e), GRPO_OK);
    }
    CU_ASSERT_EQUAL(store_step_commit(s, 1, NULL, NULL, &e), GRPO_OK);
    store_close(s);
    expect_text(path, "SELECT group_concat(extracted_answer, ',') FROM rollouts", "12,13");
    expect_text(path, "SELECT reason FROM reward_components WHERE sample_index=0 AND name='accuracy'",
                "extracted 12, gold 13");
    expect_text(path, "SELECT reason FROM reward_components WHERE sample_index=1 AND name='format'", "no <answer> tag");
    expect_text(path, "SELECT count(*) || ' ' || gold_answer FROM prompts", "1 13");
    free(path);
}

static void the_full_text_index_follows_writes_and_truncation(void) {
    char *path = db_path("fts");
    store *s = open_ok(path, "r", "{}");
    for (int step = 0; step < 3; step++) write_step(s, step);
    /* write_step's 16 letters at step k: 'a' + (7 i + k) mod 26, so "bipw" is in steps 1 and 2, not 0 */
    const char *q = "SELECT count(*) FROM rollouts_fts WHERE rollouts_fts MATCH '\"bipw\"'";
    CU_ASSERT_EQUAL(sql_int(path, q), 12);
    grpo_err e = {0};
    CU_ASSERT_EQUAL(store_truncate_after(s, 0, NULL, &e), GRPO_OK);
    store_close(s);
    CU_ASSERT_EQUAL(sql_int(path, q), 0);
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts_fts WHERE rollouts_fts MATCH '\"ahov\"'"), 6);
    sql_exec(path, "INSERT INTO rollouts_fts(rollouts_fts, rank) VALUES('integrity-check', 1)");
    CU_ASSERT_EQUAL(sql_int(path, "SELECT count(*) FROM rollouts_fts"), 6);
    free(path);
}

/* A database of one step whose 4 completions differ in text, reward, advantage and length. */
static char *filter_fixture(const char *name) {
    char *path = db_path(name);
    store *s = open_ok(path, "r", "{}");
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(store_step_begin(s, 1, &e), GRPO_OK);
    static const char *const TEXT[4] = {"plain answer 4", "the Zebra-Marker, with \"quotes\"", "=HYPERLINK(\"x\")",
                                        "-3"};
    int ids[4] = {1, 2, 3, 4};
    for (int j = 0; j < 4; j++) {
        store_component c[1] = {{"accuracy", j == 1 ? 1.0 : 0.0, j == 1 ? "extracted 4, gold 4" : "no answer found"}};
        store_rollout r = {.prompt_id = j < 2 ? 7 : 8, .sample_index = j, .prompt_text = "p", .completion_text = TEXT[j],
                           .token_ids = ids, .n_tokens = j + 1, .components = c, .n_components = 1,
                           .reward_total = j * 0.5, .advantage = 1.0 - j * 0.25 * (j % 2 ? -1 : 1),
                           .finish = STORE_FINISH_STOP, .extracted_answer = j == 1 ? "4" : NULL, .gold_answer = "4"};
        CU_ASSERT_EQUAL_FATAL(store_add_rollout(s, &r, &e), GRPO_OK);
    }
    CU_ASSERT_EQUAL_FATAL(store_step_commit(s, 1, NULL, NULL, &e), GRPO_OK);
    store_close(s);
    return path;
}

/* The sample_index of each output line, as "0,2,..." (lines are rollouts in JSON). */
static void sample_order(const char *out, char *buf, size_t cap) {
    buf[0] = '\0';
    for (const char *p = out; (p = strstr(p, "\"sample_index\":")); p++) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%d", n ? "," : "", atoi(p + 15));
    }
}

static void grpo_db_rollouts_filters_sorts_and_greps(void) {
    char *path = filter_fixture("db-filters");
    static const struct {
        const char *opts, *order;
    } CASES[] = {
        {"", "0,1,2,3"},
        {"--sort reward", "3,2,1,0"},
        {"--sort length", "3,2,1,0"},
        {"--sort advantage", "3,1,0,2"},
        {"--grep zebra-marker", "1"},  /* FTS5, case-insensitive */
        {"--grep 4", "0"},             /* short: a scan */
        {"--grep '\"quotes\"'", "1"},  /* quotes are text, not query syntax */
        {"--min-reward 0.5 --max-reward 1", "1,2"},
        {"--prompt 8", "2,3"},
        {"--prompt 8 --sort reward --limit 1", "3"},
        {"--step 2", ""},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char args[4400], *out = NULL, got[64];
        snprintf(args, sizeof args, "rollouts --db %s %s", path, CASES[i].opts);
        CU_ASSERT_EQUAL(grpo_db(args, &out, 0), 0);
        sample_order(out ? out : "", got, sizeof got);
        if (strcmp(got, CASES[i].order)) fprintf(stderr, "\n  rollouts %s: got %s, want %s\n", CASES[i].opts, got, CASES[i].order);
        CU_ASSERT_STRING_EQUAL(got, CASES[i].order);
        free(out);
    }
    char args[4400], *out = NULL;
    snprintf(args, sizeof args, "rollouts --db %s --prompt 7 --sort reward --limit 1", path);
    CU_ASSERT_EQUAL(grpo_db(args, &out, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"extracted_answer\":\"4\",\"gold_answer\":\"4\","
                                       "\"reasons\":{\"accuracy\":\"extracted 4, gold 4\"}"));
    free(out);
    snprintf(args, sizeof args, "rollouts --db %s --sort sideways", path);
    CU_ASSERT_EQUAL(grpo_db(args, &out, 1), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--sort must be reward, advantage or length (got 'sideways')"));
    free(out);
    free(path);
}

static void grpo_db_export_writes_jsonl_and_quoted_csv(void) {
    char *path = filter_fixture("db-export");
    char args[4400], *out = NULL;
    snprintf(args, sizeof args, "export --db %s --format csv", path);
    CU_ASSERT_EQUAL_FATAL(grpo_db(args, &out, 0), 0);
    const char *want =
        "step,prompt_id,sample_index,reward_total,advantage,length,finish_reason,extracted_answer,gold_answer,"
        "reward/accuracy,reason/accuracy,completion_text,prompt_text\r\n"
        "1,7,0,0,1,1,stop,,4,0,no answer found,plain answer 4,p\r\n"
        "1,7,1,0.5,1.25,2,stop,4,4,1,\"extracted 4, gold 4\",\"the Zebra-Marker, with \"\"quotes\"\"\",p\r\n"
        "1,8,2,1,0.5,3,stop,,4,0,no answer found,\"'=HYPERLINK(\"\"x\"\")\",p\r\n"
        "1,8,3,1.5,1.75,4,stop,,4,0,no answer found,-3,p\r\n";
    if (strcmp(out, want)) fprintf(stderr, "\n  got:\n%s\n  want:\n%s\n", out, want);
    CU_ASSERT_STRING_EQUAL(out, want);
    free(out);
    snprintf(args, sizeof args, "export --db %s", path);
    CU_ASSERT_EQUAL_FATAL(grpo_db(args, &out, 0), 0);
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_t *j = json_loads(line, 0, NULL);
        CU_ASSERT_PTR_NOT_NULL(j);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "sample_index")), lines);
        json_decref(j);
    }
    CU_ASSERT_EQUAL(lines, 4);
    free(out);
    snprintf(args, sizeof args, "export --db %s --format xml", path);
    CU_ASSERT_EQUAL(grpo_db(args, &out, 1), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--format must be jsonl or csv"));
    free(out);
    free(path);
}

static void grpo_db_migrate_upgrades_a_version_1_file_once(void) {
    char *path = make_v1("db-migrate"), args[4400], *out = NULL;
    snprintf(args, sizeof args, "rollouts --db %s", path); /* readers read version 1 as it is */
    CU_ASSERT_EQUAL(grpo_db(args, &out, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"extracted_answer\":null"));
    free(out);
    snprintf(args, sizeof args, "migrate --db %s", path);
    CU_ASSERT_EQUAL(grpo_db(args, &out, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "schema version 1 -> 2"));
    free(out);
    CU_ASSERT_EQUAL(grpo_db(args, &out, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "is already at schema version 2"));
    free(out);
    snprintf(args, sizeof args, "rollouts --db %s --grep aardvark", path);
    CU_ASSERT_EQUAL(grpo_db(args, &out, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"sample_index\":0"));
    free(out);
    free(path);
}

/* A resumed run rewrites runs.updated_at and keeps created_at (docs/database.md). */
static void reopening_for_writing_updates_updated_at_only(void) {
    char *path = db_path("updated");
    store_close(open_ok(path, "r", "{}"));
    char *c1 = sql_text(path, "SELECT created_at FROM runs"), *u1 = sql_text(path, "SELECT updated_at FROM runs");
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    store_close(open_ok(path, "r", "{\"resumed\": true}"));
    char *c2 = sql_text(path, "SELECT created_at FROM runs"), *u2 = sql_text(path, "SELECT updated_at FROM runs");
    CU_ASSERT_FATAL(c1 && u1 && c2 && u2);
    CU_ASSERT_STRING_EQUAL(c1, c2);
    CU_ASSERT(strcmp(u2, u1) > 0);
    free(c1), free(u1), free(c2), free(u2), free(path);
}

int main(void) {
    tmp = tu_tmpdir("store");
    if (!tmp || CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("store", NULL, NULL);
#define T(f) CU_add_test(s, #f, f)
    T(reopening_for_writing_updates_updated_at_only);
    T(opening_creates_the_schema_in_wal_mode_and_the_runs_row);
    T(opening_a_path_in_a_missing_directory_creates_it);
    T(reopening_updates_the_config_and_keeps_the_steps);
    T(a_committed_step_is_all_there);
    T(an_aborted_step_leaves_nothing_and_can_be_written_again);
    T(a_step_killed_by_sigkill_before_commit_leaves_nothing);
    T(a_step_abandoned_by_exit_before_commit_leaves_nothing);
    T(a_writer_killed_at_random_moments_leaves_every_step_whole);
    T(truncate_after_removes_later_steps_and_evals);
    T(writing_a_stored_step_again_is_a_clear_error);
    T(evals_recorded_again_replace_the_old_value);
    T(misuse_of_a_step_is_a_clear_error);
    T(a_newer_schema_version_is_a_clear_error);
    T(a_foreign_file_is_refused_and_left_untouched);
    T(read_only_open_selects_the_only_run_or_a_named_one);
    T(query_rows_decode_json_columns_and_repair_bad_utf8);
    T(grpo_db_steps_prints_one_json_line_per_step);
    T(grpo_db_reports_usage_and_missing_files);
    T(a_version_1_file_is_refused_by_writers_and_left_untouched);
    T(a_version_1_file_opens_read_only_as_version_1);
    T(migrating_version_1_keeps_every_row_and_adds_the_new_columns);
    T(a_migrated_file_has_the_schema_of_a_fresh_one);
    T(a_failed_migration_leaves_the_file_as_it_was);
    T(reasons_extracted_answers_and_gold_answers_are_stored);
    T(the_full_text_index_follows_writes_and_truncation);
    T(grpo_db_rollouts_filters_sorts_and_greps);
    T(grpo_db_export_writes_jsonl_and_quoted_csv);
    T(grpo_db_migrate_upgrades_a_version_1_file_once);
#undef T
    int rc = tu_run_registry();
    fs_remove_tree(tmp, NULL);
    free(tmp);
    return rc;
}
