/* rewards/math_extract.c: finding the answer in a completion. In order: the last \boxed{} (with the boxes
 * joined to it by connectors such as ", ", "and", "\quad \text{and} \quad" forming one answer set), unless
 * a "final answer" cue comes after it; <answer> tags; GSM8K's "####"; answer cues ("final answer is",
 * "answer:", "Answer $x$", Minerva's "Final Answer: The final answer is $X$. I hope it is correct.");
 * a closing sentence ("The largest $n$ is 34."); then the fallback. Every scan is linear in the text or
 * bounded by a constant (boxes tried, spans kept, gap and sentence lengths), so a 100 kB completion costs
 * about as much as reading it. Nothing is evaluated. */
#define _GNU_SOURCE /* memrchr */
#include "math_extract.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    MAX_BOXES = 16,   /* boxes tried from the end of the text */
    MAX_SPANS = 32,   /* math spans kept (the last ones) */
    MAX_GAP = 64,     /* longest text between two parts of one answer set */
    MAX_SENTENCE = 400,
    MAX_GROUP = 2 * MATH_MAX_ANSWER, /* longest brace group read */
};

typedef struct { size_t s, e, os, oe; } span; /* content [s,e), with its delimiters [os,oe) */

static void put(char *out, size_t cap, const char *s, size_t n) {
    if (cap == 0) return;
    if (n >= cap) n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Finds the last occurrence of needle in [s, s+n); returns NULL if none. */
static const char *find_last(const char *s, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m > n) return NULL;
    for (size_t lim = n - m + 1; lim > 0;) {
        const char *f = memrchr(s, needle[0], lim);
        if (!f) return NULL;
        if (!strncmp(f, needle, m)) return f;
        lim = (size_t)(f - s);
    }
    return NULL;
}

/* The end (after '}') of the brace group starting at p ('{') within [p, lim), or NULL when unbalanced or
 * longer than MAX_GROUP. */
static const char *match_brace(const char *p, const char *lim) {
    int depth = 0;
    const char *stop = lim - p > MAX_GROUP ? p + MAX_GROUP : lim;
    for (; p < stop && *p; p++) {
        if (*p == '\\' && p + 1 < stop) {
            p++;
            continue;
        }
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) return p + 1;
    }
    return NULL;
}

/* 1 when needle occurs in [p, p+n), ignoring case. */
static int contains_ci(const char *p, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (!strncasecmp(p + i, needle, m)) return 1;
    return 0;
}

/* ---------------------------------------------------------------- boxes */

/* The complete boxes in [s, s+n), the last ones (at most cap), in text order; returns the count. */
static int find_boxes(const char *s, size_t n, span *out, int cap) {
    static const char *cmds[] = {"\\boxed", "\\fbox"};
    span rev[MAX_BOXES];
    int k = 0, tried = 0;
    size_t lim = n;
    while (k < cap && k < MAX_BOXES && tried < 4 * MAX_BOXES) {
        const char *best = NULL;
        size_t blen = 0;
        for (size_t i = lim; i > 0 && !best;) { /* one backward scan for either command */
            const char *bs = memrchr(s, '\\', i);
            if (!bs) break;
            i = (size_t)(bs - s);
            for (int c = 0; c < 2 && !best; c++)
                if (i + strlen(cmds[c]) <= n && !strncmp(s + i, cmds[c], strlen(cmds[c])))
                    best = s + i, blen = strlen(cmds[c]);
        }
        if (!best) break;
        tried++;
        lim = (size_t)(best - s);
        const char *p = best + blen;
        while (*p == ' ') p++;
        if (*p == '{') {
            const char *end = match_brace(p, s + n);
            if (end) rev[k++] = (span){(size_t)(p + 1 - s), (size_t)(end - 1 - s), lim, (size_t)(end - s)};
        } else if (*p && *p != '\\' && *p != '}' && !isalpha((unsigned char)best[blen])) { /* "\boxed 5" */
            const char *q = p;
            while (q < s + n && *q != '$' && *q != ' ' && *q != '\n') q++;
            if (q > p) rev[k++] = (span){(size_t)(p - s), (size_t)(q - s), lim, (size_t)(q - s)};
        }
    }
    for (int i = 0; i < k; i++) out[i] = rev[k - 1 - i];
    return k;
}

