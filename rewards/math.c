/* rewards/math.c: finding the answer in a completion, normalizing its LaTeX, and the top-level equality
 * decision (choice letters, text, then the parsed comparison in math_expr.c). */
#define _GNU_SOURCE /* strcasestr, memmem */
#include "math.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "math_expr.h"
#include "math_extract.h"

void math_opts_default(math_opts *o) {
    o->fallback = MATH_FALLBACK_NONE;
    o->rel_tol = 1e-6;
    o->n_points = 6;
}

int math_fallback_parse(const char *s, math_fallback *out, grpo_err *err) {
    static const char *names[] = {"none", "last_number", "whole"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (math_fallback)i;
            return GRPO_OK;
        }
    return grpo_errf(err, GRPO_EINVAL, "unknown fallback '%s' (expected none, last_number or whole)", s ? s : "");
}

static void put(char *out, size_t cap, const char *s, size_t n) {
    if (cap == 0) return;
    if (n >= cap) n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* The brace-balanced group starting at p ('{'); returns its end (after '}') or NULL if unbalanced. */
static const char *match_brace(const char *p) {
    int depth = 0;
    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '{') depth++;
        else if (*p == '}' && --depth == 0) return p + 1;
    }
    return NULL;
}

/* ---------------------------------------------------------------- normalization */

typedef struct { char *s; size_t n, cap; } sbuf;

static void sb_init(sbuf *b, size_t cap) {
    b->s = malloc(cap + 1);
    b->n = 0;
    b->cap = b->s ? cap : 0;
    if (b->s) b->s[0] = '\0';
}

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n > b->cap) n = b->cap - b->n;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

/* Replaces every occurrence of from (a command is matched only when not followed by a letter) by to. */
static void replace_all(sbuf *b, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    int is_cmd = from[0] == '\\' && isalpha((unsigned char)from[fl - 1]);
    if (!strstr(b->s, from)) return;
    sbuf o;
    sb_init(&o, b->cap);
    if (!o.s) return;
    for (size_t i = 0; i < b->n;) {
        if (b->s[i] == '\\' && b->s[i + 1] == '\\' && strcmp(from, "\\\\")) { /* a row break stays whole */
            sb_add(&o, b->s + i, 2);
            i += 2;
        } else if (!strncmp(b->s + i, from, fl) && !(is_cmd && isalpha((unsigned char)b->s[i + fl]))) {
            sb_add(&o, to, tl);
            i += fl;
        } else {
            sb_add(&o, b->s + i, 1);
            i++;
        }
    }
    free(b->s);
    *b = o;
}

/* \cmd{content} -> " content " (for \text, \mathrm, ...); an unbalanced group is left alone. */
static void unwrap_cmd(sbuf *b, const char *cmd) {
    size_t cl = strlen(cmd);
    for (int guard = 0; guard < 256; guard++) {
        char *f = strstr(b->s, cmd);
        while (f && f[cl] != '{' && !(f[cl] == ' ' && f[cl + 1] == '{')) f = strstr(f + 1, cmd);
        if (!f) return;
        char *open = f + cl;
        while (*open == ' ') open++;
        const char *end = match_brace(open);
        if (!end) return;
        size_t pre = (size_t)(f - b->s), inner = (size_t)(end - open - 2);
        sbuf o;
        sb_init(&o, b->cap);
        if (!o.s) return;
        sb_add(&o, b->s, pre);
        sb_add(&o, " ", 1);
        sb_add(&o, open + 1, inner);
        sb_add(&o, " ", 1);
        sb_add(&o, end, strlen(end));
        free(b->s);
        *b = o;
    }
}

static const char *UNIT_WORDS[] = {
    "percent", "percentage", "pct", "degrees", "degree", "dollars", "dollar", "cents", "cent", "units",
    "unit", "sq", "square", "cubic", "cm", "mm", "km", "meters", "meter", "metres", "inches", "inch", "feet",
    "foot", "ft", "miles", "mile", "mph", "hours", "hour", "hrs", "minutes", "minute", "mins", "seconds",
    "second", "days", "day", "weeks", "years", "year", "kg", "grams", "gram", "pounds", "lbs", "ounces",
    "oz", "liters", "litres", "ml", "gallons", "cups", "people", "students", "apples", "marbles", "cookies",
    "points", "ways", "times", "m", "g", "s", "l"};

