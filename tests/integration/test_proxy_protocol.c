/* PROXY protocol against real peers: nginx as a backend that reads the header
 * (`listen ... proxy_protocol`, answering and logging $proxy_protocol_addr), HAProxy in front
 * of slb sending it (`send-proxy`, `send-proxy-v2`), and slb's own --accept-proxy checked with
 * malformed, late and split headers. Clients bind to 127.0.0.2 or 127.0.0.3, so the address a
 * backend reports can only have come from the header (slb itself connects from 127.0.0.1). */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_server.h"
#include "faultkit.h"
#include "peers.h"
#include "testproc.h"
#include "testskip.h"
#include "testwait.h"

#define IO_MS 5000
#define STOP_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(proxy_protocol, .fini = suite_fini, .timeout = 60);

static void need(const char *prog)
{
	if (!peers_have(prog))
		testskip(TESTSKIP_PROGRAM, "%s is not installed (scripts/install-deps.sh installs it)", prog);
}

static struct testproc *nginx_start(char *dir, size_t len, bool ipv6, unsigned *port)
{
	struct testproc *p;

	need("nginx");
	cr_assert_eq(peers_tmpdir(dir, len), 0);
	p = peers_nginx_proxy_backend(dir, ipv6, port);
	cr_assert_not_null(p, "nginx did not start (config and logs in %s)", dir);
	return p;
}

/* The client from src_ip gets an answer through slb at ip:port that names src_ip and its port. */
static void assert_seen(const char *src_ip, const char *ip, unsigned port)
{
	char body[128], want[128];
	unsigned src_port;
	int status = peers_get_from(src_ip, ip, port, &src_port, body, sizeof(body));

	cr_assert_eq(status, 200, "GET through slb: %d (%s)", status, status < 0 ? strerror(-status) : body);
	snprintf(want, sizeof(want), "%s %u", src_ip, src_port);
	cr_assert_str_eq(body, want, "the backend saw '%s', not the client", body);
}

/* nginx logged the client's address, and never slb's own. */
static void assert_logged(const char *dir, const char *src_ip)
{
	char path[256], log[8192], want[64];

	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(want, sizeof(want), "%s ", src_ip);
	for (int i = 0; i < 50 && peers_read_file(path, log, sizeof(log)) <= 0; i++)
		usleep(20000);
	cr_assert(strstr(log, want), "nginx's log lacks %s: %s", src_ip, log);
	cr_assert_null(strstr(log, "127.0.0.1 "), "nginx logged slb's address: %s", log);
}

/*
 * --backend ADDR,send-proxy=v1 to nginx `listen ... proxy_protocol`.
 * Backend sees: the client's address and port (127.0.0.2:P) in $proxy_protocol_addr, in its
 *   answer and in its access log, for every relay mode.
 */
Test(proxy_protocol, nginx_sees_the_client_through_send_proxy_v1)
{
	static const char *const modes[] = { "auto", "copy", "splice" };
	char dir[64], be[64];
	unsigned nport;
	struct faultkit_slb s;

	nginx_start(dir, sizeof(dir), false, &nport);
	snprintf(be, sizeof(be), "127.0.0.1:%u,send-proxy=v1", nport);
	for (unsigned m = 0; m < 3; m++) {
		faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--relay", modes[m], "--backend", be,
								     NULL });
		for (int i = 0; i < 3; i++)
			assert_seen("127.0.0.2", "127.0.0.1", s.port);
		faultkit_slb_stop_ok(&s, STOP_MS);
	}
	assert_logged(dir, "127.0.0.2");
}

/*
 * --send-proxy v2 (every backend) with slb listening on [::1].
 * Backend sees: ::1 and the client's port, through the binary header.
 */
