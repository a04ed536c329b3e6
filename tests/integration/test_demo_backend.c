/* slb-backend as a black box on loopback: HTTP keep-alive, pipelining, split requests,
 * /bytes, /health with SIGUSR1, flags, signals, many connections, and the heartbeat client
 * against a fake heartbeat port (registration, interval, reconnect, --crash-after). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/demo/http_server.h" /* slb_demo exports no include dir */
#include "fakehb.h"
#include "testproc.h"
#include "testskip.h"

#define T_MS 5000 /* generous per-step timeout; a passing run takes milliseconds */

TestSuite(demo_backend, .fini = testproc_stop_all, .timeout = 60);

/* Starts slb-backend NAME on a free port with extra flags (NULL-terminated, may be NULL) and
 * waits until it accepts. Retries on a new port when another process took the first one. */
static struct testproc *start_backend(const char *name, const char *const *extra, unsigned *port)
{
	const char *argv[TESTPROC_ARGS_MAX] = { "slb-backend", "--listen", "127.0.0.1:{port0}", "--name", name };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .timeout_ms = T_MS };
	size_t n = 5;
	struct testproc *p;

	for (size_t i = 0; extra && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	p = testproc_start(&st);
	cr_assert_not_null(p, "slb-backend did not come up: %s", st.why);
	*port = st.ports[0];
	return p;
}

static void send_text(int fd, const char *text)
{
	cr_assert_eq(testproc_write_all(fd, text, strlen(text), T_MS), 0, "write failed");
}

static void read_answer(int fd, struct testproc_http *r, bool head_only)
{
	int rc = testproc_http_read(fd, r, head_only, T_MS);

	cr_assert_eq(rc, 0, "reading the answer failed: %s", strerror(-rc));
}

static void expect_names(const struct testproc_http *r, const char *name)
{
	char want[96], hdr[96];

	snprintf(want, sizeof(want), "backend %s\n", name);
	cr_expect_eq(r->status, 200);
	cr_expect_str_eq(r->body, want);
	cr_expect_eq(r->content_length, strlen(want));
	cr_expect_str_eq(testproc_http_header(r, "X-Backend", hdr, sizeof(hdr)) ?: "", name);
}

Test(demo_backend, answer_names_the_backend)
{
	static struct testproc_http r;
	unsigned port;

	start_backend("alpha", NULL, &port);
	cr_assert_eq(testproc_http_get(port, "/anything?x=1", &r, T_MS), 0);
	expect_names(&r, "alpha");
	cr_expect(r.conn_close, "a Connection: close request gets Connection: close back");
}

