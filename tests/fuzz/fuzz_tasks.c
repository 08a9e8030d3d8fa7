/* tests/fuzz/fuzz_tasks.c: libFuzzer entry point for the JSONL dataset loader (untrusted bytes). The first
 * byte picks the format; the rest is the file. A loaded dataset is also pushed through a template, the
 * split and the cursor, and every \boxed answer search runs on the raw text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tasks/tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    tasks_format format = (tasks_format)(data[0] % TASKS_FORMAT_GENERATED);
    tasks_dataset ds;
    grpo_err err;
    if (tasks_load_jsonl_buffer(&ds, "fuzz.jsonl", (const char *)data + 1, size - 1, NULL, format, &err) == GRPO_OK) {
        for (size_t i = 0; i < ds.n; i++) {
            char *out = NULL;
            if (tasks_render_prompt(&ds.items[i], "Q: {prompt} {{x}} \\boxed{}", &out, &err) == GRPO_OK) free(out);
        }
        tasks_dataset train, eval;
        if (ds.n > 1 && tasks_split(&ds, 0.5, 0, 1, &train, &eval, &err) == GRPO_OK) {
            tasks_dataset_free(&train);
            tasks_dataset_free(&eval);
        }
        tasks_cursor c;
        size_t idx[3];
        tasks_cursor_init(&c, 1, 0, 0);
        tasks_cursor_next(&c, &ds, 3, idx, &err);
        tasks_cursor_free(&c);
        tasks_dataset_free(&ds);
    }
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *boxed = NULL;
    if (tasks_last_boxed(text, &boxed) == 1) free(boxed);
    free(text);
    return 0;
}
