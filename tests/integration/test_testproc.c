/* The start-up helpers themselves (issue 9, item 9): a child that loses its picked port to
 * another program is started again on fresh ports, and one that exits before it is ready
 * shows its last lines in the failure, so CI never goes red for a reason nobody can read. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"

#define IO_MS 10000

TestSuite(testproc, .fini = testproc_stop_all, .timeout = 60);

Test(testproc, start_moves_to_fresh_ports_when_one_is_taken)
{
	const char *const argv[] = { "slb", "--listen", "127.0.0.1:{port0}", "--backend", "127.0.0.1:{port1}",
				     "--workers", "1", NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 2, .ready = "listening on", .timeout_ms = IO_MS };
	unsigned held;
	int lfd = testproc_listen(&held), fd;
	struct testproc *p;

	cr_assert_geq(lfd, 0);
	st.ports[0] = held; /* another program listens there: slb's first attempt must fail */
	p = testproc_start(&st);
	cr_assert_not_null(p, "slb did not come up: %s", st.why);
	cr_assert_neq(st.ports[0], held, "the port in use was kept");
	fd = testproc_connect(st.ports[0], IO_MS);
	cr_assert_geq(fd, 0, "slb does not accept on the port it reported: %s", strerror(-fd));
	close(fd);
	cr_assert(testproc_running(p));
	close(lfd);
}

Test(testproc, start_failure_carries_the_child_s_last_lines)
{
	const char *const argv[] = { "slb", "--listen", "127.0.0.1:{port0}", "--no-such-flag", NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "listening on", .timeout_ms = IO_MS };

	cr_assert_null(testproc_start(&st));
	cr_assert_eq(errno, ECHILD);
	cr_assert_not_null(strstr(st.why, "slb"), "%s", st.why);
	cr_assert_not_null(strstr(st.why, "exited with code 2"), "%s", st.why);
	cr_assert_not_null(strstr(st.why, "unknown flag '--no-such-flag'"), "%s", st.why);
}

Test(testproc, slb_start_failure_carries_slb_s_stderr)
{
	static struct faultkit_slb s;
	int rc = faultkit_slb_start(&s, 0, (const char *const[]){ "--backend", "nowhere", NULL });

	cr_assert_eq(rc, -ECHILD, "%s", strerror(-rc));
	cr_assert_not_null(strstr(s.why, "exited with code 2"), "%s", s.why);
	cr_assert_not_null(strstr(s.why, "slb: --backend 'nowhere'"), "no stderr line of slb in: %s", s.why);
}

Test(testproc, tail_keeps_only_the_last_lines)
{
	struct testproc *p = testproc_spawn((const char *const[]){ "/bin/sh", "-c", "printf 'a\\nb\\nc\\nd\\n'", NULL });
	char buf[64];

	cr_assert_not_null(p);
	cr_assert_eq(testproc_wait(p, IO_MS), 0);
	cr_assert_eq(testproc_tail(p, 2, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "c\nd\n");
	cr_assert_eq(testproc_tail(p, 9, buf, sizeof(buf)), 8);
	cr_assert_str_eq(buf, "a\nb\nc\nd\n");
	cr_assert_eq(testproc_tail(p, 9, buf, 4), 3, "a short buffer keeps the end");
	cr_assert_str_eq(buf, "\nd\n");
}

/* A child expected to exit is run again on fresh ports while it says its port was taken; its
 * exit code and output are those of the run on the ports reported. */
Test(testproc, run_on_ports_moves_to_fresh_ports_when_one_is_taken)
{
	char script[128], out[256], want[64];
	struct testproc_start st = {
		.argv = (const char *const[]){ "/bin/sh", "-c", script, NULL },
		.n_ports = 1,
		.timeout_ms = IO_MS,
	};
	unsigned held;
	int lfd = testproc_listen(&held);

	cr_assert_geq(lfd, 0);
	/* a stand-in for a program whose bind fails on the held port and that exits 3 otherwise */
	snprintf(script, sizeof(script),
		 "if [ {port0} = %u ]; then echo 'bind: Address already in use'; exit 1; fi; echo on {port0}; exit 3",
		 held);
	st.ports[0] = held;
	cr_assert_eq(testproc_run_on_ports(&st, out, sizeof(out)), 3, "%s", out);
	cr_assert_neq(st.ports[0], held, "the port in use was kept");
	snprintf(want, sizeof(want), "on %u\n", st.ports[0]);
	cr_assert_str_eq(out, want);
	close(lfd);
}
