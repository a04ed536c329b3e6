/* The heartbeat port of a real slb: the protocol's replies, bad and over-long lines, session
 * takeover, heartbeat timeout and resume, and the SIGKILL case: a registered backend process
 * killed outright is out of rotation within milliseconds and clients only reach the others. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "healthtest.h"
#include "testproc.h"

#define IO_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(health_heartbeat, .fini = suite_fini, .timeout = 60);

static struct healthtest_slb slb;

static void stop_clean(void)
{
	static char why[2048];

	cr_assert_eq(healthtest_stop(&slb, why, sizeof(why)), 0, "%s", why);
}

static void start(const char *const *extra)
{
	cr_assert_eq(healthtest_start(&slb, extra), 0, "slb did not come up");
}

static int session(void)
{
	char hello[128];
	int fd = healthtest_session(slb.hb, hello, sizeof(hello));

	cr_assert_geq(fd, 0, "heartbeat connect: %s", strerror(-fd));
	cr_assert_eq(strncmp(hello, "HELLO slb/1 nonce=", 18), 0, "hello: %s", hello);
	cr_assert_eq(strlen(hello), 18 + 16, "hello: %s", hello);
	cr_assert_eq(strspn(hello + 18, "0123456789abcdef"), 16, "hello: %s", hello);
	return fd;
}

static void expect(int fd, const char *line, const char *reply)
{
	char got[256];
	int rc = healthtest_cmd(fd, line, got, sizeof(got));

	cr_assert_geq(rc, 0, "%s: no reply (%s)", line, strerror(-rc));
	cr_assert_str_eq(got, reply, "after %s", line);
}

static void expect_state(unsigned port, const char *state, const char *reason)
{
	char got[128];
	int ms = healthtest_wait_state(slb.admin, port, state, IO_MS);

	cr_assert_geq(ms, 0, "backend %u never became %s", port, state);
	if (reason) {
		cr_assert_eq(healthtest_field(slb.admin, port, "reason", got, sizeof(got)), 0);
		cr_assert_str_eq(got, reason);
	}
}

Test(health_heartbeat, register_heartbeat_drain_bye)
{
	char line[96];
	int fd;

	start(NULL);
	fd = session();
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u name=t1 weight=2 load=10", slb.listen + 1);
	expect(fd, line, "OK registered id=1 interval=1000 timeout=3000");
	expect_state(slb.listen + 1, "up", "registered");
	expect(fd, "HEARTBEAT load=5", "OK state=up interval=1000");
	expect(fd, "HEARTBEAT state=drain", "OK state=drain interval=1000");
	expect_state(slb.listen + 1, "draining", "heartbeat state=drain");
	expect(fd, "HEARTBEAT state=up\r", "OK state=up interval=1000");
	expect(fd, "BYE", "OK bye");
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0);
	expect_state(slb.listen + 1, "down", "heartbeat bye");
	close(fd);
	stop_clean();
}

Test(health_heartbeat, bad_lines_get_err_then_the_session_closes)
{
	char big[700];
	int fd;

	start(NULL);
	fd = session();
	expect(fd, "HELLO", "ERR unknown verb");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect(fd, big, "ERR line too long");
	expect(fd, "HEARTBEAT", "ERR not registered");
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "3 errors close the session");
	close(fd);
	stop_clean();
}

Test(health_heartbeat, newer_session_takes_over_an_address)
{
	char line[96];
	int a, b;

	start(NULL);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 1);
	a = session();
	expect(a, line, "OK registered id=1 interval=1000 timeout=3000");
	b = session();
	expect(b, line, "OK registered id=1 interval=1000 timeout=3000");
	cr_assert_eq(testproc_wait_eof(a, IO_MS), 0, "the old session is closed");
	expect(b, "HEARTBEAT", "OK state=up interval=1000");
	expect_state(slb.listen + 1, "up", NULL);
	close(a);
	close(b);
	stop_clean();
}

Test(health_heartbeat, silence_takes_it_down_and_a_heartbeat_brings_it_back)
{
	static const char *const extra[] = { "--heartbeat-interval", "100", "--heartbeat-timeout", "300", NULL };
	char line[96];
	int fd;

	start(extra);
	fd = session();
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 1);
	expect(fd, line, "OK registered id=1 interval=100 timeout=300");
	expect_state(slb.listen + 1, "down", "no heartbeat for 300 ms");
	expect(fd, "HEARTBEAT", "OK state=up interval=100");
	expect_state(slb.listen + 1, "up", "heartbeats resumed");
	close(fd);
	stop_clean();
}

/* Starts slb-backend NAME on a free port, heartbeating to slb. */
static struct testproc *start_backend(const char *name, unsigned *port)
{
	static char ports[4][32], hb[32];
	static unsigned n;
	const char *argv[] = { "slb-backend", "--listen", ports[n % 4], "--name", name, "--heartbeat", hb, NULL };
	struct testproc *p;
	int fp = testproc_free_port();

	cr_assert_gt(fp, 0);
	*port = (unsigned)fp;
	snprintf(ports[n % 4], sizeof(ports[0]), "127.0.0.1:%d", fp);
	snprintf(hb, sizeof(hb), "127.0.0.1:%u", slb.hb);
	n++;
	p = testproc_spawn(argv);
	cr_assert_not_null(p, "spawn slb-backend: %s", strerror(errno));
	return p;
}

Test(health_heartbeat, sigkilled_backend_is_out_within_milliseconds)
{
	struct testproc *k1, *k2;
	unsigned p1, p2;
	int ms;

	start(NULL);
	k1 = start_backend("k1", &p1);
	k2 = start_backend("k2", &p2);
	expect_state(p1, "up", "registered");
	expect_state(p2, "up", "registered");
	cr_assert_eq(testproc_signal(k1, SIGKILL), 0);
	ms = healthtest_wait_state(slb.admin, p1, "down", IO_MS);
	cr_assert_geq(ms, 0, "k1 never went down");
	cr_log_info("k1 down %d ms after SIGKILL", ms);
	cr_assert_leq(ms, 250, "k1 went down only after %d ms", ms);
	expect_state(p1, "down", "heartbeat connection closed");
	for (int i = 0; i < 10; i++) {
		static struct testproc_http r;

		cr_assert_eq(testproc_http_get(slb.listen, "/", &r, IO_MS), 0, "request %d failed", i);
		cr_assert_eq(r.status, 200);
		cr_assert_not_null(strstr(r.body, "k2"), "request %d answered by: %s", i, r.body);
	}
	testproc_stop(k2, IO_MS);
	stop_clean();
}

Test(health_heartbeat, heartbeat_port_in_use_is_a_clear_error)
{
	char hb[32], lport[32], out[4096];
	const char *argv[] = { "slb", "--listen", lport, "--heartbeat-listen", hb, "--workers", "1", NULL };
	unsigned port;
	int lfd = testproc_listen(&port), fp = testproc_free_port();
	struct testproc *p;

	cr_assert_geq(lfd, 0);
	cr_assert_gt(fp, 0);
	snprintf(hb, sizeof(hb), "127.0.0.1:%u", port);
	snprintf(lport, sizeof(lport), "127.0.0.1:%d", fp);
	p = testproc_spawn(argv);
	cr_assert_not_null(p);
	cr_assert_eq(testproc_wait(p, IO_MS), 0);
	cr_assert_eq(testproc_exit_code(p), 1);
	testproc_output(p, out, sizeof(out));
	cr_assert_not_null(strstr(out, "address already in use"), "output: %s", out);
	close(lfd);
}
