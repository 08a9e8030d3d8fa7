/* grpo/cli/viewer/server.c: the HTTP side of `grpo view` on libmicrohttpd (see server.h). Sections:
 * the embedded files, the headers every response carries, the request handler (method, Host, path,
 * then a file or the API), and starting and stopping. */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "assets.h"

struct viewer_server {
    struct MHD_Daemon *d;
    viewer_api *api;
    int loopback; /* bound to a loopback address: only loopback Host names are answered */
    int port;
};

/* ---------------------------------------------------------------- the embedded files */

static const struct {
    const char *path, *type;
    const char *data;
    size_t len;
} FILES[] = {
    {"/", "text/html; charset=utf-8", VIEWER_INDEX_HTML, sizeof VIEWER_INDEX_HTML - 1},
    {"/index.html", "text/html; charset=utf-8", VIEWER_INDEX_HTML, sizeof VIEWER_INDEX_HTML - 1},
    {"/app.js", "text/javascript; charset=utf-8", VIEWER_APP_JS, sizeof VIEWER_APP_JS - 1},
    {"/app.css", "text/css; charset=utf-8", VIEWER_APP_CSS, sizeof VIEWER_APP_CSS - 1},
};

/* ---------------------------------------------------------------- responses */

/* Scripts and styles only from this server, no inline script, no frames, no plugins, no forms
 * posting elsewhere: model text that slipped into markup still could not run. */
static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                          " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* Queues body (copied) with status and the headers every response carries. */
static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t len,
                               int cache) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cache-Control", cache ? "max-age=60" : "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Responds with {"error": msg, "status": status}. */
static enum MHD_Result fail(struct MHD_Connection *c, unsigned status, const char *msg) {
    json_t *o = json_pack("{s:s,s:i}", "error", msg, "status", (int)status);
    char *b = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    enum MHD_Result ok = respond(c, status, "application/json; charset=utf-8", b ? b : "{}", b ? strlen(b) : 2, 0);
    free(b);
    return ok;
}

/* ---------------------------------------------------------------- requests */

/* Collects one query parameter into the viewer_query cls. */
static enum MHD_Result add_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    viewer_query *q = cls;
    if (q->n == VIEWER_MAX_PARAMS) {
        q->overflow = 1;
        return MHD_NO;
    }
    q->key[q->n] = key;
    q->val[q->n++] = value ? value : "";
    return MHD_YES;
}

/* 1 when the (decoded) path has a ".." segment, a backslash or a NUL-free oddity that could climb. */
static int climbs(const char *url) {
    if (strchr(url, '\\')) return 1;
    for (const char *p = url; (p = strstr(p, "..")); p += 2)
        if ((p == url || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) return 1;
    return 0;
}

/* 1 when the Host header names a loopback address (a defence against DNS rebinding). */
static int loopback_host(struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!h) return 0;
    static const char *const OK[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) {
        size_t n = strlen(OK[i]);
        if (!strncmp(h, OK[i], n) && (h[n] == '\0' || h[n] == ':')) return 1;
    }
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state) {
    viewer_server *s = cls;
    if (!*state) { /* the first call only announces the request; answer on the second */
        *state = s;
        return MHD_YES;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) return fail(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
    if (*upload_size) return fail(c, MHD_HTTP_BAD_REQUEST, "a GET request has no body");
    if (s->loopback && !loopback_host(c))
        return fail(c, MHD_HTTP_FORBIDDEN, "the Host header must name this machine (127.0.0.1 or localhost)");
    if (climbs(url)) return fail(c, MHD_HTTP_BAD_REQUEST, "path traversal refused");
    if (!strncmp(url, "/api/", 5)) {
        viewer_query q = {0};
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_param, &q);
        char *body = NULL;
        int status = viewer_api_get(s->api, url + 5, &q, &body);
        if (!body) return fail(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        enum MHD_Result ok = respond(c, (unsigned)status, "application/json; charset=utf-8", body, strlen(body), 0);
        free(body);
        return ok;
    }
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++)
        if (!strcmp(url, FILES[i].path)) return respond(c, MHD_HTTP_OK, FILES[i].type, FILES[i].data, FILES[i].len, 1);
    return fail(c, MHD_HTTP_NOT_FOUND, "no such page");
}

/* ---------------------------------------------------------------- starting and stopping */

int viewer_host_is_loopback(const char *host) {
    struct in_addr a;
    if (!strcmp(host, "localhost")) return 1;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

int viewer_server_start(viewer_server **out, viewer_api *api, const char *host, int port, grpo_err *err) {
    *out = NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    const char *ip = strcmp(host, "localhost") ? host : "127.0.0.1";
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return grpo_errf(err, GRPO_EINVAL, "--host %s: not an IPv4 address (or localhost)", host);
    if (port < 0 || port > 65535) return grpo_errf(err, GRPO_EINVAL, "--port %d: not a port (0 to 65535)", port);
    viewer_server *s = calloc(1, sizeof *s);
    if (!s) return grpo_errf(err, GRPO_ENOMEM, "out of memory");
    s->api = api;
    s->loopback = viewer_host_is_loopback(host);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, handle, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return grpo_errf(err, GRPO_EIO, "cannot listen on %s:%d (in use, or not an address of this machine)", host, port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return GRPO_OK;
}

int viewer_server_port(const viewer_server *s) { return s->port; }

void viewer_server_stop(viewer_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->d);
    free(s);
}
