# rollout/store: the SQLite rollout store (one database per run, WAL, one transaction per step),
# the `grpo db` command that reads it, and its CUnit suite.
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
add_library(grpo_store STATIC rollout/store/store.c)
target_include_directories(grpo_store PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(grpo_store PUBLIC grpo_common PkgConfig::SQLITE3 PkgConfig::JANSSON m)
list(APPEND GRPO_CLI_SOURCES grpo/cli/cmd_db.c)
list(APPEND GRPO_CLI_LIBS grpo_store)

add_executable(test_store tests/store/test_store.c tests/test_util.c)
target_link_libraries(test_store PRIVATE grpo_store PkgConfig::CUNIT)
target_compile_definitions(test_store PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}" GRPO_BIN="$<TARGET_FILE:grpo>")
add_dependencies(test_store grpo)
add_test(NAME store COMMAND test_store)
