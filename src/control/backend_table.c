/* backend_table: the health thread's table of backends and the one state machine that moves
 * them between up, down and draining. Events only set inputs; the state is derived from the
 * inputs by backend_derive() below, so no combination of events can leave an entry in a
 * state its inputs do not explain. */
#include "slb/control/backend_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "slb/common/log.h"
#include "slb/control/gray.h"

struct backend_table {
	struct table_params p;
	unsigned count;                       /* entries in use */
	uint32_t next_id;                     /* where the search for a free id starts */
	unsigned changes;                     /* TABLE_CHANGE_* bits not yet taken */
	uint64_t seq;                         /* state changes so far (table_seq) */
	uint64_t reserved_seq[SNAP_MAX_BACKEND_ID]; /* removed, not released: the removal's seq; 0: free */
	table_notify_fn notify;               /* told of every change; NULL: nobody */
	void *notify_arg;
	struct backend be[SNAP_MAX_BACKEND_ID]; /* indexed by id; be[0] is never used */
};

static const char *const state_names[] = {
	[BE_STATE_DOWN] = "down",
	[BE_STATE_UP] = "up",
	[BE_STATE_DRAINING] = "draining",
	[BE_STATE_ADMIN_DOWN] = "admin_down",
};

static const char *const event_names[] = {
	[BE_EV_NONE] = "none",
	[BE_EV_HB_UP] = "heartbeat up",
	[BE_EV_HB_DRAIN] = "heartbeat drain",
	[BE_EV_HB_DOWN] = "heartbeat down",
	[BE_EV_HB_BYE] = "heartbeat bye",
	[BE_EV_HB_CLOSED] = "heartbeat closed",
	[BE_EV_HB_TIMEOUT] = "heartbeat timeout",
	[BE_EV_PROBE_OK] = "probe ok",
	[BE_EV_PROBE_FAIL] = "probe fail",
	[BE_EV_CONNECT_FAIL] = "connect fail",
	[BE_EV_CONNECT_OK] = "connect ok",
	[BE_EV_LOOP] = "loop",
	[BE_EV_RETIRE] = "retire",
	[BE_EV_RESTORE] = "restore",
	[BE_EV_LEASE] = "lease",
	[BE_EV_LEASE_EXPIRED] = "lease expired",
	[BE_EV_ADMIN_DISABLE] = "admin disable",
	[BE_EV_ADMIN_ENABLE] = "admin enable",
	[BE_EV_ADMIN_DRAIN] = "admin drain",
	[BE_EV_ADMIN_REMOVE] = "admin remove",
	[BE_EV_OUTLIER] = "outlier",
	[BE_EV_OUTLIER_END] = "outlier end",
	[BE_EV_OUTLIER_CLEAR] = "outlier clear",
};

/*
 * The state as a function of the inputs. Heartbeat inputs count only while a session is
 * attached or a lease holds them (a binary upgrade: the old process handed the backend over,
 * and it has not registered with this one yet); a heartbeat entry with neither is down (its
 * process is gone or never came). The operator's inputs (admin_*, removing) come first, so no
 * heartbeat or probe can undo them; a removal is one input whatever its cause (the operator,
 * or a reload that dropped the backend).
 *
 *   admin_down  source     session/lease  timed_out  reported  probe_up  ejected  drain* | state
 *   yes         -          -              -          -         -         -        -      | admin_down
 *   no          heartbeat  none           -          -         -         -        -      | down
 *   no          any        live/leased    yes        -         -         -        -      | down  (silent, or phi)
 *   no          any        live/leased    no         down      -         -        -      | down  (said so, or BYE)
 *   no          any        -              -          -         no        -        -      | down  (checks failed, ejected)
 *   no          any        -              -          -         yes       yes      -      | down  (outlier: slow, for a time)
 *   no          any        -              -          -         yes       no       yes    | draining (by hand or removal)
 *   no          any        live/leased    no         drain     yes       no       no     | draining (backend asked)
 *   otherwise                                                                            | up
 *
 *   * drain: admin_drain, an admin weight of 0, or removing (by the operator or a reload).
 *
 * A lease is taken by BE_EV_LEASE (session detached, reported state kept) and ends with a
 * REGISTER (a session again) or BE_EV_LEASE_EXPIRED (none: down). ejected is
 * ejected_until_ms != 0: set by BE_EV_OUTLIER for gray_ejection_ms (doubling when the last
 * ejection ended less than an hour before), cleared when the time is over (table_tick) or by
 * the operator (table_clear_outlier).
 *
 * probe_up goes false after `fall` failed probes, after `eject_failures` consecutive worker
 * connect failures, and when a worker's connect came back to slb itself (a loop); it comes
 * back after `rise` passed probes or a new REGISTER. admin_down and admin_drain are set by
 * BE_EV_ADMIN_DISABLE / _DRAIN and cleared (with an admin weight of 0) by BE_EV_ADMIN_ENABLE
 * only. removing is set by BE_EV_ADMIN_REMOVE or BE_EV_RETIRE, and cleared only by
 * BE_EV_RESTORE of a removal the configuration began; otherwise the entry goes (table_remove).
 *
 * Who may change what (a static backend belongs to the operator):
 *
 *   source     hb_allowed  REGISTER                  while the session lives      session ends
 *   heartbeat  -           creates or re-attaches    weight, name, load, state    down, expires
 *   static     no          refused (-EPERM)          -                            -
 *   static     yes         attaches                  weight, name, load, state    flags' weight, up
 *                                                                                  unless probes say down
 *   any entry being removed: refused (-EPERM). The admin weight wins over the session's weight.
 */
