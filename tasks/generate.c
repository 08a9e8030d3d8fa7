/* tasks/generate.c: the built-in seeded generators, small enough for a tiny model to learn:
 *   arithmetic: "Compute 23+58-17." with the worked solution
 *               "<think>23+58=81. 81-17=64.</think><answer>64</answer>" (* and / before + and -, left to right);
 *   countdown:  "Using the numbers [3, 7, 25], create an equation that equals 46." with a solution found by
 *               an exhaustive search over integer steps: "<think>25-7=18. ...</think><answer>...</answer>".
 * Item i is drawn from its own stream seeded by (seed, i, attempt), so a dataset's first k items do not depend
 * on how many are generated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/rng.h"
#include "internal.h"

void tasks_gen_opts_default(tasks_gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->min_operands = 2, o->max_operands = 3;
    o->min_digits = 1, o->max_digits = 2;
    o->ops = "+-";
    o->min_nums = 3, o->max_nums = 4;
    o->max_num = 99, o->max_target = 100;
}

enum { GEN_MAX_ATTEMPTS = 1000 };

/* A stream for item i, attempt a of generator tag. */
static void item_rng(rng_state *r, uint64_t seed, uint64_t tag, uint64_t i, uint64_t a) {
    rng_seed(r, rng_mix64(rng_mix64(rng_mix64(seed ^ tag) ^ i) + a));
}

/* Uniform integer in [lo, hi]. */
static long long uniform(rng_state *r, long long lo, long long hi) {
    return lo + (long long)(((unsigned __int128)rng_next(r) * (uint64_t)(hi - lo + 1)) >> 64);
}

/* ---------------------------------------------------------------- arithmetic */

enum { ARITH_MAX_OPERANDS = 8, ARITH_MAX_DIGITS = 6 };

static int check_range(const char *gen, const char *name, int v, int lo, int hi, grpo_err *err) {
    if (v < lo || v > hi) return grpo_errf(err, GRPO_EINVAL, "%s: option %s = %d is outside %d..%d", gen, name, v, lo, hi);
    return GRPO_OK;
}

static int arith_check_opts(const tasks_gen_opts *o, grpo_err *err) {
    int rc = check_range("arithmetic", "min_operands", o->min_operands, 2, ARITH_MAX_OPERANDS, err);
    if (!rc) rc = check_range("arithmetic", "max_operands", o->max_operands, o->min_operands, ARITH_MAX_OPERANDS, err);
    if (!rc) rc = check_range("arithmetic", "min_digits", o->min_digits, 1, ARITH_MAX_DIGITS, err);
    if (!rc) rc = check_range("arithmetic", "max_digits", o->max_digits, o->min_digits, ARITH_MAX_DIGITS, err);
    if (rc) return rc;
    if (!o->ops || !o->ops[0] || strspn(o->ops, "+-*/") != strlen(o->ops))
        return grpo_errf(err, GRPO_EINVAL, "arithmetic: option ops = \"%s\" must be a non-empty set of + - * /",
                         o->ops ? o->ops : "");
    return GRPO_OK;
}

/* An operand of d digits (1 digit: 0..9). */
static long long arith_operand(rng_state *r, int d) {
    long long lo = 1, hi;
    for (int k = 1; k < d; k++) lo *= 10;
    hi = lo * 10 - 1;
    return uniform(r, d == 1 ? 0 : lo, hi);
}

/* A divisor of t in [max(lo,1), hi], preferring ones > 1; 0 when there is none or t is too large to search. */
static long long arith_divisor(rng_state *r, long long t, int d) {
    long long lo = 1, hi;
    for (int k = 1; k < d; k++) lo *= 10;
    hi = lo * 10 - 1;
    if (d == 1) lo = 1;
    if (t == 0) return uniform(r, lo > 2 ? lo : 2, hi > 2 ? hi : 2);
    long long a = t < 0 ? -t : t;
    if (a > 10000000000LL) return 0;
    long long cand[128];
    int n = 0;
    for (long long k = 1; k * k <= a && n < 126; k++) {
        if (a % k) continue;
        long long pair[2] = {k, a / k};
        for (int s = 0; s < (k == a / k ? 1 : 2); s++)
            if (pair[s] >= lo && pair[s] <= hi && pair[s] > 1) cand[n++] = pair[s];
    }
    if (n == 0) return lo <= 1 ? 1 : 0;
    return cand[uniform(r, 0, n - 1)];
}

