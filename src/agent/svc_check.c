/* svc_check: TCP and HTTP checks of a local service; see svc_check.h.
 *
 * A check is a small state machine on one socket plus one timerfd. The timer is the
 * deadline while the check runs, and is also how a result known at once (connect refused
 * synchronously) is delivered from the loop, so done() never runs inside svc_check_start. */
#include "svc_check.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/common/http_check.h"

#define CHECK_REPLY_MAX 256 /* the status line must fit */

enum check_phase {
	CHECK_IDLE = 0,
	CHECK_CONNECTING,
	CHECK_SENDING,   /* HTTP: request partly sent */
	CHECK_READING,   /* HTTP: waiting for the status line */
	CHECK_REPORTING, /* result known, delivered on the next timer tick */
};

struct svc_check {
	struct svc_check_spec spec;
	struct slb_addr target;
	struct evloop *loop;
	struct ev_watch sock;
	struct ev_watch timer;
	enum check_phase phase;
	unsigned timeout_ms;
	svc_check_done_fn done;
	void *arg;
	bool ok;                  /* result, once REPORTING */
	size_t req_len, req_off;  /* HTTP request still to send */
	size_t reply_len;
	char req[SVC_CHECK_PATH_MAX + 128];
	char reply[CHECK_REPLY_MAX];
	char why[128];
};

/* See svc_check.h. */
int svc_check_parse(const char *text, struct svc_check_spec *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(text, "tcp") == 0)
		return 0;
	if (strncmp(text, "http:", 5) != 0 || text[5] != '/')
		goto out_bad;
	if (strlen(text + 5) >= sizeof(out->path) || strpbrk(text + 5, " \t\r\n"))
		goto out_bad;
	out->kind = SVC_CHECK_HTTP;
	strcpy(out->path, text + 5);
	return 0;

out_bad:
	snprintf(err, errlen, "--check: '%s' is not tcp or http:/PATH (no spaces, < %d bytes)", text,
		 SVC_CHECK_PATH_MAX);
	return -EINVAL;
}

static void check_close_socket(struct svc_check *ck)
{
	int fd = ck->sock.fd;

	if (fd < 0)
		return;
	evloop_del(ck->loop, &ck->sock);
	close(fd);
}

/* Records the result and has the timer deliver it on the next loop turn. */
static void check_finish(struct svc_check *ck, bool ok, int err, const char *what)
{
	check_close_socket(ck);
	ck->ok = ok;
	if (err)
		snprintf(ck->why, sizeof(ck->why), "%s: %s", what, strerror(err));
	else
		snprintf(ck->why, sizeof(ck->why), "%s", what);
	ck->phase = CHECK_REPORTING;
	if (evloop_timer_arm(ck->timer.fd, 1, 0)) {
		/* Cannot happen on a valid timerfd; report now rather than never. */
		ck->phase = CHECK_IDLE;
		ck->done(ck->arg, ck->ok, ck->why);
	}
}

/* Judges the reply by http_check's rule. */
static void check_judge_status(struct svc_check *ck)
{
	int status = http_check_status(ck->reply, ck->reply_len);
	char why[32];

	if (!status) {
		check_finish(ck, false, 0, "not an HTTP status line");
		return;
	}
	snprintf(why, sizeof(why), "HTTP %d", status);
	check_finish(ck, http_check_passes(status), 0, why);
}

/* Judges once the status line is complete or the buffer full. Returns true when it did. */
static bool check_parse_status(struct svc_check *ck)
{
	if (!memchr(ck->reply, '\n', ck->reply_len) && ck->reply_len < sizeof(ck->reply) - 1)
		return false;
	check_judge_status(ck);
	return true;
}

static void check_read(struct svc_check *ck)
{
	for (;;) {
		ssize_t n = recv(ck->sock.fd, ck->reply + ck->reply_len,
				 sizeof(ck->reply) - 1 - ck->reply_len, 0);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			check_finish(ck, false, errno, "recv");
			return;
		}
		if (n == 0 && ck->reply_len == 0) {
			check_finish(ck, false, 0, "closed before answering");
			return;
		}
		if (n == 0) { /* a status line cut short by the close: judged as probe.c does */
			check_judge_status(ck);
			return;
		}
		ck->reply_len += (size_t)n;
		if (check_parse_status(ck))
			return;
	}
}

