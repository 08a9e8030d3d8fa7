/* grpo/cli/viewer/assets.h: the viewer's pages, embedded as C arrays generated at build time from
 * grpo/cli/viewer/assets/ by rewards/embed.cmake (VIEWER_INDEX_HTML, VIEWER_APP_JS, VIEWER_APP_CSS). */
#ifndef GRPO_VIEWER_ASSETS_H
#define GRPO_VIEWER_ASSETS_H

#include "viewer_index_html.h"
#include "viewer_app_js.h"
#include "viewer_app_css.h"

#endif
