/* health: the health thread and its loop. One epoll set holds the heartbeat listener and
 * sessions, the admin listener and connections, the probes, a 10 ms timerfd and a stop
 * eventfd. Handlers only change the backend table; publishing is decided once per loop turn:
 *
 *   a backend left or joined rotation               publish before sleeping again, so a killed
 *                                                   backend is out within one loop turn of its EOF
 *                                                   and a new one is routable once /status says up
 *   a weight or load changed, or a state out of     publish at the next tick (<= 10 ms), so a
 *   rotation (draining to down)                     burst of heartbeats costs one snapshot, and
 *                                                   settling is judged by what was published
 *   nothing changed                                 no snapshot at all
 *
 * and a publish waits until HEALTH_PUBLISH_SHARE - 1 times the last one's cost (the thread's
 * CPU time) has passed since that one ended, so publishing takes at most
 * 1/HEALTH_PUBLISH_SHARE of the thread
 * whatever the rate of changes: a storm of crashes and re-registrations in a big table is
 * coalesced into fewer snapshots instead of starving the heartbeats. What waits goes out at
 * the first tick past that time (publish_bench: about 10 ms of CPU for 10,000 backends, so a
 * crash is out of rotation within about 40 ms; docs/scale-out.md, one instance). Replies to
 * heartbeats wait for a deferred publish of a join, which they may announce.
 */
#include "slb/control/health.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "admin_server.h"
#include "hb_server.h"
#include "health_import.h"
#include "health_loop.h"
#include "maglev.h"
#include "probe.h"
#include "slb/control/resolver.h"
#include "slb/common/clock.h"
#include "slb/common/failq.h"
#include "slb/common/log.h"
#include "slb/common/snapshot.h"
#include "slb/control/backend_table.h"
#include "slb/common/hbauth.h"
#include "slb/control/events.h"

#define HEALTH_TICK_MS 10
#define HEALTH_EVENTS 64
#define HEALTH_EXPIRE_MS 60000 /* closed heartbeat entries are forgotten after this */
#define HEALTH_RAMP_STEP_MS 100 /* republish period while slow start ramps a backend up */

struct health_thread {
	struct health_ctx ctx;
	struct hl_handler timer;   /* timerfd, every HEALTH_TICK_MS */
	struct hl_handler stopper; /* eventfd written by health_stop */
	struct hl_handler caller;  /* eventfd written by health_call */
	health_call_fn call_fn;    /* the call to run on the thread, NULL when none waits */
	void *call_arg;
	int call_ret;
	bool call_due;             /* the caller's eventfd fired: run call_fn after this batch */
	sem_t call_done;           /* posted by the thread once call_fn ran */
	pthread_mutex_t call_lock; /* one caller at a time */
	pthread_t thread;
	bool prepared;             /* between a successful health_prepare and health_stop */
	bool running;              /* the thread runs: between health_start and health_stop */
	bool stopping;             /* the loop exits after this turn */
	bool ticked;               /* the timer fired in this loop turn */
	unsigned pending;          /* TABLE_CHANGE_* bits not yet published */
	int64_t ramp_at;           /* next publish for slow start, -1: no backend ramping */
	int64_t publish_ok_us;     /* no publish before this (CLOCK_MONOTONIC us): the budget */
};

#define HEALTH_PUBLISH_SHARE 4 /* publishing takes at most 1/4 of the health thread */

static struct health_thread ht;

/* Workers never compute a weight: while a backend ramps up, health republishes every
 * HEALTH_RAMP_STEP_MS with the weights of the moment, and stops when no ramp is left. */
/* Publishes s, noting which table state it has and the mark that tells when no worker can
 * hold an older one (hl_backend_settled). An instance that lost every backend (a partition)
 * is like one that just started: the backends re-register one by one, and announcing it at
 * the first would give it a Maglev table unlike its peers'. So the `starting` wait of GET
 * /ready restarts when a live backend comes back after none was (docs/scale-out.md). */
