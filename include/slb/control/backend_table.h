/* backend_table: every backend slb knows (static from flags, or registered by heartbeat), its
 * state and why, owned by the health thread alone; a pure state machine with no sockets and
 * no clock of its own (callers pass now_ms), so it is unit-tested event by event. This header
 * is the one door into it, kept by three files: backend_table.c (the state machine),
 * backend_registry.c (entries, ids, leases, the removal) and backend_view.c (the snapshot,
 * with slow start). */
#ifndef SLB_BACKEND_TABLE_H
#define SLB_BACKEND_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "slb/common/addr.h"
#include "slb/common/config.h"
#include "slb/common/snapshot.h"
#include "slb/common/heartbeat.h"

#define TABLE_REASON_MAX 96

enum be_source {
	BE_SOURCE_STATIC = 0, /* from --backend: never removed */
	BE_SOURCE_HEARTBEAT,  /* from REGISTER: removed some time after its session closed */
	BE_SOURCE_LEGACY,     /* from a "heartbeat:<port>" line: as HEARTBEAT, with its own timeout */
};

enum be_state {
	BE_STATE_DOWN = 0,
	BE_STATE_UP,       /* the only state that is in the snapshot */
	BE_STATE_DRAINING, /* out of rotation at the backend's or the operator's request; open
			    * connections go on */
	BE_STATE_ADMIN_DOWN, /* disabled by the operator: down whatever health says, until enabled */
};

/* Why a backend is being removed. There is one removal, whatever its cause: the backend
 * drains, leaves the table (table_remove) once no connection is left or --drain-timeout
 * passed, with one event, and its id stays reserved until no worker can use it any more. */
enum be_removal {
	BE_REMOVAL_NONE = 0,
	BE_REMOVAL_CONFIG, /* a reload dropped the static backend (BE_EV_RETIRE; BE_EV_RESTORE undoes it) */
	BE_REMOVAL_API,    /* the operator (BE_EV_ADMIN_REMOVE); never undone */
	BE_REMOVAL_DNS,    /* the address left its host name's answer (BE_EV_DNS_GONE; BE_EV_RESTORE undoes it) */
};

enum be_event {
	BE_EV_NONE = 0,
	BE_EV_HB_UP,        /* REGISTER, or HEARTBEAT with state=up (or the last state kept) */
	BE_EV_HB_DRAIN,     /* state=drain */
	BE_EV_HB_DOWN,      /* state=down */
	BE_EV_HB_BYE,       /* BYE: leave rotation now */
	BE_EV_HB_CLOSED,    /* the session closed: the process is gone */
	BE_EV_HB_TIMEOUT,   /* heartbeat_timeout_ms without a message (session still open) */
	BE_EV_PROBE_OK,
	BE_EV_PROBE_FAIL,
	BE_EV_CONNECT_FAIL, /* a worker's connect failed */
	BE_EV_CONNECT_OK,   /* a worker's connect succeeded */
	BE_EV_LOOP,         /* a worker's connect came back to slb's own listener */
	BE_EV_RETIRE,       /* a static backend left the configuration (reload): removal begins */
	BE_EV_RESTORE,      /* a static backend the configuration or DNS removes is in it again */
	BE_EV_LEASE,        /* binary upgrade: the session is detached, the state held as a lease */
	BE_EV_LEASE_EXPIRED, /* heartbeat_timeout_ms passed without the backend registering again */
	BE_EV_ADMIN_DISABLE, /* the operator: down until enabled */
	BE_EV_ADMIN_ENABLE,  /* the operator: ends a disable, a drain and a weight of 0 */
	BE_EV_ADMIN_DRAIN,   /* the operator: out of rotation, open connections go on */
	BE_EV_ADMIN_REMOVE,  /* the operator: removal begins (or an earlier one becomes the operator's) */
	BE_EV_OUTLIER,      /* health judged it an outlier (detail: its figures): ejected for a time */
	BE_EV_OUTLIER_END,  /* its ejection time is over (table_tick) */
	BE_EV_OUTLIER_CLEAR, /* the operator cleared the ejection and its history (table_clear_outlier) */
	BE_EV_DNS_GONE,     /* a resolved address left its host name's answer: removal begins */
};

