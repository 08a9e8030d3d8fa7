/* rollout/store/store.c: the SQLite rollout store (see store.h; the schema is documented in docs/database.md).
 * Sections in the order a run uses them: errors and buffers, the schema, opening, one step as one
 * transaction, truncation and evals, and reading rows back as JSON. */
#include "store.h"

#include <math.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fsutil.h"
#include "common/strbuf.h"

#ifndef GRPO_VERSION
#define GRPO_VERSION "0.1.0"
#endif

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

/* ---------------------------------------------------------------- the store and its statements */

/* Statements a writer prepares once and reuses (prepared on first use). */
enum { ST_STEP_EXISTS, ST_INSERT_ROLLOUT, ST_INSERT_COMPONENT, ST_UPSERT_PROMPT, ST_INSERT_STEP, ST_COUNT_AFTER, ST_DEL_COMPONENTS,
       ST_DEL_ROLLOUTS, ST_DEL_STEPS, ST_DEL_EVALS, ST_UPSERT_EVAL, ST_LAST_STEP, ST_COUNT };

/* The headline metric columns of `steps`, in table order: one list drives the schema and the insert. */
static const struct {
    const char *col;
    size_t off;
} METRICS[] = {
#define M(f) {#f, offsetof(store_step_metrics, f)}
    M(reward_mean), M(reward_std), M(accuracy), M(kl), M(loss), M(clip_frac_low), M(clip_frac_high), M(entropy),
    M(completion_len_mean), M(completion_len_max), M(truncated_frac), M(zero_std_frac), M(tokens_per_s_sampling),
    M(tokens_per_s_training), M(seconds_sampling), M(seconds_scoring), M(seconds_training),
#undef M
};
#define N_METRICS (sizeof METRICS / sizeof METRICS[0])
_Static_assert(N_METRICS * sizeof(double) == sizeof(store_step_metrics), "every metric field has a column");

struct store {
    sqlite3 *db;
    char *path;
    char *run_name;
    int64_t run_id;
    int readonly;
    int version;        /* the file's schema version (PRAGMA user_version) */
    int in_step;        /* a step transaction is open */
    int64_t step;       /* ... for this step */
    int64_t last_prompt; /* the prompt whose prompts row the open step last wrote (-1: none) */
    sqlite3_stmt *st[ST_COUNT];
    char *ids_buf, *lp_buf; /* JSON text of the current rollout's token ids and logprobs */
    size_t ids_cap, lp_cap;
};

/* The SQL of each cached statement; ST_INSERT_STEP is built from METRICS at open. */
static const char *const STMT_SQL[ST_COUNT] = {
    [ST_STEP_EXISTS] = "SELECT 1 FROM steps WHERE run_id=?1 AND step=?2",
    [ST_INSERT_ROLLOUT] =
        "INSERT INTO rollouts(run_id, step, prompt_id, sample_index, prompt_text, completion_text, token_ids,"
        " logprobs, rewards_json, reward_total, advantage, length, finish_reason, extracted_answer)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
    [ST_INSERT_COMPONENT] = "INSERT INTO reward_components(run_id, step, prompt_id, sample_index, name, value, reason)"
                            " VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_UPSERT_PROMPT] = "INSERT INTO prompts(run_id, prompt_id, prompt_text, gold_answer) VALUES(?1,?2,?3,?4)"
                         " ON CONFLICT(run_id, prompt_id) DO UPDATE SET"
                         " prompt_text=coalesce(excluded.prompt_text, prompt_text),"
                         " gold_answer=coalesce(excluded.gold_answer, gold_answer)",
    [ST_INSERT_STEP] = NULL,
    [ST_COUNT_AFTER] = "SELECT count(*) FROM steps WHERE run_id=?1 AND step>?2",
    [ST_DEL_COMPONENTS] = "DELETE FROM reward_components WHERE run_id=?1 AND step>?2",
    [ST_DEL_ROLLOUTS] = "DELETE FROM rollouts WHERE run_id=?1 AND step>?2",
    [ST_DEL_STEPS] = "DELETE FROM steps WHERE run_id=?1 AND step>?2",
    [ST_DEL_EVALS] = "DELETE FROM evals WHERE run_id=?1 AND step>?2",
    [ST_UPSERT_EVAL] =
        "INSERT INTO evals(run_id, step, name, split, metric, value, n, detail_json, created_at)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8," NOW_SQL ")"
        " ON CONFLICT(run_id, step, name, split, metric) DO UPDATE SET value=excluded.value, n=excluded.n,"
        " detail_json=excluded.detail_json, created_at=excluded.created_at",
    [ST_LAST_STEP] = "SELECT max(step) FROM steps WHERE run_id=?1",
};

/* ---------------------------------------------------------------- errors and small helpers */

/* Maps an SQLite result code to a grpo error code. */
static int code_of(int rc) {
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return GRPO_EINVAL;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return GRPO_EFORMAT;
    case SQLITE_NOMEM: return GRPO_ENOMEM;
    default: return GRPO_EIO;
    }
}

