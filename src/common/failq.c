/* failq: the SPSC ring of connect outcomes, one per worker, drained by the health thread.
 *
 * head and tail are free-running 32-bit counters (FAILQ_SIZE divides 2^32, so their
 * difference stays right across wrap-around): head - tail is the fill level. Each side
 * publishes its own counter with release and reads the other's with acquire, which is
 * all the ordering two threads need: the producer's slot write comes before the consumer
 * sees head move, and the consumer's slot read comes before the producer sees tail move
 * and reuses the slot. A zeroed struct failq is an empty ring. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "slb/common/failq.h"

_Static_assert((FAILQ_SIZE & (FAILQ_SIZE - 1)) == 0, "FAILQ_SIZE must be a power of two");

#define FAILQ_MASK (FAILQ_SIZE - 1)

/* A full ring means the health thread is behind; dropping keeps the worker from ever
 * waiting on it, and the counter says how much health did not hear about. */
bool failq_push(struct failq *q, uint32_t backend_id, enum failq_kind kind)
{
	uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);

	if (head - tail == FAILQ_SIZE) {
		atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
		return false;
	}
	q->ev[head & FAILQ_MASK].backend_id = backend_id;
	q->ev[head & FAILQ_MASK].kind = (uint32_t)kind;
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	return true;
}

bool failq_pop(struct failq *q, struct failq_event *out)
{
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	if (head == tail)
		return false;
	*out = q->ev[tail & FAILQ_MASK];
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return true;
}

static const char *const failq_kind_names[] = {
	[FAILQ_NONE] = "none",
	[FAILQ_CONNECT_OK] = "connect_ok",
	[FAILQ_CONNECT_REFUSED] = "connect_refused",
	[FAILQ_CONNECT_TIMEOUT] = "connect_timeout",
	[FAILQ_CONNECT_ERROR] = "connect_error",
	[FAILQ_RESET] = "reset",
	[FAILQ_LOOP] = "loop",
};

/* Returns a static string; "unknown" for a value outside the enum (kind travels as a
 * uint32_t in the ring, so a bad one must not index past the table). */
const char *failq_kind_name(enum failq_kind kind)
{
	unsigned k = (unsigned)kind;

	if (k >= sizeof(failq_kind_names) / sizeof(failq_kind_names[0]) || !failq_kind_names[k])
		return "unknown";
	return failq_kind_names[k];
}
