/* tasks/template.c: prompt templates. A template is text with {prompt} (alias {question}), {nums},
 * {target} and {entry_point} placeholders; "{{" and "}}" are literal braces. The result is the user
 * message only: applying a chat format is the caller's (the tokenizer's chat templates). */
#include <string.h>

#include "internal.h"

const char TASKS_SYSTEM_R1[] =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
    "tags, respectively, i.e., <think> reasoning process here </think><answer> answer here </answer>.";

typedef enum { PH_PROMPT, PH_NUMS, PH_TARGET, PH_ENTRY, PH_NONE } placeholder;

static const struct {
    const char *name;
    placeholder ph;
} PLACEHOLDERS[] = {
    {"prompt", PH_PROMPT}, {"question", PH_PROMPT}, {"nums", PH_NUMS}, {"target", PH_TARGET}, {"entry_point", PH_ENTRY},
};

static int ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

/* At s (pointing at '{'): the length of "{identifier}" or 0 when s does not start one. */
static size_t placeholder_len(const char *s) {
    if (s[0] != '{' || !ident_start(s[1])) return 0;
    size_t i = 2;
    while (ident_char(s[i])) i++;
    return s[i] == '}' ? i + 1 : 0;
}

static placeholder placeholder_lookup(const char *s, size_t len) {
    for (size_t k = 0; k < sizeof PLACEHOLDERS / sizeof *PLACEHOLDERS; k++)
        if (strlen(PLACEHOLDERS[k].name) == len - 2 && !memcmp(PLACEHOLDERS[k].name, s + 1, len - 2))
            return PLACEHOLDERS[k].ph;
    return PH_NONE;
}

/* Walks tmpl; with it and out set, renders into out; without, only validates. */
static int walk(const char *tmpl, const tasks_item *it, strbuf *out, grpo_err *err) {
    if (!tmpl) tmpl = "{prompt}";
    for (const char *s = tmpl; *s;) {
        if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
            if (out) sb_addn(out, s, 1);
            s += 2;
            continue;
        }
        size_t len = placeholder_len(s);
        if (!len) {
            if (out) sb_addn(out, s, 1);
            s++;
            continue;
        }
        placeholder ph = placeholder_lookup(s, len);
        if (ph == PH_NONE)
            return grpo_errf(err, GRPO_EINVAL,
                             "template: unknown placeholder \"%.*s\" (known: {prompt}, {question}, {nums}, {target}, "
                             "{entry_point}; write {{ and }} for literal braces)",
                             (int)len, s);
        if (out) {
            if ((ph == PH_NUMS || ph == PH_TARGET) && it->n_nums == 0)
                return grpo_errf(err, GRPO_EINVAL, "template: {%s} needs a countdown item, item %lld has no numbers",
                                 ph == PH_NUMS ? "nums" : "target", (long long)it->id);
            if (ph == PH_ENTRY && !it->entry_point)
                return grpo_errf(err, GRPO_EINVAL, "template: {entry_point} needs a code item with an entry point, "
                                 "item %lld has none", (long long)it->id);
            switch (ph) {
            case PH_PROMPT: sb_add(out, it->prompt ? it->prompt : ""); break;
            case PH_NUMS:
                sb_add(out, "[");
                for (int i = 0; i < it->n_nums; i++) sb_addf(out, "%s%d", i ? ", " : "", it->nums[i]);
                sb_add(out, "]");
                break;
            case PH_TARGET: sb_addf(out, "%d", it->target); break;
            case PH_ENTRY: sb_add(out, it->entry_point); break;
            case PH_NONE: break;
            }
        }
        s += len;
    }
    return GRPO_OK;
}

int tasks_template_check(const char *tmpl, grpo_err *err) { return walk(tmpl, NULL, NULL, err); }

int tasks_render_prompt(const tasks_item *it, const char *tmpl, char **out, grpo_err *err) {
    *out = NULL;
    strbuf b = {0};
    int rc = walk(tmpl, it, &b, err);
    if (rc) {
        sb_free(&b);
        return rc;
    }
    *out = sb_take(&b);
    return *out ? GRPO_OK : grpo_errf(err, GRPO_ENOMEM, "out of memory rendering a prompt");
}

const char *tasks_system_prompt(const tasks_item *it, const char *dflt) {
    return it && it->system ? it->system : dflt;
}
