/* tests/fuzz/fuzz_tokenizer.c: libFuzzer entry for the tokenizer.json loader (tok_load_json). When the
 * bytes load, the tokenizer is also exercised: encoding a few fixed strings (with and without special
 * tokens), decoding every id plus some out of range, and streaming. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/tokenizer/tokenizer.h"

static const char *TEXTS[] = {"", "Hello, world! 12345", "a\tb\n\n  c  ", "caf\xC3\xA9 e\xCC\x81 \xE4\xB8\xAD",
                              "<|im_start|>user\nhi<|im_end|><s></s>", "'s 'LL \xF0\x9F\x91\x8B\xE2\x80\x8D"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tok_tokenizer *t;
    grpo_err e;
    if (tok_load_json(&t, (const char *)data, size, "fuzz/tokenizer.json", &e)) return 0;
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
        for (int flags = 0; flags <= TOK_SPECIAL; flags += TOK_SPECIAL) {
            int *ids;
            size_t n;
            if (tok_encode(t, TEXTS[i], strlen(TEXTS[i]), flags, &ids, &n, &e)) continue;
            char *text;
            size_t len;
            if (!tok_decode(t, ids, n, 0, &text, &len, &e)) free(text);
            free(ids);
        }
    }
    int vs = tok_get_info(t)->vocab_size, n = vs < 4096 ? vs : 4096;
    tok_stream s;
    tok_stream_init(&s, t, 0);
    for (int id = -2; id < n + 2; id++) {
        const char *out;
        size_t len;
        tok_stream_push(&s, id, &out, &len, &e);
    }
    const char *out;
    size_t len;
    tok_stream_finish(&s, &out, &len, &e);
    tok_stream_free(&s);
    tok_free(t);
    return 0;
}