static int is_unit_word(const char *w, size_t n) {
    for (size_t k = 0; k < sizeof UNIT_WORDS / sizeof UNIT_WORDS[0]; k++)
        if (strlen(UNIT_WORDS[k]) == n && !strncasecmp(UNIT_WORDS[k], w, n)) return 1;
    return 0;
}

/* Drops trailing unit words ("10 inches", "5 sq units", "3 m^2") after something that ends a value. */
static void strip_trailing_units(sbuf *b) {
    for (int guard = 0; guard < 8; guard++) {
        size_t n = b->n;
        while (n && b->s[n - 1] == ' ') n--;
        size_t e = n;
        if (e >= 2 && b->s[e - 2] == '^' && (b->s[e - 1] == '2' || b->s[e - 1] == '3')) e -= 2;
        while (e && b->s[e - 1] == ' ') e--;
        size_t st = e;
        while (st && isalpha((unsigned char)b->s[st - 1])) st--;
        if (st == e || st == 0) return;
        if (!is_unit_word(b->s + st, e - st)) return;
        size_t k = st;
        while (k && b->s[k - 1] == ' ') k--;
        if (k == 0) return;
        char c = b->s[k - 1];
        /* a one-letter unit must be separated or follow a digit; words need a value before them */
        if (!(isdigit((unsigned char)c) || c == '}' || c == ')' || (isalpha((unsigned char)c) && k < st)))
            return;
        if (e - st == 1 && !isdigit((unsigned char)c)) return;
        b->n = k;
        b->s[k] = '\0';
    }
}

/* 1,234,567 -> 1234567 and 1 000 -> 1000 (groups of exactly three digits after the first). */
static void strip_thousands(sbuf *b, char sep) {
    if (strpbrk(b->s, "([{")) return;
    sbuf o;
    sb_init(&o, b->cap);
    if (!o.s) return;
    const char *s = b->s;
    size_t n = b->n;
    for (size_t i = 0; i < n;) {
        int starts = isdigit((unsigned char)s[i]) && (i == 0 || !(isdigit((unsigned char)s[i - 1]) || s[i - 1] == '.'));
        if (starts) {
            size_t j = i;
            while (j < n && isdigit((unsigned char)s[j])) j++;
            size_t lead = j - i, k = j;
            int groups = 0;
            while (lead <= 3 && k + 3 < n + 1 && s[k] == sep && isdigit((unsigned char)s[k + 1]) &&
                   isdigit((unsigned char)s[k + 2]) && isdigit((unsigned char)s[k + 3]) &&
                   (k + 4 >= n || !isdigit((unsigned char)s[k + 4])))
                k += 4, groups++;
            if (groups) {
                for (size_t t = i; t < k; t++)
                    if (s[t] != sep) sb_add(&o, s + t, 1);
                i = k;
                continue;
            }
            sb_add(&o, s + i, j - i);
            i = j;
            continue;
        }
        sb_add(&o, s + i, 1);
        i++;
    }
    free(b->s);
    *b = o;
}

/* "\\frac" written with a doubled backslash (escaped twice on the way) is "\frac": a doubled backslash
 * before a letter becomes one, unless the answer has environments, where "\\" breaks rows. */
static void undouble_backslashes(sbuf *b) {
    for (char *q = strstr(b->s, "\\quad"); q; q = strstr(q, "\\quad")) /* "\quadx_2": a space */
        memset(q, ' ', 5);
    for (char *q = strstr(b->s, "\\qq"); q; q = strstr(q + 1, "\\qq"))
        if (!strncmp(q, "\\qquad", 6)) memset(q, ' ', 6);
    if (strstr(b->s, "\\begin")) return;
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->s[i] == '\\' && b->s[i + 1] == '\\' && isalpha((unsigned char)b->s[i + 2])) continue;
        b->s[w++] = b->s[i];
    }
    b->n = w;
    b->s[w] = '\0';
}

