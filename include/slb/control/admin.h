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
#include "slb/control/events.h"
#include "slb/control/gray.h"

#define ADMIN_REQ_MAX 4096          /* a request (line and headers) larger than this is refused */
#define ADMIN_REQ_BODY_MAX 1024     /* a request body (the API's JSON) larger than this: 413 */
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
/* Appends s as a JSON string: quoted, with quotes, backslashes and control bytes escaped. */
void abuf_json_str(struct abuf *b, const char *s);

/* A parsed request head: the method, the target, and the headers that matter. */
enum admin_method {
	ADMIN_METHOD_OTHER = 0, /* anything else: 405 on a known path, 404 elsewhere */
	ADMIN_METHOD_GET,
	ADMIN_METHOD_POST,
	ADMIN_METHOD_PUT,
	ADMIN_METHOD_DELETE,
};

struct admin_request {
	enum admin_method method;
	const char *path;      /* known methods only: into the caller's buffer, not NUL-terminated */
	size_t path_len;       /* 0 for "GET " with nothing after it */
	const char *query;     /* after '?', without it; NULL when there is none */
	size_t query_len;
	const char *auth;      /* the Authorization header's value, trimmed; NULL when absent */
	size_t auth_len;
	size_t content_length; /* body bytes after the head; 0 without Content-Length */
	bool has_length;
};

/* Parses the request head in buf[0..len): the bytes read so far on one connection, so it is
 * called again as more arrive. A head ends at the first "\r\n\r\n" or "\n\n"; the request
 * line is "METHOD SP PATH[?QUERY][ SP VERSION]", then "Name: value" header lines; a METHOD
 * other than GET, POST, PUT and DELETE is ADMIN_METHOD_OTHER, its path read all the same. Bytes past
 * ADMIN_REQ_MAX are not looked at. Returns the head's length (> 0) with out filled, 0 when the
 * head is not complete yet, -EMSGSIZE when ADMIN_REQ_MAX bytes hold no complete head, -EINVAL
 * for a request line without a space, a header line without a colon, a Content-Length that is
 * not 1-9 digits or given twice, or any Transfer-Encoding (all answered 400), or -EFBIG for a
 * Content-Length over ADMIN_REQ_BODY_MAX (413). On an error out is all zero. Pure: reads only
 * buf, keeps no state; out's pointers point into buf. */
int admin_parse_request(const char *buf, size_t len, struct admin_request *out);

/* What the renderers read. Counters are summed over channels with relaxed loads. */
struct admin_view {
	const struct backend_table *table;
	struct worker_channel *const *channels;
	unsigned n_channels;
	int64_t now_ms;                 /* for "last_heartbeat_ms": age of the last heartbeat */
	const struct gray_board *gray;  /* for "phi"; NULL: phi shown as null */
	bool per_worker;                /* /status?per_worker=1: each backend's latency per worker too */
	const struct slb_config *cfg;   /* names each backend's service; NULL: every one is "default" */
	int service;                    /* /status?service=NAME: only its backends; -1: all */
};

/* Append the /status JSON document or the /metrics text to out. Return 0, or -ENOSPC when
 * out overflowed (the text is then truncated and must not be sent). */
int admin_render_status(struct abuf *out, const struct admin_view *v);
int admin_render_metrics(struct abuf *out, const struct admin_view *v);

/* Appends one backend as the JSON object /status lists (and the runtime API answers with). */
void admin_render_backend(struct abuf *out, const struct admin_view *v, const struct backend *b);

/* Appends one event as a JSON object: seq, time_ms, id, address, name, old, new, reason. */
void admin_render_event(struct abuf *out, const struct slb_event *e);

/* Appends {"last_seq":N,"events":[...]}: the events after since still held, oldest first.
 * Returns 0, or -ENOSPC when out overflowed. */
int admin_render_events(struct abuf *out, const struct event_ring *r, uint64_t since);

/* Why GET /ready would say no, most important first; READY_YES when it says yes. */
enum admin_ready {
	READY_YES = 0,
	READY_DRAINING,  /* SIGTERM came */
	READY_STARTING,  /* heartbeat backends may not all have registered yet */
	READY_NO_BACKEND,
};

/* GET /ready, for a route announcer (docs/scale-out.md): appends one line to out and returns
 * the status: 200 ("ready: N live backends") for READY_YES, else 503 with the reason
 * ("not ready: draining", "not ready: starting", "not ready: no live backend"). */
int admin_render_ready(struct abuf *out, enum admin_ready why, uint32_t n_live);

#endif
