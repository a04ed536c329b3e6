/* The heartbeat port of a real slb: the protocol's replies, bad and over-long lines, session
 * takeover, heartbeat timeout and resume, and the SIGKILL case: a registered backend process
 * killed outright is out of rotation within milliseconds and clients only reach the others. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "echo_server.h"
#include "faultkit.h"
#include "healthtest.h"
#include "slb/common/hbauth.h"
#include "testproc.h"
#include "testwait.h"

#define IO_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(health_heartbeat, .fini = suite_fini, .timeout = 60);

static struct healthtest_slb slb;

/* The local port of a connected socket: the port slb names the peer by. */
static unsigned local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* A session whose HELLO nonce is lower-case hex. */
static int session(void)
{
	char nonce[HBAUTH_NONCE_HEX + 1];
	int fd = healthtest_session_ok(&slb, nonce);

	cr_assert_eq(strspn(nonce, "0123456789abcdef"), HBAUTH_NONCE_HEX, "hello nonce: %s", nonce);
	return fd;
}

Test(health_heartbeat, register_heartbeat_drain_bye)
{
	char line[96], reply[128] = "";
	int fd;

	healthtest_start_ok(&slb, NULL);
	fd = session();
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u name=t1 weight=2 load=10", slb.listen + 1);
	healthtest_expect_reply(fd, line, "OK registered id=1 interval=1000 timeout=3000");
	healthtest_expect_state(&slb, slb.listen + 1, "up", "registered");
	healthtest_expect_reply(fd, "HEARTBEAT load=5", "OK state=up interval=1000");
	/* nobody is connected through it, but "drained" waits until every worker has seen the
	 * drain (one could have picked it in the same moment): the next heartbeat says it */
	healthtest_expect_reply(fd, "HEARTBEAT state=drain", "OK state=drain interval=1000 conns=0");
	for (int i = 0; i < 50 && healthtest_cmd(fd, "HEARTBEAT state=drain", reply, sizeof(reply)) > 0 &&
			strcmp(reply, "OK state=drain interval=1000 conns=0 drained") != 0; i++)
		usleep(20000);
	cr_assert_str_eq(reply, "OK state=drain interval=1000 conns=0 drained");
	healthtest_expect_state(&slb, slb.listen + 1, "draining", "heartbeat state=drain");
	healthtest_expect_reply(fd, "HEARTBEAT state=up\r", "OK state=up interval=1000");
	healthtest_expect_reply(fd, "BYE", "OK bye");
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0);
	healthtest_expect_state(&slb, slb.listen + 1, "down", "heartbeat bye");
	close(fd);
	healthtest_stop_ok(&slb);
}

Test(health_heartbeat, bad_lines_get_err_then_the_session_closes)
{
	char big[700];
	int fd;

	healthtest_start_ok(&slb, NULL);
	fd = session();
	healthtest_expect_reply(fd, "HELLO", "ERR unknown verb");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	healthtest_expect_reply(fd, big, "ERR line too long");
	healthtest_expect_reply(fd, "HEARTBEAT", "ERR not registered");
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "3 errors close the session");
	close(fd);
	healthtest_stop_ok(&slb);
}

/* A peer speaking another dialect, sending 3 lines slb cannot parse, twice in a row.
 * Peer sees: ERR for each line, then the close.
 * slb logs, at the default level: for the first session, its first bad line at warn with the
 *   peer, the reason and the first 60 bytes escaped, then the close and its reason at info;
 *   for the second session from the same host moments later, nothing (once per host per 10 s). */
Test(health_heartbeat, unknown_dialect_is_logged_once_per_host_at_warn_and_the_close_at_info)
{
	static const char tail[] = "01234567890123456789012345678901234567890123456789"; /* 50 */
	char line[128], want[256];
	unsigned port;
	int fd;

	healthtest_start_ok(&slb, NULL);
	fd = session();
	port = local_port(fd);
	snprintf(line, sizeof(line), "PING \"agent\"\tv2 %s", tail); /* 66 bytes */
	healthtest_expect_reply(fd, line, "ERR bad character");
	healthtest_expect_reply(fd, "PING", "ERR unknown verb");
	healthtest_expect_reply(fd, "PING", "ERR unknown verb");
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "3 errors close the session");
	close(fd);
	snprintf(want, sizeof(want), "warn  [health] heartbeat: bad line from 127.0.0.1:%u: bad character: "
		 "\"PING \\\"agent\\\"\\x09v2 %.44s\"...\n", port, tail);
	cr_assert_eq(testproc_wait_output(slb.proc, want, IO_MS), 0, "no warning: %s", want);
	snprintf(want, sizeof(want), "info  [health] heartbeat: session from 127.0.0.1:%u closed: too many errors\n",
		 port);
	cr_assert_eq(testproc_wait_output(slb.proc, want, IO_MS), 0, "no close line: %s", want);

	fd = session();
	port = local_port(fd);
	for (int i = 0; i < 3; i++)
		healthtest_expect_reply(fd, "PING", "ERR unknown verb");
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0);
	close(fd);
	cr_assert_eq(faultkit_count_lines(slb.proc, "heartbeat: bad line from"), 1, "warned again for the same host");
	snprintf(want, sizeof(want), "session from 127.0.0.1:%u closed", port);
	cr_assert_eq(faultkit_count_lines(slb.proc, want), 0, "logged the close of an unwarned session");
	healthtest_stop_ok(&slb);
}