/* \begin{array}{cc} ... \end{array} -> \begin{matrix} ... (the column spec dropped). */
static void array_to_matrix(sbuf *b) {
    for (int guard = 0; guard < 16; guard++) {
        char *f = strstr(b->s, "\\begin{array}");
        if (!f) return;
        char *spec = f + 13;
        while (*spec == ' ') spec++;
        const char *end = *spec == '{' ? match_brace(spec) : spec;
        if (!end) return;
        size_t pre = (size_t)(f - b->s);
        sbuf o;
        sb_init(&o, b->cap);
        if (!o.s) return;
        sb_add(&o, b->s, pre);
        sb_add(&o, "\\begin{matrix}", 14);
        sb_add(&o, end, strlen(end));
        free(b->s);
        *b = o;
    }
}

/* The words "and" and "or" between answers ("1 and 2", "(11,7)or(7,11)", "6 \text{ and } 8") become
 * commas; in text answers (several words) they stay. */
static void join_words(sbuf *b) {
    int words = 0;
    for (size_t i = 0; i < b->n; i++)
        if (isalpha((unsigned char)b->s[i]) && (i == 0 || !isalpha((unsigned char)b->s[i - 1])) &&
            (i == 0 || b->s[i - 1] != '\\')) {
            size_t j = i;
            while (isalpha((unsigned char)b->s[j])) j++;
            if (j - i >= 3 && !(j - i == 3 && !strncmp(b->s + i, "and", 3))) words++;
        }
    if (words) return;
    size_t w = 0;
    for (size_t i = 0; i < b->n;) {
        int at_word = i == 0 || (!isalpha((unsigned char)b->s[i - 1]) && b->s[i - 1] != '\\');
        size_t m = !strncmp(b->s + i, "and", 3) ? 3 : !strncmp(b->s + i, "or", 2) ? 2 : 0;
        if (m && at_word && !isalpha((unsigned char)b->s[i + m])) {
            b->s[w++] = ',';
            i += m;
            continue;
        }
        b->s[w++] = b->s[i++];
    }
    b->n = w;
    b->s[w] = '\0';
    /* ", ," and leading/trailing commas left by the join */
    w = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->s[i] == ',') {
            size_t k = w;
            while (k && b->s[k - 1] == ' ') k--;
            if (k == 0 || b->s[k - 1] == ',') {
                w = k;
                continue;
            }
        }
        b->s[w++] = b->s[i];
    }
    while (w && (b->s[w - 1] == ' ' || b->s[w - 1] == ',')) w--;
    b->n = w;
    b->s[w] = '\0';
}

/* A lone number with one comma that cannot be a thousands separator ("1000,99", "0,111", "2,74") has a
 * decimal comma. */
static int decimal_comma_at(const char *s, int ambiguous_too);

static void decimal_comma(sbuf *b) {
    int at = decimal_comma_at(b->s, 0);
    if (at >= 0) b->s[at] = '.';
}

/* The position of the decimal comma of a lone number ("v = " before it allowed), or -1. Unambiguous: more
 * than three leading digits, a leading 0, or more than three digits after it ("1000,99", "0,111"); with
 * ambiguous_too also one or two digits after it ("2,74", which could be the list 2, 74). */
static int decimal_comma_at(const char *s, int ambiguous_too) {
    const char *eq = strchr(s, '=');
    size_t i = 0, lead = 0, frac = 0;
    if (eq && !strchr(eq + 1, '=')) { /* "v = 9442,55": its value */
        i = (size_t)(eq + 1 - s);
        while (s[i] == ' ') i++;
    }
    if (s[i] == '-') i++;
    while (isdigit((unsigned char)s[i + lead])) lead++;
    if (!lead || s[i + lead] != ',') return -1;
    while (isdigit((unsigned char)s[i + lead + 1 + frac])) frac++;
    if (!frac || s[i + lead + 1 + frac]) return -1;
    if (lead > 3 || (lead == 1 && s[i] == '0') || frac > 3 || (ambiguous_too && frac < 3)) return (int)(i + lead);
    return -1;
}

