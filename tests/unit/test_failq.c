/* failq: order kept, a full ring drops and counts, counters wrap, and a producer and a
 * consumer on two threads lose nothing that push accepted. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/failq.h"

#include "tsan_detect.h"

#define SPSC_EVENTS 200000u

static struct failq *failq_new(void)
{
	struct failq *q = aligned_alloc(64, sizeof(*q));

	cr_assert_not_null(q);
	memset(q, 0, sizeof(*q)); /* a zeroed ring is empty */
	return q;
}

Test(failq, empty_ring_pops_nothing)
{
	struct failq *q = failq_new();
	struct failq_event ev;

	cr_assert_not(failq_pop(q, &ev));
	free(q);
}

Test(failq, order_is_preserved)
{
	struct failq *q = failq_new();
	struct failq_event ev;

	for (uint32_t i = 1; i <= 10; i++)
		cr_assert(failq_push(q, i, i % 2 ? FAILQ_CONNECT_REFUSED : FAILQ_CONNECT_OK));
	for (uint32_t i = 1; i <= 10; i++) {
		cr_assert(failq_pop(q, &ev));
		cr_assert_eq(ev.backend_id, i);
		cr_assert_eq(ev.kind, i % 2 ? FAILQ_CONNECT_REFUSED : FAILQ_CONNECT_OK);
	}
	cr_assert_not(failq_pop(q, &ev));
	cr_assert_eq(atomic_load(&q->dropped), 0);
	free(q);
}

Test(failq, full_ring_drops_and_counts)
{
	struct failq *q = failq_new();
	struct failq_event ev;

	for (uint32_t i = 0; i < FAILQ_SIZE; i++)
		cr_assert(failq_push(q, i, FAILQ_CONNECT_TIMEOUT));
	cr_assert_not(failq_push(q, 9999, FAILQ_RESET));
	cr_assert_not(failq_push(q, 9999, FAILQ_RESET));
	cr_assert_eq(atomic_load(&q->dropped), 2);

	cr_assert(failq_pop(q, &ev));
	cr_assert_eq(ev.backend_id, 0);
	cr_assert(failq_push(q, 4242, FAILQ_RESET)); /* one slot free again */
	cr_assert_not(failq_push(q, 9999, FAILQ_RESET));
	cr_assert_eq(atomic_load(&q->dropped), 3);

	for (uint32_t i = 1; i < FAILQ_SIZE; i++) {
		cr_assert(failq_pop(q, &ev));
		cr_assert_eq(ev.backend_id, i);
	}
	cr_assert(failq_pop(q, &ev));
	cr_assert_eq(ev.backend_id, 4242);
	cr_assert_eq(ev.kind, FAILQ_RESET);
	cr_assert_not(failq_pop(q, &ev));
	free(q);
}

Test(failq, counters_wrap_around)
{
	struct failq *q = failq_new();
	struct failq_event ev;
	uint32_t next = 0;

	atomic_store(&q->head, UINT32_MAX - 3);
	atomic_store(&q->tail, UINT32_MAX - 3);
	for (uint32_t i = 0; i < FAILQ_SIZE; i++)
		cr_assert(failq_push(q, i, FAILQ_CONNECT_ERROR));
	cr_assert_not(failq_push(q, 0, FAILQ_CONNECT_ERROR));
	while (failq_pop(q, &ev))
		cr_assert_eq(ev.backend_id, next++);
	cr_assert_eq(next, FAILQ_SIZE);
	cr_assert_eq(atomic_load(&q->dropped), 1);
	free(q);
}

Test(failq, kind_names)
{
	cr_assert_str_eq(failq_kind_name(FAILQ_NONE), "none");
	cr_assert_str_eq(failq_kind_name(FAILQ_CONNECT_OK), "connect_ok");
	cr_assert_str_eq(failq_kind_name(FAILQ_CONNECT_REFUSED), "connect_refused");
	cr_assert_str_eq(failq_kind_name(FAILQ_CONNECT_TIMEOUT), "connect_timeout");
	cr_assert_str_eq(failq_kind_name(FAILQ_CONNECT_ERROR), "connect_error");
	cr_assert_str_eq(failq_kind_name(FAILQ_RESET), "reset");
	cr_assert_str_eq(failq_kind_name((enum failq_kind)99), "unknown");
}

struct spsc_run {
	struct failq *q;
	unsigned long refused;  /* pushes that found the ring full and were retried */
	unsigned long received; /* events popped in the expected order */
	unsigned long wrong;    /* events popped out of order or with the wrong kind */
};

/* Pushes ids 1..SPSC_EVENTS in order, retrying a refused push, as a worker would not
 * (it drops), so that the consumer can check that every accepted event arrives. */
static void *spsc_producer(void *arg)
{
	struct spsc_run *run = arg;

	for (uint32_t id = 1; id <= SPSC_EVENTS; id++) {
		while (!failq_push(run->q, id, (enum failq_kind)(id % 6))) {
			run->refused++;
			sched_yield();
		}
	}
	return NULL;
}

/* The calling thread consumes. Plain counters, no Criterion asserts, so that the
 * ThreadSanitizer build can run it without the Criterion runner (see main below). */
static void spsc_run(struct spsc_run *run)
{
	struct failq_event ev;
	pthread_t producer;
	uint32_t expect = 1;

	if (pthread_create(&producer, NULL, spsc_producer, run))
		abort();
	while (expect <= SPSC_EVENTS) {
		if (!failq_pop(run->q, &ev)) {
			sched_yield();
			continue;
		}
		if (ev.backend_id == expect && ev.kind == expect % 6)
			run->received++;
		else
			run->wrong++;
		expect = ev.backend_id + 1; /* resynchronise, so one slip counts once */
	}
	if (pthread_join(producer, NULL))
		abort();
	if (failq_pop(run->q, &ev))
		run->wrong++;
}

static bool spsc_passed(const struct spsc_run *run)
{
	return run->received == SPSC_EVENTS && !run->wrong && atomic_load(&run->q->dropped) == run->refused;
}

Test(failq, two_threads_lose_nothing_accepted, .timeout = 60)
{
	struct spsc_run run = { .q = failq_new() };

	spsc_run(&run);
	cr_log_info("%lu pushes found the ring full", run.refused);
	cr_expect_eq(run.wrong, 0, "%lu events out of order or altered", run.wrong);
	cr_expect_eq(run.received, SPSC_EVENTS);
	cr_expect_eq(atomic_load(&run.q->dropped), run.refused, "every refusal is counted once");
	cr_assert(spsc_passed(&run));
	free(run.q);
}

#if TEST_UNDER_TSAN
/* Criterion cannot start under ThreadSanitizer (Snaipe/Criterion#274: its BoxFort arena
 * is mapped at a random fixed address, which TSan refuses outside its application
 * ranges), so this build runs only the two-thread case, from its own main: a race makes
 * TSan exit with 66 at exit, a failed check with 1. */
int main(void)
{
	struct spsc_run run = { .q = aligned_alloc(64, sizeof(struct failq)) };
	bool ok;

	if (!run.q)
		return 1;
	memset(run.q, 0, sizeof(*run.q));
	spsc_run(&run);
	ok = spsc_passed(&run);
	printf("%s: received %lu wrong %lu refused %lu dropped %lu\n", ok ? "PASS" : "FAIL", run.received,
	       run.wrong, run.refused, (unsigned long)atomic_load(&run.q->dropped));
	free(run.q);
	return ok ? 0 : 1;
}
#endif
