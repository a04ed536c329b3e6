/* Backend table: the state machine event by event (rise/fall, ejection, heartbeat close and
 * timeout, drain), snapshots of up entries only, id allocation and reuse, and one log line per
 * transition. No sockets: sessions are opaque pointers here. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "slb/common/log.h"
#include "slb/common/snapshot.h"
#include "slb/control/backend_table.h"

static const struct table_params params = {
	.svc[0] = { .rise = 2, .fall = 3, .eject_failures = 3 },
	.heartbeat_timeout_ms = 3000,
	.expire_ms = 60000,
	.drain_timeout_ms = 30000,
};

static struct backend_table *t;
static int session_a, session_b; /* their addresses stand in for sessions */

static void setup(void)
{
	t = table_create(&params);
	cr_assert_not_null(t);
	atomic_store(&log_threshold, LOG_ERROR); /* quiet unless a test captures the log */
}

static void teardown(void)
{
	table_destroy(t);
}

TestSuite(backend_table, .init = setup, .fini = teardown);

static struct slb_addr addr_of(const char *text)
{
	struct slb_addr a;

	cr_assert_eq(addr_parse(text, &a, NULL, 0), 0, "%s", text);
	return a;
}

static struct backend *add_static(const char *text, unsigned weight)
{
	struct slb_addr a = addr_of(text);
	struct backend *b;

	cr_assert_eq(table_add_static(t, &a, weight, 0, &b), 0);
	return b;
}

static struct backend *do_register(const char *text, const char *name, void *session, int64_t now)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = -1 };
	struct backend *b;

	m.addr = addr_of(text);
	snprintf(m.name, sizeof(m.name), "%s", name);
	cr_assert_eq(table_register(t, &m, session, now, &b), 0);
	table_apply(t, b, BE_EV_HB_UP, "registered", now);
	return b;
}

static int apply_n(struct backend *b, enum be_event ev, unsigned n, int64_t now)
{
	int changed = 0;

	for (unsigned i = 0; i < n; i++)
		changed += table_apply(t, b, ev, "connection refused", now);
	return changed;
}

/* ---- probes: rise and fall ---- */

Test(backend_table, static_backend_starts_up)
{
	struct backend *b = add_static("127.0.0.1:9001", 4);

	cr_assert_eq(b->id, 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->source, BE_SOURCE_STATIC);
	cr_assert_eq(b->weight, 4);
	cr_assert_eq(b->last_hb_ms, -1);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_LAZY);
}

Test(backend_table, one_lost_probe_does_not_flap)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	cr_assert_eq(apply_n(b, BE_EV_PROBE_FAIL, 1, 10), 0);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_OK, 1, 20), 0);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_FAIL, 2, 30), 0);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_OK, 1, 40), 0);
	cr_assert_eq(b->state, BE_STATE_UP);
}

Test(backend_table, fall_failed_probes_take_it_down)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_take_changes(t);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_FAIL, 2, 10), 0);
	cr_assert_eq(table_apply(t, b, BE_EV_PROBE_FAIL, "connection refused", 20), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(b->reason, "check failed 3 times: connection refused");
	cr_assert_eq(b->changed_ms, 20);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_URGENT);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_FAIL, 5, 30), 0, "already down: no more transitions");
}

Test(backend_table, rise_passed_probes_bring_it_back)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	apply_n(b, BE_EV_PROBE_FAIL, 3, 10);
	table_take_changes(t);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_OK, 1, 20), 0);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_FAIL, 1, 30), 0, "a failure resets the rise count");
	cr_assert_eq(apply_n(b, BE_EV_PROBE_OK, 1, 40), 0);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_OK, 1, 50), 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_str_eq(b->reason, "check passed 2 times");
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_URGENT);
}

/* ---- worker connect failures ---- */

Test(backend_table, consecutive_connect_failures_eject)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	cr_assert_not(table_wants_probe(b, false));
	cr_assert_eq(apply_n(b, BE_EV_CONNECT_FAIL, 2, 10), 0);
	cr_assert_eq(table_apply(t, b, BE_EV_CONNECT_OK, NULL, 11), 0, "a success resets the count");
	cr_assert_eq(apply_n(b, BE_EV_CONNECT_FAIL, 2, 12), 0);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(apply_n(b, BE_EV_CONNECT_FAIL, 1, 13), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(b->reason, "ejected after 3 consecutive connect failures, last: connection refused");
	cr_assert(table_wants_probe(b, false), "an ejected backend is probed even without --check");
}

Test(backend_table, failures_reported_while_down_do_not_count)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	apply_n(b, BE_EV_CONNECT_FAIL, 3, 10);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	apply_n(b, BE_EV_CONNECT_FAIL, 10, 20);
	cr_assert_eq(apply_n(b, BE_EV_PROBE_OK, 2, 30), 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->connect_failures, 0);
	cr_assert_not(table_wants_probe(b, false));
	cr_assert_eq(apply_n(b, BE_EV_CONNECT_FAIL, 2, 40), 0, "the count starts again from zero");
}

/* ---- heartbeat sessions ---- */

Test(backend_table, register_creates_an_up_heartbeat_entry)
{
	struct backend *b = do_register("127.0.0.1:9002", "web1", &session_a, 100);

	cr_assert_eq(b->source, BE_SOURCE_HEARTBEAT);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_str_eq(b->name, "web1");
	cr_assert_str_eq(b->reason, "registered");
	cr_assert_eq(b->last_hb_ms, 100);
	cr_assert_eq(b->weight, 1);
}

Test(backend_table, registering_as_down_records_why)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = -1 };
	struct backend *b;

	m.addr = addr_of("127.0.0.1:9002");
	cr_assert_eq(table_register(t, &m, &session_a, 0, &b), 0);
	cr_assert_eq(table_apply(t, b, BE_EV_HB_DOWN, "registered with state=down", 0), 0);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(b->reason, "registered with state=down");
	cr_assert_eq(table_apply(t, b, BE_EV_HB_DOWN, NULL, 1), 0);
	cr_assert_str_eq(b->reason, "registered with state=down", "later no-change events keep it");
	cr_assert_eq(table_apply(t, b, BE_EV_HB_UP, NULL, 2), 1);
	cr_assert_str_eq(b->reason, "heartbeat state=up");
}

