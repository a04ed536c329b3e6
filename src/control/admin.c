/* admin: a deliberately small HTTP/1.0 server on the health loop: one request per connection
 * (head, then a body of at most ADMIN_REQ_BODY_MAX bytes), answered by admin_api.c and
 * closed ("Connection: close"); or, for GET /events/stream, a long-lived server-sent event
 * stream. It runs on the health thread, so it reads and changes the table without locks, and
 * a slow client can cost at most ADMIN_CONNS_MAX buffers and ADMIN_REQUEST_TIMEOUT_MS +
 * ADMIN_TIMEOUT_MS; a subscriber at most ADMIN_STREAM_BUF_MAX, and it is dropped, never
 * waited for, when it falls that far behind.
 *
 * Idle connections cannot lock a scrape out: a request must arrive within
 * ADMIN_REQUEST_TIMEOUT_MS (HAProxy's "timeout http-request"), and with the table full a
 * newcomer takes the place of the oldest connection that has not sent a whole request yet
 * (nginx closes its oldest "reusable" connections, those still waiting for a request, when it
 * runs out of connections), so whoever holds idle connections only pushes out their own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin_server.h"
#include "slb/common/log.h"
#include "slb/common/snapshot.h"

enum admin_phase {
	ADMIN_READING = 0, /* until the whole request (head and body) is in */
	ADMIN_WRITING,     /* the answer is built; closed once it is sent */
	ADMIN_STREAMING,   /* an /events/stream subscriber: events are queued as they happen */
};

struct admin_conn {
	struct hl_handler h;
	struct admin_server *srv;
	enum admin_phase phase;
	bool want_out;             /* streaming: EPOLLOUT armed while bytes wait */
	int64_t deadline_ms;       /* reading, writing: closed past it; streaming: next ping */
	size_t in_len;
	size_t out_off;            /* bytes of out already sent */
	struct abuf out;
	struct slb_addr peer;
	char in[ADMIN_REQ_MAX + ADMIN_REQ_BODY_MAX];
};

struct admin_server {
	struct hl_listener listener;
	struct admin_auth auth;
	unsigned n_streams;        /* connections in ADMIN_STREAMING */
	bool handing_over;         /* a binary upgrade: the new process accepts, this one answers */
};

static void conn_free(struct hl_handler *h)
{
	struct admin_conn *c = (struct admin_conn *)h;

	abuf_free(&c->out);
	free(c);
}

static void conn_close(struct health_ctx *ctx, struct admin_conn *c)
{
	if (c->h.dead)
		return;
	if (c->phase == ADMIN_STREAMING)
		c->srv->n_streams--;
	hl_conn_close(ctx, &c->h);
}

/* Sends what it can of out. Returns 0, or -errno when the connection is gone. */
static int conn_send(struct admin_conn *c)
{
	long n = hl_send(c->h.fd, c->out.p + c->out_off, c->out.len - c->out_off);

	if (n < 0)
		return (int)n;
	c->out_off += (size_t)n;
	return 0;
}

/* Sends what is left. Once all is out, a half close tells the client the response is done;
 * then the request bytes still unread are drained, so close() does not turn into a RST that
 * could destroy the response in flight. */
static void conn_flush(struct health_ctx *ctx, struct admin_conn *c)
{
	char sink[256];

	if (conn_send(c)) {
		conn_close(ctx, c);
		return;
	}
	if (c->out_off < c->out.len)
		return;
	shutdown(c->h.fd, SHUT_WR);
	for (unsigned i = 0; i < 16 && read(c->h.fd, sink, sizeof(sink)) > 0; i++)
		;
	conn_close(ctx, c);
}

static const char *status_text(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 503:
		return "Service Unavailable";
	}
	return "Internal Server Error";
}

static void conn_head(struct admin_conn *c, int code, const char *ctype, const struct admin_answer *a)
{
	abuf_printf(&c->out, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nConnection: close\r\nCache-Control: no-store\r\n",
		    code, status_text(code), ctype);
	if (a && a->allow)
		abuf_printf(&c->out, "Allow: %s\r\n", a->allow);
	if (code == 401)
		abuf_printf(&c->out, "WWW-Authenticate: Bearer realm=\"slb\"\r\n");
}