int math_extract_boxed(const char *s, size_t n, char *out, size_t cap) {
    span b[1];
    if (find_boxes(s, n, b, 1) < 1) return 0;
    put(out, cap, s + b[0].s, b[0].e - b[0].s);
    return 1;
}

/* ---------------------------------------------------------------- math spans */

/* The math spans ($...$, $$...$$, \(...\), \[...\]) of [t, t+n), the last MAX_SPANS in text order; inline
 * ones ($, \() end on their own line. Returns the count. */
static int find_spans(const char *t, size_t n, span *out) {
    span ring[MAX_SPANS];
    size_t k = 0; /* spans seen; the last MAX_SPANS are in ring[k % MAX_SPANS] */
    for (size_t i = 0; i < n;) {
        size_t open = 0, close_len = 0;
        const char *close = NULL;
        int inline_span = 0;
        if (t[i] == '\\' && i + 1 < n && t[i + 1] == '$') {
            i += 2;
            continue;
        }
        if (t[i] == '$' && i + 1 < n && t[i + 1] == '$') open = 2, close = "$$";
        else if (t[i] == '$') open = 1, close = "$", inline_span = 1;
        else if (t[i] == '\\' && i + 1 < n && t[i + 1] == '(') open = 2, close = "\\)", inline_span = 1;
        else if (t[i] == '\\' && i + 1 < n && t[i + 1] == '[') open = 2, close = "\\]";
        if (!open) {
            i++;
            continue;
        }
        close_len = strlen(close);
        size_t j = i + open, found = 0;
        for (; j + close_len <= n; j++) {
            if (inline_span && t[j] == '\n') break;
            if (t[j] == '\\' && close[0] == '$' && j + 1 < n && t[j + 1] == '$') {
                j++;
                continue;
            }
            if (!strncmp(t + j, close, close_len)) {
                found = 1;
                break;
            }
        }
        if (!found) {
            i += open;
            continue;
        }
        ring[k++ % MAX_SPANS] = (span){i + open, j, i, j + close_len};
        i = j + close_len;
    }
    size_t m = k < MAX_SPANS ? k : MAX_SPANS;
    for (size_t q = 0; q < m; q++) out[q] = ring[(k - m + q) % MAX_SPANS];
    return (int)m;
}

/* ---------------------------------------------------------------- answer sets */

/* 1 when [w, w+n) is one of the words in list (any case). */
static int word_in(const char *w, size_t n, const char *const *list) {
    for (; *list; list++)
        if (strlen(*list) == n && !strncasecmp(*list, w, n)) return 1;
    return 0;
}

/* After the letters g[i..j): the index after a label ("y =", "y_2 =", "x_{1} =") or a part label "(a)", or 0. */
static size_t after_label(const char *g, size_t i, size_t j, size_t n) {
    size_t k = j;
    if (k < n && g[k] == '_') {
        k++;
        if (k < n && g[k] == '{') {
            while (k < n && g[k] != '}') k++;
            k++;
        } else {
            while (k < n && isalnum((unsigned char)g[k])) k++;
        }
    }
    while (k < n && g[k] == ' ') k++;
    if (k < n && g[k] == '=') return k + 1;
    if (j - i == 1 && i > 0 && g[i - 1] == '(' && j < n && g[j] == ')') return j;
    return 0;
}

/* 1 when the text between two parts of an answer only joins them: spaces, punctuation, math delimiters,
 * spacing commands, \text{...}, joining words ("and", "or", "for part (a) and"), labels such as "y_2 =", and
 * at most two other words; no digits outside labels, no sentence break, no correction ("or rather"), at most
 * MAX_GAP bytes. */
