/* The pipe pool lends empty pipes, reuses them, never exceeds its cap and never reuses a
 * pipe that still holds bytes. Also: user_data packing round-trips. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "slb/dataplane/pipe_pool.h"
#include "slb/dataplane/uring.h"

Test(pipe_pool, reuses_returned_pipe)
{
	struct pipe_pool p;
	struct pipe_pair a, b;

	cr_assert_eq(pipe_pool_init(&p, 4), 0);
	cr_assert_eq(pipe_pool_get(&p, &a), 0);
	pipe_pool_put(&p, a, 1);
	cr_assert_eq(pipe_pool_get(&p, &b), 0);
	cr_assert_eq(a.rd, b.rd);
	cr_assert_eq(p.n_open, 1);
	pipe_pool_put(&p, b, 1);
	pipe_pool_free(&p);
}

Test(pipe_pool, cap_is_respected)
{
	struct pipe_pool p;
	struct pipe_pair pp[3];

	cr_assert_eq(pipe_pool_init(&p, 2), 0);
	cr_assert_eq(pipe_pool_get(&p, &pp[0]), 0);
	cr_assert_eq(pipe_pool_get(&p, &pp[1]), 0);
	cr_assert_eq(pipe_pool_get(&p, &pp[2]), -EAGAIN);
	pipe_pool_put(&p, pp[0], 1);
	cr_assert_eq(pipe_pool_get(&p, &pp[2]), 0);
	pipe_pool_put(&p, pp[1], 1);
	pipe_pool_put(&p, pp[2], 1);
	pipe_pool_free(&p);
}

Test(pipe_pool, dirty_pipe_is_closed_not_reused)
{
	struct pipe_pool p;
	struct pipe_pair a, b;

	cr_assert_eq(pipe_pool_init(&p, 2), 0);
	cr_assert_eq(pipe_pool_get(&p, &a), 0);
	cr_assert_eq(write(a.wr, "x", 1), 1);
	pipe_pool_put(&p, a, 0);
	cr_assert_eq(p.n_open, 0);
	cr_assert_eq(fcntl(a.rd, F_GETFD), -1, "dirty pipe still open");
	cr_assert_eq(pipe_pool_get(&p, &b), 0);
	pipe_pool_put(&p, b, 1);
	pipe_pool_free(&p);
}

Test(pipe_pool, cap_zero_disables_splice)
{
	struct pipe_pool p;
	struct pipe_pair a;

	cr_assert_eq(pipe_pool_init(&p, 0), 0);
	cr_assert_eq(pipe_pool_get(&p, &a), -EAGAIN);
	pipe_pool_free(&p);
}

Test(uring, user_data_round_trips)
{
	uint64_t ud = uring_ud(9, 1, 123456, 0xabcdef);

	cr_assert_eq(uring_ud_op(ud), 9);
	cr_assert_eq(uring_ud_dir(ud), 1);
	cr_assert_eq(uring_ud_slot(ud), 123456);
	cr_assert_eq(uring_ud_gen(ud), 0xabcdef);
	/* generations wrap at 24 bits without spilling into the slot */
	cr_assert_eq(uring_ud_slot(uring_ud(1, 0, 7, 0x1000000)), 7);
	cr_assert_eq(uring_ud_gen(uring_ud(1, 0, 7, 0x1000000)), 0);
}
