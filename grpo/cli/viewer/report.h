/* grpo/cli/viewer/report.h: `grpo report`: the viewer's pages and a run's data in one self-contained
 * HTML file (no server, no network), for attaching to an issue or an email. */
#ifndef GRPO_VIEWER_REPORT_H
#define GRPO_VIEWER_REPORT_H

#include "common/err.h"
#include "api.h"

/* Writes the report of api's run to path (atomically): every step's metrics and every eval, and the
 * rollouts of whole steps spread evenly over the run, at most max_rollouts of them (the page says
 * which and how many). *included and *total (may be NULL) get the rollouts kept and stored. */
int viewer_report_write(viewer_api *a, const char *path, long long max_rollouts, long long *included, long long *total,
                        grpo_err *err);

#endif
