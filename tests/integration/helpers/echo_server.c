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
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

unsigned refused_port(void)
{
	unsigned port = 0;
	int fd = echo_listen_loopback(&port);

	if (fd >= 0)
		close(fd); /* nothing listens there now; the kernel will not hand it out again at once */
	return port;
}

static void conn_close(int ep, struct echo_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void conn_update(int ep, struct echo_conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	if (c->len > c->off || c->talk_left)
		ev.events |= EPOLLOUT;
	else if (!c->read_eof)
		ev.events |= EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
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

static void accept_all(struct echo_server *s, int ep)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct echo_conn *c;
		struct epoll_event ev;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		c->fd = fd;
		atomic_fetch_add(&s->accepted, 1);
		if (s->mode == ECHO_MODE_TALK_FIRST) {
			c->talk_left = s->talk_bytes;
			talk_fill(c);
		}
		ev.events = 0;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		conn_update(ep, c);
	}
}

static void *echo_thread(void *arg)
{
	struct echo_server *s = arg;
	struct epoll_event evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };

	epoll_ctl(ep, EPOLL_CTL_ADD, s->listen_fd, &lev);
	while (!atomic_load(&s->stop)) {
		int n = epoll_wait(ep, evs, 64, 50);

		for (int i = 0; i < n; i++) {
			struct echo_conn *c = evs[i].data.ptr;
			int ret = 0;

			if (!c) {
				accept_all(s, ep);
				continue;
			}
			if (evs[i].events & EPOLLOUT)
				ret = conn_write(s, c);
			if (ret == 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				ret = conn_read(s, c);
			if (ret < 0)
				conn_close(ep, c);
			else
				conn_update(ep, c);
		}
	}
	close(ep); /* connections still open leak their memory only until the test process exits */
	return NULL;
}

int echo_server_start(struct echo_server *s, enum echo_mode mode, size_t talk_bytes)
{
	memset(s, 0, sizeof(*s));
	atomic_init(&s->received_fnv, TESTPROC_FNV_INIT);
	s->mode = mode;
	s->talk_bytes = talk_bytes;
	s->listen_fd = echo_listen_loopback(&s->port);
	int rc;

	if (s->listen_fd < 0)
		return s->listen_fd;
	rc = pthread_create(&s->thread, NULL, echo_thread, s);
	if (rc) {
		close(s->listen_fd);
		return -rc;
	}
	s->running = true;
	return 0;
}

void echo_server_stop(struct echo_server *s)
{
	if (!s->running)
		return;
	s->running = false;
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}