static int is_connector(const char *g, size_t n) {
    static const char *const joiners[] = {"and", "or", "for", "part", "parts", "the", "also", "as", "well",
                                          "with", "both", "either", "respectively", NULL};
    static const char *const corrections[] = {"rather", "actually", "instead", "not", "but", "wait", "no", NULL};
    static const char *const spacing[] = {"quad", "qquad", "text", "textrm", "mathrm", NULL};
    if (n > MAX_GAP) return 0;
    int words = 0; /* words other than joiners */
    for (size_t i = 0; i < n;) {
        char c = g[i];
        if (isspace((unsigned char)c) || strchr(",;$&{}()*", c)) {
            i++;
        } else if (c == '.' && (i + 1 >= n || isspace((unsigned char)g[i + 1]))) {
            size_t j = i + 1;
            while (j < n && isspace((unsigned char)g[j])) j++;
            if (j < n && isupper((unsigned char)g[j])) return 0; /* a new sentence */
            i = j;
        } else if (c == '\\') {
            size_t j = i + 1;
            if (j < n && strchr("()[],;!: ", g[j])) { /* \( \] \, \; ... */
                i = j + 1;
                continue;
            }
            while (j < n && isalpha((unsigned char)g[j])) j++;
            if (!word_in(g + i + 1, j - i - 1, spacing)) return 0;
            i = j;
        } else if (isalpha((unsigned char)c)) {
            size_t j = i;
            while (j < n && isalpha((unsigned char)g[j])) j++;
            size_t l = after_label(g, i, j, n);
            if (l) {
                i = l;
                continue;
            }
            if (word_in(g + i, j - i, corrections)) return 0; /* "\boxed{1} or rather \boxed{2}" */
            if (!word_in(g + i, j - i, joiners) && ++words > 2) return 0;
            i = j;
        } else {
            return 0;
        }
    }
    return 1;
}

/* Writes the last item and the earlier ones joined to it by connectors, as "a, b, c" (an item repeated
 * verbatim is kept once); returns 1 when an item was written. */
static int join_set(const char *t, const span *it, int n, char *out, size_t cap) {
    if (n < 1) return 0;
    int first = n - 1;
    while (first > 0 && is_connector(t + it[first - 1].oe, it[first].os - it[first - 1].oe)) first--;
    size_t w = 0;
    for (int i = first; i < n; i++) {
        size_t len = it[i].e - it[i].s;
        int dup = 0;
        for (int j = first; j < i && !dup; j++)
            dup = it[j].e - it[j].s == len && !memcmp(t + it[j].s, t + it[i].s, len);
        if (dup) continue;
        if (w && w + 2 < cap) out[w++] = ',', out[w++] = ' ';
        if (w + len >= cap) len = cap > w + 1 ? cap - w - 1 : 0;
        memcpy(out + w, t + it[i].s, len);
        w += len;
    }
    if (cap) out[w < cap ? w : cap - 1] = '\0';
    return 1;
}

/* ---------------------------------------------------------------- phrases and sentences */

/* The first number token in [p, p+n) (sign, digits, separators, decimals); 1 if found. */
static int first_number(const char *p, size_t n, char *out, size_t cap) {
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) continue;
        if (i > 0 && (isalpha((unsigned char)p[i - 1]) || p[i - 1] == '_')) { /* x2, a_1 */
            while (i < n && isalnum((unsigned char)p[i])) i++;
            continue;
        }
        size_t st = i > 0 && p[i - 1] == '-' ? i - 1 : i, j = i;
        while (j < n && (isdigit((unsigned char)p[j]) ||
                         (strchr(",.", p[j]) && j + 1 < n && isdigit((unsigned char)p[j + 1])) ||
                         (p[j] == '/' && j + 1 < n && isdigit((unsigned char)p[j + 1]))))
            j++;
        if (j < n && p[j] == '%') j++;
        put(out, cap, p + st, j - st);
        return 1;
    }
    return 0;
}

/* Count of words of three or more letters in [p, p+n) outside math spans and \commands. */
static int prose_words(const char *p, size_t n) {
    int words = 0, in_math = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] == '$') in_math = !in_math;
        if (p[i] == '\\') {
            size_t c0 = ++i;
            while (i < n && isalpha((unsigned char)p[i])) i++;
            if (((i - c0 == 5 && !strncmp(p + c0, "begin", 5)) || (i - c0 == 3 && !strncmp(p + c0, "end", 3))) &&
                i < n && p[i] == '{') /* \begin{pmatrix}: no word */
                while (i < n && p[i] != '}') i++;
            continue;
        }
        if (isalpha((unsigned char)p[i])) {
            size_t j = i;
            while (j < n && isalpha((unsigned char)p[j])) j++;
            if (!in_math && j - i >= 3) words++;
            i = j;
        } else {
            i++;
        }
    }
    return words;
}

