/* balance: the pickers behind one ops table. A pick reads only the snapshot and the calling
 * worker's own state, so it takes no lock and writes no shared cache line. */
#ifndef SLB_BALANCE_H
#define SLB_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "slb/common/config.h"
#include "slb/common/snapshot.h"
#include "slb/common/stats.h"

#define BALANCE_MAX_EXCLUDE (CONFIG_MAX_RETRIES + 1) /* backends one connection may try */

/* Per-worker picker state. */
struct balance_state {
	uint32_t cursor;                   /* round-robin position in snapshot->rr */
	const struct worker_stats *stats;  /* this worker's active counts, for leastconn */
};

/* Ids that a connection already failed on, so a retry goes elsewhere. */
struct balance_exclude {
	uint32_t ids[BALANCE_MAX_EXCLUDE];
	unsigned n;
};

struct balance_ops {
	const char *name;
	/* Returns an index into s->be[] or -1 when every live backend is excluded or s is empty. */
	int (*pick)(const struct snapshot *s, struct balance_state *st, const struct balance_exclude *ex);
};

extern const struct balance_ops balance_roundrobin;
extern const struct balance_ops balance_leastconn;

const struct balance_ops *balance_ops_for(enum balance_algo algo);

bool balance_excluded(const struct balance_exclude *ex, uint32_t id);
void balance_exclude_add(struct balance_exclude *ex, uint32_t id);

#endif
