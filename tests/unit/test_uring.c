/* uring: uring_reserve keeps a linked chain whole when the submission queue is nearly full. A
 * chain cut by a flush has its head run in io-wq, in blocking context, where a connect on a
 * non-blocking socket completes with -EINPROGRESS instead of its result. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/dataplane/uring.h"

#define RING_SIZE 4

static int listen_loopback(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

/* Leaves one free SQE: the next chain of two would not fit without a flush. */
static void fill_with_nops(struct io_uring *ring)
{
	for (unsigned i = 0; i < RING_SIZE - 1; i++) {
		struct io_uring_sqe *sqe = uring_sqe(ring);

		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, 0);
	}
	cr_assert_eq(io_uring_sq_space_left(ring), 1);
}

/* The connect's own completion (user_data 1), after draining the others. */
static int connect_result(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int res = 1;

	io_uring_submit(ring);
	while (res == 1 && io_uring_wait_cqe(ring, &cqe) == 0) {
		if (cqe->user_data == 1)
			res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
	return res;
}

Test(uring, reserve_keeps_a_connect_and_its_timeout_in_one_chain)
{
	struct __kernel_timespec ts = { .tv_sec = 2 };
	struct sockaddr_in sin;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	int lfd = listen_loopback(&sin), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), res;

	cr_assert_geq(fd, 0);
	cr_assert_eq(io_uring_queue_init(RING_SIZE, &ring, 0), 0);
	fill_with_nops(&ring);
	uring_reserve(&ring, 2);
	cr_assert_geq(io_uring_sq_space_left(&ring), 2, "the queued SQEs were submitted");
	sqe = uring_sqe(&ring);
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&sin, sizeof(sin));
	io_uring_sqe_set_data64(sqe, 1);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = uring_sqe(&ring);
	io_uring_prep_link_timeout(sqe, &ts, 0);
	io_uring_sqe_set_data64(sqe, 2);
	res = connect_result(&ring);
	cr_assert_eq(res, 0, "the connect completed with %d (%s)", res, strerror(-res));
	io_uring_queue_exit(&ring);
	close(fd);
	close(lfd);
}

Test(uring, reserve_does_nothing_when_there_is_room)
{
	struct io_uring ring;

	cr_assert_eq(io_uring_queue_init(RING_SIZE, &ring, 0), 0);
	io_uring_prep_nop(uring_sqe(&ring));
	uring_reserve(&ring, 2);
	cr_assert_eq(io_uring_sq_ready(&ring), 1, "nothing was submitted early");
	io_uring_queue_exit(&ring);
}