static bool backend_admin_drained(const struct backend *b)
{
	return b->admin_drain || b->admin_weight == 0 || b->removing;
}

static enum be_state backend_derive(const struct backend *b)
{
	bool live = b->session != NULL || b->leased;

	if (b->admin_down)
		return BE_STATE_ADMIN_DOWN;
	if (b->source != BE_SOURCE_STATIC && !live)
		return BE_STATE_DOWN;
	if (live && (b->timed_out || b->reported == HB_STATE_DOWN))
		return BE_STATE_DOWN;
	if (!b->probe_up || b->ejected_until_ms)
		return BE_STATE_DOWN;
	if (backend_admin_drained(b) || (live && b->reported == HB_STATE_DRAIN))
		return BE_STATE_DRAINING;
	return BE_STATE_UP;
}

static unsigned table_timeout_ms(const struct backend_table *t, const struct backend *b)
{
	return b->source == BE_SOURCE_LEGACY ? t->p.legacy_timeout_ms : t->p.heartbeat_timeout_ms;
}

struct backend_table *table_create(const struct table_params *p)
{
	struct backend_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->p = *p;
	t->next_id = 1;
	return t;
}

void table_destroy(struct backend_table *t)
{
	free(t);
}

/* Ids are handed out round-robin from the last one given, so a freed id is reused as late
 * as possible: workers may still hold connections (and counters) under the old one. */
static struct backend *backend_alloc(struct backend_table *t)
{
	for (uint32_t i = 0; i < SNAP_MAX_BACKEND_ID - 1; i++) {
		uint32_t id = t->next_id;

		t->next_id = id + 1 < SNAP_MAX_BACKEND_ID ? id + 1 : 1;
		if (t->be[id].id == 0 && !t->reserved_seq[id]) {
			memset(&t->be[id], 0, sizeof(t->be[id]));
			t->be[id].id = id;
			t->be[id].last_hb_ms = -1;
			t->be[id].ramp_start_ms = -1;
			t->be[id].probe_up = true;
			t->be[id].admin_weight = -1;
			t->count++;
			return &t->be[id];
		}
	}
	return NULL;
}

static void backend_free(struct backend_table *t, struct backend *b)
{
	memset(b, 0, sizeof(*b));
	t->count--;
}

static const char *backend_label(const struct backend *b, char *buf, size_t len)
{
	char addr[ADDR_TEXT_MAX];

	addr_format(&b->addr, addr, sizeof(addr));
	if (b->name[0])
		snprintf(buf, len, "%s (%s)", addr, b->name);
	else
		snprintf(buf, len, "%s", addr);
	return buf;
}

static void table_notify(struct backend_table *t, const struct backend *b, const char *old, const char *now_state,
			 const char *reason, int64_t now_ms);

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
	table_notify(t, b, "none", state_names[b->state], b->reason, now_ms);
	return 0;
}

