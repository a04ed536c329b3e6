/* conn_refuse: what a client that no backend can take gets (--no-backend, per service).
 *   close     a FIN, as slb always did: an HTTP client reports an empty reply (curl: 52)
 *   reset     a RST: the client knows at once that nothing was served
 *   http-503  "HTTP/1.1 503 Service Unavailable" with Retry-After and Connection: close, then
 *             a FIN: what an HTTP fleet's clients and their retry logic expect (curl -f: 22)
 * The 503 goes out only on the rare path of a client given up; the answer is a constant, so
 * nothing is built or allocated. */
#include "conn.h"

#include <sys/socket.h>

#include "slb/common/stats.h"

#define REFUSE_BODY "no backend is available\n"

static const char refuse_503[] = "HTTP/1.1 503 Service Unavailable\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: 24\r\n"
				 "Retry-After: 1\r\n"
				 "Connection: close\r\n"
				 "\r\n" REFUSE_BODY;

_Static_assert(sizeof(REFUSE_BODY) - 1 == 24, "Content-Length of the 503 must match its body");

/* Reads what the client has sent, without waiting (MSG_DONTWAIT), before the answer: a close
 * with unread bytes in the socket sends a RST instead of a FIN, and a client that gets the RST
 * may lose the answer with it. Hard-linked, so that the send goes whatever the read found
 * (mostly -EAGAIN, or a buffer the read's CQE gives back). Skipped while the client's early
 * recv is pending: that one takes the bytes. */
static void refuse_prep_drain(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_recv(sqe, c->cfd, NULL, w->bufs.size, MSG_DONTWAIT);
	sqe->flags |= IOSQE_BUFFER_SELECT | IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
	sqe->buf_group = w->bufs.bgid;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_REFUSE_RECV, DIR_UP));
	c->inflight++;
}

static void refuse_send_503(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;
	bool drain = !c->h[DIR_UP].reading;

	stat_add(&w->ch->stats.no_backend_503, 1);
	uring_reserve(&w->ring, 2); /* the read and the send, one chain */
	if (drain)
		refuse_prep_drain(w, c);
	sqe = uring_sqe(&w->ring);
	io_uring_prep_send(sqe, c->cfd, refuse_503, sizeof(refuse_503) - 1, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_REFUSE_SEND, DIR_DOWN));
	c->inflight++;
}

/* See conn.h. A reset is made by client_leg_close (SO_LINGER 0) for a refused connection. */
void conn_refuse(struct worker *w, struct conn *c)
{
	c->refusing = 1;
	/* a client of an sni listener speaks TLS (or is a fallback's guess): a plain 503 would
	 * only read as a broken handshake */
	if (w->cfg->services[c->svc].no_backend == NO_BACKEND_HTTP_503 && !c->sni_group)
		refuse_send_503(w, c);
	else
		conn_finalize(w, c, true);
}

/* See conn.h. */
void conn_refuse_on_cqe(struct worker *w, struct conn *c, unsigned op, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_BUFFER)
		uring_buf_recycle(&w->bufs, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	if (op == OP_REFUSE_SEND)
		conn_finalize(w, c, true);
}
