/* balance_rr: weighted round robin. Health precomputes the interleaved order in the snapshot
 * (snapshot->rr), so a pick is a cursor step and a load; the cursor is per worker. */
#include "slb/dataplane/balance.h"

static int rr_pick(const struct snap_pool *s, struct balance_state *st, const struct balance_exclude *ex,
		   uint64_t key)
{
	if (s->n == 0 || s->rr_len == 0)
		return -1;
	/* Excluded backends are skipped; after rr_len steps every live backend has been seen. */
	for (uint32_t step = 0; step < s->rr_len; step++) {
		uint32_t idx = s->rr[st->cursor++ % s->rr_len];

		if (!ex || ex->n == 0 || !balance_excluded(ex, s->be[idx].id))
			return (int)idx;
	}
	return -1;
}

const struct balance_ops balance_roundrobin = {
	.name = "roundrobin",
	.pick = rr_pick,
};
