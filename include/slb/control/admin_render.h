/* admin_render: what the admin endpoint answers with (admin_render.c): GET /status (JSON),
 * GET /metrics (Prometheus text), /events and /ready. The renderers are pure functions of the
 * table and the workers' counters, so they are tested without sockets. */
#ifndef SLB_ADMIN_RENDER_H
#define SLB_ADMIN_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/channel.h"
#include "slb/control/backend_table.h"
#include "slb/control/events.h"
#include "slb/control/gray.h"

#define ADMIN_BODY_MAX (8u << 20)   /* cap on one response body */

/* A growable text buffer with a hard cap; once an append would pass the cap it keeps what
 * it has and sets overflow, so renderers need no error path per line. */
struct abuf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
	bool overflow;  /* an append was refused (cap reached or ENOMEM) */
};

/* An empty buffer that may grow to max bytes (its NUL included); no allocation yet. */
void abuf_init(struct abuf *b, size_t max);
/* Frees the text and leaves b empty with the same cap. */
void abuf_free(struct abuf *b);
/* Append formatted text / n bytes. On overflow b->overflow is set and b keeps its earlier
 * text, NUL-terminated (b->p is NULL only while nothing was ever appended). */
void abuf_printf(struct abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void abuf_append(struct abuf *b, const char *s, size_t n);
/* Appends s as a JSON string: quoted, with quotes, backslashes and control bytes escaped. */
void abuf_json_str(struct abuf *b, const char *s);

/* What the renderers read. Counters are summed over channels with relaxed loads. */
struct admin_view {
	const struct backend_table *table;
	struct worker_channel *const *channels;
	unsigned n_channels;
	int64_t now_ms;                 /* for "last_heartbeat_ms": age of the last heartbeat */
	const struct gray_board *gray;  /* for "phi"; NULL: phi shown as null */
	bool per_worker;                /* /status?per_worker=1: each backend's latency per worker too */
	const struct slb_config *cfg;   /* names each backend's service; NULL: every one is "default" */
	int service;                    /* /status?service=NAME: only its backends; -1: all */
	unsigned states;                /* /status?state=STATE: bit 1 << state for each asked; 0: all */
	uint32_t after;                 /* /status?after=ID: only backends of a higher id; 0: from the first */
	uint32_t limit;                 /* /status?limit=N: at most N backends, and "next"; 0: all */
};

/* Append the /status JSON document or the /metrics text to out. Return 0, or -ENOSPC when
 * out overflowed (the text is then truncated and must not be sent). /status lists the
 * backends v selects in id order; with a limit it also says "next": the id to pass as
 * after= for the following page, or null when this page reached the last one. */
int admin_render_status(struct abuf *out, const struct admin_view *v);

/* Appends /status/summary: per service, and over all, how many backends are in each state
 * ({"total":{"backends":N,"up":N,"down":N,"draining":N,"admin_down":N},"services":[{"name":...,
 * same counts}]}). Returns 0 or -ENOSPC as above. */
int admin_render_summary(struct abuf *out, const struct admin_view *v);
int admin_render_metrics(struct abuf *out, const struct admin_view *v);

/* Appends ,"services":[...] for /status (nothing without v->cfg): per service (only
 * v->service's when >= 0) its name, state (serving, unserved, removed), listen addresses,
 * algorithm, live (up) and total backend counts and a count per state. */
void admin_render_services(struct abuf *out, const struct admin_view *v);

/* Appends ,"clients":{"denied":N,"over_conns":N,"over_rate":N,"untracked":N}: what service
 * svc's --client-* settings refused (or let in uncounted), summed over the workers. */
void admin_render_service_clients(struct abuf *out, const struct admin_view *v, unsigned svc);

/* Appends the slb_service_backends{service,state} gauge family: every service's backend count
 * in every state, zeros included, so that a service that lost every backend still shows. */
void admin_render_service_metrics(struct abuf *out, const struct admin_view *v);

/* Appends one backend as the JSON object /status lists (and the runtime API answers with). */
void admin_render_backend(struct abuf *out, const struct admin_view *v, const struct backend *b);

/* Appends one event as a JSON object: seq, time_ms, id, address, name, old, new, reason. */
void admin_render_event(struct abuf *out, const struct slb_event *e);

/* Appends {"last_seq":N,"events":[...]}: the events after since still held, oldest first.
 * Returns 0, or -ENOSPC when out overflowed. */
int admin_render_events(struct abuf *out, const struct event_ring *r, uint64_t since);

/* Why GET /ready would say no, most important first; READY_YES when it says yes. */
enum admin_ready {
	READY_YES = 0,
	READY_DRAINING,  /* SIGTERM came */
	READY_STARTING,  /* heartbeat backends may not all have registered yet */
	READY_NO_BACKEND,
};

/* GET /ready, for a route announcer (docs/scale-out.md): appends one line to out and returns
 * the status: 200 ("ready: N live backends") for READY_YES, else 503 with the reason
 * ("not ready: draining", "not ready: starting", "not ready: no live backend"). */
int admin_render_ready(struct abuf *out, enum admin_ready why, uint32_t n_live);

#endif
