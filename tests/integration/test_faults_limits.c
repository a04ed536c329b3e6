/* Fault injection, resource limits: slb out of file descriptors, and 10,000 concurrent
 * connections. Each case says what the client sees and what slb logs, and checks both.
 * The backend is a real slb-backend in its own process (its descriptors are its own). */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"
#include "testskip.h"

#define IO_MS 10000
#define STOP_MS 5000
#define MIB (1024 * 1024)

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(faults_limits, .fini = suite_fini, .timeout = 90);

static char be_arg[32];

#define NOFILE 256
/* Two workers, so the slots (190 per worker, each ring's direct descriptor table of
 * 190 + 1 + 64 fitting under NOFILE) outnumber the descriptors: the descriptors run out first,
 * whatever slb spends on pipes. */
#define MAX_CONNS "380"
#define KEPT_MAX 370      /* keep-alive clients opened at most while looking for the limit */
#define STALLED 3
#define LATE 40
#define STALL_PATH "/bytes/67108864"
#define PREFIX (8ULL * MIB)

static const char keepalive_get[] = "GET / HTTP/1.1\r\nHost: slb\r\n\r\n";

/* One request on a keep-alive connection. Returns 0 when it was answered 200, -errno when
 * the connection was closed (or reset) instead, -ETIMEDOUT when nothing came. */
static int keepalive_request(int fd)
{
	struct testproc_http r;
	int rc = testproc_write_all(fd, keepalive_get, sizeof(keepalive_get) - 1, 3000);

	if (rc == -EPIPE || rc == -ECONNRESET)
		return -EPIPE;
	if (!rc)
		rc = testproc_http_read(fd, &r, false, 3000);
	if (!rc && r.status != 200)
		rc = -EPROTO;
	if (rc == -EPIPE && r.head[0])
		rc = -EPROTO; /* closed mid-answer: not a clean refusal */
	return rc;
}

/* Waits until pid's descriptor count has not changed for 300 ms. Returns it. */
static int wait_fds_still(pid_t pid, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms, since = testproc_now_ms();
	int last = faultkit_fd_count(pid);

	while (testproc_now_ms() < deadline) {
		int n;

		usleep(50000);
		n = faultkit_fd_count(pid);
		if (n != last) {
			last = n;
			since = testproc_now_ms();
		} else if (testproc_now_ms() - since >= 300) {
			break;
		}
	}
	return last;
}

/* A stalled client starts reading: its answer must flow again, from where it stopped. Reads
 * the head and the first PREFIX bytes of the body and checks them (the whole 64 MiB would
 * take seconds on a loaded machine and prove nothing more). */
static void expect_answer_flows(int fd, int i)
{
	static char chunk[65536];
	struct testproc_http r = { 0 };
	uint64_t fnv = TESTPROC_FNV_INIT, got = 0;
	size_t hlen = 0;

	while (hlen < sizeof(r.head) - 1 && (hlen < 4 || memcmp(r.head + hlen - 4, "\r\n\r\n", 4))) {
		cr_assert_eq(testproc_read_full(fd, r.head + hlen, 1, IO_MS), 1, "stalled client %d: no head", i);
		hlen++;
	}
	cr_assert_eq(strncmp(r.head, "HTTP/1.1 200", 12), 0, "stalled client %d: %s", i, r.head);
	while (got < PREFIX) {
		size_t want = PREFIX - got < sizeof(chunk) ? (size_t)(PREFIX - got) : sizeof(chunk);
		ssize_t n = testproc_read_full(fd, chunk, want, IO_MS);

		cr_assert_eq(n, (ssize_t)want, "stalled client %d: answer cut after %llu bytes", i,
			     (unsigned long long)got);
		fnv = testproc_fnv(fnv, chunk, want);
		got += want;
	}
	cr_assert_eq(fnv, faultkit_pattern_fnv(PREFIX), "stalled client %d: bytes changed", i);
}

/* At most LOG_BURST (5) lines a second per message and worker, plus the seconds cut short. */
static void expect_rate_limited(const struct testproc *p, const char *needle, int64_t elapsed_ms)
{
	unsigned lines = faultkit_count_lines(p, needle);
	unsigned most = 2 * 5 * (unsigned)(elapsed_ms / 1000 + 2);

	cr_expect_leq(lines, most, "%u lines of \"%s\" in %lld ms: not rate-limited", lines, needle,
		      (long long)elapsed_ms);
}

