/* policy/tokenizer/tokenizer.c: byte-level BPE from a Hugging Face tokenizer.json, exact to HF `tokenizers`.
 *
 * Data flow of one encode, in the order of this file's sections:
 *   text ─ added tokens (not normalized) ─▶ segments ─ NFC ─ added tokens (normalized) ─▶ segments
 *        ─ pre-tokenizer steps (regex Splits, ByteLevel) ─▶ pieces ─ BPE (cache, merge heap) ─▶ ids
 * The byte-level alphabet (GPT-2's bytes_to_unicode) is handled once: pieces stay raw bytes, each
 * byte starts as the id of its one-character token, and every id knows the bytes it decodes to. */
#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/fsutil.h"
#include "common/strbuf.h"

#define TOK_MAX_ID (1 << 24)    /* ids beyond this are refused: no real vocabulary comes close */
#define CACHE_MAX_PIECE 256     /* longer pieces are not cached (HF does the same) */
#define CACHE_MAX_ENTRIES 65536 /* the cache is emptied when it holds this many pieces */

/* ---------------------------------------------------------------------------------------------- */
/* small containers                                                                               */
/* ---------------------------------------------------------------------------------------------- */

typedef struct {
    int *p;
    size_t n, cap;
} ivec_t;

static int ivec_add(ivec_t *v, int x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int *p = realloc(v->p, cap * sizeof *p);
        if (!p) return -1;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = x;
    return 0;
}

static uint64_t hash_bytes(const void *data, size_t n) {
    const uint8_t *s = data;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    return h;
}

/* String -> int map with open addressing; keys live in the map's own blob. */
typedef struct {
    uint64_t *hash; /* 0 = empty slot */
    uint32_t *koff, *klen;
    int *val;
    size_t cap, count;
    strbuf keys;
} strmap_t;

static void strmap_free(strmap_t *m) {
    free(m->hash);
    free(m->koff);
    free(m->klen);
    free(m->val);
    sb_free(&m->keys);
    memset(m, 0, sizeof *m);
}

static int strmap_init(strmap_t *m, size_t expected) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    m->cap = cap;
    m->hash = calloc(cap, sizeof *m->hash);
    m->koff = malloc(cap * sizeof *m->koff);
    m->klen = malloc(cap * sizeof *m->klen);
    m->val = malloc(cap * sizeof *m->val);
    if (!m->hash || !m->koff || !m->klen || !m->val) {
        strmap_free(m);
        return -1;
    }
    return 0;
}

/* Slot for key: the one holding it, or the empty one where it would go. */
static size_t strmap_slot(const strmap_t *m, const char *k, size_t n, uint64_t h) {
    size_t i = h & (m->cap - 1);
    while (m->hash[i]) {
        if (m->hash[i] == h && m->klen[i] == n && !memcmp(m->keys.s + m->koff[i], k, n)) return i;
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

static uint64_t strmap_hash(const char *k, size_t n) {
    uint64_t h = hash_bytes(k, n);
    return h ? h : 1;
}

/* Value of key, or -1. */
static int strmap_get(const strmap_t *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    uint64_t h = strmap_hash(k, n);
    size_t i = strmap_slot(m, k, n, h);
    return m->hash[i] ? m->val[i] : -1;
}

static int strmap_grow(strmap_t *m) {
    strmap_t g;
    if (strmap_init(&g, m->cap)) return -1;
    g.keys = m->keys;
    g.count = m->count;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->hash[i]) continue;
        size_t j = m->hash[i] & (g.cap - 1);
        while (g.hash[j]) j = (j + 1) & (g.cap - 1);
        g.hash[j] = m->hash[i];
        g.koff[j] = m->koff[i];
        g.klen[j] = m->klen[i];
        g.val[j] = m->val[i];
    }
    m->keys.s = NULL;
    strmap_free(m);
    *m = g;
    return 0;
}

/* Inserts key -> v; returns 1 when the key was already there (*old set, value unchanged), 0 when added,
 * -1 on allocation failure. */
static int strmap_put(strmap_t *m, const char *k, size_t n, int v, int *old) {
    if ((m->count + 1) * 2 > m->cap && strmap_grow(m)) return -1;
    uint64_t h = strmap_hash(k, n);
    size_t i = strmap_slot(m, k, n, h);
    if (m->hash[i]) {
        if (old) *old = m->val[i];
        return 1;
    }
    size_t off = m->keys.len;
    if (sb_addn(&m->keys, k, n)) {
        sb_truncate(&m->keys, off); /* the map stays usable: the next put may succeed */
        return -1;
    }
    m->hash[i] = h;
    m->koff[i] = (uint32_t)off;
    m->klen[i] = (uint32_t)n;
    m->val[i] = v;
    m->count++;
    return 0;
}

/* Merge table: (left id, right id) -> (rank, merged id). */
typedef struct {
    uint64_t key; /* UINT64_MAX = empty */
    int rank, id;
} pair_ent;

typedef struct {
    pair_ent *e;
    size_t cap, count;
} pairmap_t;

static uint64_t pair_key(int a, int b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t pair_slot(const pairmap_t *m, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (h ^ (h >> 29)) & (m->cap - 1);
    while (m->e[i].key != UINT64_MAX && m->e[i].key != key) i = (i + 1) & (m->cap - 1);
    return i;
}

static int pairmap_init(pairmap_t *m, size_t expected) {
    m->cap = 16;
    while (m->cap < expected * 2) m->cap *= 2;
    m->count = 0;
    m->e = malloc(m->cap * sizeof *m->e);
    if (!m->e) return -1;
    for (size_t i = 0; i < m->cap; i++) m->e[i].key = UINT64_MAX;
    return 0;
}

/* Sets pair (a, b) -> (rank, id), replacing an earlier entry as HF's map does. */
static void pairmap_put(pairmap_t *m, int a, int b, int rank, int id) {
    uint64_t key = pair_key(a, b);
    size_t i = pair_slot(m, key);
    if (m->e[i].key == UINT64_MAX) m->count++;
    m->e[i] = (pair_ent){key, rank, id};
}

static const pair_ent *pairmap_get(const pairmap_t *m, int a, int b) {
    if (!m->cap) return NULL;
    size_t i = pair_slot(m, pair_key(a, b));
    return m->e[i].key == UINT64_MAX ? NULL : &m->e[i];
}

/* ---------------------------------------------------------------------------------------------- */
/* UTF-8                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left): 1-4, or -k when the first k bytes are the
 * valid start of a sequence cut off by the end, or 0 when s starts an invalid subpart (whose length
 * is then in *bad). This is the "maximal subpart" rule Rust's from_utf8_lossy follows. */
static int utf8_seq(const unsigned char *s, size_t n, int *bad) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= n) return -k;
        unsigned x = s[k];
        unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (x < l || x > h) {
            *bad = k;
            return 0;
        }
    }
    return need + 1;
}

/* Offset of the first byte of invalid UTF-8 in s, or n when all of it is valid. */
static size_t utf8_check(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int bad = 0, k = utf8_seq(u + i, n - i, &bad);
        if (k <= 0) return i;
        i += (size_t)k;
    }
    return n;
}

/* Appends bytes to out as text, each maximal invalid subpart as U+FFFD. When hold is set, a valid but
 * unfinished sequence at the end is not written; returns its length (0-3). */
static int utf8_lossy(strbuf *out, const unsigned char *s, size_t n, int hold, size_t *held) {
    size_t i = 0, run = 0;
    *held = 0;
    if (n == 0) return 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int bad = 0, k = utf8_seq(s + i, n - i, &bad);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        if (sb_addn(out, s + run, i - run)) return -1;
        if (k < 0 && hold) {
            *held = n - i;
            return 0;
        }
        if (sb_addn(out, "\xEF\xBF\xBD", 3)) return -1;
        i += k < 0 ? (size_t)-k : (size_t)bad;
        run = i;
    }
    return sb_addn(out, s + run, n - run);
}

