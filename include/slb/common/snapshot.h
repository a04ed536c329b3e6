/* snapshot: the immutable set of live backends that workers pick from, one pool per service
 * with what the pickers precompute. The health thread builds and publishes it; workers read it with one
 * acquire load and no lock; old sets are freed by QSBR once every reader has gone offline
 * since they were retired, or come back online after that.
 *
 * Reader protocol (worker_loop in src/dataplane/worker.c is the one user): register once,
 * then each loop turn reads snapshot_current() as often as it likes, calls snapshot_offline()
 * just before blocking in the kernel and snapshot_online() right after. The pair is the
 * quiescent point: between them the reader holds no snapshot pointer. */
#ifndef SLB_SNAPSHOT_H
#define SLB_SNAPSHOT_H

#include <stdint.h>

#include "slb/common/addr.h"

#define SNAP_MAX_POOLS 512       /* one per service (CONFIG_MAX_SERVICES) */
#define SNAP_ID_MAX 65535        /* the highest id any instance may use: pickers index be[] with
				  * uint16_t, and a pool holds at most SNAP_ID_MAX backends */
#define SNAP_ID_LIMIT_DEFAULT 1024 /* snap_id_limit() until snap_id_limit_set: --max-backends 1023 */
#define SNAP_MAX_READERS 256
#define SNAP_LIST_MIN 4096       /* the weighted round-robin sequence and the p2c draw list hold at
				  * most max(SNAP_LIST_MIN, SNAP_LIST_PER_BACKEND x n) entries */
#define SNAP_LIST_PER_BACKEND 16
#define SNAP_NAME_MAX 64         /* a backend's name with its NUL (HB_NAME_MAX, CONFIG_NAME_MAX) */
#define SNAP_WEIGHT_UNIT 100     /* eff_weight is in hundredths of a configured weight */
#define SNAP_LOAD_FULL 100       /* a backend reporting this load takes no p2c connections while
				  * another is below it */

struct snap_backend {
	uint32_t id;          /* stable for the backend's lifetime in the table; index of per-worker stats */
	uint32_t weight;      /* 1..256, as configured or registered (maglev uses this one) */
	uint32_t eff_weight;  /* weight x SNAP_WEIGHT_UNIT, less while slow start ramps it up; 0 on
			       * input to snapshot_build means "not ramping" (weight x SNAP_WEIGHT_UNIT).
			       * rr, leastconn and p2c share by this one */
	uint32_t load;        /* 0..100, as reported by heartbeat; 0 when unknown */
	uint32_t lat_pct;     /* measured latency over the fleet's median, in percent: 100 = at it or
			       * faster, up to 1000 (p2c's cost); 0 on input to snapshot_build means 100 */
	uint32_t draw_first;  /* set by snapshot_build: this backend's run of entries in draw[] */
	uint32_t draw_n;      /* (0 when it is left out of draw[]) */
	uint8_t send_proxy;   /* enum proxy_version this backend wants; 0: the global --send-proxy */
	struct slb_addr addr; /* where workers connect */
	char name[SNAP_NAME_MAX]; /* "" when none; for the access log, which a picker never reads */
};

/* One service's live backends and its pickers' precomputed tables, in one allocation. */
struct snap_pool {
	uint32_t n;               /* live backends in be[] */
	uint32_t rr_len;          /* entries in rr[] */
	uint16_t *rr;             /* smooth weighted round-robin order: indexes into be[] */
	uint32_t draw_len;        /* entries in draw[] */
	uint16_t *draw;           /* p2c's weighted draws: indexes into be[], each backend as often as
				   * its eff_weight allows in one run (be[i].draw_first, draw_n), leaving
				   * out backends at SNAP_LOAD_FULL unless all of them are */
	uint32_t maglev_len;      /* entries in maglev[]: a prime, 0 when no table was asked for */
	uint16_t *maglev;         /* Maglev lookup table: indexes into be[]; filled by the builder's
				   * caller (the health thread) before publishing */
	unsigned char maglev_key[16]; /* the SipHash key maglev[] was filled with */
	struct snap_backend be[]; /* the live backends, in id order */
};

/* What one publish makes current: every service's pool, so a worker reads one pointer per
 * connection and then its service's pool by index. Ids are global: a backend is in at most
 * one pool. Owns its pools. */
struct snapshot {
	uint64_t version;         /* rises by one per publish */
	uint32_t n_pools;         /* 1..SNAP_MAX_POOLS */
	struct snap_pool *pool[]; /* by service index; never NULL */
};

