/* health_loop: what the health thread's modules (heartbeat sessions, probes, admin) share:
 * one epoll loop where every descriptor has a handler, frees deferred to the end of a loop
 * turn, the one listener every server uses, and the thread's context. Private to the health
 * thread; workers never see it. */
#ifndef SLB_HEALTH_LOOP_H
#define SLB_HEALTH_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/addr.h"
#include "slb/common/config.h"
#include "slb/control/backend_table.h"
#include "slb/common/channel.h"
#include "slb/control/gray.h"

struct health_ctx;
struct hl_handler;
struct hl_listener;

typedef void (*hl_event_fn)(struct health_ctx *ctx, struct hl_handler *h, uint32_t events);
typedef void (*hl_free_fn)(struct hl_handler *h);

/* Embedded first in every object with a descriptor in the loop; epoll's data.ptr points here. */
struct hl_handler {
	hl_event_fn on_event;
	hl_free_fn free;             /* frees the enclosing object; NULL for objects not on the heap */
	int fd;
	bool dead;                   /* retired this turn: later events in the batch are skipped */
	struct hl_handler *next_dead;
	struct hl_listener *owner;   /* the listener that accepted it; NULL for other handlers */
	struct hl_handler *prev, *next; /* owner's connections, oldest first */
};

struct hb_server;
struct probe_set;
struct admin_server;
struct event_ring;
struct health_dns;

struct health_ctx {
	const struct slb_config *cfg;       /* lives as long as the process */
	struct backend_table *table;
	struct worker_channel **channels;   /* workers' counters and failure rings, [0..n_channels) */
	unsigned n_channels;
	int epfd;
	int64_t now_ms;                     /* CLOCK_MONOTONIC at the top of this loop turn */
	struct hl_handler *graveyard;       /* retired this turn, freed after the batch */
	struct hb_server *hb;               /* NULL without --heartbeat-listen */
	struct probe_set *probes;
	struct admin_server *admin;         /* NULL without --admin */
	struct event_ring *events;          /* the table's last changes, for /events */
	bool draining;                      /* SIGTERM came: GET /ready answers 503 */
	int64_t started_ms;                 /* GET /ready waits a heartbeat timeout from here: health_prepare
					     * ran, or a live backend came back after none was */
	bool lost_every_backend;            /* a snapshot with live backends, then one with none, published */
	struct gray_board *gray;            /* latency verdicts and heartbeat rhythm (health_gray.c) */
	struct health_dns *dns;             /* backends by host name (health_dns.c); NULL while there are none */
	uint64_t published_seq;             /* table_seq() of the last snapshot published */
	uint64_t published_mark;            /* snapshot_mark() right after it was published */
};

/* Every GRAY_EVAL_MS: combines the workers' latency averages, ejects outliers (with
 * --outlier-detection) and recomputes p2c's latency factors. Returns true when a factor
 * changed under --balance p2c, so a snapshot is due (health_gray.c). */
bool health_gray_tick(struct health_ctx *ctx);

/* Copies the latency factors into s->be[].lat_pct before s is published (health_gray.c). */
void health_gray_fill(const struct health_ctx *ctx, struct snapshot *s);

/* ---- backends by host name (health_dns.c) ---- */

/* Starts looking up cfg's --backend host names (the resolver thread, its eventfd in the loop)
 * when it has any; nothing otherwise. Each answer then adds the addresses that joined (static
 * backends with their host name as origin) and drains those that left (BE_REMOVAL_DNS); a
 * failed lookup keeps the last addresses. Returns 0, or -errno with err filled. */
int health_dns_open(struct health_ctx *ctx, const struct slb_config *cfg, char *err, size_t errlen);

/* A reload: next's host names replace the current ones and are looked up again at once; the
 * backends of a host name next no longer has begin their removal (BE_REMOVAL_CONFIG), those
 * of one it keeps get its weight, heartbeat= and send-proxy=. Opens the resolver when next is
 * the first configuration with a host name. Returns 0 or -errno (logged). */
int health_dns_reload(struct health_ctx *ctx, const struct slb_config *next);

/* Stops the resolver thread and frees what health_dns_open made; safe when it made nothing. */
void health_dns_close(struct health_ctx *ctx);

/* The backend table's parameters for cfg (health.c). */
void health_table_params(const struct slb_config *cfg, struct table_params *p);

/* Adds/changes h->fd in the loop with these EPOLL* events. Return 0 or -errno. */
int hl_add(struct health_ctx *ctx, struct hl_handler *h, uint32_t events);
int hl_mod(struct health_ctx *ctx, struct hl_handler *h, uint32_t events);

