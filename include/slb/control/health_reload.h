/* health_reload: the health thread's part of a reload (health_reload.c). */
#ifndef SLB_HEALTH_RELOAD_H
#define SLB_HEALTH_RELOAD_H

#include "slb/common/config.h"

/* Applies next, a configuration validated whole, on the health thread: static backends
 * added, re-weighted or retired (drained, then removed once their connections end or at
 * --drain-timeout), the table's parameters, checks, heartbeat timeout and allow list; each
 * change is logged once. Settings that need new sockets are the caller's to keep as they
 * were. next must stay valid until the next health_reconfigure or health_stop (the thread
 * reads it from now on). Returns 0 or -errno (health_call). */
int health_reconfigure(const struct slb_config *next);

#endif
