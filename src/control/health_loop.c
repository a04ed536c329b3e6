/* health_loop: the health thread's epoll loop primitives, shared by every module that puts a
 * descriptor in it (heartbeat server, probes, admin); see health_loop.h. The thread itself,
 * which runs the loop, is health.c. */
#include "health_loop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/common/log.h"
#include "slb/common/stats.h"

static int hl_ctl(struct health_ctx *ctx, int op, struct hl_handler *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(ctx->epfd, op, h->fd, &ev) == -1 ? -errno : 0;
}

int hl_add(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	return hl_ctl(ctx, EPOLL_CTL_ADD, h, events);
}

int hl_mod(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	return hl_ctl(ctx, EPOLL_CTL_MOD, h, events);
}

void hl_retire(struct health_ctx *ctx, struct hl_handler *h)
{
	if (h->dead)
		return;
	epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	close(h->fd);
	h->fd = -1;
	h->dead = true;
	h->next_dead = ctx->graveyard;
	ctx->graveyard = h;
}

uint64_t hl_backend_active(const struct health_ctx *ctx, uint32_t id)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < ctx->n_channels; i++)
		n += stat_get(&ctx->channels[i]->stats.be[id].active);
	return n;
}

bool hl_seq_settled(const struct health_ctx *ctx, uint64_t seq)
{
	return seq <= ctx->published_seq && snapshot_passed(ctx->published_mark);
}

bool hl_backend_settled(const struct health_ctx *ctx, const struct backend *b)
{
	return hl_seq_settled(ctx, b->state_seq);
}

void hl_note_active(struct health_ctx *ctx, struct backend *b)
{
	uint64_t n = hl_backend_active(ctx, b->id);

	if (hl_backend_settled(ctx, b))
		table_note_active(ctx->table, b, n, ctx->now_ms);
	else
		table_count_active(ctx->table, b, n);
}

long hl_send(int fd, const void *buf, size_t len)
{
	ssize_t n;

	if (len == 0)
		return 0;
	n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
}

/* SO_REUSEADDR lets a restarted slb bind while old sessions sit in TIME_WAIT; unlike
 * SO_REUSEPORT it still refuses a second live listener, so "port in use" is reported. */
int hl_listen(const struct slb_addr *a, const char *what, char *err, size_t errlen)
{
	char text[ADDR_TEXT_MAX];
	int one = 1, fd, e;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		e = errno;
		snprintf(err, errlen, "%s: socket: %s", what, strerror(e));
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 || listen(fd, 512) == -1) {
		e = errno;
		snprintf(err, errlen, "%s %s: %s", what, addr_format(a, text, sizeof(text)),
			 e == EADDRINUSE ? "address already in use" : strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* Out of descriptors (EMFILE, ENFILE) or memory, the pending connection stays in the backlog
 * and the listener stays readable: with its level-triggered registration the loop would wake
 * at once, forever. So it leaves the loop's interest set until the pause is over. */
static void hl_listener_pause(struct health_ctx *ctx, struct hl_listener *l, int err)
{
	slb_log_limited(LOG_WARN, err, "%s: accept failed, pausing for %d ms", l->what, HL_ACCEPT_PAUSE_MS);
	l->paused_until_ms = ctx->now_ms + HL_ACCEPT_PAUSE_MS;
	hl_mod(ctx, &l->h, 0);
}

/* True when a newcomer can be taken: under the cap, or the server made room. */
static bool hl_listener_has_room(struct health_ctx *ctx, struct hl_listener *l)
{
	if (l->n < l->max_conns || (l->evict && l->evict(ctx, l)))
		return true;
	slb_log_limited(LOG_WARN, 0, "%s: %u connections open, refusing one more", l->what, l->n);
	return false;
}

static void hl_listener_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	struct hl_listener *l = (struct hl_listener *)h;

	for (unsigned i = 0; i < HL_ACCEPTS_PER_TURN; i++) {
		struct slb_addr peer = { .len = sizeof(peer.ss) };
		int fd = accept4(h->fd, (struct sockaddr *)&peer.ss, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				hl_listener_pause(ctx, l, errno);
			return;
		}
		if (hl_listener_has_room(ctx, l))
			l->accept(ctx, l, fd, &peer);
		else
			close(fd);
	}
}

int hl_listener_open(struct health_ctx *ctx, struct hl_listener *l, const struct slb_addr *a, int fd, char *err,
		     size_t errlen)
{
	int e;

	l->h.fd = -1;
	if (fd < 0)
		fd = hl_listen(a, l->what, err, errlen);
	if (fd < 0)
		return fd;
	l->h.on_event = hl_listener_on_event;
	l->h.fd = fd;
	e = hl_add(ctx, &l->h, EPOLLIN);
	if (e) {
		snprintf(err, errlen, "%s: epoll: %s", l->what, strerror(-e));
		close(fd);
		l->h.fd = -1;
	}
	return e;
}

void hl_listener_tick(struct health_ctx *ctx, struct hl_listener *l)
{
	int e;

	if (!l->paused_until_ms || ctx->now_ms < l->paused_until_ms)
		return;
	l->paused_until_ms = 0;
	e = hl_mod(ctx, &l->h, EPOLLIN);
	if (e)
		slb_log_limited(LOG_WARN, e, "%s: cannot resume accepting", l->what);
}

static void hl_conn_unlink(struct hl_listener *l, struct hl_handler *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		l->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		l->tail = h->prev;
	h->prev = h->next = NULL;
	h->owner = NULL;
	l->n--;
}

void hl_conn_link(struct hl_listener *l, struct hl_handler *h)
{
	h->owner = l;
	h->next = NULL;
	h->prev = l->tail;
	if (l->tail)
		l->tail->next = h;
	else
		l->head = h;
	l->tail = h;
	l->n++;
}

void hl_conn_close(struct health_ctx *ctx, struct hl_handler *h)
{
	if (h->dead)
		return;
	if (h->owner)
		hl_conn_unlink(h->owner, h);
	hl_retire(ctx, h);
}

/* Out of the loop before the close: a listening socket handed to another process in an
 * upgrade stays open there, and epoll would go on reporting it, to a freed handler. */
static void hl_forget(struct health_ctx *ctx, int fd)
{
	if (ctx->epfd >= 0 && fd >= 0)
		epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, fd, NULL);
	if (fd >= 0)
		close(fd);
}

void hl_listener_close(struct health_ctx *ctx, struct hl_listener *l)
{
	while (l->head) {
		struct hl_handler *h = l->head;

		hl_conn_unlink(l, h);
		hl_forget(ctx, h->fd);
		if (h->free)
			h->free(h);
	}
	hl_forget(ctx, l->h.fd);
	l->h.fd = -1;
}
