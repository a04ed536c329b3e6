/* Outlier detection end to end: slb in front of three in-process HTTP backends, one of which
 * answers every request 300 ms late, under a bounded load of fresh connections that records
 * which backend answered each request.
 *  - the slow one is ejected with its figures as the reason, its share of the requests that
 *    start 3 s into the load is below 5%, and the fast two are never ejected;
 *  - with two of three slow and --outlier-max-ejected-percent 50, exactly one is ejected;
 *  - a backend whose ttfb recovered comes back after its ejection time, and when it offends
 *    again it stays out twice as long. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "delay_server.h"
#include "healthtest.h"
#include "loadgen.h"
#include "testproc.h"

#define SLOW_MS 300
#define SHARE_AFTER_MS 3000       /* the bound: below 5% within 3 s */
#define LOAD_MS 6000
#define BASE_EJECTION_MS 2000     /* the recovery test's --outlier-base-ejection */
#define EJECTION_SLACK_MS 1000    /* a loaded 2-CPU machine; the table ticks every 10 ms */

static struct delay_server srv[3];
static struct healthtest_slb slb;
static struct loadgen load;

static void suite_fini(void)
{
	loadgen_free(&load);
	testproc_stop_all();
	for (unsigned i = 0; i < 3; i++)
		delay_server_stop(&srv[i]);
}

TestSuite(outliers, .fini = suite_fini, .timeout = 60);

/* Three backends with these delays, named "fast1", "slow2"... by delay, and slb in front of
 * them with two workers, --outlier-detection and flags (may be NULL). */
static void start_all(const int delay[3], const char *const *flags)
{
	static char be_arg[3][32];
	const char *extra[] = { "--workers", "2", "--no-pin", "--outlier-detection", "--backend", be_arg[0],
				"--backend", be_arg[1], "--backend", be_arg[2], NULL };

	for (unsigned i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%s%u", delay[i] ? "slow" : "fast", i + 1);
		cr_assert_eq(delay_server_start(&srv[i], name, delay[i]), 0);
		snprintf(be_arg[i], sizeof(be_arg[i]), "127.0.0.1:%u", srv[i].port);
	}
	healthtest_start_flags_ok(&slb, extra, flags);
}

/* Lets the load run its course (it stops itself at max_run_ms), then joins it. */
static void finish_load(int64_t t0_us, int run_ms)
{
	int64_t left = t0_us + run_ms * 1000LL - loadgen_now_us();

	if (left > 0)
		usleep((useconds_t)left);
	loadgen_stop(&load);
}

/* 8 threads of back-to-back requests (a new connection each) for run_ms. */
static void start_load(int run_ms)
{
	struct loadgen_opts o = { .port = slb.listen, .threads = 8, .max_reqs = 200000, .timeout_ms = 3000,
				  .gap_ms = 1, .max_run_ms = run_ms };

	cr_assert_eq(loadgen_start(&load, &o), 0);
}

static unsigned outlier_lines(void)
{
	static char out[1 << 16];
	unsigned n = 0;

	testproc_output(slb.proc, out, sizeof(out));
	for (const char *p = out; (p = strstr(p, " down: outlier, ")); p++)
		n++;
	return n;
}

static void expect_outlier_reason(unsigned i)
{
	char reason[128];

	cr_assert_eq(healthtest_field(slb.admin, srv[i].port, "reason", reason, sizeof(reason)), 0);
	cr_assert(strstr(reason, "outlier, ttfb ") && strstr(reason, " ms vs median "), "%s: %s", srv[i].name,
		  reason);
}

