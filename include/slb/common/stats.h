/* stats: per-worker counters, written only by their worker with relaxed stores and read
 * by the admin endpoint with relaxed loads, so no cache line is shared on the hot path. */
#ifndef SLB_STATS_H
#define SLB_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "slb/common/latency.h"
#include "slb/common/snapshot.h"

typedef _Atomic uint64_t stat_t;

struct backend_stats {
	stat_t active;           /* open connections to this backend, from this worker */
	stat_t conns;            /* connections established */
	stat_t connect_failures; /* refused, reset or timed out connects */
	stat_t replays;          /* requests it dropped unanswered, sent to another backend */
	stat_t bytes_to_backend;
	stat_t bytes_to_client;
	struct lat_ewma connect; /* connect submitted -> connected */
	struct lat_ewma ttfb;    /* client's first byte sent on (or connected) -> backend's first byte back */
};

/* Per service: clients refused by its --client-* settings (client_limits.c). */
struct client_stats {
	stat_t denied;           /* by --client-allow / --client-deny */
	stat_t over_conns;       /* past --client-max-conns */
	stat_t over_rate;        /* past --client-max-rate */
	stat_t untracked;        /* let in uncounted: the client table had no room (fails open) */
};

struct worker_stats {
	stat_t accepted;
	stat_t active;           /* client connections open */
	stat_t rejected;         /* refused at --max-conns or out of descriptors */
	stat_t no_backend;       /* clients closed because no backend could be reached */
	stat_t retries;          /* connects retried on another backend */
	stat_t connect_failures;
	stat_t idle_timeouts;
	stat_t backend_resets;   /* backends that reset a relayed connection */
	stat_t replays;          /* --retry-unanswered: requests sent again to another backend */
	stat_t no_backend_503;   /* --no-backend http-503: clients answered 503 */
	stat_t bytes_in;         /* client -> backend */
	stat_t bytes_out;        /* backend -> client */
	stat_t splice_transfers;
	stat_t copy_transfers;
	stat_t loop_turns;       /* also the worker's quiescent epoch, as seen by admin */
	stat_t proxy_errors;     /* --accept-proxy: clients closed for a bad or late header */
	stat_t sni_errors;       /* sni listeners: clients closed for a malformed ClientHello */
	stat_t sni_timeouts;     /* sni listeners: clients closed for no whole ClientHello in time */
	stat_t sni_unrouted;     /* sni listeners: clients closed, no service for their name */
	stat_t access_log_lines; /* lines pushed to the access log ring */
	stat_t access_log_dropped; /* lines dropped on a full ring */
	struct client_stats clients[SNAP_MAX_POOLS]; /* indexed by service */
	/* Indexed by backend id, up to the highest any instance may have: workers_prepare maps
	 * the channels fresh (zero pages), so only the entries of ids below snap_id_limit() that
	 * a worker connected to are ever resident. */
	struct backend_stats be[SNAP_ID_MAX + 1];
};

/* Single writer: a relaxed load plus store is enough and keeps the add a plain add. */
static inline void stat_add(stat_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline void stat_sub(stat_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - v, memory_order_relaxed);
}

static inline uint64_t stat_get(const stat_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
