/* kaclients: long-lived keep-alive HTTP clients; see kaclients.h. */
#include "kaclients.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"

static const char request[] = "GET / HTTP/1.1\r\nHost: slb-test\r\nUser-Agent: kaclients\r\n\r\n";

/* A connected non-blocking socket to to, or -errno after timeout_ms. */
static int ka_connect(const struct sockaddr_in *to, int timeout_ms, unsigned *sport)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	struct sockaddr_in me;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) && errno != EINPROGRESS)
		err = errno;
	else if (poll(&p, 1, timeout_ms) != 1)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err) {
		close(fd);
		return -err;
	}
	len = sizeof(me);
	*sport = getsockname(fd, (struct sockaddr *)&me, &len) ? 0 : ntohs(me.sin_port);
	return fd;
}

static void ka_fail(struct kaclient *c, int err)
{
	c->failed_us = loadgen_now_us();
	atomic_store(&c->err, err);
}

/* The value of header name in the head (ending at end), copied into out ("" when absent). */
static void ka_header(const char *head, const char *end, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);

	out[0] = '\0';
	for (const char *l = strstr(head, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, name, nlen) == 0 && l[2 + nlen] == ':') {
			const char *v = l + 3 + nlen;

			v += strspn(v, " ");
			snprintf(out, len, "%.*s", (int)strcspn(v, "\r\n"), v);
			return;
		}
	}
}

/* Whether c->buf holds a whole answer; then it is taken and the next request scheduled. */
static void ka_answer(struct kaclients *k, struct kaclient *c)
{
	char *end, cl[16], be[sizeof(c->backend)];

	c->buf[c->len] = '\0';
	if (!(end = strstr(c->buf, "\r\n\r\n")))
		return;
	ka_header(c->buf, end, "Content-Length", cl, sizeof(cl));
	if (strncmp(c->buf, "HTTP/1.1 200 ", 13) || !cl[0]) {
		ka_fail(c, -EPROTO);
		return;
	}
	if ((size_t)(end + 4 - c->buf) + strtoul(cl, NULL, 10) > c->len)
		return;
	ka_header(c->buf, end, "X-Backend", be, sizeof(be));
	if (!c->backend[0])
		memcpy(c->backend, be, sizeof(be));
	else if (strcmp(be, c->backend))
		c->moved = true;
	c->len = 0;
	c->next_us = c->sent_us + (int64_t)k->period_ms * 1000;
	c->sent_us = 0;
	atomic_fetch_add(&c->answered, 1);
}

/* Reads what c's socket has. */
static void ka_read(struct kaclients *k, struct kaclient *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);

	if (n > 0) {
		c->len += (size_t)n;
		if (!c->sent_us)
			ka_fail(c, -EPROTO); /* bytes nobody asked for */
		else
			ka_answer(k, c);
		if (!atomic_load(&c->err) && c->len == sizeof(c->buf) - 1)
			ka_fail(c, -EPROTO);
	} else if (n == 0) {
		ka_fail(c, -EPIPE);
	} else if (errno != EAGAIN && errno != EINTR) {
		ka_fail(c, -errno);
	}
}

/* Sends c's request when due; fails it when its answer is late. */
static void ka_tick(struct kaclients *k, struct kaclient *c, int64_t now, bool stopping)
{
	if (c->sent_us && now - c->sent_us > (int64_t)k->timeout_ms * 1000) {
		ka_fail(c, -ETIMEDOUT);
	} else if (!c->sent_us && !stopping && now >= c->next_us) {
		if (send(c->fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(request) - 1)
			ka_fail(c, errno ? -errno : -EIO);
		else
			c->sent_us = now;
	}
}

static void *ka_thread(void *arg)
{
	struct kaclients *k = arg;
	struct pollfd p[KACLIENTS_MAX];
	int64_t stop_at = 0;

	for (;;) {
		int64_t now = loadgen_now_us();
		bool stopping = atomic_load(&k->stop), busy = false;

		if (stopping && !stop_at)
			stop_at = now;
		for (unsigned i = 0; i < k->n; i++) {
			struct kaclient *c = &k->c[i];

			if (!atomic_load(&c->err))
				ka_tick(k, c, now, stopping);
			busy |= !atomic_load(&c->err) && c->sent_us;
			p[i] = (struct pollfd){ .fd = atomic_load(&c->err) ? -1 : c->fd, .events = POLLIN };
		}
		if (stopping && (!busy || now - stop_at > (int64_t)k->timeout_ms * 1000))
			return NULL;
		if (poll(p, k->n, 10) > 0)
			for (unsigned i = 0; i < k->n; i++)
				if (p[i].revents)
					ka_read(k, &k->c[i]);
	}
}

/* See kaclients.h. */
int kaclients_start(struct kaclients *k, const struct sockaddr_in *to, unsigned n, int period_ms, int timeout_ms)
{
	int64_t now = loadgen_now_us();

	if (n < 1 || n > KACLIENTS_MAX || period_ms < 1 || timeout_ms < 1)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->period_ms = period_ms;
	k->timeout_ms = timeout_ms;
	for (unsigned i = 0; i < n; i++) {
		int fd = ka_connect(to, timeout_ms, &k->c[i].sport);

		if (fd < 0) {
			kaclients_stop(k);
			return fd;
		}
		k->c[i].fd = fd;
		/* spread over the period, as independent clients would be */
		k->c[i].next_us = now + (int64_t)period_ms * 1000 * i / n;
		k->n = i + 1;
	}
	if (pthread_create(&k->tid, NULL, ka_thread, k)) {
		kaclients_stop(k);
		return -EAGAIN;
	}
	k->running = true;
	return 0;
}

/* See kaclients.h. */
unsigned kaclients_wait_answered(struct kaclients *k, unsigned want, int timeout_ms)
{
	int64_t end = loadgen_now_us() + (int64_t)timeout_ms * 1000;
	unsigned short_of;

	for (;;) {
		short_of = 0;
		for (unsigned i = 0; i < k->n; i++)
			short_of += atomic_load(&k->c[i].err) || atomic_load(&k->c[i].answered) < want;
		if (!short_of || loadgen_now_us() >= end)
			return short_of;
		usleep(10000);
	}
}

/* See kaclients.h. */
void kaclients_stop(struct kaclients *k)
{
	atomic_store(&k->stop, true);
	if (k->running)
		pthread_join(k->tid, NULL);
	k->running = false;
	for (unsigned i = 0; i < k->n; i++) {
		if (k->c[i].fd > 0)
			close(k->c[i].fd);
		k->c[i].fd = -1;
	}
}

/* See kaclients.h. */
unsigned kaclients_failed(const struct kaclients *k, char *why, size_t len)
{
	const struct kaclient *first = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < k->n; i++) {
		const struct kaclient *c = &k->c[i];

		if (!atomic_load(&c->err))
			continue;
		n++;
		if (!first || c->failed_us < first->failed_us)
			first = c;
	}
	if (first)
		snprintf(why, len, "connection from port %u (backend %s) failed after %u answers: %s", first->sport,
			 first->backend[0] ? first->backend : "none yet", atomic_load(&first->answered),
			 strerror(-atomic_load(&first->err)));
	else
		snprintf(why, len, "none");
	return n;
}

/* See kaclients.h. */
unsigned kaclients_answers(const struct kaclients *k)
{
	unsigned n = 0;

	for (unsigned i = 0; i < k->n; i++)
		n += atomic_load(&k->c[i].answered);
	return n;
}
