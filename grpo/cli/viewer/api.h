/* grpo/cli/viewer/api.h: the viewer's JSON API over one run's database, opened read-only
 * (docs/viewer.md documents every route). The HTTP server (server.c) and the one-file report
 * (cmd_report.c) both answer from it, so the pages see the same data either way.
 *
 * Every route checks its query parameters: an unknown, repeated or malformed one, or one out of its
 * range, is a 400 with a message naming it; every list is paginated with a bounded limit. Text from
 * the database (completions, prompts, reasons) is returned as JSON strings, never interpreted.
 * One viewer_api is one SQLite connection, used from one thread at a time. */
#ifndef GRPO_VIEWER_API_H
#define GRPO_VIEWER_API_H

#include <jansson.h>

#include "common/err.h"

#define VIEWER_MAX_PARAMS 16

/* Bounds on what one response may hold. */
enum {
    VIEWER_STEPS_MAX = 5000,    /* steps per /api/steps page */
    VIEWER_ROLLOUTS_MAX = 512,  /* rollouts per /api/rollouts or /api/prompt page */
    VIEWER_SEARCH_MAX = 200,    /* results per /api/search page */
    VIEWER_EVALS_MAX = 5000,    /* evals per /api/evals page */
    VIEWER_SCAN_MAX = 10000,    /* candidates one /api/search request examines at most (its work bound) */
    VIEWER_QUERY_MAX = 200,     /* bytes of a search text */
};

/* The query string of one request, already split and percent-decoded (borrowed strings).
 * overflow is set when the request had more than VIEWER_MAX_PARAMS parameters. */
typedef struct {
    int n, overflow;
    const char *key[VIEWER_MAX_PARAMS];
    const char *val[VIEWER_MAX_PARAMS];
} viewer_query;

typedef struct viewer_api viewer_api;

/* Opens the database at db read-only (run: NULL for the only run) and, when the run's config names a
 * tokenizer directory that loads, the tokenizer that splits completions into token texts. */
int viewer_api_open(viewer_api **out, const char *db, const char *run, grpo_err *err);
void viewer_api_close(viewer_api *a);

/* Answers route (the path after "/api/", e.g. "steps" or "prompt/17") with query q: returns the HTTP
 * status and sets *out to the response object ({"error": "..."} when the status is not 200). */
int viewer_api_json(viewer_api *a, const char *route, const viewer_query *q, json_t **out);

/* viewer_api_json as compact JSON text (malloc'd; NULL only when out of memory). */
int viewer_api_get(viewer_api *a, const char *route, const viewer_query *q, char **body);

#endif
