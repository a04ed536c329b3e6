/* Per-client limits and rules (docs/operating.md#per-client-limits), through a real slb in
 * front of an in-process echo backend. Each client binds its own source address of
 * 127.0.0.0/8 (or ::1), so slb tells them apart without network namespaces. A client is
 * "served" when its "ping" comes back through the backend, "refused" when slb cuts it first
 * (a reset, before any backend saw it: the echo server's accept count says so). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_server.h"
#include "faultkit.h"
#include "testproc.h"
#include "testwait.h"

#define IO_MS 5000
#define STOP_MS 5000

static struct echo_server echo, echo2;

static void suite_fini(void)
{
	testproc_stop_all();
	echo_server_stop(&echo);
	echo_server_stop(&echo2);
}

TestSuite(client_limits, .fini = suite_fini, .timeout = 120);

enum outcome { SERVED, REFUSED_RESET, REFUSED_EOF };

/* A connection from src (an IPv4 or IPv6 literal) to dst:port, or -errno. */
static int connect_from(const char *src, const char *dst, unsigned port)
{
	struct sockaddr_storage from = { 0 }, to = { 0 };
	bool v6 = strchr(src, ':') != NULL;
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	cr_assert_geq(fd, 0);
	if (v6) {
		struct sockaddr_in6 *f = (struct sockaddr_in6 *)&from, *t = (struct sockaddr_in6 *)&to;

		f->sin6_family = t->sin6_family = AF_INET6;
		cr_assert_eq(inet_pton(AF_INET6, src, &f->sin6_addr), 1);
		cr_assert_eq(inet_pton(AF_INET6, dst, &t->sin6_addr), 1);
		t->sin6_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in *f = (struct sockaddr_in *)&from, *t = (struct sockaddr_in *)&to;

		f->sin_family = t->sin_family = AF_INET;
		cr_assert_eq(inet_pton(AF_INET, src, &f->sin_addr), 1);
		cr_assert_eq(inet_pton(AF_INET, dst, &t->sin_addr), 1);
		t->sin_port = htons((uint16_t)port);
	}
	if (bind(fd, (struct sockaddr *)&from, len) == -1 || connect(fd, (struct sockaddr *)&to, len) == -1) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Sends what (e.g. a PROXY header), then "ping", and says whether the ping came back. The
 * connection stays open (in *fd) when served, else it is closed. */
static enum outcome exchange(int fd, const char *what, int *keep)
{
	char buf[8] = { 0 }, msg[160];
	bool reset = false;
	ssize_t n;

	snprintf(msg, sizeof(msg), "%sping", what ? what : "");
	*keep = -1;
	if (testproc_write_all(fd, msg, strlen(msg), IO_MS) != 0) {
		close(fd);
		return REFUSED_RESET; /* the reset came before the write */
	}
	n = testproc_read_upto(fd, buf, 4, IO_MS, &reset);
	cr_assert_neq(n, -ETIMEDOUT, "neither an answer nor a close within %d ms", IO_MS);
	if (n == 4 && memcmp(buf, "ping", 4) == 0) {
		*keep = fd;
		return SERVED;
	}
	close(fd);
	return reset || n == -ECONNRESET ? REFUSED_RESET : REFUSED_EOF;
}

static enum outcome try_client(const char *src, const char *dst, unsigned port, const char *what, int *keep)
{
	int fd = connect_from(src, dst, port);

	if (fd < 0) {
		*keep = -1;
		return REFUSED_RESET;
	}
	return exchange(fd, what, keep);
}

/* One series of /metrics, e.g. slb_client_refused_total{service="default",reason="max_conns"}. */
static long long metric_series(unsigned admin, const char *series)
{
	static char body[1 << 18];
	const char *at;

	if (faultkit_http_body(admin, "/metrics", body, sizeof(body), IO_MS) != 200)
		return -1;
	at = strstr(body, series);
	return at ? strtoll(at + strlen(series), NULL, 10) : -1;
}

static void start_echo(char *be_arg, size_t len)
{
	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	snprintf(be_arg, len, "127.0.0.1:%u", echo.port);
}

Test(client_limits, max_conns_caps_one_client_and_not_another)
{
	struct faultkit_slb s;
	char be[64], why[512];
	int held[50], fd;
	unsigned served = 0, refused = 0, resets = 0, other = 0, before, logged;
	int64_t burst_ms;
	enum outcome o;

	start_echo(be, sizeof(be));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "2", "--backend", be,
							     "--client-max-conns", "10", NULL });
	burst_ms = testproc_now_ms();
	for (unsigned i = 0; i < 50; i++) {
		before = atomic_load(&echo.accepted);
		o = try_client("127.0.0.1", "127.0.0.1", s.port, NULL, &held[i]);
		served += o == SERVED;
		refused += o != SERVED;
		resets += o == REFUSED_RESET;
		if (o != SERVED)
			cr_expect_eq(atomic_load(&echo.accepted), before, "a refused client reached the backend");
	}
	cr_expect_eq(served, 10, "127.0.0.1 holding its connections: %u of 50 served", served);
	cr_expect_eq(refused, 40);
	if (faultkit_cut_errno(s.proc) == -ECONNRESET)
		cr_expect_eq(resets, refused, "every refusal is a reset (%u of %u)", resets, refused);
	/* another client, while the first still holds its 10 */
	for (unsigned i = 0; i < 20; i++) {
		o = try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &fd);
		other += o == SERVED;
		if (fd >= 0)
			close(fd);
	}
	cr_expect_eq(other, 20, "127.0.0.2: %u of 20 served", other);
	cr_expect_eq(metric_series(s.admin, "slb_client_refused_total{service=\"default\",reason=\"max_conns\"} "), 40);
	burst_ms = testproc_now_ms() - burst_ms;
	logged = faultkit_count_lines(s.proc, "client 127.0.0.1/32 has 10 connections open");
	/* at most one line a second: the 40 refusals span burst_ms, so at most that many seconds + 1 */
	cr_expect(logged >= 1 && logged <= burst_ms / 1000 + 2, "%u log lines for 40 refusals in %lld ms", logged,
		  (long long)burst_ms);
	/* closing them gives the counts back: the client is served again */
	for (unsigned i = 0; i < 50; i++)
		if (held[i] >= 0)
			close(held[i]);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", 0, testwait_ms(5000)), 0);
	for (unsigned i = 0; i < 10; i++) {
		cr_expect_eq(try_client("127.0.0.1", "127.0.0.1", s.port, NULL, &held[i]), SERVED,
			     "connection %u after the others closed", i);
	}
	for (unsigned i = 0; i < 10; i++)
		if (held[i] >= 0)
			close(held[i]);
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
}