/* One backend. The inputs (session, reported, timed_out, probe_up, the operator's
 * admin_down, admin_drain, admin_weight, and removing) are set by events; state is always derived
 * from them by one function (truth table in backend_table.c). The operator's inputs are kept
 * apart from the configured ones (cfg_weight, the --backend line) so that a reload can change
 * the configuration without erasing what the operator set at run time. */
struct backend {
	uint32_t id;                 /* 1..snap_id_limit()-1; 0 marks a free slot */
	uint64_t state_seq;          /* table_seq() when the state last changed */
	struct slb_addr addr;
	char name[HB_NAME_MAX];      /* "" when none was given */
	char origin[CONFIG_HOST_MAX]; /* the --backend host name it was resolved from; "": given as an address */
	bool cfg_name;               /* name from --backend ...,name=: a heartbeat's name does not replace it */
	enum be_source source;
	unsigned weight;             /* 1..256 */
	unsigned cfg_weight;         /* static: the operator's weight, restored when a session ends */
	bool hb_allowed;             /* static: heartbeat=allow, a session may attach (off by default) */
	unsigned load;               /* 0..100 as last reported, 0 when never */
	uint8_t send_proxy;          /* enum proxy_version from --backend ...,send-proxy=; 0: its service's */
	bool backup;                 /* --backend ...,backup or REGISTER role=backup: in the snapshot
	                              * only while no other backend of its service is up */
	unsigned service;            /* index of its service (config's services[], the snapshot's pool[]) */
	enum be_state state;
	bool fresh;                  /* just registered: the first event sets reason and logs */
	char reason[TABLE_REASON_MAX]; /* why the last transition (or the entry) happened */
	int64_t changed_ms;          /* time of the last transition */

	void *session;               /* the health thread's live heartbeat session, or NULL */
	bool leased;                 /* no session, but the reported state holds (binary upgrade) until
	                              * the backend registers again or heartbeat_timeout_ms passes */
	enum hb_state reported;      /* last state the backend reported */
	bool timed_out;              /* session open but silent past the timeout */
	int64_t last_hb_ms;          /* last REGISTER/HEARTBEAT, or -1 when never */
	int64_t closed_ms;           /* when the session closed (heartbeat entries expire from it) */

	bool probe_up;               /* the probes' verdict: false after fall failures or an ejection */
	unsigned rise_count;         /* consecutive passed probes while !probe_up */
	unsigned fall_count;         /* consecutive failed probes while probe_up */
	unsigned connect_failures;   /* consecutive failed worker connects */
	int64_t ramp_start_ms;       /* came up from down here: slow start runs from it; -1: never */

	bool admin_down;             /* disabled by hand: state admin_down until enabled */
	bool admin_drain;            /* drained by hand: draining while health says up */
	int admin_weight;            /* -1: none; 0..256 set by hand (0 drains); wins over weight */
	enum be_removal removing;    /* being removed, and why (BE_REMOVAL_NONE: not): draining */
	int64_t removing_ms;         /* when the removal began: --drain-timeout runs from it */
	bool api_added;              /* added at run time by the admin API (source shown "admin") */
	enum check_kind check;       /* with own_check: this backend's probe, else --check's */
	bool own_check;
	char check_path[CONFIG_PATH_MAX]; /* own_check and CHECK_HTTP: the path */

	uint64_t active_conns;       /* over all workers, as health last summed them */
	bool drained;                /* draining and active_conns reached 0 since it began */
	int64_t drain_start_ms;      /* when it last began draining */
	int64_t drained_ms;          /* when drained became true */

	int64_t ejected_until_ms;    /* outlier: down until then; 0 when not ejected */
	int64_t outlier_back_ms;     /* when its last ejection ended (doubling window); 0: never ejected */
	unsigned outlier_count;      /* ejections in a row, each within an hour of the last one's end */
};

/* Called on every change worth an event: a state transition, a drain that completed, a
 * backend added or removed. old and new are state names, or "none" for an entry that did
 * not exist before / does not any more; reason is the logged reason. b stays valid during
 * the call only. */
