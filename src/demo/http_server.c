/* http_server: slb-backend's HTTP/1.1 server; see http_server.h.
 *
 * One struct conn per socket, driven by conn_run(): answer the requests already buffered
 * (pipelining) while the output buffer has room, send, and read more only once everything
 * is sent. Not reading while output is pending is the backpressure: a client that never
 * reads its answers fills its own socket buffers and stalls, never our memory. A /bytes
 * body is not buffered at all: it is sent straight from a static pattern as the socket
 * accepts it.
 *
 * Closed connections are parked on srv->dead and freed at the end of the loop turn, since
 * the same epoll batch may still hold an event that points at them. */
#include "http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "http_req.h"
#include "slb/common/log.h"

#define CONN_IN_MAX 16384       /* largest request head; more is 431 */
#define CONN_OUT_MAX 16384      /* pipelined answers buffered before a send */
#define RESP_MAX 512            /* one answer head plus a short body */
#define CONN_TURN_MAX 16        /* read/answer rounds per event before yielding */
#define SEND_BUDGET (1u << 20)  /* stream bytes per event before yielding */
#define ACCEPT_BATCH 64
#define SWEEP_MS 1000
#define IDLE_MS 120000          /* keep-alive connection with no traffic */
#define LINGER_MS 2000          /* after our FIN, wait this long for the client's */
#define NAME_MAX_LEN 64

/* Digits, lower, upper case and a newline: readable, and a period of 63 (not a power of
 * two) makes an offset error show up in any received body. */
