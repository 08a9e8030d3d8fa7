/* tests/rewards/test_rewards_main.c: the entry point of the rewards suite (pure functions, no sandbox). */
#include <CUnit/CUnit.h>

#include "../test_util.h"

void test_math_register(void);
void test_others_register(void);
void test_registry_register(void);
void test_external_register(void);

int main(void) {
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    test_math_register();
    test_others_register();
    test_registry_register();
    test_external_register();
    return tu_run_registry();
}
