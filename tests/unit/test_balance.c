/* Pickers as properties: weights hold, load spreads evenly, retries never repeat a backend,
 * and nothing is picked from an empty set. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "slb/dataplane/balance.h"

/* n backends with ids 1..n; weights, loads and effective weights (0: not ramping) optional. */
static struct snap_pool *make_snap_full(unsigned n, const unsigned *weights, const unsigned *loads,
				       const unsigned *eff)
{
	struct snap_backend be[16];

	for (unsigned i = 0; i < n; i++) {
		memset(&be[i], 0, sizeof(be[i]));
		be[i].id = i + 1;
		be[i].weight = weights ? weights[i] : 1;
		be[i].load = loads ? loads[i] : 0;
		be[i].eff_weight = eff ? eff[i] : 0;
		addr_parse("127.0.0.1:9000", &be[i].addr, NULL, 0);
	}
	return snap_pool_build(be, n);
}

static struct snap_pool *make_snap(unsigned n, const unsigned *weights)
{
	return make_snap_full(n, weights, NULL, NULL);
}

static struct worker_stats *stats_new(void)
{
	return calloc(1, sizeof(struct worker_stats));
}

Test(roundrobin, weights_hold_over_a_cycle)
{
	unsigned w[] = { 3, 1, 2 };
	struct snap_pool *s = make_snap(3, w);
	struct balance_state st = { 0 };
	unsigned count[3] = { 0 };

	for (unsigned i = 0; i < 600; i++)
		count[balance_roundrobin.pick(s, &st, NULL, 0)]++;
	cr_assert_eq(count[0], 300);
	cr_assert_eq(count[1], 100);
	cr_assert_eq(count[2], 200);
	snap_pool_free(s);
}

Test(roundrobin, equal_weights_rotate)
{
	struct snap_pool *s = make_snap(3, NULL);
	struct balance_state st = { 0 };
	int prev = -1;

	for (unsigned i = 0; i < 30; i++) {
		int p = balance_roundrobin.pick(s, &st, NULL, 0);

		cr_assert_neq(p, prev);
		prev = p;
	}
	snap_pool_free(s);
}

/* Retries with a growing exclude list reach every backend of s (ids 1..n, n < 16) once,
 * then nothing. */
static void expect_retries_visit_each_once(const struct balance_ops *ops, const struct snap_pool *s,
					   struct balance_state *st)
{
	struct balance_exclude ex = { .n = 0 };
	bool seen[16] = { false };

	for (unsigned i = 0; i < s->n; i++) {
		int p = ops->pick(s, st, &ex, 0);

		cr_assert_geq(p, 0);
		cr_assert_not(seen[s->be[p].id], "%s: backend %u picked twice", ops->name, s->be[p].id);
		seen[s->be[p].id] = true;
		balance_exclude_add(&ex, s->be[p].id);
	}
	cr_assert_eq(ops->pick(s, st, &ex, 0), -1);
}

Test(roundrobin, retry_skips_tried_backends)
{
	struct snap_pool *s = make_snap(3, NULL);
	struct balance_state st = { 0 };

	expect_retries_visit_each_once(&balance_roundrobin, s, &st);
	snap_pool_free(s);
}

Test(roundrobin, empty_set_picks_nothing)
{
	struct snap_pool *s = make_snap(0, NULL);
	struct balance_state st = { 0 };

	cr_assert_eq(balance_roundrobin.pick(s, &st, NULL, 0), -1);
	cr_assert_eq(balance_leastconn.pick(s, &st, NULL, 0), -1);
	snap_pool_free(s);
}

Test(leastconn, picks_the_least_loaded)
{
	struct snap_pool *s = make_snap(3, NULL);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };

	stat_add(&ws->be[1].active, 5);
	stat_add(&ws->be[2].active, 1);
	stat_add(&ws->be[3].active, 3);
	cr_assert_eq(s->be[balance_leastconn.pick(s, &st, NULL, 0)].id, 2);
	free(ws);
	snap_pool_free(s);
}

Test(leastconn, spread_stays_within_one)
{
	struct snap_pool *s = make_snap(4, NULL);
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
	snap_pool_free(s);
}

Test(leastconn, weight_scales_the_share)
{
	unsigned w[] = { 3, 1 };
	struct snap_pool *s = make_snap(2, w);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };

	for (unsigned i = 0; i < 400; i++)
		stat_add(&ws->be[s->be[balance_leastconn.pick(s, &st, NULL, 0)].id].active, 1);
	cr_assert_eq(stat_get(&ws->be[1].active), 300);
	cr_assert_eq(stat_get(&ws->be[2].active), 100);
	free(ws);
	snap_pool_free(s);
}