/* Fills err with "PATH: what: <sqlite3_errmsg>" and returns the grpo code. */
static int db_fail(store *s, grpo_err *err, const char *what) {
    int rc = sqlite3_extended_errcode(s->db);
    return grpo_errf(err, code_of(rc), "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Runs SQL without results; fails with context what. */
static int exec(store *s, const char *sql, const char *what, grpo_err *err) {
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail(s, err, what);
    return GRPO_OK;
}

/* Sets *out to the cached statement k, reset and with bindings cleared (prepared on first use). */
static int stmt(store *s, int k, sqlite3_stmt **out, grpo_err *err) {
    *out = NULL;
    if (!s->st[k]) {
        char *built = NULL;
        const char *sql = STMT_SQL[k];
        if (k == ST_INSERT_STEP) {
            size_t cap = 4096, n = 0;
            built = malloc(cap);
            if (!built) return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", s->path);
            int cut = sb_catf(built, cap, &n, "INSERT INTO steps(run_id, step, created_at");
            for (size_t i = 0; i < N_METRICS; i++) cut |= sb_catf(built, cap, &n, ", %s", METRICS[i].col);
            cut |= sb_catf(built, cap, &n, ", metrics_json) VALUES(?1, ?2, %s", NOW_SQL);
            for (size_t i = 0; i < N_METRICS + 1; i++) cut |= sb_catf(built, cap, &n, ", ?%zu", i + 3);
            cut |= sb_catf(built, cap, &n, ")");
            if (cut) { /* a cut statement would be wrong SQL: the metric table outgrew the buffer */
                free(built);
                return grpo_errf(err, GRPO_EINVAL, "%s: the steps insert statement is over %zu bytes", s->path, cap);
            }
            sql = built;
        }
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[k], NULL);
        free(built);
        if (rc != SQLITE_OK) return db_fail(s, err, "preparing a statement");
    }
    sqlite3_reset(s->st[k]);
    sqlite3_clear_bindings(s->st[k]);
    *out = s->st[k];
    return GRPO_OK;
}

/* Steps a statement that returns no rows, then resets it (releasing any read snapshot). */
static int step_done(store *s, sqlite3_stmt *st, const char *what, grpo_err *err) {
    int rc = sqlite3_step(st) == SQLITE_DONE ? GRPO_OK : db_fail(s, err, what);
    sqlite3_reset(st);
    return rc;
}

/* Binds a double, or NULL when it is not finite (NaN = "not measured"). */
static void bind_real(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

/* Binds a string (borrowed until the statement steps), or NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* Grows *buf to hold at least need bytes. */
static int reserve(char **buf, size_t *cap, size_t need) {
    if (*cap >= need) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *nb = realloc(*buf, c);
    if (!nb) return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

/* Checks that text is a JSON object; what names it in the error. */
static int check_json_object(const char *text, const char *what, grpo_err *err) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) return grpo_errf(err, GRPO_EFORMAT, "%s is not valid JSON: %s (line %d, column %d)", what, je.text,
                             je.line, je.column);
    int ok = json_is_object(j);
    json_decref(j);
    if (!ok) return grpo_errf(err, GRPO_EFORMAT, "%s must be a JSON object", what);
    return GRPO_OK;
}

/* Fails unless s may write. */
static int check_writer(store *s, const char *what, grpo_err *err) {
    if (s->readonly) return grpo_errf(err, GRPO_EINVAL, "%s: %s: the store was opened read-only", s->path, what);
    return GRPO_OK;
}

/* ---------------------------------------------------------------- the schema and its migrations */

/* Version 1, as the first grpo wrote it. A fresh file gets version 1, then every migration: one path,
 * so a migrated file and a fresh one have the same schema. */
static const char SCHEMA_V1[] =
    "CREATE TABLE runs ("
    " run_id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " config_json TEXT NOT NULL,"
    " grpo_version TEXT NOT NULL,"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);"
    "CREATE TABLE rollouts ("
    " run_id INTEGER NOT NULL,"
    " step INTEGER NOT NULL,"
    " prompt_id INTEGER NOT NULL,"
    " sample_index INTEGER NOT NULL,"
    " prompt_text TEXT,"
    " completion_text TEXT,"
    " token_ids TEXT NOT NULL,"
    " logprobs TEXT,"
    " rewards_json TEXT NOT NULL,"
    " reward_total REAL,"
    " advantage REAL,"
    " length INTEGER NOT NULL,"
    " finish_reason TEXT NOT NULL CHECK (finish_reason IN ('stop', 'length')),"
    " PRIMARY KEY (run_id, step, prompt_id, sample_index),"
    " FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);"
    "CREATE TABLE reward_components ("
    " run_id INTEGER NOT NULL,"
    " step INTEGER NOT NULL,"
    " prompt_id INTEGER NOT NULL,"
    " sample_index INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " value REAL,"
    " PRIMARY KEY (run_id, step, prompt_id, sample_index, name),"
    " FOREIGN KEY (run_id, step, prompt_id, sample_index)"
    "  REFERENCES rollouts(run_id, step, prompt_id, sample_index) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);"
    "CREATE INDEX reward_components_by_name ON reward_components(run_id, name, step);"
    "CREATE TABLE evals ("
    " eval_id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
    " step INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " split TEXT NOT NULL,"
    " metric TEXT NOT NULL,"
    " value REAL,"
    " n INTEGER,"
    " detail_json TEXT,"
    " created_at TEXT NOT NULL,"
    " UNIQUE (run_id, step, name, split, metric));";

/* Version 1 -> 2: what inspection needs. The run's kind; rollouts rebuilt with an explicit
 * rollout_id (a rowid that VACUUM keeps, so the FTS5 index can point at it) and the extracted answer;
 * a reason per reward component; the gold answer per prompt; an FTS5 trigram index over completions
 * kept in step by triggers (so any writer, sqlite3 included, keeps it right). Runs with foreign keys
 * off (the table rebuild drops the old rollouts), checked afterwards. */
