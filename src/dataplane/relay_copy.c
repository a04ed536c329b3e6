/* relay_copy: move bytes with recv into a provided buffer, then send it on. One buffer per
 * direction at a time: the next recv is armed only after the send completes, so a slow
 * reader holds at most one buffer per connection and slb never buffers without bound. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "slb/common/log.h"

static void copy_prep_recv(struct worker *w, struct conn *c, unsigned dir, bool poll_first)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_recv(sqe, half_src(c, dir), NULL, w->bufs.size, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	if (poll_first)
		sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	sqe_fixed_if(sqe, half_src_fixed(dir));
	sqe->buf_group = w->bufs.bgid;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_RECV, dir));
	c->inflight++;
	c->h[dir].reading = 1;
}

void relay_copy_arm(struct worker *w, struct conn *c, unsigned dir)
{
	/* A recv is armed right after the previous send, so the answer is rarely there yet:
	 * POLL_FIRST (5.19) skips the attempt that would fail with EAGAIN. */
	copy_prep_recv(w, c, dir, true);
}

/* A short read with more behind it (cork, below) is most often an answer with the peer's FIN
 * right after it. Its bytes go with MSG_MORE, so they wait in the socket for what the linked
 * recv finds, in the same io_uring_enter: the FIN, and the half-close then sends bytes and FIN
 * in one segment (HAProxy's trace shows the same), where they used to go as two, with the
 * client's ACK of the bytes in between and its own FIN often crossing ours (a simultaneous
 * close leaves a TIME_WAIT at both ends); or more bytes, sent with them. The client's twin,
 * which its half-close needs, is asked for at the same time so the FIN does not wait for it.
 * If the recv finds no buffer, relay_copy_push sends the bytes at once.
 *
 * Sends what dir's buffer holds from buf_off on. When src already had more after the recv
 * that filled the buffer (IORING_CQE_F_SOCK_NONEMPTY, 5.19: bytes, or its FIN, which tcp_inq
 * counts), the next recv is linked behind the send: the kernel issues it as soon as the send
 * has gone out whole, in the same io_uring_enter, instead of a loop turn later. So a backend's
 * FIN that came with its last bytes reaches the client one turn sooner, and copy-mode bulk
 * saves a turn per buffer. A linked send carries MSG_WAITALL: without it a short send
 * completes the send "successfully" and the linked recv would run while part of the buffer
 * is still unsent; with it io_uring sends the rest itself when the socket has room, and only
 * an error ends it short, which breaks the link (the recv ends -ECANCELED). So one buffer per
 * direction still holds: the recv runs only after the whole buffer has gone. */
static void copy_submit_send(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];
	bool link = h->more && !h->reading && conn_reads_by_copy(w, c, dir);
	bool cork = link && h->buf_len < w->bufs.size;
	struct io_uring_sqe *sqe;

	if (cork && half_dst_fixed(dir))
		conn_want_twin(w, c, dir); /* before the chain: nothing may come between its SQEs */
	if (link)
		uring_reserve(&w->ring, 2); /* the send and its recv, one chain */
	sqe = uring_sqe(&w->ring);

	io_uring_prep_send(sqe, half_dst(c, dir), uring_buf_addr(&w->bufs, h->buf_id) + h->buf_off,
			   h->buf_len - h->buf_off,
			   MSG_NOSIGNAL | (link ? MSG_WAITALL : 0) | (cork ? MSG_MORE : 0));
	h->corked = cork;
	sqe_fixed_if(sqe, half_dst_fixed(dir));
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_SEND, dir));
	c->inflight++;
	h->writing = 1;
	if (!link)
		return;
	sqe->flags |= IOSQE_IO_LINK;
	copy_prep_recv(w, c, dir, false);
	h->linked = 1;
}

/* Bytes left corked (MSG_MORE) must not wait for a buffer: setting TCP_NODELAY again pushes
 * what the socket holds. A client's twin may still be on its way: conn_twin_arrived pushes. */
