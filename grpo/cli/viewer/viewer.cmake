# grpo/cli/viewer: `grpo view` (libmicrohttpd) and `grpo report` over one JSON API, with the pages
# (grpo/cli/viewer/assets) embedded as C arrays; its tests drive the server over HTTP and headless Chromium.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
find_package(Threads REQUIRED)
set(VIEWER_GEN ${CMAKE_BINARY_DIR}/viewer_gen)
set(VIEWER_ASSET_HEADERS)
foreach(pair "index.html;VIEWER_INDEX_HTML;viewer_index_html.h" "app.js;VIEWER_APP_JS;viewer_app_js.h"
             "app.css;VIEWER_APP_CSS;viewer_app_css.h")
  list(GET pair 0 src)
  list(GET pair 1 sym)
  list(GET pair 2 hdr)
  add_custom_command(OUTPUT ${VIEWER_GEN}/${hdr}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VIEWER_GEN}
    COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_SOURCE_DIR}/grpo/cli/viewer/assets/${src} -DOUT=${VIEWER_GEN}/${hdr}
            -DNAME=${sym} -P ${CMAKE_SOURCE_DIR}/rewards/embed.cmake
    DEPENDS ${CMAKE_SOURCE_DIR}/grpo/cli/viewer/assets/${src} ${CMAKE_SOURCE_DIR}/rewards/embed.cmake)
  list(APPEND VIEWER_ASSET_HEADERS ${VIEWER_GEN}/${hdr})
endforeach()
add_library(grpo_viewer STATIC grpo/cli/viewer/api.c grpo/cli/viewer/server.c grpo/cli/viewer/report.c ${VIEWER_ASSET_HEADERS})
target_include_directories(grpo_viewer PUBLIC ${CMAKE_SOURCE_DIR} PRIVATE ${VIEWER_GEN})
target_link_libraries(grpo_viewer PUBLIC grpo_store grpo_tokenizer PkgConfig::MHD PkgConfig::JANSSON m)
list(APPEND GRPO_CLI_SOURCES grpo/cli/cmd_view.c grpo/cli/cmd_report.c)
list(APPEND GRPO_CLI_LIBS grpo_viewer)

add_executable(test_viewer tests/viewer/test_viewer.c tests/test_util.c)
target_link_libraries(test_viewer PRIVATE grpo_store PkgConfig::CUNIT PkgConfig::SQLITE3 Threads::Threads m)
target_compile_definitions(test_viewer PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}" GRPO_BIN="$<TARGET_FILE:grpo>")
add_dependencies(test_viewer grpo)
add_test(NAME viewer COMMAND test_viewer)
# headless Chromium against `grpo view` and `grpo report` on a short demo run; skips (77) without
# chromium. Not in the sanitizer build: there the demo's portable decode kernels make the run take
# many minutes, and what this test checks is the pages' script; the server's C code runs under the
# sanitizers in test_viewer.
if(NOT GRPO_SANITIZE)
  add_test(NAME viewer_browser COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/viewer/browser_test.py $<TARGET_FILE:grpo>)
  set_tests_properties(viewer_browser PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()

# the store's writer with and without the FTS5 index, and the API on a 100k-rollout file (bench/RESULTS.md)
add_executable(bench_viewer bench/bench_viewer.c)
target_link_libraries(bench_viewer PRIVATE grpo_viewer PkgConfig::SQLITE3)
