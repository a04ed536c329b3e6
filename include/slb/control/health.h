/* health: the health thread. It owns the backend table (static backends from flags plus
 * those that register by heartbeat), their states with rise/fall, the probes, the failure
 * reports drained from workers, the admin endpoint, and it publishes every snapshot. */
#ifndef SLB_HEALTH_H
#define SLB_HEALTH_H

#include <stddef.h>

#include "slb/common/config.h"
#include "slb/common/channel.h"
#include "slb/common/snapshot.h"
#include "slb/control/health_handover.h"

/* Builds the table from cfg, publishes the first snapshot (so workers never start without
 * one), loads the heartbeat key and binds the heartbeat and admin ports, all without starting
 * a thread: main drops privileges between this and health_start. channels[0..n) are the
 * workers' channels (read-only counters, failure rings to drain); cfg must outlive the thread.
 * in (may be NULL) is what the slb that ran before handed over: its listening sockets are used
 * instead of binding (each fd >= 0 is health's after the call, whatever it returns), its
 * leases are taken (table_take_lease; a bad one is logged and skipped, all of them when cfg
 * has no heartbeat port) and the operator's runtime state replayed (a bad line is logged and
 * skipped). Returns 0 or -errno with err filled (nothing left open). */
int health_prepare(const struct slb_config *cfg, struct worker_channel **channels, unsigned n,
		   struct health_handover *in, char *err, size_t errlen);

/* For --check-config: what health_prepare would refuse, without keeping anything: the heartbeat
 * key file read (regular, mode 600, long enough) and wiped, the heartbeat and admin ports bound
 * and closed at once (not with --takeover or --no-bind: the running slb holds them). Returns 0
 * or -EINVAL with one line per problem added to errs. */
int health_check_config(const struct slb_config *cfg, struct config_errors *errs);

/* Starts the thread on what health_prepare set up. Returns 0, or -errno with err filled; on
 * failure everything health_prepare opened is closed. */
int health_start(char *err, size_t errlen);

/* The most descriptors the health thread can hold open with this configuration (listeners,
 * heartbeat sessions, admin connections, probes, its own epoll/timer/eventfd), so main can
 * keep them out of the workers' connection budget. Pure; valid before health_start. */
unsigned health_fd_reserve(const struct slb_config *cfg);

struct health_ctx;

/* A function run on the health thread, between two loop turns, with the thread's context:
 * it may read and change the table like any event handler. Returns 0 or -errno. */
typedef int (*health_call_fn)(struct health_ctx *ctx, void *arg);

/* Runs fn(ctx, arg) on the health thread and waits for it (or runs it here while the thread
 * is prepared but not running). For the rare requests of the process's own life (reload,
 * handover), never per connection. One caller at a time; never from the health thread.
 * Returns what fn returned, or -ESRCH when nothing is prepared, or -errno. */
int health_call(health_call_fn fn, void *arg);

/* Marks slb as draining: once this returns, GET /ready answers 503, so route announcers
 * withdraw this instance while it still accepts (docs/scale-out.md). Nothing clears it.
 * Returns 0 or -errno (health_call). */
int health_set_draining(void);

/* Stops the thread (if started) and closes what health_prepare opened; does nothing when
 * nothing is prepared. The last snapshot stays published until snapshot_teardown. */
void health_stop(void);

#endif
