/* echo_server: one epoll thread, non-blocking sockets, bounded buffer per connection with
 * backpressure (stops reading while its buffer is unsent). */
#include "echo_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testproc.h"

#define ECHO_BUF (64 * 1024)

struct echo_conn {
	int fd;
	size_t len, off;     /* unsent bytes: buf[off..len) */
	size_t talk_left;
	int read_eof;
	int shut;
	unsigned char buf[ECHO_BUF];
};

int echo_listen_loopback(unsigned *port)
{
	return testserver_listen(port);
}

unsigned refused_port(void)
{
	unsigned port = 0;
	int fd = echo_listen_loopback(&port);

	if (fd >= 0)
		close(fd); /* nothing listens there now; the kernel will not hand it out again at once */
	return port;
}

/* What c waits for: to write while bytes wait, else to read until EOF. */
static uint32_t conn_events(const struct echo_conn *c)
{
	if (c->len > c->off || c->talk_left)
		return EPOLLOUT;
	return c->read_eof ? 0 : EPOLLIN;
}

/* Byte off of what a talk-first connection sends: a pattern that repeats every buffer. */
static unsigned char talk_byte(size_t off)
{
	return (unsigned char)((off % ECHO_BUF) * 31 + 7);
}

uint64_t echo_talk_fnv(size_t n)
{
	uint64_t h = TESTPROC_FNV_INIT;

	for (size_t i = 0; i < n; i++) {
		unsigned char b = talk_byte(i);

		h = testproc_fnv(h, &b, 1);
	}
	return h;
}

static void talk_fill(struct echo_conn *c)
{
	size_t n = c->talk_left < ECHO_BUF ? c->talk_left : ECHO_BUF;

	for (size_t i = 0; i < n; i++)
		c->buf[i] = talk_byte(i);
	c->off = 0;
	c->len = n;
	c->talk_left -= n;
}

/* Returns -1 when the connection is finished. */
static int conn_write(struct echo_server *s, struct echo_conn *c)
{
	while (c->len > c->off) {
		ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->off += (size_t)n;
		if (c->off == c->len && c->talk_left)
			talk_fill(c);
	}
	c->off = c->len = 0;
	if (s->mode == ECHO_MODE_TALK_FIRST && !c->shut) {
		shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
	if (s->mode == ECHO_MODE_ECHO && c->read_eof && !c->shut) {
		shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
	return c->read_eof && c->shut ? -1 : 0;
}

static int conn_read(struct echo_server *s, struct echo_conn *c)
{
	ssize_t n;

	if (c->len > c->off || c->read_eof)
		return 0; /* an error or hang-up event while bytes wait: finish writing first */
	n = recv(c->fd, c->buf, ECHO_BUF, 0);

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	if (n == 0) {
		c->read_eof = 1;
		atomic_fetch_add(&s->eof_seen, 1);
		return conn_write(s, c);
	}
	/* the hash first: a test that sees the count reach its total then reads a final hash */
	atomic_store(&s->received_fnv, testproc_fnv(atomic_load(&s->received_fnv), c->buf, (size_t)n));
	atomic_fetch_add(&s->received, (uint64_t)n);
	if (s->mode == ECHO_MODE_ECHO) {
		c->len = (size_t)n;
		c->off = 0;
		return conn_write(s, c);
	}
	return 0; /* talk-first: count and drop */
}

static void echo_accepted(struct testserver *ts, int fd)
{
	struct echo_server *s = ts->ctx;
	struct echo_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	atomic_fetch_add(&s->accepted, 1);
	if (s->mode == ECHO_MODE_TALK_FIRST) {
		c->talk_left = s->talk_bytes;
		talk_fill(c);
	}
	testserver_watch(ts, fd, conn_events(c), c);
}

/* Writes what waits, then reads; a finished connection is closed. Connections still open when
 * the server stops leak their memory only until the test process exits. */
static void echo_event(struct testserver *ts, void *conn, uint32_t events)
{
	struct echo_server *s = ts->ctx;
	struct echo_conn *c = conn;
	int ret = 0;

	if (events & EPOLLOUT)
		ret = conn_write(s, c);
	if (ret == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		ret = conn_read(s, c);
	if (ret < 0) {
		testserver_close(ts, c->fd);
		free(c);
	} else {
		testserver_rewatch(ts, c->fd, conn_events(c), c);
	}
}

static const struct testserver_ops echo_ops = {
	.accepted = echo_accepted,
	.event = echo_event,
};

int echo_server_start(struct echo_server *s, enum echo_mode mode, size_t talk_bytes)
{
	int rc;

	memset(s, 0, sizeof(*s));
	atomic_init(&s->received_fnv, TESTPROC_FNV_INIT);
	s->mode = mode;
	s->talk_bytes = talk_bytes;
	rc = testserver_start(&s->srv, &echo_ops, s);
	s->port = s->srv.port;
	return rc;
}

void echo_server_stop(struct echo_server *s)
{
	testserver_stop(&s->srv);
}
