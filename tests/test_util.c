/* tests/test_util.c: temp dirs, file writes, running commands, and the CUnit runner. */
#include "test_util.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GRPO_SOURCE_DIR
#define GRPO_SOURCE_DIR "."
#endif

char *tu_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/grpo-test-%s-XXXXXX", base, tag);
    if (!mkdtemp(p)) { free(p); return NULL; }
    return p;
}

char *tu_write(const char *dir, const char *name, const void *data, size_t len) {
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { free(p); return NULL; }
    if (len) fwrite(data, 1, len, f);
    fclose(f);
    return p;
}

int tu_run(const char *cmd, char **out, int merge) {
    char full[8192];
    snprintf(full, sizeof full, "%s%s", cmd, merge ? " 2>&1" : "");
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) { cap *= 2; buf = realloc(buf, cap); }
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (out) *out = buf; else free(buf);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *tu_src(const char *rel) {
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", GRPO_SOURCE_DIR, rel);
    return p;
}

int tu_run_registry(void) {
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) return 1;
    return failed ? 1 : 0;
}
