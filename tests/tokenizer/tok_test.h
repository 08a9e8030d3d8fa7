/* tests/tokenizer/tok_test.h: the tokenizer suites and the helpers they share. */
#ifndef GRPO_TOK_TEST_H
#define GRPO_TOK_TEST_H

#include <stddef.h>

/* Each adds its CUnit suite to the registry. */
void tok_suite_unit(void);
void tok_suite_parity(void);
void tok_suite_chat(void);
void tok_suite_cli(void);
/* The parity suite over the real tokenizers in dir (from tests/tokenizer/fetch_real.sh). */
void tok_suite_real(const char *dir);

/* The lines of a (possibly gzip- or xz-compressed) file, NULL-terminated; free with tt_free_lines. */
char **tt_read_lines(const char *path, size_t *n);
void tt_free_lines(char **lines);

#endif
