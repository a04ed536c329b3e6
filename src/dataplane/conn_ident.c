/* conn_ident: who a client is, learnt before a backend is picked, and only when a feature
 * asks (--send-proxy, --accept-proxy, --access-log): the default accept path never comes here.
 *
 * The client socket is a direct descriptor, which getpeername(2) cannot take, and multishot
 * accept has no per-connection address buffer. So a regular twin is made
 * (IORING_OP_FIXED_FD_INSTALL, Linux 6.8: an inline op, its completion is there on the next
 * loop turn) and asked with getpeername/getsockname; the twin then serves splice and the
 * half-close, which would have made one later anyway.
 *
 * With --accept-proxy the header is read through the twin, never past its end: each time
 * the client is readable, recv(MSG_PEEK) shows what came, proxy_parse says whether the header
 * is whole, and exactly the header's bytes are consumed (a prefix is consumed too, into the
 * slot's buffer, so the next readiness shows only new bytes). The client's first bytes after
 * the header stay in the socket for the relay. */
#include "conn.h"
#include "client_limits.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "slb/common/log.h"
#include "slb/common/proxy_proto.h"

static void ident_poll(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_poll_add(sqe, c->cfd, POLLIN | POLLRDHUP);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_PROXY_POLL, 0));
	c->inflight++;
}

void conn_ident_start(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;

	uring_reserve(&w->ring, 2); /* the install and, with PROXY, its linked poll */
	sqe = uring_sqe(&w->ring);

	c->state = CONN_IDENT;
	io_uring_prep_rw(IORING_OP_FIXED_FD_INSTALL, sqe, c->cfd, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	/* the first poll runs after the twin exists, and is cancelled if it could not be made */
	if (w->cfg->accept_proxy)
		sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_IDENT, 0));
	c->inflight++;
	if (w->cfg->accept_proxy)
		ident_poll(w, c);
}

static void ident_fail(struct worker *w, struct conn *c, enum access_log_end end, int err)
{
	if (end == END_PROXY_INVALID || end == END_PROXY_TIMEOUT) {
		stat_add(&w->ch->stats.proxy_errors, 1);
		if (end == END_PROXY_TIMEOUT)
			slb_log_limited(LOG_WARN, 0, "closing a client: no whole PROXY header within %u ms",
					w->cfg->proxy_timeout_ms);
		else
			slb_log_limited(LOG_WARN, err, "closing a client: malformed PROXY header");
	} else if (end == END_ERROR) {
		slb_log_limited(LOG_WARN, err, "cannot learn a client's address: closing it");
	}
	conn_set_end(c, end);
	conn_finalize(w, c, true);
}

static int ident_sockaddr(int fd, struct slb_addr *a, bool peer)
{
	int ret;

	a->len = sizeof(a->ss);
	ret = peer ? getpeername(fd, (struct sockaddr *)&a->ss, &a->len)
		   : getsockname(fd, (struct sockaddr *)&a->ss, &a->len);
	if (ret == -1) {
		a->len = 0;
		return -errno;
	}
	return 0;
}

void conn_ident_on_install(struct worker *w, struct conn *c, int res)
{
	if (res < 0) {
		ident_fail(w, c, END_ERROR, res);
		return;
	}
	c->cfd_sys = res;
	res = ident_sockaddr(res, &conn_id(w, c)->client, true);
	if (!res)
		res = ident_sockaddr(c->cfd_sys, &conn_id(w, c)->local, false);
	if (res) {
		/* ENOTCONN: the client has gone already */
		ident_fail(w, c, res == -ENOTCONN ? END_CLIENT_RESET : END_ERROR, res);
		return;
	}
	if (!w->cfg->accept_proxy)
		conn_route(w, c);
	/* else the linked poll is on its way */
}

/* Reads what the client sent so far, up to the end of its PROXY header. Returns the header's
 * length once whole, 0 for more to wait for, or the cause to close with (negated). */
static int ident_read_header(struct worker *w, struct conn *c, struct proxy_info *pi, int *err)
{
	unsigned char *buf = w->proxy_bufs + (size_t)conn_slot(w, c) * PROXY_HDR_MAX;
	ssize_t n = recv(c->cfd_sys, buf + c->proxy_len, PROXY_HDR_MAX - c->proxy_len, MSG_PEEK);
	int hdr;

	if (n <= 0) {
		*err = n < 0 ? -errno : 0;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n == 0 ? -END_PROXY_INVALID : -END_CLIENT_RESET;
	}
	hdr = proxy_parse(buf, c->proxy_len + (size_t)n, pi);
	if (hdr < 0) {
		*err = hdr;
		return -END_PROXY_INVALID;
	}
	/* consume the bytes that belong to the header: all that was peeked while it is not whole */
	n = hdr ? hdr - c->proxy_len : n;
	if (recv(c->cfd_sys, buf + c->proxy_len, (size_t)n, 0) != n) {
		*err = -EIO;
		return -END_ERROR;
	}
	c->proxy_len = (uint16_t)(c->proxy_len + n);
	return hdr;
}

void conn_ident_on_poll(struct worker *w, struct conn *c, int res)
{
	struct proxy_info pi;
	int err = res;

	if (res >= 0)
		res = ident_read_header(w, c, &pi, &err);
	else
		res = -END_ERROR;
	if (res < 0) {
		ident_fail(w, c, (enum access_log_end)-res, err);
		return;
	}
	if (res == 0) {
		ident_poll(w, c);
		return;
	}
	/* LOCAL or UNKNOWN headers keep the connection's own addresses */
	if (pi.has_addrs) {
		conn_id(w, c)->client = pi.src;
		conn_id(w, c)->local = pi.dst;
		/* maglev hashes the client the header names, not the balancer in front */
		if (w->svc[c->svc].balance->needs_client_addr)
			c->hash_key = balance_hash_client(&w->svc[c->svc].bal, (const struct sockaddr *)&pi.src.ss);
	}
	/* the client limits count the client the header names (or, LOCAL, the peer itself) */
	if (w->clients && !client_limits_admit_conn(w, c, (const struct sockaddr *)&conn_id(w, c)->client.ss))
		return;
	conn_route(w, c);
}

void conn_ident_expire(struct worker *w, struct conn *c)
{
	ident_fail(w, c, w->cfg->accept_proxy ? END_PROXY_TIMEOUT : END_ERROR, -ETIMEDOUT);
}