/* The position after the last copula (" is ", " are ", " equals ", " was ", " be ", " = ") of [p, p+n)
 * outside math spans, or 0 when there is none. */
static size_t after_copula(const char *p, size_t n) {
    static const char *cop[] = {" is ", " are ", " equals ", " was ", " be ", " is: ", " are: ", " = "};
    size_t best = 0, best_eq = 0; /* a word copula wins over " = " ("is x_1 = 5, x_2 = 12") */
    int in_math = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '$' && (i == 0 || p[i - 1] != '\\')) in_math = !in_math;
        if (in_math) continue;
        for (size_t k = 0; k < sizeof cop / sizeof cop[0]; k++) {
            size_t m = strlen(cop[k]);
            if (i + m <= n && !strncasecmp(p + i, cop[k], m)) {
                if (cop[k][1] == '=') best_eq = i + m;
                else best = i + m;
            }
        }
    }
    return best ? best : best_eq;
}

/* The answer in one phrase or sentence [p, p+n): after its last copula when that part holds math, the
 * first math span there (several joined as a set), else the number there, else a short plain answer
 * ("is (D)") when allow_plain; without a copula, the math spans of the phrase (as a set), else its first
 * number when it is prose, else the whole cleaned phrase when allow_plain is 1 (2: only after a copula). */
static int answer_in_phrase(const char *p, size_t n, int allow_plain, char *out, size_t cap) {
    if (n > MAX_SENTENCE) n = MAX_SENTENCE;
    while (n && (isspace((unsigned char)*p) || *p == ':' || *p == '*')) p++, n--;
    while (n && (isspace((unsigned char)p[n - 1]) || strchr(".*,;", p[n - 1]))) n--;
    if (!n) return 0;
    span sp[MAX_SPANS];
    size_t cut = prose_words(p, n) ? after_copula(p, n) : 0; /* "x_1 = 6, x_2 = -11" is no sentence */
    if (cut) {
        int k = find_spans(p + cut, n - cut, sp);
        if (k > 0) return join_set(p + cut, sp, k, out, cap);
        if (first_number(p + cut, n - cut, out, cap)) {
            /* "is 5 cm", "is 12 distinct sequences": the number; "is 2x+1": the rest as written */
            if (prose_words(p + cut, n - cut) == 0) put(out, cap, p + cut, n - cut);
            return 1;
        }
        int one_word = prose_words(p + cut, n - cut) == 1 && !memchr(p + cut, ' ', n - cut); /* "is even" */
        if ((prose_words(p + cut, n - cut) == 0 || one_word) && allow_plain && n - cut <= 32) {
            put(out, cap, p + cut, n - cut);
            return out[0] != '\0';
        }
        n = cut; /* "$x \geq 5$ is the solution": the math before it */
    }
    int k = find_spans(p, n, sp);
    if (k > 0) return join_set(p, sp, k, out, cap);
    if (prose_words(p, n) >= 2) return first_number(p, n, out, cap);
    if (allow_plain != 1) return 0;
    put(out, cap, p, n);
    return 1;
}

/* The end of the sentence starting at p (a period outside math followed by a space, a newline, or lim). */
static const char *sentence_end(const char *p, const char *lim) {
    int in_math = 0;
    for (const char *q = p; q < lim; q++) {
        if (*q == '$' && (q == p || q[-1] != '\\')) {
            if (q + 1 < lim && q[1] == '$') q++;
            in_math = !in_math;
        }
        if (*q == '\n') return q;
        if (!in_math && (*q == '.' || *q == '!' || *q == '?') && (q + 1 == lim || isspace((unsigned char)q[1])))
            return q;
    }
    return lim;
}

/* Answer cues, strongest first, each with the offset of its word "answer"; a cue is matched
 * case-insensitively at its last occurrence among the last MAX_CUE_WORDS words "answer" of the text. */
static const struct { const char *s; size_t at; } CUES[] = {
    {"final answer is", 6}, {"final answer:", 6}, {"final answer", 6}, {"the answer is", 4},
    {"answer is", 0},       {"answer:", 0},       {"answer", 0}};
