/* Heartbeat suspicion by phi accrual, with heartbeat sessions driven from the test:
 *  - a backend heartbeating every 100 ms that stops is out far before --heartbeat-timeout 3000
 *    with --heartbeat-phi 8, with phi and its rhythm in the reason, and comes back on its next
 *    heartbeat;
 *  - one heartbeating every 100 ms +- 30% (uniform, fixed seed) for 12 s is never taken out
 *    (SLB_PHI_JITTER_SECONDS=60 runs the full minute by hand). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo_server.h"
#include "healthtest.h"
#include "testproc.h"
#include "testwait.h"

#define INTERVAL_MS 100
#define PHI_DOWN_PROMISE_MS 1000 /* "far less than --heartbeat-timeout 3000" (printed) */

static struct healthtest_slb slb;

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(heartbeat_phi, .fini = suite_fini, .timeout = 120);

static void start_slb(void)
{
	const char *const extra[] = { "--heartbeat-interval", "100", "--heartbeat-timeout", "3000",
				      "--heartbeat-phi", "8", NULL };

	healthtest_start_ok(&slb, extra);
}

/* A heartbeat session registered for 127.0.0.1:port (nothing needs to listen there). */
static int register_backend(unsigned port)
{
	char line[64], reply[128];
	int fd = healthtest_session_ok(&slb, NULL);

	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u name=phi", port);
	cr_assert_gt(healthtest_cmd(fd, line, reply, sizeof(reply)), 0);
	cr_assert(strncmp(reply, "OK registered", 13) == 0, "%s", reply);
	return fd;
}

static void beat(int fd)
{
	char reply[128];

	cr_assert_gt(healthtest_cmd(fd, "HEARTBEAT", reply, sizeof(reply)), 0);
}

Test(heartbeat_phi, a_clockwork_backend_that_stops_is_out_long_before_the_timeout)
{
	unsigned port = refused_port();
	char phi[32], reason[128];
	int fd, took;
	int64_t last;

	start_slb();
	fd = register_backend(port);
	for (int i = 0; i < 20; i++) {
		usleep(INTERVAL_MS * 1000);
		beat(fd);
	}
	last = testproc_now_ms();
	cr_assert_eq(healthtest_field(slb.admin, port, "phi", phi, sizeof(phi)), 0);
	cr_assert_neq(strcmp(phi, "null"), 0, "phi is shown once the session has a rhythm");
	/* phi in the reason below, not the time, says it was suspicion and not the timeout */
	took = healthtest_wait_state(slb.admin, port, "down", testwait_ms(3000));
	cr_assert_geq(took, 0, "still up");
	testwait_report("a stopped clockwork backend out by phi after its last heartbeat",
			(double)(testproc_now_ms() - last), PHI_DOWN_PROMISE_MS);
	cr_assert_eq(healthtest_field(slb.admin, port, "reason", reason, sizeof(reason)), 0);
	cr_assert(strstr(reason, "phi ") && strstr(reason, " over 8.00"), "%s", reason);
	beat(fd);
	cr_assert_geq(healthtest_wait_state(slb.admin, port, "up", 1000), 0, "a heartbeat brings it back");
	close(fd);
	healthtest_stop_ok(&slb);
}

/* Heartbeats every 100 ms +- 30% for seconds. Returns the longest gap between two beats the
 * test actually sent: a busy machine can stall the test itself far past the jitter. */
static int beat_jittery(int fd, int seconds, unsigned *seed)
{
	int64_t end = testproc_now_ms() + (int64_t)seconds * 1000, last = testproc_now_ms();
	int max_gap = 0;

	while (testproc_now_ms() < end) {
		usleep((useconds_t)(INTERVAL_MS * 7 / 10 + rand_r(seed) % (INTERVAL_MS * 6 / 10 + 1)) * 1000);
		beat(fd);
		if (testproc_now_ms() - last > max_gap)
			max_gap = (int)(testproc_now_ms() - last);
		last = testproc_now_ms();
	}
	return max_gap;
}

/* A run in which the test's own heartbeats stalled past JITTER_GAP_MAX_MS did not test jitter
 * (phi is right to suspect a gap that long): it is run again, up to JITTER_RUNS times. */
#define JITTER_GAP_MAX_MS 200
#define JITTER_RUNS 3

Test(heartbeat_phi, a_jittery_backend_is_never_taken_out)
{
	const char *env = getenv("SLB_PHI_JITTER_SECONDS");
	int seconds = env ? atoi(env) : 12, max_gap = 0;
	unsigned port = refused_port(), seed = 42;
	static char out[1 << 16];
	char state[16];
	int fd;

	if (seconds <= 0 || seconds > 600)
		seconds = 12;
	for (int run = 0; run < JITTER_RUNS; run++) {
		start_slb();
		fd = register_backend(port);
		max_gap = beat_jittery(fd, seconds, &seed);
		if (max_gap <= JITTER_GAP_MAX_MS)
			break;
		fprintf(stderr, "run %d: the test's heartbeats stalled %d ms (jitter under test: up to %d ms); again\n",
			run + 1, max_gap, INTERVAL_MS * 13 / 10);
		close(fd);
		healthtest_stop_ok(&slb);
	}
	cr_assert_leq(max_gap, JITTER_GAP_MAX_MS, "the test's own heartbeats stalled over %d ms in %d runs",
		      JITTER_GAP_MAX_MS, JITTER_RUNS);
	cr_assert_eq(healthtest_field(slb.admin, port, "state", state, sizeof(state)), 0);
	cr_assert_str_eq(state, "up");
	testproc_output(slb.proc, out, sizeof(out));
	cr_assert_null(strstr(out, "no heartbeat for"), "taken out (longest gap sent %d ms): %s", max_gap,
		       strstr(out, "no heartbeat for"));
	close(fd);
	healthtest_stop_ok(&slb);
}