static const char MIGRATE_1_TO_2[] =
    "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'grpo';"
    "CREATE TABLE rollouts_v2 ("
    " rollout_id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL,"
    " step INTEGER NOT NULL,"
    " prompt_id INTEGER NOT NULL,"
    " sample_index INTEGER NOT NULL,"
    " prompt_text TEXT,"
    " completion_text TEXT,"
    " token_ids TEXT NOT NULL,"
    " logprobs TEXT,"
    " rewards_json TEXT NOT NULL,"
    " reward_total REAL,"
    " advantage REAL,"
    " length INTEGER NOT NULL,"
    " finish_reason TEXT NOT NULL CHECK (finish_reason IN ('stop', 'length')),"
    " extracted_answer TEXT,"
    " UNIQUE (run_id, step, prompt_id, sample_index),"
    " FOREIGN KEY (run_id, step) REFERENCES steps(run_id, step) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);"
    "INSERT INTO rollouts_v2(run_id, step, prompt_id, sample_index, prompt_text, completion_text, token_ids, logprobs,"
    " rewards_json, reward_total, advantage, length, finish_reason)"
    " SELECT run_id, step, prompt_id, sample_index, prompt_text, completion_text, token_ids, logprobs, rewards_json,"
    " reward_total, advantage, length, finish_reason FROM rollouts ORDER BY run_id, step, prompt_id, sample_index;"
    "DROP TABLE rollouts;"
    "ALTER TABLE rollouts_v2 RENAME TO rollouts;"
    "CREATE INDEX rollouts_by_prompt ON rollouts(run_id, prompt_id, step);"
    "ALTER TABLE reward_components ADD COLUMN reason TEXT;"
    "CREATE TABLE prompts ("
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
    " prompt_id INTEGER NOT NULL,"
    " prompt_text TEXT,"
    " gold_answer TEXT,"
    " PRIMARY KEY (run_id, prompt_id));"
    "INSERT INTO prompts(run_id, prompt_id, prompt_text)"
    " SELECT run_id, prompt_id, min(prompt_text) FROM rollouts GROUP BY run_id, prompt_id;"
    "CREATE VIRTUAL TABLE rollouts_fts USING fts5(completion_text, content='rollouts', content_rowid='rollout_id',"
    " tokenize='trigram');"
    "INSERT INTO rollouts_fts(rollouts_fts) VALUES('rebuild');"
    "CREATE TRIGGER rollouts_fts_insert AFTER INSERT ON rollouts BEGIN"
    " INSERT INTO rollouts_fts(rowid, completion_text) VALUES (new.rollout_id, new.completion_text); END;"
    "CREATE TRIGGER rollouts_fts_delete AFTER DELETE ON rollouts BEGIN"
    " INSERT INTO rollouts_fts(rollouts_fts, rowid, completion_text) VALUES ('delete', old.rollout_id, old.completion_text);"
    " END;"
    "CREATE TRIGGER rollouts_fts_update AFTER UPDATE OF completion_text ON rollouts BEGIN"
    " INSERT INTO rollouts_fts(rollouts_fts, rowid, completion_text) VALUES ('delete', old.rollout_id, old.completion_text);"
    " INSERT INTO rollouts_fts(rowid, completion_text) VALUES (new.rollout_id, new.completion_text); END;";

/* MIGRATIONS[v] takes version v to v + 1. */
static const char *const MIGRATIONS[STORE_SCHEMA_VERSION] = {[1] = MIGRATE_1_TO_2};

/* Creates the version 1 tables with the steps table built from METRICS, in the open transaction, and
 * stamps application_id and user_version 1. */
static int schema_create_v1(store *s, grpo_err *err) {
    char sql[2048];
    size_t n = 0;
    int cut = sb_catf(sql, sizeof sql, &n,
                      "CREATE TABLE steps ("
                      " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
                      " step INTEGER NOT NULL,"
                      " created_at TEXT NOT NULL");
    for (size_t i = 0; i < N_METRICS; i++) cut |= sb_catf(sql, sizeof sql, &n, ", %s REAL", METRICS[i].col);
    cut |= sb_catf(sql, sizeof sql, &n,
                   ", metrics_json TEXT, PRIMARY KEY (run_id, step));"
                   "PRAGMA application_id=%d; PRAGMA user_version=1;",
                   STORE_APPLICATION_ID);
    if (cut) return grpo_errf(err, GRPO_EINVAL, "%s: the steps table statement is over %zu bytes", s->path, sizeof sql);
    int rc = exec(s, SCHEMA_V1, "creating the schema", err);
    return rc ? rc : exec(s, sql, "creating the schema", err);
}

/* Runs the migrations from version `from` up to STORE_SCHEMA_VERSION in the open transaction. */
static int schema_upgrade(store *s, int from, grpo_err *err) {
    char what[64], stamp[48];
    for (int v = from; v < STORE_SCHEMA_VERSION; v++) {
        snprintf(what, sizeof what, "migrating schema version %d to %d", v, v + 1);
        snprintf(stamp, sizeof stamp, "PRAGMA user_version=%d", v + 1);
        int rc = exec(s, MIGRATIONS[v], what, err);
        if (!rc) rc = exec(s, stamp, what, err);
        if (rc) return rc;
    }
    return GRPO_OK;
}

/* Reads one integer from a single-row query. */
static int query_int(store *s, const char *sql, int64_t *out, const char *what, grpo_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(s, err, what);
    int rc = sqlite3_step(st) == SQLITE_ROW ? GRPO_OK : db_fail(s, err, what);
    if (!rc) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* Checks that the file is a grpo database of a schema version this build reads (1 .. current) and
 * sets s->version; *fresh = 1 when it is an empty SQLite file (no tables, no stamps) that may get the
 * schema. */
static int schema_check(store *s, int *fresh, grpo_err *err) {
    int64_t app = 0, ver = 0, tables = 0;
    int rc;
    if ((rc = query_int(s, "PRAGMA application_id", &app, "cannot read the database", err)) ||
        (rc = query_int(s, "PRAGMA user_version", &ver, "cannot read the database", err)) ||
        (rc = query_int(s, "SELECT count(*) FROM sqlite_master", &tables, "cannot read the database", err)))
        return rc;
    *fresh = app == 0 && ver == 0 && tables == 0;
    s->version = (int)ver;
    if (*fresh) return GRPO_OK;
    if (app != STORE_APPLICATION_ID)
        return grpo_errf(err, GRPO_EFORMAT,
                         "%s: not a grpo rollout database (PRAGMA application_id is %lld, expected %d)", s->path,
                         (long long)app, STORE_APPLICATION_ID);
    if (ver > STORE_SCHEMA_VERSION)
        return grpo_errf(err, GRPO_EUNSUPPORTED,
                         "%s: schema version %lld is newer than this grpo (%s) supports (version %d); "
                         "open it with a newer grpo",
                         s->path, (long long)ver, GRPO_VERSION, STORE_SCHEMA_VERSION);
    if (ver < 1)
        return grpo_errf(err, GRPO_EUNSUPPORTED, "%s: schema version %lld is not a version grpo ever wrote", s->path,
                         (long long)ver);
    return GRPO_OK;
}

/* Fails unless the file is of the current version (a writer never writes an old schema). */
static int schema_current(store *s, grpo_err *err) {
    if (s->version == STORE_SCHEMA_VERSION) return GRPO_OK;
    return grpo_errf(err, GRPO_EUNSUPPORTED,
                     "%s: schema version %d is older than version %d; migrate it first with "
                     "`grpo db migrate --db %s` (readers such as grpo view open it as it is)",
                     s->path, s->version, STORE_SCHEMA_VERSION, s->path);
}

/* ---------------------------------------------------------------- opening and closing */

/* Allocates a store for path with SQLite opened with flags. */
static int open_db(store **out, const char *path, int flags, grpo_err *err) {
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
    }
    s->run_id = -1;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        int rc = s->db ? db_fail(s, err, "cannot open") : grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
        store_close(s);
        return rc;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 10000);
    *out = s;
    return GRPO_OK;
}

