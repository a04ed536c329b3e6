/* Fault injection, client side: a client that never reads a large answer, one that
 * half-closes after its request, and slowloris-style idle connections up to --max-conns.
 * Each case says what the client sees and what slb logs, and checks both. The backend is a
 * real slb-backend process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"
#include "testwait.h"

#define IO_MS 10000
#define STOP_MS 5000
#define MIB (1024 * 1024)

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(faults_client, .fini = suite_fini, .timeout = 60);

static const char *const relay_modes[] = { "auto", "copy", "splice" };
#define N_MODES (sizeof(relay_modes) / sizeof(relay_modes[0]))

static char be_arg[32];

/* Waits until a /metrics family stops moving for quiet_ms. Returns its value, or -1. */
static long long wait_metric_still(unsigned admin, const char *name, int quiet_ms, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms, since = testproc_now_ms();
	long long last = faultkit_metric(admin, name);

	while (testproc_now_ms() < deadline) {
		long long v;

		usleep(50000);
		v = faultkit_metric(admin, name);
		if (v != last) {
			last = v;
			since = testproc_now_ms();
		} else if (testproc_now_ms() - since >= quiet_ms) {
			return v;
		}
	}
	return -1;
}

#define STALLED 8
#define STALL_SIZE (64ULL * MIB)

struct stall_run {
	struct faultkit_slb s;
	int fds[STALLED];
	long rss_before, rss_stalled;
	long long bytes_before, bytes_stalled; /* slb_worker_bytes_total at the baseline, when stalled */
	int64_t stalled_at, sent_at;
};

static void stall_warm(struct stall_run *run, const char *mode)
{
	faultkit_slb_start_ok(&run->s, 0, (const char *const[]){ "--workers", "2", "--idle-timeout", "2500", "--relay", mode,
						  "--backend", be_arg, NULL });
	/* Warm up before the baseline. Copy mode's provided buffers (1,024 x 16 KiB per worker)
	 * are a fixed pool that the kernel hands out in ring order, so RSS grows as each buffer is
	 * first touched, up to 16 MiB per worker, whatever the number of clients: 12 x 8 MiB
	 * cycles every worker's ring at least once, so growth past that would be buffering. */
	for (int i = 0; i < 12; i++) {
		struct testproc_http r;

		cr_assert_eq(testproc_http_get(run->s.port, "/bytes/8388608", &r, IO_MS), 0);
		cr_assert_eq(r.body_len, 8 * MIB);
	}
	run->rss_before = faultkit_rss_kib(run->s.proc->pid);
	cr_assert_gt(run->rss_before, 0);
	run->bytes_before = faultkit_metric(run->s.admin, "slb_worker_bytes_total");
}

static void stall_send(struct stall_run *run)
{
	char path[32];

	snprintf(path, sizeof(path), "/bytes/%llu", STALL_SIZE);
	for (int i = 0; i < STALLED; i++) {
		run->fds[i] = testproc_connect(run->s.port, IO_MS);
		cr_assert_geq(run->fds[i], 0);
		cr_assert_eq(faultkit_send_get(run->fds[i], path, true, IO_MS), 0);
	}
	run->sent_at = testproc_now_ms();
}

static void stall_measure(struct stall_run *run, const char *mode)
{
	run->bytes_stalled = wait_metric_still(run->s.admin, "slb_worker_bytes_total", 300, 2000);
	run->stalled_at = testproc_now_ms();
	cr_assert_gt(run->bytes_stalled, 0, "relay %s: the transfers never stalled", mode);
	run->rss_stalled = faultkit_rss_kib(run->s.proc->pid);
	cr_assert_eq(faultkit_metric(run->s.admin, "slb_worker_active_connections"), STALLED, "relay %s", mode);
}

static void stall_check(struct stall_run *run, const char *mode)
{
	long grown = run->rss_stalled - run->rss_before;
	int rc;

	/* What was relayed is what the kernel's socket buffers hold, a few MiB per client, far
	 * from the 512 MiB asked for: slb stopped reading the backend when the client stopped. */
	cr_assert_lt(run->bytes_stalled - run->bytes_before, STALLED * 16LL * MIB,
		     "relay %s: %lld bytes moved to readers that read nothing", mode,
		     run->bytes_stalled - run->bytes_before);
	cr_assert_lt(grown, 4096, "relay %s: RSS grew by %ld KiB (%ld -> %ld) with %d stalled 64 MiB answers", mode,
		     grown, run->rss_before, run->rss_stalled, STALLED);
	/* Bytes last moved after the requests went out and before the stall was seen: the idle
	 * close comes 2500 ms after that, plus at most a sweep period (a quarter of it). */
	rc = faultkit_wait_metric(run->s.admin, "slb_worker_active_connections", 0, 2500 + 1500);
	cr_assert_eq(rc, 0, "relay %s: stalled connections not closed at the idle timeout", mode);
	cr_assert_geq(testproc_now_ms() - run->sent_at, 2500 - 50, "relay %s: closed %lld ms after the requests",
		      mode, (long long)(testproc_now_ms() - run->sent_at));
	cr_assert_eq(faultkit_metric(run->s.admin, "slb_worker_idle_timeouts_total"), STALLED);
	for (int i = 0; i < STALLED; i++) {
		/* The client reads what reached it, then EOF: a short answer, not a hang. */
		cr_assert_eq(testproc_wait_eof(run->fds[i], IO_MS), 0, "relay %s: client %d never saw the close",
			     mode, i);
		close(run->fds[i]);
	}
	cr_assert_eq(faultkit_count_lines(run->s.proc, " warn "), 0, "relay %s", mode);
	faultkit_slb_stop_ok(&run->s, STOP_MS);
}