/* See backend_table.h. */
bool table_configure_static(struct backend_table *t, struct backend *b, unsigned weight, bool hb_allowed,
			    int64_t now_ms)
{
	bool restore = b->removing == BE_REMOVAL_CONFIG;
	bool changed = b->cfg_weight != weight || b->hb_allowed != hb_allowed || restore;

	b->cfg_weight = weight;
	b->hb_allowed = hb_allowed;
	if (!b->session && b->weight != weight) {
		b->weight = weight;
		t->changes |= TABLE_CHANGE_LAZY;
	}
	if (restore)
		table_apply(t, b, BE_EV_RESTORE, NULL, now_ms);
	return changed;
}

/* See backend_table.h. */
int table_retire(struct backend_table *t, struct backend *b, int64_t now_ms)
{
	return b->removing ? 0 : table_apply(t, b, BE_EV_RETIRE, NULL, now_ms);
}

/* See backend_table.h. */
void table_release_id(struct backend_table *t, uint32_t id)
{
	if (id < SNAP_MAX_BACKEND_ID)
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
	return id < SNAP_MAX_BACKEND_ID ? t->reserved_seq[id] : 0;
}

/* See backend_table.h. */
bool table_set_send_proxy(struct backend_table *t, struct backend *b, uint8_t version)
{
	if (b->send_proxy == version)
		return false;
	b->send_proxy = version;
	t->changes |= TABLE_CHANGE_LAZY;
	return true;
}

/* See backend_table.h. */
void table_adopt_static(struct backend_table *t, struct backend *b)
{
	(void)t;
	if (b->source != BE_SOURCE_STATIC) {
		b->source = BE_SOURCE_STATIC;
		b->cfg_weight = 0;
	}
	b->api_added = false;
}

/* See backend_table.h. */
uint64_t table_seq(const struct backend_table *t)
{
	return t->seq;
}

void table_mark_urgent(struct backend_table *t)
{
	t->changes |= TABLE_CHANGE_URGENT;
}

void table_set_params(struct backend_table *t, const struct table_params *p)
{
	t->p = *p;
}

int table_add_static(struct backend_table *t, const struct slb_addr *addr, unsigned weight, int64_t now_ms,
		     struct backend **out)
{
	int rc = table_add_entry(t, addr, weight, false, "static backend", now_ms, out);

	return rc ? rc : table_add_done(t, *out, now_ms);
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
	char why[TABLE_REASON_MAX];
	int rc;

	snprintf(why, sizeof(why), "added by admin%s%s", detail ? " " : "", detail ? detail : "");
	if (a->checking)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ": checking, up after %u passed checks",
			 t->p.rise);
	rc = table_add_entry(t, &a->addr, a->weight, a->checking, why, now_ms, out);
	if (rc)
		return rc;
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

bool table_accepts_session(const struct backend *b)
{
	if (b && b->removing)
		return false;
	return !b || b->source != BE_SOURCE_STATIC || b->hb_allowed;
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
		b->source = m->legacy ? BE_SOURCE_LEGACY : BE_SOURCE_HEARTBEAT;
		b->state = BE_STATE_DOWN;
		b->weight = 1;
		b->changed_ms = now_ms;
		b->fresh = true;
	}
	old_weight = b->weight;
	b->weight = m->weight ? m->weight : b->source == BE_SOURCE_STATIC ? b->cfg_weight : 1;
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

void table_set_load(struct backend_table *t, struct backend *b, int load)
{
	if (load < 0 || (unsigned)load == b->load)
		return;
	b->load = (unsigned)load;
	if (b->state == BE_STATE_UP)
		t->changes |= TABLE_CHANGE_LAZY;
}

static void on_reported(struct backend *b, enum hb_state s, int64_t now_ms, const char *what, char *why,
			size_t len)
{
	snprintf(why, len, "%s", b->timed_out && s == HB_STATE_UP ? "heartbeats resumed" : what);
	b->reported = s;
	b->timed_out = false;
	b->last_hb_ms = now_ms;
}

/* The session's say ends with it. A static backend goes back to what its flags say at once
 * (BYE included: a heartbeat cannot leave an operator's backend down or reweighted); a
 * heartbeat one is down until it registers again. */