/* Creates the directory that will hold path, if path names one. */
static int make_parent(const char *path, grpo_err *err) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return GRPO_OK;
    size_t n = (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    int rc = fs_exists(dir) ? GRPO_OK : fs_mkdirs(dir, err);
    free(dir);
    return rc;
}

/* Turns on WAL (checking that it took), full fsync at commit, and foreign keys. */
static int set_pragmas(store *s, grpo_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "setting WAL mode");
    int rc = GRPO_OK;
    if (sqlite3_step(st) != SQLITE_ROW) rc = db_fail(s, err, "setting WAL mode");
    else if (strcmp((const char *)sqlite3_column_text(st, 0), "wal"))
        rc = grpo_errf(err, GRPO_EUNSUPPORTED, "%s: the file system does not allow WAL mode (journal mode stays '%s')",
                       s->path, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc ? rc : exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", "setting pragmas", err);
}

/* Inserts or updates the runs row of name and reads its run_id. */
static int upsert_run(store *s, const char *name, const char *config_json, grpo_err *err) {
    sqlite3_stmt *st;
    const char *sql = "INSERT INTO runs(name, config_json, grpo_version, created_at, updated_at)"
                      " VALUES(?1, ?2, ?3, " NOW_SQL ", " NOW_SQL ")"
                      " ON CONFLICT(name) DO UPDATE SET config_json=excluded.config_json,"
                      " grpo_version=excluded.grpo_version, updated_at=excluded.updated_at";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(s, err, "writing the runs row");
    bind_text(st, 1, name);
    bind_text(st, 2, config_json);
    bind_text(st, 3, GRPO_VERSION);
    int rc = sqlite3_step(st) == SQLITE_DONE ? GRPO_OK : db_fail(s, err, "writing the runs row");
    sqlite3_finalize(st);
    if (rc) return rc;
    if (sqlite3_prepare_v2(s->db, "SELECT run_id FROM runs WHERE name=?1", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "reading the runs row");
    bind_text(st, 1, name);
    if (sqlite3_step(st) == SQLITE_ROW) s->run_id = sqlite3_column_int64(st, 0);
    else rc = db_fail(s, err, "reading the runs row");
    sqlite3_finalize(st);
    return rc;
}

int store_open(store **out, const char *path, const char *run_name, const char *config_json, grpo_err *err) {
    *out = NULL;
    if (!path || !*path) return grpo_errf(err, GRPO_EINVAL, "store: empty database path");
    if (!run_name || !*run_name) return grpo_errf(err, GRPO_EINVAL, "%s: empty run name", path);
    if (!config_json) return grpo_errf(err, GRPO_EINVAL, "%s: no config JSON for run '%s'", path, run_name);
    if (check_json_object(config_json, "the run config", err)) return grpo_err_prefix(err, "%s", path);
    int rc = make_parent(path, err);
    if (rc) return rc;
    store *s;
    rc = open_db(&s, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err);
    if (rc) return rc;
    int fresh = 0;
    /* Check before touching anything (a foreign file stays as it was), then again under the write lock
     * in case another process created the schema meanwhile. */
    if ((rc = schema_check(s, &fresh, err)) || (!fresh && (rc = schema_current(s, err))) ||
        (rc = set_pragmas(s, err)) || (rc = exec(s, "BEGIN IMMEDIATE", "cannot lock the database", err)))
        goto fail;
    if ((rc = schema_check(s, &fresh, err)) || (fresh && (rc = schema_create_v1(s, err))) ||
        (fresh && (rc = schema_upgrade(s, 1, err))) || (!fresh && (rc = schema_current(s, err))) ||
        (rc = upsert_run(s, run_name, config_json, err)) || (rc = exec(s, "COMMIT", "committing the schema", err))) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    s->version = STORE_SCHEMA_VERSION;
    if (!(s->run_name = strdup(run_name))) {
        rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    *out = s;
    return GRPO_OK;
fail:
    store_close(s);
    return rc;
}

int store_migrate(const char *path, int *from, grpo_err *err) {
    if (from) *from = 0;
    if (!path || !*path) return grpo_errf(err, GRPO_EINVAL, "store: empty database path");
    struct stat sb;
    if (stat(path, &sb) != 0) return grpo_errf(err, GRPO_EIO, "%s: no such database", path);
    store *s;
    int rc = open_db(&s, path, SQLITE_OPEN_READWRITE, err), fresh = 0;
    if (rc) return rc;
    if ((rc = schema_check(s, &fresh, err))) goto done;
    if (fresh) {
        rc = grpo_errf(err, GRPO_EFORMAT, "%s: not a grpo rollout database (it has no tables)", path);
        goto done;
    }
    if (from) *from = s->version;
    if (s->version == STORE_SCHEMA_VERSION) goto done;
    /* foreign keys off for the table rebuild (a pragma that only takes effect outside a transaction);
     * WAL is turned on after the commit, so that a failed migration leaves every byte as it was */
    if ((rc = exec(s, "PRAGMA foreign_keys=OFF", "setting pragmas", err)) ||
        (rc = exec(s, "BEGIN IMMEDIATE", "cannot lock the database", err)))
        goto done;
    int64_t bad = 0;
    if ((rc = schema_check(s, &fresh, err)) || (from && (*from = s->version, 0)) ||
        (rc = schema_upgrade(s, s->version, err)) ||
        (rc = query_int(s, "SELECT count(*) FROM pragma_foreign_key_check", &bad, "checking foreign keys", err)))
        goto rollback;
    if (bad) {
        rc = grpo_errf(err, GRPO_EFORMAT, "%s: %lld rows break a foreign key after the migration; nothing was changed",
                       path, (long long)bad);
        goto rollback;
    }
    if (!(rc = exec(s, "COMMIT", "committing the migration", err))) {
        rc = set_pragmas(s, err);
        goto done;
    }
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
done:
    store_close(s);
    return rc;
}

int store_schema_version(const store *s) { return s->version; }

/* Selects the run named name, or the only run when name is NULL. */
static int select_run(store *s, const char *name, grpo_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT run_id, name FROM runs ORDER BY run_id", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "reading runs");
    char names[512] = "";
    size_t nn = 0;
    int count = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 1);
        count++;
        if (nn < sizeof names) sb_catf(names, sizeof names, &nn, "%s'%s'", count > 1 ? ", " : "", n);
        if ((name && !strcmp(name, n)) || (!name && count == 1)) {
            s->run_id = sqlite3_column_int64(st, 0);
            free(s->run_name);
            s->run_name = strdup(n);
        }
    }
    rc = rc == SQLITE_DONE ? GRPO_OK : db_fail(s, err, "reading runs");
    sqlite3_finalize(st);
    if (rc) return rc;
    if (count == 0) return grpo_errf(err, GRPO_EINVAL, "%s: the database holds no run", s->path);
    if (!name && count > 1)
        return grpo_errf(err, GRPO_EINVAL, "%s: the database holds %d runs (%s); choose one by name", s->path, count,
                         names);
    if (name && s->run_id < 0)
        return grpo_errf(err, GRPO_EINVAL, "%s: no run named '%s' (runs: %s)", s->path, name, names);
    if (!s->run_name) return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", s->path);
    return GRPO_OK;
}

