/* rewards/countdown.c: a recursive-descent parser over + - * / ( ) and integers with exact rational
 * evaluation (64-bit, overflow counts as a wrong value), plus the number-usage check. */
#include "countdown.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct { long long n, d; int bad; } rat;

typedef struct {
    const char *s;
    int depth;
    long long used[COUNTDOWN_MAX_NUMBERS];
    int n_used, syntax;
} cp;

static long long gcd_(long long a, long long b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) { long long t = a % b; a = b; b = t; }
    return a ? a : 1;
}

static rat mk(long long n, long long d, int bad) {
    if (bad || d == 0) return (rat){0, 1, 1};
    if (d < 0) {
        if (n == (-9223372036854775807LL - 1) || d == (-9223372036854775807LL - 1)) return (rat){0, 1, 1};
        n = -n, d = -d;
    }
    long long g = gcd_(n, d);
    return (rat){n / g, d / g, 0};
}

static rat op(rat a, rat b, char o) {
    if (a.bad || b.bad) return (rat){0, 1, 1};
    long long x, y, z;
    int ov = 0;
    switch (o) {
    case '+': case '-':
        ov |= __builtin_mul_overflow(a.n, b.d, &x);
        ov |= __builtin_mul_overflow(b.n, a.d, &y);
        ov |= __builtin_mul_overflow(a.d, b.d, &z);
        ov |= o == '+' ? __builtin_add_overflow(x, y, &x) : __builtin_sub_overflow(x, y, &x);
        return mk(x, z, ov);
    case '*':
        ov |= __builtin_mul_overflow(a.n, b.n, &x);
        ov |= __builtin_mul_overflow(a.d, b.d, &z);
        return mk(x, z, ov);
    default:
        ov |= __builtin_mul_overflow(a.n, b.d, &x);
        ov |= __builtin_mul_overflow(a.d, b.n, &z);
        return mk(x, z, ov || b.n == 0);
    }
}

static void ws(cp *p) { while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n') p->s++; }

static rat expr(cp *p);

static rat primary(cp *p) {
    ws(p);
    if (++p->depth > 64) { p->syntax = 1; return (rat){0, 1, 1}; }
    rat r;
    if (*p->s == '(') {
        p->s++;
        r = expr(p);
        ws(p);
        if (*p->s != ')') p->syntax = 1;
        else p->s++;
    } else if (isdigit((unsigned char)*p->s)) {
        long long v = 0;
        int ov = 0;
        while (isdigit((unsigned char)*p->s)) {
            ov |= __builtin_mul_overflow(v, 10, &v) | __builtin_add_overflow(v, *p->s - '0', &v);
            p->s++;
        }
        if (ov || p->n_used >= COUNTDOWN_MAX_NUMBERS) p->syntax = 1;
        else p->used[p->n_used++] = v;
        r = mk(v, 1, ov);
    } else {
        p->syntax = 1;
        r = (rat){0, 1, 1};
    }
    p->depth--;
    return r;
}

static rat term(cp *p) {
    rat a = primary(p);
    for (;;) {
        ws(p);
        char o = *p->s;
        if (o != '*' && o != '/') return a;
        p->s++;
        a = op(a, primary(p), o);
    }
}

static rat expr(cp *p) {
    rat a = term(p);
    for (;;) {
        ws(p);
        char o = *p->s;
        if (o != '+' && o != '-') return a;
        p->s++;
        a = op(a, term(p), o);
    }
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

countdown_verdict countdown_check(const char *e, const long long *numbers, int n, long long target) {
    if (!e) return COUNTDOWN_NO_ANSWER;
    while (*e == ' ' || *e == '\n') e++;
    if (!*e) return COUNTDOWN_NO_ANSWER;
    if (strlen(e) > COUNTDOWN_MAX_LEN || n > COUNTDOWN_MAX_NUMBERS || n < 0) return COUNTDOWN_SYNTAX;
    cp p = {.s = e};
    rat v = expr(&p);
    ws(&p);
    if (p.syntax || *p.s) return COUNTDOWN_SYNTAX;
    long long want[COUNTDOWN_MAX_NUMBERS];
    memcpy(want, numbers, (size_t)n * sizeof *want);
    qsort(want, (size_t)n, sizeof *want, cmp_ll);
    qsort(p.used, (size_t)p.n_used, sizeof *p.used, cmp_ll);
    if (p.n_used != n || memcmp(want, p.used, (size_t)n * sizeof *want)) return COUNTDOWN_WRONG_NUMBERS;
    if (v.bad || v.d != 1 || v.n != target) return COUNTDOWN_WRONG_VALUE;
    return COUNTDOWN_CORRECT;
}

double countdown_score(const char *completion, const long long *numbers, int n, long long target) {
    if (!completion) return 0.0;
    const char *a = NULL, *f = completion;
    while ((f = strstr(f, "<answer>"))) a = f, f += 8;
    char buf[COUNTDOWN_MAX_LEN + 2];
    const char *expr_s = completion;
    if (a) {
        a += 8;
        const char *end = strstr(a, "</answer>");
        size_t len = end ? (size_t)(end - a) : strlen(a);
        if (len > COUNTDOWN_MAX_LEN) len = COUNTDOWN_MAX_LEN + 1;
        memcpy(buf, a, len);
        buf[len] = '\0';
        /* "1+2 = 3": the part before '=' is the expression */
        char *eq = strchr(buf, '=');
        if (eq) *eq = '\0';
        expr_s = buf;
    }
    countdown_verdict v = countdown_check(expr_s, numbers, n, target);
    return v == COUNTDOWN_CORRECT ? 1.0 : v == COUNTDOWN_NO_ANSWER ? 0.0 : 0.1;
}
