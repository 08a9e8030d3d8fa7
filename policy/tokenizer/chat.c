/* policy/tokenizer/chat.c: built-in chat formats, each a small C rendering of its family's Jinja template.
 * Where a template calls a Python string method (strip, split), the helper here does exactly that. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

/* ---- Python string methods on (pointer, length) views ---- */

typedef struct {
    const char *p;
    size_t n;
} view;

static view V(const char *s) { return (view){s, strlen(s)}; }

/* Length of the Python whitespace character (str.isspace) at s, or 0. */
static size_t py_space_at(const char *s, size_t n) {
    unsigned char c = (unsigned char)s[0];
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
    if (n >= 2 && c == 0xC2 && ((unsigned char)s[1] == 0x85 || (unsigned char)s[1] == 0xA0)) return 2;
    if (n >= 3 && c == 0xE1 && (unsigned char)s[1] == 0x9A && (unsigned char)s[2] == 0x80) return 3; /* U+1680 */
    if (n >= 3 && c == 0xE2 && (unsigned char)s[1] == 0x80) {
        unsigned char d = (unsigned char)s[2];
        if (d <= 0x8A || d == 0xA8 || d == 0xA9 || d == 0xAF) return 3; /* U+2000-200A, 2028, 2029, 202F */
    }
    if (n >= 3 && c == 0xE2 && (unsigned char)s[1] == 0x81 && (unsigned char)s[2] == 0x9F) return 3; /* U+205F */
    if (n >= 3 && c == 0xE3 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

/* Length of the whitespace character ending at s[n-1], or 0. */
static size_t py_space_before(const char *s, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++)
        if (py_space_at(s + n - k, k) == k) return k;
    return 0;
}

/* Jinja's trim: Python's str.strip(). */
static view py_strip(view v) {
    size_t k;
    while (v.n && (k = py_space_at(v.p, v.n))) v.p += k, v.n -= k;
    while (v.n && (k = py_space_before(v.p, v.n))) v.n -= k;
    return v;
}

static view lstrip_nl(view v) {
    while (v.n && v.p[0] == '\n') v.p++, v.n--;
    return v;
}

static view rstrip_nl(view v) {
    while (v.n && v.p[v.n - 1] == '\n') v.n--;
    return v;
}

/* Position of the first / last occurrence of sep in v, or NULL. */
static const char *find_first(view v, const char *sep) {
    size_t k = strlen(sep);
    for (size_t i = 0; i + k <= v.n; i++)
        if (!memcmp(v.p + i, sep, k)) return v.p + i;
    return NULL;
}

static const char *find_last(view v, const char *sep) {
    size_t k = strlen(sep);
    for (size_t i = v.n >= k ? v.n - k + 1 : 0; i-- > 0;)
        if (!memcmp(v.p + i, sep, k)) return v.p + i;
    return NULL;
}

/* s.split(sep)[-1] and s.split(sep)[0] */
static view split_last(view v, const char *sep) {
    const char *at = find_last(v, sep);
    if (!at) return v;
    size_t off = (size_t)(at - v.p) + strlen(sep);
    return (view){v.p + off, v.n - off};
}

static view split_first(view v, const char *sep) {
    const char *at = find_first(v, sep);
    return at ? (view){v.p, (size_t)(at - v.p)} : v;
}

static void sb_view(strbuf *b, view v) { sb_addn(b, v.p, v.n); }

static int is_role(const chat_msg *m, const char *r) { return !strcmp(m->role, r); }

/* ---- the formats ---- */

static const char QWEN_DEFAULT_SYSTEM[] = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

/* One ChatML turn: <|im_start|>role\ncontent<|im_end|>\n */
static void chatml_turn(strbuf *b, const char *role, view content) {
    sb_add(b, "<|im_start|>");
    sb_add(b, role);
    sb_add(b, "\n");
    sb_view(b, content);
    sb_add(b, "<|im_end|>\n");
}

static void render_chatml(strbuf *b, const chat_msg *m, size_t n, const chat_opts *o) {
    for (size_t i = 0; i < n; i++) chatml_turn(b, m[i].role, V(m[i].content));
    if (o->add_generation_prompt) sb_add(b, "<|im_start|>assistant\n");
}

static void render_qwen25(strbuf *b, const chat_msg *m, size_t n, const chat_opts *o) {
    if (!is_role(&m[0], "system")) chatml_turn(b, "system", V(QWEN_DEFAULT_SYSTEM));
    for (size_t i = 0; i < n; i++) chatml_turn(b, m[i].role, V(m[i].content)); /* a first system turn included */
    if (o->add_generation_prompt) sb_add(b, "<|im_start|>assistant\n");
}

static int starts_ends(view v, const char *pre, const char *suf) {
    size_t a = strlen(pre), z = strlen(suf);
    return v.n >= a && v.n >= z && !memcmp(v.p, pre, a) && !memcmp(v.p + v.n - z, suf, z);
}

static void render_qwen3(strbuf *b, const chat_msg *m, size_t n, const chat_opts *o) {
    if (is_role(&m[0], "system")) chatml_turn(b, "system", V(m[0].content));
    /* the last user turn that is not a tool response: reasoning before it is dropped */
    size_t last_query = n - 1;
    for (size_t i = n; i-- > 0;)
        if (is_role(&m[i], "user") && !starts_ends(V(m[i].content), "<tool_response>", "</tool_response>")) {
            last_query = i;
            break;
        }
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "user") || (is_role(&m[i], "system") && i > 0)) {
            chatml_turn(b, m[i].role, V(m[i].content));
        } else if (is_role(&m[i], "assistant")) {
            view content = V(m[i].content), reasoning = {"", 0};
            if (find_first(content, "</think>")) {
                reasoning = lstrip_nl(split_last(rstrip_nl(split_first(content, "</think>")), "<think>"));
                content = lstrip_nl(split_last(content, "</think>"));
            }
            sb_add(b, "<|im_start|>assistant\n");
            if (i > last_query && (i == n - 1 || reasoning.n)) {
                sb_add(b, "<think>\n");
                sb_view(b, lstrip_nl(rstrip_nl(reasoning)));
                sb_add(b, "\n</think>\n\n");
                content = lstrip_nl(content);
            }
            sb_view(b, content);
            sb_add(b, "<|im_end|>\n");
        }
    }
    if (o->add_generation_prompt) {
        sb_add(b, "<|im_start|>assistant\n");
        if (o->disable_thinking) sb_add(b, "<think>\n\n</think>\n\n");
    }
}