/* Opens keep-alive clients, each answered once and kept open, until one is refused (closed
 * instead of answered). Returns how many were kept; their fds are in kept. */
static int fill_until_refused(unsigned port, int *kept)
{
	for (int n = 0; n < KEPT_MAX; n++) {
		int fd = testproc_connect(port, IO_MS), rc;

		cr_assert_geq(fd, 0, "client %d could not connect: %s", n, strerror(-fd));
		rc = keepalive_request(fd);
		if (rc == 0) {
			kept[n] = fd;
			continue;
		}
		cr_assert_eq(rc, -EPIPE, "client %d: %s (want an answer or a clean close)", n, strerror(-rc));
		close(fd);
		return n;
	}
	cr_assert_fail("%d keep-alive clients and no refusal under ulimit -n %d", KEPT_MAX, NOFILE);
	return KEPT_MAX;
}

/*
 * slb under a hard limit of 256 descriptors (prlimit, so it cannot raise it), two workers,
 * --max-conns 380: keep-alive clients, each holding a backend socket in slb, are opened until
 * one is refused, with three 64 MiB downloads stalled (their clients not reading) meanwhile.
 * Client sees: up to the limit, answers; from there new clients are accepted and closed at
 *   once (EOF, or RST when their request was unread), never left hanging nor cut mid-answer;
 *   the connections slb already holds keep working (kept clients are answered again, stalled
 *   downloads flow on byte for byte); once clients close, new clients are all served again.
 * slb logs: at start, that --max-conns needs more descriptors than the limit; then "cannot
 *   open a backend socket: closing a client (24: Too many open files)", at most 5 lines a
 *   second per worker plus "[N similar lines suppressed]";
 *   no error line, and it exits 0 on SIGTERM.
 */
Test(faults_limits, out_of_descriptors_refuses_cleanly_and_recovers)
{
	static int kept[KEPT_MAX];
	struct faultkit_slb s;
	int stalled[STALLED], n_kept, n_fds, rc;
	unsigned refused = 0;
	int64_t t0 = testproc_now_ms();
	char why[256];

	faultkit_backend_ok("b1", be_arg, sizeof(be_arg));
	rc = faultkit_slb_start(&s, NOFILE, (const char *const[]){ "--workers", "2", "--max-conns", MAX_CONNS,
								    "--backend", be_arg, NULL });
	cr_assert_eq(rc, 0, "slb did not come up under ulimit -n %d: %s: %s", NOFILE, strerror(-rc),
		     s.why);
	cr_assert_eq(faultkit_count_lines(s.proc, "descriptors but the limit is 256"), 1,
		     "no warning that --max-conns does not fit the limit");
	for (int i = 0; i < STALLED; i++) {
		stalled[i] = testproc_connect(s.port, IO_MS);
		cr_assert_geq(stalled[i], 0);
		cr_assert_eq(faultkit_send_get(stalled[i], STALL_PATH, true, IO_MS), 0);
	}
	n_kept = fill_until_refused(s.port, kept);
	cr_assert_geq(n_kept, NOFILE / 2, "refused after only %d clients under ulimit -n %d", n_kept, NOFILE);
	n_fds = faultkit_fd_count(s.proc->pid);
	cr_assert_geq(n_fds, NOFILE - 8, "refused with %d descriptors open: not the descriptor limit", n_fds);

	for (int i = 0; i < LATE; i++) {
		int fd = testproc_connect(s.port, IO_MS);

		cr_assert_geq(fd, 0, "late client %d: %s", i, strerror(-fd));
		rc = keepalive_request(fd);
		cr_assert(rc == 0 || rc == -EPIPE, "late client %d: %s (want an answer or a clean close)", i,
			  strerror(-rc));
		refused += rc != 0;
		if (rc == 0)
			kept[n_kept++] = fd; /* a descriptor came free meanwhile: fine, keep it */
		else
			close(fd);
	}
	cr_assert_geq(refused, LATE / 2, "only %u of %d late clients refused at the limit", refused, LATE);
	for (int i = 0; i < n_kept; i += n_kept / 20 + 1)
		cr_assert_eq(keepalive_request(kept[i]), 0, "kept client %d not answered at the limit", i);
	for (int i = 0; i < STALLED; i++)
		expect_answer_flows(stalled[i], i);
	cr_assert_gt(faultkit_count_lines(s.proc, "cannot open a backend socket: closing a client (24: Too many open files)"), 0);
	expect_rate_limited(s.proc, "cannot open a backend socket", testproc_now_ms() - t0);
	expect_rate_limited(s.proc, "cannot create a pipe", testproc_now_ms() - t0);
	expect_rate_limited(s.proc, "no live backend", testproc_now_ms() - t0);

	for (int i = 0; i < STALLED; i++)
		close(stalled[i]);
	for (int i = 0; i < n_kept; i++)
		close(kept[i]);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", 0, IO_MS), 0);
	n_fds = wait_fds_still(s.proc->pid, 5000);
	cr_assert_lt(n_fds, NOFILE / 2, "descriptors not given back: %d still open", n_fds);
	cr_assert_eq(faultkit_parallel_gets(s.port, "/", 40, 8, IO_MS, why, sizeof(why)), 40,
		     "not recovered: %s", why);
	faultkit_slb_stop_ok(&s, STOP_MS);
}