static const char pattern_alphabet[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";
#define PATTERN_PERIOD (sizeof(pattern_alphabet) - 1)
#define PATTERN_CHUNK 65536
static char pattern[PATTERN_CHUNK + PATTERN_PERIOD];

enum conn_state {
	CONN_ACTIVE = 0,
	CONN_LINGER, /* answered with close: FIN sent, reading until the client's FIN */
	CONN_DEAD,   /* closed, waiting on srv->dead to be freed */
};

struct conn {
	struct ev_watch w;
	struct http_server *srv;
	struct conn *prev, *next; /* on srv->conns while open, on srv->dead once closed */
	enum conn_state state;
	int64_t last_ms;          /* last byte moved, for the idle and linger sweeps */
	bool close_after;         /* close once everything queued is sent */
	bool http10;              /* the request being answered is HTTP/1.0 */
	uint64_t discard;         /* request body bytes still to skip */
	uint64_t stream_left;     /* /bytes body bytes still to send */
	uint64_t stream_pos;      /* pattern offset of the next body byte */
	size_t in_off, in_len;    /* unparsed bytes are in[in_off .. in_off + in_len) */
	size_t out_off, out_len;  /* unsent bytes are out[out_off .. out_len) */
	char in[CONN_IN_MAX];
	char out[CONN_OUT_MAX];
};

struct http_server {
	struct evloop *loop;
	struct ev_watch listener;
	struct ev_watch sweep;    /* timerfd closing idle and lingering connections */
	int spare_fd;             /* given up to accept-and-close when out of fds */
	struct conn *conns;
	struct conn *dead;
	unsigned n_conns;
	bool health_failing;
	char name[NAME_MAX_LEN];
};

/* See http_server.h. */
char http_bytes_pattern(uint64_t i)
{
	return pattern_alphabet[i % PATTERN_PERIOD];
}

static void pattern_init(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = http_bytes_pattern(i);
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	struct http_server *srv = c->srv;
	int fd = c->w.fd;

	if (c->state == CONN_DEAD)
		return;
	evloop_del(srv->loop, &c->w);
	close(fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->state = CONN_DEAD;
	c->prev = NULL;
	c->next = srv->dead;
	srv->dead = c;
	srv->n_conns--;
}

static void conn_want(struct conn *c, uint32_t events)
{
	int rc = evloop_modify(c->srv->loop, &c->w, events);

	if (rc) {
		slb_log_limited(LOG_WARN, rc, "backend: epoll_ctl on a connection failed");
		conn_close(c);
	}
}

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* An HTTP/1.1 client assumes a persistent connection unless told to close; an HTTP/1.0
 * client assumes the opposite, so a kept-alive answer to it must say so, or it waits for a
 * close that never comes (ab -k does). */
static const char *conn_header(const struct conn *c)
{
	if (c->close_after)
		return "Connection: close\r\n";
	return c->http10 ? "Connection: keep-alive\r\n" : "";
}

/* Queues one answer head, and body unless HEAD. The room check is done by the caller:
 * RESP_MAX bytes are free in out. */
static void conn_reply(struct conn *c, bool head_only, int status, const char *body,
		       uint64_t length)
{
	char *dst = c->out + c->out_len;
	size_t room = CONN_OUT_MAX - c->out_len;
	int n;

	n = snprintf(dst, room,
		     "HTTP/1.1 %d %s\r\nServer: slb-backend\r\nX-Backend: %s\r\n"
		     "Content-Type: text/plain\r\nContent-Length: %llu\r\n%s\r\n%s",
		     status, http_reason(status), c->srv->name, (unsigned long long)length,
		     conn_header(c), head_only || !body ? "" : body);
	if (n < 0 || (size_t)n >= room) {
		/* Cannot happen with NAME_MAX_LEN and the fixed bodies; never send half a head. */
		c->close_after = true;
		return;
	}
	c->out_len += (size_t)n;
}

static bool path_is(const struct http_req *req, const char *path)
{
	return req->path_len == strlen(path) && memcmp(req->path, path, req->path_len) == 0;
}

static void conn_route_bytes(struct conn *c, const struct http_req *req)
{
	static const char prefix[] = "/bytes/";
	char num[16];
	size_t len = req->path_len - (sizeof(prefix) - 1);
	unsigned long n;

	if (len == 0 || len >= sizeof(num)) {
		conn_reply(c, req->head, 400, "bad size\n", 9);
		return;
	}
	memcpy(num, req->path + sizeof(prefix) - 1, len);
	num[len] = '\0';
	if (cli_parse_ulong(num, 0, HTTP_BYTES_MAX, &n)) {
		conn_reply(c, req->head, 400, "bad size\n", 9);
		return;
	}
	conn_reply(c, req->head, 200, NULL, n);
	if (!req->head) {
		c->stream_left = n;
		c->stream_pos = 0;
	}
}

static void conn_route(struct conn *c, const struct http_req *req)
{
	char body[NAME_MAX_LEN + 16];
	int n;

	if (path_is(req, "/health")) {
		if (c->srv->health_failing)
			conn_reply(c, req->head, 503, "failing\n", 8);
		else
			conn_reply(c, req->head, 200, "ok\n", 3);
		return;
	}
	if (req->path_len > 7 && memcmp(req->path, "/bytes/", 7) == 0) {
		conn_route_bytes(c, req);
		return;
	}
	n = snprintf(body, sizeof(body), "backend %s\n", c->srv->name);
	conn_reply(c, req->head, 200, body, (uint64_t)n);
}

static void conn_consume(struct conn *c, size_t n)
{
	c->in_off += n;
	c->in_len -= n;
	if (c->in_len == 0)
		c->in_off = 0;
}

/* Answers the first buffered request. Returns true when it did (or refused it), false
 * when the head is not complete yet. */
static bool conn_answer_one(struct conn *c)
{
	const char *buf = c->in + c->in_off;
	struct http_req req;
	size_t head;

	/* Stray CRLFs between requests are allowed (RFC 9112 2.2). */
	while (c->in_len && (buf[0] == '\r' || buf[0] == '\n')) {
		conn_consume(c, 1);
		buf++;
	}
	head = http_req_head_len(buf, c->in_len);
	if (head == 0) {
		if (c->in_len < CONN_IN_MAX)
			return false;
		c->close_after = true;
		conn_reply(c, false, 431, "request head too large\n", 23);
		return true;
	}
	http_req_parse(buf, head, &req);
	conn_consume(c, head);
	c->close_after = !req.keep_alive;
	c->http10 = req.http10;
	if (req.error) {
		conn_reply(c, false, req.error, "bad request\n", 12);
		return true;
	}
	c->discard = req.content_length;
	conn_route(c, &req);
	return true;
}

/* Answers buffered requests while the output has room and no body is streaming.
 * Returns how many steps it made (answers plus body skips); 0 means it needs more input. */
static int conn_answer(struct conn *c)
{
	int steps = 0;

	while (!c->close_after && c->stream_left == 0 && CONN_OUT_MAX - c->out_len >= RESP_MAX) {
		if (c->discard) {
			size_t n = c->discard < c->in_len ? (size_t)c->discard : c->in_len;

			if (n == 0)
				break;
			conn_consume(c, n);
			c->discard -= n;
		} else if (!conn_answer_one(c)) {
			break;
		}
		steps++;
	}
	return steps;
}

/* Sends what is queued, then the streamed body. Returns 0 when all is sent, -EAGAIN when
 * the socket is full or this event's budget is spent, or another -errno. */
static int conn_send(struct conn *c)
{
	size_t budget = SEND_BUDGET;

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->w.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	while (c->stream_left) {
		size_t off = (size_t)(c->stream_pos % PATTERN_PERIOD);
		size_t len = PATTERN_CHUNK;
		ssize_t n;

		if (budget == 0)
			return -EAGAIN;
		if (c->stream_left < len)
			len = (size_t)c->stream_left;
		n = send(c->w.fd, pattern + off, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c->stream_left -= (uint64_t)n;
		c->stream_pos += (uint64_t)n;
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
		c->last_ms = evloop_now_ms();
	}
	return 0;
}

/* Reads once into the input buffer. Returns 0 when bytes came, -EAGAIN, -EPIPE on the
 * client's FIN, or another -errno. */
static int conn_recv(struct conn *c)
{
	ssize_t n;

	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len);
		c->in_off = 0;
	}
	if (c->in_len == CONN_IN_MAX)
		return -ENOBUFS;
	n = recv(c->w.fd, c->in + c->in_len, CONN_IN_MAX - c->in_len, 0);
	if (n == -1)
		return errno == EINTR ? -EAGAIN : -errno;
	if (n == 0)
		return -EPIPE;
	c->in_len += (size_t)n;
	c->last_ms = evloop_now_ms();
	return 0;
}

/* Our answer is out and we said "Connection: close". Closing right away could turn
 * unread pipelined bytes into an RST that destroys the answer in flight, so send FIN and
 * read until the client's FIN (or LINGER_MS) first. */
static void conn_linger(struct conn *c)
{
	shutdown(c->w.fd, SHUT_WR);
	c->state = CONN_LINGER;
	c->last_ms = evloop_now_ms();
	conn_want(c, EPOLLIN);
}

static void conn_linger_read(struct conn *c)
{
	char scratch[4096];

	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(c->w.fd, scratch, sizeof(scratch), 0);

		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_close(c);
		return;
	}
}

