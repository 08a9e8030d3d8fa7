/* rewards/registry.c: reward functions by name, weights, and the shape-only rewards. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "registry.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "countdown.h"
#include "math.h"

const char RW_R1_PATTERN[] = "^\\s*<think>.*?</think>\\s*<answer>.*?</answer>\\s*$";

typedef enum { RW_ACCURACY, RW_FORMAT, RW_TAG_COUNT, RW_COUNTDOWN, RW_OVERLONG, RW_RANDOM, RW_NKINDS } rw_kind;
static const char *const KIND_NAMES[RW_NKINDS] = {"accuracy", "format", "tag_count", "countdown", "overlong", "random"};

struct rw_registry {
    int n;
    rw_kind kind[RW_MAX];
    char name[RW_MAX][32];
    double weight[RW_MAX];
    pcre2_code *format;
    int max_len, buffer;
};

double rw_overlong(int len, int max_len, int buffer) {
    if (buffer <= 0 || len <= max_len - buffer) return 0.0;
    if (len > max_len) return -1.0;
    return (double)((max_len - buffer) - len) / buffer;
}

double rw_random(const char *text) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (double)(h & 1);
}

static int count_of(const char *s, const char *tag) {
    int n = 0;
    for (const char *p = strstr(s, tag); p; p = strstr(p + 1, tag)) n++;
    return n;
}

double rw_tag_count(const char *text) {
    static const char *const tags[4] = {"<think>", "</think>", "<answer>", "</answer>"};
    double s = 0;
    for (int i = 0; i < 4; i++) s += count_of(text, tags[i]) == 1 ? 0.25 : 0.0;
    return s;
}

double rw_format_r1(const rw_registry *r, const char *text) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->format, NULL);
    if (!md) return 0.0;
    int rc = pcre2_match(r->format, (PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0 ? 1.0 : 0.0;
}

static double accuracy(const rw_item *it, const char *text) {
    if (it->n_nums > 0) return countdown_score(text, it->nums, it->n_nums, it->target) >= 1.0 ? 1.0 : 0.0;
    if (!it->answer) return 0.0;
    math_opts mo;
    math_opts_default(&mo);
    return math_accuracy(it->answer, text, &mo);
}

int rw_registry_new(rw_registry **out, const char *const *names, const double *weights, int n,
                    const char *format_pattern, int overlong_max_len, int overlong_buffer, grpo_err *err) {
    *out = NULL;
    if (n < 1 || n > RW_MAX) return grpo_errf(err, GRPO_EINVAL, "reward_funcs: need 1 to %d rewards, got %d", RW_MAX, n);
    rw_registry *r = calloc(1, sizeof *r);
    if (!r) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    r->n = n;
    r->max_len = overlong_max_len;
    r->buffer = overlong_buffer;
    for (int i = 0; i < n; i++) {
        int k = -1;
        for (int j = 0; j < RW_NKINDS; j++)
            if (!strcmp(names[i], KIND_NAMES[j])) k = j;
        if (k < 0) {
            free(r);
            return grpo_errf(err, GRPO_EINVAL,
                             "reward_funcs: unknown reward \"%s\" (accuracy, format, tag_count, countdown, overlong, random)", names[i]);
        }
        if (k == RW_OVERLONG && (overlong_buffer <= 0 || overlong_max_len <= overlong_buffer)) {
            free(r);
            return grpo_errf(err, GRPO_EINVAL, "reward \"overlong\" needs 0 < overlong buffer < max length (got %d, %d)",
                             overlong_buffer, overlong_max_len);
        }
        r->kind[i] = (rw_kind)k;
        snprintf(r->name[i], sizeof r->name[i], "%s", names[i]);
        r->weight[i] = weights ? weights[i] : 1.0;
    }
    int ecode;
    PCRE2_SIZE eoff;
    const char *pat = format_pattern ? format_pattern : RW_R1_PATTERN;
    r->format = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_DOTALL | PCRE2_UTF, &ecode, &eoff, NULL);
    if (!r->format) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        free(r);
        return grpo_errf(err, GRPO_EINVAL, "format pattern \"%s\": %s at offset %zu", pat, (const char *)msg, (size_t)eoff);
    }
    pcre2_jit_compile(r->format, PCRE2_JIT_COMPLETE);
    *out = r;
    return GRPO_OK;
}

void rw_registry_free(rw_registry *r) {
    if (!r) return;
    pcre2_code_free(r->format);
    free(r);
}

int rw_registry_size(const rw_registry *r) { return r->n; }
const char *rw_registry_name(const rw_registry *r, int i) { return r->name[i]; }

double rw_registry_score(const rw_registry *r, const rw_item *it, const char *completion, double *components) {
    double total = 0;
    for (int i = 0; i < r->n; i++) {
        double v = 0;
        switch (r->kind[i]) {
        case RW_ACCURACY: v = accuracy(it, completion); break;
        case RW_FORMAT: v = rw_format_r1(r, completion); break;
        case RW_TAG_COUNT: v = rw_tag_count(completion); break;
        case RW_COUNTDOWN: v = it->n_nums > 0 ? countdown_score(completion, it->nums, it->n_nums, it->target) : 0.0; break;
        case RW_OVERLONG: v = rw_overlong(it->n_tokens, r->max_len, r->buffer); break;
        case RW_RANDOM: v = rw_random(completion); break;
        default: break;
        }
        if (components) components[i] = v;
        total += r->weight[i] * v;
    }
    return total;
}

/* ---------------------------------------------------------------- reasons */