Test(backend_table, closed_session_takes_it_down_at_once)
{
	struct backend *b = do_register("127.0.0.1:9002", "web1", &session_a, 100);

	table_take_changes(t);
	cr_assert_eq(table_apply(t, b, BE_EV_HB_CLOSED, NULL, 150), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(b->reason, "heartbeat connection closed");
	cr_assert_null(b->session);
	cr_assert_eq(table_take_changes(t) & TABLE_CHANGE_URGENT, TABLE_CHANGE_URGENT);
	cr_assert_not(table_wants_probe(b, true), "a closed heartbeat entry waits for REGISTER, not probes");
}

Test(backend_table, timeout_then_resumed_heartbeats)
{
	struct backend *b = do_register("127.0.0.1:9002", "", &session_a, 1000);

	cr_assert_eq(table_tick(t, 3999), 0);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(table_tick(t, 4000), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(b->reason, "no heartbeat for 3000 ms");
	cr_assert_eq(b->session, &session_a, "the session stays open");
	cr_assert_eq(table_tick(t, 9000), 0, "a timeout is applied once");
	cr_assert_eq(table_apply(t, b, BE_EV_HB_UP, NULL, 9500), 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_str_eq(b->reason, "heartbeats resumed");
}

Test(backend_table, drain_and_down_and_bye)
{
	struct backend *b = do_register("127.0.0.1:9002", "", &session_a, 0);

	cr_assert_eq(table_apply(t, b, BE_EV_HB_DRAIN, NULL, 1), 1);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
	cr_assert_str_eq(b->reason, "heartbeat state=drain");
	cr_assert_eq(table_apply(t, b, BE_EV_HB_DRAIN, NULL, 2), 0);
	cr_assert_eq(table_apply(t, b, BE_EV_HB_DOWN, NULL, 3), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_eq(table_apply(t, b, BE_EV_HB_UP, NULL, 4), 1);
	cr_assert_str_eq(b->reason, "heartbeat state=up");
	cr_assert_eq(table_apply(t, b, BE_EV_HB_BYE, NULL, 5), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(b->reason, "heartbeat bye");
	cr_assert_eq(table_apply(t, b, BE_EV_HB_CLOSED, NULL, 6), 0, "already down: logged once");
}

Test(backend_table, ejected_heartbeat_backend_needs_probes_or_a_new_register)
{
	struct backend *b = do_register("127.0.0.1:9002", "", &session_a, 0);

	apply_n(b, BE_EV_CONNECT_FAIL, 3, 10);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert(table_wants_probe(b, false));
	cr_assert_eq(table_apply(t, b, BE_EV_HB_UP, NULL, 20), 0, "heartbeats alone do not undo an ejection");
	b = do_register("127.0.0.1:9002", "", &session_b, 30);
	cr_assert_eq(b->state, BE_STATE_UP, "a new registration is a new process");
}

Test(backend_table, reregistration_reuses_the_id)
{
	struct backend *b = do_register("127.0.0.1:9002", "web1", &session_a, 0);
	uint32_t id = b->id;

	do_register("127.0.0.1:9003", "web2", &session_b, 0);
	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 10);
	b = do_register("127.0.0.1:9002", "web1b", &session_a, 20);
	cr_assert_eq(b->id, id);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_str_eq(b->name, "web1b");
	cr_assert_eq(table_count(t), 2);
}

Test(backend_table, closed_heartbeat_entries_expire)
{
	struct backend *b = do_register("127.0.0.1:9002", "", &session_a, 0);
	struct slb_addr a = addr_of("127.0.0.1:9002");
	uint32_t id = b->id;

	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 1000);
	table_tick(t, 60999);
	cr_assert_not_null(table_get(t, id));
	table_tick(t, 61000);
	cr_assert_null(table_get(t, id));
	cr_assert_null(table_find(t, &a));
	cr_assert_eq(table_count(t), 0);
}

/* ---- a static backend belongs to the operator ---- */

static int register_weight(struct backend *expect, void *session, unsigned weight, int64_t now)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = -1, .weight = weight };
	struct backend *b = NULL;
	int rc;

	m.addr = expect->addr;
	rc = table_register(t, &m, session, now, &b);
	if (rc == 0)
		cr_assert_eq(b, expect, "same entry, same id");
	return rc;
}

Test(backend_table, static_backend_refuses_a_session_by_default)
{
	struct backend *s = add_static("127.0.0.1:9001", 2);

	cr_assert_not(table_accepts_session(s));
	cr_assert(table_accepts_session(NULL), "a new address may always register");
	cr_assert_eq(register_weight(s, &session_a, 3, 1), -EPERM);
	cr_assert_null(s->session);
	cr_assert_eq(s->weight, 2);
	cr_assert_eq(s->state, BE_STATE_UP);
	cr_assert_eq(s->source, BE_SOURCE_STATIC);
}

Test(backend_table, allowed_session_sets_weight_and_state_until_bye)
{
	struct backend *s = add_static("127.0.0.1:9001", 2);

	s->hb_allowed = true;
	cr_assert(table_accepts_session(s));
	cr_assert_eq(register_weight(s, &session_a, 3, 1), 0);
	cr_assert_eq(s->weight, 3);
	cr_assert_eq(table_apply(t, s, BE_EV_HB_DRAIN, NULL, 2), 1);
	cr_assert_eq(s->state, BE_STATE_DRAINING);
	cr_assert_eq(table_apply(t, s, BE_EV_HB_BYE, NULL, 3), 1, "draining -> up, never down");
	cr_assert_eq(s->state, BE_STATE_UP);
	cr_assert_eq(s->weight, 2, "the flag's weight is back");
	cr_assert_null(s->session);
	cr_assert_str_eq(s->reason, "heartbeat bye: back to its --backend settings");
	cr_assert_eq(table_apply(t, s, BE_EV_HB_CLOSED, NULL, 3), 0, "the close after a BYE changes nothing");
	cr_assert_not(table_wants_probe(s, false), "nothing to prove: no check is configured");
}

Test(backend_table, allowed_session_closing_restores_the_flags_at_once)
{
	struct backend *s = add_static("127.0.0.1:9001", 1);

	s->hb_allowed = true;
	cr_assert_eq(register_weight(s, &session_a, 7, 1), 0);
	table_apply(t, s, BE_EV_HB_UP, "registered", 1);
	table_set_load(t, s, 80);
	cr_assert_eq(table_apply(t, s, BE_EV_HB_CLOSED, NULL, 2), 0, "up stays up");
	cr_assert_eq(s->state, BE_STATE_UP);
	cr_assert_eq(s->weight, 1);
	cr_assert_eq(s->load, 0);
	cr_assert_null(s->session);
}

Test(backend_table, allowed_session_down_or_silent_lasts_only_while_it_lives)
{
	struct backend *s = add_static("127.0.0.1:9001", 4);

	s->hb_allowed = true;
	cr_assert_eq(register_weight(s, &session_a, 0, 0), 0);
	cr_assert_eq(s->weight, 4, "a REGISTER without weight keeps the flag's weight");
	cr_assert_eq(table_apply(t, s, BE_EV_HB_DOWN, NULL, 1), 1);
	cr_assert_eq(s->state, BE_STATE_DOWN);
	table_apply(t, s, BE_EV_HB_UP, NULL, 2);
	cr_assert_eq(table_tick(t, 2 + 3000), 1, "silent past the timeout: down");
	cr_assert_eq(s->state, BE_STATE_DOWN);
	cr_assert_eq(table_apply(t, s, BE_EV_HB_CLOSED, NULL, 70000), 1, "session gone: up again");
	cr_assert_eq(s->state, BE_STATE_UP);
	table_tick(t, 200000);
	cr_assert_not_null(table_get(t, s->id), "static entries never expire");
}

/* ---- a backend that is slb itself ---- */

Test(backend_table, loop_takes_a_backend_down_until_probes_pass)
{
	struct backend *s = add_static("127.0.0.1:9001", 1);

	cr_assert_eq(table_apply(t, s, BE_EV_LOOP, NULL, 1), 1);
	cr_assert_eq(s->state, BE_STATE_DOWN);
	cr_assert_str_eq(s->reason, "loop to itself");
	cr_assert(table_wants_probe(s, false));
	cr_assert_eq(table_apply(t, s, BE_EV_LOOP, NULL, 2), 0, "reports in flight change nothing more");
	cr_assert_eq(apply_n(s, BE_EV_PROBE_OK, 2, 3), 1);
	cr_assert_eq(s->state, BE_STATE_UP);
}

/* ---- the operator's inputs: disable, drain, weight, remove ---- */

Test(backend_table, disable_holds_down_whatever_heartbeats_and_probes_say)
{
	struct backend *b = do_register("127.0.0.1:9001", "", &session_a, 0);

	table_apply(t, b, BE_EV_ADMIN_DISABLE, "from 127.0.0.1", 1);
	cr_assert_eq(b->state, BE_STATE_ADMIN_DOWN);
	cr_assert_str_eq(b->reason, "admin disable from 127.0.0.1");
	table_apply(t, b, BE_EV_HB_UP, NULL, 2);
	apply_n(b, BE_EV_PROBE_OK, 5, 3);
	cr_assert_eq(b->state, BE_STATE_ADMIN_DOWN);
	table_apply(t, b, BE_EV_ADMIN_ENABLE, "from 127.0.0.1", 4);
	cr_assert_eq(b->state, BE_STATE_UP);
}

Test(backend_table, enable_leaves_a_backend_down_when_its_health_says_down)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_apply(t, b, BE_EV_ADMIN_DISABLE, NULL, 1);
	apply_n(b, BE_EV_PROBE_FAIL, 3, 2);
	cr_assert_eq(b->state, BE_STATE_ADMIN_DOWN);
	table_apply(t, b, BE_EV_ADMIN_ENABLE, NULL, 3);
	cr_assert_eq(b->state, BE_STATE_DOWN);
}

