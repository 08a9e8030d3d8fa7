# tasks/tasks.cmake: the tasks library (JSONL datasets with field mapping, built-in generators, train/eval
# split, prompt templates, the data cursor), `grpo tasks`, and its CUnit suite. Included by the top-level
# CMakeLists.txt.
add_library(grpo_tasks STATIC
  tasks/util.c
  tasks/dataset.c
  tasks/jsonl.c
  tasks/generate.c
  tasks/template.c
  tasks/cursor.c)
target_include_directories(grpo_tasks PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(grpo_tasks PUBLIC grpo_common PkgConfig::JANSSON m)

list(APPEND GRPO_CLI_SOURCES grpo/cli/cmd_tasks.c)
list(APPEND GRPO_CLI_LIBS grpo_tasks)

add_executable(test_tasks tests/tasks/test_tasks_main.c tests/tasks/test_load.c tests/tasks/test_generate.c
  tests/tasks/test_split.c tests/tasks/test_cli_tasks.c tests/test_util.c)
target_link_libraries(test_tasks PRIVATE grpo_tasks PkgConfig::CUNIT)
target_compile_definitions(test_tasks PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}" GRPO_BIN="$<TARGET_FILE:grpo>")
add_dependencies(test_tasks grpo)
add_test(NAME tasks COMMAND test_tasks)

if(GRPO_FUZZ)
  add_executable(fuzz_tasks tests/fuzz/fuzz_tasks.c)
  target_compile_options(fuzz_tasks PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_tasks PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_tasks PRIVATE grpo_tasks)
endif()
