/* GET /ready, the signal a route announcer reads (docs/scale-out.md): 200 while slb accepts
 * and has a live backend, 503 with none or while draining; on SIGTERM /ready turns 503 at
 * once while slb keeps accepting for --ready-grace, and only then stops accepting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "healthtest.h"
#include "testproc.h"
#include "testwait.h"

#define IO_MS 5000

TestSuite(ready, .fini = testproc_stop_all, .timeout = 60);

/* Polls /ready every 5 ms until it answers code. Returns the milliseconds it took, or fails. */
/* Polls /ready until it answers code with body_has, for at most budget_ms. Returns the
 * milliseconds it took, or fails the test. */
static int wait_ready(unsigned admin, int code, const char *body_has, int budget_ms)
{
	int64_t start = testproc_now_ms();
	char body[256];
	int got = 0;

	while (testproc_now_ms() - start < budget_ms) {
		got = faultkit_http_body(admin, "/ready", body, sizeof(body), IO_MS);
		if (got == code && strstr(body, body_has))
			return (int)(testproc_now_ms() - start);
		usleep(5000);
	}
	cr_assert_fail("/ready never answered %d '%s' (last %d: %s)", code, body_has, got, body);
	return -1;
}

/* slb with heartbeat backends only: "starting" for a heartbeat timeout (every backend had
 * time to register), then not ready with none, ready once one registers, not ready within a
 * loop turn of its death. */
Test(ready, follows_the_live_backends)
{
	const char *extra[] = { "--heartbeat-timeout", "500", "--heartbeat-interval", "100", NULL };
	struct healthtest_slb s;
	struct testproc *be;
	unsigned be_port;

	healthtest_start_ok(&s, extra);
	wait_ready(s.admin, 503, "not ready: starting", testwait_ms(IO_MS));
	wait_ready(s.admin, 503, "not ready: no live backend", testwait_ms(IO_MS));
	be = healthtest_backend(&s, "r1", NULL, &be_port);
	wait_ready(s.admin, 200, "ready: 1 live backend", testwait_ms(IO_MS));
	cr_assert_eq(testproc_signal(be, SIGKILL), 0);
	/* its heartbeat connection closing, well before the 500 ms heartbeat timeout would */
	testwait_report("/ready 503 after the only backend died", wait_ready(s.admin, 503, "no live backend",
									    testwait_ms(400)), 200);
	healthtest_stop_ok(&s);
}

/*
 * SIGTERM with --ready-grace 3000: /ready says 503 "draining" (within 100 ms: printed), while new
 * connections are still served for the grace; then the listeners close and slb exits 0.
 * slb logs "ready grace: still accepting for 3000 ms".
 */
Test(ready, sigterm_turns_ready_off_then_keeps_accepting_for_the_grace)
{
	const char *extra[] = { "--ready-grace", "3000", "--heartbeat-timeout", "500", "--heartbeat-interval", "100", NULL };
	struct healthtest_slb s;
	char why[256];
	unsigned be_port;
	int64_t t_sig;
	unsigned ok;

	healthtest_start_ok(&s, extra);
	healthtest_backend(&s, "r1", NULL, &be_port);
	wait_ready(s.admin, 200, "ready", testwait_ms(IO_MS));
	cr_assert_eq(testproc_signal(s.proc, SIGTERM), 0);
	t_sig = testproc_now_ms();
	/* before the grace ends, when /ready would turn anyway */
	testwait_report("/ready 503 after SIGTERM", wait_ready(s.admin, 503, "not ready: draining", testwait_ms(1000)),
			100);
	ok = faultkit_parallel_gets(s.listen, "/", 20, 2, IO_MS, why, sizeof(why));
	cr_expect_eq(ok, 20, "%u of 20 requests in the grace answered: %s", ok, why);
	cr_assert_lt(testproc_now_ms() - t_sig, 2700, "the machine is too slow to test inside the grace");
	cr_assert_eq(testproc_wait(s.proc, IO_MS), 0, "slb did not exit");
	cr_expect_geq(testproc_now_ms() - t_sig, 3000 - 50, "slb stopped before its grace");
	cr_expect_eq(testproc_exit_code(s.proc), 0);
	cr_expect_eq(faultkit_count_lines(s.proc, "ready grace: still accepting for 3000 ms"), 1);
}

/* A second SIGTERM ends a long grace at once; the drain and exit follow. */
Test(ready, second_signal_cuts_the_grace_short)
{
	const char *extra[] = { "--ready-grace", "60000", NULL };
	struct healthtest_slb s;
	int64_t t_sig;

	healthtest_start_ok(&s, extra);
	cr_assert_eq(testproc_signal(s.proc, SIGTERM), 0);
	cr_assert_eq(testproc_wait_output(s.proc, "ready grace: still accepting", IO_MS), 0);
	t_sig = testproc_now_ms();
	cr_assert_eq(testproc_signal(s.proc, SIGTERM), 0);
	cr_assert_eq(testproc_wait(s.proc, IO_MS), 0, "slb did not exit");
	cr_expect_lt(testproc_now_ms() - t_sig, 2000);
	cr_expect_eq(testproc_exit_code(s.proc), 0);
	cr_expect_eq(faultkit_count_lines(s.proc, "ready grace cut short"), 1);
}
