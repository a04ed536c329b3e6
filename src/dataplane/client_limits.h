/* client_limits: per-client limits and allow/deny rules of a service, checked once per client
 * before any backend is contacted (--client-max-conns, --client-max-rate, --client-allow,
 * --client-deny; with --accept-proxy the client is the one its PROXY header names).
 *
 * The counts live in one table shared by every worker, allocated at start and never grown:
 * CLIENT_TABLE_SIZE entries, open addressing keyed by a keyed SipHash of (service, address
 * cut to /32 or --client-ipv6-prefix), probed over CLIENT_PROBE neighbours. Workers touch it
 * with atomics only (a CAS to claim or evict an entry, an add per connection, a CAS loop on
 * the token bucket), never a lock. An entry is never emptied: a newcomer whose neighbourhood
 * is taken evicts an idle one (no open connection counted, bucket full again). When every
 * neighbour is active the table is full there and the client is let in uncounted (fail open,
 * as a full HAProxy stick table does: a flood of distinct addresses must not lock every new
 * client out; --max-conns still bounds the whole), counted in slb_client_untracked_total.
 * Two clients share counts only if their 64-bit keyed hashes collide (a random key per
 * process). A connection holds the entry it was counted in (conn->client_entry) and gives it
 * back once, in conn_release, whatever closed it. */
#ifndef SLB_CLIENT_LIMITS_H
#define SLB_CLIENT_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "slb/common/client_acl.h"
#include "slb/common/config.h"

#define CLIENT_TABLE_SIZE 65536u /* entries (32 bytes each: 2 MiB, touched only as used) */
#define CLIENT_PROBE 16u         /* neighbours looked at before the table counts as full there */

struct client_table;

enum client_verdict {
	CLIENT_OK = 0,      /* let in; counted in *entry unless that is 0 */
	CLIENT_UNTRACKED,   /* let in uncounted: no entry could be had (table full there) */
	CLIENT_DENIED,      /* the allow/deny rules keep it out */
	CLIENT_OVER_CONNS,  /* it has client_max_conns open already */
	CLIENT_OVER_RATE,   /* its token bucket is empty */
};

/* What client_table_admit decided beyond the verdict. */
struct client_admission {
	uint32_t entry; /* CLIENT_OK: the entry the connection holds (1-based), 0: none held */
	bool log;       /* a refusal that is the first of this client in this second: log it */
};

/* A table of size entries (a power of two >= CLIENT_PROBE), zeroed, with a random hash key.
 * Returns NULL when out of memory. Freed with client_table_free once no worker uses it. */
struct client_table *client_table_new(uint32_t size);
void client_table_free(struct client_table *t);

/* Decides whether ip, a client of service svc configured by s, may open one more connection
 * at now_ms (any monotonic ms clock; workers pass their coarse clock): the rules first, then
 * the connection count (reserved), then the rate (a token taken; the reservation undone on a
 * refusal, so a refused connection costs no token and no count). On CLIENT_OK with a count
 * limit, out->entry must be given back with client_table_release exactly once. */
enum client_verdict client_table_admit(struct client_table *t, const struct service_config *s, unsigned svc,
				       const struct client_ip *ip, int64_t now_ms, struct client_admission *out);

/* Gives back the connection counted in entry (from client_table_admit; 0 does nothing). */
void client_table_release(struct client_table *t, uint32_t entry);

/* Open connections counted for ip in service svc (tests and diagnostics): 0 when it has no
 * entry. Not a hot-path function: it probes like an admit without claiming anything. */
uint32_t client_table_conns(struct client_table *t, const struct service_config *s, unsigned svc,
			    const struct client_ip *ip);

struct worker;
struct conn;

/* The worker's side, from conn.c's accept (peer: the address accept wrote, or the one the
 * PROXY header named): nothing when c's service limits no client; else the verdict, and a
 * refused client is counted, logged at most once per second per client, and reset. Returns
 * true when c goes on (to a backend), false when it was finalized: the caller must not touch
 * c again. */
bool client_limits_admit_conn(struct worker *w, struct conn *c, const struct sockaddr *peer);

#endif