/* One arithmetic problem into it; 0, or 1 to retry (negative or 64-bit overflow), or -1 on oom. */
static int arith_make(rng_state *r, const tasks_gen_opts *o, tasks_item *it) {
    int m = (int)uniform(r, o->min_operands, o->max_operands);
    long long v[ARITH_MAX_OPERANDS];
    char op[ARITH_MAX_OPERANDS];
    size_t nops = strlen(o->ops);
    v[0] = arith_operand(r, (int)uniform(r, o->min_digits, o->max_digits));
    long long term = v[0]; /* running value of the current * / term, for exact divisors */
    for (int j = 1; j < m; j++) {
        op[j - 1] = o->ops[uniform(r, 0, (long long)nops - 1)];
        int d = (int)uniform(r, o->min_digits, o->max_digits);
        if (op[j - 1] == '/') {
            v[j] = arith_divisor(r, term, d);
            if (v[j] == 0) return 1; /* no divisor with d digits: draw another problem */
        } else {
            v[j] = arith_operand(r, d);
        }
        if (op[j - 1] == '*') {
            if (__builtin_mul_overflow(term, v[j], &term)) return 1;
        } else if (op[j - 1] == '/') {
            term /= v[j];
        } else {
            term = v[j];
        }
    }
    /* The worked solution: * and / left to right, then + and - left to right. */
    strbuf p = {0}, s = {0};
    sb_addf(&p, "Compute %lld", v[0]);
    for (int j = 1; j < m; j++) sb_addf(&p, "%c%lld", op[j - 1], v[j]);
    sb_add(&p, ".");
    long long val[ARITH_MAX_OPERANDS];
    char vop[ARITH_MAX_OPERANDS];
    int n = 0, bad = 0;
    val[n++] = v[0];
    sb_add(&s, "<think>");
    int steps = 0;
    for (int j = 1; j < m; j++) {
        if (op[j - 1] == '*' || op[j - 1] == '/') {
            long long a = val[n - 1], c;
            if (op[j - 1] == '*') bad |= __builtin_mul_overflow(a, v[j], &c);
            else c = a / v[j];
            sb_addf(&s, "%s%lld%c%lld=%lld.", steps++ ? " " : "", a, op[j - 1], v[j], c);
            val[n - 1] = c;
        } else {
            vop[n - 1] = op[j - 1];
            val[n++] = v[j];
        }
    }
    long long acc = val[0];
    bad |= !o->allow_negative && acc < 0;
    for (int k = 1; k < n; k++) {
        long long c;
        bad |= vop[k - 1] == '+' ? __builtin_add_overflow(acc, val[k], &c) : __builtin_sub_overflow(acc, val[k], &c);
        sb_addf(&s, "%s%lld%c%lld=%lld.", steps++ ? " " : "", acc, vop[k - 1], val[k], c);
        acc = c;
        bad |= !o->allow_negative && acc < 0;
    }
    sb_addf(&s, "</think><answer>%lld</answer>", acc);
    if (bad) {
        sb_free(&p), sb_free(&s);
        return 1;
    }
    char num[32];
    snprintf(num, sizeof num, "%lld", acc);
    it->prompt = sb_take(&p);
    it->solution = sb_take(&s);
    it->answer = strdup(num);
    return it->prompt && it->solution && it->answer ? 0 : -1;
}

/* ---------------------------------------------------------------- countdown */

enum { CD_MAX_NUMS = 5, CD_MAX_NODES = 2 * CD_MAX_NUMS };

static int cd_check_opts(const tasks_gen_opts *o, grpo_err *err) {
    int rc = check_range("countdown", "min_nums", o->min_nums, 2, CD_MAX_NUMS, err);
    if (!rc) rc = check_range("countdown", "max_nums", o->max_nums, o->min_nums, CD_MAX_NUMS, err);
    if (!rc) rc = check_range("countdown", "max_num", o->max_num, 2, 999, err);
    if (!rc) rc = check_range("countdown", "max_target", o->max_target, 1, 100000, err);
    return rc;
}

char *tk_countdown_prompt(const int *nums, int n, int target, int long_prompt) {
    strbuf b = {0};
    sb_add(&b, "Using the numbers [");
    for (int i = 0; i < n; i++) sb_addf(&b, "%s%d", i ? ", " : "", nums[i]);
    sb_addf(&b, "], create an equation that equals %d.", target);
    if (long_prompt)
        sb_add(&b, " You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. "
                       "Show your work in <think> </think> tags. And return the final answer in <answer> </answer> "
                       "tags, for example <answer> (1 + 2) / 3 </answer>.");
    return sb_take(&b);
}