int store_open_read(store **out, const char *path, const char *run_name, grpo_err *err) {
    *out = NULL;
    if (!path || !*path) return grpo_errf(err, GRPO_EINVAL, "store: empty database path");
    struct stat sb;
    if (stat(path, &sb) != 0) return grpo_errf(err, GRPO_EIO, "%s: no such database", path);
    store *s;
    int rc = open_db(&s, path, SQLITE_OPEN_READONLY, err);
    if (rc) return rc;
    s->readonly = 1;
    int fresh = 0;
    /* a second lock on top of SQLITE_OPEN_READONLY: no statement of this connection may write */
    if ((rc = exec(s, "PRAGMA query_only=1", "setting query_only", err))) goto fail;
    if ((rc = schema_check(s, &fresh, err))) goto fail;
    if (fresh) {
        rc = grpo_errf(err, GRPO_EFORMAT, "%s: not a grpo rollout database (it has no tables)", path);
        goto fail;
    }
    if ((rc = select_run(s, run_name, err))) goto fail;
    *out = s;
    return GRPO_OK;
fail:
    store_close(s);
    return rc;
}

void store_close(store *s) {
    if (!s) return;
    if (s->in_step) store_step_abort(s);
    for (int k = 0; k < ST_COUNT; k++) sqlite3_finalize(s->st[k]);
    sqlite3_close_v2(s->db);
    free(s->ids_buf);
    free(s->lp_buf);
    free(s->run_name);
    free(s->path);
    free(s);
}

int64_t store_run_id(const store *s) { return s->run_id; }

const char *store_run_name(const store *s) { return s->run_name; }

/* ---------------------------------------------------------------- one step, one transaction */

store_step_metrics store_metrics_unset(void) {
    store_step_metrics m;
    for (size_t i = 0; i < N_METRICS; i++) *(double *)((char *)&m + METRICS[i].off) = NAN;
    return m;
}

int store_step_begin(store *s, int64_t step, grpo_err *err) {
    int rc = check_writer(s, "store_step_begin", err);
    if (rc) return rc;
    if (s->in_step)
        return grpo_errf(err, GRPO_EINVAL, "%s: step %lld is still open; commit or abort it before beginning step %lld",
                         s->path, (long long)s->step, (long long)step);
    if ((rc = exec(s, "BEGIN IMMEDIATE", "cannot lock the database", err))) return rc;
    sqlite3_stmt *st;
    if (!(rc = stmt(s, ST_STEP_EXISTS, &st, err))) {
        sqlite3_bind_int64(st, 1, s->run_id);
        sqlite3_bind_int64(st, 2, step);
        int got = sqlite3_step(st);
        if (got == SQLITE_ROW)
            rc = grpo_errf(err, GRPO_EINVAL,
                           "%s: step %lld of run '%s' is already stored; a resumed run must call store_truncate_after "
                           "with its checkpoint's step before writing steps again",
                           s->path, (long long)step, s->run_name);
        else if (got != SQLITE_DONE)
            rc = db_fail(s, err, "checking for the step");
        sqlite3_reset(st);
    }
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    s->in_step = 1;
    s->step = step;
    s->last_prompt = -1;
    return GRPO_OK;
}

/* Writes ids as a JSON array into s->ids_buf. */
static int json_ints(store *s, const int *v, int n) {
    if (reserve(&s->ids_buf, &s->ids_cap, (size_t)n * 12 + 3)) return -1;
    char *p = s->ids_buf;
    *p++ = '[';
    for (int i = 0; i < n; i++) p += sprintf(p, i ? ",%d" : "%d", v[i]);
    *p++ = ']';
    *p = '\0';
    return 0;
}