static void conn_run(struct conn *c)
{
	for (int turn = 0; turn < CONN_TURN_MAX; turn++) {
		int steps = conn_answer(c);
		int rc = conn_send(c);

		if (rc == -EAGAIN) {
			conn_want(c, EPOLLOUT);
			return;
		}
		if (rc) {
			conn_close(c);
			return;
		}
		if (steps)
			continue;
		if (c->close_after) {
			conn_linger(c);
			return;
		}
		rc = conn_recv(c);
		if (rc == -EAGAIN) {
			conn_want(c, EPOLLIN);
			return;
		}
		if (rc) {
			conn_close(c);
			return;
		}
	}
	/* Yield to the other connections. EPOLLOUT fires at once on a writable socket, so what
	 * is left in our input buffer is answered next turn even if the client sends nothing. */
	conn_want(c, EPOLLOUT);
}

static void conn_on_event(struct ev_watch *w, uint32_t events)
{
	struct conn *c = container_of(w, struct conn, w);

	if (c->state == CONN_DEAD)
		return;
	if (c->state == CONN_LINGER) {
		conn_linger_read(c);
		return;
	}
	conn_run(c);
}

static int conn_open(struct http_server *srv, int fd)
{
	struct conn *c = malloc(sizeof(*c));
	int one = 1;
	int rc;

	if (!c)
		return -ENOMEM;
	memset(c, 0, offsetof(struct conn, in));
	c->srv = srv;
	c->last_ms = evloop_now_ms();
	/* Answers are one send each; Nagle would only hold the next pipelined one back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = evloop_add(srv->loop, &c->w, fd, EPOLLIN, conn_on_event);
	if (rc) {
		free(c);
		return rc;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	return 0;
}

/* ---- listener and timers ---- */

/* Out of fds: the pending connection would wake us forever. Give up the spare fd, accept
 * and close that connection, and take the spare back. */
static void srv_shed(struct http_server *srv)
{
	int fd;

	slb_log_limited(LOG_WARN, EMFILE,
			"backend: out of file descriptors, refusing a connection");
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	fd = accept4(srv->listener.fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void srv_on_accept(struct ev_watch *w, uint32_t events)
{
	struct http_server *srv = container_of(w, struct http_server, listener);

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int rc;

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				srv_shed(srv);
			else if (errno != EAGAIN)
				slb_log_limited(LOG_WARN, errno, "backend: accept failed");
			return;
		}
		rc = conn_open(srv, fd);
		if (rc) {
			slb_log_limited(LOG_WARN, rc, "backend: cannot take a connection");
			close(fd);
		}
	}
}

static void srv_on_sweep(struct ev_watch *w, uint32_t events)
{
	struct http_server *srv = container_of(w, struct http_server, sweep);
	int64_t now = evloop_now_ms();
	struct conn *c, *next;

	evloop_timer_ack(w->fd);
	for (c = srv->conns; c; c = next) {
		int64_t limit = c->state == CONN_LINGER ? LINGER_MS : IDLE_MS;

		next = c->next;
		if (now - c->last_ms > limit)
			conn_close(c);
	}
}

static void srv_free_dead(void *arg)
{
	struct http_server *srv = arg;

	while (srv->dead) {
		struct conn *c = srv->dead;

		srv->dead = c->next;
		free(c);
	}
}

static int srv_listen(const struct slb_addr *addr, char *err, size_t errlen)
{
	char text[ADDR_TEXT_MAX];
	int one = 1;
	int fd, rc;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) == -1 ||
	    listen(fd, 4096) == -1) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s",
			 addr_format(addr, text, sizeof(text)), strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