enum { N_CUES = sizeof CUES / sizeof CUES[0], N_STRONG_CUES = 3, MAX_CUE_WORDS = 64 };

/* The positions of the last MAX_CUE_WORDS occurrences of "answer" (any case) in [t, t+n), last first. */
static int answer_words(const char *t, size_t n, size_t *pos) {
    int k = 0;
    for (size_t i = n; i-- > 0 && k < MAX_CUE_WORDS;)
        if ((t[i] == 'a' || t[i] == 'A') && i + 6 <= n && !strncasecmp(t + i, "answer", 6)) pos[k++] = i;
    return k;
}

/* The last occurrence of cue c, from the positions of "answer"; NULL if none. */
static const char *find_cue(const char *t, size_t n, int c, const size_t *pos, int k) {
    size_t m = strlen(CUES[c].s);
    for (int q = 0; q < k; q++)
        if (pos[q] >= CUES[c].at && pos[q] - CUES[c].at + m <= n &&
            !strncasecmp(t + pos[q] - CUES[c].at, CUES[c].s, m))
            return t + pos[q] - CUES[c].at;
    return NULL;
}

/* The answer after the last occurrence of a cue (the first cue of CUES[from..to) found); 1 if found.
 * *at gets the cue's position. */
/* The end of a cued answer before an aside: "is 12 (since 5+7 = 12)", "is east, as checked". */
static const char *trim_aside(const char *p, const char *e) {
    static const char *asides[] = {" (", " because", " since", " which", " as "};
    for (size_t k = 0; k < sizeof asides / sizeof asides[0]; k++) {
        const char *f = memmem(p, (size_t)(e - p), asides[k], strlen(asides[k]));
        while (f && k == 0) { /* " (as checked": a word of two or more letters, then a space; not "(x, y)" */
            const char *w = f + 2;
            while (w < e && isalpha((unsigned char)*w)) w++;
            if (w - (f + 2) >= 2 && w < e && *w == ' ') break;
            f = memmem(f + 2, (size_t)(e - f - 2), " (", 2);
        }
        if (f && f > p) e = f;
    }
    return e;
}

/* The math span(s) starting right at p (display spans may cross lines; spans joined to it by connectors
 * in the same sentence form a set); 1 when p starts a span. */
static int spans_at(const char *p, const char *lim, char *out, size_t cap) {
    span sp[MAX_SPANS];
    if (p >= lim || (*p != '$' && *p != '\\') || find_spans(p, (size_t)(lim - p), sp) < 1 || sp[0].os != 0)
        return 0;
    const char *e = sentence_end(p + sp[0].oe, lim);
    int k = find_spans(p, (size_t)(e - p), sp), m = 1;
    while (m < k && is_connector(p + sp[m - 1].oe, sp[m].os - sp[m - 1].oe)) m++;
    join_set(p, sp, m, out, cap);
    return 1;
}

static int extract_cue(const char *t, size_t n, int from, int to, char *out, size_t cap, size_t *at) {
    size_t pos[MAX_CUE_WORDS];
    int k_words = answer_words(t, n, pos);
    for (int c = from; c < to; c++) {
        const char *f = find_cue(t, n, c, pos, k_words);
        if (!f) continue;
        const char *p = f + strlen(CUES[c].s), *lim = t + n;
        if (f > t && isalpha((unsigned char)f[-1])) continue; /* "manswer" */
        if (isalpha((unsigned char)*p)) continue;             /* "answered" */
        while (p < lim && (*p == ' ' || *p == ':' || *p == '*' || *p == '\t')) p++;
        if (p < lim && *p == '\n') { /* "**Final Answer**\n\n$5$": the next non-empty line */
            while (p < lim && isspace((unsigned char)*p)) p++;
        }
        if (c == N_CUES - 1 && !(p < lim && (strchr("$-", *p) || isdigit((unsigned char)*p) ||
                                           (*p == '\\' && p + 1 < lim && strchr("([", p[1])))))
            continue; /* the bare word "answer" only before math */
        if (at) *at = (size_t)(f - t);
        if (spans_at(p, lim, out, cap)) return out[0] != '\0';
        const char *e = sentence_end(p, lim);
        if (e - p > MAX_SENTENCE) e = p + MAX_SENTENCE;
        if (answer_in_phrase(p, (size_t)(trim_aside(p, e) - p), 1, out, cap)) return 1;
    }
    return 0;
}

