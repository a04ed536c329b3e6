/* Pickers as properties: weights hold, load spreads evenly, retries never repeat a backend,
 * and nothing is picked from an empty set. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "slb/dataplane/balance.h"

static struct snapshot *make_snap(unsigned n, const unsigned *weights)
{
	struct snap_backend be[16];

	for (unsigned i = 0; i < n; i++) {
		memset(&be[i], 0, sizeof(be[i]));
		be[i].id = i + 1;
		be[i].weight = weights ? weights[i] : 1;
		addr_parse("127.0.0.1:9000", &be[i].addr, NULL, 0);
	}
	return snapshot_build(be, n);
}

static struct worker_stats *stats_new(void)
{
	return calloc(1, sizeof(struct worker_stats));
}

Test(roundrobin, weights_hold_over_a_cycle)
{
	unsigned w[] = { 3, 1, 2 };
	struct snapshot *s = make_snap(3, w);
	struct balance_state st = { 0 };
	unsigned count[3] = { 0 };

	for (unsigned i = 0; i < 600; i++)
		count[balance_roundrobin.pick(s, &st, NULL, 0)]++;
	cr_assert_eq(count[0], 300);
	cr_assert_eq(count[1], 100);
	cr_assert_eq(count[2], 200);
	snapshot_free(s);
}

Test(roundrobin, equal_weights_rotate)
{
	struct snapshot *s = make_snap(3, NULL);
	struct balance_state st = { 0 };
	int prev = -1;

	for (unsigned i = 0; i < 30; i++) {
		int p = balance_roundrobin.pick(s, &st, NULL, 0);

		cr_assert_neq(p, prev);
		prev = p;
	}
	snapshot_free(s);
}

Test(roundrobin, retry_skips_tried_backends)
{
	struct snapshot *s = make_snap(3, NULL);
	struct balance_state st = { 0 };
	struct balance_exclude ex = { .n = 0 };
	bool seen[4] = { false };

	for (unsigned i = 0; i < 3; i++) {
		int p = balance_roundrobin.pick(s, &st, &ex, 0);

		cr_assert_geq(p, 0);
		cr_assert_not(seen[s->be[p].id], "backend %u picked twice", s->be[p].id);
		seen[s->be[p].id] = true;
		balance_exclude_add(&ex, s->be[p].id);
	}
	cr_assert_eq(balance_roundrobin.pick(s, &st, &ex, 0), -1);
	snapshot_free(s);
}

Test(roundrobin, empty_set_picks_nothing)
{
	struct snapshot *s = make_snap(0, NULL);
	struct balance_state st = { 0 };

	cr_assert_eq(balance_roundrobin.pick(s, &st, NULL, 0), -1);
	cr_assert_eq(balance_leastconn.pick(s, &st, NULL, 0), -1);
	snapshot_free(s);
}

Test(leastconn, picks_the_least_loaded)
{
	struct snapshot *s = make_snap(3, NULL);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };

	stat_add(&ws->be[1].active, 5);
	stat_add(&ws->be[2].active, 1);
	stat_add(&ws->be[3].active, 3);
	cr_assert_eq(s->be[balance_leastconn.pick(s, &st, NULL, 0)].id, 2);
	free(ws);
	snapshot_free(s);
}

Test(leastconn, spread_stays_within_one)
{
	struct snapshot *s = make_snap(4, NULL);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };

	for (unsigned i = 0; i < 103; i++) {
		int p = balance_leastconn.pick(s, &st, NULL, 0);
		uint64_t lo = UINT64_MAX, hi = 0;

		stat_add(&ws->be[s->be[p].id].active, 1);
		for (unsigned b = 1; b <= 4; b++) {
			uint64_t a = stat_get(&ws->be[b].active);

			lo = a < lo ? a : lo;
			hi = a > hi ? a : hi;
		}
		cr_assert_leq(hi - lo, 1, "max-min load %lu after %u picks", (unsigned long)(hi - lo), i + 1);
	}
	free(ws);
	snapshot_free(s);
}

Test(leastconn, weight_scales_the_share)
{
	unsigned w[] = { 3, 1 };
	struct snapshot *s = make_snap(2, w);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };

	for (unsigned i = 0; i < 400; i++)
		stat_add(&ws->be[s->be[balance_leastconn.pick(s, &st, NULL, 0)].id].active, 1);
	cr_assert_eq(stat_get(&ws->be[1].active), 300);
	cr_assert_eq(stat_get(&ws->be[2].active), 100);
	free(ws);
	snapshot_free(s);
}

Test(leastconn, retry_skips_tried_backends)
{
	struct snapshot *s = make_snap(2, NULL);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };
	struct balance_exclude ex = { .n = 0 };

	balance_exclude_add(&ex, 1);
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(s->be[balance_leastconn.pick(s, &st, &ex, 0)].id, 2);
	balance_exclude_add(&ex, 2);
	cr_assert_eq(balance_leastconn.pick(s, &st, &ex, 0), -1);
	free(ws);
	snapshot_free(s);
}

Test(balance, ops_for_each_algorithm)
{
	cr_assert_str_eq(balance_ops_for(BALANCE_ROUNDROBIN)->name, "roundrobin");
	cr_assert_str_eq(balance_ops_for(BALANCE_LEASTCONN)->name, "leastconn");
}