/* An expression tree node: a leaf (op 0) or a combination of two earlier nodes. */
typedef struct {
    long long v;
    char op;
    int l, r;
} cd_node;

typedef struct {
    cd_node node[CD_MAX_NODES];
    int n_leaves, max_target;
    char **witness; /* witness[t]: a worked solution reaching t, or NULL */
    int found, oom;
} cd_search;

static int cd_prec(char op) { return op == '+' || op == '-' ? 1 : 2; }

/* Prints node k with the fewest parentheses that keep its meaning. */
static void cd_print(const cd_search *S, int k, strbuf *b) {
    const cd_node *x = &S->node[k];
    if (!x->op) {
        sb_addf(b, "%lld", x->v);
        return;
    }
    const cd_node *l = &S->node[x->l], *r = &S->node[x->r];
    int pl = l->op && cd_prec(l->op) < cd_prec(x->op);
    int pr = r->op && (cd_prec(r->op) < cd_prec(x->op) || (cd_prec(r->op) == cd_prec(x->op) && (x->op == '-' || x->op == '/')));
    if (pl) sb_add(b, "(");
    cd_print(S, x->l, b);
    if (pl) sb_add(b, ")");
    sb_addf(b, "%c", x->op);
    if (pr) sb_add(b, "(");
    cd_print(S, x->r, b);
    if (pr) sb_add(b, ")");
}

/* Records the first solution found for the value of node root (steps are nodes n_leaves..root). */
static void cd_record(cd_search *S, int root) {
    long long t = S->node[root].v;
    if (t < 1 || t > S->max_target || S->witness[t]) return;
    strbuf b = {0};
    sb_add(&b, "<think>");
    for (int k = S->n_leaves; k <= root; k++) {
        const cd_node *x = &S->node[k];
        sb_addf(&b, "%s%lld%c%lld=%lld.", k > S->n_leaves ? " " : "", S->node[x->l].v, x->op, S->node[x->r].v, x->v);
    }
    sb_add(&b, "</think><answer>");
    cd_print(S, root, &b);
    sb_add(&b, "</answer>");
    if (!(S->witness[t] = sb_take(&b))) S->oom = 1;
    else S->found++;
}

typedef struct {
    int l, r;
    char op;
} cd_step;

/* Depth-first over every way to combine the live nodes pairwise with integer, positive intermediate values. */
static void cd_dfs(cd_search *S, int *live, int n_live, int next) {
    if (n_live == 1) {
        cd_record(S, live[0]);
        return;
    }
    for (int i = 0; i < n_live && !S->oom; i++) {
        for (int j = i + 1; j < n_live; j++) {
            int a = live[i], b = live[j];
            long long x = S->node[a].v, y = S->node[b].v;
            /* candidate (left, op, right) with the larger operand first for - and / */
            int hi = x >= y ? a : b, lo = x >= y ? b : a;
            cd_step cand[5];
            int nc = 0;
            cand[nc++] = (cd_step){hi, lo, '+'};
            cand[nc++] = (cd_step){hi, lo, '*'};
            if (x != y) cand[nc++] = (cd_step){hi, lo, '-'};
            if (y > 1 && x % y == 0) cand[nc++] = (cd_step){a, b, '/'};
            if (x > 1 && x != y && y % x == 0) cand[nc++] = (cd_step){b, a, '/'};
            int rest[CD_MAX_NODES], nr = 0;
            for (int k = 0; k < n_live; k++)
                if (k != i && k != j) rest[nr++] = live[k];
            rest[nr++] = next;
            for (int c = 0; c < nc; c++) {
                long long l = S->node[cand[c].l].v, r = S->node[cand[c].r].v, v;
                switch (cand[c].op) {
                case '+': v = l + r; break;
                case '*': v = l * r; break;
                case '-': v = l - r; break;
                default: v = l / r; break;
                }
                S->node[next] = (cd_node){v, cand[c].op, cand[c].l, cand[c].r};
                cd_dfs(S, rest, nr, next + 1);
            }
        }
    }
}

