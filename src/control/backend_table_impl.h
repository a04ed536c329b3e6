/* backend_table_impl: the backend table's state, shared by its three rooms: backend_table.c
 * (the state machine), backend_registry.c (entries, ids, leases, removal) and backend_view.c
 * (the snapshot, with slow start). Private to them: the rest of the process sees the table
 * through slb/control/backend_table.h alone. */
#ifndef SLB_BACKEND_TABLE_IMPL_H
#define SLB_BACKEND_TABLE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "slb/control/backend_table.h"

struct backend_table {
	struct table_params p;
	unsigned count;                       /* entries in use */
	unsigned by_source[BE_SOURCE_LEGACY + 1]; /* entries in use per source (table_set_source) */
	uint32_t next_id;                     /* where the search for a free id starts */
	unsigned changes;                     /* TABLE_CHANGE_* bits not yet taken */
	uint64_t seq;                         /* state changes so far (table_seq) */
	uint32_t ids;                         /* snap_id_limit() at create: be[] and reserved_seq[] entries */
	uint64_t *reserved_seq;               /* [ids] removed, not released: the removal's seq; 0: free */
	table_notify_fn notify;               /* told of every change; NULL: nobody */
	void *notify_arg;
	struct backend *be;                   /* [ids] indexed by id; be[0] is never used */
};

/* Sets b's source, keeping the counts by source (a REGISTER checks one per new backend:
 * counting by a walk of 10,000 entries each time took seconds to register a big fleet). */
static inline void table_set_source(struct backend_table *t, struct backend *b, enum be_source src)
{
	t->by_source[b->source]--;
	b->source = src;
	t->by_source[src]++;
}

/* The table's number of services (pools per snapshot), at least 1. */
static inline unsigned table_services(const struct backend_table *t)
{
	return t->p.n_services ? t->p.n_services : 1;
}

/* The parameters of b's service. */
static inline const struct table_service_params *table_svc(const struct backend_table *t, const struct backend *b)
{
	return &t->p.svc[b->service < table_services(t) ? b->service : 0];
}

/* b's state as its inputs say (the truth table in backend_table.c). */
enum be_state backend_derive(const struct backend *b);

/* "ADDR (NAME)", or "ADDR" for a backend without a name, in buf[len]. Returns buf. */
const char *backend_label(const struct backend *b, char *buf, size_t len);

/* Tells the table's notify function, if any, of a change of b (backend_table.c). */
void table_notify(struct backend_table *t, const struct backend *b, const char *old, const char *now_state,
		  const char *reason, int64_t now_ms);

/* Applies the events that time alone brings to b at now_ms: a heartbeat or a lease gone
 * silent past its timeout, an outlier ejection that has run out (backend_table.c; the
 * registry's table_tick runs it for every entry). Returns how many changed b's state. */
int backend_time_events(struct backend_table *t, struct backend *b, int64_t now_ms);

#endif
