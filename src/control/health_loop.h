/* health_loop: what the health thread's modules (heartbeat sessions, probes, admin) share:
 * one epoll loop where every descriptor has a handler, frees deferred to the end of a loop
 * turn, and the thread's context. Private to the health thread; workers never see it. */
#ifndef SLB_HEALTH_LOOP_H
#define SLB_HEALTH_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/addr.h"
#include "slb/common/config.h"
#include "slb/control/backend_table.h"
#include "slb/common/channel.h"

struct health_ctx;
struct hl_handler;

typedef void (*hl_event_fn)(struct health_ctx *ctx, struct hl_handler *h, uint32_t events);
typedef void (*hl_free_fn)(struct hl_handler *h);

/* Embedded first in every object with a descriptor in the loop; epoll's data.ptr points here. */
struct hl_handler {
	hl_event_fn on_event;
	hl_free_fn free;             /* frees the enclosing object; NULL for objects not on the heap */
	int fd;
	bool dead;                   /* retired this turn: later events in the batch are skipped */
	struct hl_handler *next_dead;
};

struct hb_server;
struct probe_set;
struct admin_server;

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
};

/* Adds/changes h->fd in the loop with these EPOLL* events. Return 0 or -errno. */
int hl_add(struct health_ctx *ctx, struct hl_handler *h, uint32_t events);
int hl_mod(struct health_ctx *ctx, struct hl_handler *h, uint32_t events);

/* Removes h from the loop and closes its fd now; h->free runs once the current batch of
 * events is done, so a handler may retire any object, its own or another. */
void hl_retire(struct health_ctx *ctx, struct hl_handler *h);

/* Binds and listens on a, non-blocking. what names the port in err ("heartbeat", "admin").
 * Returns the fd, or -EADDRINUSE / -errno with err filled. */
int hl_listen(const struct slb_addr *a, const char *what, char *err, size_t errlen);

/* Writes without blocking and without SIGPIPE. Returns bytes written (maybe 0 on EAGAIN)
 * or -errno. */
long hl_send(int fd, const void *buf, size_t len);

#endif