Test(backend_table, admin_drain_outlasts_heartbeat_up_until_enabled)
{
	struct backend *b = do_register("127.0.0.1:9001", "", &session_a, 0);

	table_apply(t, b, BE_EV_ADMIN_DRAIN, "from ::1", 1);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
	table_apply(t, b, BE_EV_HB_UP, NULL, 2);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 3);
	cr_assert_eq(b->state, BE_STATE_DOWN, "health still wins over a drain");
	table_apply(t, b, BE_EV_ADMIN_ENABLE, NULL, 4);
	cr_assert_eq(b->state, BE_STATE_DOWN);
}

Test(backend_table, weight_zero_drains_and_a_weight_replaces_the_configured_one)
{
	struct backend *b = add_static("127.0.0.1:9001", 3);
	struct snapshot *s;

	cr_assert_eq(table_set_admin_weight(t, b, 0, "from 127.0.0.1", 1), 1);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
	cr_assert_str_eq(b->reason, "admin weight 0 from 127.0.0.1");
	table_set_admin_weight(t, b, 7, NULL, 2);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->cfg_weight, 3, "the configured weight is kept apart");
	s = table_build_snapshot(t, 0);
	cr_assert_eq(s->pool[0]->be[0].weight, 7);
	snapshot_free(s);
	cr_assert_eq(table_set_admin_weight(t, b, 257, NULL, 3), -EINVAL);
	cr_assert_eq(table_weight(b), 7);
}

Test(backend_table, drain_completes_when_connections_reach_zero)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_apply(t, b, BE_EV_ADMIN_DRAIN, NULL, 100);
	cr_assert_eq(table_note_active(t, b, 2, 150), 0);
	cr_assert_not(b->drained);
	cr_assert_eq(table_note_active(t, b, 0, 400), 1);
	cr_assert(b->drained);
	cr_assert_eq(b->drained_ms - b->drain_start_ms, 300);
	cr_assert_eq(table_note_active(t, b, 0, 500), 0, "once per drain");
	table_apply(t, b, BE_EV_ADMIN_ENABLE, NULL, 600);
	cr_assert_not(b->drained);
}