/* Rust's char::is_whitespace (the Unicode White_Space property). */
static int is_white_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* The same set as a PCRE2 class body; replaces \s so PCRE2 and Oniguruma agree on every character. */
static const char WS_CLASS[] = "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}"
                               "\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

/* Code points that Unicode 15.0 added to the general categories L, N, M, P and S. HF's regex engine
 * (Oniguruma 6.9.8) knows Unicode 15.0; PCRE2 10.42 (Debian 12) knows 14.0. Adding these ranges to
 * \p{X} makes the two agree; with a newer PCRE2 they are redundant and harmless. Listed from the
 * difference between Unicode 14.0 and 15.0 character data. */
static const struct {
    char cat;
    const char *extra;
} UNICODE15[] = {
    {'L', "\\x{1123F}-\\x{11240}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}"
          "\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{2B739}"
          "\\x{31350}-\\x{323AF}"},
    {'M', "\\x{CF3}\\x{ECE}\\x{10EFD}-\\x{10EFF}\\x{11241}\\x{11F00}-\\x{11F01}\\x{11F03}\\x{11F34}-\\x{11F3A}"
          "\\x{11F3E}-\\x{11F42}\\x{13440}\\x{13447}-\\x{13455}\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}"},
    {'N', "\\x{11F50}-\\x{11F59}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}"},
    {'P', "\\x{11B00}-\\x{11B09}\\x{11F43}-\\x{11F4F}"},
    {'S', "\\x{1F6DC}\\x{1F774}-\\x{1F776}\\x{1F77B}-\\x{1F77F}\\x{1F7D9}\\x{1FA75}-\\x{1FA77}\\x{1FA87}-\\x{1FA88}"
          "\\x{1FAAD}-\\x{1FAAF}\\x{1FABB}-\\x{1FABD}\\x{1FABF}\\x{1FACE}-\\x{1FACF}\\x{1FADA}-\\x{1FADB}\\x{1FAE8}"
          "\\x{1FAF7}-\\x{1FAF8}"},
};

/* Rust's char::is_alphanumeric, close enough: letters and numbers. */
static int is_alnum_cp(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

/* ---------------------------------------------------------------------------------------------- */
/* the byte-level alphabet (GPT-2's bytes_to_unicode)                                             */
/* ---------------------------------------------------------------------------------------------- */

typedef struct {
    char s[256][3]; /* UTF-8 of the character standing for each byte */
    uint8_t n[256];
    int16_t byte_of[324]; /* code point -> byte, or -1 */
} bytelevel_t;

static bytelevel_t BL;
static int BL_ready;

static void bytelevel_init(void) {
    if (BL_ready) return;
    for (int i = 0; i < 324; i++) BL.byte_of[i] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        int cp = printable ? b : 256 + extra++;
        BL.byte_of[cp] = (int16_t)b;
        if (cp < 0x80) {
            BL.s[b][0] = (char)cp;
            BL.n[b] = 1;
        } else {
            BL.s[b][0] = (char)(0xC0 | (cp >> 6));
            BL.s[b][1] = (char)(0x80 | (cp & 0x3F));
            BL.n[b] = 2;
        }
    }
    BL_ready = 1;
}

/* Bytes that a token string decodes to: through the byte-level alphabet when every character is in
 * it, else the string's own UTF-8 (what HF's ByteLevel decoder does per token). */
static int bytelevel_decode(strbuf *out, const char *s, size_t n) {
    size_t start = out->len;
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0 || cp >= 324 || BL.byte_of[cp] < 0) {
            sb_truncate(out, start);
            return sb_addn(out, s, n);
        }
        unsigned char b = (unsigned char)BL.byte_of[cp];
        if (sb_addn(out, &b, 1)) return -1;
        i += (size_t)k;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* the tokenizer                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

enum { SPLIT_ISOLATED, SPLIT_REMOVED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
static const char *SPLIT_BEHAVIORS[] = {"Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"};

typedef struct {
    int bytelevel; /* 0: Split, 1: ByteLevel */
    pcre2_code *re;
    int jit;
    int behavior, invert, add_prefix_space;
} pre_step;

typedef struct {
    char *content;
    size_t len;
    int id;
    unsigned special : 1, lstrip : 1, rstrip : 1, single_word : 1, normalized : 1;
} added_tok;

typedef struct {
    size_t off, len; /* into the arena the piece lives in */
    int arena;       /* 0: the segment text, 1: tok->prefixed */
} piece_t;

typedef struct {
    int rank, pos, id;
} merge_ent;

struct tok_tokenizer {
    tok_info info;
    int model_vocab;             /* 0, or the model's vocabulary: ids below it that no token has decode to "" */
    /* id -> bytes it decodes to */
    strbuf bytes;
    uint32_t *tok_off, *tok_len; /* tok_len == UINT32_MAX: no token has this id */
    uint8_t *special;            /* per id: 1 for special added tokens */
    strmap_t vocab;              /* tokenizer.json spelling -> id (model vocab) */
    pairmap_t merges;
    int byte_id[256];
    int unk_id, ignore_merges, nfc;
    pre_step *steps;
    int n_steps;
    added_tok *added;
    int n_added;
    uint8_t first_byte[2][256]; /* [normalized][byte]: some added token of that kind starts with it */
    /* scratch for one call */
    pcre2_match_data *md;
    pcre2_jit_stack *jit_stack;
    pcre2_match_context *mctx;
    strbuf norm, prefixed, tmp;
    piece_t *pieces, *pieces2;
    size_t pieces_cap, pieces2_cap;
    int *sym, *prev, *next;
    merge_ent *heap;
    size_t sym_cap, heap_cap;
    /* piece cache: raw bytes -> ids */
    strmap_t cache;
    ivec_t cache_ids;
};

const tok_info *tok_get_info(const tok_tokenizer *t) { return &t->info; }

void tok_free(tok_tokenizer *t) {
    if (!t) return;
    sb_free(&t->bytes);
    free(t->tok_off);
    free(t->tok_len);
    free(t->special);
    strmap_free(&t->vocab);
    free(t->merges.e);
    for (int i = 0; i < t->n_steps; i++) pcre2_code_free(t->steps[i].re);
    free(t->steps);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    pcre2_match_data_free(t->md);
    pcre2_match_context_free(t->mctx);
    pcre2_jit_stack_free(t->jit_stack);
    sb_free(&t->norm);
    sb_free(&t->prefixed);
    sb_free(&t->tmp);
    free(t->pieces);
    free(t->pieces2);
    free(t->sym);
    free(t->prev);
    free(t->next);
    free(t->heap);
    strmap_free(&t->cache);
    free(t->cache_ids.p);
    free(t);
}

/* ---------------------------------------------------------------------------------------------- */
/* loading tokenizer.json                                                                         */
/* ---------------------------------------------------------------------------------------------- */

#define FAIL(code, ...) grpo_errf(err, code, __VA_ARGS__)

/* Reads an optional boolean field; 0 when absent or null. */
static int opt_bool(json_t *o, const char *key, int *out, const char *path, const char *where, grpo_err *err) {
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return FAIL(GRPO_EFORMAT, "%s: field \"%s.%s\" must be true or false", path, where, key);
    *out = json_is_true(v);
    return 0;
}

/* Reads an integer id field within [0, TOK_MAX_ID). */
static int get_id(json_t *v, int *out, const char *path, const char *what, grpo_err *err) {
    if (!json_is_integer(v)) return FAIL(GRPO_EFORMAT, "%s: %s must be an integer token id", path, what);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x >= TOK_MAX_ID)
        return FAIL(GRPO_EFORMAT, "%s: %s = %lld is out of range (0..%d)", path, what, (long long)x, TOK_MAX_ID - 1);
    *out = (int)x;
    return 0;
}

static const char *unicode15(char cat) {
    for (size_t i = 0; i < sizeof UNICODE15 / sizeof UNICODE15[0]; i++)
        if (UNICODE15[i].cat == cat) return UNICODE15[i].extra;
    return NULL;
}