Test(leastconn, retry_skips_tried_backends)
{
	struct snap_pool *s = make_snap(2, NULL);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };
	struct balance_exclude ex = { .n = 0 };

	balance_exclude_add(&ex, 1);
	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(s->be[balance_leastconn.pick(s, &st, &ex, 0)].id, 2);
	balance_exclude_add(&ex, 2);
	cr_assert_eq(balance_leastconn.pick(s, &st, &ex, 0), -1);
	free(ws);
	snap_pool_free(s);
}

Test(leastconn, ties_go_to_the_lower_reported_load)
{
	unsigned loads[] = { 50, 10, 30 };
	struct snap_pool *s = make_snap_full(3, NULL, loads, NULL);
	struct worker_stats *ws = stats_new();
	struct balance_state st = { .stats = ws };

	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(s->be[balance_leastconn.pick(s, &st, NULL, 0)].id, 2, "rotation beat the load");
	stat_add(&ws->be[2].active, 1);
	cr_assert_eq(s->be[balance_leastconn.pick(s, &st, NULL, 0)].id, 3, "connections still come first");
	free(ws);
	snap_pool_free(s);
}

Test(roundrobin, slow_start_shrinks_the_share)
{
	unsigned eff[] = { 100, 25 }; /* the second one a quarter of the way into its ramp */
	struct snap_pool *s = make_snap_full(2, NULL, NULL, eff);
	struct balance_state st = { 0 };
	unsigned count[2] = { 0 };

	for (unsigned i = 0; i < 1250; i++)
		count[balance_roundrobin.pick(s, &st, NULL, 0)]++;
	cr_assert_eq(count[0], 1000);
	cr_assert_eq(count[1], 250);
	snap_pool_free(s);
}

/* ---- p2c ---- */

struct p2c_fixture {
	struct balance_state st;
	struct balance_global_count *global;
};

static void p2c_init(struct p2c_fixture *f)
{
	struct service_config cfg = { 0 };

	f->global = calloc(snap_id_limit(), sizeof(*f->global));
	cr_assert(f->global);
	balance_state_init(&f->st, &balance_p2c, &cfg, 3, NULL);
	cr_assert_not_null(f->st.global, "p2c asks for global counts");
	f->st.global = f->global; /* a private array, so tests do not share counts */
}

/* Picks n times; each pick opens a connection that stays open. Returns counts by id. */
static void p2c_run(struct p2c_fixture *f, const struct snap_pool *s, unsigned n, unsigned *by_id)
{
	for (unsigned i = 0; i < n; i++) {
		int p = balance_p2c.pick(s, &f->st, NULL, 0);

		cr_assert_geq(p, 0);
		by_id[s->be[p].id]++;
		balance_conn_open(&f->st, s->be[p].id);
	}
}

Test(p2c, spread_stays_close_with_equal_weights)
{
	struct snap_pool *s = make_snap(4, NULL);
	struct p2c_fixture f;
	unsigned by_id[5] = { 0 };

	p2c_init(&f);
	for (unsigned i = 0; i < 400; i++) {
		unsigned lo = UINT32_MAX, hi = 0;

		p2c_run(&f, s, 1, by_id);
		for (unsigned b = 1; b <= 4; b++) {
			lo = by_id[b] < lo ? by_id[b] : lo;
			hi = by_id[b] > hi ? by_id[b] : hi;
		}
		/* two choices keep the gap O(log log n); a blind random pick drifts by ~sqrt(picks) */
		cr_assert_leq(hi - lo, 3, "max-min %u after %u picks", hi - lo, i + 1);
	}
	free(f.global);
	snap_pool_free(s);
}

Test(p2c, open_connections_follow_the_weights)
{
	unsigned w[] = { 3, 1, 4 };
	struct snap_pool *s = make_snap(3, w);
	struct p2c_fixture f;
	unsigned by_id[4] = { 0 };

	p2c_init(&f);
	p2c_run(&f, s, 8000, by_id);
	for (unsigned b = 1; b <= 3; b++) {
		double want = 8000.0 * w[b - 1] / 8;

		cr_assert(by_id[b] > want * 0.95 && by_id[b] < want * 1.05, "backend %u: %u, want %.0f", b, by_id[b],
			  want);
	}
	free(f.global);
	snap_pool_free(s);
}

/* Two backends with these loads and global connection counts: p2c must always pick `want`. */
struct p2c_duel {
	unsigned load[2];
	unsigned active[2];
	uint32_t want;
	char why[64];
};