Test(backend_table, removal_drains_refuses_sessions_and_ends_once_no_connection_is_left)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);
	struct slb_addr a = b->addr;
	uint32_t id = b->id;

	b->hb_allowed = true;
	table_note_active(t, b, 1, 0);
	table_apply(t, b, BE_EV_ADMIN_REMOVE, NULL, 1);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
	cr_assert_eq(b->removing, BE_REMOVAL_API);
	cr_assert_not(table_accepts_session(b));
	cr_assert_not(table_removal_due(t, b, 2));
	table_note_active(t, b, 0, 2);
	cr_assert(table_removal_due(t, b, 2));
	table_remove(t, b, NULL, 2);
	cr_assert_null(table_get(t, id));
	cr_assert_null(table_find(t, &a));
}

/* Settling (hl_backend_settled) is judged by the snapshots published since a state changed:
 * a transition that changes no snapshot must still get one, or a drain or removal waits for
 * ever. */
Test(backend_table, transition_out_of_rotation_is_published_at_the_next_tick)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_take_changes(t);
	table_apply(t, b, BE_EV_ADMIN_DRAIN, NULL, 100);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_URGENT, "out of rotation: at once");
	for (int i = 0; i < 3; i++)
		table_apply(t, b, BE_EV_PROBE_FAIL, "refused", 200);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_LAZY, "draining to down: at the next tick");
	table_apply(t, b, BE_EV_PROBE_FAIL, "refused", 300);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_NONE, "no transition, no snapshot");
}

/* A count taken before every worker saw the drain is shown, but ends no drain. */
Test(backend_table, unsettled_count_is_recorded_but_ends_no_drain)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_apply(t, b, BE_EV_ADMIN_DRAIN, NULL, 100);
	table_count_active(t, b, 3);
	cr_assert_eq(b->active_conns, 3);
	table_count_active(t, b, 0);
	cr_assert_eq(b->active_conns, 0);
	cr_assert_not(b->drained, "only table_note_active judges a drain");
	cr_assert_eq(table_note_active(t, b, 0, 200), 1);
}

Test(backend_table, send_proxy_change_is_published_at_the_next_tick)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_take_changes(t);
	cr_assert_not(table_set_send_proxy(t, b, 0));
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_NONE);
	cr_assert(table_set_send_proxy(t, b, 2));
	cr_assert_eq(b->send_proxy, 2);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_LAZY);
}

/* Reload: the file names a heartbeat address, or an address the API added. */
Test(backend_table, adopted_entry_is_static_and_reports_its_configured_weight)
{
	struct backend *h = do_register("127.0.0.1:9001", "h", &session_a, 0), *a;
	struct slb_addr addr = addr_of("127.0.0.1:9002");

	cr_assert_eq(table_add_admin(t, &addr, 2, NULL, 0, &a), 0);
	table_adopt_static(t, h);
	cr_assert_eq(h->source, BE_SOURCE_STATIC);
	cr_assert(table_configure_static(t, h, h->weight, false, 10), "the weight counts as changed");
	table_adopt_static(t, a);
	cr_assert_not(a->api_added);
	cr_assert_str_eq(be_source_label(a), "static");
	cr_assert_not(table_configure_static(t, a, 2, false, 10), "a static entry keeps its weight");
}

/* One deadline for every cause: --drain-timeout from the start of the removal. */
Test(backend_table, removal_is_due_at_the_drain_timeout_with_connections_open)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_note_active(t, b, 3, 0);
	table_retire(t, b, 100);
	cr_assert_eq(b->removing, BE_REMOVAL_CONFIG);
	cr_assert_not(table_removal_due(t, b, 100 + params.drain_timeout_ms - 1));
	cr_assert(table_removal_due(t, b, 100 + params.drain_timeout_ms));
	table_apply(t, b, BE_EV_ADMIN_REMOVE, "from 127.0.0.1", 200);
	cr_assert_eq(b->removing, BE_REMOVAL_API, "the operator's removal takes over");
	cr_assert(table_removal_due(t, b, 100 + params.drain_timeout_ms), "its deadline runs from the first start");
	cr_assert_not(table_configure_static(t, b, 1, false, 300), "a reload does not undo the operator's removal");
	cr_assert_eq(b->state, BE_STATE_DRAINING);
}

Test(backend_table, removal_is_not_undone_by_enable)
{
	struct backend *b = add_static("127.0.0.1:9001", 1);

	table_retire(t, b, 100);
	table_apply(t, b, BE_EV_ADMIN_ENABLE, NULL, 200);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
	cr_assert_eq(b->removing, BE_REMOVAL_CONFIG);
}

struct seen {
	unsigned n;
	char last[160];
};

static void record(void *arg, const struct backend *b, const char *old, const char *now_state, const char *reason,
		   int64_t now_ms)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%u %s->%s %s", b->id, old, now_state, reason);
}

Test(backend_table, every_change_is_notified_with_old_and_new_state)
{
	struct seen seen = { 0 };
	struct backend *b;

	table_set_notify(t, record, &seen);
	b = do_register("127.0.0.1:9001", "", &session_a, 0);
	cr_assert_str_eq(seen.last, "1 none->up registered");
	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 1);
	cr_assert_str_eq(seen.last, "1 up->down heartbeat connection closed");
	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 2);
	cr_assert_eq(seen.n, 2, "no change, no event");
	table_remove(t, b, "gone", 3);
	cr_assert_str_eq(seen.last, "1 down->none gone");
}

/* A removal is one event whatever its cause, its reason worded from the cause and its end. */
Test(backend_table, every_removal_is_notified_with_its_cause_and_end)
{
	struct backend *a = add_static("127.0.0.1:9001", 1), *b = add_static("127.0.0.1:9002", 1);
	struct seen seen = { 0 };

	table_set_notify(t, record, &seen);
	table_retire(t, a, 10);
	cr_assert_str_eq(seen.last, "1 up->draining removed from the configuration");
	table_note_active(t, a, 0, 20);
	table_remove(t, a, NULL, 20);
	cr_assert_str_eq(seen.last, "1 draining->none removed from the configuration: no connection left");
	table_apply(t, b, BE_EV_ADMIN_REMOVE, "from 127.0.0.1", 30);
	table_note_active(t, b, 2, 40);
	table_remove(t, b, NULL, 30 + params.drain_timeout_ms);
	cr_assert_str_eq(seen.last, "2 draining->none removed by admin: --drain-timeout passed with 2 connections open");
}

