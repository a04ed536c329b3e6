/* relay_splice: bulk transfers socket -> pipe -> socket with splice(2), the bytes never
 * crossing into user space. io_uring only says when a socket is ready (poll); the splices
 * themselves are plain non-blocking syscalls from the worker, because io_uring runs every
 * IORING_OP_SPLICE on an io-wq thread: that hand-off cost as much CPU per MiB as copying
 * (bench/README.md). The client's direct descriptor gets a regular twin for splice(2)
 * (IORING_OP_FIXED_FD_INSTALL, 6.8), made once per connection when it first goes bulk.
 * A connection holds a pipe only while bytes sit in it. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "slb/common/log.h"

#define SPLICE_CHUNK (64u * 1024) /* the default pipe capacity */
#define SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
#define SPLICE_ROUNDS_MAX 16      /* chunks per readiness event: 1 MiB, then others get a turn */

static void poll_fd(struct worker *w, struct conn *c, unsigned dir, int fd, bool fixed, unsigned mask, unsigned op)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_poll_add(sqe, fd, mask);
	sqe_fixed_if(sqe, fixed);
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, op, dir));
	c->inflight++;
}

static void splice_poll_in(struct worker *w, struct conn *c, unsigned dir)
{
	poll_fd(w, c, dir, half_src(c, dir), half_src_fixed(dir), POLLIN | POLLRDHUP, OP_POLL_IN);
	c->h[dir].reading = 1;
}

/* Asks for the regular twin of the client's direct descriptor, linked to the first poll so
 * that the poll's completion finds the twin there (or the poll is cancelled if it failed). */
static void splice_install_then_poll(struct worker *w, struct conn *c, unsigned dir)
{
	struct io_uring_sqe *sqe;

	uring_reserve(&w->ring, 2); /* the install and its linked poll, one chain */
	sqe = uring_sqe(&w->ring);

	io_uring_prep_rw(IORING_OP_FIXED_FD_INSTALL, sqe, c->cfd, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_INSTALL, dir));
	c->inflight++;
	c->installing = 1;
	splice_poll_in(w, c, dir);
}

void relay_splice_arm(struct worker *w, struct conn *c, unsigned dir)
{
	if (c->cfd_sys < 0 && !c->installing)
		splice_install_then_poll(w, c, dir);
	else
		splice_poll_in(w, c, dir);
}

void relay_splice_on_install(struct worker *w, struct conn *c, unsigned dir, int res)
{
	if (res >= 0) {
		conn_twin_arrived(c, res);
		return;
	}
	c->installing = 0;
	/* Kernel before 6.8, or out of descriptors: this connection copies instead. Its
	 * linked poll completes with -ECANCELED and re-arms as copy. */
	c->no_splice = 1;
	slb_log_limited(LOG_WARN, res, "no descriptor for splicing a client; copying instead");
	if (c->shut_pending) /* a half-close waited for this twin: ask again, io-wq if that fails */
		conn_want_twin(w, c, dir);
}

static int sys_src(const struct conn *c, unsigned dir)
{
	return dir == DIR_UP ? c->cfd_sys : c->bfd;
}

static int sys_dst(const struct conn *c, unsigned dir)
{
	return dir == DIR_UP ? c->bfd : c->cfd_sys;
}

static void splice_put_pipe(struct worker *w, struct half *h)
{
	pipe_pool_put(&w->pipes, h->pipe, h->pipe_bytes == 0);
	h->has_pipe = 0;
	h->pipe_bytes = 0;
}

enum pump_result {
	PUMP_AGAIN = 0, /* src has nothing more now: wait for POLLIN */
	PUMP_FULL,      /* dst cannot take what is in the pipe: wait for POLLOUT */
	PUMP_EOF,       /* src ended and the pipe is empty */
	PUMP_YIELD,     /* moved SPLICE_ROUNDS_MAX chunks: let other connections run */
	PUMP_ERROR_IN,  /* reading src failed (errno says how) */
	PUMP_ERROR_OUT, /* writing dst failed */
};

/* Moves what src has now to dst, chunk by chunk, through the pipe. */
static enum pump_result splice_pump(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	for (unsigned round = 0; round < SPLICE_ROUNDS_MAX; round++) {
		ssize_t n;

		if (h->pipe_bytes == 0) {
			n = splice(sys_src(c, dir), NULL, h->pipe.wr, NULL, SPLICE_CHUNK, SPLICE_FLAGS);
			if (n == 0)
				return PUMP_EOF;
			if (n < 0)
				return errno == EAGAIN ? PUMP_AGAIN : PUMP_ERROR_IN;
			h->pipe_bytes = (uint32_t)n;
			conn_count_bytes(w, c, dir, (unsigned)n);
			stat_add(&w->ch->stats.splice_transfers, 1);
		}
		n = splice(h->pipe.rd, NULL, sys_dst(c, dir), NULL, h->pipe_bytes, SPLICE_FLAGS);
		if (n < 0)
			return errno == EAGAIN ? PUMP_FULL : PUMP_ERROR_OUT;
		h->pipe_bytes -= (uint32_t)n;
		if (h->pipe_bytes)
			return PUMP_FULL;
	}
	return PUMP_YIELD;
}

static void splice_run(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	switch (splice_pump(w, c, dir)) {
	case PUMP_FULL:
		poll_fd(w, c, dir, half_dst(c, dir), half_dst_fixed(dir), POLLOUT, OP_POLL_OUT);
		h->writing = 1;
		return;
	case PUMP_EOF:
		splice_put_pipe(w, h);
		conn_half_eof(w, c, dir);
		return;
	case PUMP_ERROR_IN:
		conn_read_error(w, c, dir, -errno);
		return;
	case PUMP_ERROR_OUT:
		conn_write_error(w, c, dir, -errno);
		return;
	case PUMP_AGAIN:
	case PUMP_YIELD:
		break;
	}
	splice_put_pipe(w, h);
	conn_arm_read(w, c, dir);
}

void relay_splice_on_poll_in(struct worker *w, struct conn *c, unsigned dir, int res)
{
	struct half *h = &c->h[dir];
	int ret;

	h->reading = 0;
	if (res < 0 && !(res == -ECANCELED && c->no_splice)) {
		conn_finalize(w, c, true);
		return;
	}
	/* No twin could be made (the poll linked to that install was cancelled, or this is the
	 * other direction's poll): this connection copies from now on, both ways. */
	if (c->no_splice) {
		h->bulk = 0;
		relay_copy_arm(w, c, dir);
		return;
	}
	ret = w->now_ms < w->pipes_retry_at ? -EAGAIN : pipe_pool_get(&w->pipes, &h->pipe);
	if (ret) {
		/* No pipe to be had (pool at its cap, or out of descriptors): copy this transfer.
		 * After EMFILE, no pipe2 for a second rather than one failed call per chunk. */
		if (ret != -EAGAIN) {
			slb_log_limited(LOG_WARN, ret, "cannot create a pipe for splice; copying for a second");
			w->pipes_retry_at = w->now_ms + 1000;
		}
		h->bulk = 0;
		relay_copy_arm(w, c, dir);
		return;
	}
	h->has_pipe = 1;
	splice_run(w, c, dir);
}

void relay_splice_on_poll_out(struct worker *w, struct conn *c, unsigned dir, int res)
{
	c->h[dir].writing = 0;
	if (res < 0) {
		conn_finalize(w, c, true);
		return;
	}
	splice_run(w, c, dir);
}

void relay_splice_release(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	if (h->has_pipe)
		splice_put_pipe(w, h);
}