/* Rewrites an HF (Oniguruma) pattern for PCRE2: \s and \S become the explicit White_Space set, and
 * \p{L}, \p{N}, \p{M}, \p{P}, \p{S} gain the code points Unicode 15.0 added to them. */
static int regex_translate(const char *pat, size_t n, strbuf *out) {
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char d = pat[i + 1];
            int rc;
            if (d == 's') rc = in_class ? sb_addn(out, WS_CLASS, sizeof WS_CLASS - 1)
                                        : (sb_addn(out, "[", 1) || sb_addn(out, WS_CLASS, sizeof WS_CLASS - 1) ||
                                           sb_addn(out, "]", 1));
            else if (d == 'S' && !in_class)
                rc = sb_addn(out, "[^", 2) || sb_addn(out, WS_CLASS, sizeof WS_CLASS - 1) || sb_addn(out, "]", 1);
            else if ((d == 'p' || (d == 'P' && !in_class)) && i + 4 < n && pat[i + 2] == '{' && pat[i + 4] == '}' &&
                     unicode15(pat[i + 3])) {
                const char *extra = unicode15(pat[i + 3]);
                rc = (!in_class && sb_addn(out, d == 'P' ? "[^" : "[", d == 'P' ? 2 : 1)) ||
                     sb_addn(out, "\\p{", 3) || sb_addn(out, pat + i + 3, 1) || sb_addn(out, "}", 1) ||
                     sb_addn(out, extra, strlen(extra)) || (!in_class && sb_addn(out, "]", 1));
                i += 3; /* with the i++ below: past "\p{X}" */
            } else rc = sb_addn(out, pat + i, 2);
            if (rc) return -1;
            i++;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            if (sb_addn(out, &c, 1)) return -1;
            /* a ']' right after '[' or '[^' is a literal */
            if (i + 1 < n && pat[i + 1] == '^') {
                if (sb_addn(out, "^", 1)) return -1;
                i++;
            }
            if (i + 1 < n && pat[i + 1] == ']') {
                if (sb_addn(out, "]", 1)) return -1;
                i++;
            }
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && pat[i + 1] == ':') { /* [:alpha:] */
            const char *end = memchr(pat + i + 2, ']', n - i - 2);
            if (end && end[-1] == ':') {
                if (sb_addn(out, pat + i, (size_t)(end - (pat + i)) + 1)) return -1;
                i = (size_t)(end - pat);
                continue;
            }
        }
        if (in_class && c == ']') in_class = 0;
        if (sb_addn(out, &c, 1)) return -1;
    }
    return 0;
}

/* Compiles a Split pattern (regex or literal string); JIT when the platform has it. */
static int compile_pattern(pre_step *st, const char *pat, size_t n, int literal, const char *path, const char *where,
                           grpo_err *err) {
    strbuf tr = {0};
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK;
    const char *src = pat;
    size_t len = n;
    if (literal) opts |= PCRE2_LITERAL;
    else {
        if (regex_translate(pat, n, &tr)) {
            sb_free(&tr);
            return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
        }
        src = tr.s ? tr.s : "";
        len = tr.len;
    }
    if (utf8_check(pat, n) != n) {
        sb_free(&tr);
        return FAIL(GRPO_EFORMAT, "%s: field \"%s\" is not valid UTF-8", path, where);
    }
    int ecode;
    PCRE2_SIZE eoff;
    st->re = pcre2_compile((PCRE2_SPTR)src, len, opts, &ecode, &eoff, NULL);
    sb_free(&tr);
    if (!st->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        return FAIL(GRPO_EFORMAT, "%s: field \"%s\": invalid regex \"%.200s\": %s", path, where, pat, (char *)msg);
    }
    st->jit = pcre2_jit_compile(st->re, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* One pre-tokenizer (not a Sequence) into t->steps. */
static int load_pre_step(tok_tokenizer *t, json_t *p, const char *where, const char *path, grpo_err *err) {
    char w[128];
    if (!json_is_object(p)) return FAIL(GRPO_EFORMAT, "%s: field \"%s\" must be an object", path, where);
    const char *type = json_string_value(json_object_get(p, "type"));
    if (!type) return FAIL(GRPO_EFORMAT, "%s: field \"%s.type\" is missing or not a string", path, where);
    pre_step *st = &t->steps[t->n_steps];
    memset(st, 0, sizeof *st);
    if (!strcmp(type, "ByteLevel")) {
        int use_regex = 1, rc;
        json_t *ur = json_object_get(p, "use_regex");
        if (ur && !json_is_boolean(ur))
            return FAIL(GRPO_EFORMAT, "%s: field \"%s.use_regex\" must be true or false", path, where);
        if (ur) use_regex = json_is_true(ur);
        if ((rc = opt_bool(p, "add_prefix_space", &st->add_prefix_space, path, where, err))) return rc;
        st->bytelevel = 1;
        st->behavior = SPLIT_ISOLATED;
        if (use_regex && (rc = compile_pattern(st, GPT2_PATTERN, sizeof GPT2_PATTERN - 1, 0, path, where, err)))
            return rc;
        t->n_steps++;
        return 0;
    }
    if (strcmp(type, "Split") != 0)
        return FAIL(GRPO_EUNSUPPORTED, "%s: unsupported pre-tokenizer type \"%s\" in field \"%s.type\" (supported: "
                    "ByteLevel, Split, Sequence)", path, type, where);
    json_t *pat = json_object_get(p, "pattern");
    json_t *rx = json_is_object(pat) ? json_object_get(pat, "Regex") : NULL;
    json_t *str = json_is_object(pat) ? json_object_get(pat, "String") : NULL;
    if (!json_is_string(rx) && !json_is_string(str))
        return FAIL(GRPO_EFORMAT, "%s: field \"%s.pattern\" must be {\"Regex\": ...} or {\"String\": ...}", path, where);
    const char *beh = json_string_value(json_object_get(p, "behavior"));
    if (!beh) return FAIL(GRPO_EFORMAT, "%s: field \"%s.behavior\" is missing or not a string", path, where);
    st->behavior = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(beh, SPLIT_BEHAVIORS[i])) st->behavior = i;
    if (st->behavior < 0)
        return FAIL(GRPO_EUNSUPPORTED, "%s: unknown split behavior \"%s\" in field \"%s.behavior\"", path, beh, where);
    int rc = opt_bool(p, "invert", &st->invert, path, where, err);
    if (rc) return rc;
    json_t *s = json_is_string(rx) ? rx : str;
    snprintf(w, sizeof w, "%s.pattern.%s", where, json_is_string(rx) ? "Regex" : "String");
    if ((rc = compile_pattern(st, json_string_value(s), json_string_length(s), !json_is_string(rx), path, w, err)))
        return rc;
    t->n_steps++;
    return 0;
}

static int load_pre_tokenizer(tok_tokenizer *t, json_t *root, const char *path, grpo_err *err) {
    json_t *p = json_object_get(root, "pre_tokenizer");
    if (!p || json_is_null(p))
        return FAIL(GRPO_EUNSUPPORTED, "%s: field \"pre_tokenizer\" is null; only byte-level BPE (a ByteLevel "
                    "pre-tokenizer) is supported", path);
    if (!json_is_object(p)) return FAIL(GRPO_EFORMAT, "%s: field \"pre_tokenizer\" must be an object", path);
    const char *type = json_string_value(json_object_get(p, "type"));
    json_t *list = NULL;
    size_t n = 1;
    if (type && !strcmp(type, "Sequence")) {
        list = json_object_get(p, "pretokenizers");
        if (!json_is_array(list))
            return FAIL(GRPO_EFORMAT, "%s: field \"pre_tokenizer.pretokenizers\" must be an array", path);
        n = json_array_size(list);
        if (n > 64) return FAIL(GRPO_EUNSUPPORTED, "%s: field \"pre_tokenizer.pretokenizers\" has %zu steps (at most 64)", path, n);
    }
    t->steps = calloc(n ? n : 1, sizeof *t->steps);
    if (!t->steps) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        char where[64];
        if (list) snprintf(where, sizeof where, "pre_tokenizer.pretokenizers[%zu]", i);
        else snprintf(where, sizeof where, "pre_tokenizer");
        int rc = load_pre_step(t, list ? json_array_get(list, i) : p, where, path, err);
        if (rc) return rc;
        if (t->steps[i].bytelevel && i + 1 != n)
            return FAIL(GRPO_EUNSUPPORTED, "%s: field \"%s\": ByteLevel must be the last pre-tokenizer", path, where);
    }
    if (!n || !t->steps[n - 1].bytelevel)
        return FAIL(GRPO_EUNSUPPORTED, "%s: field \"pre_tokenizer\" has no ByteLevel step; only byte-level BPE is "
                    "supported", path);
    return 0;
}

