/* backend_table: the state machine of the health thread's table of backends, the one that
 * moves them between up, down and draining. Events only set inputs; the state is derived from
 * the inputs by backend_derive() below, so no combination of events can leave an entry in a
 * state its inputs do not explain. The table's other rooms: backend_registry.c (the entries:
 * ids, adds, leases, the one removal) and backend_view.c (what workers see: the snapshot,
 * with slow start). */
#include "backend_table_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "slb/common/log.h"
#include "slb/control/gray.h"

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
	[BE_EV_DNS_GONE] = "dns gone",
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
 *   no          any        -              -          -         yes       no       yes    | draining (by hand, removal)
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

enum be_state backend_derive(const struct backend *b)
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

const char *backend_label(const struct backend *b, char *buf, size_t len)
{
	char addr[ADDR_TEXT_MAX];

	addr_format(&b->addr, addr, sizeof(addr));
	if (b->name[0])
		snprintf(buf, len, "%s (%s)", addr, b->name);
	else
		snprintf(buf, len, "%s", addr);
	return buf;
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
bool table_set_send_proxy(struct backend_table *t, struct backend *b, uint8_t version)
{
	if (b->send_proxy == version)
		return false;
	b->send_proxy = version;
	t->changes |= TABLE_CHANGE_LAZY;
	return true;
}

/* See backend_table.h. */
bool table_set_backup(struct backend_table *t, struct backend *b, bool backup)
{
	if (b->backup == backup)
		return false;
	b->backup = backup;
	t->changes |= TABLE_CHANGE_URGENT;
	return true;
}

/* See backend_table.h. */
bool table_set_service(struct backend_table *t, struct backend *b, unsigned svc)
{
	if (b->service == svc || svc >= table_services(t))
		return false;
	b->service = svc;
	t->changes |= TABLE_CHANGE_URGENT;
	return true;
}

/* See backend_table.h. */
void table_adopt_static(struct backend_table *t, struct backend *b)
{
	if (b->source != BE_SOURCE_STATIC) {
		table_set_source(t, b, BE_SOURCE_STATIC);
		b->cfg_weight = 0;
	}
	b->api_added = false;
}

bool table_accepts_session(const struct backend *b)
{
	if (b && b->removing)
		return false;
	return !b || b->source != BE_SOURCE_STATIC || b->hb_allowed;
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
		if (!b->probe_up && ++b->rise_count >= table_svc(t, b)->rise) {
			b->probe_up = true;
			b->rise_count = 0;
			b->connect_failures = 0;
		}
		snprintf(why, len, "check passed %u times", table_svc(t, b)->rise);
		return;
	}
	b->rise_count = 0;
	if (b->probe_up && ++b->fall_count >= table_svc(t, b)->fall) {
		b->probe_up = false;
		b->fall_count = 0;
	}
	snprintf(why, len, "check failed %u times: %s", table_svc(t, b)->fall, detail ? detail : "failed");
}

/* Only failures seen while up count: reports still in flight from before an ejection or a
 * recovery must not eject again on their own. */
static void on_connect_fail(struct backend_table *t, struct backend *b, const char *detail, char *why, size_t len)
{
	if (b->state != BE_STATE_UP || table_svc(t, b)->eject_failures == 0)
		return;
	if (++b->connect_failures < table_svc(t, b)->eject_failures)
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

/* A reload dropped a static backend from the configuration (cause BE_REMOVAL_CONFIG), its
 * address left its host name's answer (BE_REMOVAL_DNS), or either took it back (cause
 * BE_REMOVAL_NONE): only a removal the configuration or DNS began is undone, never the
 * operator's. */
static void on_retire(struct backend *b, enum be_removal cause, int64_t now_ms, char *why, size_t len)
{
	enum be_removal was = b->removing;

	if (cause && !b->removing)
		on_removal(b, cause, now_ms);
	else if (!cause && (was == BE_REMOVAL_CONFIG || was == BE_REMOVAL_DNS))
		b->removing = BE_REMOVAL_NONE;
	if (cause)
		snprintf(why, len, "%s", be_removal_name(cause));
	else
		snprintf(why, len, "%s", was == BE_REMOVAL_DNS ? "back in the DNS answer" : "back in the configuration");
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
	case BE_EV_DNS_GONE:
	case BE_EV_RESTORE:
		on_retire(b, ev == BE_EV_RETIRE ? BE_REMOVAL_CONFIG : ev == BE_EV_DNS_GONE ? BE_REMOVAL_DNS : BE_REMOVAL_NONE,
			  now_ms, why, len);
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

void table_notify(struct backend_table *t, const struct backend *b, const char *old, const char *now_state,
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
	 * while workers cannot reach it yet. Any other transition (draining to down) changes no
	 * snapshot but is published at the next tick all the same: whether every worker has seen
	 * a backend's current state (a drain's or a removal's end) is judged by the snapshots
	 * published since it changed. */
	if (old == BE_STATE_UP || b->state == BE_STATE_UP)
		t->changes |= TABLE_CHANGE_URGENT;
	else
		t->changes |= TABLE_CHANGE_LAZY;
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

int backend_time_events(struct backend_table *t, struct backend *b, int64_t now_ms)
{
	int changed = 0;

	if (b->session && !b->timed_out && now_ms - b->last_hb_ms >= (int64_t)table_timeout_ms(t, b))
		changed += table_apply(t, b, BE_EV_HB_TIMEOUT, NULL, now_ms);
	if (b->leased && now_ms - b->last_hb_ms >= (int64_t)table_timeout_ms(t, b))
		changed += table_apply(t, b, BE_EV_LEASE_EXPIRED, NULL, now_ms);
	if (b->ejected_until_ms && now_ms >= b->ejected_until_ms)
		changed += table_apply(t, b, BE_EV_OUTLIER_END, NULL, now_ms);
	return changed;
}

/* See backend_table.h. */
int table_clear_outlier(struct backend_table *t, struct backend *b, int64_t now_ms)
{
	return table_apply(t, b, BE_EV_OUTLIER_CLEAR, NULL, now_ms);
}

bool table_wants_probe(const struct backend *b, bool checks_configured)
{
	if (b->source != BE_SOURCE_STATIC)
		return b->session && !b->probe_up;
	if (b->own_check)
		checks_configured = b->check != CHECK_NONE;
	return checks_configured || !b->probe_up;
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
		[BE_REMOVAL_DNS] = "removed from the DNS answer",
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
