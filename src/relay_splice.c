/* relay_splice: move bytes socket -> pipe -> socket without copying them through user
 * space. Every splice is preceded by a poll, because io_uring runs a splice on an io-wq
 * thread and a splice that waits for data would park one thread per idle connection
 * (IO_URING_NOTES.md). Sockets and pipes are non-blocking; the two splices are hard-linked
 * so a short first splice still runs the second, and leftovers in the pipe are drained
 * after a POLLOUT. The pipe goes back to the pool as soon as it is empty. */
#include "slb/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include "slb/log.h"

#define SPLICE_CHUNK (64u * 1024) /* the default pipe capacity */
#define SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

static void poll_fd(struct worker *w, struct conn *c, unsigned dir, int fd, bool fixed, unsigned mask, unsigned op)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_poll_add(sqe, fd, mask);
	sqe_fixed_if(sqe, fixed);
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, op, dir));
	c->inflight++;
}

void relay_splice_arm(struct worker *w, struct conn *c, unsigned dir)
{
	poll_fd(w, c, dir, half_src(c, dir), half_src_fixed(dir), POLLIN | POLLRDHUP, OP_POLL_IN);
	c->h[dir].reading = 1;
}

static void splice_submit_pair(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];
	struct io_uring_sqe *in = uring_sqe(&w->ring);
	struct io_uring_sqe *out;

	io_uring_prep_splice(in, half_src(c, dir), -1, h->pipe.wr, -1, SPLICE_CHUNK,
			     SPLICE_FLAGS | (half_src_fixed(dir) ? SPLICE_F_FD_IN_FIXED : 0));
	io_uring_sqe_set_data64(in, conn_ud(w, c, OP_SPLICE_IN, dir));
	in->flags |= IOSQE_IO_HARDLINK;
	out = uring_sqe(&w->ring);
	io_uring_prep_splice(out, h->pipe.rd, -1, half_dst(c, dir), -1, SPLICE_CHUNK, SPLICE_FLAGS);
	sqe_fixed_if(out, half_dst_fixed(dir));
	io_uring_sqe_set_data64(out, conn_ud(w, c, OP_SPLICE_OUT, dir));
	c->inflight += 2;
	h->splice_pending = 2;
	h->in_res = -EAGAIN;
	h->out_res = -EAGAIN;
	h->reading = 1;
	h->writing = 1;
}

static void splice_submit_out(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_splice(sqe, h->pipe.rd, -1, half_dst(c, dir), -1, h->pipe_bytes, SPLICE_FLAGS);
	sqe_fixed_if(sqe, half_dst_fixed(dir));
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_SPLICE_OUT, dir));
	c->inflight++;
	h->splice_pending = 1;
	h->in_res = -EAGAIN; /* no read in this round */
	h->out_res = -EAGAIN;
	h->writing = 1;
}

void relay_splice_on_poll_in(struct worker *w, struct conn *c, unsigned dir, int res)
{
	struct half *h = &c->h[dir];
	int ret;

	h->reading = 0;
	if (res < 0) {
		conn_finalize(w, c, true);
		return;
	}
	if (!h->has_pipe) {
		ret = pipe_pool_get(&w->pipes, &h->pipe);
		if (ret) {
			/* No pipe to be had (pool at its cap, or out of descriptors): copy this transfer. */
			if (ret != -EAGAIN)
				slb_log_limited(LOG_WARN, ret, "cannot create a pipe for splice; copying instead");
			h->bulk = 0;
			relay_copy_arm(w, c, dir);
			return;
		}
		h->has_pipe = 1;
	}
	splice_submit_pair(w, c, dir);
}

void relay_splice_on_poll_out(struct worker *w, struct conn *c, unsigned dir, int res)
{
	c->h[dir].writing = 0;
	if (res < 0) {
		conn_finalize(w, c, true);
		return;
	}
	splice_submit_out(w, c, dir);
}

static void splice_put_pipe(struct worker *w, struct half *h)
{
	pipe_pool_put(&w->pipes, h->pipe, h->pipe_bytes == 0);
	h->has_pipe = 0;
	h->pipe_bytes = 0;
}

/* Both results of a round are in: account, then decide the next step. */
static void splice_round_done(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];
	int in = h->in_res, out = h->out_res;

	h->reading = 0;
	h->writing = 0;
	if (in > 0) {
		h->pipe_bytes += (uint32_t)in;
		conn_count_bytes(w, c, dir, (unsigned)in);
		stat_add(&w->ch->stats.splice_transfers, 1);
	} else if (in == 0) {
		h->eof = 1;
	}
	if (out > 0)
		h->pipe_bytes -= (uint32_t)out;
	if ((in < 0 && in != -EAGAIN) || (out < 0 && out != -EAGAIN)) {
		conn_finalize(w, c, true);
		return;
	}
	if (h->pipe_bytes) {
		/* dst could not take it all: wait until it can, holding the pipe */
		poll_fd(w, c, dir, half_dst(c, dir), half_dst_fixed(dir), POLLOUT, OP_POLL_OUT);
		h->writing = 1;
		return;
	}
	if (in == (int)SPLICE_CHUNK) {
		splice_submit_pair(w, c, dir); /* likely more waiting: skip the poll */
		return;
	}
	splice_put_pipe(w, h);
	if (h->eof) {
		conn_half_eof(w, c, dir);
		return;
	}
	/* auto: bulk stays set for this direction. Dropping back to copy on a short splice
	 * flip-flopped on 1 MiB responses (data arrives in uneven bursts) and cost 40% of
	 * their throughput in the first measurement (bench/README.md). */
	conn_arm_read(w, c, dir);
}

void relay_splice_on_splice(struct worker *w, struct conn *c, unsigned dir, unsigned op, int res)
{
	struct half *h = &c->h[dir];

	if (op == OP_SPLICE_IN)
		h->in_res = res;
	else
		h->out_res = res;
	if (--h->splice_pending == 0)
		splice_round_done(w, c, dir);
}

void relay_splice_release(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	if (!h->has_pipe)
		return;
	if (c->abort)
		h->pipe_bytes = 1; /* results of cancelled splices were not counted: never reuse it */
	splice_put_pipe(w, h);
}
