/* floorfwd: the bench's floor contender, what any user-space TCP relay must pay on this kernel.
 *
 *   floorfwd LISTEN_PORT BACKEND_PORT      (both on 127.0.0.1; runs until killed)
 *
 * One thread, one level-triggered epoll, plain recv(2)/send(2) through one 16 KiB buffer per
 * direction. Nothing else: no health, no limits, no timeouts, no logging, no retry. It is the
 * bench's yardstick (bench/README.md), never part of slb, and written here for the bench.
 *
 * Per connection: accept4 (non-blocking, TCP_NODELAY inherited from the listener), socket +
 * TCP_NODELAY + connect to the backend, two EPOLL_CTL_ADD, then per exchange one recv and one
 * send per direction. Interest is EPOLLIN on a socket while its inbound buffer is empty and
 * EPOLLOUT while its outbound buffer holds bytes the peer would not take: an epoll_ctl is paid
 * only when a send is short, never per request. EOF is passed on as shutdown(SHUT_WR) once the
 * buffer is flushed; the pair is closed when both directions are done or on any error. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (16 * 1024)
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64 /* accepts per readiness: the listener never starves the relays */

enum { CLI = 0, BE = 1 };    /* the two sockets of a pair */
enum { UP = 0, DOWN = 1 };   /* UP: client -> backend (buffer d[UP]), DOWN: backend -> client */

struct dir {
	uint32_t len, off;       /* bytes in buf, of which off already sent */
	bool eof;                /* the source ended */
	bool shut;               /* the EOF was passed on to the destination */
	char buf[BUF_SIZE];
};

struct pair {
	int fd[2];
	uint32_t mask[2];        /* epoll interest registered for fd[i] */
	bool connecting;         /* the backend connect has not completed yet */
	bool closed;             /* closed in this epoll batch: later events for it are stale */
	struct pair *next_free;
	struct dir d[2];
};

static int ep;
static struct sockaddr_in backend;
static struct pair *free_pairs;
static struct pair *closed_pairs; /* reusable once the current batch of events is handled */

/* The source and destination socket of direction d. */
static int src_of(const struct pair *p, int d)
{
	return p->fd[d == UP ? CLI : BE];
}

static int dst_of(const struct pair *p, int d)
{
	return p->fd[d == UP ? BE : CLI];
}

static struct pair *pair_get(void)
{
	struct pair *p = free_pairs;

	if (p)
		free_pairs = p->next_free;
	else
		p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	/* the buffers need no clearing: only the bytes counted in len are ever read */
	p->mask[CLI] = p->mask[BE] = 0;
	p->connecting = p->closed = false;
	for (int d = 0; d < 2; d++) {
		p->d[d].len = p->d[d].off = 0;
		p->d[d].eof = p->d[d].shut = false;
	}
	return p;
}

/* The pair stays off the free list until the batch is over: an event for it may follow. */
static void pair_close(struct pair *p)
{
	close(p->fd[CLI]); /* close removes the descriptors from the epoll set */
	close(p->fd[BE]);
	p->closed = true;
	p->next_free = closed_pairs;
	closed_pairs = p;
}

static void pairs_recycle(void)
{
	while (closed_pairs) {
		struct pair *p = closed_pairs;

		closed_pairs = p->next_free;
		p->next_free = free_pairs;
		free_pairs = p;
	}
}

/* What socket i of p waits for now: EPOLLIN while its inbound direction's buffer is empty
 * (and the source has not ended), EPOLLOUT while bytes wait for it or its connect runs. */
static uint32_t want_mask(const struct pair *p, int i)
{
	const struct dir *in = &p->d[i == CLI ? UP : DOWN];
	const struct dir *out = &p->d[i == CLI ? DOWN : UP];
	uint32_t m = 0;

	if (!in->eof && in->len == 0)
		m |= EPOLLIN;
	if (out->off < out->len || (i == BE && p->connecting))
		m |= EPOLLOUT;
	return m;
}

/* Registers the new interest of both sockets, only where it changed. Returns -1 on failure. */
static int pair_update(struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = want_mask(p, i), .data.ptr = (char *)p + i };

		if (ev.events == p->mask[i])
			continue;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, p->fd[i], &ev) == -1)
			return -1;
		p->mask[i] = ev.events;
	}
	return 0;
}

