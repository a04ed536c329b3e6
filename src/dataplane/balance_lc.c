/* balance_lc: weighted least connections over this worker's own active counts (no shared
 * counter is written per connection). Ties go to the backend that reported the lower load,
 * then rotate, so equal backends share new connections. */
#include "slb/dataplane/balance.h"

/* a/wa < b/wb without division; on a tie, the lower reported load */
static bool lighter(uint64_t a, const struct snap_backend *x, uint64_t b, const struct snap_backend *y)
{
	uint64_t ax = a * y->eff_weight, by = b * x->eff_weight;

	return ax < by || (ax == by && x->load < y->load);
}

static int lc_pick(const struct snap_pool *s, struct balance_state *st, const struct balance_exclude *ex,
		   uint64_t key)
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
		if (best < 0 || lighter(active, b, best_active, &s->be[best])) {
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