void relay_copy_push(struct conn *c, unsigned dir)
{
	int one = 1, fd = half_dst_fixed(dir) ? c->cfd_sys : half_dst(c, dir);

	if (!c->h[dir].corked || fd < 0)
		return;
	c->h[dir].corked = 0;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void waitq_push(struct worker *w, struct conn *c, unsigned dir)
{
	/* The queue holds one entry per half at most (a half waits once), so it cannot overflow. */
	w->waitq[w->waitq_tail++ % w->waitq_cap] = conn_ud(w, c, OP_RECV, dir);
	c->h[dir].waiting = 1;
}

/* A buffer came back: let the oldest half that found none try again. */
void relay_copy_wake_waiters(struct worker *w)
{
	while (w->waitq_head != w->waitq_tail) {
		uint64_t ud = w->waitq[w->waitq_head++ % w->waitq_cap];
		struct conn *c = &w->conns[uring_ud_slot(ud)];
		unsigned dir = uring_ud_dir(ud);

		if (c->gen != uring_ud_gen(ud) || c->state != CONN_RELAYING || !c->h[dir].waiting)
			continue;
		c->h[dir].waiting = 0;
		conn_arm_read(w, c, dir);
		return;
	}
}

/* See conn.h. */
void relay_copy_forward(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	conn_count_bytes(w, c, dir, h->buf_len);
	stat_add(&w->ch->stats.copy_transfers, 1);
	/* auto: a read that fills a whole buffer means a bulk transfer; splice the rest. */
	if (w->cfg->relay == RELAY_AUTO && h->buf_len == w->bufs.size)
		h->bulk = 1;
	copy_submit_send(w, c, dir);
}

/* A linked recv cancelled by a short send: the rest of the buffer is being sent (or was:
 * then read again now). */
static void copy_on_unlinked(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	if (!h->writing && !h->has_buf)
		conn_arm_read(w, c, dir);
}

void relay_copy_on_recv(struct worker *w, struct conn *c, unsigned dir, const struct io_uring_cqe *cqe)
{
	struct half *h = &c->h[dir];
	int res = cqe->res;
	bool was_linked = h->linked;

	h->reading = 0;
	h->linked = 0;
	if (res == -ECANCELED && was_linked) {
		copy_on_unlinked(w, c, dir);
		return;
	}
	if (res > 0) {
		h->more = !!(cqe->flags & IORING_CQE_F_SOCK_NONEMPTY);
		h->buf_id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		h->has_buf = 1;
		h->buf_len = (uint32_t)res;
		h->buf_off = 0;
		/* the client's first bytes, read while the backend connects: held until it has */
		if (c->state != CONN_CONNECTING)
			relay_copy_forward(w, c, dir);
	} else if (res == 0) {
		conn_half_eof(w, c, dir);
	} else if (res == -ENOBUFS) {
		/* while connecting, conn_start_relay arms this read again; the wait list would not */
		if (c->state != CONN_CONNECTING)
			waitq_push(w, c, dir);
		relay_copy_push(c, dir);
	} else {
		conn_read_error(w, c, dir, res);
	}
}

void relay_copy_on_send(struct worker *w, struct conn *c, unsigned dir, int res)
{
	struct half *h = &c->h[dir];

	h->writing = 0;
	if (res < 0) {
		conn_write_error(w, c, dir, res);
		return;
	}
	h->buf_off += (uint32_t)res;
	if (h->buf_off < h->buf_len) {
		copy_submit_send(w, c, dir); /* short write: the rest of the same buffer */
		return;
	}
	if (dir == DIR_UP && c->replay == RP_SENDING) {
		if (conn_replay_sent(w, c)) /* kept for a replay until the backend answers */
			return;
	} else {
		relay_copy_release(w, c, dir);
	}
	if (!h->reading) /* else the linked recv is on its way */
		conn_arm_read(w, c, dir);
}

void relay_copy_release(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	if (!h->has_buf)
		return;
	h->has_buf = 0;
	uring_buf_recycle(&w->bufs, h->buf_id);
	relay_copy_wake_waiters(w);
}
