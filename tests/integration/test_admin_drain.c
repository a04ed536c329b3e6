/* Drain with feedback, end to end: long downloads in flight through slb while a backend
 * drains. The heartbeat reply counts its connections down and says "drained" at 0, /status
 * says the same, and slb-agent --drain-and-exit exits exactly then, with every download
 * whole. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "healthtest.h"
#include "testproc.h"

#define IO_MS 5000
#define DOWNLOAD_BYTES 8000000
#define SLOW_KIB 64 /* per second: the downloads outlast every check below */

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(admin_drain, .fini = suite_fini, .timeout = 120);

static unsigned port_of(const char *addr)
{
	return (unsigned)atoi(strrchr(addr, ':') + 1);
}

/* Polls /status until the backend's field reads want. Returns 0 or -ETIMEDOUT. */
static int wait_field(unsigned admin, const char *addr, const char *field, const char *want, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	char got[64] = "";

	while (testproc_now_ms() < deadline) {
		if (faultkit_status_field(admin, addr, field, got, sizeof(got)) == 0 && strcmp(got, want) == 0)
			return 0;
		usleep(10000);
	}
	cr_log_error("%s of %s is still %s, not %s", field, addr, got, want);
	return -ETIMEDOUT;
}

/* Sends HEARTBEAT state=drain until the reply is want (the workers' counters move a moment
 * after a connection closes). */
static void expect_drain_reply(int fd, const char *want)
{
	char reply[128] = "";

	for (int i = 0; i < 100; i++) {
		cr_assert_gt(healthtest_cmd(fd, "HEARTBEAT state=drain", reply, sizeof(reply)), 0);
		if (strcmp(reply, want) == 0)
			return;
		usleep(20000);
	}
	cr_assert_str_eq(reply, want);
}

/*
 * A backend registered by heartbeat, two slow downloads through it, then state=drain.
 * Backend sees: "OK state=drain interval=1000 conns=2" while they run, then
 *   "OK state=drain interval=1000 conns=0 drained" once both finished (whole).
 * Operator sees: /status draining with active_conns 2 and drained false, then drained true.
 */
Test(admin_drain, heartbeat_reply_counts_connections_down_to_drained)
{
	struct faultkit_reader rd[2];
	struct healthtest_slb s;
	char addr[64], line[96];
	int fd;

	healthtest_start_ok(&s, NULL);
	faultkit_backend_ok("web1", addr, sizeof(addr));
	fd = healthtest_session_ok(&s, NULL);
	snprintf(line, sizeof(line), "REGISTER %s name=web1", addr);
	healthtest_expect_reply(fd, line, "OK registered id=1 interval=1000 timeout=3000");
	/* routable once /status says up (the snapshot is published at the end of the health
	 * thread's loop turn, a moment after the reply went out) */
	cr_assert_eq(wait_field(s.admin, addr, "state", "up", IO_MS), 0);
	faultkit_downloads_start(rd, 2, s.listen, DOWNLOAD_BYTES, SLOW_KIB, 60000, 0);
	cr_assert_eq(wait_field(s.admin, addr, "active_conns", "2", IO_MS), 0);
	expect_drain_reply(fd, "OK state=drain interval=1000 conns=2");
	cr_assert_eq(wait_field(s.admin, addr, "state", "draining", IO_MS), 0);
	cr_assert_eq(wait_field(s.admin, addr, "drained", "false", IO_MS), 0);
	faultkit_downloads_expect_whole(rd, 2, DOWNLOAD_BYTES, "drain");
	expect_drain_reply(fd, "OK state=drain interval=1000 conns=0 drained");
	cr_assert_eq(wait_field(s.admin, addr, "drained", "true", IO_MS), 0);
	close(fd);
	healthtest_stop_ok(&s);
}

static struct testproc *start_agent(const struct healthtest_slb *s, const char *addr)
{
	char lb[32];
	const char *argv[] = { "slb-agent", "--service", addr, "--lb", lb, "--interval", "300", "--name", "web1",
			       "--drain-and-exit", NULL };
	struct testproc *p;

	snprintf(lb, sizeof(lb), "127.0.0.1:%u", s->hb);
	p = testproc_spawn(argv);
	cr_assert_not_null(p, "spawn slb-agent: %s", strerror(errno));
	return p;
}

/*
 * slb-agent --drain-and-exit beside a server with a slow download through slb, then SIGTERM
 * to the agent, as a service manager stopping the server would send.
 * Operator sees: the backend draining at once; the agent still running while the download
 *   runs; once it finished (whole), the agent exits 0 within 2 s, saying why.
 */
Test(admin_drain, agent_drain_and_exit_leaves_once_the_last_download_is_done)
{
	struct faultkit_reader rd;
	struct healthtest_slb s;
	struct testproc *agent;
	char addr[64];

	healthtest_start_ok(&s, NULL);
	faultkit_backend_ok("web1", addr, sizeof(addr));
	agent = start_agent(&s, addr);
	cr_assert_geq(healthtest_wait_state(s.admin, port_of(addr), "up", IO_MS), 0, "the agent never registered");
	faultkit_downloads_start(&rd, 1, s.listen, DOWNLOAD_BYTES, SLOW_KIB, 60000, 0);
	cr_assert_eq(wait_field(s.admin, addr, "active_conns", "1", IO_MS), 0);
	cr_assert_eq(testproc_signal(agent, SIGTERM), 0);
	cr_assert_geq(healthtest_wait_state(s.admin, port_of(addr), "draining", 2000), 0);
	usleep(500000);
	cr_assert(testproc_running(agent), "the agent left with a download in flight");
	faultkit_downloads_expect_whole(&rd, 1, DOWNLOAD_BYTES, "agent drain");
	cr_assert_eq(testproc_wait(agent, 2000), 0, "the agent did not exit once drained");
	cr_assert_eq(testproc_exit_code(agent), 0);
	cr_assert_eq(testproc_wait_output(agent, "is drained: exiting", 100), 0);
	healthtest_stop_ok(&s);
}
