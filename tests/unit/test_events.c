/* The event ring: sequence numbers from 1, "after N" across the wrap, texts cut to fit. */
#include <criterion/criterion.h>
#include <string.h>

#include "slb/control/events.h"

static struct event_ring ring;
static struct backend be = { .id = 7 };

static void setup(void)
{
	events_init(&ring);
	cr_assert_eq(addr_parse("[::1]:8080", &be.addr, NULL, 0), 0);
	strcpy(be.name, "web7");
}

TestSuite(events, .init = setup);

static void push_n(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		events_push(&ring, &be, "default", "up", "down", "heartbeat connection closed", 1000 + i);
}

Test(events, empty_ring_has_nothing_after_zero)
{
	cr_assert_null(events_after(&ring, 0));
}

Test(events, events_come_back_in_order_after_a_seq)
{
	const struct slb_event *e;

	push_n(3);
	e = events_after(&ring, 0);
	cr_assert_eq(e->seq, 1);
	cr_assert_str_eq(e->address, "[::1]:8080");
	cr_assert_str_eq(e->name, "web7");
	cr_assert_eq(e->backend_id, 7);
	cr_assert_eq(events_after(&ring, e->seq)->seq, 2);
	cr_assert_eq(events_after(&ring, 2)->time_ms, 1002);
	cr_assert_null(events_after(&ring, 3), "nothing after the last");
	cr_assert_null(events_after(&ring, UINT64_MAX));
}

Test(events, a_client_behind_the_ring_gets_the_oldest_still_held)
{
	push_n(EVENTS_MAX + 100);
	cr_assert_eq(events_after(&ring, 0)->seq, 101);
	cr_assert_eq(events_after(&ring, 99)->seq, 101);
	cr_assert_eq(events_after(&ring, 300)->seq, 301);
	cr_assert_eq(events_after(&ring, EVENTS_MAX + 99)->seq, EVENTS_MAX + 100);
}

Test(events, long_reasons_are_cut_not_overflowed)
{
	char reason[400];

	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	events_push(&ring, &be, "web", "draining", "admin_down", reason, 1);
	cr_assert_eq(strlen(events_after(&ring, 0)->reason), TABLE_REASON_MAX - 1);
	cr_assert_str_eq(events_after(&ring, 0)->new_state, "admin_down");
}