static void health_publish_snapshot(struct health_ctx *ctx, struct snapshot *s, uint64_t seq)
{
	if (!ctx->cfg->has_heartbeat_listen) {
		/* static backends only: no registration to wait for */
	} else if (snapshot_live(s) && ctx->lost_every_backend) {
		ctx->lost_every_backend = false;
		ctx->started_ms = ctx->now_ms;
		slb_log(LOG_INFO, 0, "health: a live backend again after none: GET /ready waits %u ms (starting)",
			ctx->cfg->heartbeat_timeout_ms);
	} else if (!snapshot_live(s) && snapshot_live(snapshot_current())) {
		ctx->lost_every_backend = true;
	}
	snapshot_publish(s);
	ctx->published_seq = seq;
	ctx->published_mark = snapshot_mark();
}

static int64_t health_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t health_now_us(void)
{
	return health_us(CLOCK_MONOTONIC);
}

static void health_publish(struct health_ctx *ctx)
{
	int64_t cpu = health_us(CLOCK_THREAD_CPUTIME_ID); /* its cost: on a busy machine the wall
							      * clock would count other threads' turns */
	uint64_t seq = table_seq(ctx->table);
	struct snapshot *s = table_build_snapshot(ctx->table, ctx->now_ms);

	if (!s) {
		/* pending stays set: the next tick tries again */
		slb_log_limited(LOG_ERROR, ENOMEM, "health: cannot build a snapshot");
		return;
	}
	health_gray_fill(ctx, s);
	health_publish_snapshot(ctx, s, seq);
	ht.pending = TABLE_CHANGE_NONE;
	ht.ramp_at = table_next_ramp_ms(ctx->table, ctx->now_ms, HEALTH_RAMP_STEP_MS);
	ht.publish_ok_us = health_now_us() + (HEALTH_PUBLISH_SHARE - 1) * (health_us(CLOCK_THREAD_CPUTIME_ID) - cpu);
	slb_log(LOG_DEBUG, 0, "health: published snapshot %llu with %u pools, the default's %u live backends",
		(unsigned long long)s->version, s->n_pools, s->pool[0]->n);
}

/* Worker reports arrive in per-worker order only; across workers they interleave, which is
 * fine for a count of consecutive failures that any success resets. */
static void health_on_report(struct health_ctx *ctx, const struct failq_event *ev)
{
	struct backend *b = table_get(ctx->table, ev->backend_id);

	if (!b)
		return; /* removed since the worker picked it */
	switch ((enum failq_kind)ev->kind) {
	case FAILQ_CONNECT_OK:
		table_apply(ctx->table, b, BE_EV_CONNECT_OK, NULL, ctx->now_ms);
		break;
	case FAILQ_CONNECT_REFUSED:
		table_apply(ctx->table, b, BE_EV_CONNECT_FAIL, "connection refused", ctx->now_ms);
		break;
	case FAILQ_CONNECT_TIMEOUT:
		table_apply(ctx->table, b, BE_EV_CONNECT_FAIL, "connect timeout", ctx->now_ms);
		break;
	case FAILQ_CONNECT_ERROR:
		table_apply(ctx->table, b, BE_EV_CONNECT_FAIL, "connect error", ctx->now_ms);
		break;
	case FAILQ_LOOP:
		table_apply(ctx->table, b, BE_EV_LOOP, NULL, ctx->now_ms);
		break;
	case FAILQ_RESET: /* no worker sends it: a reset after the connect is counted, not judged */
	case FAILQ_NONE:
		break;
	}
}

static void health_drain_failqs(struct health_ctx *ctx)
{
	struct failq_event ev;

	for (unsigned i = 0; i < ctx->n_channels; i++)
		for (unsigned k = 0; k < FAILQ_SIZE && failq_pop(&ctx->channels[i]->failq, &ev); k++)
			health_on_report(ctx, &ev);
}

/* A removed backend's id is free again once no worker can use it: no worker holds a snapshot
 * that still had the backend, and no connection counts under the id. */