/* One countdown problem into it; 0, 1 to retry (no reachable target), or -1 on oom. */
static int cd_make(rng_state *r, const tasks_gen_opts *o, tasks_item *it) {
    int n = (int)uniform(r, o->min_nums, o->max_nums);
    cd_search S = {.n_leaves = n, .max_target = o->max_target};
    S.witness = calloc((size_t)o->max_target + 1, sizeof *S.witness);
    if (!S.witness) return -1;
    int live[CD_MAX_NODES];
    for (int i = 0; i < n; i++) {
        it->nums[i] = (int)uniform(r, 1, o->max_num);
        S.node[i] = (cd_node){it->nums[i], 0, -1, -1};
        live[i] = i;
    }
    it->n_nums = n;
    cd_dfs(&S, live, n, n);
    int rc = S.oom ? -1 : S.found ? 0 : 1;
    if (!rc) { /* the found-th reachable target, counting up */
        long long pick = uniform(r, 0, S.found - 1);
        for (int t = 1; t <= o->max_target; t++) {
            if (!S.witness[t] || pick--) continue;
            it->target = t;
            it->solution = S.witness[t], S.witness[t] = NULL;
            break;
        }
        char num[32];
        snprintf(num, sizeof num, "%d", it->target);
        it->answer = strdup(num);
        it->prompt = tk_countdown_prompt(it->nums, n, it->target, o->long_prompt);
        if (!it->answer || !it->prompt) rc = -1;
    }
    for (int t = 0; t <= o->max_target; t++) free(S.witness[t]);
    free(S.witness);
    return rc;
}

/* ---------------------------------------------------------------- the driver */

typedef int (*gen_make)(rng_state *, const tasks_gen_opts *, tasks_item *);

static const struct {
    const char *name;
    tasks_kind kind;
    uint64_t tag;
    int (*check)(const tasks_gen_opts *, grpo_err *);
    gen_make make;
} GENERATORS[] = {
    {"arithmetic", TASKS_KIND_ARITHMETIC, 0x61726974ULL, arith_check_opts, arith_make},
    {"countdown", TASKS_KIND_COUNTDOWN, 0x636f756eULL, cd_check_opts, cd_make},
};

int tasks_generate(tasks_dataset *ds, const char *generator, size_t n, uint64_t seed, const tasks_gen_opts *opts,
                   grpo_err *err) {
    memset(ds, 0, sizeof *ds);
    tasks_gen_opts dflt;
    tasks_gen_opts_default(&dflt);
    const tasks_gen_opts *o = opts ? opts : &dflt;
    size_t g = 0, ng = sizeof GENERATORS / sizeof *GENERATORS;
    while (g < ng && (!generator || strcmp(generator, GENERATORS[g].name))) g++;
    if (g == ng)
        return grpo_errf(err, GRPO_EINVAL, "unknown generator \"%s\" (known: arithmetic, countdown)",
                         generator ? generator : "");
    int rc = GENERATORS[g].check(o, err);
    if (rc) return rc;
    if (n == 0) return grpo_errf(err, GRPO_EINVAL, "%s: asked for 0 items", generator);
    tasks_dataset out = {GENERATORS[g].kind, TASKS_FORMAT_GENERATED, calloc(n, sizeof(tasks_item)), 0};
    if (!out.items) return grpo_errf(err, GRPO_ENOMEM, "%s: out of memory for %zu items", generator, n);
    tk_strset seen = {0};
    for (size_t i = 0; i < n && !rc; i++) {
        tasks_item *it = &out.items[i];
        int made = 1;
        for (int a = 0; a < GEN_MAX_ATTEMPTS && made; a++) {
            rng_state r;
            item_rng(&r, seed, GENERATORS[g].tag, i, (uint64_t)a);
            memset(it, 0, sizeof *it);
            made = GENERATORS[g].make(&r, o, it);
            if (made == 0 && o->unique) {
                int added = tk_strset_add(&seen, it->prompt);
                made = added < 0 ? -1 : added == 0;
            }
            if (made) tk_item_clear(it);
            if (made < 0) break;
        }
        if (made < 0) rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", generator);
        else if (made)
            rc = grpo_errf(err, GRPO_EINVAL,
                           "%s: could not make item %zu of %zu in %d attempts: the options leave too few %s problems",
                           generator, i, n, GEN_MAX_ATTEMPTS, o->unique ? "distinct" : "valid");
        if (rc) break;
        char num[32];
        snprintf(num, sizeof num, "%zu", i);
        it->id = (int64_t)i;
        out.n = i + 1;
        if (!(it->task_id = strdup(num))) rc = grpo_errf(err, GRPO_ENOMEM, "%s: out of memory", generator);
    }
    tk_strset_free(&seen);
    if (rc) {
        tasks_dataset_free(&out);
        return rc;
    }
    *ds = out;
    return GRPO_OK;
}
