/* conn: what a connection's end reports to health. A backend that resets established
 * connections is counted (backend_resets), never pushed into the failure ring: the ring holds
 * FAILQ_SIZE reports and health reads only connect outcomes from it, so a burst of resets
 * would push the connect failures that eject a backend out of it. The worker here is a bare
 * struct with no ring: a connection with nothing in flight and no descriptor is released
 * without a single submission. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "../../src/dataplane/conn.h"
#include "slb/common/failq.h"
#include "slb/common/log.h"

#define RESET_ID 7   /* the backend that resets its connections */
#define REFUSED_ID 3 /* the one whose connect fails after the burst */

struct fake_worker {
	struct worker w;
	struct worker_channel *ch;
	struct slb_config cfg;
	struct conn conns[2]; /* slot 0 unused */
	_Atomic unsigned open_total;
};

static struct fake_worker *fake_worker_new(void)
{
	struct fake_worker *f = calloc(1, sizeof(*f));

	cr_assert_not_null(f);
	f->ch = calloc(1, sizeof(*f->ch));
	cr_assert_not_null(f->ch);
	f->w.ch = f->ch;
	f->w.cfg = &f->cfg;
	f->w.conns = f->conns;
	f->w.n_slots = 2;
	f->w.slot_hwm = 2;
	f->w.open_total = &f->open_total;
	return f;
}

static void fake_worker_free(struct fake_worker *f)
{
	free(f->ch);
	free(f);
}

/* Slot 1 as a relayed connection to backend id, counted as the worker counts one. */
static struct conn *fake_relaying(struct fake_worker *f, uint32_t id)
{
	struct conn *c = &f->conns[1];

	c->state = CONN_RELAYING;
	c->cfd = c->bfd = c->cfd_sys = -1;
	c->backend_id = id;
	atomic_fetch_add(&f->open_total, 1);
	stat_add(&f->ch->stats.active, 1);
	stat_add(&f->ch->stats.be[id].active, 1);
	return c;
}

Test(conn, reset_burst_leaves_the_failure_ring_to_connect_failures)
{
	struct fake_worker *f = fake_worker_new();
	struct failq_event ev;

	atomic_store(&log_threshold, LOG_ERROR);
	for (unsigned i = 0; i < 2 * FAILQ_SIZE; i++) {
		conn_read_error(&f->w, fake_relaying(f, RESET_ID), DIR_DOWN, -ECONNRESET);
		cr_assert_eq(f->conns[1].state, CONN_FREE, "reset %u: the slot was not released", i);
	}
	cr_assert_eq(stat_get(&f->ch->stats.backend_resets), 2 * FAILQ_SIZE, "every reset is counted");
	cr_assert_eq(stat_get(&f->ch->stats.be[RESET_ID].active), 0);
	cr_assert(failq_push(&f->ch->failq, REFUSED_ID, FAILQ_CONNECT_REFUSED),
		  "the ring is full after a reset burst: the connect failure is dropped");
	cr_assert(failq_pop(&f->ch->failq, &ev));
	cr_assert_eq(ev.kind, FAILQ_CONNECT_REFUSED, "health reads %s first", failq_kind_name((enum failq_kind)ev.kind));
	cr_assert_eq(ev.backend_id, REFUSED_ID);
	cr_assert_not(failq_pop(&f->ch->failq, &ev), "a reset went into the ring");
	fake_worker_free(f);
}
