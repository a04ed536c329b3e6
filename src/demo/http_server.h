/* http_server: the HTTP/1.1 keep-alive server of slb-backend: listener, connections,
 * request parsing and the three routes ("/", /health, /bytes/N), all on one evloop. */
#ifndef SLB_DEMO_HTTP_SERVER_H
#define SLB_DEMO_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop.h"
#include "slb/common/addr.h"

#define HTTP_BYTES_MAX (64u << 20) /* largest N served by GET /bytes/N */

struct http_server;

/* Byte i of every /bytes/N body; exported so tests can check what they received. */
char http_bytes_pattern(uint64_t i);

/* Listens on addr and serves on loop, answering as name (copied). health_failing starts
 * GET /health at 503. Returns 0 and the server in *out (owned by the caller, released with
 * http_server_close), or -errno with a one-line reason in err. */
int http_server_open(struct http_server **out, struct evloop *loop, const struct slb_addr *addr,
		     const char *name, bool health_failing, char *err, size_t errlen);

/* Flips GET /health between 200 and 503. Returns true when it now fails. */
bool http_server_toggle_health(struct http_server *srv);

/* Connections open right now, lingering ones included. */
unsigned http_server_conn_count(const struct http_server *srv);

/* Closes the listener and every connection and frees srv. */
void http_server_close(struct http_server *srv);

#endif
