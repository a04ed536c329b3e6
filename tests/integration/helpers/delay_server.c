/* delay_server: see delay_server.h. A request is whole at its blank line; its answer is
 * written (it is small: one send) once its due time has come, then the connection closes. */
#include "delay_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A newcomer takes a free slot of the table, or is closed when there is none. */
static void delay_accepted(struct testserver *ts, int fd)
{
	struct delay_server *s = ts->ctx;
	struct delay_conn *c = NULL;

	for (unsigned i = 0; i < DELAY_SERVER_CONNS && !c; i++)
		if (s->conns[i].fd < 0)
			c = &s->conns[i];
	if (!c) {
		close(fd);
		return;
	}
	*c = (struct delay_conn){ .fd = fd };
	testserver_watch(ts, fd, EPOLLIN, c);
}

/* Reads what came; a whole head schedules the answer, EOF or an error before it drops. */
static void delay_event(struct testserver *ts, void *conn, uint32_t events)
{
	struct delay_server *s = ts->ctx;
	struct delay_conn *c = conn;
	ssize_t n = read(c->fd, c->req + c->got, sizeof(c->req) - 1 - c->got);

	(void)events; /* only EPOLLIN is asked for: the read says the rest */
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN) {
			testserver_close(ts, c->fd);
			c->fd = -1;
		}
		return;
	}
	c->got += (size_t)n;
	c->req[c->got] = '\0';
	if (strstr(c->req, "\r\n\r\n") || c->got == sizeof(c->req) - 1) {
		c->due_ms = now_ms() + atomic_load(&s->delay_ms);
		epoll_ctl(ts->ep, EPOLL_CTL_DEL, c->fd, NULL);
	}
}

/* Answers every connection whose time has come; returns ms until the next one is due (or 50). */
static int delay_idle(struct testserver *ts)
{
	struct delay_server *s = ts->ctx;
	char body[64], resp[256];
	int64_t now = now_ms(), next = 50;
	int blen, rlen;

	blen = snprintf(body, sizeof(body), "backend %s\n", s->name);
	rlen = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			blen, body);
	for (unsigned i = 0; i < DELAY_SERVER_CONNS; i++) {
		struct delay_conn *c = &s->conns[i];

		if (c->fd < 0 || !c->due_ms)
			continue;
		if (c->due_ms > now) {
			next = c->due_ms - now < next ? c->due_ms - now : next;
			continue;
		}
		if (send(c->fd, resp, (size_t)rlen, MSG_NOSIGNAL) == rlen)
			atomic_fetch_add(&s->answered, 1);
		close(c->fd);
		c->fd = -1;
	}
	return (int)next;
}

/* The server is stopping: closes every connection still open. */
static void delay_stopped(struct testserver *ts)
{
	struct delay_server *s = ts->ctx;

	for (unsigned i = 0; i < DELAY_SERVER_CONNS; i++)
		if (s->conns[i].fd >= 0)
			close(s->conns[i].fd);
}

static const struct testserver_ops delay_ops = {
	.accepted = delay_accepted,
	.event = delay_event,
	.idle = delay_idle,
	.stopped = delay_stopped,
};

int delay_server_start(struct delay_server *s, const char *name, int delay_ms)
{
	int rc;

	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < DELAY_SERVER_CONNS; i++)
		s->conns[i].fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	atomic_store(&s->delay_ms, delay_ms);
	rc = testserver_start(&s->srv, &delay_ops, s);
	s->port = s->srv.port;
	return rc;
}

void delay_server_stop(struct delay_server *s)
{
	testserver_stop(&s->srv);
}