static void on_closed(struct backend_table *t, struct backend *b, int64_t now_ms, const char *what, char *why,
		      size_t len)
{
	b->session = NULL;
	b->timed_out = false;
	b->closed_ms = now_ms;
	snprintf(why, len, "%s", what);
	if (b->source != BE_SOURCE_STATIC)
		return;
	snprintf(why, len, "%s: back to its --backend settings", what);
	b->reported = HB_STATE_UP;
	b->name[0] = '\0';
	table_set_load(t, b, 0);
	if (b->weight != b->cfg_weight && b->state == BE_STATE_UP)
		t->changes |= TABLE_CHANGE_LAZY;
	b->weight = b->cfg_weight;
}

static void on_probe(struct backend_table *t, struct backend *b, bool ok, const char *detail, char *why,
		     size_t len)
{
	if (ok) {
		b->fall_count = 0;
		if (!b->probe_up && ++b->rise_count >= t->p.rise) {
			b->probe_up = true;
			b->rise_count = 0;
			b->connect_failures = 0;
		}
		snprintf(why, len, "check passed %u times", t->p.rise);
		return;
	}
	b->rise_count = 0;
	if (b->probe_up && ++b->fall_count >= t->p.fall) {
		b->probe_up = false;
		b->fall_count = 0;
	}
	snprintf(why, len, "check failed %u times: %s", t->p.fall, detail ? detail : "failed");
}

/* Only failures seen while up count: reports still in flight from before an ejection or a
 * recovery must not eject again on their own. */
static void on_connect_fail(struct backend_table *t, struct backend *b, const char *detail, char *why, size_t len)
{
	if (b->state != BE_STATE_UP || t->p.eject_failures == 0)
		return;
	if (++b->connect_failures < t->p.eject_failures)
		return;
	snprintf(why, len, "ejected after %u consecutive connect failures%s%s", b->connect_failures,
		 detail ? ", last: " : "", detail ? detail : "");
	b->connect_failures = 0;
	b->probe_up = false;
	b->rise_count = 0;
}

/* A removal begins, or one under way changes its cause (the operator's cannot be undone by a
 * reload that names the backend again); its deadline runs from the first start. */
static void on_removal(struct backend *b, enum be_removal cause, int64_t now_ms)
{
	if (!b->removing)
		b->removing_ms = now_ms;
	b->removing = cause;
}

/* The operator's events; the reason names the action and who asked ("admin drain from
 * 127.0.0.1"). Enable ends every hand-made hold but a removal, which cannot be undone. */
static void on_admin(struct backend *b, enum be_event ev, const char *detail, int64_t now_ms, char *why, size_t len)
{
	if (ev == BE_EV_ADMIN_DISABLE)
		b->admin_down = true;
	else if (ev == BE_EV_ADMIN_DRAIN)
		b->admin_drain = true;
	else if (ev == BE_EV_ADMIN_REMOVE)
		on_removal(b, BE_REMOVAL_API, now_ms);
	if (ev == BE_EV_ADMIN_ENABLE) {
		b->admin_down = false;
		b->admin_drain = false;
		if (b->admin_weight == 0)
			b->admin_weight = -1;
	}
	snprintf(why, len, "%s%s%s", event_names[ev], detail ? " " : "", detail ? detail : "");
}

/* Binary upgrade: the session was detached and the state held as a lease, or the lease ran
 * out without the backend registering with this process. */
static void on_lease(struct backend *b, bool take, int64_t now_ms, char *why, size_t len)
{
	if (take) {
		b->session = NULL;
		b->leased = true;
		b->timed_out = false;
		b->last_hb_ms = now_ms;
		return;
	}
	b->leased = false;
	b->closed_ms = now_ms;
	snprintf(why, len, "lease from the previous process expired");
}

/* A reload dropped a static backend from the configuration, or took it back: only a removal
 * the configuration began is undone. */
static void on_retire(struct backend *b, bool retire, int64_t now_ms, char *why, size_t len)
{
	if (retire && !b->removing)
		on_removal(b, BE_REMOVAL_CONFIG, now_ms);
	else if (!retire && b->removing == BE_REMOVAL_CONFIG)
		b->removing = BE_REMOVAL_NONE;
	snprintf(why, len, "%s", retire ? be_removal_name(BE_REMOVAL_CONFIG) : "back in the configuration");
}

