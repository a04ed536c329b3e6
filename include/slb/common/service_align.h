/* service_align: a reloaded configuration's services lined up with the running one's. A
 * service's identity across a reload is its name; its index is what the snapshot's pools, the
 * workers' pickers and every open connection (conn.svc) hold, so an index must keep meaning
 * the same service while anything may still use it. Pure: no threads, no I/O. */
#ifndef SLB_SERVICE_ALIGN_H
#define SLB_SERVICE_ALIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "slb/common/config.h"

/* What one reload does to the services, by index in the aligned config. */
struct service_align {
	unsigned n_added, n_removed, n_kept;
	uint16_t added[CONFIG_MAX_SERVICES];        /* new, or back after a removal */
	uint16_t removed[CONFIG_MAX_SERVICES];      /* served before, retired by this reload */
	uint16_t kept[CONFIG_MAX_SERVICES];         /* served before and after */
};

/* Whether retired service idx is no longer used by anything (no backend left in its pool, no
 * connection of it), so that a service of another name may take its index. */
typedef bool (*service_idle_fn)(unsigned idx, void *arg);

/* Rewrites next (as parsed and validated, services in file order) against run (the running
 * config, which may hold retired services) so that:
 *  - a service of next named as one of run (retired or not) takes run's index;
 *  - a new name takes the lowest index run never used, or when all CONFIG_MAX_SERVICES were,
 *    a retired one that idle (may be NULL: none is) says is unused;
 *  - a service of run that next does not name stays at its index with run's settings and
 *    retired set (an open connection of it still reads its timeouts);
 *  - next->listen_service, next->listen_sni's bits and next->backends[].service follow their
 *    services.
 * So n_services never shrinks within one process. Returns 0 with *out filled, or -ENOSPC with
 * err filled and next unchanged when no index is left for a new service. */
int service_align(const struct slb_config *run, struct slb_config *next, service_idle_fn idle, void *arg,
		  struct service_align *out, char *err, size_t errlen);

#endif