/* Queues the whole answer; a connection only writes from now on. It goes out on the next
 * loop turn's EPOLLOUT, not now: after the health thread has published what this request
 * changed, so a client that connects once the answer is read meets the new snapshot. */
static void conn_answer(struct health_ctx *ctx, struct admin_conn *c, const struct admin_answer *a)
{
	const char *body = a->fixed ? a->fixed : a->body.p;
	size_t len = a->fixed ? a->fixed_len : a->body.len;

	conn_head(c, a->code, a->ctype, a);
	abuf_printf(&c->out, "Content-Length: %zu\r\n\r\n", len);
	abuf_append(&c->out, body, len);
	c->phase = ADMIN_WRITING;
	c->deadline_ms = ctx->now_ms + ADMIN_TIMEOUT_MS;
	if (hl_mod(ctx, &c->h, EPOLLOUT))
		conn_close(ctx, c);
}

/* A refusal before any route was looked at (malformed, too large, a full house), as
 * {"error":"..."} like every answer of the API. */
static void conn_refuse(struct health_ctx *ctx, struct admin_conn *c, int code, const char *why)
{
	struct admin_answer a = { .code = code, .ctype = "application/json" };

	abuf_init(&a.body, 256);
	abuf_printf(&a.body, "{\"error\":");
	abuf_json_str(&a.body, why);
	abuf_printf(&a.body, "}\n");
	conn_answer(ctx, c, &a);
	abuf_free(&a.body);
}

/* ---- /events/stream subscribers ---- */

/* Streaming: the unsent bytes move to the front, and EPOLLOUT is armed only while some wait. */
static void stream_flush(struct health_ctx *ctx, struct admin_conn *c)
{
	bool want;

	if (conn_send(c)) {
		conn_close(ctx, c);
		return;
	}
	memmove(c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
	c->out.len -= c->out_off;
	c->out_off = 0;
	want = c->out.len != 0;
	if (want != c->want_out && hl_mod(ctx, &c->h, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0)))
		conn_close(ctx, c);
	c->want_out = want;
}

/* A subscriber that cannot take len more bytes is behind by ADMIN_STREAM_BUF_MAX: dropped. */
static void stream_queue(struct health_ctx *ctx, struct admin_conn *c, const char *text, size_t len)
{
	char peer[ADDR_TEXT_MAX];

	if (c->out.len + len >= ADMIN_STREAM_BUF_MAX) {
		slb_log_limited(LOG_WARN, 0, "admin: event subscriber %s is %zu bytes behind, dropping it",
				addr_format(&c->peer, peer, sizeof(peer)), c->out.len);
		conn_close(ctx, c);
		return;
	}
	abuf_append(&c->out, text, len);
	stream_flush(ctx, c);
}

static void stream_format(struct abuf *out, const struct slb_event *e)
{
	abuf_printf(out, "id: %llu\nevent: state\ndata: ", (unsigned long long)e->seq);
	admin_render_event(out, e);
	abuf_printf(out, "\n\n");
}