/* Writes into out (RW_REASON_MAX bytes) why the accuracy or countdown reward got value v. */
static void answer_reason(const rw_item *it, const char *pred, int found, double v, int countdown, char *out) {
    if (!found) {
        snprintf(out, RW_REASON_MAX, "no answer found");
        return;
    }
    if (countdown || it->n_nums > 0) {
        snprintf(out, RW_REASON_MAX, "equation %.40s, target %lld: %s", pred, it->target,
                 v >= 1.0 ? "reached" : v > 0 ? "well formed, not reached" : "not reached");
        return;
    }
    if (!it->answer) {
        snprintf(out, RW_REASON_MAX, "extracted %.40s, no gold answer", pred);
        return;
    }
    char gold[64];
    math_extract(it->answer, MATH_FALLBACK_WHOLE, gold, sizeof gold);
    snprintf(out, RW_REASON_MAX, "extracted %.36s, gold %.36s", pred, gold);
}

/* Writes the tags present exactly once and those missing or repeated. */
static void tag_reason(const char *text, char *out) {
    static const char *const tags[4] = {"<think>", "</think>", "<answer>", "</answer>"};
    char once[40] = "", other[40] = ""; /* all four tags, space-separated: 35 bytes and the NUL */
    for (int i = 0; i < 4; i++) {
        char *dst = count_of(text, tags[i]) == 1 ? once : other;
        size_t n = strlen(dst);
        snprintf(dst + n, sizeof once - n, "%s%s", n ? " " : "", tags[i]);
    }
    snprintf(out, RW_REASON_MAX, "once: %s; missing or repeated: %s", *once ? once : "none", *other ? other : "none");
}

void rw_registry_explain(const rw_registry *r, const rw_item *it, const char *completion, const double *components,
                         char (*reasons)[RW_REASON_MAX], char *extracted, size_t cap) {
    char pred[MATH_MAX_ANSWER];
    int found = math_extract(completion, MATH_FALLBACK_NONE, pred, sizeof pred);
    if (extracted && cap) snprintf(extracted, cap, "%s", found ? pred : "");
    for (int i = 0; i < r->n && reasons; i++) {
        double v = components ? components[i] : 0.0;
        char *out = reasons[i];
        switch (r->kind[i]) {
        case RW_ACCURACY: answer_reason(it, pred, found, v, 0, out); break;
        case RW_COUNTDOWN:
            if (it->n_nums > 0) answer_reason(it, pred, found, v, 1, out);
            else snprintf(out, RW_REASON_MAX, "not a countdown problem");
            break;
        case RW_FORMAT:
            snprintf(out, RW_REASON_MAX, "%s the format pattern", v >= 1.0 ? "matches" : "does not match");
            break;
        case RW_TAG_COUNT: tag_reason(completion, out); break;
        case RW_OVERLONG:
            snprintf(out, RW_REASON_MAX, "%d tokens; penalty past %d, -1 past %d", it->n_tokens, r->max_len - r->buffer,
                     r->max_len);
            break;
        case RW_RANDOM: snprintf(out, RW_REASON_MAX, "control: a hash of the text"); break;
        default: out[0] = '\0'; break;
        }
    }
}
