/* Active checks and the admin endpoint of a real slb: an HTTP check follows a backend's
 * /health, a static backend ejected by failed connects comes back through the TCP probe
 * that runs even with --check none, and /status, /metrics and 404 answer as documented. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "healthtest.h"
#include "testproc.h"

#define IO_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(health_checks, .fini = suite_fini, .timeout = 60);

static struct healthtest_slb slb;

/* slb-backend on the port slb already expects it at, so a lost port cannot be retried
 * elsewhere; a failure says what the backend printed. */
static struct testproc *start_backend(const char *name, unsigned port)
{
	char listen[32];
	const char *argv[] = { "slb-backend", "--listen", listen, "--name", name, NULL };
	struct testproc *p;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	p = testproc_spawn(argv);
	cr_assert_not_null(p, "spawn slb-backend: %s", strerror(errno));
	if (testproc_wait_port(p, port, IO_MS)) {
		static char why[TESTPROC_WHY_MAX];

		testproc_explain(p, why, sizeof(why));
		cr_assert_fail("slb-backend did not listen on its port %u: %s", port, why);
	}
	return p;
}

static void start_slb(unsigned backend_port, const char *const *flags)
{
	static char be[32];
	const char *const backend[] = { "--backend", be, NULL };

	snprintf(be, sizeof(be), "127.0.0.1:%u", backend_port);
	healthtest_start_flags_ok(&slb, backend, flags);
}

Test(health_checks, http_check_follows_the_health_page)
{
	static const char *const flags[] = { "--check", "http:/health", "--check-interval", "100", "--check-timeout",
					     "90", "--fall", "2", "--rise", "2", NULL };
	unsigned port;
	struct testproc *be = faultkit_backend_start("c1", "127.0.0.1", &port);

	cr_assert_not_null(be, "slb-backend c1: %s", strerror(errno));
	start_slb(port, flags);
	healthtest_expect_state(&slb, port, "up", NULL);
	cr_assert_eq(testproc_signal(be, SIGUSR1), 0); /* /health now answers 503 */
	healthtest_expect_state(&slb, port, "down", "check failed 2 times: HTTP status 503");
	cr_assert_eq(testproc_signal(be, SIGUSR1), 0);
	healthtest_expect_state(&slb, port, "up", "check passed 2 times");
	healthtest_stop_ok(&slb);
}

Test(health_checks, tcp_check_takes_a_closed_port_down)
{
	static const char *const flags[] = { "--check", "tcp", "--check-interval", "50", "--check-timeout", "40",
					     "--fall", "2", NULL };
	int port = testproc_free_port();

	cr_assert_gt(port, 0);
	start_slb((unsigned)port, flags);
	healthtest_expect_state(&slb, (unsigned)port, "down", "check failed 2 times: connection refused");
	healthtest_stop_ok(&slb);
}

Test(health_checks, ejected_backend_returns_through_the_tcp_probe)
{
	static const char *const flags[] = { "--check-interval", "100", "--check-timeout", "90", "--eject-failures",
					     "3", "--retries", "0", NULL };
	int port = testproc_free_port();
	char reason[128];

	cr_assert_gt(port, 0);
	start_slb((unsigned)port, flags);
	healthtest_expect_state(&slb, (unsigned)port, "up", "static backend");
	for (int i = 0; i < 3; i++) {
		int fd = testproc_connect(slb.listen, IO_MS);

		/* Nothing listens behind slb, so it closes the client, sometimes before the
		 * connect helper has looked at the socket (-ECONNRESET). */
		if (fd == -ECONNRESET)
			continue;
		cr_assert_geq(fd, 0, "connect %d: %s", i, strerror(-fd));
		testproc_wait_eof(fd, IO_MS);
		close(fd);
	}
	healthtest_expect_state(&slb, (unsigned)port, "down", NULL);
	cr_assert_eq(healthtest_field(slb.admin, (unsigned)port, "reason", reason, sizeof(reason)), 0);
	cr_assert_not_null(strstr(reason, "ejected after 3 consecutive connect failures"), "reason: %s", reason);
	start_backend("e1", (unsigned)port);
	healthtest_expect_state(&slb, (unsigned)port, "up", "check passed 2 times");
	healthtest_stop_ok(&slb);
}

Test(health_checks, admin_answers_status_metrics_and_404)
{
	static struct testproc_http r;
	int port = testproc_free_port();
	char hdr[96];

	cr_assert_gt(port, 0);
	start_slb((unsigned)port, NULL);
	cr_assert_eq(testproc_http_get(slb.admin, "/status", &r, IO_MS), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(r.conn_close);
	cr_assert_str_eq(testproc_http_header(&r, "Content-Type", hdr, sizeof(hdr)), "application/json");
	cr_assert_eq(strncmp(r.body, "{\"backends\":[", 13), 0, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"workers\":[\n{\"id\":0,"), "%s", r.body);
	cr_assert_eq(testproc_http_get(slb.admin, "/metrics", &r, IO_MS), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(r.body, "# TYPE slb_backend_up gauge\n"), "%s", r.body);
	snprintf(hdr, sizeof(hdr), "slb_backend_up{backend=\"127.0.0.1:%d\",name=\"\",service=\"default\"} 1\n", port);
	cr_assert_not_null(strstr(r.body, hdr), "%s", r.body);
	cr_assert_eq(testproc_http_get(slb.admin, "/nope", &r, IO_MS), 0);
	cr_assert_eq(r.status, 404);
	healthtest_stop_ok(&slb);
}

Test(health_checks, admin_port_in_use_is_a_clear_error)
{
	char admin[32], lport[32], be[32], out[4096];
	const char *argv[] = { "slb", "--listen", lport, "--backend", be, "--admin", admin, "--workers", "1", NULL };
	unsigned port;
	int lfd = testproc_listen(&port), fp = testproc_free_port();

	cr_assert_geq(lfd, 0);
	cr_assert_gt(fp, 0);
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", port);
	snprintf(lport, sizeof(lport), "127.0.0.1:%d", fp);
	snprintf(be, sizeof(be), "127.0.0.1:%d", fp + 1);
	healthtest_expect_exit_1(argv, out, sizeof(out));
	cr_assert_not_null(strstr(out, "address already in use"), "output: %s", out);
	close(lfd);
}
