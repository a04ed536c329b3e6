/* relay_copy: move bytes with recv into a provided buffer, then send it on. One buffer per
 * direction at a time: the next recv is armed only after the send completes, so a slow
 * reader holds at most one buffer per connection and slb never buffers without bound. */
#include "conn.h"

#include <errno.h>
#include <sys/socket.h>

#include "slb/common/log.h"

void relay_copy_arm(struct worker *w, struct conn *c, unsigned dir)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_recv(sqe, half_src(c, dir), NULL, w->bufs.size, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	/* A recv is armed right after the previous send, so the answer is rarely there yet:
	 * POLL_FIRST (5.19) skips the attempt that would fail with EAGAIN. */
	sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	sqe_fixed_if(sqe, half_src_fixed(dir));
	sqe->buf_group = w->bufs.bgid;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_RECV, dir));
	c->inflight++;
	c->h[dir].reading = 1;
}

static void copy_submit_send(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_send(sqe, half_dst(c, dir), uring_buf_addr(&w->bufs, h->buf_id) + h->buf_off,
			   h->buf_len - h->buf_off, MSG_NOSIGNAL);
	sqe_fixed_if(sqe, half_dst_fixed(dir));
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_SEND, dir));
	c->inflight++;
	h->writing = 1;
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

void relay_copy_on_recv(struct worker *w, struct conn *c, unsigned dir, const struct io_uring_cqe *cqe)
{
	struct half *h = &c->h[dir];
	int res = cqe->res;

	h->reading = 0;
	if (res > 0) {
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
	relay_copy_release(w, c, dir);
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