/* Writes floats as a JSON array (9 significant digits: exact for float; null when not finite). */
static int json_floats(store *s, const float *v, int n) {
    if (reserve(&s->lp_buf, &s->lp_cap, (size_t)n * 17 + 3)) return -1;
    char *p = s->lp_buf;
    *p++ = '[';
    for (int i = 0; i < n; i++) {
        if (i) *p++ = ',';
        if (isfinite(v[i])) p += sprintf(p, "%.9g", (double)v[i]);
        else p += sprintf(p, "null");
    }
    *p++ = ']';
    *p = '\0';
    return 0;
}

/* The rewards_json object {"name": value, ...} (malloc'd), or NULL with err filled. */
static char *rewards_json(const store_rollout *r, grpo_err *err) {
    json_t *o = json_object();
    if (!o) goto nomem;
    for (int i = 0; i < r->n_components; i++) {
        const char *name = r->components[i].name;
        if (!name || !*name) {
            grpo_errf(err, GRPO_EINVAL, "reward component %d has no name", i);
            json_decref(o);
            return NULL;
        }
        if (json_object_get(o, name)) {
            grpo_errf(err, GRPO_EINVAL, "reward component '%s' is given twice", name);
            json_decref(o);
            return NULL;
        }
        double v = r->components[i].value;
        if (json_object_set_new(o, name, isfinite(v) ? json_real(v) : json_null())) {
            json_decref(o);
            goto nomem;
        }
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text) return text;
nomem:
    grpo_errf(err, GRPO_ENOMEM, "out of memory");
    return NULL;
}

/* Binds run_id, step, prompt_id, sample_index to ?1..?4. */
static void bind_key(store *s, sqlite3_stmt *st, const store_rollout *r) {
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, s->step);
    sqlite3_bind_int64(st, 3, r->prompt_id);
    sqlite3_bind_int(st, 4, r->sample_index);
}

int store_add_rollout(store *s, const store_rollout *r, grpo_err *err) {
    int rc = check_writer(s, "store_add_rollout", err);
    if (rc) return rc;
    if (!s->in_step)
        return grpo_errf(err, GRPO_EINVAL, "%s: store_add_rollout outside a step (call store_step_begin)", s->path);
    /* Every message reads "PATH: step S, prompt P, sample J: what went wrong". */
    char who[96], what[192];
    snprintf(who, sizeof who, "step %lld, prompt %lld, sample %d", (long long)s->step, (long long)r->prompt_id,
             r->sample_index);
    if (r->sample_index < 0 || r->n_tokens < 0 || (r->n_tokens > 0 && !r->token_ids) || r->n_components < 0 ||
        (r->n_components > 0 && !r->components))
        return grpo_errf(err, GRPO_EINVAL, "%s: %s: a negative count or index, or a missing token_ids/components array",
                         s->path, who);
    if (r->finish != STORE_FINISH_STOP && r->finish != STORE_FINISH_LENGTH)
        return grpo_errf(err, GRPO_EINVAL, "%s: %s: finish reason %d is neither STORE_FINISH_STOP nor STORE_FINISH_LENGTH",
                         s->path, who, r->finish);
    char *rewards = rewards_json(r, err);
    if (!rewards) return grpo_err_prefix(err, "%s: %s", s->path, who);
    if (json_ints(s, r->token_ids, r->n_tokens) || (r->logprobs && json_floats(s, r->logprobs, r->n_tokens))) {
        free(rewards);
        return grpo_errf(err, GRPO_ENOMEM, "%s: %s: out of memory", s->path, who);
    }
    sqlite3_stmt *st;
    if (!(rc = stmt(s, ST_INSERT_ROLLOUT, &st, err))) {
        bind_key(s, st, r);
        bind_text(st, 5, r->prompt_text);
        bind_text(st, 6, r->completion_text);
        bind_text(st, 7, s->ids_buf);
        bind_text(st, 8, r->logprobs ? s->lp_buf : NULL);
        bind_text(st, 9, rewards);
        bind_real(st, 10, r->reward_total);
        bind_real(st, 11, r->advantage);
        sqlite3_bind_int(st, 12, r->n_tokens);
        bind_text(st, 13, r->finish == STORE_FINISH_STOP ? "stop" : "length");
        bind_text(st, 14, r->extracted_answer);
        snprintf(what, sizeof what, "%s: inserting the rollout", who);
        rc = step_done(s, st, what, err);
    }
    /* the prompts row once per group (the G samples of a prompt come one after another) */
    if (!rc && r->prompt_id != s->last_prompt && !(rc = stmt(s, ST_UPSERT_PROMPT, &st, err))) {
        sqlite3_bind_int64(st, 1, s->run_id);
        sqlite3_bind_int64(st, 2, r->prompt_id);
        bind_text(st, 3, r->prompt_text);
        bind_text(st, 4, r->gold_answer);
        snprintf(what, sizeof what, "%s: writing the prompts row", who);
        if (!(rc = step_done(s, st, what, err))) s->last_prompt = r->prompt_id;
    }
    for (int i = 0; !rc && i < r->n_components; i++) {
        if ((rc = stmt(s, ST_INSERT_COMPONENT, &st, err))) break;
        bind_key(s, st, r);
        bind_text(st, 5, r->components[i].name);
        bind_real(st, 6, r->components[i].value);
        bind_text(st, 7, r->components[i].reason);
        snprintf(what, sizeof what, "%s: inserting reward component '%.40s'", who, r->components[i].name);
        rc = step_done(s, st, what, err);
    }
    free(rewards);
    return rc;
}