Test(outliers, the_slow_one_is_ejected_and_its_share_falls_below_5_percent)
{
	const int delay[3] = { 0, 0, SLOW_MS };
	int64_t t0;
	unsigned slow, all;
	int took;
	char state[16];

	start_all(delay, NULL);
	t0 = loadgen_now_us();
	start_load(LOAD_MS);
	took = healthtest_wait_state(slb.admin, srv[2].port, "down", SHARE_AFTER_MS);
	cr_assert_geq(took, 0, "the slow backend was not ejected within %d ms", SHARE_AFTER_MS);
	cr_log_info("slow backend ejected %d ms after the load started", took);
	expect_outlier_reason(2);
	finish_load(t0, LOAD_MS);
	slow = loadgen_answered(&load, srv[2].name, t0 + SHARE_AFTER_MS * 1000LL, t0 + LOAD_MS * 1000LL);
	all = loadgen_answered(&load, NULL, t0 + SHARE_AFTER_MS * 1000LL, t0 + LOAD_MS * 1000LL);
	cr_log_info("after %d ms: slow answered %u of %u requests", SHARE_AFTER_MS, slow, all);
	cr_assert_gt(all, 100, "too little load to judge: %u requests", all);
	cr_assert_lt(slow * 100, all * 5, "slow backend answered %u of %u", slow, all);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(healthtest_field(slb.admin, srv[i].port, "state", state, sizeof(state)), 0);
		cr_assert_str_eq(state, "up", "%s", srv[i].name);
	}
	cr_assert_eq(outlier_lines(), 1, "only the slow backend is ever ejected");
	healthtest_stop_ok(&slb);
}

Test(outliers, with_two_of_three_slow_the_cap_ejects_only_one)
{
	const int delay[3] = { 0, SLOW_MS, SLOW_MS };
	const char *const flags[] = { "--outlier-max-ejected-percent", "50", NULL };
	static char out[1 << 16];
	int64_t t0;

	start_all(delay, flags);
	t0 = loadgen_now_us();
	start_load(LOAD_MS);
	finish_load(t0, LOAD_MS);
	cr_assert_eq(outlier_lines(), 1, "exactly one of the two slow backends is ejected");
	testproc_output(slb.proc, out, sizeof(out));
	cr_assert(strstr(out, "stays in: --outlier-max-ejected-percent 50 reached"), "no word of the cap");
	cr_assert_eq(healthtest_wait_state(slb.admin, srv[0].port, "up", 100) >= 0, true);
	healthtest_stop_ok(&slb);
}

/* How long backend i stays down from the moment /status shows it down. */
static int time_out(unsigned i, int timeout_ms)
{
	int64_t down;
	int took;

	cr_assert_geq(healthtest_wait_state(slb.admin, srv[i].port, "down", 5000), 0, "not ejected");
	down = testproc_now_ms();
	atomic_store(&srv[i].delay_ms, 0); /* it recovers while out */
	took = healthtest_wait_state(slb.admin, srv[i].port, "up", timeout_ms);
	cr_assert_geq(took, 0, "not back within %d ms", timeout_ms);
	return (int)(testproc_now_ms() - down);
}

Test(outliers, a_recovered_backend_comes_back_and_a_repeat_offender_stays_out_twice_as_long)
{
	const int delay[3] = { 0, 0, SLOW_MS };
	const char *const flags[] = { "--outlier-base-ejection", "2000", NULL };
	char reason[128];
	int first, second;

	start_all(delay, flags);
	start_load(20000);
	first = time_out(2, BASE_EJECTION_MS + EJECTION_SLACK_MS);
	atomic_store(&srv[2].delay_ms, SLOW_MS); /* offends again */
	second = time_out(2, 2 * BASE_EJECTION_MS + EJECTION_SLACK_MS);
	cr_assert_eq(healthtest_field(slb.admin, srv[2].port, "reason", reason, sizeof(reason)), 0);
	loadgen_stop(&load);
	cr_log_info("out for %d ms, then %d ms", first, second);
	cr_assert_geq(first, BASE_EJECTION_MS - 20, "first ejection %d ms", first);
	cr_assert_geq(second, 2 * BASE_EJECTION_MS - 20, "second ejection %d ms", second);
	cr_assert_str_eq(reason, "outlier ejection over");
	healthtest_stop_ok(&slb);
}
