# grpo/viewer: `grpo view` (libmicrohttpd) and `grpo report` over one JSON API, with the pages
# (grpo/viewer/assets) embedded as C arrays; its tests drive the server over HTTP and headless Chromium.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
set(VIEWER_GEN ${CMAKE_BINARY_DIR}/viewer_gen)
set(VIEWER_ASSET_HEADERS)
foreach(pair "index.html;VIEWER_INDEX_HTML;viewer_index_html.h" "app.js;VIEWER_APP_JS;viewer_app_js.h"
             "app.css;VIEWER_APP_CSS;viewer_app_css.h")
  list(GET pair 0 src)
  list(GET pair 1 sym)
  list(GET pair 2 hdr)
  add_custom_command(OUTPUT ${VIEWER_GEN}/${hdr}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VIEWER_GEN}
    COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_SOURCE_DIR}/grpo/viewer/assets/${src} -DOUT=${VIEWER_GEN}/${hdr}
            -DNAME=${sym} -P ${CMAKE_SOURCE_DIR}/rewards/embed.cmake
    DEPENDS ${CMAKE_SOURCE_DIR}/grpo/viewer/assets/${src} ${CMAKE_SOURCE_DIR}/rewards/embed.cmake)
  list(APPEND VIEWER_ASSET_HEADERS ${VIEWER_GEN}/${hdr})
endforeach()
add_library(grpo_viewer STATIC grpo/viewer/api.c grpo/viewer/server.c grpo/viewer/report.c ${VIEWER_ASSET_HEADERS})
target_include_directories(grpo_viewer PUBLIC ${CMAKE_SOURCE_DIR} PRIVATE ${VIEWER_GEN})
target_link_libraries(grpo_viewer PUBLIC grpo_store grpo_tokenizer PkgConfig::MHD PkgConfig::JANSSON m)
list(APPEND GRPO_CLI_SOURCES grpo/cmd_view.c grpo/cmd_report.c)
list(APPEND GRPO_CLI_LIBS grpo_viewer)