int store_step_commit(store *s, int64_t step, const store_step_metrics *m, const char *metrics_json, grpo_err *err) {
    int rc = check_writer(s, "store_step_commit", err);
    if (rc) return rc;
    if (!s->in_step)
        return grpo_errf(err, GRPO_EINVAL, "%s: store_step_commit of step %lld, but no step is open", s->path,
                         (long long)step);
    sqlite3_stmt *st;
    if (step != s->step)
        rc = grpo_errf(err, GRPO_EINVAL, "%s: store_step_commit of step %lld, but step %lld is open", s->path,
                       (long long)step, (long long)s->step);
    else if (metrics_json && check_json_object(metrics_json, "metrics_json", err))
        rc = grpo_err_prefix(err, "%s: step %lld", s->path, (long long)step);
    else if (!(rc = stmt(s, ST_INSERT_STEP, &st, err))) {
        store_step_metrics none = store_metrics_unset();
        const store_step_metrics *mm = m ? m : &none;
        sqlite3_bind_int64(st, 1, s->run_id);
        sqlite3_bind_int64(st, 2, step);
        for (size_t i = 0; i < N_METRICS; i++)
            bind_real(st, (int)i + 3, *(const double *)((const char *)mm + METRICS[i].off));
        bind_text(st, (int)N_METRICS + 3, metrics_json);
        rc = step_done(s, st, "inserting the steps row", err);
    }
    if (!rc) rc = exec(s, "COMMIT", "committing the step", err);
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* a failed COMMIT leaves the transaction open */
    s->in_step = 0;
    return rc;
}

void store_step_abort(store *s) {
    if (!s || !s->in_step) return;
    for (int k = 0; k < ST_COUNT; k++)
        if (s->st[k]) sqlite3_reset(s->st[k]);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_step = 0;
}

/* ---------------------------------------------------------------- truncation, evals, the last step */

int store_truncate_after(store *s, int64_t step, int64_t *removed, grpo_err *err) {
    if (removed) *removed = 0;
    int rc = check_writer(s, "store_truncate_after", err);
    if (rc) return rc;
    if (s->in_step)
        return grpo_errf(err, GRPO_EINVAL, "%s: store_truncate_after while step %lld is open", s->path,
                         (long long)s->step);
    if ((rc = exec(s, "BEGIN IMMEDIATE", "cannot lock the database", err))) return rc;
    int64_t count = 0;
    /* Children first, so that the deletes do not depend on the connection's foreign_keys setting. */
    static const int ORDER[] = {ST_COUNT_AFTER, ST_DEL_COMPONENTS, ST_DEL_ROLLOUTS, ST_DEL_STEPS, ST_DEL_EVALS};
    for (size_t i = 0; !rc && i < sizeof ORDER / sizeof ORDER[0]; i++) {
        sqlite3_stmt *st;
        if ((rc = stmt(s, ORDER[i], &st, err))) break;
        sqlite3_bind_int64(st, 1, s->run_id);
        sqlite3_bind_int64(st, 2, step);
        if (ORDER[i] == ST_COUNT_AFTER) {
            if (sqlite3_step(st) == SQLITE_ROW) count = sqlite3_column_int64(st, 0);
            else rc = db_fail(s, err, "counting the steps to remove");
            sqlite3_reset(st);
        } else {
            rc = step_done(s, st, "removing later steps", err);
        }
    }
    if (!rc) rc = exec(s, "COMMIT", "committing the removal", err);
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else if (removed) *removed = count;
    return rc;
}

int store_add_eval(store *s, const store_eval *e, grpo_err *err) {
    int rc = check_writer(s, "store_add_eval", err);
    if (rc) return rc;
    if (!e->name || !*e->name || !e->split || !*e->split || !e->metric || !*e->metric)
        return grpo_errf(err, GRPO_EINVAL, "%s: an eval needs a name, a split and a metric", s->path);
    if (e->detail_json && check_json_object(e->detail_json, "detail_json", err))
        return grpo_err_prefix(err, "%s: eval %s/%s/%s", s->path, e->name, e->split, e->metric);
    sqlite3_stmt *st;
    if ((rc = stmt(s, ST_UPSERT_EVAL, &st, err))) return rc;
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, e->step);
    bind_text(st, 3, e->name);
    bind_text(st, 4, e->split);
    bind_text(st, 5, e->metric);
    bind_real(st, 6, e->value);
    sqlite3_bind_int64(st, 7, e->n);
    bind_text(st, 8, e->detail_json);
    return step_done(s, st, "inserting an eval", err);
}

int store_last_step(store *s, int64_t *step, grpo_err *err) {
    *step = -1;
    sqlite3_stmt *st;
    int rc = stmt(s, ST_LAST_STEP, &st, err);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, s->run_id);
    if (sqlite3_step(st) != SQLITE_ROW) rc = db_fail(s, err, "reading the last step");
    else if (sqlite3_column_type(st, 0) != SQLITE_NULL) *step = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc;
}

/* ---------------------------------------------------------------- reading rows as JSON */

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* A JSON string of n bytes of text, with each invalid UTF-8 byte replaced by U+FFFD. */
static json_t *json_text(const char *text, size_t n) {
    const unsigned char *p = (const unsigned char *)text;
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k) bad++, k = 1;
        i += k;
    }
    if (!bad) return json_stringn(text, n);
    char *clean = malloc(n + 2 * bad + 1), *q = clean;
    if (!clean) return NULL;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) memcpy(q, p + i, k), q += k, i += k;
        else memcpy(q, "\xEF\xBF\xBD", 3), q += 3, i++;
    }
    json_t *j = json_stringn(clean, (size_t)(q - clean));
    free(clean);
    return j;
}

