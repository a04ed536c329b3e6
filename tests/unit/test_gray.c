/* Gray failures, the pure arithmetic: the workers' EWMA, the lower median, the ejection time
 * that doubles, outlier verdicts with the cap, phi on synthetic arrival series, and the
 * backend table's outlier inputs event by event. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/latency.h"
#include "slb/common/log.h"
#include "slb/control/backend_table.h"
#include "slb/control/gray.h"
#include "slb/control/phi.h"

/* ---- EWMA ---- */

struct ewma_case {
	uint64_t avg_us, n, sample_us, want_us;
};

ParameterizedTestParameters(gray, ewma_moves_an_eighth_of_the_way)
{
	static struct ewma_case cases[] = {
		{ 0, 0, 300000, 300000 },  /* the first sample is the average */
		{ 8000, 5, 16000, 9000 },  /* up by (16000 - 8000) / 8 */
		{ 16000, 5, 8000, 15000 }, /* down by as much */
		{ 1000, 3, 1000, 1000 },
		{ 2000, 9, 0, 1750 },
	};

	return cr_make_param_array(struct ewma_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ewma_case *c, gray, ewma_moves_an_eighth_of_the_way)
{
	cr_assert_eq(lat_ewma_next(c->avg_us, c->n, c->sample_us), c->want_us);
}

Test(gray, ewma_starts_afresh_after_a_second_without_samples)
{
	struct lat_ewma e;

	memset(&e, 0, sizeof(e));
	for (int64_t t = 1000; t < 1100; t += 10)
		lat_ewma_add(&e, 300, t);
	cr_assert_eq(atomic_load(&e.avg_us), 300000);
	cr_assert_eq(atomic_load(&e.n), 10);
	lat_ewma_add(&e, 2, 1090 + LAT_STALE_MS); /* within a second: blended */
	cr_assert_eq(atomic_load(&e.avg_us), 300000 - (300000 - 2000) / 8);
	lat_ewma_add(&e, 2, 1091 + 2 * LAT_STALE_MS); /* after: a new average */
	cr_assert_eq(atomic_load(&e.avg_us), 2000);
	cr_assert_eq(atomic_load(&e.n), 1);
}

Test(gray, workers_combine_by_their_samples_and_stale_ones_drop_out)
{
	struct lat_ewma a, b, c;
	struct gray_sum s = { 0, 0, 0 };
	struct gray_figure f;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 40; i++)
		lat_ewma_add(&a, 2, 5000); /* weight capped at GRAY_WEIGHT_MAX */
	for (int i = 0; i < 8; i++)
		lat_ewma_add(&b, 8, 5000);
	lat_ewma_add(&c, 900, 3000); /* stale at 5000 */
	gray_sum_add(&s, &a, 5000);
	gray_sum_add(&s, &b, 5000);
	gray_sum_add(&s, &c, 5000);
	f = gray_sum_figure(&s);
	cr_assert_eq(f.avg_us, (2000 * 16 + 8000 * 8) / 24);
	cr_assert_eq(f.n, 48);
}

/* ---- median and ejection time ---- */

struct median_case {
	unsigned n;
	uint64_t v[6];
	uint64_t want;
};