static void health_release_id(struct health_ctx *ctx, uint32_t id)
{
	uint64_t seq = table_id_reserved_seq(ctx->table, id);

	if (seq && hl_seq_settled(ctx, seq) && hl_backend_active(ctx, id) == 0)
		table_release_id(ctx->table, id);
}

/* Only backends out of rotation by request are watched: up ones cost nothing. A draining
 * backend's connections are summed over the workers every tick, so /status and the
 * heartbeat reply say "drained" within one tick of the last one closing. A backend being
 * removed, whatever the cause, leaves the table once every worker has seen it out of rotation
 * and no connection is left, or at --drain-timeout (table_removal_due). */
static void health_sweep_one(struct health_ctx *ctx, uint32_t id)
{
	struct backend *b = table_get(ctx->table, id);

	if (!b) {
		health_release_id(ctx, id);
		return;
	}
	if (b->state != BE_STATE_DRAINING && !b->removing)
		return;
	hl_note_active(ctx, b);
	if (!hl_backend_settled(ctx, b) || !table_removal_due(ctx->table, b, ctx->now_ms))
		return;
	if (b->session)
		hb_server_detach(ctx, b, "its backend is being removed");
	table_remove(ctx->table, b, NULL, ctx->now_ms);
}

static void health_sweep_removals(struct health_ctx *ctx)
{
	for (uint32_t id = 1; id < snap_id_limit(); id++)
		health_sweep_one(ctx, id);
}

/* Every change of the table goes into the event ring and out to /events/stream. */
static void health_on_change(void *arg, const struct backend *b, const char *old_state, const char *new_state,
			     const char *reason, int64_t now_ms)
{
	struct health_ctx *ctx = arg;
	const struct slb_event *e;

	e = events_push(ctx->events, b, config_service_name(ctx->cfg, b->service), old_state, new_state, reason,
			clock_ms_of(CLOCK_REALTIME));
	admin_publish_event(ctx, e);
}

static void tick_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	uint64_t expirations;

	if (read(h->fd, &expirations, sizeof(expirations)) == -1 && errno != EAGAIN)
		slb_log_limited(LOG_WARN, errno, "health: timerfd read");
	health_drain_failqs(ctx);
	table_tick(ctx->table, ctx->now_ms);
	health_sweep_removals(ctx);
	if (health_gray_tick(ctx))
		ht.pending |= TABLE_CHANGE_LAZY;
	hb_server_tick(ctx);
	probe_tick(ctx);
	admin_tick(ctx);
	ht.ticked = true;
}