static int load_normalizer(tok_tokenizer *t, json_t *root, const char *path, grpo_err *err) {
    json_t *p = json_object_get(root, "normalizer");
    if (!p || json_is_null(p)) return 0;
    if (!json_is_object(p)) return FAIL(GRPO_EFORMAT, "%s: field \"normalizer\" must be an object or null", path);
    const char *type = json_string_value(json_object_get(p, "type"));
    if (!type) return FAIL(GRPO_EFORMAT, "%s: field \"normalizer.type\" is missing or not a string", path);
    if (!strcmp(type, "NFC")) {
        t->nfc = 1;
        return 0;
    }
    if (strcmp(type, "Sequence") != 0)
        return FAIL(GRPO_EUNSUPPORTED, "%s: unsupported normalizer \"%s\" in field \"normalizer.type\" (supported: NFC, "
                    "Sequence)", path, type);
    json_t *list = json_object_get(p, "normalizers");
    if (!json_is_array(list)) return FAIL(GRPO_EFORMAT, "%s: field \"normalizer.normalizers\" must be an array", path);
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) {
        const char *ty = json_is_object(x) ? json_string_value(json_object_get(x, "type")) : NULL;
        if (!ty) return FAIL(GRPO_EFORMAT, "%s: field \"normalizer.normalizers[%zu].type\" is missing", path, i);
        if (strcmp(ty, "NFC") != 0)
            return FAIL(GRPO_EUNSUPPORTED, "%s: unsupported normalizer \"%s\" in field \"normalizer.normalizers[%zu]\" "
                        "(supported: NFC)", path, ty, i);
        t->nfc = 1;
    }
    return 0;
}

static int load_decoder(json_t *root, const char *path, grpo_err *err) {
    json_t *d = json_object_get(root, "decoder");
    if (!d || json_is_null(d))
        return FAIL(GRPO_EUNSUPPORTED, "%s: field \"decoder\" is null; only the ByteLevel decoder is supported", path);
    const char *type = json_is_object(d) ? json_string_value(json_object_get(d, "type")) : NULL;
    if (!type) return FAIL(GRPO_EFORMAT, "%s: field \"decoder.type\" is missing or not a string", path);
    if (!strcmp(type, "ByteLevel")) return 0;
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(d, "decoders");
        if (!json_is_array(list)) return FAIL(GRPO_EFORMAT, "%s: field \"decoder.decoders\" must be an array", path);
        size_t i;
        json_t *x;
        int seen = 0;
        json_array_foreach(list, i, x) {
            const char *ty = json_is_object(x) ? json_string_value(json_object_get(x, "type")) : NULL;
            if (!ty || strcmp(ty, "ByteLevel") != 0)
                return FAIL(GRPO_EUNSUPPORTED, "%s: field \"decoder.decoders[%zu]\": only ByteLevel is supported", path, i);
            seen = 1;
        }
        if (seen) return 0;
    }
    return FAIL(GRPO_EUNSUPPORTED, "%s: unsupported decoder \"%s\" in field \"decoder.type\" (supported: ByteLevel)",
                path, type);
}

static int load_added(tok_tokenizer *t, json_t *root, int *max_id, const char *path, grpo_err *err) {
    json_t *list = json_object_get(root, "added_tokens");
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list)) return FAIL(GRPO_EFORMAT, "%s: field \"added_tokens\" must be an array", path);
    size_t n = json_array_size(list);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(list, i);
        char where[64], what[80];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        if (!json_is_object(a)) return FAIL(GRPO_EFORMAT, "%s: field \"%s\" must be an object", path, where);
        added_tok *at = &t->added[t->n_added];
        snprintf(what, sizeof what, "field \"%s.id\"", where);
        int rc = get_id(json_object_get(a, "id"), &at->id, path, what, err);
        if (rc) return rc;
        json_t *c = json_object_get(a, "content");
        if (!json_is_string(c) || json_string_length(c) == 0)
            return FAIL(GRPO_EFORMAT, "%s: field \"%s.content\" must be a non-empty string", path, where);
        at->len = json_string_length(c);
        at->content = malloc(at->len + 1);
        if (!at->content) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
        memcpy(at->content, json_string_value(c), at->len + 1);
        t->n_added++;
        int f[5];
        const char *keys[5] = {"special", "lstrip", "rstrip", "single_word", "normalized"};
        for (int k = 0; k < 5; k++)
            if ((rc = opt_bool(a, keys[k], &f[k], path, where, err))) return rc;
        at->special = f[0], at->lstrip = f[1], at->rstrip = f[2], at->single_word = f[3], at->normalized = f[4];
        if (at->id > *max_id) *max_id = at->id;
    }
    return 0;
}

/* Looks up a merge operand in the vocab; names the merge and the missing token on failure. */
static int merge_part(tok_tokenizer *t, const char *s, size_t n, int *id, size_t i, const char *path, grpo_err *err) {
    *id = strmap_get(&t->vocab, s, n);
    if (*id < 0) return FAIL(GRPO_EFORMAT, "%s: field \"model.merges\"[%zu]: token \"%.*s\" is not in model.vocab", path, i,
                             (int)(n > 100 ? 100 : n), s);
    return 0;
}

static int load_merges(tok_tokenizer *t, json_t *model, const char *path, grpo_err *err) {
    json_t *m = json_object_get(model, "merges");
    if (!m || json_is_null(m)) m = NULL;
    else if (!json_is_array(m)) return FAIL(GRPO_EFORMAT, "%s: field \"model.merges\" must be an array", path);
    size_t n = m ? json_array_size(m) : 0;
    if (pairmap_init(&t->merges, n)) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
    strbuf cat = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *e = json_array_get(m, i);
        const char *a, *b;
        size_t na, nb;
        if (json_is_string(e)) {
            const char *s = json_string_value(e);
            size_t len = json_string_length(e);
            const char *sp = memchr(s, ' ', len);
            if (!sp || sp == s || sp == s + len - 1 || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s))) {
                rc = FAIL(GRPO_EFORMAT, "%s: field \"model.merges\"[%zu] = \"%.100s\" is not two tokens separated by one "
                          "space", path, i, s);
                break;
            }
            a = s, na = (size_t)(sp - s), b = sp + 1, nb = len - na - 1;
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            a = json_string_value(json_array_get(e, 0)), na = json_string_length(json_array_get(e, 0));
            b = json_string_value(json_array_get(e, 1)), nb = json_string_length(json_array_get(e, 1));
        } else {
            rc = FAIL(GRPO_EFORMAT, "%s: field \"model.merges\"[%zu] must be a string \"a b\" or a pair [\"a\", \"b\"]",
                      path, i);
            break;
        }
        int ia, ib;
        if ((rc = merge_part(t, a, na, &ia, i, path, err)) || (rc = merge_part(t, b, nb, &ib, i, path, err))) break;
        sb_clear(&cat);
        if (sb_addn(&cat, a, na) || sb_addn(&cat, b, nb)) {
            rc = FAIL(GRPO_ENOMEM, "%s: out of memory", path);
            break;
        }
        int id = strmap_get(&t->vocab, cat.s, cat.len);
        if (id < 0) {
            rc = FAIL(GRPO_EFORMAT, "%s: field \"model.merges\"[%zu]: merged token \"%.*s\" is not in model.vocab", path,
                      i, (int)(cat.len > 100 ? 100 : cat.len), cat.s);
            break;
        }
        pairmap_put(&t->merges, ia, ib, (int)i, id);
    }
    sb_free(&cat);
    return rc;
}