ParameterizedTestParameters(p2c, the_cheaper_of_two_always_wins)
{
	static struct p2c_duel params[] = {
		{ { 0, 0 }, { 50, 0 }, 2, "fewer connections" },
		{ { 60, 0 }, { 5, 10 }, 2, "6 x 2.2 = 13.2 costs more than 11 x 1" },
		{ { 0, 60 }, { 12, 5 }, 1, "13 x 1 costs less than 6 x 2.2" },
		{ { 100, 99 }, { 0, 500 }, 2, "full load loses to any load below it" },
	};

	return cr_make_param_array(struct p2c_duel, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct p2c_duel *d, p2c, the_cheaper_of_two_always_wins)
{
	struct snap_pool *s = make_snap_full(2, NULL, d->load, NULL);
	struct p2c_fixture f;

	p2c_init(&f);
	atomic_store(&f.global[1].active, d->active[0]);
	atomic_store(&f.global[2].active, d->active[1]);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(s->be[balance_p2c.pick(s, &f.st, NULL, 0)].id, d->want, "%s", d->why);
	free(f.global);
	snap_pool_free(s);
}

Test(p2c, full_load_gets_nothing_while_another_is_below)
{
	unsigned loads[] = { 100, 99, 100, 0 };
	struct snap_pool *s = make_snap_full(4, NULL, loads, NULL);
	struct p2c_fixture f;
	unsigned by_id[5] = { 0 };

	p2c_init(&f);
	atomic_store(&f.global[2].active, 10); /* busy and loaded, yet below full */
	p2c_run(&f, s, 2000, by_id);
	cr_assert_eq(by_id[1] + by_id[3], 0, "full backends got %u", by_id[1] + by_id[3]);
	cr_assert_gt(by_id[2], 0);
	free(f.global);
	snap_pool_free(s);
}

Test(p2c, all_at_full_load_still_serve)
{
	unsigned loads[] = { 100, 100 };
	struct snap_pool *s = make_snap_full(2, NULL, loads, NULL);
	struct p2c_fixture f;
	unsigned by_id[3] = { 0 };

	p2c_init(&f);
	p2c_run(&f, s, 100, by_id);
	cr_assert_eq(by_id[1], 50);
	cr_assert_eq(by_id[2], 50);
	free(f.global);
	snap_pool_free(s);
}

Test(p2c, retry_skips_tried_backends)
{
	unsigned w[] = { 5, 1, 1, 2 };
	struct snap_pool *s = make_snap(4, w);
	struct p2c_fixture f;

	p2c_init(&f);
	for (unsigned round = 0; round < 50; round++)
		expect_retries_visit_each_once(&balance_p2c, s, &f.st);
	free(f.global);
	snap_pool_free(s);
}

Test(p2c, empty_set_picks_nothing)
{
	struct snap_pool *s = make_snap(0, NULL);
	struct p2c_fixture f;

	p2c_init(&f);
	cr_assert_eq(balance_p2c.pick(s, &f.st, NULL, 0), -1);
	free(f.global);
	snap_pool_free(s);
}

Test(balance, only_p2c_keeps_global_counts)
{
	struct service_config cfg = { 0 };
	struct balance_state st;

	balance_state_init(&st, &balance_roundrobin, &cfg, 0, NULL);
	cr_assert_null(st.global);
	balance_conn_open(&st, 1); /* a no-op, not a crash */
	balance_state_init(&st, &balance_leastconn, &cfg, 0, NULL);
	cr_assert_null(st.global);
}

Test(balance, ops_for_each_algorithm)
{
	cr_assert_str_eq(balance_ops_for(BALANCE_ROUNDROBIN)->name, "roundrobin");
	cr_assert_str_eq(balance_ops_for(BALANCE_LEASTCONN)->name, "leastconn");
	cr_assert_str_eq(balance_ops_for(BALANCE_P2C)->name, "p2c");
	cr_assert_str_eq(balance_ops_for(BALANCE_MAGLEV)->name, "maglev");
	cr_assert(balance_ops_for(BALANCE_MAGLEV)->needs_client_addr);
	cr_assert_not(balance_ops_for(BALANCE_P2C)->needs_client_addr);
}

/* Health's latency factor scales the cost: a backend four times slower than the median loses
 * against one with two more connections (3 x 100 < 1 x 400). */
Test(p2c, measured_latency_scales_the_cost)
{
	struct snap_pool *s = make_snap_full(2, NULL, NULL, NULL);
	struct p2c_fixture f;

	p2c_init(&f);
	cr_assert_eq(s->be[0].lat_pct, 100, "0 on input means 100, not a free backend");
	s->be[1].lat_pct = 400;
	atomic_store(&f.global[1].active, 2);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(s->be[balance_p2c.pick(s, &f.st, NULL, 0)].id, 1, "3 x 100 is cheaper than 1 x 400");
	free(f.global);
	snap_pool_free(s);
}