/* The head, then the events after since still held, then whatever happens from now on. */
static void stream_start(struct health_ctx *ctx, struct admin_conn *c, uint64_t since)
{
	const struct slb_event *e = events_after(ctx->events, since);
	int sndbuf = ADMIN_STREAM_SNDBUF;

	/* A fixed send buffer: autotuning would let the kernel hold megabytes for a subscriber
	 * that does not read, and hide from us how far behind it is. */
	setsockopt(c->h.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	abuf_free(&c->out);
	c->out.max = ADMIN_STREAM_BUF_MAX;
	conn_head(c, 200, "text/event-stream", NULL);
	abuf_printf(&c->out, "\r\nretry: 1000\n\n");
	/* The replay leaves room for live events; older ones are in GET /events. */
	for (; e && c->out.len < ADMIN_STREAM_BUF_MAX / 2; e = events_after(ctx->events, e->seq))
		stream_format(&c->out, e);
	c->phase = ADMIN_STREAMING;
	c->srv->n_streams++;
	c->deadline_ms = ctx->now_ms + ADMIN_STREAM_PING_MS;
	c->want_out = false;
	stream_flush(ctx, c);
}

void admin_publish_event(struct health_ctx *ctx, const struct slb_event *e)
{
	struct hl_handler *h, *next;
	struct abuf text;

	if (!ctx->admin || !ctx->admin->n_streams)
		return;
	abuf_init(&text, 4096);
	stream_format(&text, e);
	for (h = ctx->admin->listener.head; h && !text.overflow; h = next) {
		next = h->next;
		if (((struct admin_conn *)h)->phase == ADMIN_STREAMING)
			stream_queue(ctx, (struct admin_conn *)h, text.p, text.len);
	}
	abuf_free(&text);
}

/* A subscriber sends nothing more; reading notices it leaving. */
static void stream_read(struct health_ctx *ctx, struct admin_conn *c)
{
	char sink[256];
	ssize_t n = read(c->h.fd, sink, sizeof(sink));

	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		conn_close(ctx, c);
}

/* ---- requests ---- */

static void conn_dispatch(struct health_ctx *ctx, struct admin_conn *c, const struct admin_request *req,
			  size_t head)
{
	struct admin_answer a;

	admin_api_answer(ctx, &c->srv->auth, req, c->in + head, req->content_length, &c->peer, &a);
	if (a.stream && c->srv->n_streams >= ADMIN_STREAMS_MAX)
		conn_refuse(ctx, c, 503, "too many event subscribers");
	else if (a.stream)
		stream_start(ctx, c, a.since);
	else
		conn_answer(ctx, c, &a);
	abuf_free(&a.body);
}

/* Answers once admin_parse_request has a whole head and its body is in, or has refused the
 * bytes so far. */
static void conn_read(struct health_ctx *ctx, struct admin_conn *c)
{
	ssize_t n = read(c->h.fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	struct admin_request req;
	int rc;

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(ctx, c);
		return;
	}
	c->in_len += (size_t)n;
	rc = admin_parse_request(c->in, c->in_len, &req);
	if (rc == -EFBIG)
		conn_refuse(ctx, c, 413, "request body over 1024 bytes");
	else if (rc < 0)
		conn_refuse(ctx, c, 400, "malformed request");
	else if (rc > 0 && c->in_len >= (size_t)rc + req.content_length)
		conn_dispatch(ctx, c, &req, (size_t)rc);
}

static void conn_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	struct admin_conn *c = (struct admin_conn *)h;

	if (c->phase == ADMIN_WRITING) {
		conn_flush(ctx, c);
		return;
	}
	if (c->phase == ADMIN_READING) {
		conn_read(ctx, c);
		return;
	}
	if (events & EPOLLOUT)
		stream_flush(ctx, c);
	if (!c->h.dead && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		stream_read(ctx, c);
}

static void conn_open(struct health_ctx *ctx, struct hl_listener *l, int fd, const struct slb_addr *peer)
{
	struct admin_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		slb_log_limited(LOG_WARN, ENOMEM, "admin: refusing a connection");
		close(fd);
		return;
	}
	c->h.on_event = conn_on_event;
	c->h.free = conn_free;
	c->h.fd = fd;
	c->srv = (struct admin_server *)l;
	c->peer = *peer;
	c->deadline_ms = ctx->now_ms + ADMIN_REQUEST_TIMEOUT_MS;
	abuf_init(&c->out, ADMIN_BODY_MAX + 512);
	if (hl_add(ctx, &c->h, EPOLLIN | EPOLLRDHUP)) {
		close(fd);
		free(c);
		return;
	}
	hl_conn_link(l, &c->h);
}

/* The table is full: the oldest connection still short of a whole request makes room; one
 * being answered keeps its place (it is done within ADMIN_TIMEOUT_MS anyway), and so does a
 * subscriber (there are at most ADMIN_STREAMS_MAX). */
static bool conn_evict(struct health_ctx *ctx, struct hl_listener *l)
{
	for (struct hl_handler *h = l->head; h; h = h->next) {
		if (((struct admin_conn *)h)->phase != ADMIN_READING)
			continue;
		slb_log_limited(LOG_WARN, 0, "admin: %u connections open, closing the oldest without a request",
				l->n);
		conn_close(ctx, (struct admin_conn *)h);
		return true;
	}
	return false;
}

