/* balance_lc: weighted least connections over this worker's own active counts (no shared
 * counter is written per connection); ties rotate so equal backends share new connections. */
#include "slb/dataplane/balance.h"

/* a/wa < b/wb without division */
static bool lighter(uint64_t a, uint32_t wa, uint64_t b, uint32_t wb)
{
	return a * wb < b * wa;
}

static int lc_pick(const struct snapshot *s, struct balance_state *st, const struct balance_exclude *ex)
{
	int best = -1;
	uint64_t best_active = 0;
	uint32_t start;

	if (s->n == 0)
		return -1;
	start = st->cursor++ % s->n;
	for (uint32_t k = 0; k < s->n; k++) {
		uint32_t i = (start + k) % s->n;
		const struct snap_backend *b = &s->be[i];
		uint64_t active;

		if (ex && ex->n && balance_excluded(ex, b->id))
			continue;
		active = stat_get(&st->stats->be[b->id].active) + 1;
		if (best < 0 || lighter(active, b->weight, best_active, s->be[best].weight)) {
			best = (int)i;
			best_active = active;
		}
	}
	return best;
}

const struct balance_ops balance_leastconn = {
	.name = "leastconn",
	.pick = lc_pick,
};