/* "(0;0;0),(0;-2;0)" and "-12;-11;-10" use ';' as a comma; "p=5,q=2;p=7,q=2" groups: (p=5,q=2),(p=7,q=2). */
static void group_semicolons(sbuf *b) {
    if (!strchr(b->s, ';')) return;
    int bracketed = strpbrk(b->s, "([{") != NULL, grouped = !bracketed && strchr(b->s, ',');
    sbuf o;
    sb_init(&o, b->cap);
    if (!o.s) return;
    if (grouped) sb_add(&o, "(", 1);
    for (size_t i = 0; i < b->n; i++) {
        if (b->s[i] != ';') sb_add(&o, b->s + i, 1);
        else if (grouped) sb_add(&o, "),(", 3);
        else sb_add(&o, ",", 1);
    }
    if (grouped) sb_add(&o, ")", 1);
    free(b->s);
    *b = o;
}

/* In each comma-separated item: "x = 5+5+1 = 11" keeps its last side (11); "x = 1/3 \approx 0.33" and
 * "\frac{1}{6} \approx 0.17" drop the approximation; "x \approx 11" reads as "x = 11". */
/* Counts the top-level '=' of [it, it+len) (not in "<=", ">=", "!="); *last gets the last one's offset. */
static size_t top_equals(const char *it, size_t len, size_t *last) {
    size_t eqs = 0;
    int d = 0;
    for (size_t k = 0; k < len; k++) {
        char ch = it[k];
        if (ch == '(' || ch == '[' || ch == '{') d++;
        if ((ch == ')' || ch == ']' || ch == '}') && d > 0) d--;
        if (d == 0 && ch == '=' && !(k && strchr("<>!", it[k - 1]))) eqs++, *last = k;
    }
    return eqs;
}

/* Appends one item [it, it+len) to o with its chain cut (see cut_chains). */
static void cut_item(sbuf *o, const char *it, size_t len) {
    size_t last_eq = 0, eqs = top_equals(it, len, &last_eq), approx = len;
    const char *f = memmem(it, len, "\\approx", 7);
    if (f) approx = (size_t)(f - it);
    if (approx < len && eqs > 0 && last_eq < approx) { /* "= 1/3 \approx 0.33": up to the approximation */
        len = approx;
        eqs = top_equals(it, len, &last_eq);
        approx = len;
    }
    int lhs_value = 0; /* "\frac{1}{6} \approx 0.17": the exact value before it */
    for (size_t k = 0; k < approx && approx < len && !lhs_value; k++) lhs_value = isdigit((unsigned char)it[k]);
    if (eqs >= 2) {
        sb_add(o, it + last_eq + 1, len - last_eq - 1);
    } else if (approx < len && lhs_value && eqs == 0) {
        sb_add(o, it, approx);
    } else if (approx < len) { /* "x \approx 11" reads as "x = 11" */
        sb_add(o, it, approx);
        sb_add(o, "=", 1);
        sb_add(o, it + approx + 7, len - approx - 7);
    } else {
        sb_add(o, it, len);
    }
}

static void cut_chains(sbuf *b) {
    if (!strchr(b->s, '=') && !strstr(b->s, "\\approx")) return;
    sbuf o;
    sb_init(&o, b->cap);
    if (!o.s) return;
    size_t start = 0;
    int depth = 0;
    for (size_t i = 0; i <= b->n; i++) {
        char c = b->s[i];
        if (c == '(' || c == '[' || c == '{') depth++;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
        if (!(i == b->n || (c == ',' && depth == 0))) continue;
        cut_item(&o, b->s + start, i - start);
        if (i < b->n) sb_add(&o, ",", 1);
        start = i + 1;
    }
    free(b->s);
    *b = o;
}

static void collapse_spaces(sbuf *b) {
    size_t w = 0;
    for (size_t i = 0; i < b->n; i++) {
        char c = b->s[i];
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
        if (c == ' ' && (w == 0 || b->s[w - 1] == ' ')) continue;
        b->s[w++] = c;
    }
    while (w && b->s[w - 1] == ' ') w--;
    b->n = w;
    b->s[w] = '\0';
}

