/* admin: a deliberately tiny HTTP/1.0 server on the health loop: one request per connection,
 * bounded in size and time, answered from the renderers and closed ("Connection: close").
 * It runs on the health thread, so it reads the table without locks, and a slow client can
 * cost at most ADMIN_CONNS_MAX buffers and ADMIN_REQUEST_TIMEOUT_MS + ADMIN_TIMEOUT_MS.
 *
 * Idle connections cannot lock a scrape out: a request head must arrive within
 * ADMIN_REQUEST_TIMEOUT_MS (HAProxy's "timeout http-request"), and with the table full a
 * newcomer takes the place of the oldest connection that has not sent a whole request yet
 * (nginx closes its oldest "reusable" connections, those still waiting for a request, when it
 * runs out of connections), so whoever holds idle connections only pushes out their own. */
#include "slb/control/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin_server.h"
#include "slb/common/log.h"

struct admin_conn {
	struct hl_handler h;
	int64_t deadline_ms;       /* for the request head, then for sending the response */
	bool writing;              /* the response is built; only EPOLLOUT matters now */
	size_t in_len;
	size_t out_off;
	struct abuf out;
	char in[ADMIN_REQ_MAX];
};

struct admin_server {
	struct hl_listener listener;
};

static void conn_free(struct hl_handler *h)
{
	struct admin_conn *c = (struct admin_conn *)h;

	abuf_free(&c->out);
	free(c);
}

/* Sends what is left. Once all is out, a half close tells the client the response is done;
 * then the request bytes still unread are drained, so close() does not turn into a RST that
 * could destroy the response in flight. */
static void conn_flush(struct health_ctx *ctx, struct admin_conn *c)
{
	char sink[256];
	long n = hl_send(c->h.fd, c->out.p + c->out_off, c->out.len - c->out_off);

	if (n < 0) {
		hl_conn_close(ctx, &c->h);
		return;
	}
	c->out_off += (size_t)n;
	if (c->out_off < c->out.len)
		return;
	shutdown(c->h.fd, SHUT_WR);
	for (unsigned i = 0; i < 16 && read(c->h.fd, sink, sizeof(sink)) > 0; i++)
		;
	hl_conn_close(ctx, &c->h);
}

static void conn_respond(struct health_ctx *ctx, struct admin_conn *c, int code, const char *ctype,
			 const struct abuf *body)
{
	static const char *const texts[] = { [0] = "OK", [1] = "Bad Request", [2] = "Not Found",
					     [3] = "Internal Server Error" };
	const char *text = code == 200 ? texts[0] : code == 400 ? texts[1] : code == 404 ? texts[2] : texts[3];
	size_t blen = body ? body->len : strlen(text) + 1;

	abuf_printf(&c->out,
		    "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
		    "Cache-Control: no-store\r\n\r\n",
		    code, text, ctype, blen);
	if (body)
		abuf_append(&c->out, body->p, body->len);
	else
		abuf_printf(&c->out, "%s\n", text);
	c->writing = true;
	c->deadline_ms = ctx->now_ms + ADMIN_TIMEOUT_MS;
	if (hl_mod(ctx, &c->h, EPOLLOUT)) {
		hl_conn_close(ctx, &c->h);
		return;
	}
	conn_flush(ctx, c);
}

static void conn_route(struct health_ctx *ctx, struct admin_conn *c, const char *path, size_t len)
{
	struct admin_view v = { ctx->table, ctx->channels, ctx->n_channels, ctx->now_ms, ctx->gray };
	const char *ctype = "text/plain; version=0.0.4; charset=utf-8";
	struct abuf body;
	int rc;

	if (len == 7 && memcmp(path, "/status", 7) == 0) {
		ctype = "application/json";
		abuf_init(&body, ADMIN_BODY_MAX);
		rc = admin_render_status(&body, &v);
	} else if (len == 8 && memcmp(path, "/metrics", 8) == 0) {
		abuf_init(&body, ADMIN_BODY_MAX);
		rc = admin_render_metrics(&body, &v);
	} else {
		conn_respond(ctx, c, 404, "text/plain", NULL);
		return;
	}
	if (rc)
		slb_log_limited(LOG_WARN, rc, "admin: response over %u bytes", ADMIN_BODY_MAX);
	conn_respond(ctx, c, rc ? 500 : 200, rc ? "text/plain" : ctype, rc ? NULL : &body);
	abuf_free(&body);
}

/* Answers once admin_parse_request has a whole head, or has refused the bytes so far. */
static void conn_read(struct health_ctx *ctx, struct admin_conn *c)
{
	ssize_t n = read(c->h.fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	struct admin_request req;
	int rc;

	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		hl_conn_close(ctx, &c->h);
		return;
	}
	c->in_len += (size_t)n;
	rc = admin_parse_request(c->in, c->in_len, &req);
	if (rc < 0)
		conn_respond(ctx, c, 400, "text/plain", NULL);
	else if (rc > 0 && req.method != ADMIN_METHOD_GET)
		conn_respond(ctx, c, 404, "text/plain", NULL);
	else if (rc > 0)
		conn_route(ctx, c, req.path, req.path_len);
}

static void conn_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	struct admin_conn *c = (struct admin_conn *)h;

	if (c->writing)
		conn_flush(ctx, c);
	else
		conn_read(ctx, c);
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
 * being answered keeps its place (it is done within ADMIN_TIMEOUT_MS anyway). */
static bool conn_evict(struct health_ctx *ctx, struct hl_listener *l)
{
	for (struct hl_handler *h = l->head; h; h = h->next) {
		if (((struct admin_conn *)h)->writing)
			continue;
		slb_log_limited(LOG_WARN, 0, "admin: %u connections open, closing the oldest without a request",
				l->n);
		hl_conn_close(ctx, h);
		return true;
	}
	return false;
}

int admin_open(struct health_ctx *ctx, char *err, size_t errlen)
{
	struct admin_server *srv = calloc(1, sizeof(*srv));
	int e;

	if (!srv) {
		snprintf(err, errlen, "admin: out of memory");
		return -ENOMEM;
	}
	srv->listener.what = "admin";
	srv->listener.max_conns = ADMIN_CONNS_MAX;
	srv->listener.accept = conn_open;
	srv->listener.evict = conn_evict;
	e = hl_listener_open(ctx, &srv->listener, &ctx->cfg->admin, err, errlen);
	if (e) {
		free(srv);
		return e;
	}
	ctx->admin = srv;
	if (!addr_is_loopback(&ctx->cfg->admin)) {
		char text[ADDR_TEXT_MAX];

		slb_log(LOG_WARN, 0, "admin: %s can be reached from other hosts (--admin-public) and has no "
			"authentication", addr_format(&ctx->cfg->admin, text, sizeof(text)));
	}
	return 0;
}

void admin_tick(struct health_ctx *ctx)
{
	struct hl_handler *h, *next;

	if (!ctx->admin)
		return;
	for (h = ctx->admin->listener.head; h; h = next) {
		next = h->next;
		if (ctx->now_ms >= ((struct admin_conn *)h)->deadline_ms)
			hl_conn_close(ctx, h);
	}
	hl_listener_tick(ctx, &ctx->admin->listener);
}

void admin_close(struct health_ctx *ctx)
{
	if (!ctx->admin)
		return;
	hl_listener_close(&ctx->admin->listener);
	free(ctx->admin);
	ctx->admin = NULL;
}
