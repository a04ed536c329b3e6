/* Slow start end to end: slb in front of a static backend, then a second one registers by
 * heartbeat with --slow-start 3000, under a bounded load of fresh connections that records
 * which backend answered each request. Equal weights: without a ramp the newcomer would take
 * half the requests at once. With it, its share starts near a tenth of its weight's, grows,
 * and reaches half once the ramp is over; /status shows the share in use (effective_weight). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delay_server.h"
#include "healthtest.h"
#include "loadgen.h"
#include "testproc.h"
#include "testwait.h"

/* The timeline, stretched as every wait is under a sanitizer (testwait_ms), so that each window
 * still holds enough requests to judge a share by. */
#define RAMP_MS 3000
#define LOAD_MS 4500
#define EARLY_MS 600  /* the ramp's first fifth: the weight in use averages ~0.19 of the full one */

static struct delay_server srv[2];
static struct healthtest_slb slb;
static struct loadgen load;

static void suite_fini(void)
{
	loadgen_free(&load);
	testproc_stop_all();
	for (unsigned i = 0; i < 2; i++)
		delay_server_stop(&srv[i]);
}

TestSuite(slow_start, .fini = suite_fini, .timeout = 60);

/* The share (in percent) of the requests started in [from_ms, to_ms) after t0 that name
 * answered, with at least 50 requests in the window. */
static unsigned share(const char *name, int64_t t0, int from_ms, int to_ms)
{
	int64_t from = t0 + from_ms * 1000LL, to = t0 + to_ms * 1000LL;
	unsigned all = loadgen_answered(&load, NULL, from, to);

	cr_assert_geq(all, 50, "too little load to judge in [%d, %d) ms: %u requests", from_ms, to_ms, all);
	return loadgen_answered(&load, name, from, to) * 100 / all;
}

Test(slow_start, a_registered_backend_ramps_up_to_its_share)
{
	char be_arg[32], reg[96], reply[128], eff[16], ramp[16];
	const char *extra[] = { "--backend", be_arg, "--slow-start", ramp, "--heartbeat-timeout", "60000",
				"--workers", "1", "--no-pin", NULL };
	struct loadgen_opts o = { .threads = 4, .max_reqs = 200000, .timeout_ms = 3000, .gap_ms = 1,
				  .max_run_ms = testwait_ms(LOAD_MS) };
	unsigned early, late;
	int64_t t0;
	int fd;

	cr_assert_eq(delay_server_start(&srv[0], "static1", 0), 0);
	cr_assert_eq(delay_server_start(&srv[1], "ramp2", 0), 0);
	snprintf(be_arg, sizeof(be_arg), "127.0.0.1:%u", srv[0].port);
	snprintf(ramp, sizeof(ramp), "%d", testwait_ms(RAMP_MS));
	healthtest_start_ok(&slb, extra);
	fd = healthtest_session_ok(&slb, reply);
	snprintf(reg, sizeof(reg), "REGISTER 127.0.0.1:%u name=ramp2", srv[1].port);
	cr_assert_gt(healthtest_cmd(fd, reg, reply, sizeof(reply)), 0);
	cr_assert_eq(strncmp(reply, "OK registered", 13), 0, "%s", reply);
	t0 = loadgen_now_us();
	o.port = slb.listen;
	cr_assert_eq(loadgen_start(&load, &o), 0);
	cr_assert_eq(healthtest_field(slb.admin, srv[1].port, "effective_weight", eff, sizeof(eff)), 0);
	cr_assert_lt(atof(eff), 0.5, "effective_weight right after registering: %s", eff);
	usleep((useconds_t)testwait_ms(LOAD_MS) * 1000);
	loadgen_stop(&load);
	early = share("ramp2", t0, 0, testwait_ms(EARLY_MS));
	late = share("ramp2", t0, testwait_ms(RAMP_MS + 500), testwait_ms(LOAD_MS));
	cr_log_info("ramp2's share: %u%% in the first %d ms, %u%% after the ramp", early, testwait_ms(EARLY_MS), late);
	cr_assert_lt(early, 30, "ramp2 took %u%% at once", early);
	cr_assert_gt(late, 38, "ramp2 took only %u%% once the ramp was over", late);
	cr_assert_eq(healthtest_field(slb.admin, srv[1].port, "effective_weight", eff, sizeof(eff)), 0);
	cr_assert_str_eq(eff, "1.00");
	close(fd);
	healthtest_stop_ok(&slb);
}