Test(proxy_protocol, nginx_sees_the_client_through_send_proxy_v2_over_ipv6)
{
	char dir[64], be[64];
	unsigned nport;
	struct testproc *slb;

	nginx_start(dir, sizeof(dir), true, &nport);
	snprintf(be, sizeof(be), "[::1]:%u", nport);
	struct testproc_start st = {
		.argv = (const char *const[]){ "slb", "--listen", "[::1]:{port0}", "--backend", be, "--send-proxy", "v2",
					       "--workers", "1", NULL },
		.n_ports = 1,
		.ready = "listening on",
		.timeout_ms = IO_MS,
	};
	slb = testproc_start(&st);
	cr_assert_not_null(slb, "%s", st.why);
	for (int i = 0; i < 3; i++)
		assert_seen("::1", "::1", st.ports[0]);
	cr_assert_eq(faultkit_stop_clean(slb, STOP_MS, st.why, sizeof(st.why)), 0, "%s", st.why);
}

/*
 * A connection retried on another backend: the first backend refuses, the second is nginx.
 * Backend sees: the header first on the connection that succeeded, so every answer still
 *   names the client (the retry count shows the retries happened).
 */
Test(proxy_protocol, a_retried_connection_sends_the_header_too)
{
	char dir[64], dead[64], be[64];
	unsigned nport;
	struct faultkit_slb s;
	int lfd;
	unsigned dport;

	nginx_start(dir, sizeof(dir), false, &nport);
	lfd = testproc_listen(&dport); /* a port nobody accepts on once closed */
	cr_assert_geq(lfd, 0);
	close(lfd);
	snprintf(dead, sizeof(dead), "127.0.0.1:%u", dport);
	snprintf(be, sizeof(be), "127.0.0.1:%u", nport);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--send-proxy", "v1", "--eject-failures",
							     "1000", "--backend", dead, "--backend", be, NULL });
	for (int i = 0; i < 4; i++)
		assert_seen("127.0.0.2", "127.0.0.1", s.port);
	cr_assert_geq(faultkit_metric(s.admin, "slb_worker_retries_total"), 1);
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * HAProxy in front of slb --accept-proxy, sending v2 (send-proxy-v2) or v1 (send-proxy); slb
 * sends the other version on to nginx.
 * Backend sees: the original client (127.0.0.3:P), not HAProxy's nor slb's address.
 */
Test(proxy_protocol, haproxy_in_front_of_accept_proxy_passes_the_client_on)
{
	static const char *const opts[][2] = { { "send-proxy-v2", "v1" }, { "send-proxy", "v2" } };
	char ndir[64], hdir[64], be[64];
	unsigned nport, hport;
	struct faultkit_slb s;

	need("haproxy");
	nginx_start(ndir, sizeof(ndir), false, &nport);
	snprintf(be, sizeof(be), "127.0.0.1:%u", nport);
	for (unsigned i = 0; i < 2; i++) {
		faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--accept-proxy", "--send-proxy",
								     opts[i][1], "--backend", be, NULL });
		cr_assert_eq(peers_tmpdir(hdir, sizeof(hdir)), 0);
		cr_assert_not_null(peers_haproxy_front(hdir, s.port, opts[i][0], &hport), "haproxy did not start");
		for (int n = 0; n < 3; n++)
			assert_seen("127.0.0.3", "127.0.0.1", hport);
		cr_assert_eq(faultkit_metric(s.admin, "slb_worker_proxy_header_errors_total"), 0);
		faultkit_slb_stop_ok(&s, STOP_MS);
	}
	assert_logged(ndir, "127.0.0.3");
}

/* Connects to slb, writes the pieces with pause_ms between them, then a GET. Returns the fd. */
static int send_pieces(unsigned port, const char *const *pieces, const size_t *lens, int pause_ms)
{
	int fd = testproc_connect(port, IO_MS);

	cr_assert_geq(fd, 0);
	for (int i = 0; pieces[i]; i++) {
		cr_assert_eq(testproc_write_all(fd, pieces[i], lens[i], IO_MS), 0);
		usleep((useconds_t)pause_ms * 1000);
	}
	return fd;
}

/*
 * --accept-proxy with a v2 header written in three pieces 50 ms apart, the request after it,
 * to an echo backend through --send-proxy v1 (slb's own parser: no third-party peer needed).
 * Backend sees: a v1 header naming the header's client (203.0.113.7:4242) and destination,
 *   then the request intact, so slb waited for the whole header and consumed exactly it.
 */