Test(demo_backend, keep_alive_serves_several_requests_on_one_connection)
{
	static struct testproc_http r;
	char hdr[64];
	unsigned port;
	int fd;

	start_backend("ka", NULL, &port);
	fd = testproc_connect(port, T_MS);
	cr_assert_geq(fd, 0);
	for (int i = 0; i < 5; i++) {
		send_text(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
		read_answer(fd, &r, false);
		expect_names(&r, "ka");
		cr_expect_not(r.conn_close);
		cr_expect_null(testproc_http_header(&r, "Connection", hdr, sizeof(hdr)),
			       "HTTP/1.1 is persistent without saying so: %s", hdr);
	}
	close(fd);
}

Test(demo_backend, pipelined_requests_are_answered_in_order)
{
	static struct testproc_http r;
	unsigned port;
	int fd;

	start_backend("pipe", NULL, &port);
	fd = testproc_connect(port, T_MS);
	cr_assert_geq(fd, 0);
	send_text(fd, "GET /a HTTP/1.1\r\n\r\n"
		      "GET /health HTTP/1.1\r\n\r\n"
		      "GET /bytes/5 HTTP/1.1\r\n\r\n"
		      "HEAD / HTTP/1.1\r\n\r\n"
		      "POST /form HTTP/1.1\r\nContent-Length: 7\r\n\r\nabcdefg"
		      "GET /b HTTP/1.1\r\nConnection: close\r\n\r\n");
	read_answer(fd, &r, false);
	expect_names(&r, "pipe");
	read_answer(fd, &r, false);
	cr_expect_str_eq(r.body, "ok\n");
	read_answer(fd, &r, false);
	cr_expect_str_eq(r.body, "01234");
	read_answer(fd, &r, true);
	cr_expect_eq(r.content_length, strlen("backend pipe\n"));
	read_answer(fd, &r, false);
	expect_names(&r, "pipe");
	read_answer(fd, &r, false);
	expect_names(&r, "pipe");
	cr_expect(r.conn_close);
	cr_expect_eq(testproc_wait_eof(fd, T_MS), 0, "the server closes after Connection: close");
	close(fd);
}

Test(demo_backend, request_split_over_many_reads_is_answered_once_complete)
{
	static const char req[] = "GET /split HTTP/1.1\r\nHost: t\r\nX-Long: 0123456789\r\n\r\n";
	static struct testproc_http r;
	unsigned port;
	int fd, one = 1;

	start_backend("split", NULL, &port);
	fd = testproc_connect(port, T_MS);
	cr_assert_geq(fd, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (size_t i = 0; i < sizeof(req) - 1; i += 3) {
		size_t n = sizeof(req) - 1 - i < 3 ? sizeof(req) - 1 - i : 3;

		cr_assert_eq(testproc_write_all(fd, req + i, n, T_MS), 0);
		usleep(2000);
	}
	read_answer(fd, &r, false);
	expect_names(&r, "split");
	close(fd);
}

static uint64_t pattern_fnv(uint64_t n)
{
	uint64_t h = TESTPROC_FNV_INIT;

	for (uint64_t i = 0; i < n; i++) {
		char c = http_bytes_pattern(i);

		h = testproc_fnv(h, &c, 1);
	}
	return h;
}

Test(demo_backend, bytes_returns_exactly_n_bytes_of_the_pattern)
{
	static const uint64_t sizes[] = { 0, 1, 63, 64, 65536 + 7, 5u << 20 };
	static struct testproc_http r;
	unsigned port;
	int fd;

	start_backend("bulk", NULL, &port);
	fd = testproc_connect(port, T_MS);
	cr_assert_geq(fd, 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char req[64];

		snprintf(req, sizeof(req), "GET /bytes/%llu HTTP/1.1\r\n\r\n",
			 (unsigned long long)sizes[i]);
		send_text(fd, req);
		read_answer(fd, &r, false);
		cr_expect_eq(r.status, 200);
		cr_expect_eq(r.content_length, sizes[i]);
		cr_expect_eq(r.body_len, sizes[i], "size %llu", (unsigned long long)sizes[i]);
		cr_expect_eq(r.body_fnv, pattern_fnv(sizes[i]), "content of /bytes/%llu",
			     (unsigned long long)sizes[i]);
	}
	close(fd);
}

Test(demo_backend, bytes_largest_size_streams_and_larger_is_refused)
{
	static struct testproc_http r;
	char path[32];
	unsigned port;

	start_backend("big", NULL, &port);
	snprintf(path, sizeof(path), "/bytes/%u", HTTP_BYTES_MAX);
	cr_assert_eq(testproc_http_get(port, path, &r, 20000), 0);
	cr_expect_eq(r.body_len, HTTP_BYTES_MAX);
	snprintf(path, sizeof(path), "/bytes/%u", HTTP_BYTES_MAX + 1);
	cr_assert_eq(testproc_http_get(port, path, &r, T_MS), 0);
	cr_expect_eq(r.status, 400);
	cr_assert_eq(testproc_http_get(port, "/bytes/12x", &r, T_MS), 0);
	cr_expect_eq(r.status, 400);
}

/* Signals are asynchronous: poll until the answer changes. */
static int wait_health(unsigned port, int want)
{
	static struct testproc_http r;
	int64_t deadline = testproc_now_ms() + T_MS;

	do {
		cr_assert_eq(testproc_http_get(port, "/health", &r, T_MS), 0);
		if (r.status == want)
			return want;
		usleep(5000);
	} while (testproc_now_ms() < deadline);
	return r.status;
}

Test(demo_backend, health_is_200_then_503_after_sigusr1_then_200_again)
{
	struct testproc *p;
	unsigned port;

	p = start_backend("hc", NULL, &port);
	cr_assert_eq(wait_health(port, 200), 200);
	cr_assert_eq(testproc_signal(p, SIGUSR1), 0);
	cr_assert_eq(wait_health(port, 503), 503);
	cr_assert_eq(testproc_signal(p, SIGUSR1), 0);
	cr_assert_eq(wait_health(port, 200), 200);
}

Test(demo_backend, fail_health_flag_starts_at_503)
{
	static const char *const extra[] = { "--fail-health", NULL };
	static struct testproc_http r;
	unsigned port;

	start_backend("sick", extra, &port);
	cr_assert_eq(testproc_http_get(port, "/health", &r, T_MS), 0);
	cr_expect_eq(r.status, 503);
	cr_assert_eq(testproc_http_get(port, "/", &r, T_MS), 0);
	cr_expect_eq(r.status, 200, "only /health fails");
}

Test(demo_backend, http10_closes_unless_keep_alive_is_asked)
{
	static struct testproc_http r;
	char hdr[64];
	unsigned port;
	int fd;

	start_backend("old", NULL, &port);
	fd = testproc_connect(port, T_MS);
	cr_assert_geq(fd, 0);
	/* Header names and tokens are case-insensitive, and Connection is a list (RFC 9110 7.6.1). */
	send_text(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		      "GET / HTTP/1.0\r\nconnection: Upgrade, Keep-Alive\r\n\r\n");
	for (int i = 0; i < 2; i++) {
		read_answer(fd, &r, false);
		expect_names(&r, "old");
		cr_expect_str_eq(testproc_http_header(&r, "Connection", hdr, sizeof(hdr)) ?: "(none)", "keep-alive",
				 "an HTTP/1.0 client is told its connection stays open");
	}
	send_text(fd, "GET / HTTP/1.0\r\n\r\n");
	read_answer(fd, &r, false);
	expect_names(&r, "old");
	cr_expect(r.conn_close);
	cr_expect_eq(testproc_wait_eof(fd, T_MS), 0);
	close(fd);
}

Test(demo_backend, malformed_requests_get_an_error_and_close)
{
	static const char *const bad[] = {
		"NONSENSE\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
	};
	static const int want[] = { 400, 505, 501, 400 };
	static struct testproc_http r;
	unsigned port;

	start_backend("strict", NULL, &port);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = testproc_connect(port, T_MS);

		cr_assert_geq(fd, 0);
		send_text(fd, bad[i]);
		read_answer(fd, &r, false);
		cr_expect_eq(r.status, want[i], "request %zu", i);
		cr_expect(r.conn_close);
		cr_expect_eq(testproc_wait_eof(fd, T_MS), 0);
		close(fd);
	}
}

Test(demo_backend, oversized_head_gets_431_and_close)
{
	static const char start[] = "GET / HTTP/1.1\r\nX-Big: ";
	static char req[20000];
	static struct testproc_http r;
	unsigned port;
	int fd;

	start_backend("small", NULL, &port);
	memset(req, 'a', sizeof(req) - 1);
	memcpy(req, start, sizeof(start) - 1);
	fd = testproc_connect(port, T_MS);
	cr_assert_geq(fd, 0);
	send_text(fd, req);
	read_answer(fd, &r, false);
	cr_expect_eq(r.status, 431);
	cr_expect(r.conn_close);
	cr_expect_eq(testproc_wait_eof(fd, T_MS), 0);
	close(fd);
}

Test(demo_backend, serves_a_thousand_concurrent_connections)
{
	enum { N = 1000 };
	static int fds[N];
	static struct testproc_http r;
	struct rlimit rl;
	unsigned port;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < N + 64 && rl.rlim_max >= N + 64) {
		rl.rlim_cur = N + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < N + 64)
		testskip(TESTSKIP_NOFILE, "RLIMIT_NOFILE below %d", N + 64);
	start_backend("many", NULL, &port);
	for (int i = 0; i < N; i++) {
		fds[i] = testproc_connect(port, T_MS);
		cr_assert_geq(fds[i], 0, "connection %d: %s", i, strerror(-fds[i]));
	}
	for (int i = 0; i < N; i++)
		send_text(fds[i], "GET / HTTP/1.1\r\n\r\n");
	for (int i = 0; i < N; i++) {
		read_answer(fds[i], &r, false);
		cr_assert_eq(r.status, 200, "connection %d", i);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
}

Test(demo_backend, bad_flag_exits_2_with_one_line)
{
	static const char *const argv[] = { "slb-backend", "--no-such-flag", NULL };
	struct testproc *p = testproc_spawn(argv);
	char out[1024];

	cr_assert_not_null(p);
	cr_assert_eq(testproc_wait(p, T_MS), 0);
	cr_expect_eq(testproc_exit_code(p), 2);
	testproc_output(p, out, sizeof(out));
	cr_expect_neq(strstr(out, "--no-such-flag"), NULL, "names the flag: %s", out);
	cr_expect_eq(strchr(out, '\n'), out + strlen(out) - 1, "exactly one line: %s", out);
}

Test(demo_backend, missing_name_exits_2)
{
	static const char *const argv[] = { "slb-backend", "--listen", "127.0.0.1:1", NULL };
	struct testproc *p = testproc_spawn(argv);

	cr_assert_not_null(p);
	cr_assert_eq(testproc_wait(p, T_MS), 0);
	cr_expect_eq(testproc_exit_code(p), 2);
}

Test(demo_backend, sigterm_and_sigint_exit_0)
{
	static const int sigs[] = { SIGTERM, SIGINT };

	for (size_t i = 0; i < 2; i++) {
		unsigned port;
		struct testproc *p = start_backend("bye", NULL, &port);

		cr_assert_eq(testproc_signal(p, sigs[i]), 0);
		cr_assert_eq(testproc_wait(p, T_MS), 0);
		cr_expect_eq(testproc_exit_code(p), 0, "signal %d", sigs[i]);
	}
}

/* ---- heartbeats against a fake heartbeat port ---- */

static struct testproc *start_heartbeating(const char *name, unsigned hb_port, const char *flag,
					   const char *value, unsigned *port)
{
	char lb[32];
	const char *extra[] = { "--heartbeat", lb, flag, value, NULL };

	snprintf(lb, sizeof(lb), "127.0.0.1:%u", hb_port);
	return start_backend(name, extra, port);
}

Test(demo_backend, heartbeat_registers_its_address_and_name_and_beats_at_the_interval)
{
	char reg[512], line[512], want[64], v[64];
	unsigned hb_port, port;
	int lfd, fd;
	int64_t first = 0, last = 0;

	lfd = testproc_listen(&hb_port);
	cr_assert_geq(lfd, 0);
	start_heartbeating("hb1", hb_port, "--weight", "7", &port);
	fd = fakehb_accept_register(lfd, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0, "no registration: %s", strerror(-fd));
	snprintf(want, sizeof(want), "REGISTER 127.0.0.1:%u ", port);
	cr_expect_eq(strncmp(reg, want, strlen(want)), 0, "REGISTER names the service: %s", reg);
	cr_expect_str_eq(fakehb_value(reg, "name", v, sizeof(v)) ?: "", "hb1");
	cr_expect_str_eq(fakehb_value(reg, "weight", v, sizeof(v)) ?: "", "7");
	for (int i = 0; i < 6; i++) {
		cr_assert_geq(fakehb_read_line(fd, 50, line, sizeof(line), T_MS), 0);
		cr_assert_eq(strncmp(line, "HEARTBEAT ", 10), 0, "got: %s", line);
		cr_expect_str_eq(fakehb_value(line, "state", v, sizeof(v)) ?: "", "up");
		cr_expect_not_null(fakehb_value(line, "load", v, sizeof(v)));
		last = testproc_now_ms();
		if (i == 0)
			first = last;
	}
	/* Five periods of 50 ms: allow for a busy 2-CPU machine, not for a wrong interval. */
	cr_expect(last - first >= 5 * 30 && last - first <= 5 * 150,
		  "5 periods took %lld ms, expected about 250", (long long)(last - first));
	close(fd);
	close(lfd);
}

Test(demo_backend, register_flag_overrides_the_announced_address)
{
	char reg[512];
	unsigned hb_port, port;
	int lfd, fd;

	lfd = testproc_listen(&hb_port);
	cr_assert_geq(lfd, 0);
	start_heartbeating("nat", hb_port, "--register", "127.0.0.1:4242", &port);
	fd = fakehb_accept_register(lfd, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0);
	cr_expect_eq(strncmp(reg, "REGISTER 127.0.0.1:4242 ", 24), 0, "got: %s", reg);
	close(fd);
	close(lfd);
}

Test(demo_backend, heartbeat_reconnects_after_slb_drops_the_connection)
{
	char reg[512], line[512];
	unsigned hb_port, port;
	int lfd, fd;

	lfd = testproc_listen(&hb_port);
	cr_assert_geq(lfd, 0);
	start_heartbeating("again", hb_port, "--interval", "50", &port);
	fd = fakehb_accept_register(lfd, 1, 1000, 3000, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0);
	cr_assert_geq(fakehb_read_line(fd, 1000, line, sizeof(line), T_MS), 0);
	close(fd);
	/* The first reconnect comes after the 100 ms backoff. */
	fd = fakehb_accept_register(lfd, 2, 1000, 3000, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0, "no second registration: %s", strerror(-fd));
	cr_assert_geq(fakehb_read_line(fd, 1000, line, sizeof(line), T_MS), 0);
	cr_expect_eq(strncmp(line, "HEARTBEAT ", 10), 0, "got: %s", line);
	close(fd);
	close(lfd);
}

Test(demo_backend, heartbeat_err_makes_it_reconnect)
{
	char reg[512], line[512];
	unsigned hb_port, port;
	int lfd, fd;

	lfd = testproc_listen(&hb_port);
	cr_assert_geq(lfd, 0);
	start_heartbeating("refused", hb_port, "--interval", "50", &port);
	fd = testproc_accept(lfd, T_MS);
	cr_assert_geq(fd, 0);
	send_text(fd, "ERR not today\n");
	cr_expect_eq(testproc_wait_eof(fd, T_MS), 0, "the backend hangs up after ERR");
	close(fd);
	fd = fakehb_accept_register(lfd, 3, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0, "no registration after ERR: %s", strerror(-fd));
	cr_assert_geq(fakehb_read_line(fd, 50, line, sizeof(line), T_MS), 0);
	close(fd);
	close(lfd);
}

Test(demo_backend, crash_after_3_exits_1_after_3_heartbeats)
{
	char reg[512], line[512], out[4096];
	unsigned hb_port, port;
	struct testproc *p;
	int lfd, fd, rc;

	lfd = testproc_listen(&hb_port);
	cr_assert_geq(lfd, 0);
	p = start_heartbeating("doomed", hb_port, "--crash-after", "3", &port);
	fd = fakehb_accept_register(lfd, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_geq(fakehb_read_line(fd, 50, line, sizeof(line), T_MS), 0);
		cr_assert_eq(strncmp(line, "HEARTBEAT ", 10), 0, "got: %s", line);
	}
	rc = fakehb_read_line(fd, 50, line, sizeof(line), T_MS);
	cr_expect_eq(rc, -EPIPE, "no 4th heartbeat and no BYE, got %d: %s", rc,
		     rc >= 0 ? line : "");
	cr_assert_eq(testproc_wait(p, T_MS), 0);
	cr_expect_eq(testproc_exit_code(p), 1);
	testproc_output(p, out, sizeof(out));
	cr_expect_neq(strstr(out, "slb-backend doomed: crashing after 3 heartbeats (demo)"), NULL,
		      "output: %s", out);
	close(fd);
	close(lfd);
}

/* ---- several slb instances (docs/scale-out.md) ---- */

/* Reads 6 heartbeats from fd (interval 50 ms) and fails unless they came at that pace. */
static void expect_steady_heartbeats(int fd, const char *which)
{
	char line[512];
	int64_t first = 0, last = 0;

	for (int i = 0; i < 6; i++) {
		cr_assert_geq(fakehb_read_line(fd, 50, line, sizeof(line), T_MS), 0, "%s: no heartbeat", which);
		cr_assert_eq(strncmp(line, "HEARTBEAT ", 10), 0, "%s got: %s", which, line);
		last = testproc_now_ms();
		if (i == 0)
			first = last;
	}
	cr_expect(last - first <= 5 * 150, "%s: 5 periods of 50 ms took %lld ms", which, (long long)(last - first));
}

/*
 * --heartbeat with four instances: two answer, one refuses connections (nothing listens) and
 * one accepts into its backlog but never says HELLO (a hung slb). The two live ones each get
 * a registration and heartbeats at the interval, undisturbed by the others' connect failures
 * and 2 s answer timeouts; when one live instance drops its session, it alone reconnects
 * while the other's heartbeats go on.
 */
Test(demo_backend, heartbeats_to_every_instance_independently)
{
	char lbs[160], reg[512];
	const char *extra[] = { "--heartbeat", lbs, "--interval", "50", NULL };
	unsigned p1, p2, hung_port, port;
	int l1 = testproc_listen(&p1), l2 = testproc_listen(&p2), hung = testproc_listen(&hung_port);
	int dead = testproc_free_port(), f1, f2;

	cr_assert(l1 >= 0 && l2 >= 0 && hung >= 0 && dead > 0);
	snprintf(lbs, sizeof(lbs), "127.0.0.1:%u,127.0.0.1:%d,127.0.0.1:%u,127.0.0.1:%u", p1, dead, hung_port, p2);
	start_backend("multi", extra, &port);
	f1 = fakehb_accept_register(l1, 1, 1000, 3000, reg, sizeof(reg), T_MS);
	f2 = fakehb_accept_register(l2, 7, 1000, 3000, reg, sizeof(reg), T_MS);
	cr_assert(f1 >= 0 && f2 >= 0, "registrations: %d %d", f1, f2);
	expect_steady_heartbeats(f1, "instance 1");
	expect_steady_heartbeats(f2, "instance 2");
	close(f1);
	f1 = fakehb_accept_register(l1, 2, 1000, 3000, reg, sizeof(reg), T_MS);
	cr_assert_geq(f1, 0, "instance 1 not registered again: %s", strerror(-f1));
	expect_steady_heartbeats(f2, "instance 2 while 1 reconnected");
	expect_steady_heartbeats(f1, "instance 1 after reconnecting");
	close(f1);
	close(f2);
	close(l1);
	close(l2);
	close(hung);
}

Test(demo_backend, heartbeat_list_refuses_a_repeated_or_empty_address)
{
	static const char *const lists[] = { "127.0.0.1:9000,127.0.0.1:9000", "127.0.0.1:9000,", ",127.0.0.1:9000",
					     "127.0.0.1:9000,nohost" };
	char out[512];

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		const char *argv[] = { "slb-backend", "--listen", "127.0.0.1:1", "--name", "x", "--heartbeat",
				       lists[i], NULL };

		cr_expect_eq(testproc_run(argv, T_MS, out, sizeof(out)), 2, "%s: %s", lists[i], out);
		cr_expect_neq(strstr(out, "--heartbeat: "), NULL, "%s: %s", lists[i], out);
	}
}
