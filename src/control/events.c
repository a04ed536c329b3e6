/* events: a ring of the backend table's last EVENTS_MAX changes, indexed by sequence number,
 * so that "what happened after seq N" is one subtraction, whatever has been overwritten. */
#include "slb/control/events.h"

#include <stdio.h>
#include <string.h>

void events_init(struct event_ring *r)
{
	memset(r, 0, sizeof(*r));
	r->next_seq = 1;
}

const struct slb_event *events_push(struct event_ring *r, const struct backend *b, const char *service,
				    const char *old_state, const char *new_state, const char *reason, int64_t time_ms)
{
	struct slb_event *e = &r->ev[r->next_seq % EVENTS_MAX];

	e->seq = r->next_seq++;
	e->time_ms = time_ms;
	e->backend_id = b->id;
	addr_format(&b->addr, e->address, sizeof(e->address));
	snprintf(e->name, sizeof(e->name), "%s", b->name);
	snprintf(e->service, sizeof(e->service), "%s", service);
	snprintf(e->old_state, sizeof(e->old_state), "%s", old_state);
	snprintf(e->new_state, sizeof(e->new_state), "%s", new_state);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	return e;
}

const struct slb_event *events_after(const struct event_ring *r, uint64_t since)
{
	uint64_t oldest = r->next_seq > EVENTS_MAX ? r->next_seq - EVENTS_MAX : 1;

	if (since + 1 >= r->next_seq || since == UINT64_MAX)
		return NULL;
	return &r->ev[(since + 1 > oldest ? since + 1 : oldest) % EVENTS_MAX];
}