void math_normalize(const char *in, char *out, size_t cap) {
    if (!cap) return;
    out[0] = '\0';
    size_t len = strlen(in);
    if (len > MATH_MAX_ANSWER) len = MATH_MAX_ANSWER;
    sbuf b;
    sb_init(&b, 2 * MATH_MAX_ANSWER);
    if (!b.s) return;
    sb_add(&b, in, len);
    undouble_backslashes(&b);
    array_to_matrix(&b);
    /* a boxed answer inside the answer */
    if (strstr(b.s, "\\boxed") || strstr(b.s, "\\fbox")) {
        char *tmp = malloc(MATH_MAX_ANSWER + 1);
        if (tmp && math_extract_boxed(b.s, b.n, tmp, MATH_MAX_ANSWER + 1)) {
            b.n = 0;
            sb_add(&b, tmp, strlen(tmp));
        }
        free(tmp);
    }
    static const char *const REPL[][2] = {
        {"\\$", " "}, {"$", " "}, {"\\(", " "}, {"\\)", " "}, {"\\[", " "}, {"\\]", " "},
        {"\\left", ""}, {"\\right", ""}, {"\\bigl", ""}, {"\\bigr", ""}, {"\\big", ""}, {"\\Big", ""},
        {",\\! ", ","}, {",\\!", ","}, {"!=", "\\ne "}, {"\\!", ""}, {"\\,", " "}, {"\\;", " "}, {"\\:", " "}, {"\\ ", " "}, {"\\qquad", " "}, {"\\quad", " "},
        {"~", " "}, {"\\displaystyle", ""}, {"\\textstyle", ""}, {"\\dfrac", "\\frac"}, {"\\tfrac", "\\frac"},
        {"\\cfrac", "\\frac"}, {"\\dbinom", "\\binom"}, {"\\tbinom", "\\binom"}, {"^{\\circ}", ""}, {"^\\circ", ""}, {"\\circ", ""}, {"\\degree", ""},
        {"\xc2\xb0", ""}, {"\\%", ""}, {"%", ""}, {" {, }", ","}, {" {,}", ","}, {"{,}", ","}, {"{, }", ","}, {"\\leqslant", "\\le"}, {"\\neq", "\\ne"}, {"\\geqslant", "\\ge"},
        {"\xe2\x88\x92", "-"}, {"\xc3\x97", "\\times "}, {"\xc3\xb7", "\\div "}, {"\xc2\xb7", "\\cdot "},
        {"\xe2\x89\xa4", "\\le "}, {"\xe2\x89\xa5", "\\ge "}, {"\xe2\x89\xa0", "\\ne "}, {"\xcf\x80", "\\pi "},
        {"\xe2\x88\x9e", "\\infty "}, {"\xe2\x88\x9a", "\\sqrt"}, {"\xe2\x82\xac", " "}, {"\xc2\xa3", " "},
        {"\xc2\xb2", "^2"}, {"\xc2\xb3", "^3"}, {"\\dots", ""}, {"\\ldots", ""}, {"\\cdots", ""},
        {"\\infin", "\\infty"}, {"\\lvert", "|"}, {"\\rvert", "|"}, {"\\vert", "|"}, {"\\mid", "|"},
        {"\\lbrace", "\\{"}, {"\\rbrace", "\\}"}, {"\\emptyset", "\\{\\}"}, {"\\varnothing", "\\{\\}"},
        {"\\colon", ":"}, {"\\to", "="}, {"\\in", "="}, {"\\end{array}", "\\end{matrix}"},
        {"\\geq", "\\ge"}, {"\\leq", "\\le"}, {"\\lt", "<"}, {"\\gt", ">"}, {"\\Rightarrow", " "}, {"\\implies", " "},
    };
    int has_cmd = strchr(b.s, '\\') != NULL; /* most short answers have no command: skip those entries */
    for (size_t k = 0; k < sizeof REPL / sizeof REPL[0]; k++) {
        if (REPL[k][0][0] == '\\' && !has_cmd) continue;
        replace_all(&b, REPL[k][0], REPL[k][1]);
        if (REPL[k][0][0] != '\\') has_cmd = has_cmd || strchr(b.s, '\\'); /* "×" became "\times" */
    }
    static const char *WRAPS[] = {"\\text", "\\textbf", "\\textit", "\\textrm", "\\mathrm", "\\mathbf",
                                  "\\mathit", "\\mathsf", "\\textnormal", "\\textsf", "\\texttt", "\\mathbb", "\\mathcal", "\\mbox", "\\hbox",
                                  "\\operatorname", "\\boldsymbol", "\\bf", "\\rm", "\\underline"};
    for (size_t k = 0; k < sizeof WRAPS / sizeof WRAPS[0]; k++) unwrap_cmd(&b, WRAPS[k]);
    collapse_spaces(&b);
    /* leading "x =" style labels are kept (the comparison handles them); trailing punctuation goes */
    while (b.n && (b.s[b.n - 1] == '.' || b.s[b.n - 1] == ' ')) b.s[--b.n] = '\0';
    strip_trailing_units(&b);
    collapse_spaces(&b);
    join_words(&b);
    decimal_comma(&b);
    strip_thousands(&b, ',');
    strip_thousands(&b, ' ');
    group_semicolons(&b);
    cut_chains(&b);
    /* one \pm becomes the two answers it stands for */
    char *pm = strstr(b.s, "\\pm");
    if (pm && !strstr(pm + 3, "\\pm") && !strchr(b.s, ',')) {
        size_t pre = (size_t)(pm - b.s);
        char *rest = strdup(pm + 3);
        char *head = strndup(b.s, pre);
        if (rest && head) {
            b.n = 0;
            b.s[0] = '\0';
            sb_add(&b, head, pre);
            sb_add(&b, "+", 1);
            sb_add(&b, rest, strlen(rest));
            sb_add(&b, ", ", 2);
            sb_add(&b, head, pre);
            sb_add(&b, "-", 1);
            sb_add(&b, rest, strlen(rest));
        }
        free(rest);
        free(head);
    }
    collapse_spaces(&b);
    put(out, cap, b.s, b.n);
    free(b.s);
}

