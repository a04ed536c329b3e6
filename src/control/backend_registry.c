/* backend_registry: the entries of the backend table (see backend_table_impl.h): ids handed
 * out and reserved, entries added (static, by the admin API, by REGISTER) or taken over as
 * leases, the one removal, and lookups. The states an entry moves through are
 * backend_table.c's. */
#include "backend_table_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/log.h"

struct backend_table *table_create(const struct table_params *p)
{
	struct backend_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ids = snap_id_limit();
	t->be = calloc(t->ids, sizeof(*t->be));
	t->reserved_seq = calloc(t->ids, sizeof(*t->reserved_seq));
	if (!t->be || !t->reserved_seq) {
		table_destroy(t);
		return NULL;
	}
	t->p = *p;
	t->next_id = 1;
	return t;
}

void table_destroy(struct backend_table *t)
{
	if (!t)
		return;
	free(t->be);
	free(t->reserved_seq);
	free(t);
}

/* Ids are handed out round-robin from the last one given, so a freed id is reused as late
 * as possible: workers may still hold connections (and counters) under the old one. */
static struct backend *backend_alloc(struct backend_table *t)
{
	for (uint32_t i = 0; i < t->ids - 1; i++) {
		uint32_t id = t->next_id;

		t->next_id = id + 1 < t->ids ? id + 1 : 1;
		if (t->be[id].id == 0 && !t->reserved_seq[id]) {
			memset(&t->be[id], 0, sizeof(t->be[id]));
			t->be[id].id = id;
			t->be[id].last_hb_ms = -1;
			t->be[id].ramp_start_ms = -1;
			t->be[id].probe_up = true;
			t->be[id].admin_weight = -1;
			t->count++;
			t->by_source[BE_SOURCE_STATIC]++; /* what the memset made it */
			return &t->be[id];
		}
	}
	return NULL;
}

static void backend_free(struct backend_table *t, struct backend *b)
{
	t->by_source[b->source]--;
	memset(b, 0, sizeof(*b));
	t->count--;
}

/* A new static entry, up unless checking: then down until `rise` probes pass. Not notified
 * yet: the caller completes it first (table_add_done). */
static int table_add_entry(struct backend_table *t, const struct slb_addr *addr, unsigned weight, bool checking,
			   const char *reason, int64_t now_ms, struct backend **out)
{
	struct backend *b;

	if (table_find(t, addr))
		return -EEXIST;
	b = backend_alloc(t);
	if (!b)
		return -ENOSPC;
	b->addr = *addr;
	b->source = BE_SOURCE_STATIC;
	b->weight = weight ? weight : 1;
	b->cfg_weight = b->weight;
	b->probe_up = !checking;
	b->state = backend_derive(b);
	b->changed_ms = now_ms;
	snprintf(b->reason, sizeof(b->reason), "%s", reason);
	t->changes |= TABLE_CHANGE_LAZY;
	*out = b;
	return 0;
}

/* Tells of an entry that table_add_entry made and its caller completed. Returns 0. */
static int table_add_done(struct backend_table *t, const struct backend *b, int64_t now_ms)
{
	table_notify(t, b, "none", be_state_name(b->state), b->reason, now_ms);
	return 0;
}

/* See backend_table.h. */
void table_release_id(struct backend_table *t, uint32_t id)
{
	if (id < t->ids)
		t->reserved_seq[id] = 0;
}

/* See backend_table.h. */
bool table_id_reserved(const struct backend_table *t, uint32_t id)
{
	return table_id_reserved_seq(t, id) != 0;
}

/* See backend_table.h. */
uint64_t table_id_reserved_seq(const struct backend_table *t, uint32_t id)
{
	return id < t->ids ? t->reserved_seq[id] : 0;
}

void table_set_params(struct backend_table *t, const struct table_params *p)
{
	t->p = *p;
}

int table_add_static(struct backend_table *t, const struct slb_addr *addr, unsigned weight, int64_t now_ms,
		     struct backend **out)
{
	return table_add_static_named(t, addr, weight, "", now_ms, out);
}

/* See backend_table.h. */
int table_add_static_named(struct backend_table *t, const struct slb_addr *addr, unsigned weight, const char *name,
			   int64_t now_ms, struct backend **out)
{
	int rc = table_add_entry(t, addr, weight, false, "static backend", now_ms, out);

	if (rc)
		return rc;
	table_set_cfg_name(*out, name);
	return table_add_done(t, *out, now_ms);
}