typedef void (*table_notify_fn)(void *arg, const struct backend *b, const char *old_state, const char *new_state,
				const char *reason, int64_t now_ms);

/* What each service decides for its own backends. */
struct table_service_params {
	unsigned rise;              /* passed probes that bring a backend back */
	unsigned fall;              /* failed probes that take it down */
	unsigned eject_failures;    /* consecutive worker connect failures that eject; 0: never */
	unsigned slow_start_ms;     /* ramp of a backend that comes up; 0: off */
	uint32_t maglev_len;        /* its pool carries a Maglev table this long, keyed by hash_key; 0: none */
	unsigned char hash_key[CONFIG_HASH_KEY_BYTES];
};

struct table_params {
	unsigned n_services;        /* pools per snapshot; 0 counts as 1 */
	struct table_service_params svc[SNAP_MAX_POOLS]; /* by service index (backend.service) */
	unsigned heartbeat_timeout_ms;
	unsigned legacy_timeout_ms;  /* heartbeat_timeout_ms for BE_SOURCE_LEGACY entries */
	unsigned expire_ms;         /* a closed heartbeat entry is removed after this */
	unsigned outlier_base_ejection_ms; /* first outlier ejection; doubled per repeat (gray.h) */
	unsigned drain_timeout_ms;  /* a removal ends this long after it began, connections or not */
};

/* What changed since the last table_take_changes. */
enum table_change {
	TABLE_CHANGE_NONE = 0,
	TABLE_CHANGE_LAZY = 1,   /* a weight or load changed, or a state out of rotation: publish at the next tick */
	TABLE_CHANGE_URGENT = 2, /* a backend left or joined rotation: publish before sleeping again */
	TABLE_CHANGE_NOW = 4,    /* an operator's change (admin API, reload, DNS answer), whose answer
				  * says it is done: published this turn, past the publish budget */
};

struct backend_table;

/* Returns an empty table with room for ids 1..snap_id_limit()-1, or NULL on ENOMEM. Freed
 * with table_destroy (which accepts NULL). */
struct backend_table *table_create(const struct table_params *p);
void table_destroy(struct backend_table *t);

/* Sets the function told of every change (NULL: nobody). */
void table_set_notify(struct backend_table *t, table_notify_fn fn, void *arg);

/* Adds a static backend, up from the start (trusted until checks or workers say otherwise).
 * Returns 0 and the entry in *out, -EEXIST for an address already in the table, or -ENOSPC. */
int table_add_static(struct backend_table *t, const struct slb_addr *addr, unsigned weight, int64_t now_ms,
		     struct backend **out);

/* table_add_static with the configured name (--backend ...,name=; "" for none), which the
 * add's event carries. */
int table_add_static_named(struct backend_table *t, const struct slb_addr *addr, unsigned weight, const char *name,
			   int64_t now_ms, struct backend **out);

/* Adds a static backend that host name origin resolved to (table_add_static otherwise): up
 * from the start, its reason and the add's event naming origin. Returns as table_add_static. */
int table_add_resolved(struct backend_table *t, const struct slb_addr *addr, unsigned weight, const char *origin,
		       int64_t now_ms, struct backend **out);

/* Sets the configured name of a static backend ("": none; on reload). "" leaves a name that a
 * heartbeat or the admin API gave alone. Uniqueness is the configuration's
 * (config_backend_named). Returns true when it changed. */
bool table_set_cfg_name(struct backend *b, const char *name);

/* Applies the configured weight and heartbeat=allow of a static backend (on reload), and
 * takes it back into the configuration if a reload was removing it (BE_REMOVAL_CONFIG; an
 * operator's removal stands). The live weight follows at once unless a heartbeat session set
 * its own. Returns true when anything changed. */
bool table_configure_static(struct backend_table *t, struct backend *b, unsigned weight, bool hb_allowed,
			    int64_t now_ms);

/* A static backend left the configuration: its removal begins (BE_REMOVAL_CONFIG), unless
 * one is under way already. Returns 1 when its state changed, 0 otherwise. */