/* What a perfect limiter of rate per second with a bucket of depth would let in of attempts
 * made at the times at[0..n) (ms): the rate holds against this, since a client that a busy
 * machine stalls for a while cannot use tokens that overflowed the bucket meanwhile. */
static unsigned ideal_admitted(const int64_t *at, unsigned n, double rate, double depth)
{
	double tokens = depth;
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		if (i)
			tokens += (double)(at[i] - at[i - 1]) * rate / 1000;
		if (tokens > depth)
			tokens = depth;
		if (tokens >= 1) {
			tokens -= 1;
			ok++;
		}
	}
	return ok;
}

#define RATE_ATTEMPTS_MAX 10000

Test(client_limits, max_rate_holds_within_ten_percent_over_five_seconds)
{
	static int64_t at[RATE_ATTEMPTS_MAX];
	struct faultkit_slb s;
	char be[64], why[512];
	unsigned served = 0, attempts = 0, ideal;
	int64_t start, elapsed;
	int fd;

	start_echo(be, sizeof(be));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "2", "--backend", be,
							     "--client-max-rate", "100", NULL });
	start = testproc_now_ms();
	/* bounded in time and in count: 5 s, at most 10,000 connections, a pause of 0.2 ms
	 * between two (still many times the limit, and gentler on a shared machine) */
	while (testproc_now_ms() - start < 5000 && attempts < RATE_ATTEMPTS_MAX) {
		at[attempts] = testproc_now_ms();
		served += try_client("127.0.0.3", "127.0.0.1", s.port, NULL, &fd) == SERVED;
		attempts++;
		if (fd >= 0)
			close(fd);
		usleep(200);
	}
	elapsed = testproc_now_ms() - start;
	ideal = ideal_admitted(at, attempts, 100, 10);
	cr_log_info("measured: %u of %u connections served in %lld ms at --client-max-rate 100 (a perfect limiter: "
		    "%u; 100/s over the window plus the bucket: %lld)", served, attempts, (long long)elapsed, ideal,
		    (long long)(elapsed / 10 + 10));
	cr_assert_gt(attempts, served + served / 2, "the client tried only %u times: the limit never bound", attempts);
	cr_expect(served >= ideal * 0.9 && served <= ideal * 1.1, "%u served of %u tried in %lld ms; a perfect "
		  "limiter lets in %u of those: not within 10%%", served, attempts, (long long)elapsed, ideal);
	cr_expect_leq(served, (elapsed / 10 + 10) * 11 / 10, "more than 100/s plus the bucket");
	cr_expect_eq(metric_series(s.admin, "slb_client_refused_total{service=\"default\",reason=\"max_rate\"} "),
		     attempts - served);
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
}