/* ---------------------------------------------------------------- equality */

/* "A", "(A)", "A)", "(A) 15": a choice letter A-J, or 0. Gold must be the bare letter form. */
static char choice_letter(const char *s, int loose) {
    while (*s == ' ') s++;
    int paren = *s == '(';
    if (paren) s++;
    char c = *s;
    if (c < 'A' || c > 'J') return 0;
    s++;
    if (paren) {
        if (*s != ')') return 0;
        s++;
    } else if (*s == ')') {
        s++;
    }
    while (*s == ' ') s++;
    if (*s && !loose) return 0;
    if (*s && !paren) return 0;
    return c;
}

static int is_known_word(const char *w, size_t n) {
    static const char *words[] = {"sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan",
                                  "sinh", "cosh", "tanh", "log", "ln", "exp", "sqrt", "pi", "frac", "infty"};
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (strlen(words[k]) == n && !strncmp(words[k], w, n)) return 1;
    return 0;
}

/* Text, not math: a run of three or more letters outside a \command that is no function name. */
static int looks_like_text(const char *s) {
    for (size_t i = 0; s[i];) {
        if (isalpha((unsigned char)s[i])) {
            size_t j = i;
            while (isalpha((unsigned char)s[j])) j++;
            int sub = i >= 2 && s[i - 1] == '{' && s[i - 2] == '_'; /* S_{MBCN} is a name */
            int cmd = sub || (i > 0 && s[i - 1] == '\\') ||
                      (i >= 7 && !strncmp(s + i - 7, "\\begin{", 7)) || (i >= 5 && !strncmp(s + i - 5, "\\end{", 5));
            if (!cmd && j - i >= 3 && !is_known_word(s + i, j - i)) return 1;
            i = j;
        } else {
            i++;
        }
    }
    return 0;
}

/* Text equality: case-insensitive, ignoring spaces, braces and backslashes. */
static int text_equal(const char *a, const char *b) {
    for (;;) {
        while (*a && strchr(" {}\\", *a)) a++;
        while (*b && strchr(" {}\\", *b)) b++;
        if (!*a || !*b) return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        a++, b++;
    }
}