static void stop_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	uint64_t v;

	if (read(h->fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		slb_log(LOG_WARN, errno, "health: eventfd read");
	ht.stopping = true;
}

static void call_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	uint64_t v;

	if (read(h->fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		slb_log(LOG_WARN, errno, "health: eventfd read");
	ht.call_due = true;
}

/* A call runs after the whole batch of events: it may close servers and free their objects
 * (a handover closes the admin endpoint), which a later event of the same batch could still
 * point at. */
static void health_run_call(struct health_ctx *ctx)
{
	if (!ht.call_due || !ht.call_fn)
		return;
	ht.call_due = false;
	ht.call_ret = ht.call_fn(ctx, ht.call_arg);
	ht.call_fn = NULL;
	sem_post(&ht.call_done);
}

/* Frees what handlers retired; no event of this batch can reach them any more. */
static void health_bury(struct health_ctx *ctx)
{
	while (ctx->graveyard) {
		struct hl_handler *h = ctx->graveyard;

		ctx->graveyard = h->next_dead;
		if (h->free)
			h->free(h);
	}
}

static void health_end_turn(struct health_ctx *ctx)
{
	health_run_call(ctx);
	ht.pending |= table_take_changes(ctx->table);
	if (((ht.pending & TABLE_CHANGE_URGENT) || (ht.pending && ht.ticked) ||
	     (ht.ticked && ht.ramp_at >= 0 && ctx->now_ms >= ht.ramp_at)) &&
	    (health_now_us() >= ht.publish_ok_us || (ht.pending & TABLE_CHANGE_NOW)))
		health_publish(ctx);
	/* "OK registered" promises the backend is in the workers' snapshot: while a join waits
	 * for the publish budget, every reply waits with it (at most until the tick that
	 * publishes), and so do the frees of closed handlers, since a closed session may still
	 * be on the list of sessions with replies to send */
	if (!(ht.pending & TABLE_CHANGE_URGENT)) {
		hb_server_send_replies(ctx);
		health_bury(ctx);
	}
	if (ht.ticked)
		snapshot_reclaim();
	ht.ticked = false;
}

static void *health_main(void *arg)
{
	struct health_ctx *ctx = &ht.ctx;
	struct epoll_event evs[HEALTH_EVENTS];

	log_set_thread_name("health");
	while (!ht.stopping) {
		int n = epoll_wait(ctx->epfd, evs, HEALTH_EVENTS, -1);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* Only a bug makes epoll_wait fail; a health thread that stops silently
			 * would freeze every backend's state, so do not limp on. */
			slb_log(LOG_ERROR, errno, "health: epoll_wait");
			abort();
		}
		ctx->now_ms = clock_now_ms();
		for (int i = 0; i < n; i++) {
			struct hl_handler *h = evs[i].data.ptr;

			if (!h->dead)
				h->on_event(ctx, h, evs[i].events);
		}
		health_end_turn(ctx);
	}
	return NULL;
}

/* Undoes whatever health_start got done; safe on a partly built state. */
static void health_cleanup(void)
{
	struct health_ctx *ctx = &ht.ctx;

	health_dns_close(ctx);
	admin_close(ctx);
	hb_server_close(ctx);
	probe_fini(ctx);
	health_bury(ctx);
	if (ht.timer.fd >= 0)
		close(ht.timer.fd);
	if (ht.stopper.fd >= 0)
		close(ht.stopper.fd);
	if (ht.caller.fd >= 0)
		close(ht.caller.fd);
	sem_destroy(&ht.call_done);
	pthread_mutex_destroy(&ht.call_lock);
	if (ctx->epfd >= 0)
		close(ctx->epfd);
	table_destroy(ctx->table);
	free(ctx->events);
	free(ctx->gray);
	free(ctx->channels);
	memset(&ht, 0, sizeof(ht));
}

/* Backends the table may ever hold. The Maglev table is sized from it, not from the live
 * count: a size that changed with the live set would remap nearly every client whenever a
 * backend came or went. Instances with the same flags get the same size, hence agree. */
static uint32_t health_max_backends(const struct slb_config *cfg)
{
	uint32_t n = cfg->n_backends + (cfg->has_heartbeat_listen ? cfg->heartbeat_max_backends : 0);

	return n < snap_id_limit() ? n : snap_id_limit() - 1;
}

static void health_service_params(const struct slb_config *cfg, const struct service_config *s,
				  struct table_service_params *p)
{
	p->rise = s->rise;
	p->fall = s->fall;
	p->eject_failures = s->eject_failures;
	/* maglev ignores weights that change with time: they would move clients around */
	p->slow_start_ms = s->balance == BALANCE_MAGLEV ? 0 : s->slow_start_ms;
	p->maglev_len = s->balance == BALANCE_MAGLEV ? maglev_table_size(health_max_backends(cfg)) : 0;
	config_hash_key(s, p->hash_key);
}

/* See health_loop.h. */
void health_table_params(const struct slb_config *cfg, struct table_params *p)
{
	memset(p, 0, sizeof(*p));
	p->n_services = cfg->n_services;
	for (unsigned i = 0; i < cfg->n_services; i++)
		health_service_params(cfg, &cfg->services[i], &p->svc[i]);
	p->heartbeat_timeout_ms = cfg->heartbeat_timeout_ms;
	p->legacy_timeout_ms = cfg->legacy_heartbeat_timeout_ms;
	p->expire_ms = HEALTH_EXPIRE_MS;
	p->outlier_base_ejection_ms = cfg->outlier_base_ejection_ms;
	p->drain_timeout_ms = cfg->drain_timeout_ms;
}

static int health_add_static(struct health_ctx *ctx, const struct config_backend *cb, char *err, size_t errlen)
{
	char text[ADDR_TEXT_MAX];
	struct backend *b;
	int rc = table_add_static_named(ctx->table, &cb->addr, cb->weight, cb->name, ctx->now_ms, &b);

	if (rc) {
		snprintf(err, errlen, "backend %s: %s", addr_format(&cb->addr, text, sizeof(text)),
			 rc == -EEXIST ? "given twice" : "too many backends");
		return rc == -EEXIST ? -EINVAL : rc;
	}
	table_configure_static(ctx->table, b, cb->weight, cb->heartbeat_allow, ctx->now_ms);
	table_set_send_proxy(ctx->table, b, cb->send_proxy);
	table_set_backup(ctx->table, b, cb->backup);
	table_set_service(ctx->table, b, cb->service);
	return 0;
}

static int health_fill_table(const struct slb_config *cfg, char *err, size_t errlen)
{
	struct health_ctx *ctx = &ht.ctx;
	struct table_params p;

	health_table_params(cfg, &p);
	ctx->table = table_create(&p);
	ctx->events = malloc(sizeof(*ctx->events));
	if (!ctx->table || !ctx->events) {
		snprintf(err, errlen, "health: out of memory");
		return -ENOMEM;
	}
	events_init(ctx->events);
	table_set_notify(ctx->table, health_on_change, ctx);
	for (unsigned i = 0; i < cfg->n_backends; i++) {
		/* a host name's backends come as the resolver answers (health_dns.c) */
		int rc = cfg->backends[i].host[0] ? 0 : health_add_static(ctx, &cfg->backends[i], err, errlen);

		if (rc)
			return rc;
	}
	return 0;
}

static int health_open_fds(char *err, size_t errlen)
{
	struct itimerspec its = {
		.it_interval = { .tv_nsec = HEALTH_TICK_MS * 1000000L },
		.it_value = { .tv_nsec = HEALTH_TICK_MS * 1000000L },
	};
	struct health_ctx *ctx = &ht.ctx;
	int rc;

	ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
	ht.timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ht.stopper.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ht.caller.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ctx->epfd == -1 || ht.timer.fd == -1 || ht.stopper.fd == -1 || ht.caller.fd == -1 ||
	    timerfd_settime(ht.timer.fd, 0, &its, NULL) == -1) {
		rc = -errno;
		snprintf(err, errlen, "health: epoll/timerfd/eventfd: %s", strerror(-rc));
		return rc;
	}
	ht.timer.on_event = tick_on_event;
	ht.stopper.on_event = stop_on_event;
	ht.caller.on_event = call_on_event;
	rc = hl_add(ctx, &ht.timer, EPOLLIN);
	if (!rc)
		rc = hl_add(ctx, &ht.stopper, EPOLLIN);
	if (!rc)
		rc = hl_add(ctx, &ht.caller, EPOLLIN);
	if (rc)
		snprintf(err, errlen, "health: epoll_ctl: %s", strerror(-rc));
	return rc;
}

