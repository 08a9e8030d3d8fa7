/* rewards/math_extract.h: internal to rewards/: the pieces of answer extraction that normalization reuses.
 * The public entry is math_extract in math.h. */
#ifndef GRPO_REWARDS_MATH_EXTRACT_H
#define GRPO_REWARDS_MATH_EXTRACT_H

#include <stddef.h>

#include "math.h"

/* Writes the content of the last complete \boxed{...} / \fbox{...} (or "\boxed 5") in [s, s+n) into out;
 * returns 1 when there is one. */
int math_extract_boxed(const char *s, size_t n, char *out, size_t cap);

#endif