/* A repeat offender (ejected again within an hour of its last ejection's end) stays out twice
 * as long as last time. detail says why (its figures); the reason adds for how long. */
static void on_outlier(struct backend_table *t, struct backend *b, const char *detail, int64_t now_ms,
		       char *why, size_t len)
{
	int64_t ms;

	if (b->outlier_count && now_ms - b->outlier_back_ms < GRAY_REPEAT_WINDOW_MS)
		b->outlier_count++;
	else
		b->outlier_count = 1;
	ms = gray_ejection_ms(t->p.outlier_base_ejection_ms, b->outlier_count);
	b->ejected_until_ms = now_ms + ms;
	snprintf(why, len, "%s, out for %lld ms", detail ? detail : "outlier", (long long)ms);
}

static void on_outlier_end(struct backend *b, bool clear, int64_t now_ms, char *why, size_t len)
{
	snprintf(why, len, "%s", clear ? "outlier ejection cleared by the operator" : "outlier ejection over");
	if (b->ejected_until_ms)
		b->outlier_back_ms = now_ms;
	b->ejected_until_ms = 0;
	if (clear)
		b->outlier_count = 0;
}

/* What a heartbeat reported, per event: the state and the reason it gives. */
static const struct {
	enum hb_state state;
	const char *what;
} hb_reports[] = {
	[BE_EV_HB_UP] = { HB_STATE_UP, "heartbeat state=up" },
	[BE_EV_HB_DRAIN] = { HB_STATE_DRAIN, "heartbeat state=drain" },
	[BE_EV_HB_DOWN] = { HB_STATE_DOWN, "heartbeat state=down" },
};

/* The events of a heartbeat session, and of the lease that stands in for one after an
 * upgrade. Returns false for any other event. */
static bool on_session_event(struct backend_table *t, struct backend *b, enum be_event ev, int64_t now_ms,
			     char *why, size_t len)
{
	switch (ev) {
	case BE_EV_HB_UP:
	case BE_EV_HB_DRAIN:
	case BE_EV_HB_DOWN:
		on_reported(b, hb_reports[ev].state, now_ms, hb_reports[ev].what, why, len);
		return true;
	case BE_EV_HB_BYE:
		if (b->source == BE_SOURCE_STATIC)
			on_closed(t, b, now_ms, "heartbeat bye", why, len);
		else
			on_reported(b, HB_STATE_DOWN, now_ms, "heartbeat bye", why, len);
		return true;
	case BE_EV_HB_CLOSED:
		on_closed(t, b, now_ms, "heartbeat connection closed", why, len);
		return true;
	case BE_EV_HB_TIMEOUT:
		b->timed_out = true;
		snprintf(why, len, "no heartbeat for %u ms", table_timeout_ms(t, b));
		return true;
	case BE_EV_LEASE:
	case BE_EV_LEASE_EXPIRED:
		on_lease(b, ev == BE_EV_LEASE, now_ms, why, len);
		return true;
	default:
		return false;
	}
}

/* The other events: health's own judgement (probes, connects, loops, latency), the
 * configuration and the operator. Returns true when the reason already folds detail in. */
static bool on_judgement(struct backend_table *t, struct backend *b, enum be_event ev, const char *detail,
			 int64_t now_ms, char *why, size_t len)
{
	switch (ev) {
	case BE_EV_PROBE_OK:
	case BE_EV_PROBE_FAIL:
		on_probe(t, b, ev == BE_EV_PROBE_OK, detail, why, len);
		return true;
	case BE_EV_CONNECT_FAIL:
		on_connect_fail(t, b, detail, why, len);
		return true;
	case BE_EV_CONNECT_OK:
		b->connect_failures = 0;
		return false;
	case BE_EV_LOOP:
		b->probe_up = false;
		b->rise_count = 0;
		snprintf(why, len, "loop to itself");
		return false;
	case BE_EV_RETIRE:
	case BE_EV_RESTORE:
		on_retire(b, ev == BE_EV_RETIRE, now_ms, why, len);
		return false;
	case BE_EV_OUTLIER:
		on_outlier(t, b, detail, now_ms, why, len);
		return true;
	case BE_EV_OUTLIER_END:
	case BE_EV_OUTLIER_CLEAR:
		on_outlier_end(b, ev == BE_EV_OUTLIER_CLEAR, now_ms, why, len);
		return false;
	default: /* the operator's, and BE_EV_NONE */
		if (ev == BE_EV_NONE)
			return false;
		on_admin(b, ev, detail, now_ms, why, len);
		return true;
	}
}