/* The thread blocks every signal, so SIGINT/SIGTERM reach main's handling, never this loop. */
static int health_spawn(char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ht.thread, NULL, health_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "health: pthread_create: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(ht.thread, "slb-health");
	return 0;
}

/* The inherited listener fd (now the caller's), or -1. */
static int health_take_fd(int *fd)
{
	int ret = *fd;

	*fd = -1;
	return ret;
}

static int health_open(const struct slb_config *cfg, struct health_handover *in, char *err, size_t errlen)
{
	struct health_ctx *ctx = &ht.ctx;
	struct snapshot *s;
	uint64_t seq;
	int rc;

	rc = health_fill_table(cfg, err, errlen);
	ctx->gray = calloc(1, sizeof(*ctx->gray));
	if (!rc && !ctx->gray) {
		snprintf(err, errlen, "health: out of memory");
		rc = -ENOMEM;
	}
	if (!rc)
		rc = health_open_fds(err, errlen);
	if (!rc)
		rc = health_dns_open(ctx, cfg, err, errlen);
	if (!rc && cfg->has_heartbeat_listen)
		rc = hb_server_open(ctx, in ? health_take_fd(&in->hb_fd) : -1, err, errlen);
	if (!rc && cfg->has_admin)
		rc = admin_open(ctx, in ? health_take_fd(&in->admin_fd) : -1, err, errlen);
	if (!rc && probe_init(ctx)) {
		snprintf(err, errlen, "health: out of memory");
		rc = -ENOMEM;
	}
	if (rc)
		return rc;
	health_import_handover(ctx, in);
	seq = table_seq(ctx->table);
	s = table_build_snapshot(ctx->table, ctx->now_ms);
	if (!s) {
		snprintf(err, errlen, "health: out of memory for the first snapshot");
		return -ENOMEM;
	}
	health_publish_snapshot(ctx, s, seq);
	table_take_changes(ctx->table);
	ht.ramp_at = -1; /* static backends start up, not ramping */
	return 0;
}