/* The answer in the closing sentence: the last sentence that is not boilerplate ("I hope it is correct"),
 * when the text ends a sentence; 1 if found. */
static int extract_closing(const char *t, size_t n, char *out, size_t cap) {
    size_t e = n;
    while (e && isspace((unsigned char)t[e - 1])) e--;
    if (!e || !strchr(".!$])", t[e - 1])) return 0; /* a truncated text ends no sentence */
    for (int tries = 0; tries < 3 && e; tries++) {
        size_t end = e;
        while (end && strchr(".!", t[end - 1])) end--;
        size_t s = end, lo = end > MAX_SENTENCE ? end - MAX_SENTENCE : 0;
        int in_math = 0;
        while (s > lo) {
            char c = t[s - 1];
            /* a display span that closes before the sentence ends it ("...$$ Therefore ...") */
            if (!in_math && s >= 2 && s < end && isspace((unsigned char)t[s]) &&
                ((c == '$' && t[s - 2] == '$') || (c == ']' && t[s - 2] == '\\')))
                break;
            if (c == '$' && s >= 2 && t[s - 2] == '$') s--; /* "$$" opens or closes once */
            if (c == '$' && (s < 2 || t[s - 2] != '\\')) in_math = !in_math;
            if (!in_math && (c == '\n' || ((c == '.' || c == '!' || c == '?') && s < n && isspace((unsigned char)t[s]))))
                break;
            s--;
        }
        const char *p = t + s;
        size_t len = end - s;
        if (!contains_ci(p, len, "hope it is correct") && !contains_ci(p, len, "hope this helps")) {
            if (prose_words(p, len) == 0) return 0; /* a bare formula line is no sentence */
            if (answer_in_phrase(p, len, 2, out, cap)) return 1;
            int words_only = 1; /* "This is the final answer.": the sentence before */
            for (size_t q = 0; q < len && words_only; q++) words_only = !isdigit((unsigned char)p[q]) && p[q] != '$';
            if (!words_only) return 0;
        }
        e = s; /* boilerplate: the sentence before */
        while (e && (isspace((unsigned char)t[e - 1]) || t[e - 1] == '.')) e--;
        if (e) e++; /* keep its period */
    }
    return 0;
}

/* ---------------------------------------------------------------- fallbacks */

/* The last number in s (with sign, decimals and thousands commas). */
static int extract_last_number(const char *s, size_t n, char *out, size_t cap, size_t *at) {
    const char *best = NULL;
    size_t blen = 0;
    for (size_t i = 0; i < n;) {
        if (isdigit((unsigned char)s[i]) || (s[i] == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            size_t j = i;
            while (j < n && (isdigit((unsigned char)s[j]) ||
                             ((s[j] == ',' || s[j] == '.') && j + 1 < n && isdigit((unsigned char)s[j + 1]))))
                j++;
            size_t st = (i > 0 && s[i - 1] == '-') ? i - 1 : i;
            if (j < n && s[j] == '%') j++;
            if (!(i > 0 && (isalpha((unsigned char)s[i - 1]) || s[i - 1] == '_'))) best = s + st, blen = j - st;
            i = j;
        } else {
            i++;
        }
    }
    if (!best) return 0;
    put(out, cap, best, blen);
    if (at) *at = (size_t)(best - s);
    return 1;
}

/* A whole text given as the answer: when it is prose (words outside math and \text), the later of its last
 * math spans (as a set) and its last number; otherwise the text itself. */
static int extract_whole(const char *t, size_t n, char *out, size_t cap) {
    char *plain = malloc(n + 1);
    if (!plain) return 0;
    /* words inside \text{...}, \mathrm{...} are units or labels, not prose */
    size_t w = 0, budget = 1 << 16; /* bytes that brace matching may read here, in all */
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\\' && budget > 256 && (!strncmp(t + i + 1, "text", 4) || !strncmp(t + i + 1, "mathrm", 6))) {
            const char *b = memchr(t + i, '{', n - i < 16 ? n - i : 16);
            const char *lim = b && n - (size_t)(b - t) > 256 ? b + 256 : t + n; /* units and labels are short */
            const char *e = b ? match_brace(b, lim) : NULL;
            if (b) budget -= (size_t)((e ? e : lim) - b);
            if (e) {
                i = (size_t)(e - t) - 1;
                plain[w++] = ' ';
                continue;
            }
        }
        plain[w++] = t[i];
    }
    plain[w] = '\0';
    int prose = prose_words(plain, w) >= 1;
    free(plain);
    if (prose) {
        span sp[MAX_SPANS];
        int k = find_spans(t, n, sp);
        size_t at_num = 0;
        char *num = malloc(64);
        int has_num = num && extract_last_number(t, n, num, 64, &at_num);
        if (has_num && k > 0 && at_num < sp[k - 1].oe) has_num = 0;
        if (has_num) put(out, cap, num, strlen(num));
        free(num);
        if (has_num) return 1;
        if (k > 0) return join_set(t, sp, k, out, cap);
    }
    put(out, cap, t, n);
    return n > 0;
}