/*
 * Clients that ask for GET /bytes/64MiB and never read a byte (8 at once, in each relay
 * mode, three slb processes side by side).
 * Client sees: what fits in the socket buffers, then, once nothing has moved for
 *   --idle-timeout (2500 ms), the connection closed (EOF after the bytes it holds).
 * slb logs: nothing; its RSS grows by less than 4 MiB (it holds one buffer or one pipe per
 *   direction, never the answer), and slb_worker_idle_timeouts_total counts the 8 closes.
 */
Test(faults_client, never_reading_client_costs_no_memory_and_ends_at_idle_timeout, .timeout = 90)
{
	static struct stall_run runs[N_MODES];

	faultkit_backend_ok("b1", be_arg, sizeof(be_arg));
	for (unsigned m = 0; m < N_MODES; m++)
		stall_warm(&runs[m], relay_modes[m]);
	for (unsigned m = 0; m < N_MODES; m++)
		stall_send(&runs[m]);
	for (unsigned m = 0; m < N_MODES; m++)
		stall_measure(&runs[m], relay_modes[m]);
	for (unsigned m = 0; m < N_MODES; m++)
		stall_check(&runs[m], relay_modes[m]);
}

/*
 * A client that sends its request (keep-alive) and at once shuts down its sending side.
 * Client sees: the whole 4 MiB answer, byte for byte, then EOF (the backend closes once it
 *   has answered and read the FIN slb passed on), in every relay mode.
 * slb logs: nothing.
 */
Test(faults_client, half_close_after_request_gets_full_answer)
{
	struct faultkit_slb s[N_MODES];

	faultkit_backend_ok("b1", be_arg, sizeof(be_arg));
	for (unsigned m = 0; m < N_MODES; m++)
		faultkit_slb_start_ok(&s[m], 0, (const char *const[]){ "--workers", "2", "--relay", relay_modes[m], "--backend",
							be_arg, NULL });
	for (unsigned m = 0; m < N_MODES; m++) {
		const char *mode = relay_modes[m];

		for (int i = 0; i < 3; i++) {
			struct testproc_http r;
			int fd = testproc_connect(s[m].port, IO_MS);

			cr_assert_geq(fd, 0);
			cr_assert_eq(faultkit_send_get(fd, "/bytes/4194304", false, IO_MS), 0);
			cr_assert_eq(shutdown(fd, SHUT_WR), 0);
			cr_assert_eq(testproc_http_read(fd, &r, false, IO_MS), 0, "relay %s: answer cut", mode);
			cr_assert_eq(r.body_len, 4 * MIB, "relay %s", mode);
			cr_assert_eq(r.body_fnv, faultkit_pattern_fnv(4 * MIB), "relay %s: bytes changed", mode);
			cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "relay %s: no EOF after the answer", mode);
			close(fd);
		}
		cr_assert_eq(faultkit_count_lines(s[m].proc, " warn "), 0, "relay %s", mode);
		faultkit_slb_stop_ok(&s[m], STOP_MS);
	}
}

#define MAX_CONNS 50
#define EXTRA 20
#define SLOWLORIS_HEAD "GET / HTTP/1.1\r\nHost: slb\r\nX-Slow: "

/* A connection that sends half a request head and nothing more. */
static int slowloris_open(unsigned port)
{
	int fd = testproc_connect(port, IO_MS);

	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	cr_assert_eq(testproc_write_all(fd, SLOWLORIS_HEAD, strlen(SLOWLORIS_HEAD), IO_MS), 0);
	return fd;
}

/* True when fd was closed by slb without a byte (EOF or reset) within ms. */
static bool closed_without_data(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) != 1)
		return false;
	return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* True when nothing at all (no byte, no EOF) arrives on fd within ms. */
