/* Backends of the original SmartLoadBalancer: they connect to the heartbeat port, write
 * "heartbeat:<port>\n" every interval and never read. The first line registers the peer's IP
 * with that port (source "legacy"), the connection closing takes it out at once, silence past
 * --legacy-heartbeat-timeout takes it out, and such a peer is refused when lines must be
 * signed. A session that began in slb's own protocol cannot switch. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultkit.h"
#include "healthtest.h"
#include "testproc.h"
#include "testwait.h"

#define IO_MS 5000

static struct healthtest_slb slb;

TestSuite(legacy_heartbeat, .fini = testproc_stop_all, .timeout = 60);

/* A legacy peer: connects, writes its line, and never reads what slb sends. */
static int legacy_connect(unsigned port)
{
	int fd = testproc_connect(slb.hb, IO_MS);
	char line[32];

	cr_assert_geq(fd, 0, "heartbeat connect: %s", strerror(-fd));
	snprintf(line, sizeof(line), "heartbeat:%u\n", port);
	cr_assert_eq(testproc_write_all(fd, line, strlen(line), IO_MS), 0);
	return fd;
}

static void start_slb(const char *timeout_ms)
{
	const char *extra[] = { "--legacy-heartbeat-timeout", timeout_ms, NULL };

	healthtest_start_ok(&slb, extra);
}

Test(legacy_heartbeat, registers_carries_traffic_and_is_out_at_close)
{
	char addr[32], source[32], body[256], name[32];
	struct testproc *be = faultkit_backend_ok("old1", addr, sizeof(addr));
	unsigned port = (unsigned)atoi(strchr(addr, ':') + 1);
	int fd, ms;

	cr_assert_not_null(be);
	start_slb("25000");
	fd = legacy_connect(port);
	healthtest_expect_state(&slb, port, "up", "registered");
	cr_assert_eq(healthtest_field(slb.admin, port, "source", source, sizeof(source)), 0);
	cr_assert_str_eq(source, "legacy");
	cr_assert_eq(faultkit_http_body(slb.listen, "/", body, sizeof(body), IO_MS), 200);
	cr_assert_str_eq(faultkit_backend_name(body, name, sizeof(name)), "old1");
	for (int i = 0; i < 5; i++) /* later lines are heartbeats: replies never queue up */
		cr_assert_eq(testproc_write_all(fd, "heartbeat:1\n", 12, IO_MS), 0);
	healthtest_expect_state(&slb, port, "up", NULL);
	close(fd);
	/* far below the 25 s lease, so only the close can have taken it out */
	ms = healthtest_wait_state(slb.admin, port, "down", testwait_ms(2000));
	cr_assert_geq(ms, 0, "still up 2 s after its connection closed");
	testwait_report("legacy backend out after its connection closed", ms, 100);
	healthtest_stop_ok(&slb);
}

Test(legacy_heartbeat, silence_past_the_lease_takes_it_out)
{
	int fd;

	start_slb("300");
	fd = legacy_connect(9);
	healthtest_expect_state(&slb, 9, "up", "registered");
	healthtest_expect_state(&slb, 9, "down", "no heartbeat for 300 ms");
	close(fd);
	healthtest_stop_ok(&slb);
}

Test(legacy_heartbeat, a_session_in_slb_dialect_cannot_switch)
{
	char reply[128];
	int fd;

	start_slb("25000");
	fd = healthtest_session_ok(&slb, NULL);
	healthtest_expect_reply(fd, "REGISTER 127.0.0.1:9", "OK registered id=1 interval=1000 timeout=3000");
	cr_assert_geq(healthtest_cmd(fd, "heartbeat:9", reply, sizeof(reply)), 0);
	cr_assert_eq(strncmp(reply, "ERR ", 4), 0, "got '%s'", reply);
	close(fd);
	healthtest_stop_ok(&slb);
}

/* With a key every line must be signed; the legacy dialect cannot be, so it is refused with
 * a line that says why, and its peer is never registered. */
Test(legacy_heartbeat, refused_when_lines_must_be_signed)
{
	char key[64], source[32];
	const char *extra[] = { "--heartbeat-key-file", key, NULL };
	FILE *f;
	int fd;

	snprintf(key, sizeof(key), "/tmp/slb-test-legacy-key-%d", getpid());
	f = fopen(key, "w");
	cr_assert_not_null(f);
	fprintf(f, "0123456789abcdef0123456789abcdef0123456789abcdef\n");
	fclose(f);
	chmod(key, 0600);
	healthtest_start_ok(&slb, extra);
	fd = legacy_connect(9);
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "slb kept the legacy session open");
	cr_assert_eq(testproc_wait_output(slb.proc, "cannot be authenticated", IO_MS), 0);
	cr_assert_eq(healthtest_field(slb.admin, 9, "source", source, sizeof(source)), -ENOENT);
	close(fd);
	unlink(key);
	healthtest_stop_ok(&slb);
}
