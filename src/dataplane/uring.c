/* uring: ring set-up ladder, flushing SQE getter and the provided-buffer ring. */
#include "slb/dataplane/uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/common/log.h"

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* Why each rung:
 * - SINGLE_ISSUER|DEFER_TASKRUN (6.1): completions run only when this thread enters the
 *   kernel to wait, so they are batched and never interrupt the loop with IPIs; requires
 *   that only the creating thread submits, which is how workers are built.
 * - COOP_TASKRUN|TASKRUN_FLAG (5.19): no forced interrupt to run task work; the kernel
 *   flags it in the SQ ring instead.
 * - plain: any kernel with io_uring. */
int uring_setup(struct io_uring *ring, unsigned entries, const char **mode)
{
	static const struct {
		unsigned flags;
		const char *name;
	} ladder[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single-issuer+defer-taskrun" },
		{ IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop-taskrun" },
		{ 0, "plain" },
	};
	int ret = -ENOSYS;

	for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = ladder[i].flags | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		ret = io_uring_queue_init_params(entries, ring, &p);
		if (ret == -EINVAL) {
			/* older kernels: retry the same rung without SUBMIT_ALL/CQSIZE */
			memset(&p, 0, sizeof(p));
			p.flags = ladder[i].flags;
			ret = io_uring_queue_init_params(entries, ring, &p);
		}
		if (ret == 0) {
			*mode = ladder[i].name;
			return 0;
		}
		if (ret != -EINVAL)
			break; /* ENOMEM, EPERM, ENOSYS: no rung below will do better */
	}
	return ret;
}

struct io_uring_sqe *uring_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		uring_reserve(ring, 1);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

void uring_reserve(struct io_uring *ring, unsigned n)
{
	while (io_uring_sq_space_left(ring) < n) {
		int ret = io_uring_submit(ring);

		if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR) {
			slb_log(LOG_ERROR, ret, "io_uring submit failed; the worker cannot go on");
			abort();
		}
	}
}

int uring_bufs_init(struct io_uring *ring, struct uring_bufs *b, uint16_t bgid, unsigned count, unsigned size)
{
	struct io_uring_buf_reg reg;
	int ret;

	memset(b, 0, sizeof(*b));
	b->count = count;
	b->size = size;
	b->mask = io_uring_buf_ring_mask(count);
	b->bgid = bgid;
	b->ring_bytes = (size_t)count * sizeof(struct io_uring_buf);
	b->br = mmap(NULL, b->ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (b->br == MAP_FAILED)
		return -errno;
	b->mem = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (b->mem == MAP_FAILED) {
		ret = -errno;
		goto out_unmap_ring;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)b->br;
	reg.ring_entries = count;
	reg.bgid = bgid;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret)
		goto out_unmap_mem;
	io_uring_buf_ring_init(b->br);
	for (unsigned i = 0; i < count; i++)
		io_uring_buf_ring_add(b->br, uring_buf_addr(b, i), size, (unsigned short)i, b->mask, (int)i);
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;

out_unmap_mem:
	munmap(b->mem, (size_t)count * size);
out_unmap_ring:
	munmap(b->br, b->ring_bytes);
	b->br = NULL;
	return ret;
}

void uring_bufs_free(struct io_uring *ring, struct uring_bufs *b)
{
	if (!b->br)
		return;
	io_uring_unregister_buf_ring(ring, b->bgid);
	munmap(b->mem, (size_t)b->count * b->size);
	munmap(b->br, b->ring_bytes);
	b->br = NULL;
}

#ifndef SOCKET_URING_OP_SETSOCKOPT
#define SOCKET_URING_OP_SETSOCKOPT 3 /* Linux 6.7: enum io_uring_socket_op in linux/io_uring.h */
#endif

void uring_prep_linger_zero(struct io_uring_sqe *sqe, int fd)
{
	static const struct linger lg = { .l_onoff = 1, .l_linger = 0 }; /* read when the op runs */

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = SOCKET_URING_OP_SETSOCKOPT;
	/* level and optname share the addr field (low, then high 32 bits), optlen the file_index
	 * one, optval the addr3 one: the layout of linux/io_uring.h since 6.7 */
	sqe->addr = (uint64_t)SOL_SOCKET | ((uint64_t)SO_LINGER << 32);
	sqe->file_index = sizeof(lg);
	sqe->addr3 = (uint64_t)(uintptr_t)&lg;
}

bool uring_probe_linger(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	bool ok = false;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return false;
	sqe = uring_sqe(ring);
	uring_prep_linger_zero(sqe, fd);
	io_uring_sqe_set_data64(sqe, 0);
	if (io_uring_submit_and_wait(ring, 1) >= 0 && io_uring_peek_cqe(ring, &cqe) == 0) {
		ok = cqe->res == 0;
		io_uring_cqe_seen(ring, cqe);
	}
	close(fd);
	return ok;
}

bool uring_opcode_supported(int op)
{
	struct io_uring_probe *p = io_uring_get_probe();
	bool ok = p && io_uring_opcode_supported(p, op);

	if (p)
		io_uring_free_probe(p);
	return ok;
}

/* A two-entry ring is the cheapest complete test: io_uring_setup is the call that
 * kernel.io_uring_disabled (6.6+), seccomp profiles (Docker's default among them) and kernels
 * built without io_uring refuse, each with EPERM or ENOSYS. */
int uring_check_available(char *err, size_t errlen)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(2, &ring, 0);

	if (ret) {
		snprintf(err, errlen, "io_uring is unavailable (%s): slb needs it (check kernel.io_uring_disabled "
			 "and seccomp)", strerror(-ret));
		return ret;
	}
	io_uring_queue_exit(&ring);
	return 0;
}