static int load_model(tok_tokenizer *t, json_t *root, int *max_id, const char *path, grpo_err *err) {
    json_t *model = json_object_get(root, "model");
    if (!model || json_is_null(model)) return FAIL(GRPO_EFORMAT, "%s: missing required field \"model\"", path);
    if (!json_is_object(model)) return FAIL(GRPO_EFORMAT, "%s: field \"model\" must be an object", path);
    json_t *ty = json_object_get(model, "type");
    if (ty && !json_is_string(ty)) return FAIL(GRPO_EFORMAT, "%s: field \"model.type\" must be a string", path);
    if (ty && strcmp(json_string_value(ty), "BPE") != 0)
        return FAIL(GRPO_EUNSUPPORTED, "%s: unknown model type \"%s\" in field \"model.type\" (supported: BPE)", path,
                    json_string_value(ty));
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab)) return FAIL(GRPO_EFORMAT, "%s: field \"model.vocab\" is missing or not an object", path);
    if (strmap_init(&t->vocab, json_object_size(vocab))) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        char what[160];
        snprintf(what, sizeof what, "field \"model.vocab\"[\"%.60s\"]", key);
        int id = -1, rc = get_id(v, &id, path, what, err), old;
        if (rc) return rc;
        rc = strmap_put(&t->vocab, key, strlen(key), id, &old);
        if (rc < 0) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
        if (id > *max_id) *max_id = id;
    }
    int rc, flag;
    if ((rc = opt_bool(model, "ignore_merges", &t->ignore_merges, path, "model", err))) return rc;
    if ((rc = opt_bool(model, "byte_fallback", &flag, path, "model", err))) return rc;
    if (flag) return FAIL(GRPO_EUNSUPPORTED, "%s: field \"model.byte_fallback\" = true is not supported (byte-level BPE only)", path);
    const char *affix[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_t *x = json_object_get(model, affix[i]);
        if (x && !json_is_null(x) && (!json_is_string(x) || json_string_length(x) > 0))
            return FAIL(GRPO_EUNSUPPORTED, "%s: field \"model.%s\" must be null or empty", path, affix[i]);
    }
    json_t *dr = json_object_get(model, "dropout");
    if (dr && !json_is_null(dr) && (!json_is_number(dr) || json_number_value(dr) != 0.0))
        return FAIL(GRPO_EUNSUPPORTED, "%s: field \"model.dropout\" must be null (BPE dropout is not supported)", path);
    t->unk_id = -1;
    json_t *unk = json_object_get(model, "unk_token");
    if (unk && !json_is_null(unk)) {
        if (!json_is_string(unk)) return FAIL(GRPO_EFORMAT, "%s: field \"model.unk_token\" must be a string or null", path);
        t->unk_id = strmap_get(&t->vocab, json_string_value(unk), json_string_length(unk));
        if (t->unk_id < 0)
            return FAIL(GRPO_EFORMAT, "%s: field \"model.unk_token\" = \"%.60s\" is not in model.vocab", path,
                        json_string_value(unk));
    }
    return load_merges(t, model, path, err);
}

/* Fills id -> bytes, the special flags and the byte -> id table once vocab and added tokens are read. */
static int build_tables(tok_tokenizer *t, int max_id, const char *path, grpo_err *err) {
    size_t nv = (size_t)max_id + 1;
    t->info.vocab_size = max_id + 1;
    t->tok_off = malloc(nv * sizeof *t->tok_off);
    t->tok_len = malloc(nv * sizeof *t->tok_len);
    t->special = calloc(nv, 1);
    if (!t->tok_off || !t->tok_len || !t->special) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < nv; i++) t->tok_len[i] = UINT32_MAX;
    strmap_t *m = &t->vocab;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->hash[i]) continue;
        int id = m->val[i];
        if (t->tok_len[id] != UINT32_MAX) {
            /* two spellings with one id: HF keeps an arbitrary one, we refuse */
            return FAIL(GRPO_EFORMAT, "%s: field \"model.vocab\": id %d is given to two tokens", path, id);
        }
        size_t off = t->bytes.len;
        if (bytelevel_decode(&t->bytes, m->keys.s + m->koff[i], m->klen[i]))
            return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
        t->tok_off[id] = (uint32_t)off;
        t->tok_len[id] = (uint32_t)(t->bytes.len - off);
    }
    for (int i = 0; i < t->n_added; i++) {
        added_tok *a = &t->added[i];
        size_t off = t->bytes.len;
        if (bytelevel_decode(&t->bytes, a->content, a->len)) return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
        t->tok_off[a->id] = (uint32_t)off;
        t->tok_len[a->id] = (uint32_t)(t->bytes.len - off);
        t->special[a->id] = a->special;
        t->first_byte[a->normalized][(unsigned char)a->content[0]] = 1;
    }
    for (int b = 0; b < 256; b++) t->byte_id[b] = strmap_get(&t->vocab, BL.s[b], BL.n[b]);
    return 0;
}

int tok_load_json(tok_tokenizer **out, const char *json, size_t len, const char *path, grpo_err *err) {
    *out = NULL;
    bytelevel_init();
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root) return FAIL(GRPO_EFORMAT, "%s: invalid JSON at line %d column %d: %s", path, je.line, je.column, je.text);
    tok_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(root);
        return FAIL(GRPO_ENOMEM, "%s: out of memory", path);
    }
    t->info.bos_id = t->info.eos_id = t->info.pad_id = -1;
    int max_id = -1, rc;
    if (!json_is_object(root)) rc = FAIL(GRPO_EFORMAT, "%s: the top level must be a JSON object", path);
    else if (!(rc = load_model(t, root, &max_id, path, err)) && !(rc = load_added(t, root, &max_id, path, err)) &&
             !(rc = load_normalizer(t, root, path, err)) && !(rc = load_pre_tokenizer(t, root, path, err)) &&
             !(rc = load_decoder(root, path, err))) {
        if (max_id < 0) rc = FAIL(GRPO_EFORMAT, "%s: field \"model.vocab\" is empty", path);
        else rc = build_tables(t, max_id, path, err);
    }
    json_decref(root);
    if (!rc) {
        t->md = pcre2_match_data_create(4, NULL);
        t->mctx = pcre2_match_context_create(NULL);
        t->jit_stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, NULL);
        if (!t->md || !t->mctx || !t->jit_stack || strmap_init(&t->cache, CACHE_MAX_ENTRIES))
            rc = FAIL(GRPO_ENOMEM, "%s: out of memory", path);
        else pcre2_jit_stack_assign(t->mctx, NULL, t->jit_stack);
    }
    if (rc) {
        tok_free(t);
        return rc;
    }
    *out = t;
    return GRPO_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* tokenizer_config.json and generation_config.json                                               */
/* ---------------------------------------------------------------------------------------------- */

/* A token named in tokenizer_config.json: a string or an AddedToken object with "content". */
static int config_token(tok_tokenizer *t, json_t *root, const char *key, int *out, const char *path, grpo_err *err) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v))
        return FAIL(GRPO_EFORMAT, "%s: field \"%s\" must be a string or an object with \"content\"", path, key);
    int id = tok_token_id(t, json_string_value(v));
    if (id < 0)
        return FAIL(GRPO_EFORMAT, "%s: field \"%s\" = \"%.80s\" is not a token of tokenizer.json", path, key,
                    json_string_value(v));
    *out = id;
    return 0;
}

