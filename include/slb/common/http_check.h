/* http_check: the one rule of an HTTP health check, shared by slb's probes (control/probe.c)
 * and slb-agent's local check (agent/svc_check.c): the request both send, and how both judge
 * the answer's status line. Pure functions over bytes; the callers own the sockets.
 *
 * The request is "GET PATH HTTP/1.1" with Host, User-Agent and "Connection: close": a server
 * must accept HTTP/1.1 (RFC 9112), while some refuse HTTP/1.0 outright (Envoy answers 426 by
 * default), which would fail a healthy backend. The answer passes when it starts with
 * "HTTP/1.0 " or "HTTP/1.1 ", then a status code of three digits in 100-599 and then a space,
 * "\r", "\n" or the end of what the server sent; a 2xx code passes, any other fails. */
#ifndef SLB_HTTP_CHECK_H
#define SLB_HTTP_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "slb/common/addr.h"

/* Writes the check's request for path (starting with '/') to host, naming agent as the
 * User-Agent, into buf (size bytes). Returns its length, or 0 when it does not fit. */
size_t http_check_request(char *buf, size_t size, const char *path, const struct slb_addr *host,
			  const char *agent);

/* Reads the status code at the start of resp[0..len): the first bytes of an answer, up to
 * and past its first line, or everything the server sent before closing. Returns the code
 * (100-599), or 0 when the bytes do not start with a status line by the rule above. */
int http_check_status(const char *resp, size_t len);

/* True when a code returned by http_check_status passes the check: 2xx. */
bool http_check_passes(int status);

#endif
