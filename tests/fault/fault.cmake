# tests/fault/: the fault-injection sweep (every allocation of an operation failed in turn).
add_executable(test_fault tests/fault/test_fault.c tests/fault/fault.c tests/test_util.c)
target_link_libraries(test_fault PRIVATE grpo_train PkgConfig::CUNIT)
target_compile_definitions(test_fault PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
target_link_options(test_fault PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=posix_memalign
  -Wl,--wrap=aligned_alloc -Wl,--wrap=strdup -Wl,--wrap=strndup)
add_test(NAME fault_injection COMMAND test_fault)
set_tests_properties(fault_injection PROPERTIES TIMEOUT 900)
