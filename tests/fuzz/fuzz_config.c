/* tests/fuzz/fuzz_config.c: libFuzzer entry for the config.json reader (policy_config_parse). */
#include <stddef.h>
#include <stdint.h>

#include "../../policy/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    policy_config c;
    grpo_err e;
    policy_config_parse(&c, (const char *)data, size, "fuzz/config.json", &e);
    return 0;
}
