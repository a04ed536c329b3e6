/* balance_p2c: power of two choices. Two distinct live backends are drawn at random, in
 * proportion to their (slow-start) weights, from the list health precomputed (snapshot->draw,
 * which already leaves out backends at full load while another is below); the cheaper wins.
 *
 * Cost = (open connections over all workers + 1) / weight, scaled by the load the backend last
 * reported: x (100 + 2 load) / 100, so a server at load 50 counts as twice as busy; and by its
 * measured latency (lat_pct / 100, computed by health from the workers' time to first byte
 * and connect time over the fleet's median, 1x to 10x), so a slow server already gets less
 * before outlier detection ejects it. The
 * connections are global, not this worker's: with SO_REUSEPORT spreading clients unevenly, a
 * worker's own counts say little about a slow server that other workers keep busy.
 *
 * Global counts: one relaxed atomic per backend id, on its own cache line, added at connect
 * and subtracted at close (balance_conn_open/close). The alternative, summing every worker's
 * per-backend active counter at each pick, costs 2 x workers loads of lines that their owners
 * keep writing: O(workers) cache misses per pick against two uncontended-in-the-common-case
 * atomic RMWs per connection (the same price as the --max-conns count every connection pays). */
#include "slb/dataplane/balance.h"

#define P2C_TRIES 4 /* draws for a candidate before giving up on randomness */

/* xorshift64*: a few cycles, per-worker state, nothing shared. */
static uint32_t p2c_rand32(struct balance_state *st)
{
	uint64_t x = st->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	st->rng = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* Uniform in [0, n) by multiply-shift: no division on the hot path. */
static uint32_t p2c_below(struct balance_state *st, uint32_t n)
{
	return (uint32_t)(((uint64_t)p2c_rand32(st) * n) >> 32);
}

static bool p2c_usable(const struct snap_pool *s, const struct balance_exclude *ex, int i)
{
	return !(ex && ex->n && balance_excluded(ex, s->be[i].id));
}

/* A weighted random backend that is not excluded, or -1 after P2C_TRIES draws. Without
 * `other` (-1) from all of draw[]; else from draw[] minus other's run, so the two candidates
 * differ and the second is still drawn by weight: O(1), no rejection of `other`. */
static int p2c_draw(const struct snap_pool *s, struct balance_state *st, const struct balance_exclude *ex,
		    int other)
{
	uint32_t first = other < 0 ? 0 : s->be[other].draw_first;
	uint32_t skip = other < 0 ? 0 : s->be[other].draw_n;

	if (skip >= s->draw_len)
		return -1;
	for (unsigned t = 0; t < P2C_TRIES; t++) {
		uint32_t k = p2c_below(st, s->draw_len - skip);
		int i = s->draw[k < first ? k : k + skip];

		if (p2c_usable(s, ex, i))
			return i;
	}
	return -1;
}

/* True when x costs no more than y (see the top of the file); full load loses to any less. */
static bool p2c_cheaper(const struct balance_state *st, const struct snap_backend *x,
			const struct snap_backend *y)
{
	bool x_full = x->load >= SNAP_LOAD_FULL, y_full = y->load >= SNAP_LOAD_FULL;
	uint64_t cx, cy;

	if (x_full != y_full)
		return y_full;
	/* at most ~1e6 x 300 x 1000 x 25600: no overflow */
	cx = (atomic_load_explicit(&st->global[x->id].active, memory_order_relaxed) + 1ull) *
	     (SNAP_WEIGHT_UNIT + 2ull * x->load) * x->lat_pct;
	cy = (atomic_load_explicit(&st->global[y->id].active, memory_order_relaxed) + 1ull) *
	     (SNAP_WEIGHT_UNIT + 2ull * y->load) * y->lat_pct;
	return cx * y->eff_weight <= cy * x->eff_weight;
}

/* Retries whose draws kept hitting tried backends: the cheapest one left, O(n). Rare, so
 * the hot path stays two draws and one comparison. */
static int p2c_scan(const struct snap_pool *s, struct balance_state *st, const struct balance_exclude *ex)
{
	int best = -1;

	for (uint32_t i = 0; i < s->n; i++)
		if (p2c_usable(s, ex, (int)i) && (best < 0 || !p2c_cheaper(st, &s->be[best], &s->be[i])))
			best = (int)i;
	return best;
}

static int p2c_pick(const struct snap_pool *s, struct balance_state *st, const struct balance_exclude *ex,
		    uint64_t key)
{
	int a, b;

	if (s->n == 0 || s->draw_len == 0)
		return -1;
	a = p2c_draw(s, st, ex, -1);
	if (a < 0)
		return p2c_scan(s, st, ex);
	b = p2c_draw(s, st, ex, a);
	if (b < 0)
		return a; /* one backend holds nearly all the weight, or is the only one left */
	return p2c_cheaper(st, &s->be[a], &s->be[b]) ? a : b;
}

const struct balance_ops balance_p2c = {
	.name = "p2c",
	.pick = p2c_pick,
	.needs_global = true,
};
