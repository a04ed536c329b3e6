/* uring: io_uring set-up with a fallback ladder, an SQE getter that flushes when the queue
 * is full, the user_data packing (op | dir | generation | slot) and the provided-buffer ring. */
#ifndef SLB_URING_H
#define SLB_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* user_data layout: bits 0-6 op, bit 7 direction, bits 8-31 generation, bits 32-63 slot.
 * A slot is reused after its connection closes; a CQE whose generation differs from the
 * slot's is stale and dropped (after returning any buffer it carries). */
static inline uint64_t uring_ud(unsigned op, unsigned dir, uint32_t slot, uint32_t gen)
{
	return (uint64_t)(op & 0x7f) | ((uint64_t)(dir & 1) << 7) | ((uint64_t)(gen & 0xffffff) << 8) |
	       ((uint64_t)slot << 32);
}

static inline unsigned uring_ud_op(uint64_t ud)
{
	return (unsigned)(ud & 0x7f);
}

static inline unsigned uring_ud_dir(uint64_t ud)
{
	return (unsigned)((ud >> 7) & 1);
}

static inline uint32_t uring_ud_gen(uint64_t ud)
{
	return (uint32_t)((ud >> 8) & 0xffffff);
}

static inline uint32_t uring_ud_slot(uint64_t ud)
{
	return (uint32_t)(ud >> 32);
}

/* Creates ring with `entries` SQEs, trying SINGLE_ISSUER|DEFER_TASKRUN, then COOP_TASKRUN,
 * then no flags. Must run on the thread that will submit. Returns 0 or -errno; *mode names
 * the rung taken (for one log line). */
int uring_setup(struct io_uring *ring, unsigned entries, const char **mode);

/* An SQE, submitting what is queued first if the SQ is full. Never NULL: a ring that cannot
 * submit is fatal (the worker would otherwise lose track of its connections). */
struct io_uring_sqe *uring_sqe(struct io_uring *ring);

/* Makes room for n SQEs (n <= the ring's size): submits what is queued when fewer are free.
 * Called before a linked chain is prepared, so that uring_sqe never flushes in its middle: the
 * kernel runs a link head submitted without the rest of its chain in io-wq, in blocking
 * context, where a connect on a non-blocking socket ends with -EINPROGRESS (a client closed
 * for a backend that was fine; seen about once in 300,000 connections at 500 clients). */
void uring_reserve(struct io_uring *ring, unsigned n);

/* Provided buffers for copy-mode recv: `count` buffers of `size` bytes in group `bgid`. */
struct uring_bufs {
	struct io_uring_buf_ring *br;
	unsigned char *mem;
	unsigned count, size, mask;
	uint16_t bgid;
	size_t ring_bytes;
};

/* Maps and registers the buffer ring (liburing 2.3: io_uring_register_buf_ring plus our own
 * mmap, as io_uring_setup_buf_ring came later). Returns 0 or -errno. */
int uring_bufs_init(struct io_uring *ring, struct uring_bufs *b, uint16_t bgid, unsigned count, unsigned size);
void uring_bufs_free(struct io_uring *ring, struct uring_bufs *b);

static inline unsigned char *uring_buf_addr(const struct uring_bufs *b, unsigned id)
{
	return b->mem + (size_t)id * b->size;
}

/* Gives buffer id back to the kernel. */
static inline void uring_buf_recycle(struct uring_bufs *b, unsigned id)
{
	io_uring_buf_ring_add(b->br, uring_buf_addr(b, id), b->size, (unsigned short)id, b->mask, 0);
	io_uring_buf_ring_advance(b->br, 1);
}

/* Prepares sqe to set SO_LINGER {1, 0} on socket fd (the caller adds IOSQE_FIXED_FILE for a
 * direct descriptor), so that its last close sends a reset: IORING_OP_URING_CMD with
 * SOCKET_URING_OP_SETSOCKOPT (Linux 6.7; liburing 2.3 has no helper for it). */
void uring_prep_linger_zero(struct io_uring_sqe *sqe, int fd);

/* Whether this kernel runs uring_prep_linger_zero: one test submission on a fresh socket,
 * from the thread that owns ring, with nothing else in flight. Returns true or false. */
bool uring_probe_linger(struct io_uring *ring);

/* Whether the kernel knows opcode op (io_uring_get_probe). */
bool uring_opcode_supported(int op);

/* Creates and closes a tiny ring to learn whether this process may use io_uring at all
 * (kernel.io_uring_disabled, a seccomp filter, a kernel without it), so main can refuse to
 * start with one line before binding anything. Returns 0, or -errno (-EPERM, -ENOSYS) with
 * a one-line reason in err. */
int uring_check_available(char *err, size_t errlen);

#endif