static int admin_load_token(struct health_ctx *ctx, struct admin_server *srv, char *err, size_t errlen)
{
	const char *path = ctx->cfg->admin_token_file;
	int rc;

	if (!path[0])
		return 0;
	rc = admin_auth_load(path, &srv->auth, err, errlen);
	if (!rc)
		slb_log(LOG_INFO, 0, "admin: changes need the token in %s", path);
	return rc;
}

int admin_open(struct health_ctx *ctx, int fd, char *err, size_t errlen)
{
	struct admin_server *srv = calloc(1, sizeof(*srv));
	int e;

	if (!srv) {
		snprintf(err, errlen, "admin: out of memory");
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	srv->listener.what = "admin";
	srv->listener.max_conns = ADMIN_CONNS_MAX;
	srv->listener.accept = conn_open;
	srv->listener.evict = conn_evict;
	e = admin_load_token(ctx, srv, err, errlen);
	if (!e)
		e = hl_listener_open(ctx, &srv->listener, &ctx->cfg->admin, fd, err, errlen);
	else if (fd >= 0)
		close(fd);
	if (e) {
		sodium_memzero(&srv->auth, sizeof(srv->auth));
		free(srv);
		return e;
	}
	ctx->admin = srv;
	if (!addr_is_loopback(&ctx->cfg->admin)) {
		char text[ADDR_TEXT_MAX];

		slb_log(LOG_WARN, 0, "admin: %s can be reached from other hosts (--admin-public); reads need no token%s",
			addr_format(&ctx->cfg->admin, text, sizeof(text)),
			srv->auth.on ? "" : ", and changes are refused from other hosts without --admin-token-file");
	}
	return 0;
}

void admin_tick(struct health_ctx *ctx)
{
	struct hl_handler *h, *next;

	if (!ctx->admin)
		return;
	for (h = ctx->admin->listener.head; h; h = next) {
		struct admin_conn *c = (struct admin_conn *)h;

		next = h->next;
		if (ctx->now_ms < c->deadline_ms)
			continue;
		if (c->phase != ADMIN_STREAMING) {
			conn_close(ctx, c);
			continue;
		}
		c->deadline_ms = ctx->now_ms + ADMIN_STREAM_PING_MS;
		stream_queue(ctx, c, ": ping\n\n", 8);
	}
	hl_listener_tick(ctx, &ctx->admin->listener);
}

int admin_listen_fd(const struct health_ctx *ctx)
{
	return ctx->admin ? ctx->admin->listener.h.fd : -1;
}

/* The listening socket stays registered with no events: a connection waiting in its queue
 * stays there for the other process, which shares the socket, and nothing here is woken. */
int admin_hand_over_start(struct health_ctx *ctx)
{
	struct hl_listener *l;
	int e;

	if (!ctx->admin || ctx->admin->handing_over)
		return 0;
	l = &ctx->admin->listener;
	e = hl_mod(ctx, &l->h, 0);
	if (e)
		return e;
	l->paused_until_ms = 0; /* so that hl_listener_tick does not resume it */
	ctx->admin->handing_over = true;
	return 0;
}

int admin_hand_over_cancel(struct health_ctx *ctx)
{
	int e;

	if (!ctx->admin || !ctx->admin->handing_over)
		return 0;
	e = hl_mod(ctx, &ctx->admin->listener.h, EPOLLIN);
	if (!e)
		ctx->admin->handing_over = false;
	return e;
}

unsigned admin_requests_open(const struct health_ctx *ctx)
{
	unsigned n = 0;

	if (!ctx->admin)
		return 0;
	for (const struct hl_handler *h = ctx->admin->listener.head; h; h = h->next)
		if (((const struct admin_conn *)h)->phase != ADMIN_STREAMING)
			n++;
	return n;
}

void admin_close(struct health_ctx *ctx)
{
	if (!ctx->admin)
		return;
	hl_listener_close(ctx, &ctx->admin->listener);
	sodium_memzero(&ctx->admin->auth, sizeof(ctx->admin->auth));
	free(ctx->admin);
	ctx->admin = NULL;
}