/* Sets the inputs an event carries and writes the reason a resulting transition would have. */
static void backend_update(struct backend_table *t, struct backend *b, enum be_event ev, const char *detail,
			   int64_t now_ms, char *why, size_t len)
{
	/* a detail given with any other event replaces the reason (REGISTER's "registered") */
	if (!on_session_event(t, b, ev, now_ms, why, len) && on_judgement(t, b, ev, detail, now_ms, why, len))
		detail = NULL;
	if (detail)
		snprintf(why, len, "%s", detail);
}

static void table_notify(struct backend_table *t, const struct backend *b, const char *old, const char *now_state,
			 const char *reason, int64_t now_ms)
{
	if (t->notify)
		t->notify(t->notify_arg, b, old, now_state, reason, now_ms);
}

/* A drain's clock starts when the state becomes draining; it ends in table_note_active. */
static void backend_track_drain(struct backend *b, enum be_state old, int64_t now_ms)
{
	if (b->state != BE_STATE_DRAINING) {
		b->drained = false;
		return;
	}
	if (old == BE_STATE_DRAINING)
		return;
	b->drain_start_ms = now_ms;
	b->drained = false;
	b->drained_ms = -1;
}

int table_apply(struct backend_table *t, struct backend *b, enum be_event ev, const char *detail, int64_t now_ms)
{
	char why[TABLE_REASON_MAX] = "", label[ADDR_TEXT_MAX + HB_NAME_MAX + 4];
	enum be_state old = b->state;
	bool fresh = b->fresh;

	backend_update(t, b, ev, detail, now_ms, why, sizeof(why));
	b->state = backend_derive(b);
	/* A new entry starts down; registering as down still deserves its line and reason. */
	if (b->state == old && !b->fresh)
		return 0;
	b->state_seq = ++t->seq;
	b->fresh = false;
	snprintf(b->reason, sizeof(b->reason), "%s", why);
	b->changed_ms = now_ms;
	/* Any change of rotation is published before the loop sleeps: a backend leaving must
	 * stop getting connections at once, and one joining must not show "up" in /status
	 * while workers cannot reach it yet. Only load and weight updates wait for a tick. */
	if (old == BE_STATE_UP || b->state == BE_STATE_UP)
		t->changes |= TABLE_CHANGE_URGENT;
	if (b->state == BE_STATE_UP)
		b->connect_failures = 0;
	/* from draining the server is warm; from down (or new) it may be cold */
	if (old == BE_STATE_DOWN && b->state == BE_STATE_UP)
		b->ramp_start_ms = now_ms;
	backend_track_drain(b, fresh ? BE_STATE_DOWN : old, now_ms);
	slb_log(b->state == BE_STATE_DOWN ? LOG_WARN : LOG_INFO, 0, "backend %s %s: %s",
		backend_label(b, label, sizeof(label)), state_names[b->state], b->reason);
	table_notify(t, b, fresh ? "none" : state_names[old], state_names[b->state], b->reason, now_ms);
	return b->state != old;
}

int table_set_admin_weight(struct backend_table *t, struct backend *b, unsigned weight, const char *detail,
			   int64_t now_ms)
{
	char why[TABLE_REASON_MAX];

	if (weight > CONFIG_MAX_WEIGHT)
		return -EINVAL;
	if (b->state == BE_STATE_UP && table_weight(b) != weight)
		t->changes |= TABLE_CHANGE_LAZY;
	b->admin_weight = (int)weight;
	snprintf(why, sizeof(why), "admin weight %u%s%s", weight, detail ? " " : "", detail ? detail : "");
	return table_apply(t, b, BE_EV_NONE, why, now_ms);
}