static void health_log_start(const struct slb_config *cfg)
{
	char hb[ADDR_TEXT_MAX] = "off", admin[ADDR_TEXT_MAX] = "off";
	static const char *const kinds[] = { "none", "tcp", "http" };

	if (cfg->has_heartbeat_listen)
		addr_format(&cfg->heartbeat_listen, hb, sizeof(hb));
	if (cfg->has_admin)
		addr_format(&cfg->admin, admin, sizeof(admin));
	slb_log(LOG_INFO, 0, "health: %u static backends in %u services, heartbeat %s, admin %s, default's check %s "
		"every %u ms (rise %u, fall %u)", cfg->n_backends, cfg->n_services, hb, admin, kinds[cfg->services[0].check],
		cfg->services[0].check_interval_ms, cfg->services[0].rise, cfg->services[0].fall);
}

/* Whatever of in the listeners did not take (an error came first): no fd may leak. */
static void health_close_inherited(struct health_handover *in)
{
	if (in && in->hb_fd >= 0)
		close(health_take_fd(&in->hb_fd));
	if (in && in->admin_fd >= 0)
		close(health_take_fd(&in->admin_fd));
}

int health_prepare(const struct slb_config *cfg, struct worker_channel **channels, unsigned n,
		   struct health_handover *in, char *err, size_t errlen)
{
	struct health_ctx *ctx = &ht.ctx;
	int rc;

	if (ht.prepared) {
		snprintf(err, errlen, "health: already prepared");
		health_close_inherited(in);
		return -EBUSY;
	}
	memset(&ht, 0, sizeof(ht));
	ctx->epfd = ht.timer.fd = ht.stopper.fd = ht.caller.fd = -1;
	sem_init(&ht.call_done, 0, 0);
	pthread_mutex_init(&ht.call_lock, NULL);
	ctx->cfg = cfg;
	ctx->now_ms = ctx->started_ms = clock_now_ms();
	ctx->channels = calloc(n ? n : 1, sizeof(*ctx->channels));
	if (!ctx->channels) {
		snprintf(err, errlen, "health: out of memory");
		health_close_inherited(in);
		return -ENOMEM;
	}
	if (n)
		memcpy(ctx->channels, channels, n * sizeof(*channels));
	ctx->n_channels = n;
	rc = health_open(cfg, in, err, errlen);
	health_close_inherited(in);
	if (rc) {
		health_cleanup();
		return rc;
	}
	ht.prepared = true;
	return 0;
}