/* Lines of the file at path that contain needle. */
static unsigned file_count(const char *path, const char *needle)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

Test(client_limits, allow_and_deny_ipv4_sources)
{
	struct faultkit_slb s;
	char be[64], why[512], alog[64];
	unsigned before;
	int fd;

	start_echo(be, sizeof(be));
	snprintf(alog, sizeof(alog), "/tmp/slb-test-clients-alog-%d", getpid());
	unlink(alog);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--backend", be, "--client-allow", "127.0.0.0/8",
							     "--client-deny", "127.0.0.3/32", "--access-log", alog,
							     NULL });
	cr_expect_eq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &fd), SERVED, "127.0.0.2 is allowed");
	if (fd >= 0)
		close(fd);
	before = atomic_load(&echo.accepted);
	for (unsigned i = 0; i < 5; i++)
		cr_expect_neq(try_client("127.0.0.3", "127.0.0.1", s.port, NULL, &fd), SERVED, "127.0.0.3 is denied");
	cr_expect_eq(atomic_load(&echo.accepted), before, "a denied client reached the backend");
	cr_expect_eq(metric_series(s.admin, "slb_client_refused_total{service=\"default\",reason=\"denied\"} "), 5);
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
	/* the access log (written out by the time slb has exited) names each refused client */
	cr_expect_eq(file_count(alog, "end=client_denied"), 5);
	cr_expect_eq(file_count(alog, "client=127.0.0.3:"), 5);
	unlink(alog);
	/* an allow list alone: a source it does not name is out */
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--backend", be, "--client-allow", "127.0.0.2", NULL });
	cr_expect_eq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &fd), SERVED);
	if (fd >= 0)
		close(fd);
	cr_expect_neq(try_client("127.0.0.4", "127.0.0.1", s.port, NULL, &fd), SERVED, "not in the allow list");
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
}

