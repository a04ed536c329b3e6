/* backend_view: what the workers see of the backend table: the snapshot of the up entries
 * with their effective weights (slow start ramps a backend that came up), the Maglev table,
 * and when a new snapshot is due. */
#include "backend_table_impl.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "maglev.h"

/* See backend_table.h. */
uint64_t table_seq(const struct backend_table *t)
{
	return t->seq;
}

void table_mark_urgent(struct backend_table *t)
{
	t->changes |= TABLE_CHANGE_URGENT | TABLE_CHANGE_NOW;
}

/* Still ramping at now_ms: its age since coming up, else -1. */
static int64_t table_ramp_age(const struct backend_table *t, const struct backend *b, int64_t now_ms)
{
	int64_t age = now_ms - b->ramp_start_ms, ss = table_svc(t, b)->slow_start_ms;

	if (!ss || b->ramp_start_ms < 0 || b->state != BE_STATE_UP || age >= ss)
		return -1;
	return age > 0 ? age : 0;
}

unsigned table_effective_weight(const struct backend_table *t, const struct backend *b, int64_t now_ms)
{
	uint64_t full = (uint64_t)(table_weight(b) ? table_weight(b) : 1) * SNAP_WEIGHT_UNIT;
	uint64_t ss = table_svc(t, b)->slow_start_ms, eff;
	int64_t age = table_ramp_age(t, b, now_ms);

	if (age < 0)
		return (unsigned)full;
	eff = full * (10 * ss + 90 * (uint64_t)age) / (100 * ss);
	return eff ? (unsigned)eff : 1;
}

int64_t table_next_ramp_ms(const struct backend_table *t, int64_t now_ms, unsigned step_ms)
{
	int64_t next = -1;

	for (uint32_t id = 1; id < t->ids; id++) {
		const struct backend *b = &t->be[id];
		int64_t at;

		if (b->id == 0 || table_ramp_age(t, b, now_ms) < 0)
			continue;
		at = b->ramp_start_ms + table_svc(t, b)->slow_start_ms;
		if (at > now_ms + step_ms)
			at = now_ms + step_ms;
		if (next < 0 || at < next)
			next = at;
	}
	return next;
}

/* The index of b's service (table_svc's). */
static unsigned table_svc_index(const struct backend_table *t, const struct backend *b)
{
	return b->service < table_services(t) ? b->service : 0;
}

/* b as a snapshot entry. */
static void table_fill_entry(const struct backend_table *t, const struct backend *b, int64_t now_ms,
			     struct snap_backend *e)
{
	const char *src;
	size_t len;

	e->id = b->id;
	e->weight = table_weight(b);
	e->eff_weight = table_effective_weight(t, b, now_ms);
	e->load = b->load;
	e->send_proxy = b->send_proxy;
	e->addr = b->addr;
	/* the access log names a resolved backend by its host name, having no name of its own;
	 * a plain bounded copy, as this runs for every live backend at every publish */
	src = b->name[0] ? b->name : b->origin;
	len = strnlen(src, sizeof(e->name) - 1);
	memcpy(e->name, src, len);
	e->name[len] = '\0';
}

/* Whether b is up and takes traffic: a primary, or a backup of a service whose primaries are
 * all out (primary_up[its service] false; HAProxy's and nginx's backup servers). */
static bool table_takes_traffic(const struct backend_table *t, const struct backend *b, const bool *primary_up)
{
	return b->id != 0 && b->state == BE_STATE_UP && b->backup != primary_up[table_svc_index(t, b)];
}

/* The up entries of every service that take traffic into live, grouped by service in id
 * order: service i's are live[start[i] .. start[i + 1]). Three walks of the ids whatever the
 * number of services (one walk per service cost 500 x 65,535 steps a publish at the
 * limits). primary_up is scratch for one flag per service. */
static void table_fill_live(const struct backend_table *t, int64_t now_ms, struct snap_backend *live,
			    uint32_t *start, bool *primary_up)
{
	unsigned n = table_services(t);

	memset(start, 0, (n + 1) * sizeof(*start));
	memset(primary_up, 0, n * sizeof(*primary_up));
	for (uint32_t id = 1; id < t->ids; id++)
		if (t->be[id].id && t->be[id].state == BE_STATE_UP && !t->be[id].backup)
			primary_up[table_svc_index(t, &t->be[id])] = true;
	for (uint32_t id = 1; id < t->ids; id++)
		if (table_takes_traffic(t, &t->be[id], primary_up))
			start[table_svc_index(t, &t->be[id]) + 1]++;
	for (unsigned i = 0; i < n; i++)
		start[i + 1] += start[i];
	for (uint32_t id = 1; id < t->ids; id++) {
		const struct backend *b = &t->be[id];

		if (table_takes_traffic(t, b, primary_up))
			table_fill_entry(t, b, now_ms, &live[start[table_svc_index(t, b)]++]);
	}
	for (unsigned i = n; i > 0; i--) /* each start was moved to the next one's: shift back */
		start[i] = start[i - 1];
	start[0] = 0;
}

/* Service svc's pool of the n backends in live, its Maglev table filled. The table is a
 * function of its inputs: any pool with the same ones has it (the current one of that
 * service, unless its backends or weights changed). */
static struct snap_pool *table_build_pool(const struct backend_table *t, unsigned svc, const struct snap_backend *live,
					  uint32_t n)
{
	const struct table_service_params *sp = &t->p.svc[svc];
	const struct snapshot *cur = snapshot_current();
	struct snap_pool *p = snap_pool_build_ext(live, n, sp->maglev_len);

	if (p && sp->maglev_len &&
	    maglev_fill_reusing(p, cur && svc < cur->n_pools ? cur->pool[svc] : NULL, sp->hash_key) < 0) {
		snap_pool_free(p);
		return NULL;
	}
	return p;
}

struct snapshot *table_build_snapshot(const struct backend_table *t, int64_t now_ms)
{
	struct snap_backend *live = calloc(t->count ? t->count : 1, sizeof(*live));
	uint32_t start[SNAP_MAX_POOLS + 1];
	bool primary_up[SNAP_MAX_POOLS];
	struct snap_pool *pools[SNAP_MAX_POOLS];
	unsigned n = table_services(t);
	struct snapshot *s = NULL;

	if (!live)
		return NULL;
	table_fill_live(t, now_ms, live, start, primary_up);
	for (unsigned i = 0; i < n; i++) {
		pools[i] = table_build_pool(t, i, live + start[i], start[i + 1] - start[i]);
		if (!pools[i]) {
			while (i--)
				snap_pool_free(pools[i]);
			goto out_free_live;
		}
	}
	s = snapshot_assemble(pools, n);
out_free_live:
	free(live);
	return s;
}

unsigned table_take_changes(struct backend_table *t)
{
	unsigned c = t->changes;

	t->changes = TABLE_CHANGE_NONE;
	return c;
}