/* Issue 20 item 7: a backend added while checks are on is judged before it takes clients. */
Test(backend_table, admin_add_with_a_check_starts_down_and_comes_up_after_rise_probes)
{
	struct table_admin_add a = { .addr = addr_of("127.0.0.1:9001"), .weight = 2, .name = "web9", .checking = true };
	struct seen seen = { 0 };
	struct snapshot *s;
	struct backend *b;

	table_set_notify(t, record, &seen);
	cr_assert_eq(table_add_admin_backend(t, &a, "from 127.0.0.1", 0, &b), 0);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(seen.last, "1 none->down added by admin from 127.0.0.1: checking, up after 2 passed checks");
	cr_assert_str_eq(b->name, "web9", "the event carries the name");
	cr_assert(table_wants_probe(b, false), "probed even without --check");
	s = table_build_snapshot(t, 0);
	cr_assert_eq(s->pool[0]->n, 0);
	snapshot_free(s);
	table_apply(t, b, BE_EV_PROBE_OK, NULL, 100);
	cr_assert_eq(b->state, BE_STATE_DOWN, "one check of two");
	table_apply(t, b, BE_EV_PROBE_OK, NULL, 200);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_str_eq(b->reason, "check passed 2 times");
}

Test(backend_table, admin_add_without_a_check_is_up_at_once_and_its_own_check_decides_probes)
{
	struct table_admin_add a = { .addr = addr_of("127.0.0.1:9001"), .own_check = true, .check = CHECK_NONE };
	struct backend *b;

	cr_assert_eq(table_add_admin_backend(t, &a, NULL, 0, &b), 0);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->weight, 1);
	cr_assert_str_eq(b->reason, "added by admin");
	cr_assert_not(table_wants_probe(b, true), "check none: --check does not apply to it");
	b->check = CHECK_TCP;
	cr_assert(table_wants_probe(b, false), "its own check applies without --check");
}

/* ---- snapshot and ids ---- */

Test(backend_table, snapshot_holds_only_up_entries_in_id_order)
{
	struct backend *a = add_static("127.0.0.1:9001", 2);
	struct backend *down = add_static("127.0.0.1:9002", 1);
	struct backend *drain = do_register("127.0.0.1:9003", "", &session_a, 0);
	struct backend *c = do_register("127.0.0.1:9004", "", &session_b, 0);
	struct snapshot *s;

	apply_n(down, BE_EV_PROBE_FAIL, 3, 1);
	table_apply(t, drain, BE_EV_HB_DRAIN, NULL, 1);
	table_set_load(t, c, 70);
	s = table_build_snapshot(t, 0);
	cr_assert_not_null(s);
	cr_assert_eq(s->pool[0]->n, 2);
	cr_assert_eq(s->pool[0]->be[0].id, a->id);
	cr_assert_eq(s->pool[0]->be[0].weight, 2);
	cr_assert_eq(s->pool[0]->be[1].id, c->id);
	cr_assert_eq(s->pool[0]->be[1].load, 70);
	cr_assert(addr_equal(&s->pool[0]->be[1].addr, &c->addr));
	snapshot_free(s);
}

Test(backend_table, empty_snapshot_is_fine)
{
	struct snapshot *s = table_build_snapshot(t, 0);

	cr_assert_not_null(s);
	cr_assert_eq(s->pool[0]->n, 0);
	snapshot_free(s);
}

Test(backend_table, load_and_weight_changes_ask_for_a_lazy_publish)
{
	struct backend *b = do_register("127.0.0.1:9002", "", &session_a, 0);

	table_take_changes(t);
	table_set_load(t, b, 0);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_NONE, "same load");
	table_set_load(t, b, 50);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_LAZY);
	table_set_load(t, b, -1);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_NONE, "not given");
	table_apply(t, b, BE_EV_HB_UP, NULL, 5);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_NONE, "a heartbeat that changes nothing");
}

Test(backend_table, duplicate_static_address_is_refused)
{
	struct slb_addr a = addr_of("127.0.0.1:9001");
	struct backend *b;

	add_static("127.0.0.1:9001", 1);
	cr_assert_eq(table_add_static(t, &a, 1, 0, &b), -EEXIST);
}

Test(backend_table, ids_are_reused_only_after_removal)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = -1 };
	struct backend *b, *victim = NULL;
	char text[32];

	for (unsigned i = 1; i < snap_id_limit(); i++) {
		snprintf(text, sizeof(text), "127.0.0.%u:%u", 1 + i / 60000, 1 + i % 60000);
		m.addr = addr_of(text);
		cr_assert_eq(table_register(t, &m, &session_a, 0, &b), 0);
		cr_assert_eq(b->id, i, "ids are handed out in order");
		if (i == 500)
			victim = b;
	}
	m.addr = addr_of("127.0.0.2:1");
	cr_assert_eq(table_register(t, &m, &session_a, 0, &b), -ENOSPC);
	table_apply(t, victim, BE_EV_HB_CLOSED, NULL, 0);
	cr_assert_eq(table_register(t, &m, &session_a, 0, &b), -ENOSPC, "closed but not removed yet");
	table_tick(t, 60000);
	cr_assert_eq(table_register(t, &m, &session_a, 60000, &b), -ENOSPC, "removed, its id held until released");
	table_release_id(t, 500);
	cr_assert_eq(table_register(t, &m, &session_a, 60000, &b), 0);
	cr_assert_eq(b->id, 500);
}

Test(backend_table, freed_ids_are_reused_as_late_as_possible)
{
	struct backend *a = do_register("127.0.0.1:9001", "", &session_a, 0);
	struct backend *b;

	table_apply(t, a, BE_EV_HB_CLOSED, NULL, 0);
	table_tick(t, 60000);
	table_release_id(t, 1);
	b = do_register("127.0.0.1:9002", "", &session_b, 60000);
	cr_assert_eq(b->id, 2, "id 1 is free but the next id comes first");
}

/* ---- logging ---- */

/* Runs fn with stderr captured (log.c writes fd 2 directly) and returns what it printed. */
static void capture_log(void (*fn)(void), char *out, size_t len)
{
	int fds[2], saved = dup(2);
	ssize_t n;

	cr_assert(pipe(fds) == 0 && saved >= 0);
	dup2(fds[1], 2);
	fn();
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static void close_twice(void)
{
	struct backend *b = do_register("127.0.0.1:9001", "web1", &session_a, 0);

	atomic_store(&log_threshold, LOG_INFO);
	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 10);
	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 20);
	table_tick(t, 30);
}