int table_retire(struct backend_table *t, struct backend *b, int64_t now_ms);

/* Makes an id that table_remove reserved available again. The caller releases it once no
 * worker can use it: every worker has passed a quiescent point since a snapshot of
 * table_id_reserved_seq was published, and no connection counts under the id. Does nothing
 * for an id that is not reserved. */
void table_release_id(struct backend_table *t, uint32_t id);

/* True when id was reserved by table_remove and not released yet. */
bool table_id_reserved(const struct backend_table *t, uint32_t id);

/* The table_seq() of the removal that reserved id (a snapshot built at or after it no longer
 * has the backend), or 0 when id is not reserved. */
uint64_t table_id_reserved_seq(const struct backend_table *t, uint32_t id);

/* Sets b's PROXY protocol version (enum proxy_version; 0: --send-proxy's), which workers read
 * from the next snapshot on (published at the next tick). Returns true when it changed. */
bool table_set_send_proxy(struct backend_table *t, struct backend *b, uint8_t version);

/* Makes b a backup of its service (or a primary again): the next snapshot (published before
 * the health thread sleeps again) has a service's backups only while none of its primaries is
 * up, and then only them. Returns true when it changed. */
bool table_set_backup(struct backend_table *t, struct backend *b, bool backup);

/* Puts b in service svc (< the table's n_services, else ignored): its probes, ejection and
 * ramp follow that service's parameters, and the next snapshot has it in that service's
 * pool (published before the health thread sleeps again). Returns true when it changed. */
bool table_set_service(struct backend_table *t, struct backend *b, unsigned svc);

/* The configuration names b (on reload): it becomes a static backend and the file's, no
 * longer one the admin API added (a reload that drops it again removes it). An entry that was
 * not static gets no configured weight, so that table_configure_static, which the caller runs
 * next, reports its weight as changed. Applies no state: the caller follows with table_apply. */
void table_adopt_static(struct backend_table *t, struct backend *b);

/* Publish before the health thread sleeps again, whatever changed: for the runtime API, whose
 * answer tells the operator the change is in effect. */
void table_mark_urgent(struct backend_table *t);

/* Counts state changes: a backend's state_seq <= the value read when a snapshot was built
 * means that snapshot has the backend's current state. */
uint64_t table_seq(const struct backend_table *t);

/* Replaces the rise/fall/eject/heartbeat-timeout parameters (on reload). */
void table_set_params(struct backend_table *t, const struct table_params *p);

/* A backend the operator adds at run time (POST /backends). */
struct table_admin_add {
	struct slb_addr addr;
	unsigned weight;                  /* 1..256 (0 is taken as 1) */
	char name[HB_NAME_MAX];           /* "" when none was given */
	bool own_check;                   /* check and check_path are its own; else --check's apply */
	enum check_kind check;
	char check_path[CONFIG_PATH_MAX]; /* own_check and CHECK_HTTP: the path */
	bool checking;                    /* an active check will judge it: it starts down */
	unsigned service;                 /* its service (0: default; one the table lacks counts as 0) */
};

/* Adds a backend at the operator's request: a static entry marked api_added, its reason
 * "added by admin <detail>". With a->checking it starts down, "checking", with its probe
 * verdict down, so that probes run for it and it comes up only after `rise` of them passed
 * (as HAProxy brings up a server added at run time while checks are on); nothing is routed to
 * an address nobody answers at. Without, it is up from the start, like a --backend. Returns as
 * table_add_static. */
int table_add_admin_backend(struct backend_table *t, const struct table_admin_add *a, const char *detail,
			    int64_t now_ms, struct backend **out);

/* table_add_admin_backend of addr with that weight, no name, --check's check, up from the
 * start. */
int table_add_admin(struct backend_table *t, const struct slb_addr *addr, unsigned weight, const char *detail,
		    int64_t now_ms, struct backend **out);

/* Whether a heartbeat session may attach to b (NULL: a new address, always). A static backend
 * belongs to the operator: only one given with heartbeat=allow (b->hb_allowed) takes one. */
bool table_accepts_session(const struct backend *b);