/* An id field of generation_config.json: an integer or (eos) a list of integers. */
static int config_ids(tok_tokenizer *t, json_t *root, const char *key, int *ids, int max, int *n, const char *path,
                      grpo_err *err) {
    json_t *v = json_object_get(root, key);
    *n = 0;
    if (!v || json_is_null(v)) return 0;
    json_t *one = v;
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < count; i++) {
        if (json_is_array(v)) one = json_array_get(v, i);
        if (!json_is_integer(one) || json_integer_value(one) < 0 || json_integer_value(one) >= t->info.vocab_size)
            return FAIL(GRPO_EFORMAT, "%s: field \"%s\" must be a token id below %d (or a list of them)", path, key,
                        t->info.vocab_size);
        if (*n < max) ids[(*n)++] = (int)json_integer_value(one);
    }
    return 0;
}

/* Loads a JSON file when it exists; *root is NULL when it does not. */
static int load_optional(const char *path, json_t **root, grpo_err *err) {
    *root = NULL;
    if (!fs_exists(path)) return 0;
    char *data;
    size_t len;
    int rc = fs_read_file(path, &data, &len, err);
    if (rc) return rc;
    json_error_t je;
    *root = json_loadb(data, len, 0, &je);
    free(data);
    if (!*root) return FAIL(GRPO_EFORMAT, "%s: invalid JSON at line %d column %d: %s", path, je.line, je.column, je.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return FAIL(GRPO_EFORMAT, "%s: the top level must be a JSON object", path);
    }
    return 0;
}

static int load_configs(tok_tokenizer *t, const char *dir, grpo_err *err) {
    char path[4200];
    json_t *root;
    tok_info *in = &t->info;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    int rc = load_optional(path, &root, err);
    if (rc) return rc;
    if (root) {
        if (!(rc = config_token(t, root, "bos_token", &in->bos_id, path, err)) &&
            !(rc = config_token(t, root, "eos_token", &in->eos_id, path, err)))
            rc = config_token(t, root, "pad_token", &in->pad_id, path, err);
        json_decref(root);
        if (rc) return rc;
    }
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    if ((rc = load_optional(path, &root, err))) return rc;
    if (root) {
        int one, n1, n2;
        if (!(rc = config_ids(t, root, "eos_token_id", in->eos_ids, TOK_MAX_EOS, &in->n_eos, path, err)) &&
            !(rc = config_ids(t, root, "bos_token_id", &one, 1, &n1, path, err)) && n1 && in->bos_id < 0)
            in->bos_id = one;
        if (!rc && !(rc = config_ids(t, root, "pad_token_id", &one, 1, &n2, path, err)) && n2 && in->pad_id < 0)
            in->pad_id = one;
        json_decref(root);
        if (rc) return rc;
    }
    if (in->eos_id < 0 && in->n_eos) in->eos_id = in->eos_ids[0];
    if (in->eos_id >= 0) {
        int seen = 0;
        for (int i = 0; i < in->n_eos; i++) seen |= in->eos_ids[i] == in->eos_id;
        if (!seen && in->n_eos < TOK_MAX_EOS) in->eos_ids[in->n_eos++] = in->eos_id;
    }
    return 0;
}

int tok_load(tok_tokenizer **out, const char *dir, grpo_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    char *data;
    size_t len;
    *out = NULL;
    int rc = fs_read_file(path, &data, &len, err);
    if (rc) return rc;
    tok_tokenizer *t;
    rc = tok_load_json(&t, data, len, path, err);
    free(data);
    if (rc) return rc;
    if ((rc = load_configs(t, dir, err))) {
        tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* lookups                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

int tok_token_id(const tok_tokenizer *t, const char *token) {
    size_t n = strlen(token);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && !memcmp(t->added[i].content, token, n)) return t->added[i].id;
    return strmap_get(&t->vocab, token, n);
}

const char *tok_token_bytes(const tok_tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->info.vocab_size || t->tok_len[id] == UINT32_MAX) return NULL;
    *len = t->tok_len[id];
    return t->bytes.s + t->tok_off[id];
}

void tok_set_model_vocab(tok_tokenizer *t, int n) {
    t->model_vocab = n > t->info.vocab_size ? n : t->info.vocab_size;
}

int tok_is_special(const tok_tokenizer *t, int id) {
    return id >= 0 && id < t->info.vocab_size && t->special[id];
}

/* ---------------------------------------------------------------------------------------------- */
/* BPE on one piece                                                                               */
/* ---------------------------------------------------------------------------------------------- */