Test(backend_table, each_transition_is_logged_once_with_its_reason)
{
	char out[4096];
	const char *line = "backend 127.0.0.1:9001 (web1) down: heartbeat connection closed";

	capture_log(close_twice, out, sizeof(out));
	cr_assert_not_null(strstr(out, line), "log was: %s", out);
	cr_assert_null(strstr(strstr(out, line) + 1, line), "logged twice: %s", out);
}

/* ---- leases: a binary upgrade hands heartbeat backends over ---- */

static struct backend *take_lease(const char *text, enum hb_state st, int64_t now)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = 20, .weight = 3, .has_state = true, .state = st };
	struct backend *b;

	m.addr = addr_of(text);
	snprintf(m.name, sizeof(m.name), "web7");
	cr_assert_eq(table_take_lease(t, &m, now, &b), 0);
	return b;
}

Test(backend_table, lease_is_up_without_a_session)
{
	struct backend *b = take_lease("127.0.0.1:9007", HB_STATE_UP, 100);

	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->source, BE_SOURCE_HEARTBEAT);
	cr_assert_null(b->session);
	cr_assert(b->leased);
	cr_assert_eq(b->weight, 3);
	cr_assert_eq(b->load, 20);
	cr_assert_str_eq(b->reason, "lease from the previous process");
	cr_assert_eq(table_take_changes(t) & TABLE_CHANGE_URGENT, TABLE_CHANGE_URGENT, "joins rotation at once");
	cr_assert_not(table_wants_probe(b, true), "a lease waits for REGISTER, not probes");
}

Test(backend_table, drain_lease_stays_draining)
{
	struct backend *b = take_lease("127.0.0.1:9007", HB_STATE_DRAIN, 100);

	cr_assert_eq(b->state, BE_STATE_DRAINING);
}

Test(backend_table, down_is_no_lease)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = -1, .has_state = true, .state = HB_STATE_DOWN };
	struct backend *b;

	m.addr = addr_of("127.0.0.1:9007");
	cr_assert_eq(table_take_lease(t, &m, 100, &b), -EINVAL);
	cr_assert_eq(table_count(t), 0);
}

Test(backend_table, lease_expires_after_the_heartbeat_timeout)
{
	struct backend *b = take_lease("127.0.0.1:9007", HB_STATE_UP, 1000);

	cr_assert_eq(table_tick(t, 3999), 0);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(table_tick(t, 4000), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_not(b->leased);
	cr_assert_str_eq(b->reason, "lease from the previous process expired");
	cr_assert_eq(table_tick(t, 5000), 0, "expires once");
	table_tick(t, 4000 + 60000);
	cr_assert_eq(table_count(t), 0, "then it is forgotten like a closed session");
}

Test(backend_table, register_takes_the_lease_back_with_the_same_id)
{
	struct backend *b = take_lease("127.0.0.1:9007", HB_STATE_UP, 1000);
	uint32_t id = b->id;
	struct backend *again = do_register("127.0.0.1:9007", "web7", &session_a, 2000);

	cr_assert_eq(again, b);
	cr_assert_eq(again->id, id);
	cr_assert_eq(again->session, &session_a);
	cr_assert_not(again->leased);
	cr_assert_eq(again->state, BE_STATE_UP);
	cr_assert_eq(table_tick(t, 4500), 0, "the session's heartbeats count now, not the lease");
	cr_assert_eq(table_apply(t, again, BE_EV_HB_CLOSED, NULL, 4600), 1);
	cr_assert_eq(again->state, BE_STATE_DOWN, "a closed session ends it as usual");
}

Test(backend_table, handing_a_session_over_keeps_the_state)
{
	struct backend *b = do_register("127.0.0.1:9007", "web7", &session_a, 1000);

	table_take_changes(t);
	cr_assert_eq(table_apply(t, b, BE_EV_LEASE, "handed over", 1500), 0);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_null(b->session);
	cr_assert_eq(table_take_changes(t), TABLE_CHANGE_NONE, "nothing to publish");
	cr_assert_eq(table_tick(t, 4500), 1, "the old process holds it for one heartbeat timeout");
	cr_assert_eq(b->state, BE_STATE_DOWN);
}

Test(backend_table, static_backend_takes_no_lease)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = -1 };
	struct backend *b;

	add_static("127.0.0.1:9007", 1);
	m.addr = addr_of("127.0.0.1:9007");
	cr_assert_eq(table_take_lease(t, &m, 100, &b), -EPERM);
}

Test(backend_table, names_of_enums)
{
	cr_assert_str_eq(be_state_name(BE_STATE_DRAINING), "draining");
	cr_assert_str_eq(be_state_name(BE_STATE_UP), "up");
	cr_assert_str_eq(be_state_name(BE_STATE_ADMIN_DOWN), "admin_down");
	cr_assert_str_eq(be_source_name(BE_SOURCE_HEARTBEAT), "heartbeat");
	cr_assert_str_eq(be_event_name(BE_EV_HB_TIMEOUT), "heartbeat timeout");
	cr_assert_str_eq(be_event_name(BE_EV_LEASE_EXPIRED), "lease expired");
}

/* ---- slow start ---- */

static void use_slow_start(unsigned ms, uint32_t maglev_len)
{
	struct table_params p = params;

	p.svc[0].slow_start_ms = ms;
	p.svc[0].maglev_len = maglev_len;
	table_destroy(t);
	t = table_create(&p);
	cr_assert_not_null(t);
}

/* ---- services: one pool each ---- */

/* Issue 21: a snapshot holds one pool per service, each with only its service's up backends;
 * a backend moved to another service moves pool; ids stay global. */