static void render_llama3(strbuf *b, const chat_msg *m, size_t n, const chat_opts *o) {
    sb_add(b, o->bos_token ? o->bos_token : "<|begin_of_text|>");
    view system = {"", 0};
    size_t start = 0;
    if (is_role(&m[0], "system")) system = py_strip(V(m[0].content)), start = 1;
    sb_add(b, "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: ");
    sb_add(b, o->date_string ? o->date_string : "26 Jul 2024");
    sb_add(b, "\n\n");
    sb_view(b, system);
    sb_add(b, "<|eot_id|>");
    for (size_t i = start; i < n; i++) {
        sb_add(b, "<|start_header_id|>");
        sb_add(b, m[i].role);
        sb_add(b, "<|end_header_id|>\n\n");
        sb_view(b, py_strip(V(m[i].content)));
        sb_add(b, "<|eot_id|>");
    }
    if (o->add_generation_prompt) sb_add(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void render_deepseek_r1(strbuf *b, const chat_msg *m, size_t n, const chat_opts *o) {
    const char *system = "";
    for (size_t i = 0; i < n; i++)
        if (is_role(&m[i], "system")) system = m[i].content; /* the last one wins, as in the template */
    sb_add(b, o->bos_token ? o->bos_token : "<｜begin▁of▁sentence｜>");
    sb_add(b, system);
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "user")) {
            sb_add(b, "<｜User｜>");
            sb_add(b, m[i].content);
        } else if (is_role(&m[i], "assistant")) {
            sb_add(b, "<｜Assistant｜>");
            sb_view(b, split_last(V(m[i].content), "</think>"));
            sb_add(b, "<｜end▁of▁sentence｜>");
        }
    }
    if (o->add_generation_prompt) {
        sb_add(b, "<｜Assistant｜><think>\n");
        if (o->disable_thinking) sb_add(b, "</think>");
    }
}

