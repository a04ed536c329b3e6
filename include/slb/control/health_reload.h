/* health_reload: the health thread's part of a reload (health_reload.c). */
#ifndef SLB_HEALTH_RELOAD_H
#define SLB_HEALTH_RELOAD_H

#include <stdbool.h>

#include "slb/common/config.h"

/* Applies next, a configuration validated whole and aligned (service_align), on the health
 * thread: a pool per service, static backends added, re-weighted or retired (drained, then
 * removed once their connections end or at --drain-timeout), every backend of a service next
 * retires retired with them ('reload: service web removed: 3 backends draining'), the
 * table's parameters, checks, heartbeat timeout and allow list; each change is logged once.
 * Returns once a snapshot with next's pools is published, so that a worker that takes next
 * afterwards finds a pool for each of its services. Settings that need new sockets are the
 * caller's to keep as they were. next must stay valid until the next health_reconfigure or
 * health_stop (the thread reads it from now on). Returns 0 or -errno (health_call). */
int health_reconfigure(const struct slb_config *next);

/* Whether nothing uses service svc any more: no backend of it is left in the table (each
 * connection counts against its backend, which stays until its connections end or
 * --drain-timeout), so that service_align may give its index to another service. */
bool health_service_idle(unsigned svc);

#endif