Test(backend_table, snapshot_has_one_pool_per_service)
{
	struct table_params p = params;
	struct backend *a, *b, *c;
	struct snapshot *s;

	p.n_services = 3;
	p.svc[2] = p.svc[0];
	table_destroy(t);
	t = table_create(&p);
	cr_assert_not_null(t);
	a = add_static("127.0.0.1:9001", 1);
	b = add_static("127.0.0.1:9002", 1);
	c = add_static("127.0.0.1:9003", 1);
	cr_assert(table_set_service(t, b, 2));
	cr_assert(table_set_service(t, c, 2));
	cr_assert_not(table_set_service(t, c, 3), "no service 3");
	cr_assert_eq(table_take_changes(t) & TABLE_CHANGE_URGENT, TABLE_CHANGE_URGENT);
	s = table_build_snapshot(t, 0);
	cr_assert_not_null(s);
	cr_assert_eq(s->n_pools, 3);
	cr_assert_eq(s->pool[0]->n, 1);
	cr_assert_eq(s->pool[0]->be[0].id, a->id);
	cr_assert_eq(s->pool[1]->n, 0, "a service without backends has an empty pool");
	cr_assert_eq(s->pool[2]->n, 2);
	cr_assert_eq(s->pool[2]->be[0].id, b->id);
	cr_assert_eq(s->pool[2]->be[1].id, c->id);
	cr_assert_eq(s->pool[2]->rr_len, 2);
	snapshot_free(s);
	table_set_service(t, c, 0);
	s = table_build_snapshot(t, 0);
	cr_assert_eq(s->pool[0]->n, 2);
	cr_assert_eq(s->pool[2]->n, 1);
	snapshot_free(s);
}

Test(backend_table, slow_start_ramps_a_new_registration_linearly)
{
	struct backend *b;

	use_slow_start(1000, 0);
	b = do_register("127.0.0.1:9002", "", &session_a, 5000);
	b->weight = 4;
	cr_assert_eq(table_effective_weight(t, b, 5000), 40, "10%% of weight 4 at the start");
	cr_assert_eq(table_effective_weight(t, b, 5500), 220, "55%% half way");
	cr_assert_eq(table_effective_weight(t, b, 5999), 399);
	cr_assert_eq(table_effective_weight(t, b, 6000), 400, "all of it at the end");
	cr_assert_eq(table_effective_weight(t, b, 90000), 400);
}

Test(backend_table, slow_start_skips_static_backends_at_start_and_returns_from_drain)
{
	struct backend *s, *d;

	use_slow_start(1000, 0);
	s = add_static("127.0.0.1:9001", 1);
	cr_assert_eq(table_effective_weight(t, s, 0), 100, "present from the start: not cold");
	d = do_register("127.0.0.1:9002", "", &session_a, 0);
	table_apply(t, d, BE_EV_HB_DRAIN, NULL, 5000);
	table_apply(t, d, BE_EV_HB_UP, NULL, 5001);
	cr_assert_eq(table_effective_weight(t, d, 5001), 100, "back from draining: still warm");
}

Test(backend_table, slow_start_ramps_again_after_recovery_from_down)
{
	struct backend *b;

	use_slow_start(2000, 0);
	b = add_static("127.0.0.1:9001", 1);
	apply_n(b, BE_EV_PROBE_FAIL, 3, 100);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	apply_n(b, BE_EV_PROBE_OK, 2, 10000);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(table_effective_weight(t, b, 10000), 10);
	cr_assert_eq(table_effective_weight(t, b, 11000), 55);
}

Test(backend_table, slow_start_asks_for_snapshots_until_the_ramp_ends)
{
	struct snapshot *s;

	use_slow_start(250, 0);
	add_static("127.0.0.1:9001", 1);
	cr_assert_eq(table_next_ramp_ms(t, 0, 100), -1, "nothing ramps");
	do_register("127.0.0.1:9002", "", &session_a, 1000);
	cr_assert_eq(table_next_ramp_ms(t, 1000, 100), 1100);
	cr_assert_eq(table_next_ramp_ms(t, 1200, 100), 1250, "the last step lands on the ramp's end");
	cr_assert_eq(table_next_ramp_ms(t, 1250, 100), -1, "done");
	s = table_build_snapshot(t, 1000);
	cr_assert_not_null(s);
	cr_assert_eq(s->pool[0]->n, 2);
	cr_assert_eq(s->pool[0]->be[0].eff_weight, 100);
	cr_assert_eq(s->pool[0]->be[1].eff_weight, 10);
	cr_assert_eq(s->pool[0]->maglev_len, 0, "no table unless maglev");
	snapshot_free(s);
}

Test(backend_table, maglev_snapshots_carry_a_full_table)
{
	struct snapshot *s;

	use_slow_start(0, 251);
	add_static("127.0.0.1:9001", 1);
	add_static("127.0.0.1:9002", 3);
	s = table_build_snapshot(t, 0);
	cr_assert_not_null(s);
	cr_assert_eq(s->pool[0]->maglev_len, 251);
	for (uint32_t i = 0; i < s->pool[0]->maglev_len; i++)
		cr_assert_lt(s->pool[0]->maglev[i], s->pool[0]->n, "entry %u unfilled or out of range", i);
	snapshot_free(s);
}

/* Reload: a static backend the file dropped drains (out of every snapshot) until removed. */
Test(backend_table, retired_backend_drains_and_leaves_the_snapshot)
{
	struct backend *a = add_static("127.0.0.1:8001", 1);
	struct snapshot *s;

	add_static("127.0.0.1:8002", 1);
	cr_assert_eq(table_retire(t, a, 10), 1);
	cr_assert_eq(a->state, BE_STATE_DRAINING);
	cr_assert_str_eq(a->reason, "removed from the configuration");
	cr_assert_eq(a->removing, BE_REMOVAL_CONFIG);
	s = table_build_snapshot(t, 10);
	cr_assert_eq(s->pool[0]->n, 1, "a retiring backend is never picked");
	snapshot_free(s);
	cr_assert_eq(table_retire(t, a, 20), 0, "retiring twice is one transition");
}

Test(backend_table, retired_backend_that_fails_shows_down_not_draining)
{
	struct backend *a = add_static("127.0.0.1:8001", 1);

	table_retire(t, a, 10);
	for (int i = 0; i < 3; i++)
		table_apply(t, a, BE_EV_PROBE_FAIL, "refused", 20);
	cr_assert_eq(a->state, BE_STATE_DOWN);
}