/* Removes h from the loop and closes its fd now; h->free runs once the current batch of
 * events is done, so a handler may retire any object, its own or another. */
void hl_retire(struct health_ctx *ctx, struct hl_handler *h);

/* Binds and listens on a, non-blocking. what names the port in err ("heartbeat", "admin").
 * Returns the fd, or -EADDRINUSE / -errno with err filled. */
int hl_listen(const struct slb_addr *a, const char *what, char *err, size_t errlen);

/* ---- the listener: one accept loop for every server on the health loop ---- */

#define HL_ACCEPTS_PER_TURN 64 /* fairness: a connection flood cannot hold the loop */
#define HL_ACCEPT_PAUSE_MS 100 /* out of descriptors: how long a listener stops accepting */

/* Takes over fd, a new non-blocking connection from peer: either builds a connection whose
 * hl_handler it passes to hl_conn_link, or closes fd. */
typedef void (*hl_accept_fn)(struct health_ctx *ctx, struct hl_listener *l, int fd, const struct slb_addr *peer);

/* Called when a connection arrives with max_conns open: closes one of them (hl_conn_close)
 * and returns true, or returns false and the newcomer is refused. */
typedef bool (*hl_evict_fn)(struct health_ctx *ctx, struct hl_listener *l);

/* Embedded first in a server's state. The caller sets what, max_conns, accept and evict (may
 * be NULL) before hl_listener_open; the rest belongs to the helper. */
struct hl_listener {
	struct hl_handler h;         /* the listening socket */
	const char *what;            /* "heartbeat", "admin": first word of its log lines */
	unsigned max_conns;          /* open connections at most */
	hl_accept_fn accept;
	hl_evict_fn evict;           /* NULL: past max_conns a newcomer is closed at once */
	struct hl_handler *head, *tail; /* open connections, oldest first */
	unsigned n;                  /* open connections */
	int64_t paused_until_ms;     /* 0 while accepting; set when accept ran out of descriptors */
};

/* Binds a (see hl_listen), or takes fd when fd >= 0 (a listening socket for a inherited from
 * the slb that ran before: binary upgrade), and adds l to the loop: from then on it accepts at
 * most HL_ACCEPTS_PER_TURN connections a loop turn, at most l->max_conns open, and out of
 * descriptors (or memory) it stops accepting for HL_ACCEPT_PAUSE_MS instead of spinning.
 * Returns 0, or -EADDRINUSE / -errno with err filled (nothing left open, fd closed). */
int hl_listener_open(struct health_ctx *ctx, struct hl_listener *l, const struct slb_addr *a, int fd, char *err,
		     size_t errlen);

/* Called every tick: resumes accepting once a pause is over. */
void hl_listener_tick(struct health_ctx *ctx, struct hl_listener *l);

/* Takes every open connection out of the loop, closes and frees it (h->free) at once, without
 * events, then the listening socket; l itself stays the caller's. Run after a batch of events
 * (the thread's stop, a health_call), never from a handler of the batch. */
void hl_listener_close(struct health_ctx *ctx, struct hl_listener *l);

/* Appends h, an accepted connection already in the loop, to l's list as the newest. */
void hl_conn_link(struct hl_listener *l, struct hl_handler *h);

/* Takes h off its listener's list and retires it (hl_retire). Does nothing when h is dead. */
void hl_conn_close(struct health_ctx *ctx, struct hl_handler *h);

/* Connections open to backend id over all workers (their per-backend active counters, read
 * with relaxed loads: a sum of moments, exact once nothing moves). */
uint64_t hl_backend_active(const struct health_ctx *ctx, uint32_t id);

/* True once no worker can pick b by a state older than its current one: the snapshot with
 * that state is published and every worker has passed a quiescent point since, so each
 * connection picked before is in b's active counters. Until then "no connection left" is
 * not to be believed: a worker may have picked b in the same loop turn and not counted it. */
bool hl_backend_settled(const struct health_ctx *ctx, const struct backend *b);

/* True once no worker can hold a snapshot older than table_seq() value seq: one built at or
 * after seq is published and every worker has passed a quiescent point since. */
bool hl_seq_settled(const struct health_ctx *ctx, uint64_t seq);

/* Records b's open connections (hl_backend_active) in the table; a drain ends there
 * (table_note_active) only once b is settled. */
void hl_note_active(struct health_ctx *ctx, struct backend *b);

/* Writes without blocking and without SIGPIPE. Returns bytes written (maybe 0 on EAGAIN)
 * or -errno. */
long hl_send(int fd, const void *buf, size_t len);

#endif