/* ::1 denied by a /128 over an allow of ::/0; then allowed by a /128 over a deny of ::/0. */
Test(client_limits, allow_and_deny_ipv6_sources)
{
	static const char *const rules[2][4] = { { "--client-allow", "::/0", "--client-deny", "::1/128" },
						 { "--client-allow", "::1/128", "--client-deny", "::/0" } };
	struct faultkit_slb s;
	char be[64], why[512];
	int fd;

	start_echo(be, sizeof(be));
	for (unsigned r = 0; r < 2; r++) {
		faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--backend", be, "--listen", "[::1]:{port2}",
								     rules[r][0], rules[r][1], rules[r][2], rules[r][3],
								     NULL });
		cr_expect_eq(try_client("::1", "::1", s.port2, NULL, &fd), r == 0 ? REFUSED_RESET : SERVED,
			     "::1 with %s %s %s %s", rules[r][0], rules[r][1], rules[r][2], rules[r][3]);
		if (fd >= 0)
			close(fd);
		/* the IPv6 rules name no IPv4 client: with an allow list, 127.0.0.1 is out */
		cr_expect_neq(try_client("127.0.0.1", "127.0.0.1", s.port, NULL, &fd), SERVED);
		cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
	}
}

/* With --accept-proxy the PROXY header's address is the client: one connection's worth of
 * 192.0.2.7 per --client-max-conns 1, and 198.51.100.0/24 denied, whatever the real source. */
Test(client_limits, proxy_header_names_the_client)
{
	static const char hdr7[] = "PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n",
			  hdr8[] = "PROXY TCP4 192.0.2.8 127.0.0.1 40001 80\r\n",
			  bad[] = "PROXY TCP4 198.51.100.9 127.0.0.1 40002 80\r\n";
	struct faultkit_slb s;
	char be[64], why[512];
	int held, fd;

	start_echo(be, sizeof(be));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--backend", be, "--accept-proxy", "--client-max-conns",
							     "1", "--client-deny", "198.51.100.0/24", NULL });
	cr_assert_eq(try_client("127.0.0.2", "127.0.0.1", s.port, hdr7, &held), SERVED);
	cr_expect_neq(try_client("127.0.0.3", "127.0.0.1", s.port, hdr7, &fd), SERVED,
		      "192.0.2.7 has its one connection, from whichever source");
	cr_expect_eq(try_client("127.0.0.2", "127.0.0.1", s.port, hdr8, &fd), SERVED, "192.0.2.8 is another client");
	if (fd >= 0)
		close(fd);
	cr_expect_neq(try_client("127.0.0.2", "127.0.0.1", s.port, bad, &fd), SERVED, "198.51.100.9 is denied");
	close(held);
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
}

static void write_file(const char *path, const char *text, const char *be)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fprintf(f, "backend = %s\n%s", be, text);
	cr_assert_eq(fclose(f), 0);
}

/* Sends SIGHUP and waits for the n-th "reload: done". */
static void reload(struct faultkit_slb *s, unsigned n)
{
	cr_assert_eq(testproc_signal(s->proc, SIGHUP), 0);
	for (int t = 0; t < testwait_ms(5000) / 10 && faultkit_count_lines(s->proc, "reload: done") < n; t++)
		usleep(10000);
	cr_assert_eq(faultkit_count_lines(s->proc, "reload: done"), n, "no 'reload: done' after SIGHUP %u", n);
}

/* A reload changes the limit at once, for connections already counted too, and turning the
 * last client setting off lets everyone in at once. An slb started without any client
 * setting keeps no client table: a reload that adds one waits for an upgrade, and says so. */