/* See backend_table.h. */
int table_add_resolved(struct backend_table *t, const struct slb_addr *addr, unsigned weight, const char *origin,
		       int64_t now_ms, struct backend **out)
{
	char reason[TABLE_REASON_MAX];
	int rc;

	snprintf(reason, sizeof(reason), "resolved from %.64s", origin);
	rc = table_add_entry(t, addr, weight, false, reason, now_ms, out);
	if (rc)
		return rc;
	snprintf((*out)->origin, sizeof((*out)->origin), "%s", origin);
	return table_add_done(t, *out, now_ms);
}

_Static_assert(CONFIG_NAME_MAX == HB_NAME_MAX && SNAP_NAME_MAX == HB_NAME_MAX, "a name fits wherever it goes");

/* See backend_table.h. */
bool table_set_cfg_name(struct backend *b, const char *name)
{
	bool changed = strcmp(b->name, name) != 0;

	if (!name[0] && !b->cfg_name)
		return false; /* a name from a heartbeat or the admin API is not the file's to clear */
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->cfg_name = name[0] != '\0';
	return changed;
}

/* The entry's own settings come before the add is notified: the event carries its name. */
static void table_admin_settings(struct backend *b, const struct table_admin_add *a)
{
	b->api_added = true;
	snprintf(b->name, sizeof(b->name), "%s", a->name);
	b->own_check = a->own_check;
	b->check = a->check;
	snprintf(b->check_path, sizeof(b->check_path), "%s", a->check_path);
}

/* See backend_table.h. */
int table_add_admin_backend(struct backend_table *t, const struct table_admin_add *a, const char *detail,
			    int64_t now_ms, struct backend **out)
{
	unsigned svc = a->service < table_services(t) ? a->service : 0;
	char why[TABLE_REASON_MAX];
	int rc;

	snprintf(why, sizeof(why), "added by admin%s%s", detail ? " " : "", detail ? detail : "");
	if (a->checking)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ": checking, up after %u passed checks",
			 t->p.svc[svc].rise);
	rc = table_add_entry(t, &a->addr, a->weight, a->checking, why, now_ms, out);
	if (rc)
		return rc;
	(*out)->service = svc; /* before the add's event, which names the service */
	table_admin_settings(*out, a);
	t->changes |= TABLE_CHANGE_URGENT; /* in rotation or not, the answer describes what workers see */
	return table_add_done(t, *out, now_ms);
}

/* See backend_table.h. */
int table_add_admin(struct backend_table *t, const struct slb_addr *addr, unsigned weight, const char *detail,
		    int64_t now_ms, struct backend **out)
{
	struct table_admin_add a = { .addr = *addr, .weight = weight };

	return table_add_admin_backend(t, &a, detail, now_ms, out);
}

int table_register(struct backend_table *t, const struct hb_msg *m, void *session, int64_t now_ms,
		   struct backend **out)
{
	struct backend *b = table_find(t, &m->addr);
	unsigned old_weight;

	if (!table_accepts_session(b))
		return -EPERM;
	if (!b) {
		b = backend_alloc(t);
		if (!b)
			return -ENOSPC;
		b->addr = m->addr;
		table_set_source(t, b, m->legacy ? BE_SOURCE_LEGACY : BE_SOURCE_HEARTBEAT);
		b->state = BE_STATE_DOWN;
		b->weight = 1;
		b->changed_ms = now_ms;
		b->fresh = true;
	}
	old_weight = b->weight;
	b->weight = m->weight ? m->weight : b->source == BE_SOURCE_STATIC ? b->cfg_weight : 1;
	if (!b->cfg_name)
		snprintf(b->name, sizeof(b->name), "%s", m->name);
	b->session = session;
	b->leased = false;
	b->timed_out = false;
	b->last_hb_ms = now_ms;
	b->closed_ms = 0;
	b->probe_up = true;
	b->rise_count = b->fall_count = b->connect_failures = 0;
	table_set_load(t, b, m->load);
	if (b->weight != old_weight && b->state == BE_STATE_UP)
		t->changes |= TABLE_CHANGE_LAZY;
	*out = b;
	return 0;
}

int table_take_lease(struct backend_table *t, const struct hb_msg *m, int64_t now_ms, struct backend **out)
{
	enum hb_state st = m->has_state ? m->state : HB_STATE_UP;
	int ret;

	if (st == HB_STATE_DOWN)
		return -EINVAL;
	ret = table_register(t, m, NULL, now_ms, out);
	if (ret)
		return ret;
	(*out)->reported = st;
	table_apply(t, *out, BE_EV_LEASE, "lease from the previous process", now_ms);
	return 0;
}

/* See backend_table.h. */
bool table_removal_due(const struct backend_table *t, const struct backend *b, int64_t now_ms)
{
	return b->removing && (b->active_conns == 0 || now_ms - b->removing_ms >= (int64_t)t->p.drain_timeout_ms);
}