/* Heap order: lowest rank first, then leftmost (HF's Merge ordering). */
static int merge_less(const merge_ent *a, const merge_ent *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(merge_ent *h, size_t *n, merge_ent e) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static merge_ent heap_pop(merge_ent *h, size_t *n) {
    merge_ent top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && merge_less(&h[c + 1], &h[c])) c++;
        if (!merge_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static int ensure_sym(tok_tokenizer *t, size_t n) {
    if (n <= t->sym_cap) return 0;
    size_t cap = t->sym_cap ? t->sym_cap : 64;
    while (cap < n) cap *= 2;
    int *s = realloc(t->sym, cap * sizeof *s);
    if (s) t->sym = s;
    int *p = realloc(t->prev, cap * sizeof *p);
    if (p) t->prev = p;
    int *x = realloc(t->next, cap * sizeof *x);
    if (x) t->next = x;
    /* each merge adds at most two entries: 3n bounds the heap */
    merge_ent *h = realloc(t->heap, 3 * cap * sizeof *h);
    if (h) t->heap = h;
    if (!s || !p || !x || !h) return -1;
    t->sym_cap = cap;
    return 0;
}

/* Queues the merge of symbol i with its right neighbour, if the pair has a merge. */
static void queue_pair(tok_tokenizer *t, size_t *nh, int i) {
    int j = t->next[i];
    if (j < 0) return;
    const pair_ent *m = pairmap_get(&t->merges, t->sym[i], t->sym[j]);
    if (m) heap_push(t->heap, nh, (merge_ent){m->rank, i, m->id});
}

/* Appends the ids of one piece (raw bytes) to out: the whole piece when ignore_merges finds it in the
 * vocab, else the byte symbols merged by rank with a heap (O(n log n)). */
static int bpe_piece(tok_tokenizer *t, const unsigned char *p, size_t n, ivec_t *out) {
    if (t->ignore_merges) {
        sb_clear(&t->tmp);
        for (size_t i = 0; i < n; i++)
            if (sb_addn(&t->tmp, BL.s[p[i]], BL.n[p[i]])) return -1;
        int id = strmap_get(&t->vocab, t->tmp.s, t->tmp.len);
        if (id >= 0) return ivec_add(out, id);
    }
    if (ensure_sym(t, n)) return -1;
    int ns = 0;
    for (size_t i = 0; i < n; i++) {
        int id = t->byte_id[p[i]];
        if (id < 0) id = t->unk_id;
        if (id < 0) continue; /* HF drops characters it has no token for when there is no unk_token */
        t->sym[ns] = id;
        t->prev[ns] = ns - 1;
        t->next[ns] = ns + 1;
        ns++;
    }
    if (ns == 0) return 0;
    t->next[ns - 1] = -1;
    size_t nh = 0;
    for (int i = 0; i + 1 < ns; i++) queue_pair(t, &nh, i);
    while (nh) {
        merge_ent top = heap_pop(t->heap, &nh);
        int i = top.pos;
        if (t->sym[i] < 0 || t->next[i] < 0) continue; /* merged away, or no right neighbour any more */
        int j = t->next[i];
        const pair_ent *m = pairmap_get(&t->merges, t->sym[i], t->sym[j]);
        if (!m || m->id != top.id) continue; /* the pair changed since it was queued */
        t->sym[i] = top.id;
        t->sym[j] = -1;
        t->next[i] = t->next[j];
        if (t->next[j] >= 0) t->prev[t->next[j]] = i;
        if (t->prev[i] >= 0) queue_pair(t, &nh, t->prev[i]);
        queue_pair(t, &nh, i);
    }
    for (int i = 0; i >= 0; i = t->next[i])
        if (ivec_add(out, t->sym[i])) return -1;
    return 0;
}

/* bpe_piece through the cache of recent pieces. */
static int bpe_cached(tok_tokenizer *t, const char *p, size_t n, ivec_t *out) {
    if (n == 0) return 0;
    if (n > CACHE_MAX_PIECE) return bpe_piece(t, (const unsigned char *)p, n, out);
    int at = strmap_get(&t->cache, p, n);
    if (at >= 0) {
        int cnt = t->cache_ids.p[at];
        for (int k = 0; k < cnt; k++)
            if (ivec_add(out, t->cache_ids.p[at + 1 + k])) return -1;
        return 0;
    }
    size_t start = out->n;
    if (bpe_piece(t, (const unsigned char *)p, n, out)) return -1;
    if ((t->cache.count + 1) * 2 > t->cache.cap) { /* full: start over rather than grow */
        memset(t->cache.hash, 0, t->cache.cap * sizeof *t->cache.hash);
        t->cache.count = 0;
        sb_clear(&t->cache.keys);
        t->cache_ids.n = 0;
    }
    int pos = (int)t->cache_ids.n;
    if (ivec_add(&t->cache_ids, (int)(out->n - start))) return -1;
    for (size_t k = start; k < out->n; k++)
        if (ivec_add(&t->cache_ids, out->p[k])) return -1;
    return strmap_put(&t->cache, p, n, pos, NULL) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* pre-tokenization                                                                               */
/* ---------------------------------------------------------------------------------------------- */

static int push_piece(piece_t **v, size_t *n, size_t *cap, piece_t p) {
    if (p.len == 0) return 0; /* HF drops empty splits */
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        piece_t *x = realloc(*v, c * sizeof *x);
        if (!x) return -1;
        *v = x;
        *cap = c;
    }
    (*v)[(*n)++] = p;
    return 0;
}

static const char *piece_text(const tok_tokenizer *t, const char *seg, const piece_t *p) {
    return (p->arena ? t->prefixed.s : seg) + p->off;
}

/* Adds one split part (match or gap) to out following the step's behaviour (HF's
 * SplitDelimiterBehavior); acc/have/prev_match carry the piece being merged. */
static int split_part(const pre_step *st, piece_t p, int m, piece_t *acc, int *have, int *prev_match, piece_t **out,
                      size_t *n, size_t *cap) {
    int extend = 0;
    switch (st->behavior) {
    case SPLIT_ISOLATED: *prev_match = m; return push_piece(out, n, cap, p);
    case SPLIT_REMOVED: *prev_match = m; return m ? 0 : push_piece(out, n, cap, p);
    case SPLIT_MERGED_PREV: extend = m && !*prev_match; break;  /* a match joins what precedes it */
    case SPLIT_MERGED_NEXT: extend = *prev_match && !m; break;  /* a match joins what follows it */
    case SPLIT_CONTIGUOUS: extend = m == *prev_match; break;     /* runs of matches, runs of gaps */
    }
    *prev_match = m;
    if (extend && *have) {
        acc->len = p.off + p.len - acc->off;
        return 0;
    }
    if (*have && push_piece(out, n, cap, *acc)) return -1;
    *acc = p;
    *have = 1;
    return 0;
}

/* Splits one piece by a step's regex into out: the gaps between matches and the matches themselves,
 * with the invert flag swapping the two roles. Empty matches split too, as in HF. */
static int split_piece(tok_tokenizer *t, const pre_step *st, const char *seg, piece_t in, piece_t **out, size_t *n,
                       size_t *cap, grpo_err *err) {
    const char *s = piece_text(t, seg, &in);
    size_t len = in.len, gap = 0, from = 0;
    piece_t acc = {0, 0, in.arena};
    int have = 0, prev_match = 0;
    for (;;) {
        int found = 0;
        size_t ms = len, me = len;
        if (from <= len) {
            int rc = st->jit ? pcre2_jit_match(st->re, (PCRE2_SPTR)s, len, from, PCRE2_NO_UTF_CHECK, t->md, t->mctx)
                             : pcre2_match(st->re, (PCRE2_SPTR)s, len, from, PCRE2_NO_UTF_CHECK, t->md, t->mctx);
            if (rc >= 0) {
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
                ms = ov[0], me = ov[1], found = 1;
            } else if (rc != PCRE2_ERROR_NOMATCH)
                return FAIL(GRPO_EINVAL, "tok_encode: pre-tokenizer regex failed (PCRE2 error %d)", rc);
        }
        if (ms > gap && split_part(st, (piece_t){in.off + gap, ms - gap, in.arena}, st->invert, &acc, &have,
                                   &prev_match, out, n, cap))
            return -1;
        if (!found) break;
        if (split_part(st, (piece_t){in.off + ms, me - ms, in.arena}, !st->invert, &acc, &have, &prev_match, out, n,
                       cap))
            return -1;
        gap = from = me;
        if (me == ms) { /* empty match: search again one character further on */
            if (me >= len) break;
            int bad = 0, k = utf8_seq((const unsigned char *)s + me, len - me, &bad);
            from = me + (size_t)(k > 0 ? k : 1);
        }
    }
    if (have && push_piece(out, n, cap, acc)) return -1;
    return 0;
}

/* Runs the pre-tokenizer steps over seg (len bytes); leaves the pieces in t->pieces. */
static int pre_tokenize(tok_tokenizer *t, const char *seg, size_t len, size_t *npieces, grpo_err *err) {
    size_t n = 0;
    sb_clear(&t->prefixed);
    if (push_piece(&t->pieces, &n, &t->pieces_cap, (piece_t){0, len, 0})) return -1;
    for (int s = 0; s < t->n_steps; s++) {
        const pre_step *st = &t->steps[s];
        size_t n2 = 0;
        for (size_t i = 0; i < n; i++) {
            piece_t p = t->pieces[i];
            if (st->bytelevel && st->add_prefix_space && piece_text(t, seg, &p)[0] != ' ') {
                size_t off = t->prefixed.len;
                /* copy first: the piece may itself live in t->prefixed */
                sb_clear(&t->tmp);
                if (sb_addn(&t->tmp, piece_text(t, seg, &p), p.len) || sb_addn(&t->prefixed, " ", 1) ||
                    sb_addn(&t->prefixed, t->tmp.s, t->tmp.len))
                    return -1;
                p = (piece_t){off, p.len + 1, 1};
            }
            if (!st->re) {
                if (push_piece(&t->pieces2, &n2, &t->pieces2_cap, p)) return -1;
                continue;
            }
            int rc = split_piece(t, st, seg, p, &t->pieces2, &n2, &t->pieces2_cap, err);
            if (rc) return rc;
        }
        piece_t *sw = t->pieces;
        t->pieces = t->pieces2, t->pieces2 = sw;
        size_t c = t->pieces_cap;
        t->pieces_cap = t->pieces2_cap, t->pieces2_cap = c;
        n = n2;
    }
    *npieces = n;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* added tokens, normalization, and the encode pipeline                                           */
/* ---------------------------------------------------------------------------------------------- */

/* Decodes the code point ending just before s+i (i > 0). */
static int32_t cp_before(const char *s, size_t i) {
    size_t j = i - 1;
    while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
    utf8proc_int32_t cp = -1;
    utf8proc_iterate((const utf8proc_uint8_t *)s + j, (utf8proc_ssize_t)(i - j), &cp);
    return cp;
}

static int32_t cp_at(const char *s, size_t i, size_t n, int *k) {
    utf8proc_int32_t cp = -1;
    *k = (int)utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (*k <= 0) *k = 1;
    return cp;
}

/* Longest added token of the given kind (normalized or not) starting at s+i, or NULL. */
static const added_tok *added_at(const tok_tokenizer *t, int normalized, const char *s, size_t i, size_t n) {
    const added_tok *best = NULL;
    for (int k = 0; k < t->n_added; k++) {
        const added_tok *a = &t->added[k];
        if (a->normalized != normalized || a->len > n - i || (best && a->len <= best->len)) continue;
        if (!memcmp(a->content, s + i, a->len)) best = a;
    }
    return best;
}

typedef int (*segment_fn)(tok_tokenizer *t, const char *s, size_t n, int flags, ivec_t *out, grpo_err *err);

/* Splits s at added tokens of one kind (HF's AddedVocabulary::find_matches): each token's id goes to
 * out, and each text between tokens goes through next. */
static int split_added(tok_tokenizer *t, int normalized, const char *s, size_t n, int flags, ivec_t *out,
                       segment_fn next, grpo_err *err) {
    size_t start = 0, i = 0;
    const uint8_t *first = t->first_byte[normalized];
    while (i < n) {
        if (!first[(unsigned char)s[i]]) {
            i++;
            continue;
        }
        const added_tok *a = added_at(t, normalized, s, i, n);
        if (!a) {
            i++;
            continue;
        }
        size_t ms = i, me = i + a->len;
        int skip = a->special && !(flags & TOK_SPECIAL);
        if (!skip && a->single_word) {
            int k;
            int left_ok = ms == 0 || !is_alnum_cp(cp_before(s, ms));
            int right_ok = me == n || !is_alnum_cp(cp_at(s, me, n, &k));
            skip = !left_ok || !right_ok;
        }
        if (skip) { /* the automaton consumed it; the text stays ordinary */
            i = me;
            continue;
        }
        if (a->lstrip)
            while (ms > start && is_white_space(cp_before(s, ms))) {
                size_t j = ms - 1;
                while (j > start && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
                ms = j;
            }
        if (a->rstrip)
            while (me < n) {
                int k;
                if (!is_white_space(cp_at(s, me, n, &k))) break;
                me += (size_t)k;
            }
        if (ms > start) {
            int rc = next(t, s + start, ms - start, flags, out, err);
            if (rc) return rc;
        }
        if (ivec_add(out, a->id)) return FAIL(GRPO_ENOMEM, "tokenizer: out of memory");
        start = i = me;
    }
    if (n > start) return next(t, s + start, n - start, flags, out, err);
    return 0;
}

/* Pre-tokenizes and BPE-encodes a normalized segment. */
static int encode_segment(tok_tokenizer *t, const char *s, size_t n, int flags, ivec_t *out, grpo_err *err) {
    size_t np;
    int rc = pre_tokenize(t, s, n, &np, err);
    if (rc) return rc < 0 ? FAIL(GRPO_ENOMEM, "tokenizer: out of memory") : rc;
    for (size_t i = 0; i < np; i++)
        if (bpe_cached(t, piece_text(t, s, &t->pieces[i]), t->pieces[i].len, out))
            return FAIL(GRPO_ENOMEM, "tokenizer: out of memory");
    return 0;
}

static int encode_normalized(tok_tokenizer *t, const char *s, size_t n, int flags, ivec_t *out, grpo_err *err) {
    return split_added(t, 1, s, n, flags, out, encode_segment, err);
}

/* NFC when asked for (only text with a code point >= U+0300 can change), then normalized added tokens. */
static int normalize_segment(tok_tokenizer *t, const char *s, size_t n, int flags, ivec_t *out, grpo_err *err) {
    if (t->nfc) {
        int plain = 1;
        for (size_t i = 0; i < n && plain; i++) plain = (unsigned char)s[i] < 0xCC;
        if (!plain) {
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                              UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (k < 0) return FAIL(GRPO_EINVAL, "tokenizer: NFC failed: %s", utf8proc_errmsg(k));
            sb_clear(&t->norm);
            int rc = sb_addn(&t->norm, dst, (size_t)k);
            free(dst);
            if (rc) return FAIL(GRPO_ENOMEM, "tokenizer: out of memory");
            /* the segment text must outlive the pieces: keep it in a buffer split_added will not reuse */
            char *copy = malloc(t->norm.len + 1);
            if (!copy) return FAIL(GRPO_ENOMEM, "tokenizer: out of memory");
            memcpy(copy, t->norm.s, t->norm.len + 1);
            rc = encode_normalized(t, copy, t->norm.len, flags, out, err);
            free(copy);
            return rc;
        }
    }
    return encode_normalized(t, s, n, flags, out, err);
}

int tok_encode(tok_tokenizer *t, const char *text, size_t len, int flags, int **ids, size_t *n, grpo_err *err) {
    *ids = NULL;
    *n = 0;
    size_t bad = utf8_check(text, len);
    if (bad != len) return FAIL(GRPO_EINVAL, "tok_encode: text is not valid UTF-8 (byte %zu)", bad);
    ivec_t out = {0};
    int rc = split_added(t, 0, text, len, flags, &out, normalize_segment, err);
    if (rc) {
        free(out.p);
        return rc;
    }
    *ids = out.p;
    *n = out.n;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* decoding                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/* Appends the bytes of id to b (nothing for a skipped special token). */
static int append_id(const tok_tokenizer *t, strbuf *b, int id, int flags, size_t pos, grpo_err *err) {
    size_t len;
    const char *p = tok_token_bytes(t, id, &len);
    if (!p && id >= 0 && id < t->model_vocab) return 0; /* a padding row of the model's embedding: "" as in HF */
    if (!p) return FAIL(GRPO_EINVAL, "tok_decode: token id %d at position %zu is outside the vocabulary (size %d)", id,
                        pos, t->model_vocab ? t->model_vocab : t->info.vocab_size);
    if ((flags & TOK_SKIP_SPECIAL) && t->special[id]) return 0;
    if (sb_addn(b, p, len)) return FAIL(GRPO_ENOMEM, "tok_decode: out of memory");
    return 0;
}

int tok_decode(const tok_tokenizer *t, const int *ids, size_t n, int flags, char **text, size_t *len, grpo_err *err) {
    strbuf raw = {0}, out = {0};
    *text = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = append_id(t, &raw, ids[i], flags, i, err);
        if (rc) {
            sb_free(&raw);
            return rc;
        }
    }
    size_t held;
    if (utf8_lossy(&out, (const unsigned char *)raw.s, raw.len, 0, &held) || sb_addn(&out, "", 0)) {
        sb_free(&raw);
        sb_free(&out);
        return FAIL(GRPO_ENOMEM, "tok_decode: out of memory");
    }
    sb_free(&raw);
    *len = out.len;
    *text = sb_take(&out);
    return 0;
}

void tok_stream_init(tok_stream *s, const tok_tokenizer *t, int flags) {
    memset(s, 0, sizeof *s);
    s->tok = t;
    s->flags = flags;
}

static int stream_emit(tok_stream *s, const unsigned char *b, size_t n, int hold, const char **text, size_t *len,
                       grpo_err *err) {
    strbuf out = {.s = s->buf, .cap = s->cap}; /* the stream's buffer, reused from its start */
    size_t held;
    int rc = utf8_lossy(&out, b, n, hold, &held) || sb_addn(&out, "", 0);
    s->buf = out.s, s->cap = out.cap;
    if (rc) return FAIL(GRPO_ENOMEM, "tok_stream: out of memory");
    memcpy(s->held, b + n - held, held);
    s->n_held = (int)held;
    *text = s->buf;
    *len = out.len;
    return 0;
}

int tok_stream_push(tok_stream *s, int id, const char **text, size_t *len, grpo_err *err) {
    strbuf raw = {0};
    int rc = sb_addn(&raw, s->held, (size_t)s->n_held) ? FAIL(GRPO_ENOMEM, "tok_stream: out of memory")
                                                        : append_id(s->tok, &raw, id, s->flags, 0, err);
    if (!rc) rc = stream_emit(s, (const unsigned char *)raw.s, raw.len, 1, text, len, err);
    sb_free(&raw);
    return rc;
}

int tok_stream_finish(tok_stream *s, const char **text, size_t *len, grpo_err *err) {
    unsigned char b[4];
    size_t n = (size_t)s->n_held;
    memcpy(b, s->held, n);
    return stream_emit(s, b, n, 0, text, len, err);
}

void tok_stream_free(tok_stream *s) {
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}