ParameterizedTestParameters(gray, lower_median)
{
	static struct median_case cases[] = {
		{ 1, { 7 }, 7 },
		{ 2, { 300, 2 }, 2 },            /* the lower of two: the fast half is the reference */
		{ 3, { 300, 2, 3 }, 3 },
		{ 4, { 9, 1, 5, 3 }, 3 },
		{ 6, { 6, 5, 4, 3, 2, 1 }, 3 },
	};

	return cr_make_param_array(struct median_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct median_case *c, gray, lower_median)
{
	cr_assert_eq(gray_lower_median(c->v, c->n), c->want);
}

struct eject_case {
	unsigned base_ms, count;
	int64_t want_ms;
};

ParameterizedTestParameters(gray, ejection_doubles_up_to_a_cap)
{
	static struct eject_case cases[] = {
		{ 30000, 1, 30000 },   { 30000, 2, 60000 },   { 30000, 4, 240000 }, { 30000, 5, 300000 },
		{ 30000, 40, 300000 }, { 600000, 3, 600000 }, { 1000, 1, 1000 },    { 2000, 2, 4000 },
	};

	return cr_make_param_array(struct eject_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct eject_case *c, gray, ejection_doubles_up_to_a_cap)
{
	cr_assert_eq(gray_ejection_ms(c->base_ms, c->count), c->want_ms);
}

/* ---- verdicts ---- */

static const struct gray_params detect = { .detect = true, .factor_pct = 300, .min_requests = 20,
					   .max_ejected_pct = 50 };

static struct gray_candidate cand(uint32_t id, uint64_t ttfb_ms, uint64_t n)
{
	struct gray_candidate c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.live = true;
	c.ttfb = (struct gray_figure){ ttfb_ms * 1000, n };
	c.connect = (struct gray_figure){ 100, n };
	return c;
}

Test(gray, the_slow_one_of_three_is_an_outlier_with_its_figures)
{
	struct gray_candidate c[3] = { cand(1, 2, 50), cand(2, 2, 50), cand(3, 310, 50) };

	c[1].ttfb.avg_us = 2400;
	cr_assert_eq(gray_judge(c, 3, &detect), 1);
	cr_assert(!c[0].outlier && !c[1].outlier && c[2].outlier);
	cr_assert_str_eq(c[2].reason, "outlier, ttfb 310 ms vs median 2 ms");
	cr_assert_eq(c[2].lat_pct, GRAY_LAT_PCT_MAX);
	cr_assert_eq(c[0].lat_pct, 100);
}

Test(gray, nothing_is_judged_before_min_requests_or_without_detection)
{
	struct gray_candidate c[3] = { cand(1, 2, 50), cand(2, 2, 50), cand(3, 310, 19) };
	struct gray_params off = detect;

	cr_assert_eq(gray_judge(c, 3, &detect), 0);
	cr_assert_not(c[2].outlier);
	c[2].ttfb.n = 20;
	off.detect = false;
	cr_assert_eq(gray_judge(c, 3, &off), 0);
	cr_assert_eq(c[2].lat_pct, GRAY_LAT_PCT_MAX, "p2c still hears about it");
}

Test(gray, small_figures_are_floored_so_fast_backends_are_never_outliers)
{
	struct gray_candidate c[3] = { cand(1, 0, 50), cand(2, 0, 50), cand(3, 14, 50) };

	cr_assert_eq(gray_judge(c, 3, &detect), 0, "14 ms is under 3 x the 5 ms floor");
	c[2].ttfb.avg_us = 16000;
	cr_assert_eq(gray_judge(c, 3, &detect), 1);
}

Test(gray, two_slow_of_three_are_outliers_but_the_cap_ejects_one_the_worst)
{
	struct gray_candidate c[3] = { cand(1, 2, 50), cand(2, 300, 50), cand(3, 400, 50) };

	cr_assert_eq(gray_judge(c, 3, &detect), 1);
	cr_assert(c[2].outlier && !c[2].capped);
	cr_assert(!c[1].outlier && c[1].capped);
	cr_assert_str_eq(c[1].reason, "outlier, ttfb 300 ms vs median 2 ms");
}

Test(gray, the_ejected_count_against_the_cap)
{
	struct gray_candidate c[3] = { cand(1, 2, 50), cand(2, 0, 0), cand(3, 300, 50) };

	c[1].live = false;
	c[1].ejected = true;
	cr_assert_eq(gray_judge(c, 3, &detect), 0);
	cr_assert(c[2].capped);
	c[1].ejected = false; /* down for another reason: not in the fleet, so 1 of 2 may go */
	cr_assert_eq(gray_judge(c, 3, &detect), 1);
	cr_assert(c[2].outlier);
}

Test(gray, connect_time_is_judged_too)
{
	struct gray_candidate c[3] = { cand(1, 2, 50), cand(2, 2, 50), cand(3, 2, 50) };

	c[0].connect.avg_us = 250000;
	cr_assert_eq(gray_judge(c, 3, &detect), 1);
	cr_assert_str_eq(c[0].reason, "outlier, connect 250 ms vs median 0 ms");
}

/* ---- phi ---- */

/* The first silence (ms) at which phi reaches limit, for the window w. */
static int64_t phi_first_over(const struct phi_window *w, double limit)
{
	double mean, sd;

	cr_assert(phi_stats(w, &mean, &sd));
	for (int64_t t = 0; t < 100000; t++)
		if (phi_value(mean, sd, (double)t) >= limit)
			return t;
	return -1;
}

Test(gray, phi_of_a_clockwork_sender_passes_8_after_a_small_multiple_of_its_interval)
{
	struct phi_window w;
	double mean, sd;
	int64_t t = 1000, at;

	phi_reset(&w, t);
	for (int i = 1; i < PHI_MIN_INTERVALS; i++)
		phi_arrive(&w, t += 100, 3000);
	cr_assert_not(phi_stats(&w, &mean, &sd), "too few intervals yet");
	for (int i = 0; i < 50; i++)
		phi_arrive(&w, t += 100, 3000);
	cr_assert(phi_stats(&w, &mean, &sd));
	cr_assert_float_eq(mean, 100.0, 1e-9);
	cr_assert_float_eq(sd, 25.0, 1e-9, "floored at a quarter of the mean");
	cr_assert_lt(phi_value(mean, sd, 100), 0.5);
	at = phi_first_over(&w, 8.0);
	cr_assert(at > 200 && at < 300, "phi 8 after %lld ms", (long long)at);
}

/* 60 s of heartbeats every 100 ms +- 30% (uniform, fixed seed): at no arrival had phi reached
 * even 3, and a stop is still seen within a second. */
Test(gray, phi_never_suspects_a_jittery_sender_over_60_seconds)
{
	struct phi_window w;
	unsigned seed = 12345;
	double worst = 0, mean, sd;
	int64_t t = 0;

	phi_reset(&w, t);
	for (int i = 0; i < 600; i++) {
		int64_t gap = 70 + rand_r(&seed) % 61;

		if (phi_stats(&w, &mean, &sd) && phi_value(mean, sd, (double)gap) > worst)
			worst = phi_value(mean, sd, (double)gap);
		phi_arrive(&w, t += gap, 3000);
	}
	cr_assert_lt(worst, 3.0, "worst phi %.2f", worst);
	cr_assert_lt(phi_first_over(&w, 8.0), 1000);
}

Test(gray, phi_grows_with_silence_and_a_gap_past_the_timeout_restarts_the_window)
{
	struct phi_window w;
	double prev = -1;
	int64_t t = 0;

	phi_reset(&w, t);
	for (int i = 0; i < 20; i++)
		phi_arrive(&w, t += 100, 3000);
	for (int64_t s = 0; s < 1000; s += 10) {
		double mean, sd, phi;

		cr_assert(phi_stats(&w, &mean, &sd));
		phi = phi_value(mean, sd, (double)s);
		cr_assert_geq(phi, prev);
		prev = phi;
	}
	cr_assert_eq(prev, PHI_MAX);
	phi_arrive(&w, t += 3001, 3000);
	cr_assert_eq(w.n, 0);
	cr_assert_eq(w.last_ms, t);
}

/* The board keeps what a session's window says: no phi before PHI_MIN_INTERVALS, phi of its
 * rhythm after, none again once the session ended. */
Test(gray, board_has_a_phi_only_while_a_session_has_a_rhythm)
{
	static struct gray_board g; /* 50 KiB: off the stack */
	struct phi_window w;
	int64_t t = 1000;

	phi_reset(&w, t);
	gray_note_rhythm(&g, 7, &w);
	cr_assert_lt(gray_phi(&g, 7, t + 100), 0, "no rhythm from one heartbeat");
	for (int i = 0; i < PHI_MIN_INTERVALS; i++)
		phi_arrive(&w, t += 100, 3000);
	gray_note_rhythm(&g, 7, &w);
	cr_assert_eq(g.be[7].hb_last_ms, t);
	cr_assert_geq(gray_phi(&g, 7, t + 1000), 8.0, "ten intervals of silence");
	cr_assert_lt(gray_phi(&g, 8, t + 1000), 0, "another id has none");
	gray_forget_rhythm(&g, 7);
	cr_assert_lt(gray_phi(&g, 7, t + 1000), 0, "the session ended");
	gray_note_rhythm(&g, 0, &w);
	gray_forget_rhythm(&g, snap_id_limit());
	cr_assert_not(g.be[0].hb_ready, "id 0 is none");
}

/* ---- the backend table's outlier inputs ---- */

static const struct table_params tparams = { .svc[0] = { .rise = 2, .fall = 3, .eject_failures = 3 },
					     .heartbeat_timeout_ms = 3000, .expire_ms = 60000,
					     .outlier_base_ejection_ms = 30000 };

static struct backend *table_one(struct backend_table **t)
{
	struct slb_addr a;
	struct backend *b;

	atomic_store(&log_threshold, LOG_ERROR);
	*t = table_create(&tparams);
	cr_assert_not_null(*t);
	cr_assert_eq(addr_parse("127.0.0.1:9001", &a, NULL, 0), 0);
	cr_assert_eq(table_add_static(*t, &a, 1, 0, &b), 0);
	return b;
}

Test(gray, table_ejects_an_outlier_for_a_time_then_takes_it_back)
{
	struct backend_table *t;
	struct backend *b = table_one(&t);

	cr_assert_eq(table_apply(t, b, BE_EV_OUTLIER, "outlier, ttfb 310 ms vs median 2 ms", 1000), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_str_eq(b->reason, "outlier, ttfb 310 ms vs median 2 ms, out for 30000 ms");
	cr_assert_eq(table_tick(t, 30999), 0);
	cr_assert_eq(table_tick(t, 31000), 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_str_eq(b->reason, "outlier ejection over");
	cr_assert_eq(b->ramp_start_ms, 31000, "back through slow start");
	table_destroy(t);
}

Test(gray, table_doubles_a_repeat_offender_within_the_hour_only)
{
	struct backend_table *t;
	struct backend *b = table_one(&t);

	table_apply(t, b, BE_EV_OUTLIER, "slow", 0);
	table_tick(t, 30000);
	table_apply(t, b, BE_EV_OUTLIER, "slow", 40000);
	cr_assert_eq(b->ejected_until_ms, 40000 + 60000);
	table_tick(t, 100000);
	table_apply(t, b, BE_EV_OUTLIER, "slow", 100000 + GRAY_REPEAT_WINDOW_MS - 1);
	cr_assert_eq(b->outlier_count, 3);
	cr_assert_str_eq(b->reason, "slow, out for 120000 ms");
	table_tick(t, b->ejected_until_ms);
	table_apply(t, b, BE_EV_OUTLIER, "slow", b->outlier_back_ms + GRAY_REPEAT_WINDOW_MS);
	cr_assert_eq(b->outlier_count, 1, "an hour clean: back to the base time");
	table_destroy(t);
}

Test(gray, operator_clears_an_ejection_and_its_history_but_not_other_inputs)
{
	struct backend_table *t;
	struct backend *b = table_one(&t);

	table_apply(t, b, BE_EV_OUTLIER, "slow", 0);
	cr_assert_eq(table_clear_outlier(t, b, 10), 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_str_eq(b->reason, "outlier ejection cleared by the operator");
	cr_assert_eq(b->outlier_count, 0);
	table_apply(t, b, BE_EV_OUTLIER, "slow", 20);
	for (int i = 0; i < 3; i++)
		table_apply(t, b, BE_EV_PROBE_FAIL, "refused", 30);
	cr_assert_eq(table_clear_outlier(t, b, 40), 0, "checks still say down");
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_eq(b->ejected_until_ms, 0);
	table_destroy(t);
}