int health_start(char *err, size_t errlen)
{
	int rc;

	if (!ht.prepared || ht.running) {
		snprintf(err, errlen, "health: %s", ht.running ? "already running" : "not prepared");
		return -EINVAL;
	}
	rc = health_spawn(err, errlen);
	if (rc) {
		health_cleanup();
		return rc;
	}
	ht.running = true;
	health_log_start(ht.ctx.cfg);
	return 0;
}

/* The key is read as health_prepare will read it, then wiped: it is a secret. */
static void health_check_key(const char *path, struct config_errors *errs)
{
	struct hbauth_key *key = malloc(sizeof(*key));
	char err[256];

	if (!key) {
		config_errors_add(errs, "heartbeat key file %s: out of memory", path);
		return;
	}
	if (hbauth_load_key(path, key, err, sizeof(err)))
		config_errors_add(errs, "%s", err);
	hbauth_wipe_key(key);
	free(key);
}

static void health_check_port(const struct slb_addr *a, const char *what, struct config_errors *errs)
{
	char err[200];
	int fd = hl_listen(a, what, err, sizeof(err));

	if (fd < 0)
		config_errors_add(errs, "%s", err);
	else
		close(fd);
}

int health_check_config(const struct slb_config *cfg, struct config_errors *errs)
{
	unsigned before = errs->n;

	if (cfg->heartbeat_key_file[0])
		health_check_key(cfg->heartbeat_key_file, errs);
	if (cfg->takeover[0] || cfg->check_no_bind)
		return errs->n > before ? -EINVAL : 0; /* the running slb holds the ports */
	if (cfg->has_heartbeat_listen)
		health_check_port(&cfg->heartbeat_listen, "heartbeat", errs);
	if (cfg->has_admin)
		health_check_port(&cfg->admin, "admin", errs);
	return errs->n > before ? -EINVAL : 0;
}

unsigned health_fd_reserve(const struct slb_config *cfg)
{
	unsigned fds = 8; /* epoll, timerfd, eventfd, two listeners, slack */
	unsigned probes = cfg->n_backends;

	for (unsigned i = 0; i < cfg->n_backends; i++)
		if (cfg->backends[i].host[0])
			probes += RESOLVER_MAX_ADDRS - 1; /* each address of a host name is probed on its own */

	if (cfg->has_heartbeat_listen) {
		fds += hb_sessions_max(cfg);
		probes += hb_sessions_max(cfg); /* an ejected heartbeat backend is probed too */
	}
	if (cfg->has_admin)
		fds += ADMIN_CONNS_MAX;
	return fds + (probes < snap_id_limit() - 1 ? probes : snap_id_limit() - 1);
}

static int health_mark_draining(struct health_ctx *ctx, void *arg)
{
	if (!ctx->draining)
		slb_log(LOG_INFO, 0, "health: draining: GET /ready answers 503 from now on");
	ctx->draining = true;
	return 0;
}

int health_set_draining(void)
{
	return health_call(health_mark_draining, NULL);
}

int health_call(health_call_fn fn, void *arg)
{
	uint64_t one = 1;
	int ret;

	if (!ht.prepared)
		return -ESRCH;
	if (!ht.running)
		return fn(&ht.ctx, arg);
	pthread_mutex_lock(&ht.call_lock);
	ht.call_arg = arg;
	ht.call_fn = fn;
	if (write(ht.caller.fd, &one, sizeof(one)) != sizeof(one)) {
		ht.call_fn = NULL;
		pthread_mutex_unlock(&ht.call_lock);
		return -errno;
	}
	while (sem_wait(&ht.call_done) == -1 && errno == EINTR)
		;
	ret = ht.call_ret;
	pthread_mutex_unlock(&ht.call_lock);
	return ret;
}

void health_stop(void)
{
	uint64_t one = 1;

	if (!ht.prepared)
		return;
	if (ht.running) {
		if (write(ht.stopper.fd, &one, sizeof(one)) != sizeof(one))
			slb_log(LOG_ERROR, errno, "health: cannot signal the thread to stop");
		pthread_join(ht.thread, NULL);
	}
	health_cleanup();
}