Test(backend_table, back_in_the_file_restores_and_takes_the_new_weight)
{
	struct backend *a = add_static("127.0.0.1:8001", 1);

	table_retire(t, a, 10);
	cr_assert(table_configure_static(t, a, 4, false, 20));
	cr_assert_eq(a->state, BE_STATE_UP);
	cr_assert_eq(a->weight, 4);
	cr_assert_eq(a->cfg_weight, 4);
	cr_assert_eq(a->removing, BE_REMOVAL_NONE);
	cr_assert_not(table_configure_static(t, a, 4, false, 30), "nothing changed");
}

Test(backend_table, reweight_waits_while_an_allowed_session_sets_the_weight)
{
	struct backend *a = add_static("127.0.0.1:8001", 1);

	a->hb_allowed = true;
	a = do_register("127.0.0.1:8001", "a", &session_a, 10);
	a->weight = 7; /* what the session said */
	cr_assert(table_configure_static(t, a, 3, true, 20));
	cr_assert_eq(a->weight, 7, "the live session's weight stands");
	cr_assert_eq(a->cfg_weight, 3, "and the file's comes back when it ends");
}

Test(backend_table, removed_with_open_connections_reserves_its_id)
{
	struct backend *a = add_static("127.0.0.1:8001", 1), *b;
	uint32_t id = a->id;

	table_retire(t, a, 10);
	table_note_active(t, a, 2, 20);
	table_remove(t, a, NULL, 30 + params.drain_timeout_ms);
	cr_assert_null(table_get(t, id));
	cr_assert(table_id_reserved(t, id));
	for (int i = 0; i < (int)snap_id_limit() - 2; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.%d.%d.1:80", i / 250, i % 250);
		b = add_static(text, 1);
		cr_assert_neq(b->id, id, "a reserved id is never handed out");
	}
	table_release_id(t, id);
	cr_assert_not(table_id_reserved(t, id));
	b = add_static("10.250.0.1:80", 1);
	cr_assert_eq(b->id, id, "released, it is the one free id");
}

/* No connection counted is not enough: a worker may still pick the backend from a snapshot it
 * read before the removal. The id waits for the caller (a snapshot of the removal's seq
 * published, every worker past a quiescent point), and that snapshot is due. */
Test(backend_table, removed_drained_backend_reserves_its_id_until_released)
{
	struct backend *a = add_static("127.0.0.1:8001", 1);
	uint32_t id = a->id;
	uint64_t seq;

	table_retire(t, a, 10);
	table_take_changes(t);
	table_note_active(t, a, 0, 20);
	table_remove(t, a, NULL, 20);
	seq = table_id_reserved_seq(t, id);
	cr_assert(table_id_reserved(t, id));
	cr_assert_eq(seq, table_seq(t), "the removal is the latest change");
	cr_assert_neq(table_take_changes(t), TABLE_CHANGE_NONE, "a snapshot is due, or the id would wait forever");
	cr_assert_eq(table_count(t), 0);
	table_release_id(t, id);
	cr_assert_eq(table_id_reserved_seq(t, id), 0);
}

/* ---- names ---- */

Test(backend_table, a_name_finds_its_backend_and_a_shared_one_is_counted)
{
	struct slb_addr a = addr_of("10.0.0.1:80");
	struct backend *web1, *b;
	unsigned n;

	cr_assert_eq(table_add_static_named(t, &a, 1, "web1", 0, &web1), 0);
	add_static("10.0.0.2:80", 1);
	cr_assert_eq(table_find_name(t, "web1", &n), web1);
	cr_assert_eq(n, 1);
	cr_assert_null(table_find_name(t, "web2", &n));
	cr_assert_eq(n, 0);
	cr_assert_null(table_find_name(t, "", &n), "an empty name names no backend");
	cr_assert_eq(n, 0);
	b = do_register("10.0.0.3:80", "web1", &session_a, 0);
	cr_assert_eq(table_find_name(t, "web1", &n), web1, "the lowest id");
	cr_assert_eq(n, 2);
	table_remove(t, b, "gone", 0);
	cr_assert_eq(table_find_name(t, "web1", &n), web1);
	cr_assert_eq(n, 1);
}

/* A static backend with heartbeat=allow keeps the name the operator gave it: the operator
 * drains it by that name, whatever its process calls itself. */
Test(backend_table, a_configured_name_outlives_a_heartbeat_name)
{
	struct slb_addr a = addr_of("10.0.0.1:80");
	struct backend *b;

	cr_assert_eq(table_add_static_named(t, &a, 1, "web1", 0, &b), 0);
	table_configure_static(t, b, 1, true, 0);
	cr_assert_eq(do_register("10.0.0.1:80", "agent-name", &session_a, 0), b);
	cr_assert_str_eq(b->name, "web1");
	cr_assert(table_set_cfg_name(b, "web9"), "a renamed backend is a change");
	cr_assert_str_eq(b->name, "web9");
	cr_assert_not(table_set_cfg_name(b, "web9"));
	cr_assert(table_set_cfg_name(b, ""));
	cr_assert_str_eq(b->name, "");
	cr_assert_eq(do_register("10.0.0.1:80", "agent-name", &session_a, 0), b);
	cr_assert_str_eq(b->name, "agent-name", "without a configured name the heartbeat's shows");
	cr_assert_not(table_set_cfg_name(b, ""), "the file does not clear a name it never gave");
	cr_assert_str_eq(b->name, "agent-name");
}

Test(backend_table, the_snapshot_carries_the_name)
{
	struct slb_addr a = addr_of("10.0.0.1:80");
	struct backend *b;
	struct snapshot *s;

	cr_assert_eq(table_add_static_named(t, &a, 1, "web1", 0, &b), 0);
	s = table_build_snapshot(t, 0);
	cr_assert_not_null(s);
	cr_assert_eq(s->pool[0]->n, 1);
	cr_assert_str_eq(s->pool[0]->be[0].name, "web1");
	snapshot_free(s);
}

/* A session closed while its backend stays (a newer session takes it over): detaching it is
 * no event, so the backend keeps its state and no one is told. */
Test(backend_table, detaching_a_session_keeps_the_backend_as_it_was)
{
	int session;
	struct backend *b = do_register("10.0.0.7:80", "web7", &session, 0);
	uint64_t seq = b->state_seq;

	cr_assert_eq(table_detach_session(b), &session);
	cr_assert_null(b->session);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->state_seq, seq, "a detach is no transition");
	cr_assert_null(table_detach_session(b), "nothing left to detach");
}