/* Ids run 1..snap_id_limit()-1 (0 means "none"): the bound of every array indexed by id (the
 * backend table, per-worker counters, leases). It is set once, from --max-backends, before
 * any thread starts and never changes after, so it is read without synchronisation. */
uint32_t snap_id_limit(void);

/* Sets the bound: limit is the number of ids plus one, 2..SNAP_ID_MAX+1. Only while no other
 * thread runs and nothing is sized from the old bound. Returns 0 or -EINVAL. */
int snap_id_limit_set(uint32_t limit);

/* The cap on the length of rr[] and draw[] for a pool of n backends: max(SNAP_LIST_MIN,
 * SNAP_LIST_PER_BACKEND x n), so a weight keeps its share to within 1/16 whatever the size. */
uint32_t snap_list_cap(uint32_t n);

/* Builds a pool of n live backends (copied; caller keeps its array), precomputing the
 * weighted round-robin order (interleaved, so weights 3:1 give A A B A, never A A A B bursts
 * where avoidable; rr_len is the sum of weights scaled down to at most snap_list_cap(n)).
 * n may be 0. Returns a heap snapshot owned by the caller until published, or NULL on ENOMEM. */
struct snap_pool *snap_pool_build(const struct snap_backend *live, uint32_t n);

/* snap_pool_build, plus room for a Maglev table of maglev_len entries (zeroed) in the same
 * allocation, for the caller to fill before it publishes the snapshot. maglev_len may be 0.
 * Also precomputes draw[] for p2c. Returns as snap_pool_build. */
struct snap_pool *snap_pool_build_ext(const struct snap_backend *live, uint32_t n, uint32_t maglev_len);

/* Frees a pool that no snapshot owns. Accepts NULL. */
void snap_pool_free(struct snap_pool *p);

/* A snapshot of the n pools (1..SNAP_MAX_POOLS, none NULL), which it owns from then on,
 * whatever the result: NULL on ENOMEM (the pools freed) or EINVAL (n out of range). */
struct snapshot *snapshot_assemble(struct snap_pool *const *pools, uint32_t n);

/* A snapshot of one pool (one service) of n live backends: snap_pool_build_ext then
 * snapshot_assemble. Returns a heap snapshot owned by the caller, or NULL. */
struct snapshot *snapshot_build_ext(const struct snap_backend *live, uint32_t n, uint32_t maglev_len);
struct snapshot *snapshot_build(const struct snap_backend *live, uint32_t n);

/* Live backends over every pool of s; 0 for NULL. */
uint32_t snapshot_live(const struct snapshot *s);

/* Frees a snapshot that was never published, with its pools. Accepts NULL. */
void snapshot_free(struct snapshot *s);

/* Makes s the current snapshot (release store) and retires the previous one, which is freed
 * by a later snapshot_reclaim once all readers have passed a quiescent point.
 * One publisher thread at a time (the health thread; main before workers start). */
void snapshot_publish(struct snapshot *s);

/* The current snapshot, or NULL before the first publish (acquire load). The pointer is
 * valid until the calling reader's next snapshot_offline: never keep it, or a backend
 * pointer from it, across loop turns (a connection keeps a backend id instead). */
const struct snapshot *snapshot_current(void);

/* Registers the calling reader (a worker); returns its index (>= 0) or -ENOSPC.
 * A new reader starts online. */
int snapshot_reader_register(void);

/* Reader idx is about to block (and holds no snapshot pointer) / is back. While offline it
 * never delays reclamation; coming back online acknowledges every publish made so far, so a
 * reader that goes offline and online once per loop turn passes a quiescent point per turn.
 * offline is a release store; online a seq_cst store (it pairs with snapshot_reclaim). */
void snapshot_offline(int idx);
void snapshot_online(int idx);

/* For "no reader can still pick what the last publish left out": take snapshot_mark() right
 * after a publish; snapshot_passed(mark) is then true once every reader online has passed a
 * quiescent point since (an offline reader holds no snapshot), and what a reader did before
 * that point (a connection counted against the backend it picked) is visible to the caller.
 * Publisher thread only. */
uint64_t snapshot_mark(void);
bool snapshot_passed(uint64_t mark);

/* Frees every retired snapshot that no online reader can still hold. Publisher thread only.
 * Returns how many snapshots are still waiting. */
unsigned snapshot_reclaim(void);

/* Frees the current and all retired snapshots; only after every reader has stopped. */
void snapshot_teardown(void);

#endif
