/* ctl_http: the HTTP/1.0 client side of slb-ctl: one blocking request per connection to the
 * admin endpoint, or a server-sent event stream read line by line. Loopback or LAN only, so
 * every wait is bounded by a plain timeout; no TLS (the admin endpoint has none). */
#ifndef SLB_CTL_HTTP_H
#define SLB_CTL_HTTP_H

#include <stddef.h>

#include "slb/common/addr.h"

#define CTL_HTTP_TIMEOUT_MS 5000
#define CTL_HTTP_BODY_MAX (16u << 20) /* /status of a full table is far below this */

struct ctl_answer {
	int status;   /* HTTP status */
	char *body;   /* NUL-terminated, malloc'd: free with free() */
	size_t len;
};

/* What every request carries. */
struct ctl_target {
	struct slb_addr admin;
	const char *token;   /* NULL: no Authorization header */
};

/* Sends "METHOD path" with body (NULL: none) and reads the whole answer into a.
 * Returns 0, or -errno with a one-line reason in err (connect refused, timeout, a malformed
 * answer). */
int ctl_http_call(const struct ctl_target *t, const char *method, const char *path, const char *body,
		  struct ctl_answer *a, char *err, size_t errlen);

/* Percent-encodes every byte of s that is not unreserved (RFC 3986) into out, so that an
 * address such as "[::1]:80" can be a path segment. Returns out. */
char *ctl_http_encode(const char *s, char *out, size_t len);

/* Opens GET path as an event stream and calls on_data with each "data:" line's text until
 * the server closes. Returns 0 on a clean close, or -errno with err filled. */
int ctl_http_stream(const struct ctl_target *t, const char *path, void (*on_data)(const char *json, void *arg),
		    void *arg, char *err, size_t errlen);

#endif