#define TEN_K 10000

/* Reads one small answer with Content-Length from fd (non-blocking reads, poll for time).
 * Returns the status, or -errno. The body goes to body. */
static int read_small_answer(int fd, char *body, size_t blen, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	char buf[1024];
	size_t got = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const char *end = NULL, *cl;
		ssize_t n;
		int status, left;

		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = strstr(buf, "Content-Length: ");
		if (end && cl && sscanf(buf, "HTTP/1.1 %d", &status) == 1) {
			size_t want = strtoul(cl + 16, NULL, 10);

			if (got >= (size_t)(end + 4 - buf) + want) {
				snprintf(body, blen, "%.*s", (int)want, end + 4);
				return status;
			}
		}
		if (got == sizeof(buf) - 1)
			return -EPROTO;
		left = (int)(deadline - testproc_now_ms());
		if (left <= 0 || poll(&p, 1, left) != 1)
			return -ETIMEDOUT;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
}

/*
 * 10,000 clients at once through slb (--workers 2, descriptor limit of 20,000 from which
 * slb derives --max-conns), each with a keep-alive request answered by one slb-backend.
 * Client sees: every one of the 10,000 connects, gets its 200 "backend b1" answer while all
 *   are open (slb_worker_active_connections reaches 10,000), then closes.
 * slb logs: no warning nor error; after the clients close, no connection is left open.
 */
Test(faults_limits, ten_thousand_concurrent_connections, .timeout = 120)
{
	static int fds[TEN_K];
	static const char req[] = "GET / HTTP/1.1\r\nHost: slb\r\n\r\n";
	struct faultkit_slb s;
	unsigned ok = 0;

	if (faultkit_raise_nofile() < TEN_K + 200)
		testskip(TESTSKIP_NOFILE, "needs a descriptor limit of %d for the clients", TEN_K + 200);
	faultkit_backend_ok("b1", be_arg, sizeof(be_arg));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "2", "--backend", be_arg, NULL });
	for (int i = 0; i < TEN_K; i++) {
		fds[i] = testproc_connect(s.port, IO_MS);
		cr_assert_geq(fds[i], 0, "connection %d: %s", i, strerror(-fds[i]));
	}
	for (int i = 0; i < TEN_K; i++)
		cr_assert_eq(testproc_write_all(fds[i], req, sizeof(req) - 1, IO_MS), 0, "request %d", i);
	for (int i = 0; i < TEN_K; i++) {
		char body[64];
		int status = read_small_answer(fds[i], body, sizeof(body), IO_MS);

		cr_assert_eq(status, 200, "client %d: %s", i, status < 0 ? strerror(-status) : "not 200");
		cr_assert_str_eq(body, "backend b1\n", "client %d", i);
		ok++;
	}
	cr_assert_eq(ok, TEN_K);
	cr_assert_eq(faultkit_metric(s.admin, "slb_worker_active_connections"), TEN_K);
	for (int i = 0; i < TEN_K; i++)
		close(fds[i]);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", 0, 20000), 0,
		     "connections left open after the clients closed");
	cr_assert_eq(faultkit_count_lines(s.proc, " warn "), 0);
	faultkit_slb_stop_ok(&s, STOP_MS);
}
