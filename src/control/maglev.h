/* maglev: builds the Maglev lookup table (Eisenbud et al., NSDI 2016) that the maglev picker
 * reads from the snapshot. Pure: depends only on the snapshot's backends (addresses and
 * weights) and the key, so every slb instance with the same backends and --hash-seed builds
 * the same table. */
#ifndef SLB_MAGLEV_H
#define SLB_MAGLEV_H

#include <stdint.h>

#include "slb/common/config.h"
#include "slb/common/snapshot.h"

#define MAGLEV_SIZE_MAX 6553511 /* the smallest prime >= 100 x SNAP_ID_MAX: 12.5 MiB of uint16_t */

/* The table size for up to n backends: the smallest prime of a fixed list (about one per
 * doubling) that is >= 100 n, at most MAGLEV_SIZE_MAX (>= 100 x SNAP_ID_MAX, so the cap never
 * binds). 10,000 backends get 1,048,573 slots (2 MiB a snapshot).
 * 0 for n 0. Give it the most backends there may be, not the live count: the size must not
 * change when a backend comes or goes, or nearly every key would move. */
uint32_t maglev_table_size(uint32_t n);

/* Fills s->maglev[0..s->maglev_len) with indexes into s->be[]. Backends take turns in address
 * order (not id order, which depends on registration order); each takes slots in proportion
 * to its configured weight (slow start does not apply) and at least one. Each backend's
 * preference list comes from the SipHash-2-4 of its address text under key.
 * Returns 0, -EINVAL when s->maglev_len is not a prime > 1 from maglev_table_size, or -ENOMEM. */
int maglev_fill(struct snap_pool *s, const unsigned char key[CONFIG_HASH_KEY_BYTES]);

/* maglev_fill, or a copy of prev's table when prev (may be NULL: the last published snapshot)
 * has the same table size, key and backends in the same order with the same addresses and
 * weights, since maglev_fill would compute the same table: a publish for a load, latency or
 * slow-start change rebuilds nothing (up to MAGLEV_SIZE_MAX slots a time, every 10 ms tick).
 * Returns 1 when it copied, else as maglev_fill. */
int maglev_fill_reusing(struct snap_pool *s, const struct snap_pool *prev,
			const unsigned char key[CONFIG_HASH_KEY_BYTES]);

#endif
