/* tests/fault/fault.c: the counting, failing allocator behind fault.h. */
#include "fault.h"

#include <execinfo.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t m, size_t n);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

static atomic_long seen, fail_at;
static atomic_int fired;

void fault_arm(long k) {
    atomic_store(&seen, 0);
    atomic_store(&fired, 0);
    atomic_store(&fail_at, k);
}

void fault_disarm(void) { atomic_store(&fail_at, 0); }
long fault_count(void) { return atomic_load(&seen); }
int fault_fired(void) { return atomic_load(&fired); }

/* Counts one allocation; 1 when it is the one to fail. */
static int should_fail(void) {
    long k = atomic_fetch_add(&seen, 1) + 1, at = atomic_load(&fail_at);
    if (at <= 0 || k != at) return 0;
    atomic_store(&fired, 1);
    if (getenv("GRPO_FAULT_BT")) { /* where the failed allocation was made */
        void *frames[16];
        backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
    }
    return 1;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t m, size_t n) { return should_fail() ? NULL : __real_calloc(m, n); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    return should_fail() ? 12 /* ENOMEM */ : __real_posix_memalign(p, align, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n) { return should_fail() ? NULL : __real_aligned_alloc(align, n); }
char *__wrap_strdup(const char *s) { return should_fail() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n) { return should_fail() ? NULL : __real_strndup(s, n); }

/* ---- SQLite's allocator: a 16-byte header keeps each block's size (xSize) ---- */

static void *sq_malloc(int n) {
    if (should_fail()) return NULL;
    size_t *p = __real_malloc((size_t)n + 16);
    if (!p) return NULL;
    p[0] = (size_t)n;
    return (char *)p + 16;
}
static void sq_free(void *p) {
    if (p) free((char *)p - 16);
}
static void *sq_realloc(void *p, int n) {
    if (!p) return sq_malloc(n);
    if (should_fail()) return NULL;
    size_t *q = __real_realloc((char *)p - 16, (size_t)n + 16);
    if (!q) return NULL;
    q[0] = (size_t)n;
    return (char *)q + 16;
}
static int sq_size(void *p) { return p ? (int)*(size_t *)((char *)p - 16) : 0; }
static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *ctx) { return SQLITE_OK; }
static void sq_shutdown(void *ctx) {}

static void *js_malloc(size_t n) { return __wrap_malloc(n); }

void fault_install(void) {
    static const sqlite3_mem_methods mem = {sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup, sq_init, sq_shutdown,
                                            NULL};
    sqlite3_config(SQLITE_CONFIG_MALLOC, &mem);
    json_set_alloc_funcs(js_malloc, free);
}