static bool still_open(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

/*
 * Slowloris: MAX_CONNS (50) connections that each send half a request head and stall, with
 * --max-conns 50 and one worker (the limit is split among workers: see the next test).
 * Client sees: the 50 stay open; each further connection completes its TCP handshake and
 *   is closed at once without a byte (EOF), never left hanging; after 10 of the 50 close,
 *   10 new clients get full answers.
 * slb logs: "at its connection limit ... refusing a client", rate-limited: at most 5 lines a
 *   second for the 20 refusals (the rest counted in slb_worker_rejected_total).
 */
Test(faults_client, slowloris_up_to_max_conns_refused_cleanly_then_served)
{
	struct faultkit_slb s;
	int fds[MAX_CONNS];
	char why[256];
	unsigned limit_lines;

	faultkit_backend_ok("b1", be_arg, sizeof(be_arg));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--max-conns", "50", "--backend", be_arg, NULL });
	for (int i = 0; i < MAX_CONNS; i++)
		fds[i] = slowloris_open(s.port);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", MAX_CONNS, IO_MS), 0);
	for (int i = 0; i < EXTRA; i++) {
		int fd = testproc_connect(s.port, IO_MS);

		cr_assert_geq(fd, 0, "connection %d over the limit: %s (want accepted, then closed)", i, strerror(-fd));
		cr_assert(closed_without_data(fd, 2000), "connection %d over the limit was not closed", i);
		close(fd);
	}
	cr_assert_eq(faultkit_metric(s.admin, "slb_worker_rejected_total"), EXTRA);
	for (int i = 0; i < MAX_CONNS; i++)
		cr_assert(still_open(fds[i], 0), "slowloris connection %d was closed", i);
	limit_lines = faultkit_count_lines(s.proc, "at its connection limit");
	cr_assert_geq(limit_lines, 1, "no log line about the limit");
	cr_assert_leq(limit_lines, 10, "%u lines for %d refusals: not rate-limited", limit_lines, EXTRA);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", MAX_CONNS - 10, IO_MS), 0);
	cr_assert_eq(faultkit_parallel_gets(s.port, "/", 10, 10, IO_MS, why, sizeof(why)), 10, "%s", why);
	for (int i = 10; i < MAX_CONNS; i++)
		close(fds[i]);
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * Slowloris against the idle timeout: 20 stalled half-requests with --max-conns 20 and
 * --idle-timeout 1000.
 * Client sees: the 21st is refused (closed); the stalled ones are closed (EOF) after 1 s of
 *   silence, and then a new client is served: slots held by slowloris come back on their own.
 * slb logs: the rate-limited limit line; the idle closes are only counted.
 */
Test(faults_client, slowloris_slots_come_back_at_idle_timeout)
{
	struct faultkit_slb s;
	struct testproc_http r;
	int fds[20], fd;

	faultkit_backend_ok("b1", be_arg, sizeof(be_arg));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--max-conns", "20", "--idle-timeout", "1000",
					     "--backend", be_arg, NULL });
	for (int i = 0; i < 20; i++)
		fds[i] = slowloris_open(s.port);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", 20, IO_MS), 0);
	fd = testproc_connect(s.port, IO_MS);
	cr_assert_geq(fd, 0);
	cr_assert(closed_without_data(fd, 2000), "connection over the limit was not closed");
	close(fd);
	for (int i = 0; i < 20; i++) {
		cr_assert(closed_without_data(fds[i], 3000), "slowloris %d not closed at the idle timeout", i);
		close(fds[i]);
	}
	cr_assert_eq(faultkit_metric(s.admin, "slb_worker_idle_timeouts_total"), 20);
	cr_assert_eq(testproc_http_get(s.port, "/", &r, IO_MS), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(faultkit_count_lines(s.proc, "at its connection limit"), 1);
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * --max-conns is documented as a total "over all workers" (slb --help, config.h "whole
 * process"): with two workers and --max-conns 50, 50 idle clients must all be accepted.
 * Client sees: all 50 stay open; the 51st is refused.
 * slb logs: the limit line only for refusals past 50 in total.
 */
Test(faults_client, max_conns_is_a_total_over_workers)
{
	struct faultkit_slb s;
	int fds[MAX_CONNS], fd;
	unsigned refused = 0;

	faultkit_backend_ok("b1", be_arg, sizeof(be_arg));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "2", "--max-conns", "50", "--backend", be_arg, NULL });
	for (int i = 0; i < MAX_CONNS; i++)
		fds[i] = slowloris_open(s.port);
	/* slb has accepted every one (or refused some: then the wait runs out and the count says) */
	faultkit_wait_metric(s.admin, "slb_worker_active_connections", MAX_CONNS, testwait_ms(2000));
	for (int i = 0; i < MAX_CONNS; i++)
		refused += !still_open(fds[i], 0);
	cr_expect_eq(refused, 0, "%u of %d clients refused under --max-conns %d (worker split: %lld rejected)",
		     refused, MAX_CONNS, MAX_CONNS, faultkit_metric(s.admin, "slb_worker_rejected_total"));
	if (refused == 0) { /* with 50 open, the 51st is over the limit whichever worker gets it */
		fd = testproc_connect(s.port, IO_MS);
		cr_assert_geq(fd, 0);
		cr_assert(closed_without_data(fd, 2000), "the 51st connection was not refused");
		close(fd);
	}
	for (int i = 0; i < MAX_CONNS; i++)
		close(fds[i]);
	faultkit_slb_stop_ok(&s, STOP_MS);
}