Test(client_limits, reload_changes_the_limit_at_once)
{
	const char *argv[3] = { "-c", NULL, NULL };
	char conf[64], be[64], why[512];
	int held[5], fd;
	struct faultkit_slb s;

	start_echo(be, sizeof(be));
	snprintf(conf, sizeof(conf), "/tmp/slb-test-clients-%d.conf", getpid());
	argv[1] = conf;
	write_file(conf, "client-max-conns = 1\n", be);
	faultkit_slb_start_ok(&s, 0, argv);
	cr_assert_eq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &held[0]), SERVED);
	cr_expect_neq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &fd), SERVED, "past 1");
	write_file(conf, "client-max-conns = 3\n", be);
	reload(&s, 1);
	cr_expect_eq(faultkit_count_lines(s.proc, "reload: client-max-conns 1 -> 3"), 1);
	for (unsigned i = 1; i < 3; i++)
		cr_expect_eq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &held[i]), SERVED, "%u of 3", i + 1);
	cr_expect_neq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &fd), SERVED, "past 3");
	write_file(conf, "", be);
	reload(&s, 2);
	for (unsigned i = 3; i < 5; i++)
		cr_expect_eq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &held[i]), SERVED, "no limit: %u", i + 1);
	for (unsigned i = 0; i < 5; i++)
		if (held[i] >= 0)
			close(held[i]);
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
	/* started without: the setting waits */
	write_file(conf, "", be);
	faultkit_slb_start_ok(&s, 0, argv);
	write_file(conf, "client-max-conns = 1\n", be);
	reload(&s, 1);
	cr_expect_eq(faultkit_count_lines(s.proc, "they take effect at the next upgrade or restart"), 1);
	for (unsigned i = 0; i < 2; i++)
		cr_expect_eq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &held[i]), SERVED, "not limited yet");
	for (unsigned i = 0; i < 2; i++)
		if (held[i] >= 0)
			close(held[i]);
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
	unlink(conf);
}

/* Limits are a service's: the default service's --client-max-conns 1 leaves service open
 * (another port, no client setting) alone, and /status counts the refusal where it happened. */
Test(client_limits, limits_belong_to_their_service)
{
	const char *argv[3] = { "-c", NULL, NULL };
	char conf[64], be[64], be2[64], why[512], text[256], want[160];
	static char body[1 << 16];
	int held, fd, open_fds[3], open_port = testproc_free_port();
	struct faultkit_slb s;

	cr_assert_gt(open_port, 0);
	start_echo(be, sizeof(be));
	cr_assert_eq(echo_server_start(&echo2, ECHO_MODE_ECHO, 0), 0); /* a backend belongs to one service */
	snprintf(be2, sizeof(be2), "127.0.0.1:%u", echo2.port);
	snprintf(conf, sizeof(conf), "/tmp/slb-test-clients-svc-%d.conf", getpid());
	snprintf(text, sizeof(text), "client-max-conns = 1\n[service open]\nlisten = 127.0.0.1:%d\nbackend = %s\n",
		 open_port, be2);
	write_file(conf, text, be);
	argv[1] = conf;
	faultkit_slb_start_ok(&s, 0, argv);
	cr_assert_eq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &held), SERVED);
	cr_expect_neq(try_client("127.0.0.2", "127.0.0.1", s.port, NULL, &fd), SERVED, "default: past 1");
	for (unsigned i = 0; i < 3; i++) /* held open together */
		cr_expect_eq(try_client("127.0.0.2", "127.0.0.1", (unsigned)open_port, NULL, &open_fds[i]), SERVED,
			     "service open has no limit (%u)", i);
	cr_assert_eq(faultkit_http_body(s.admin, "/status", body, sizeof(body), IO_MS), 200);
	cr_expect_not_null(strstr(body, "{\"denied\":0,\"over_conns\":1,\"over_rate\":0,\"untracked\":0}"), "%s", body);
	snprintf(want, sizeof(want), "{\"name\":\"open\",\"state\":\"serving\",\"listen\":[\"127.0.0.1:%d\"],\"clients\":"
		 "{\"denied\":0,\"over_conns\":0", open_port);
	cr_expect_not_null(strstr(body, want), "%s", body);
	close(held);
	for (unsigned i = 0; i < 3; i++)
		if (open_fds[i] >= 0)
			close(open_fds[i]);
	cr_assert_eq(faultkit_slb_stop_clean(&s, STOP_MS, why, sizeof(why)), 0, "%s", why);
	unlink(conf);
}
