/* tests/fuzz/fuzz_math.c: libFuzzer entry for the math answer checker: the bytes are split at the first
 * newline into a gold text and a completion, then extracted, normalized, parsed and compared (math_accuracy)
 * under the fallback the first byte picks (none, last_number, whole); the completion is also extracted into
 * small buffers (truncation paths of answer sets and phrases), and each half is parsed on its own. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../rewards/math.h"
#include "../../rewards/math_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = strchr(s, '\n');
    const char *pred = "";
    if (nl) {
        *nl = '\0';
        pred = nl + 1;
    }
    math_opts o;
    math_opts_default(&o);
    o.fallback = (math_fallback)(size ? data[0] % 3 : 1);
    (void)math_accuracy(s, pred, &o);
    char small[9];
    for (size_t cap = 1; cap <= sizeof small; cap += 4) (void)math_extract(pred, o.fallback, small, cap);
    math_expr *a = math_expr_parse(s), *b = math_expr_parse(pred);
    double v;
    if (a) (void)math_expr_value(a, &v);
    math_expr_free(a);
    math_expr_free(b);
    free(s);
    return 0;
}
