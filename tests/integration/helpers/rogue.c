/* rogue: misbehaving in-process backends and a delaying relay; see rogue.h. One thread per
 * connection (per direction for the relay): the tests open a few dozen at most. */
#include "rogue.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../../src/demo/http_server.h" /* http_bytes_pattern; slb_demo exports no include dir */
#include "testproc.h"

#define STEP_MS 50                 /* longest wait before looking at the stop flag again */
#define PATTERN_PERIOD 63          /* of slb-backend's /bytes alphabet */
#define PATTERN_CHUNK 65536
#define RELAY_QUEUE_MAX (4u << 20) /* bytes held per direction before reading pauses */

static char pattern[PATTERN_CHUNK + PATTERN_PERIOD];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void pattern_init(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = http_bytes_pattern(i);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Sleeps ms in steps, returning early (false) when stop is set. */
static bool nap(_Atomic int *stop, unsigned ms)
{
	int64_t until = testproc_now_ms() + ms;

	while (!atomic_load(stop)) {
		int64_t left = until - testproc_now_ms();

		if (left <= 0)
			return true;
		sleep_ms(left < STEP_MS ? (int)left : STEP_MS);
	}
	return false;
}

/* Waits for ev on fd in STEP_MS slices. Returns 0 when ready, -ECANCELED when stop is set. */
static int wait_ready(_Atomic int *stop, int fd, short ev)
{
	while (!atomic_load(stop)) {
		struct pollfd p = { .fd = fd, .events = ev };

		if (poll(&p, 1, STEP_MS) > 0)
			return 0;
	}
	return -ECANCELED;
}

static int send_all(_Atomic int *stop, int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n;

		if (wait_ready(stop, fd, POLLOUT))
			return -ECANCELED;
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends body bytes [off, off + len) of the pattern. */
static int send_pattern(_Atomic int *stop, int fd, size_t off, size_t len)
{
	while (len) {
		size_t n = len < PATTERN_CHUNK ? len : PATTERN_CHUNK;
		int rc = send_all(stop, fd, pattern + off % PATTERN_PERIOD, n);

		if (rc)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

/* Reads until the end of a request head. Returns 0, -EPIPE on EOF, -ECANCELED, or -errno. */
static int read_head(_Atomic int *stop, int fd)
{
	char buf[4096];
	size_t got = 0;

	for (;;) {
		ssize_t n;

		if (wait_ready(stop, fd, POLLIN))
			return -ECANCELED;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			return -EPIPE;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 0;
		if (got == sizeof(buf) - 1)
			got = 0; /* an overlong head: keep the tail only (its end is what we look for) */
	}
}

/* Reads and drops until EOF. Returns true on EOF or a reset, false when stopped first. */
static bool drain_until_eof(_Atomic int *stop, int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n;

		if (wait_ready(stop, fd, POLLIN))
			return false;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

struct rogue_conn {
	struct rogue *r;
	int fd;
};

static void rogue_answer_slow(struct rogue *r, int fd)
{
	const struct rogue_opts *o = &r->o;
	unsigned pieces = o->pieces ? o->pieces : 1;
	char head[128];
	size_t off = 0;
	int n;

	if (!nap(&r->stop, o->delay_ms))
		return;
	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		     o->body_len);
	if (send_all(&r->stop, fd, head, (size_t)n))
		return;
	for (unsigned i = 0; i < pieces; i++) {
		size_t len = (o->body_len - off) / (pieces - i);

		if (i && !nap(&r->stop, o->gap_ms))
			return;
		if (send_pattern(&r->stop, fd, off, len))
			return;
		off += len;
	}
	atomic_fetch_add(&r->answered, 1);
	shutdown(fd, SHUT_WR);
}

static void rogue_answer_reset(struct rogue *r, int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char head[128];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", r->o.body_len);

	if (send_all(&r->stop, fd, head, (size_t)n) || send_pattern(&r->stop, fd, 0, r->o.reset_after))
		return;
	/* Let the bytes leave before the RST, so the client really is cut mid-body. */
	sleep_ms(20);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	atomic_fetch_add(&r->answered, 1);
}

static void rogue_drop(struct rogue *r, int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	atomic_fetch_add(&r->answered, 1);
}

static void *rogue_conn_thread(void *arg)
{
	struct rogue_conn *rc = arg;
	struct rogue *r = rc->r;
	int fd = rc->fd;

	free(rc);
	if (read_head(&r->stop, fd) == 0) {
		atomic_fetch_add(&r->requests, 1);
		if (r->o.mode == ROGUE_SLOW)
			rogue_answer_slow(r, fd);
		else if (r->o.mode == ROGUE_RESET)
			rogue_answer_reset(r, fd);
		else if (r->o.mode == ROGUE_DROP)
			rogue_drop(r, fd);
		if (r->o.mode != ROGUE_RESET && r->o.mode != ROGUE_DROP && drain_until_eof(&r->stop, fd))
			atomic_fetch_add(&r->peer_closed, 1);
	} else if (!atomic_load(&r->stop)) {
		atomic_fetch_add(&r->peer_closed, 1);
	}
	close(fd);
	return NULL;
}

/* A newcomer gets a thread of its own, or is closed past ROGUE_CONNS_MAX. */
static void rogue_accepted(struct testserver *ts, int fd)
{
	struct rogue *r = ts->ctx;
	unsigned i = atomic_load(&r->n_conns);
	struct rogue_conn *rc = malloc(sizeof(*rc));

	atomic_fetch_add(&r->accepted, 1);
	if (i == ROGUE_CONNS_MAX || !rc) {
		free(rc);
		close(fd);
		return;
	}
	rc->r = r;
	rc->fd = fd;
	if (pthread_create(&r->conn_tid[i], NULL, rogue_conn_thread, rc)) {
		free(rc);
		close(fd);
		return;
	}
	atomic_store(&r->n_conns, i + 1);
}

static const struct testserver_ops rogue_ops = { .accepted = rogue_accepted };

/* See rogue.h. */
int rogue_start(struct rogue *r, const struct rogue_opts *o)
{
	int rc;

	pthread_once(&pattern_once, pattern_init);
	memset(r, 0, sizeof(*r));
	r->o = *o;
	rc = testserver_start(&r->srv, &rogue_ops, r);
	r->port = r->srv.port;
	return rc;
}

/* See rogue.h. */
void rogue_stop(struct rogue *r)
{
	atomic_store(&r->stop, 1);
	testserver_stop(&r->srv);
	for (unsigned i = 0; i < atomic_load(&r->n_conns); i++)
		pthread_join(r->conn_tid[i], NULL);
}

/* ---- delaying relay ---- */

struct chunk {
	struct chunk *next;
	int64_t due_ms;
	size_t len, off;
	char data[];
};

struct relay_pair {
	int fd[2];        /* [0] accepted from slb, [1] connected to the target */
	_Atomic int refs; /* direction threads still running; the last closes both */
};

struct relay_dir {
	struct delay_relay *d;
	struct relay_pair *pair;
	int src, dst;
};

struct dir_queue {
	struct chunk *head, *tail;
	size_t bytes;
};

static int queue_push(struct dir_queue *q, const char *buf, size_t len, int64_t due)
{
	struct chunk *c = malloc(sizeof(*c) + len);

	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->due_ms = due;
	c->len = len;
	c->off = 0;
	memcpy(c->data, buf, len);
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	q->bytes += len;
	return 0;
}

static void queue_pop(struct dir_queue *q)
{
	struct chunk *c = q->head;

	q->head = c->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= c->len;
	free(c);
}

/* Sends what is due at the head of the queue. Returns 0, or -errno when dst failed. */
static int queue_flush(struct dir_queue *q, int dst)
{
	while (q->head && q->head->due_ms <= testproc_now_ms()) {
		struct chunk *c = q->head;
		ssize_t n = send(dst, c->data + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == -1)
			return -errno;
		c->off += (size_t)n;
		if (c->off == c->len)
			queue_pop(q);
	}
	return 0;
}

static int poll_timeout(const struct dir_queue *q)
{
	int64_t left;

	if (!q->head)
		return STEP_MS;
	left = q->head->due_ms - testproc_now_ms();
	if (left < 0)
		return 0;
	return left < STEP_MS ? (int)left : STEP_MS;
}

/* One direction: read src as bytes come, deliver each chunk to dst delay_ms later. */
static void *relay_dir_thread(void *arg)
{
	struct relay_dir *rd = arg;
	struct delay_relay *d = rd->d;
	struct dir_queue q = { 0 };
	static _Thread_local char buf[65536];
	bool eof = false, failed = false;

	while (!atomic_load(&d->stop) && !failed && !(eof && !q.head)) {
		bool due = q.head && q.head->due_ms <= testproc_now_ms();
		bool reading = !eof && q.bytes < RELAY_QUEUE_MAX;
		/* fd -1: not watched, so a hang-up on a side we do not use cannot spin the loop */
		struct pollfd p[2] = { { .fd = reading ? rd->src : -1, .events = POLLIN },
				       { .fd = due ? rd->dst : -1, .events = POLLOUT } };

		poll(p, 2, due ? STEP_MS : poll_timeout(&q));
		if (reading && p[0].revents) {
			ssize_t n = recv(rd->src, buf, sizeof(buf), MSG_DONTWAIT);

			if (n > 0)
				failed = queue_push(&q, buf, (size_t)n, testproc_now_ms() + d->delay_ms) != 0;
			else if (n == 0)
				eof = true;
			else if (errno != EAGAIN && errno != EINTR)
				failed = true;
		}
		if (!failed && queue_flush(&q, rd->dst))
			failed = true;
	}
	if (failed) {
		shutdown(rd->src, SHUT_RDWR);
		shutdown(rd->dst, SHUT_RDWR);
	} else if (eof) {
		shutdown(rd->dst, SHUT_WR);
	}
	while (q.head)
		queue_pop(&q);
	if (atomic_fetch_sub(&rd->pair->refs, 1) == 1) {
		close(rd->pair->fd[0]);
		close(rd->pair->fd[1]);
		free(rd->pair);
	}
	free(rd);
	return NULL;
}

static void relay_spawn_dir(struct delay_relay *d, struct relay_pair *pair, int src, int dst)
{
	struct relay_dir *rd = malloc(sizeof(*rd));
	unsigned i = atomic_load(&d->n_threads);

	if (rd) {
		*rd = (struct relay_dir){ .d = d, .pair = pair, .src = src, .dst = dst };
		if (pthread_create(&d->tids[i], NULL, relay_dir_thread, rd) == 0) {
			atomic_store(&d->n_threads, i + 1);
			return;
		}
		free(rd);
	}
	/* No thread: behave as a direction that failed at once. */
	shutdown(src, SHUT_RDWR);
	shutdown(dst, SHUT_RDWR);
	if (atomic_fetch_sub(&pair->refs, 1) == 1) {
		close(pair->fd[0]);
		close(pair->fd[1]);
		free(pair);
	}
}

/* A newcomer is joined to a new connection to the target, one thread per direction. */
static void relay_accepted(struct testserver *ts, int a)
{
	struct delay_relay *d = ts->ctx;
	struct relay_pair *pair;
	int b;

	atomic_fetch_add(&d->accepted, 1);
	b = testproc_connect(d->target_port, 2000);
	pair = malloc(sizeof(*pair));
	if (b < 0 || !pair || atomic_load(&d->n_threads) + 2 > 2 * ROGUE_CONNS_MAX) {
		close(a);
		if (b >= 0)
			close(b);
		free(pair);
		return;
	}
	pair->fd[0] = a;
	pair->fd[1] = b;
	atomic_init(&pair->refs, 2);
	relay_spawn_dir(d, pair, a, b);
	relay_spawn_dir(d, pair, b, a);
}

static const struct testserver_ops relay_ops = { .accepted = relay_accepted };

/* See rogue.h. */
int delay_relay_start(struct delay_relay *d, unsigned target_port, unsigned delay_ms)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->target_port = target_port;
	d->delay_ms = delay_ms;
	rc = testserver_start(&d->srv, &relay_ops, d);
	d->port = d->srv.port;
	return rc;
}

/* See rogue.h. */
void delay_relay_stop(struct delay_relay *d)
{
	atomic_store(&d->stop, 1);
	testserver_stop(&d->srv);
	for (unsigned i = 0; i < atomic_load(&d->n_threads); i++)
		pthread_join(d->tids[i], NULL);
}