Test(proxy_protocol, accept_proxy_waits_for_a_split_header)
{
	static const char v2[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x07\x7f\x00\x00\x01\x10\x92\x1f\x90";
	static const char get[] = "GET / HTTP/1.0\r\n\r\n";
	static const char want[] = "PROXY TCP4 203.0.113.7 127.0.0.1 4242 8080\r\nGET / HTTP/1.0\r\n\r\n";
	const char *const pieces[] = { v2, v2 + 5, v2 + 14, get, NULL };
	const size_t lens[] = { 5, 9, 14, sizeof(get) - 1 };
	char be[64], got[sizeof(want) + 64] = "";
	struct echo_server echo = { 0 };
	struct faultkit_slb s;
	ssize_t n;
	int fd;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	snprintf(be, sizeof(be), "127.0.0.1:%u", echo.port);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--accept-proxy", "--send-proxy", "v1",
							     "--backend", be, NULL });
	fd = send_pieces(s.port, pieces, lens, 50);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	n = testproc_read_full(fd, got, sizeof(got) - 1, IO_MS);
	cr_assert_eq(n, (ssize_t)sizeof(want) - 1, "echoed %zd bytes: '%s'", n, got);
	cr_assert_str_eq(got, want);
	close(fd);
	faultkit_slb_stop_ok(&s, STOP_MS);
	echo_server_stop(&echo);
}

/*
 * --accept-proxy: a client that sends no header, a broken one, or one that never ends.
 * Client sees: its connection closed before any backend byte (an HTTP request instead of a
 *   header is refused at once; a v1 line without its end, at --proxy-timeout 2000 ms, long
 *   enough that a bad header closed in half of it cannot have been taken for a slow one).
 * slb logs: "closing a client: malformed PROXY header" and "closing a client: no whole PROXY
 *   header within 2000 ms" (rate-limited); slb_worker_proxy_header_errors_total counts both.
 */
Test(proxy_protocol, accept_proxy_closes_malformed_and_late_headers)
{
	static const char *const bad[] = { "GET / HTTP/1.0\r\n\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
					   "\r\n\r\n\0\r\nQUIT\n\x21\x12\x00\x00" };
	static const size_t bad_len[] = { 18, 36, 16 };
	unsigned bport;
	struct faultkit_slb s;
	char be[64];
	int64_t t;
	int fd;

	cr_assert_not_null(faultkit_backend_start("b", "127.0.0.1", &bport));
	snprintf(be, sizeof(be), "127.0.0.1:%u", bport);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--accept-proxy", "--proxy-timeout", "2000",
							     "--backend", be, NULL });
	for (unsigned i = 0; i < 3; i++) {
		const char *const pieces[] = { bad[i], NULL };

		fd = send_pieces(s.port, pieces, &bad_len[i], 0);
		t = testproc_now_ms();
		cr_assert_eq(testproc_wait_eof(fd, testwait_ms(1000)), 0, "bad header %u not closed within %d ms, as if "
			     "it were only slow", i, testwait_ms(1000));
		testwait_report("a malformed PROXY header closed", (double)(testproc_now_ms() - t), 250);
		close(fd);
	}
	{
		const char *const pieces[] = { "PROXY TCP4 1.2.3.4", NULL };
		const size_t len = 18;

		fd = send_pieces(s.port, pieces, &len, 0);
		t = testproc_now_ms();
		cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0);
		cr_assert_geq(testproc_now_ms() - t, 2000 - 50, "a slow header was cut before --proxy-timeout");
		close(fd);
	}
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_proxy_header_errors_total", 4, IO_MS), 0);
	cr_assert_geq(faultkit_count_lines(s.proc, "closing a client: malformed PROXY header"), 1);
	cr_assert_eq(faultkit_count_lines(s.proc, "closing a client: no whole PROXY header within 2000 ms"), 1);
	faultkit_slb_stop_ok(&s, STOP_MS);
}