/* Detaches b's live heartbeat session without an event: the session is being closed for
 * another reason than the backend going away (a newer session takes b over, or an upgrade
 * holds b as a lease), so b keeps its state. Returns the session that was attached (NULL when
 * none); the caller closes it. */
void *table_detach_session(struct backend *b);

/* Attaches session to the backend at m->addr, creating a heartbeat entry (new id) or reusing
 * the one with that address (same id; a static entry stays static but follows heartbeats while
 * the session lives, and gets its flags' weight and state back when the session ends). Takes
 * weight, name and load from m when given (a static entry's own weight otherwise). Resets the
 * timeout, the probe verdict and the failure counts: a new registration is a new process. The
 * caller must have detached any other live session first (e->session == NULL or session).
 * Does not apply the state: the caller follows with table_apply(BE_EV_HB_*).
 * Returns 0 and *out, -EPERM for a static entry that takes no session (table_accepts_session),
 * or -ENOSPC when every id is taken. */
int table_register(struct backend_table *t, const struct hb_msg *m, void *session, int64_t now_ms,
		   struct backend **out);

/* A heartbeat backend handed over by the slb that ran before (binary upgrade): registers m (as
 * table_register, without a session) and holds m's state (up or drain) as a lease, from now_ms
 * until the backend registers again (its session then attaches as usual) or
 * heartbeat_timeout_ms passes (then down: "lease from the previous process expired").
 * Returns 0 and *out, -EPERM for a static entry that takes no session, -EINVAL for a state
 * other than up or drain, or -ENOSPC. */
int table_take_lease(struct backend_table *t, const struct hb_msg *m, int64_t now_ms, struct backend **out);

/* Applies one event to b at now_ms. detail (may be NULL) is a short fixed text, such as why a
 * probe failed, folded into the logged reason. Logs a transition once, with its reason.
 * Returns 1 when b->state changed, 0 otherwise. */
int table_apply(struct backend_table *t, struct backend *b, enum be_event ev, const char *detail, int64_t now_ms);

/* The operator's weight: 1..256 replaces the configured or reported weight until
 * table_clear_admin_weight or a new call; 0 drains (like BE_EV_ADMIN_DRAIN, ended by
 * BE_EV_ADMIN_ENABLE). detail says who asked ("from 127.0.0.1"). Returns 1 when the state
 * changed, 0 otherwise; -EINVAL for a weight over 256 (nothing changed). */
int table_set_admin_weight(struct backend_table *t, struct backend *b, unsigned weight, const char *detail,
			   int64_t now_ms);

/* The weight the pickers use: the operator's when set and non-zero, else b->weight. */
unsigned table_weight(const struct backend *b);

/* Records the connections open to b over all workers. A draining backend that reaches 0 is
 * marked drained (with the time, logged and notified once per drain). Returns 1 when it just
 * became drained, 0 otherwise. */
int table_note_active(struct backend_table *t, struct backend *b, uint64_t active, int64_t now_ms);

/* Records the connections open to b over all workers as counted before every worker has seen
 * b's current state: shown in /status, but no drain ends on it (a worker may have picked b
 * in the same turn and not counted that connection yet). */
void table_count_active(struct backend_table *t, struct backend *b, uint64_t active);

/* Whether b's removal may end at now_ms: it is being removed, and no connection is left (as
 * table_note_active last recorded) or drain_timeout_ms passed since the removal began. The
 * count means something only once every worker has seen b out of rotation: the caller asks
 * only then. */
bool table_removal_due(const struct backend_table *t, const struct backend *b, int64_t now_ms);

/* The one removal: takes b out of the table, logs once and notifies (new state "none") with
 * reason, or, when reason is NULL, with the end of b's removal in words ("removed from the
 * configuration: no connection left", "removed by admin: --drain-timeout passed with 2
 * connections open"). b's id stays reserved until table_release_id, so that no worker that
 * still picks it from an older snapshot, and no counter kept per id, ever mixes two backends.
 * A live session must be detached first. b is invalid afterwards. */
void table_remove(struct backend_table *t, struct backend *b, const char *reason, int64_t now_ms);

