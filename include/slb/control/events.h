/* events: the last EVENTS_MAX state changes of the backend table (time, backend, old -> new
 * state, reason), kept by the health thread in a bounded ring for GET /events and
 * /events/stream. Pure: no sockets, no clock (callers pass the time). */
#ifndef SLB_EVENTS_H
#define SLB_EVENTS_H

#include <stdint.h>

#include "slb/common/addr.h"
#include "slb/control/backend_table.h"

#define EVENTS_MAX 512
#define EVENT_STATE_MAX 12 /* "admin_down" and its NUL */

struct slb_event {
	uint64_t seq;                      /* 1, 2, ...: a client asks for those after the last it saw */
	int64_t time_ms;                   /* wall clock, milliseconds since the epoch */
	uint32_t backend_id;
	char address[ADDR_TEXT_MAX];
	char name[HB_NAME_MAX];
	char service[HB_SERVICE_MAX];      /* the backend's service */
	char old_state[EVENT_STATE_MAX];   /* a state name, or "none" for a backend just added */
	char new_state[EVENT_STATE_MAX];   /* a state name, or "none" for a backend removed */
	char reason[TABLE_REASON_MAX];
};

struct event_ring {
	uint64_t next_seq;                 /* seq of the next event; the ring holds the ones before */
	struct slb_event ev[EVENTS_MAX];   /* event seq sits at ev[seq % EVENTS_MAX] */
};

/* An empty ring whose first event will be seq 1. */
void events_init(struct event_ring *r);

/* Records one change of b, a backend of service (its name), overwriting the oldest past
 * EVENTS_MAX; texts are cut to fit. Returns the stored event, valid until EVENTS_MAX more are
 * pushed. */
const struct slb_event *events_push(struct event_ring *r, const struct backend *b, const char *service,
				    const char *old_state,
				    const char *new_state, const char *reason, int64_t time_ms);

/* The oldest event still held with seq > since, or NULL when there is none; the next one is
 * events_after(r, e->seq). Events older than the ring are gone: a client that asks for them
 * gets the oldest still held. */
const struct slb_event *events_after(const struct event_ring *r, uint64_t since);

#endif
