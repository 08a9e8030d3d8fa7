/* tests/fuzz/fuzz_safetensors.c: libFuzzer entry for the safetensors reader. Any bytes must either
 * be rejected with an error or parse into tensors that lie inside the buffer and convert cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses data; on success looks every tensor up by name and converts each convertible one to fp32. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    grpo_err err;
    if (st_parse(&f, data, size, "fuzz", &err) != GRPO_OK) return 0;
    for (size_t i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        if (st_find(&f, t->name) != t) abort();
        if (t->data < data || t->nbytes > size || t->data + t->nbytes > data + size) abort();
        if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F64) continue;
        float *out = malloc(t->numel ? t->numel * sizeof(float) : 1);
        if (!out) continue;
        if (st_to_f32(t, out, &err) != GRPO_OK) abort();
        free(out);
    }
    st_close(&f);
    return 0;
}
