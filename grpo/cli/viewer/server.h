/* grpo/cli/viewer/server.h: `grpo view`'s HTTP server (libmicrohttpd): the embedded pages and the JSON
 * API of api.h, GET and HEAD only, one request at a time on one internal thread. */
#ifndef GRPO_VIEWER_SERVER_H
#define GRPO_VIEWER_SERVER_H

#include "common/err.h"
#include "api.h"

typedef struct viewer_server viewer_server;

/* 1 when host (an IPv4 address or "localhost") is a loopback address. */
int viewer_host_is_loopback(const char *host);

/* Starts serving api on host:port (port 0: any free port) in a thread of its own. host is an IPv4
 * address or "localhost". api stays the caller's and must outlive the server. */
int viewer_server_start(viewer_server **out, viewer_api *api, const char *host, int port, grpo_err *err);

/* The port the server listens on. */
int viewer_server_port(const viewer_server *s);

/* Stops the server (finishing the request in progress) and frees it. NULL is a no-op. */
void viewer_server_stop(viewer_server *s);

#endif