/* The reason of a removal that ran its course: its cause, then how it ended. */
static void removal_reason(const struct backend *b, char *why, size_t len)
{
	if (b->active_conns == 0)
		snprintf(why, len, "%s: no connection left", be_removal_name(b->removing));
	else
		snprintf(why, len, "%s: --drain-timeout passed with %llu connections open",
			 be_removal_name(b->removing), (unsigned long long)b->active_conns);
}

/* See backend_table.h. The removal is a change of its own (seq), published even when b was
 * out of rotation already, so that the caller can tell when no worker holds a snapshot with
 * b in it any more. */
void table_remove(struct backend_table *t, struct backend *b, const char *reason, int64_t now_ms)
{
	char label[ADDR_TEXT_MAX + HB_NAME_MAX + 4];
	uint32_t id = b->id;

	t->changes |= b->state == BE_STATE_UP ? TABLE_CHANGE_URGENT : TABLE_CHANGE_LAZY;
	if (reason)
		snprintf(b->reason, sizeof(b->reason), "%s", reason);
	else
		removal_reason(b, b->reason, sizeof(b->reason));
	slb_log(b->active_conns ? LOG_WARN : LOG_INFO, 0, "backend %s id %u left the table: %s%s",
		backend_label(b, label, sizeof(label)), id, b->reason,
		b->active_conns ? "; they go on, and its id is not reused until they end" : "");
	table_notify(t, b, be_state_name(b->state), "none", b->reason, now_ms);
	backend_free(t, b);
	t->reserved_seq[id] = ++t->seq;
}

void table_set_notify(struct backend_table *t, table_notify_fn fn, void *arg)
{
	t->notify = fn;
	t->notify_arg = arg;
}

/* Removes b when it is a heartbeat entry whose session closed expire_ms ago, or more. */
static void table_expire(struct backend_table *t, struct backend *b, int64_t now_ms)
{
	char why[TABLE_REASON_MAX];

	if (b->source == BE_SOURCE_STATIC || b->session || b->leased ||
	    now_ms - b->closed_ms < (int64_t)t->p.expire_ms)
		return;
	snprintf(why, sizeof(why), "no registration for %u ms", t->p.expire_ms);
	table_remove(t, b, why, now_ms);
}

/* See backend_table.h. */
void *table_detach_session(struct backend *b)
{
	void *s = b->session;

	b->session = NULL;
	return s;
}

/* The registry walks its entries once a tick: the state machine applies what time brought to
 * each, then an entry closed long enough leaves. */
int table_tick(struct backend_table *t, int64_t now_ms)
{
	int changed = 0;

	for (uint32_t id = 1; id < t->ids && t->count; id++) {
		struct backend *b = &t->be[id];

		if (b->id == 0)
			continue;
		changed += backend_time_events(t, b, now_ms);
		table_expire(t, b, now_ms);
	}
	return changed;
}

struct backend *table_get(struct backend_table *t, uint32_t id)
{
	if (id == 0 || id >= t->ids || t->be[id].id == 0)
		return NULL;
	return &t->be[id];
}

const struct backend *table_get_const(const struct backend_table *t, uint32_t id)
{
	if (id == 0 || id >= t->ids || t->be[id].id == 0)
		return NULL;
	return &t->be[id];
}

struct backend *table_find(struct backend_table *t, const struct slb_addr *addr)
{
	for (uint32_t id = 1; id < t->ids; id++)
		if (t->be[id].id && addr_equal(&t->be[id].addr, addr))
			return &t->be[id];
	return NULL;
}

/* See backend_table.h. */
struct backend *table_find_name(struct backend_table *t, const char *name, unsigned *count)
{
	return table_find_name_in(t, name, -1, count);
}

/* See backend_table.h. */
struct backend *table_find_name_in(struct backend_table *t, const char *name, int svc, unsigned *count)
{
	struct backend *first = NULL;

	*count = 0;
	for (uint32_t id = 1; name[0] && id < t->ids; id++) {
		if (!t->be[id].id || strcmp(t->be[id].name, name) != 0)
			continue;
		if (svc >= 0 && t->be[id].service != (unsigned)svc)
			continue;
		if (!first)
			first = &t->be[id];
		(*count)++;
	}
	return first;
}

unsigned table_count(const struct backend_table *t)
{
	return t->count;
}

/* See backend_table.h. */
unsigned table_count_registered(const struct backend_table *t)
{
	return table_count_source(t, BE_SOURCE_HEARTBEAT) + table_count_source(t, BE_SOURCE_LEGACY);
}

unsigned table_count_source(const struct backend_table *t, enum be_source src)
{
	return (unsigned)src <= BE_SOURCE_LEGACY ? t->by_source[src] : 0;
}
