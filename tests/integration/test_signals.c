/* Signals an operator or the system sends: SIGHUP (the reload habit from nginx and HAProxy)
 * must not stop slb nor cut what it relays, and SIGPIPE kills neither slb nor the demo tools. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"

#define IO_MS 10000
#define BIG (64u << 20) /* the 64 MiB download of the report */
#define BIG_PATH "/bytes/67108864"
#define SIGHUP_LINE "reload: done"

TestSuite(signals, .fini = testproc_stop_all, .timeout = 120);

/* slb with one backend; its "127.0.0.1:PORT" goes into be_addr. */
static struct testproc *start_pair(struct faultkit_slb *s, char *be_addr, size_t len)
{
	struct testproc *be = faultkit_backend_ok("b1", be_addr, len);

	faultkit_slb_start_ok(s, 0, (const char *const[]){ "--workers", "2", "--backend", be_addr, NULL });
	return be;
}

static void expect_get_ok(unsigned port)
{
	static struct testproc_http r;
	int rc = testproc_http_get(port, "/", &r, IO_MS);

	cr_assert_eq(rc, 0, "GET through slb: %s", strerror(-rc));
	cr_assert_eq(r.status, 200);
}

static void wait_bytes(struct faultkit_reader *rd, uint64_t want)
{
	int64_t deadline = testproc_now_ms() + IO_MS;

	while (atomic_load(&rd->got) < want && testproc_now_ms() < deadline)
		usleep(5000);
	cr_assert_geq(atomic_load(&rd->got), want, "the download stalled at %llu bytes",
		      (unsigned long long)atomic_load(&rd->got));
}

static void wait_sighup_lines(struct testproc *slb, unsigned n)
{
	int64_t deadline = testproc_now_ms() + IO_MS;

	while (faultkit_count_lines(slb, SIGHUP_LINE) < n && testproc_running(slb) && testproc_now_ms() < deadline)
		usleep(5000);
	cr_assert_eq(faultkit_count_lines(slb, SIGHUP_LINE), n, "want %u \"" SIGHUP_LINE "\" lines (slb %s)", n,
		     testproc_running(slb) ? "running" : "exited");
}

Test(signals, sighup_keeps_slb_and_its_transfers_running)
{
	static struct faultkit_slb s;
	static struct faultkit_reader rd;
	char be[32];

	start_pair(&s, be, sizeof(be));
	/* Throttled so that the download is surely in flight when the signals arrive. */
	cr_assert_eq(faultkit_reader_start(&rd, s.port, BIG_PATH, 4096, 60000), 0);
	wait_bytes(&rd, 1u << 20);
	/* Twice, one after the other's line: two pending SIGHUPs would merge into one. */
	for (unsigned i = 1; i <= 2; i++) {
		cr_assert_eq(testproc_signal(s.proc, SIGHUP), 0);
		wait_sighup_lines(s.proc, i);
		expect_get_ok(s.port);
	}
	atomic_store(&rd.rate_kib, 0);
	faultkit_reader_join(&rd);
	cr_assert_eq(rd.rc, 0, "the download in flight was cut: %s", strerror(-rd.rc));
	cr_assert_eq(rd.r.body_len, BIG);
	cr_assert_eq(rd.r.body_fnv, faultkit_pattern_fnv(BIG), "the download arrived altered");
	expect_get_ok(s.port);
	cr_assert(testproc_running(s.proc), "slb exited");
	faultkit_slb_stop_ok(&s, IO_MS);
}

Test(signals, sigpipe_kills_neither_slb_nor_the_demo_tools)
{
	static struct faultkit_slb s;
	char be_addr[32], lb[32];
	unsigned hb_port;
	int lfd = testproc_listen(&hb_port);
	struct testproc *be, *agent;

	cr_assert_geq(lfd, 0);
	be = start_pair(&s, be_addr, sizeof(be_addr));
	snprintf(lb, sizeof(lb), "127.0.0.1:%u", hb_port);
	agent = testproc_spawn((const char *const[]){ "slb-agent", "--service", be_addr, "--lb", lb, "--check",
						      "tcp", "--name", "side", NULL });
	cr_assert_not_null(agent);
	cr_assert_eq(testproc_wait_output(agent, "is up", IO_MS), 0, "slb-agent never saw its service up");
	cr_assert_eq(testproc_signal(s.proc, SIGPIPE), 0);
	cr_assert_eq(testproc_signal(be, SIGPIPE), 0);
	cr_assert_eq(testproc_signal(agent, SIGPIPE), 0);
	/* A request through slb to the backend shows both alive; SIGTERM after SIGPIPE shows the
	 * agent handled its own stop rather than dying of the first signal (exit code 141). */
	expect_get_ok(s.port);
	cr_assert_eq(testproc_stop(agent, IO_MS), 0, "slb-agent exit code %d", testproc_exit_code(agent));
	cr_assert_eq(testproc_stop(be, IO_MS), 0, "slb-backend exit code %d", testproc_exit_code(be));
	faultkit_slb_stop_ok(&s, IO_MS);
	close(lfd);
}