static int srv_add_sweep(struct http_server *srv)
{
	int fd = evloop_timer_open();
	int rc;

	if (fd < 0)
		return fd;
	rc = evloop_timer_arm(fd, SWEEP_MS, SWEEP_MS);
	if (!rc)
		rc = evloop_add(srv->loop, &srv->sweep, fd, EPOLLIN, srv_on_sweep);
	if (rc)
		close(fd);
	return rc;
}

static void srv_close_watch(struct http_server *srv, struct ev_watch *w)
{
	int fd = w->fd;

	if (fd < 0)
		return;
	evloop_del(srv->loop, w);
	close(fd);
}

/* See http_server.h. */
int http_server_open(struct http_server **out, struct evloop *loop, const struct slb_addr *addr,
		     const char *name, bool health_failing, char *err, size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	int fd, rc;

	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pattern_init();
	srv->loop = loop;
	srv->health_failing = health_failing;
	srv->listener.fd = srv->sweep.fd = -1;
	snprintf(srv->name, sizeof(srv->name), "%s", name);
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fd = srv_listen(addr, err, errlen);
	if (fd < 0) {
		rc = fd;
		goto out_free_srv;
	}
	rc = evloop_add(loop, &srv->listener, fd, EPOLLIN, srv_on_accept);
	if (rc) {
		close(fd);
		goto out_err;
	}
	rc = srv_add_sweep(srv);
	if (rc)
		goto out_close_listener;
	loop->turn_end = srv_free_dead;
	loop->turn_end_arg = srv;
	*out = srv;
	return 0;

out_close_listener:
	srv_close_watch(srv, &srv->listener);
out_err:
	snprintf(err, errlen, "cannot set up the server: %s", strerror(-rc));
out_free_srv:
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	free(srv);
	return rc;
}

/* See http_server.h. */
bool http_server_toggle_health(struct http_server *srv)
{
	srv->health_failing = !srv->health_failing;
	return srv->health_failing;
}

/* See http_server.h. */
unsigned http_server_conn_count(const struct http_server *srv)
{
	return srv->n_conns;
}

/* See http_server.h. */
void http_server_close(struct http_server *srv)
{
	while (srv->conns)
		conn_close(srv->conns);
	srv_free_dead(srv);
	srv_close_watch(srv, &srv->listener);
	srv_close_watch(srv, &srv->sweep);
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	if (srv->loop->turn_end_arg == srv)
		srv->loop->turn_end = NULL;
	free(srv);
}
