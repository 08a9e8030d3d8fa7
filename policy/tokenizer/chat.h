/* policy/tokenizer/chat.h: the built-in chat formats, rendering a conversation to the exact text that
 * transformers' apply_chat_template gives with each family's real template:
 *   chatml       plain ChatML (Qwen2 base models' template)
 *   qwen2.5      Qwen2.5-Instruct: ChatML with the default "You are Qwen..." system prompt
 *   qwen3        Qwen3: ChatML with <think> blocks (history reasoning dropped, enable_thinking)
 *   llama3       Llama-3.1-Instruct: header ids, "Cutting Knowledge Date" system block, trimmed content
 *   deepseek-r1  DeepSeek-R1-Distill: <｜User｜>/<｜Assistant｜>, reasoning dropped from history,
 *                generation prompt "<｜Assistant｜><think>\n"
 *   raw          a user template with {prompt} (the last user message) and {system}
 * Tool calls are not rendered: roles must be system, user or assistant. */
#ifndef GRPO_CHAT_H
#define GRPO_CHAT_H

#include <stddef.h>

#include "common/err.h"

typedef enum { CHAT_RAW, CHAT_CHATML, CHAT_QWEN25, CHAT_QWEN3, CHAT_LLAMA3, CHAT_DEEPSEEK_R1, CHAT_NFORMATS } chat_format;

typedef struct {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} chat_msg;

typedef struct {
    int add_generation_prompt;
    int disable_thinking;      /* qwen3 / deepseek-r1: enable_thinking=False */
    const char *bos_token;     /* llama3 / deepseek-r1; NULL: the family's own */
    const char *date_string;   /* llama3; NULL: "26 Jul 2024", the template's default */
    const char *raw_template;  /* raw; NULL: "{prompt}" */
} chat_opts;

/* Format by name ("chatml", "qwen", "qwen2.5", "qwen3", "llama3", "deepseek-r1", "raw"), or -1. */
int chat_format_from_name(const char *name);
/* Canonical name of a format. */
const char *chat_format_name(chat_format f);

/* Renders n messages into malloc'd NUL-terminated text (*len excludes the NUL). opts may be NULL. */
int chat_render(chat_format f, const chat_msg *msgs, size_t n, const chat_opts *opts, char **text, size_t *len,
                grpo_err *err);

#endif