unsigned table_weight(const struct backend *b)
{
	return b->admin_weight > 0 ? (unsigned)b->admin_weight : b->weight;
}

/* See backend_table.h. t is not read: the count is b's alone, but it is a write to the table. */
void table_count_active(struct backend_table *t, struct backend *b, uint64_t active)
{
	(void)t;
	b->active_conns = active;
}

int table_note_active(struct backend_table *t, struct backend *b, uint64_t active, int64_t now_ms)
{
	char label[ADDR_TEXT_MAX + HB_NAME_MAX + 4], why[TABLE_REASON_MAX];

	table_count_active(t, b, active);
	if (b->state != BE_STATE_DRAINING || b->drained || active)
		return 0;
	b->drained = true;
	b->drained_ms = now_ms;
	/* The state's reason stays (why it drains); the drain's end is an event of its own. */
	snprintf(why, sizeof(why), "drained: no connection left after %lld ms", (long long)(now_ms - b->drain_start_ms));
	slb_log(LOG_INFO, 0, "backend %s %s", backend_label(b, label, sizeof(label)), why);
	table_notify(t, b, state_names[b->state], state_names[b->state], why, now_ms);
	return 1;
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
	table_notify(t, b, state_names[b->state], "none", b->reason, now_ms);
	backend_free(t, b);
	t->reserved_seq[id] = ++t->seq;
}

void table_set_notify(struct backend_table *t, table_notify_fn fn, void *arg)
{
	t->notify = fn;
	t->notify_arg = arg;
}

static void table_expire(struct backend_table *t, struct backend *b, int64_t now_ms)
{
	char why[TABLE_REASON_MAX];

	if (b->source == BE_SOURCE_STATIC || b->session || b->leased ||
	    now_ms - b->closed_ms < (int64_t)t->p.expire_ms)
		return;
	snprintf(why, sizeof(why), "no registration for %u ms", t->p.expire_ms);
	table_remove(t, b, why, now_ms);
}

int table_tick(struct backend_table *t, int64_t now_ms)
{
	int changed = 0;

	for (uint32_t id = 1; id < SNAP_MAX_BACKEND_ID && t->count; id++) {
		struct backend *b = &t->be[id];

		if (b->id == 0)
			continue;
		if (b->session && !b->timed_out && now_ms - b->last_hb_ms >= (int64_t)table_timeout_ms(t, b))
			changed += table_apply(t, b, BE_EV_HB_TIMEOUT, NULL, now_ms);
		if (b->leased && now_ms - b->last_hb_ms >= (int64_t)table_timeout_ms(t, b))
			changed += table_apply(t, b, BE_EV_LEASE_EXPIRED, NULL, now_ms);
		if (b->ejected_until_ms && now_ms >= b->ejected_until_ms)
			changed += table_apply(t, b, BE_EV_OUTLIER_END, NULL, now_ms);
		table_expire(t, b, now_ms);
	}
	return changed;
}

/* See backend_table.h. */
int table_clear_outlier(struct backend_table *t, struct backend *b, int64_t now_ms)
{
	return table_apply(t, b, BE_EV_OUTLIER_CLEAR, NULL, now_ms);
}

struct backend *table_get(struct backend_table *t, uint32_t id)
{
	if (id == 0 || id >= SNAP_MAX_BACKEND_ID || t->be[id].id == 0)
		return NULL;
	return &t->be[id];
}

const struct backend *table_get_const(const struct backend_table *t, uint32_t id)
{
	if (id == 0 || id >= SNAP_MAX_BACKEND_ID || t->be[id].id == 0)
		return NULL;
	return &t->be[id];
}

struct backend *table_find(struct backend_table *t, const struct slb_addr *addr)
{
	for (uint32_t id = 1; id < SNAP_MAX_BACKEND_ID; id++)
		if (t->be[id].id && addr_equal(&t->be[id].addr, addr))
			return &t->be[id];
	return NULL;
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
	unsigned n = 0;

	for (uint32_t id = 1; id < SNAP_MAX_BACKEND_ID; id++)
		if (t->be[id].id && t->be[id].source == src)
			n++;
	return n;
}