static int render_raw(strbuf *b, const chat_msg *m, size_t n, const chat_opts *o, grpo_err *err) {
    const char *prompt = NULL, *system = "";
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "user")) prompt = m[i].content;
        if (is_role(&m[i], "system") && !*system) system = m[i].content;
    }
    if (!prompt) return grpo_errf(err, GRPO_EINVAL, "chat_render: format raw needs a user message for {prompt}");
    const char *t = o->raw_template ? o->raw_template : "{prompt}";
    while (*t) {
        if (!strncmp(t, "{prompt}", 8)) sb_add(b, prompt), t += 8;
        else if (!strncmp(t, "{system}", 8)) sb_add(b, system), t += 8;
        else sb_addn(b, t++, 1);
    }
    return 0;
}

/* ---- the table ---- */

typedef void (*render_fn)(strbuf *, const chat_msg *, size_t, const chat_opts *);

static const struct {
    const char *name;
    render_fn render;
} FORMATS[CHAT_NFORMATS] = {
    [CHAT_RAW] = {"raw", NULL},
    [CHAT_CHATML] = {"chatml", render_chatml},
    [CHAT_QWEN25] = {"qwen2.5", render_qwen25},
    [CHAT_QWEN3] = {"qwen3", render_qwen3},
    [CHAT_LLAMA3] = {"llama3", render_llama3},
    [CHAT_DEEPSEEK_R1] = {"deepseek-r1", render_deepseek_r1},
};

int chat_format_from_name(const char *name) {
    if (!strcmp(name, "qwen") || !strcmp(name, "qwen2")) return CHAT_QWEN25;
    for (int i = 0; i < CHAT_NFORMATS; i++)
        if (!strcmp(name, FORMATS[i].name)) return i;
    return -1;
}

const char *chat_format_name(chat_format f) { return (unsigned)f < CHAT_NFORMATS ? FORMATS[f].name : "?"; }

int chat_render(chat_format f, const chat_msg *msgs, size_t n, const chat_opts *opts, char **text, size_t *len,
                grpo_err *err) {
    static const chat_opts none = {0};
    const chat_opts *o = opts ? opts : &none;
    *text = NULL;
    if (len) *len = 0;
    if ((unsigned)f >= CHAT_NFORMATS) return grpo_errf(err, GRPO_EINVAL, "chat_render: unknown chat format %d", (int)f);
    if (n == 0) return grpo_errf(err, GRPO_EINVAL, "chat_render: no messages");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return grpo_errf(err, GRPO_EINVAL, "chat_render: message %zu has no role or no content", i);
        if (!is_role(&msgs[i], "system") && !is_role(&msgs[i], "user") && !is_role(&msgs[i], "assistant"))
            return grpo_errf(err, GRPO_EINVAL, "chat_render: message %zu has role \"%.40s\" (expected system, user or "
                             "assistant)", i, msgs[i].role);
    }
    strbuf b = {0};
    if (f == CHAT_RAW) {
        int rc = render_raw(&b, msgs, n, o, err);
        if (rc) {
            sb_free(&b);
            return rc;
        }
    } else FORMATS[f].render(&b, msgs, n, o);
    size_t n_text = b.len;
    if (!(*text = sb_take(&b))) return grpo_errf(err, GRPO_ENOMEM, "chat_render: out of memory");
    if (len) *len = n_text;
    return 0;
}
