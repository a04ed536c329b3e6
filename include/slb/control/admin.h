/* admin: the operator's view on the health thread's loop: GET /status (JSON) and GET /metrics
 * (Prometheus text), over a tiny HTTP/1.0 server. The renderers are pure functions of the
 * table and the workers' counters, so they are tested without sockets. */
#ifndef SLB_ADMIN_H
#define SLB_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/channel.h"
#include "slb/control/backend_table.h"
#include "slb/control/gray.h"

#define ADMIN_REQ_MAX 4096          /* a request (line and headers) larger than this is refused */
#define ADMIN_CONNS_MAX 64          /* past it the oldest without a whole request is closed */
#define ADMIN_REQUEST_TIMEOUT_MS 3000 /* a request head must arrive within this of the accept */
#define ADMIN_TIMEOUT_MS 5000       /* and the response must then be sent within this */
#define ADMIN_BODY_MAX (8u << 20)   /* cap on one response body */

/* A growable text buffer with a hard cap; once an append would pass the cap it keeps what
 * it has and sets overflow, so renderers need no error path per line. */
struct abuf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
	bool overflow;  /* an append was refused (cap reached or ENOMEM) */
};

/* An empty buffer that may grow to max bytes (its NUL included); no allocation yet. */
void abuf_init(struct abuf *b, size_t max);
/* Frees the text and leaves b empty with the same cap. */
void abuf_free(struct abuf *b);
/* Append formatted text / n bytes. On overflow b->overflow is set and b keeps its earlier
 * text, NUL-terminated (b->p is NULL only while nothing was ever appended). */
void abuf_printf(struct abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void abuf_append(struct abuf *b, const char *s, size_t n);

/* A parsed request head. Only the method and the path matter; headers are skipped. */
enum admin_method {
	ADMIN_METHOD_OTHER = 0, /* anything but GET: answered 404, like an unknown path */
	ADMIN_METHOD_GET,
};

struct admin_request {
	enum admin_method method;
	const char *path;  /* GET only: into the caller's buffer, not NUL-terminated, query cut off */
	size_t path_len;   /* 0 for "GET " with nothing after it */
};

/* Parses the request head in buf[0..len): the bytes read so far on one connection, so it is
 * called again as more arrive. A head ends at the first "\r\n\r\n" or "\n\n"; the request
 * line is "METHOD SP PATH[?QUERY][ SP VERSION]". Bytes past ADMIN_REQ_MAX are not looked at.
 * Returns the head's length (> 0) with out filled, 0 when the head is not complete yet,
 * -EMSGSIZE when ADMIN_REQ_MAX bytes hold no complete head, or -EINVAL when the request line
 * has no space (both are answered 400). Pure: reads only buf, keeps no state; out->path
 * points into buf. */
int admin_parse_request(const char *buf, size_t len, struct admin_request *out);

/* What the renderers read. Counters are summed over channels with relaxed loads. */
struct admin_view {
	const struct backend_table *table;
	struct worker_channel *const *channels;
	unsigned n_channels;
	int64_t now_ms;                 /* for "last_heartbeat_ms": age of the last heartbeat */
	const struct gray_board *gray;  /* for "phi"; NULL: phi shown as null */
};

/* Append the /status JSON document or the /metrics text to out. Return 0, or -ENOSPC when
 * out overflowed (the text is then truncated and must not be sent). */
int admin_render_status(struct abuf *out, const struct admin_view *v);
int admin_render_metrics(struct abuf *out, const struct admin_view *v);

#endif