bool table_wants_probe(const struct backend *b, bool checks_configured)
{
	if (b->source != BE_SOURCE_STATIC)
		return b->session && !b->probe_up;
	if (b->own_check)
		checks_configured = b->check != CHECK_NONE;
	return checks_configured || !b->probe_up;
}

/* Still ramping at now_ms: its age since coming up, else -1. */
static int64_t table_ramp_age(const struct backend_table *t, const struct backend *b, int64_t now_ms)
{
	int64_t age = now_ms - b->ramp_start_ms;

	if (!t->p.slow_start_ms || b->ramp_start_ms < 0 || b->state != BE_STATE_UP ||
	    age >= (int64_t)t->p.slow_start_ms)
		return -1;
	return age > 0 ? age : 0;
}

unsigned table_effective_weight(const struct backend_table *t, const struct backend *b, int64_t now_ms)
{
	uint64_t full = (uint64_t)(table_weight(b) ? table_weight(b) : 1) * SNAP_WEIGHT_UNIT;
	uint64_t ss = t->p.slow_start_ms, eff;
	int64_t age = table_ramp_age(t, b, now_ms);

	if (age < 0)
		return (unsigned)full;
	eff = full * (10 * ss + 90 * (uint64_t)age) / (100 * ss);
	return eff ? (unsigned)eff : 1;
}

int64_t table_next_ramp_ms(const struct backend_table *t, int64_t now_ms, unsigned step_ms)
{
	int64_t next = -1;

	for (uint32_t id = 1; id < SNAP_MAX_BACKEND_ID && t->p.slow_start_ms; id++) {
		const struct backend *b = &t->be[id];
		int64_t at;

		if (b->id == 0 || table_ramp_age(t, b, now_ms) < 0)
			continue;
		at = b->ramp_start_ms + t->p.slow_start_ms;
		if (at > now_ms + step_ms)
			at = now_ms + step_ms;
		if (next < 0 || at < next)
			next = at;
	}
	return next;
}

static uint32_t table_fill_live(const struct backend_table *t, int64_t now_ms, struct snap_backend *live)
{
	uint32_t n = 0;

	for (uint32_t id = 1; id < SNAP_MAX_BACKEND_ID; id++) {
		const struct backend *b = &t->be[id];

		if (b->id == 0 || b->state != BE_STATE_UP)
			continue;
		live[n].id = b->id;
		live[n].weight = table_weight(b);
		live[n].eff_weight = table_effective_weight(t, b, now_ms);
		live[n].load = b->load;
		live[n].send_proxy = b->send_proxy;
		live[n].addr = b->addr;
		n++;
	}
	return n;
}

struct snapshot *table_build_snapshot(const struct backend_table *t, int64_t now_ms)
{
	struct snap_backend *live = calloc(t->count ? t->count : 1, sizeof(*live));
	struct snapshot *s;
	uint32_t n;

	if (!live)
		return NULL;
	n = table_fill_live(t, now_ms, live);
	s = snapshot_build_ext(live, n, t->p.maglev_len);
	free(live);
	/* the table is a function of its inputs: any snapshot with the same ones has it (the
	 * current one, unless backends or weights changed) */
	if (s && t->p.maglev_len && maglev_fill_reusing(s, snapshot_current(), t->p.hash_key) < 0) {
		snapshot_free(s);
		return NULL;
	}
	return s;
}

unsigned table_take_changes(struct backend_table *t)
{
	unsigned c = t->changes;

	t->changes = TABLE_CHANGE_NONE;
	return c;
}

const char *be_state_name(enum be_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

const char *be_removal_name(enum be_removal r)
{
	static const char *const names[] = {
		[BE_REMOVAL_NONE] = "",
		[BE_REMOVAL_CONFIG] = "removed from the configuration",
		[BE_REMOVAL_API] = "removed by admin",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

const char *be_source_name(enum be_source s)
{
	static const char *const names[] = { "static", "heartbeat", "legacy" };

	return (unsigned)s < 3 ? names[s] : "?";
}

const char *be_source_label(const struct backend *b)
{
	return b->api_added ? "admin" : be_source_name(b->source);
}

const char *be_event_name(enum be_event ev)
{
	return (unsigned)ev < sizeof(event_names) / sizeof(event_names[0]) ? event_names[ev] : "?";
}