/* Sends what direction d holds. Returns 0 (all sent, or the rest must wait for EPOLLOUT) or -1. */
static int dir_flush(struct pair *p, int d)
{
	struct dir *x = &p->d[d];

	while (x->off < x->len) {
		ssize_t n = send(dst_of(p, d), x->buf + x->off, x->len - x->off, MSG_NOSIGNAL);

		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		x->off += (uint32_t)n;
	}
	x->len = x->off = 0;
	if (x->eof && !x->shut) {
		shutdown(dst_of(p, d), SHUT_WR);
		x->shut = true;
	}
	return 0;
}

/* One recv into the empty buffer of direction d, then its send. Returns 0 or -1. */
static int dir_pump(struct pair *p, int d)
{
	struct dir *x = &p->d[d];
	ssize_t n;

	if (x->len == 0 && !x->eof) {
		n = recv(src_of(p, d), x->buf, BUF_SIZE, 0);
		if (n == -1 && errno != EAGAIN)
			return -1;
		if (n == 0)
			x->eof = true;
		if (n > 0)
			x->len = (uint32_t)n;
	}
	if (p->connecting && d == UP)
		return 0;
	return dir_flush(p, d);
}

/* An event on socket i of p: move what can be moved both ways, then re-register. */
static void pair_event(struct pair *p, int i, uint32_t ev)
{
	if (i == BE && p->connecting) {
		if (ev & (EPOLLERR | EPOLLHUP)) {
			pair_close(p);
			return;
		}
		p->connecting = false;
	}
	if (dir_pump(p, UP) || dir_pump(p, DOWN) || (ev & EPOLLERR)) {
		pair_close(p);
		return;
	}
	/* both ways done; or a hang-up on a socket with nothing left to wait for, which level-
	 * triggered epoll would report again and again */
	if ((p->d[UP].shut && p->d[DOWN].shut) || ((ev & EPOLLHUP) && want_mask(p, i) == 0)) {
		pair_close(p);
		return;
	}
	if (pair_update(p))
		pair_close(p);
}

static int add_fd(struct pair *p, int i, uint32_t mask)
{
	struct epoll_event ev = { .events = mask, .data.ptr = (char *)p + i };

	p->mask[i] = mask;
	return epoll_ctl(ep, EPOLL_CTL_ADD, p->fd[i], &ev);
}

/* A new client: its backend socket, a non-blocking connect, both registered. */
static void pair_open(int cfd)
{
	int one = 1, bfd;
	struct pair *p = pair_get();

	bfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!p || bfd == -1) {
		close(cfd);
		if (bfd != -1)
			close(bfd);
		if (p) {
			p->next_free = free_pairs;
			free_pairs = p;
		}
		return;
	}
	setsockopt(bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->fd[CLI] = cfd;
	p->fd[BE] = bfd;
	p->connecting = true;
	if ((connect(bfd, (struct sockaddr *)&backend, sizeof(backend)) == -1 && errno != EINPROGRESS) ||
	    add_fd(p, CLI, EPOLLIN) || add_fd(p, BE, EPOLLIN | EPOLLOUT))
		pair_close(p);
}

static void on_listener(int lfd)
{
	for (int k = 0; k < ACCEPT_BATCH; k++) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd == -1)
			return;
		pair_open(cfd);
	}
}

static int listen_on(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 || /* inherited by accept */
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(fd, 4096) == -1)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	struct epoll_event evs[MAX_EVENTS];
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	int lfd;

	if (argc != 3) {
		fprintf(stderr, "usage: floorfwd LISTEN_PORT BACKEND_PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	backend.sin_family = AF_INET;
	backend.sin_port = htons((uint16_t)atoi(argv[2]));
	backend.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = listen_on((uint16_t)atoi(argv[1]));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd == -1 || ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) == -1) {
		perror("floorfwd");
		return 1;
	}
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);

		for (int k = 0; k < n; k++) {
			uintptr_t tag = (uintptr_t)evs[k].data.ptr;

			struct pair *p = (struct pair *)(tag & ~(uintptr_t)1);

			if (tag == 0)
				on_listener(lfd);
			else if (!p->closed)
				pair_event(p, (int)(tag & 1), evs[k].events);
		}
		pairs_recycle();
	}
}