static void check_send(struct svc_check *ck)
{
	int rc;

	while (ck->req_off < ck->req_len) {
		ssize_t n = send(ck->sock.fd, ck->req + ck->req_off, ck->req_len - ck->req_off,
				 MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			check_finish(ck, false, errno, "send");
			return;
		}
		ck->req_off += (size_t)n;
	}
	ck->phase = CHECK_READING;
	rc = evloop_modify(ck->loop, &ck->sock, EPOLLIN);
	if (rc)
		check_finish(ck, false, -rc, "epoll_ctl");
}

static void check_on_connected(struct svc_check *ck)
{
	if (ck->spec.kind == SVC_CHECK_TCP) {
		check_finish(ck, true, 0, "connected");
		return;
	}
	ck->req_len = http_check_request(ck->req, sizeof(ck->req), ck->spec.path, &ck->target, "slb-agent");
	ck->req_off = 0;
	ck->reply_len = 0;
	ck->phase = CHECK_SENDING;
	check_send(ck);
}

static void check_on_socket(struct ev_watch *w, uint32_t events)
{
	struct svc_check *ck = container_of(w, struct svc_check, sock);
	int err = 0;
	socklen_t len = sizeof(err);

	switch (ck->phase) {
	case CHECK_CONNECTING:
		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err)
			check_finish(ck, false, err, "connect");
		else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			check_on_connected(ck);
		break;
	case CHECK_SENDING:
		check_send(ck);
		break;
	case CHECK_READING:
		check_read(ck);
		break;
	default:
		break;
	}
}

static void check_on_timer(struct ev_watch *w, uint32_t events)
{
	struct svc_check *ck = container_of(w, struct svc_check, timer);
	char why[64];

	if (!evloop_timer_ack(w->fd))
		return;
	if (ck->phase == CHECK_REPORTING) {
		ck->phase = CHECK_IDLE;
		ck->done(ck->arg, ck->ok, ck->why);
		return;
	}
	if (ck->phase == CHECK_IDLE)
		return;
	snprintf(why, sizeof(why), "no answer within %u ms", ck->timeout_ms);
	check_finish(ck, false, 0, why);
}

/* See svc_check.h. */
int svc_check_create(struct svc_check **out, struct evloop *loop, const struct svc_check_spec *spec,
		     const struct slb_addr *target, svc_check_done_fn done, void *arg)
{
	struct svc_check *ck = calloc(1, sizeof(*ck));
	int fd, rc;

	if (!ck)
		return -ENOMEM;
	ck->spec = *spec;
	ck->target = *target;
	ck->loop = loop;
	ck->done = done;
	ck->arg = arg;
	ck->sock.fd = -1;
	fd = evloop_timer_open();
	if (fd < 0) {
		rc = fd;
		goto out_free;
	}
	rc = evloop_add(loop, &ck->timer, fd, EPOLLIN, check_on_timer);
	if (rc) {
		close(fd);
		goto out_free;
	}
	*out = ck;
	return 0;

out_free:
	free(ck);
	return rc;
}

/* See svc_check.h. */
int svc_check_start(struct svc_check *ck, unsigned timeout_ms)
{
	int fd, rc;

	if (ck->phase != CHECK_IDLE)
		return -EBUSY;
	ck->timeout_ms = timeout_ms;
	ck->phase = CHECK_CONNECTING;
	fd = socket(ck->target.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		check_finish(ck, false, errno, "socket");
		return 0;
	}
	rc = evloop_add(ck->loop, &ck->sock, fd, EPOLLOUT, check_on_socket);
	if (rc) {
		close(fd);
		check_finish(ck, false, -rc, "epoll_ctl");
		return 0;
	}
	if (connect(fd, (const struct sockaddr *)&ck->target.ss, ck->target.len) == -1 &&
	    errno != EINPROGRESS) {
		check_finish(ck, false, errno, "connect");
		return 0;
	}
	rc = evloop_timer_arm(ck->timer.fd, timeout_ms ? timeout_ms : 1, 0);
	if (rc)
		check_finish(ck, false, -rc, "timerfd");
	return 0;
}

/* See svc_check.h. */
void svc_check_destroy(struct svc_check *ck)
{
	int fd = ck->timer.fd;

	check_close_socket(ck);
	evloop_del(ck->loop, &ck->timer);
	close(fd);
	free(ck);
}
