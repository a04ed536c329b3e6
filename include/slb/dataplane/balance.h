/* balance: the pickers behind one ops table. A pick reads only the snapshot and the calling
 * worker's own state, so it takes no lock and writes no shared cache line; the one exception
 * is p2c's global connection counts (one relaxed add and sub per connection, see
 * balance_p2c.c), kept only when that picker runs. */
#ifndef SLB_BALANCE_H
#define SLB_BALANCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "slb/common/config.h"
#include "slb/common/snapshot.h"
#include "slb/common/stats.h"

#define BALANCE_MAX_EXCLUDE (CONFIG_MAX_RETRIES + 1) /* backends one connection may try */

/* Open connections to one backend over all workers, on a cache line of its own so that
 * workers busy with different backends do not contend. */
struct balance_global_count {
	_Alignas(64) _Atomic uint32_t active;
};

/* Per-worker picker state. */
struct balance_state {
	uint32_t cursor;                   /* round-robin position in snapshot->rr */
	const struct worker_stats *stats;  /* this worker's active counts, for leastconn */
	uint64_t rng;                      /* p2c's xorshift state, never 0 */
	struct balance_global_count *global; /* p2c: counts by backend id; NULL for other pickers */
	unsigned char hash_key[CONFIG_HASH_KEY_BYTES]; /* maglev: SipHash key from --hash-seed */
	bool hash_port;                    /* maglev: the client's port is part of the key */
};

/* Ids that a connection already failed on, so a retry goes elsewhere. */
struct balance_exclude {
	uint32_t ids[BALANCE_MAX_EXCLUDE];
	unsigned n;
};

struct balance_ops {
	const char *name;
	/* Returns an index into s->be[] or -1 when every live backend is excluded or s is empty.
	 * key is balance_hash_client of the client's address when needs_client_addr, else 0. */
	int (*pick)(const struct snap_pool *s, struct balance_state *st, const struct balance_exclude *ex,
		    uint64_t key);
	bool needs_client_addr; /* the worker must learn each client's address at accept */
	bool needs_global;      /* conn.c keeps st->global counts for this picker */
};

extern const struct balance_ops balance_roundrobin;
extern const struct balance_ops balance_leastconn;
extern const struct balance_ops balance_p2c;
extern const struct balance_ops balance_maglev;

const struct balance_ops *balance_ops_for(enum balance_algo algo);

/* Prepares a worker's picker state for ops and one service's hash settings: worker_idx
 * spreads the rr cursors and seeds the random draws apart, stats are the worker's own
 * counters (read by leastconn). */
void balance_state_init(struct balance_state *st, const struct balance_ops *ops, const struct service_config *svc,
			unsigned worker_idx, const struct worker_stats *stats);

/* The maglev key of a client address (AF_INET or AF_INET6; anything else hashes as empty):
 * SipHash-2-4 under st->hash_key of the address bytes, plus the port when st->hash_port. */
uint64_t balance_hash_client(const struct balance_state *st, const struct sockaddr *sa);

/* A connection to backend id opened: counted in st->global when the picker uses it. Returns
 * whether it was counted, which the connection keeps for balance_conn_close: a reload may
 * switch pickers while it is open. */
static inline bool balance_conn_open(struct balance_state *st, uint32_t id)
{
	if (!st->global)
		return false;
	atomic_fetch_add_explicit(&st->global[id].active, 1, memory_order_relaxed);
	return true;
}

/* A connection opened with balance_conn_open closed; counted is what that returned. */
void balance_conn_close(uint32_t id, bool counted);

/* After a reload: st follows ops and the service's hash settings; the rr position, the random state
 * and the counters stay. Maglev cannot be switched to or from here (its accepts carry
 * addresses): the caller keeps such a change for the next start. */
void balance_state_reconfigure(struct balance_state *st, const struct balance_ops *ops,
			       const struct service_config *svc);

bool balance_excluded(const struct balance_exclude *ex, uint32_t id);
void balance_exclude_add(struct balance_exclude *ex, uint32_t id);

#endif