/* Records a reported load (0..100, or < 0 for "not given") without any transition. */
void table_set_load(struct backend_table *t, struct backend *b, int load);

/* Clears b's outlier ejection and its history (the next ejection lasts the base time again),
 * for the runtime API: an operator who says "this backend is fine". Logged as a transition
 * when b comes back. Returns 1 when b->state changed, 0 otherwise (not ejected, or down for
 * another reason too). */
int table_clear_outlier(struct backend_table *t, struct backend *b, int64_t now_ms);

/* Applies BE_EV_HB_TIMEOUT to every open session silent for its timeout, BE_EV_LEASE_EXPIRED
 * to every lease as old as that, ends outlier ejections whose time is over
 * (BE_EV_OUTLIER_END), and removes heartbeat entries closed for expire_ms. Returns how many
 * entries changed state. */
int table_tick(struct backend_table *t, int64_t now_ms);

/* The entry with that id, or NULL (free id or out of range). */
struct backend *table_get(struct backend_table *t, uint32_t id);
const struct backend *table_get_const(const struct backend_table *t, uint32_t id);
struct backend *table_find(struct backend_table *t, const struct slb_addr *addr);
/* The entry named name, or NULL; *count says how many entries bear it (0: unknown, more than
 * 1: ambiguous, and the one returned is the lowest id). Static names are unique within a service, but a
 * heartbeat backend may register under any name. */
struct backend *table_find_name(struct backend_table *t, const char *name, unsigned *count);
/* table_find_name among the backends of service svc alone (-1: of every service, as
 * table_find_name). Static names are unique within a service, not over all of them. */
struct backend *table_find_name_in(struct backend_table *t, const char *name, int svc, unsigned *count);
unsigned table_count(const struct backend_table *t);
/* Backends that registered themselves (heartbeat or legacy), whether their session is live
 * or closed and not yet expired: what --heartbeat-max-backends caps. */
unsigned table_count_registered(const struct backend_table *t);

/* Entries of that source, whether their session is live or closed and not yet expired. */
unsigned table_count_source(const struct backend_table *t, enum be_source src);

/* True when b wants an active probe: static backends when checks are configured (by --check,
 * checks_configured, or by their own check when they have one), and any backend whose probe
 * verdict is down (ejected, added while checks are on, or a static one whose heartbeat session
 * closed), so that it has a way back. */
bool table_wants_probe(const struct backend *b, bool checks_configured);

/* Builds a snapshot of the up entries, in id order, with their effective weights at now_ms
 * and, when the table was created with a maglev_len, the Maglev table. Returns it (caller owns it
 * until snapshot_publish) or NULL on ENOMEM. */
struct snapshot *table_build_snapshot(const struct backend_table *t, int64_t now_ms);

/* b's share at now_ms in hundredths of a weight (SNAP_WEIGHT_UNIT): weight x 100, except while
 * slow start ramps it linearly from 10% to 100% over slow_start_ms after b came up from down
 * (a first registration is such a coming up; a static backend at start is not). >= 1. */
unsigned table_effective_weight(const struct backend_table *t, const struct backend *b, int64_t now_ms);

/* When the next snapshot is due for slow start: the earliest of now_ms + step_ms and the end
 * of each ramp still running at now_ms (so the last publish of a ramp has the full weight),
 * or -1 when no up backend is ramping. */
int64_t table_next_ramp_ms(const struct backend_table *t, int64_t now_ms, unsigned step_ms);

/* Returns the TABLE_CHANGE_* bits accumulated since the last call and clears them. */
unsigned table_take_changes(struct backend_table *t);

/* "up", "down", "draining", "admin_down" / "static", "heartbeat". */
const char *be_state_name(enum be_state s);
/* "removed from the configuration", "removed by admin", "removed from the DNS answer"; "" for
 * BE_REMOVAL_NONE. */
const char *be_removal_name(enum be_removal r);
const char *be_source_name(enum be_source s);
/* The source an operator sees: "admin" for a backend added by the admin API, else
 * be_source_name. */
const char *be_source_label(const struct backend *b);
const char *be_event_name(enum be_event ev);

#endif
