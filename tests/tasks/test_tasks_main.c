/* tests/tasks/test_tasks_main.c: the entry point of the tasks suite (loading, generators, split, templates,
 * cursor, `grpo tasks show`). Every test runs in milliseconds and needs no model. */
#include <CUnit/CUnit.h>

#include "../test_util.h"

void test_load_register(void);
void test_generate_register(void);
void test_split_register(void);
void test_cli_tasks_register(void);

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_load_register();
    test_generate_register();
    test_split_register();
    test_cli_tasks_register();
    return tu_run_registry();
}
