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