/* Whether an answer is written as a percentage ("25\\%", "25 percent"). */
static int has_percent(const char *s) {
    return strchr(s, '%') || strcasestr(s, "percent") || strcasestr(s, "pct");
}

static int answers_equal(const char *gold, const char *pred, const math_opts *o);

/* Equality, also reading a percentage as its fraction ("25\\%" equals both 25 and 1/4). */
/* Equality reading an ambiguous decimal comma ("2,74": the list 2, 74 or 2.74) on either side as a decimal
 * when the plain reading differs. */
static int decimal_reading_equal(const char *gold, const char *pred, const math_opts *o) {
    if (!strchr(gold, ',') && !strchr(pred, ',')) return 0;
    char *g = malloc(MATH_MAX_ANSWER + 1), *p = malloc(MATH_MAX_ANSWER + 1);
    int r = 0;
    if (g && p) {
        math_normalize(gold, g, MATH_MAX_ANSWER + 1);
        math_normalize(pred, p, MATH_MAX_ANSWER + 1);
        int ag = decimal_comma_at(g, 1), ap = decimal_comma_at(p, 1);
        if (ag >= 0) g[ag] = '.';
        if (ap >= 0) p[ap] = '.';
        r = (ag >= 0 || ap >= 0) && answers_equal(g, p, o);
    }
    free(g);
    free(p);
    return r;
}

int math_answers_equal(const char *gold, const char *pred, const math_opts *o) {
    if (answers_equal(gold, pred, o)) return 1;
    if (decimal_reading_equal(gold, pred, o)) return 1;
    int gp = has_percent(gold), pp = has_percent(pred);
    if (gp == pp || strlen(gold) > MATH_MAX_ANSWER - 16 || strlen(pred) > MATH_MAX_ANSWER - 16) return 0;
    char *n = malloc(MATH_MAX_ANSWER + 1), *w = malloc(MATH_MAX_ANSWER + 32);
    int r = 0;
    if (n && w) {
        math_normalize(gp ? gold : pred, n, MATH_MAX_ANSWER + 1);
        snprintf(w, MATH_MAX_ANSWER + 32, "\\frac{%s}{100}", n);
        r = n[0] && (gp ? answers_equal(w, pred, o) : answers_equal(gold, w, o));
    }
    free(n);
    free(w);
    return r;
}

static int answers_equal(const char *gold, const char *pred, const math_opts *o) {
    char *g = malloc(MATH_MAX_ANSWER + 1), *p = malloc(MATH_MAX_ANSWER + 1);
    int r = 0;
    if (!g || !p) goto done;
    math_normalize(gold, g, MATH_MAX_ANSWER + 1);
    math_normalize(pred, p, MATH_MAX_ANSWER + 1);
    if (!g[0] || !p[0]) goto done;
    if (!strcmp(g, p)) {
        r = 1;
        goto done;
    }
    char gc = choice_letter(g, 0);
    if (gc) {
        r = choice_letter(p, 1) == gc;
        goto done;
    }
    if (looks_like_text(g) || looks_like_text(p)) {
        r = text_equal(g, p);
        goto done;
    }
    math_expr *ea = math_expr_parse(g), *eb = ea ? math_expr_parse(p) : NULL;
    if (ea && eb) r = math_expr_equal(ea, eb, o);
    else r = text_equal(g, p);
    math_expr_free(ea);
    math_expr_free(eb);
done:
    free(g);
    free(p);
    return r;
}

double math_accuracy(const char *gold, const char *completion, const math_opts *o) {
    char *g = malloc(MATH_MAX_ANSWER + 1), *p = malloc(MATH_MAX_ANSWER + 1);
    double r = 0.0;
    if (g && p && math_extract(gold, MATH_FALLBACK_WHOLE, g, MATH_MAX_ANSWER + 1) &&
        math_extract(completion, o->fallback, p, MATH_MAX_ANSWER + 1))
        r = math_answers_equal(g, p, o) ? 1.0 : 0.0;
    free(g);
    free(p);
    return r;
}