/* Column i of the current row as a JSON value, keyed in row (decoding "*_json" columns). */
static int row_set(json_t *row, sqlite3_stmt *st, int i) {
    const char *name = sqlite3_column_name(st, i);
    size_t nl = strlen(name);
    int is_json = nl > 5 && !strcmp(name + nl - 5, "_json");
    json_t *v = NULL;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT: {
        double d = sqlite3_column_double(st, i);
        v = isfinite(d) ? json_real(d) : json_null();
        break;
    }
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        if (is_json) v = json_loadb(t, n, JSON_DECODE_ANY, NULL);
        if (!v) v = json_text(t, n);
        break;
    }
    case SQLITE_BLOB: {
        const unsigned char *b = sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        char *hex = malloc(2 * n + 1);
        if (hex) {
            for (size_t k = 0; k < n; k++) sprintf(hex + 2 * k, "%02x", b[k]);
            hex[2 * n] = '\0';
            v = json_string(hex);
            free(hex);
        }
        break;
    }
    default: v = json_null(); break;
    }
    if (!v) return -1;
    if (!is_json) return json_object_set_new(row, name, v);
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(nl - 5), name);
    return json_object_set_new(row, key, v);
}

int store_query(store *s, const char *sql, const int64_t *args, int n_args, store_row_fn fn, void *ctx,
                grpo_err *err) {
    store_arg a[32];
    if (n_args > 32) return grpo_errf(err, GRPO_EINVAL, "%s: store_query takes at most 32 arguments", s->path);
    for (int i = 0; i < n_args; i++) a[i] = (store_arg){.type = STORE_ARG_INT, .i = args[i]};
    return store_query_args(s, sql, a, n_args, fn, ctx, err);
}

int store_query_args(store *s, const char *sql, const store_arg *args, int n_args, store_row_fn fn, void *ctx,
                     grpo_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(s, err, "preparing a query");
    if (!st) return GRPO_OK; /* empty SQL */
    if (!sqlite3_stmt_readonly(st)) {
        sqlite3_finalize(st);
        return grpo_errf(err, GRPO_EINVAL, "%s: store_query runs read-only statements only: %s", s->path, sql);
    }
    for (int i = 0; i < n_args; i++) {
        switch (args[i].type) {
        case STORE_ARG_INT: sqlite3_bind_int64(st, i + 1, args[i].i); break;
        case STORE_ARG_REAL: bind_real(st, i + 1, args[i].d); break;
        case STORE_ARG_TEXT: bind_text(st, i + 1, args[i].s); break;
        default: sqlite3_bind_null(st, i + 1); break;
        }
    }
    int ncol = sqlite3_column_count(st), rc, out = GRPO_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        int bad = !row;
        for (int i = 0; !bad && i < ncol; i++) bad = row_set(row, st, i) != 0;
        if (bad) {
            json_decref(row);
            out = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory reading a row", s->path);
            break;
        }
        int stop = fn(ctx, row);
        json_decref(row);
        if (stop) break;
    }
    if (!out && rc != SQLITE_ROW && rc != SQLITE_DONE) out = db_fail(s, err, "running a query");
    sqlite3_finalize(st);
    return out;
}

/* ---------------------------------------------------------------- distillation (grpo/loops/distill.c)
 * Kept in one block, apart from the schema above, so that it merges cleanly with schema changes:
 * the run kind, and the teacher's per-token logprobs of on-policy distillation in a table of their own. */

/* Adds runs.kind when this file's schema has no such column yet (a later schema creates it). */
static int ensure_kind_column(store *s, grpo_err *err) {
    int64_t have = 0;
    int rc = query_int(s, "SELECT count(*) FROM pragma_table_info('runs') WHERE name='kind'", &have,
                       "reading the runs table", err);
    if (rc || have) return rc;
    return exec(s, "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'grpo'", "adding runs.kind", err);
}

int store_set_run_kind(store *s, const char *kind, grpo_err *err) {
    int rc = check_writer(s, "store_set_run_kind", err);
    if (rc) return rc;
    if (s->in_step) return grpo_errf(err, GRPO_EINVAL, "%s: store_set_run_kind while a step is open", s->path);
    if (!kind || !*kind) return grpo_errf(err, GRPO_EINVAL, "%s: store_set_run_kind: empty kind", s->path);
    if ((rc = ensure_kind_column(s, err))) return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "UPDATE runs SET kind=?1 WHERE run_id=?2", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "setting the run kind");
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->run_id);
    rc = sqlite3_step(st) == SQLITE_DONE ? GRPO_OK : db_fail(s, err, "setting the run kind");
    sqlite3_finalize(st);
    return rc;
}

int store_add_teacher_logprobs(store *s, int64_t prompt_id, int sample_index, const float *logprobs, int n,
                               grpo_err *err) {
    int rc = check_writer(s, "store_add_teacher_logprobs", err);
    if (rc) return rc;
    if (!s->in_step)
        return grpo_errf(err, GRPO_EINVAL, "%s: store_add_teacher_logprobs outside a step", s->path);
    if (n < 0 || (n > 0 && !logprobs))
        return grpo_errf(err, GRPO_EINVAL, "%s: store_add_teacher_logprobs: no logprobs", s->path);
    rc = exec(s,
              "CREATE TABLE IF NOT EXISTS teacher_logprobs ("
              " run_id INTEGER NOT NULL, step INTEGER NOT NULL, prompt_id INTEGER NOT NULL,"
              " sample_index INTEGER NOT NULL, logprobs TEXT NOT NULL,"
              " PRIMARY KEY (run_id, step, prompt_id, sample_index),"
              " FOREIGN KEY (run_id, step, prompt_id, sample_index)"
              "  REFERENCES rollouts(run_id, step, prompt_id, sample_index) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED)",
              "creating teacher_logprobs", err);
    if (rc) return rc;
    if (json_floats(s, logprobs, n)) return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", s->path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO teacher_logprobs(run_id, step, prompt_id, sample_index, logprobs)"
                           " VALUES(?1,?2,?3,?4,?5)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "inserting teacher logprobs");
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, s->step);
    sqlite3_bind_int64(st, 3, prompt_id);
    sqlite3_bind_int(st, 4, sample_index);
    sqlite3_bind_text(st, 5, s->lp_buf, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? GRPO_OK : db_fail(s, err, "inserting teacher logprobs");
    sqlite3_finalize(st);
    return rc;
}
