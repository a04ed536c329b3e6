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

#include "echo_server.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_drop(int ep, struct delay_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void accept_all(struct delay_server *s, int ep)
{
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct delay_conn *c = NULL;

		for (unsigned i = 0; i < DELAY_SERVER_CONNS && !c; i++)
			if (s->conns[i].fd < 0)
				c = &s->conns[i];
		if (!c) {
			close(fd);
			continue;
		}
		*c = (struct delay_conn){ .fd = fd };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &(struct epoll_event){ .events = EPOLLIN, .data.ptr = c });
	}
}

/* Reads what came; a whole head schedules the answer, EOF or an error before it drops. */
static void conn_read(struct delay_server *s, int ep, struct delay_conn *c)
{
	ssize_t n = read(c->fd, c->req + c->got, sizeof(c->req) - 1 - c->got);

	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			conn_drop(ep, c);
		return;
	}
	c->got += (size_t)n;
	c->req[c->got] = '\0';
	if (strstr(c->req, "\r\n\r\n") || c->got == sizeof(c->req) - 1) {
		c->due_ms = now_ms() + atomic_load(&s->delay_ms);
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	}
}

/* Answers every connection whose time has come; returns ms until the next one is due (or 50). */
static int answer_due(struct delay_server *s)
{
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

static void *delay_thread(void *arg)
{
	struct delay_server *s = arg;
	struct epoll_event evs[64];
	int ep = epoll_create1(EPOLL_CLOEXEC), timeout = 50;

	epoll_ctl(ep, EPOLL_CTL_ADD, s->listen_fd, &(struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL });
	while (!atomic_load(&s->stop)) {
		int n = epoll_wait(ep, evs, 64, timeout);

		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				accept_all(s, ep);
			else
				conn_read(s, ep, evs[i].data.ptr);
		}
		timeout = answer_due(s);
	}
	for (unsigned i = 0; i < DELAY_SERVER_CONNS; i++)
		if (s->conns[i].fd >= 0)
			close(s->conns[i].fd);
	close(ep);
	return NULL;
}

int delay_server_start(struct delay_server *s, const char *name, int delay_ms)
{
	int rc;

	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < DELAY_SERVER_CONNS; i++)
		s->conns[i].fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	atomic_store(&s->delay_ms, delay_ms);
	s->listen_fd = echo_listen_loopback(&s->port);
	if (s->listen_fd < 0)
		return s->listen_fd;
	rc = pthread_create(&s->thread, NULL, delay_thread, s);
	if (rc) {
		close(s->listen_fd);
		return -rc;
	}
	s->running = true;
	return 0;
}

void delay_server_stop(struct delay_server *s)
{
	if (!s->running)
		return;
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	s->running = false;
}