/* ---------------------------------------------------------------- the order */

/* The length of text before a chat-turn marker that a completion ran on into ("<|im_start|>user ..."). */
static size_t turn_end(const char *text) {
    static const char *marks[] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>"};
    size_t n = strlen(text);
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        const char *f = strstr(text, marks[k]);
        if (f && (size_t)(f - text) < n && f > text) n = (size_t)(f - text);
    }
    return n;
}

/* The content of the last <answer>...</answer> (a box inside it wins); 1 if found. */
static int extract_tag(const char *text, size_t n, char *out, size_t cap) {
    const char *a = find_last(text, n, "<answer>");
    if (!a) return 0;
    const char *p = a + 8, *e = strstr(p, "</answer>");
    size_t len = e && e < text + n ? (size_t)(e - p) : n - (size_t)(p - text);
    if (math_extract_boxed(p, len, out, cap)) return 1;
    while (len && isspace((unsigned char)*p)) p++, len--;
    while (len && isspace((unsigned char)p[len - 1])) len--;
    put(out, cap, p, len);
    return out[0] != '\0';
}

/* The text after the last "####" up to the end of its line. */
static int extract_hashes(const char *text, size_t n, char *out, size_t cap) {
    const char *f = find_last(text, n, "####");
    if (!f) return 0;
    const char *p = f + 4, *e = memchr(p, '\n', n - (size_t)(p - text));
    size_t len = e ? (size_t)(e - p) : n - (size_t)(p - text);
    if (math_extract_boxed(p, len, out, cap)) return 1;
    return answer_in_phrase(p, len, 1, out, cap);
}

int math_extract(const char *text, math_fallback fb, char *out, size_t cap) {
    if (!cap) return 0; /* no room even for "" */
    out[0] = '\0';
    if (!text) return 0;
    size_t n = turn_end(text);
    span bx[MAX_BOXES];
    int nb = find_boxes(text, n, bx, MAX_BOXES);
    if (nb > 0) {
        size_t at = 0;
        char *tmp = malloc(cap);
        /* a "final answer" cue after the last box overrides it */
        if (tmp && extract_cue(text, n, 0, N_STRONG_CUES, tmp, cap, &at) && at > bx[nb - 1].oe) {
            put(out, cap, tmp, strlen(tmp));
            free(tmp);
            return 1;
        }
        free(tmp);
        return join_set(text, bx, nb, out, cap);
    }
    if (extract_tag(text, n, out, cap)) return 1;
    if (extract_hashes(text, n, out, cap)) return 1;
    if (extract_cue(text, n, 0, N_CUES, out, cap, NULL)) return 1;
    if (extract_closing(text, n, out, cap)) return 1;
    if (cap) out[0] = '\0';
    if (fb == MATH_FALLBACK_LAST_NUMBER) return extract_last_number(text, n, out, cap, NULL);
    if (fb == MATH_FALLBACK_WHOLE) return extract_whole(text, n, out, cap);
    return 0;
}