Test(health_heartbeat, newer_session_takes_over_an_address)
{
	char line[96];
	int a, b;

	healthtest_start_ok(&slb, NULL);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 1);
	a = session();
	healthtest_expect_reply(a, line, "OK registered id=1 interval=1000 timeout=3000");
	b = session();
	healthtest_expect_reply(b, line, "OK registered id=1 interval=1000 timeout=3000");
	cr_assert_eq(testproc_wait_eof(a, IO_MS), 0, "the old session is closed");
	healthtest_expect_reply(b, "HEARTBEAT", "OK state=up interval=1000");
	healthtest_expect_state(&slb, slb.listen + 1, "up", NULL);
	close(a);
	close(b);
	healthtest_stop_ok(&slb);
}

/* A backend told "OK registered" is already routable: a client that connects the moment the
 * REGISTER is answered reaches it, because the reply goes out only once the snapshot with the
 * backend is published. Many rounds (REGISTER, client, BYE), since the window this closes was a
 * few microseconds wide. */
Test(health_heartbeat, registered_backend_takes_the_very_next_client)
{
	struct echo_server echo = { 0 };
	char line[96], reply[128];
	int fd, c;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	healthtest_start_ok(&slb, NULL);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", echo.port);
	for (int i = 0; i < 40; i++) {
		fd = session();
		cr_assert_gt(healthtest_cmd(fd, line, reply, sizeof(reply)), 0);
		cr_assert_eq(strncmp(reply, "OK registered", 13), 0, "round %d: %s", i, reply);
		c = testproc_connect(slb.listen, IO_MS);
		cr_assert_geq(c, 0);
		cr_assert_eq(testproc_write_all(c, "ping\n", 5, IO_MS), 0);
		cr_assert_gt(testproc_read_line(c, reply, sizeof(reply), IO_MS), 0,
			     "round %d: the client right after OK registered got no answer", i);
		cr_assert_str_eq(reply, "ping");
		close(c);
		healthtest_expect_reply(fd, "BYE", "OK bye");
		cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0);
		close(fd);
	}
	healthtest_stop_ok(&slb);
	echo_server_stop(&echo);
}

Test(health_heartbeat, silence_takes_it_down_and_a_heartbeat_brings_it_back)
{
	static const char *const extra[] = { "--heartbeat-interval", "100", "--heartbeat-timeout", "300", NULL };
	char line[96];
	int fd;

	healthtest_start_ok(&slb, extra);
	fd = session();
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 1);
	healthtest_expect_reply(fd, line, "OK registered id=1 interval=100 timeout=300");
	healthtest_expect_state(&slb, slb.listen + 1, "down", "no heartbeat for 300 ms");
	healthtest_expect_reply(fd, "HEARTBEAT", "OK state=up interval=100");
	healthtest_expect_state(&slb, slb.listen + 1, "up", "heartbeats resumed");
	close(fd);
	healthtest_stop_ok(&slb);
}

Test(health_heartbeat, sigkilled_backend_is_out_within_milliseconds)
{
	struct testproc *k1, *k2;
	unsigned p1, p2;
	int ms;

	healthtest_start_ok(&slb, NULL);
	k1 = healthtest_backend(&slb, "k1", NULL, &p1);
	k2 = healthtest_backend(&slb, "k2", NULL, &p2);
	healthtest_expect_state(&slb, p1, "up", "registered");
	healthtest_expect_state(&slb, p2, "up", "registered");
	cr_assert_eq(testproc_signal(k1, SIGKILL), 0);
	ms = healthtest_wait_state(slb.admin, p1, "down", testwait_ms(IO_MS));
	cr_assert_geq(ms, 0, "k1 never went down");
	testwait_report("k1 down after SIGKILL", ms, 250);
	/* the reason, not the time, says it was the close and not the heartbeat timeout */
	healthtest_expect_state(&slb, p1, "down", "heartbeat connection closed");
	for (int i = 0; i < 10; i++) {
		static struct testproc_http r;

		cr_assert_eq(testproc_http_get(slb.listen, "/", &r, IO_MS), 0, "request %d failed", i);
		cr_assert_eq(r.status, 200);
		cr_assert_not_null(strstr(r.body, "k2"), "request %d answered by: %s", i, r.body);
	}
	testproc_stop(k2, IO_MS);
	healthtest_stop_ok(&slb);
}

Test(health_heartbeat, heartbeat_port_in_use_is_a_clear_error)
{
	char hb[32], lport[32], out[4096];
	const char *argv[] = { "slb", "--listen", lport, "--heartbeat-listen", hb, "--workers", "1", NULL };
	unsigned port;
	int lfd = testproc_listen(&port), fp = testproc_free_port();

	cr_assert_geq(lfd, 0);
	cr_assert_gt(fp, 0);
	snprintf(hb, sizeof(hb), "127.0.0.1:%u", port);
	snprintf(lport, sizeof(lport), "127.0.0.1:%d", fp);
	healthtest_expect_exit_1(argv, out, sizeof(out));
	cr_assert_not_null(strstr(out, "address already in use"), "output: %s", out);
	close(lfd);
}
