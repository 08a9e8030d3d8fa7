/* tests/tokenizer/main.c: runs the tokenizer suites.
 *   test_tokenizer            unit, parity (committed tokenizers), chat templates, CLI
 *   test_tokenizer real DIR   parity against the real tokenizers fetched into DIR (run_real.sh) */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "tests/test_util.h"
#include "tok_test.h"

int main(int argc, char **argv) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    if (argc == 3 && !strcmp(argv[1], "real")) {
        tok_suite_real(argv[2]);
    } else if (argc == 1) {
        tok_suite_unit();
        tok_suite_parity();
        tok_suite_chat();
        tok_suite_cli();
    } else {
        fprintf(stderr, "usage: test_tokenizer [real DIR]\n");
        return 2;
    }
    return tu_run_registry();
}
