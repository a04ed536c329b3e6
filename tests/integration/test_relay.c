/* The data plane with real processes on loopback: bytes pass unchanged in every relay mode,
 * half-closes pass through both ways, an answer and its FIN travel as one segment, a thousand
 * clients at once, dead backends cost the client nothing, no backend closes the client
 * promptly, SIGTERM drains and exits 0. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_segs_in (glibc's lacks it) */
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_server.h"
#include "testproc.h"
#include "testwait.h"

#define IO_TIMEOUT_MS 10000
#define MAX_ARGS 40

static struct echo_server echo;

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(relay, .fini = suite_fini, .timeout = 120);

/* Starts slb on a free port in front of the given backend ports (0 ends the list), with
 * extra flags; returns the process and the port it listens on. */
static struct testproc *start_slb(unsigned *port, const unsigned *backends, const char *const *extra)
{
	static char bufs[MAX_ARGS][64];
	const char *argv[MAX_ARGS] = { "slb", "--listen", "127.0.0.1:{port0}", "--workers", "2" };
	/* Ready at its log line, not a probe connection: that would be relayed to a backend and
	 * disturb the test. */
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "listening on",
				     .timeout_ms = IO_TIMEOUT_MS };
	int n = 5, b = 0;
	struct testproc *proc;

	for (; *backends; backends++) {
		argv[n++] = "--backend";
		snprintf(bufs[b], 64, "127.0.0.1:%u", *backends);
		argv[n++] = bufs[b++];
	}
	for (; extra && *extra; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	proc = testproc_start(&st);
	cr_assert_not_null(proc, "slb did not come up: %s", st.why);
	*port = st.ports[0];
	return proc;
}

static void stop_slb_expect_clean(struct testproc *slb)
{
	char out[4096];

	cr_assert_eq(testproc_stop(slb, IO_TIMEOUT_MS), 0, "slb exit code %d", testproc_exit_code(slb));
	testproc_output(slb, out, sizeof(out));
	cr_assert_null(strstr(out, "error "), "slb logged an error:\n%s", out);
}

struct pump {
	int fd;
	const unsigned char *data;
	size_t len;
	int ret;
};

static void *pump_writer(void *arg)
{
	struct pump *p = arg;

	p->ret = testproc_write_all(p->fd, p->data, p->len, IO_TIMEOUT_MS);
	shutdown(p->fd, SHUT_WR);
	return NULL;
}

/* Sends len random bytes through slb to the echo server while reading them back; the
 * writer is a thread so neither direction waits for the other. */
static void check_roundtrip(unsigned port, size_t len)
{
	unsigned char *out = malloc(len), *in = malloc(len + 1);
	struct pump p = { .data = out, .len = len };
	pthread_t t;
	ssize_t got;

	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)random();
	p.fd = testproc_connect(port, IO_TIMEOUT_MS);
	cr_assert_geq(p.fd, 0);
	pthread_create(&t, NULL, pump_writer, &p);
	got = testproc_read_full(p.fd, in, len + 1, IO_TIMEOUT_MS);
	pthread_join(t, NULL);
	cr_assert_eq(p.ret, 0, "write through slb failed: %s", strerror(-p.ret));
	cr_assert_eq(got, (ssize_t)len, "got %zd of %zu bytes back", got, len);
	cr_assert_eq(testproc_fnv(TESTPROC_FNV_INIT, in, len), testproc_fnv(TESTPROC_FNV_INIT, out, len),
		     "bytes changed on the way");
	close(p.fd);
	free(out);
	free(in);
}

static void roundtrip_in_mode(const char *mode)
{
	unsigned port, backends[] = { 0, 0 };
	struct testproc *slb;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	backends[0] = echo.port;
	slb = start_slb(&port, backends, (const char *const[]){ "--relay", mode, NULL });
	check_roundtrip(port, 4 << 20);
	check_roundtrip(port, 100);          /* a small exchange after a bulk one */
	check_roundtrip(port, (3 << 20) + 7); /* an odd size, not a multiple of any buffer */
	stop_slb_expect_clean(slb);
	echo_server_stop(&echo);
}

Test(relay, bytes_unchanged_copy)
{
	roundtrip_in_mode("copy");
}

Test(relay, bytes_unchanged_splice)
{
	roundtrip_in_mode("splice");
}

Test(relay, bytes_unchanged_auto)
{
	roundtrip_in_mode("auto");
}

/* The client half-closes first: its FIN reaches the backend, which answers after it. */
static void half_close_client_first(const char *mode)
{
	unsigned port, backends[] = { 0, 0 };
	char buf[64];
	struct testproc *slb;
	int fd;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	backends[0] = echo.port;
	unsigned eofs_before;

	slb = start_slb(&port, backends, (const char *const[]){ "--relay", mode, NULL });
	eofs_before = atomic_load(&echo.eof_seen);
	fd = testproc_connect(port, IO_TIMEOUT_MS);
	cr_assert_eq(testproc_write_all(fd, "hello", 5, IO_TIMEOUT_MS), 0);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(testproc_read_full(fd, buf, sizeof(buf), IO_TIMEOUT_MS), 5, "echo after FIN lost");
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	cr_assert_eq(atomic_load(&echo.eof_seen), eofs_before + 1, "backend never saw the client's FIN");
	close(fd);
	stop_slb_expect_clean(slb);
	echo_server_stop(&echo);
}

Test(relay, half_close_client_first_copy)
{
	half_close_client_first("copy");
}

Test(relay, half_close_client_first_splice)
{
	half_close_client_first("splice");
}

/* The backend half-closes first: the client reads all it sent, unchanged, and its EOF, then
 * still sends, and the backend receives every byte unchanged. */
static void half_close_backend_first(const char *mode)
{
	enum { TALK = 100000, BACK = 50000 };
	unsigned port, backends[] = { 0, 0 };
	static char big[2 * TALK];
	static unsigned char back[BACK];
	struct testproc *slb;
	int64_t deadline;
	int fd;

	for (size_t i = 0; i < BACK; i++)
		back[i] = (unsigned char)random();
	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_TALK_FIRST, TALK), 0);
	backends[0] = echo.port;
	slb = start_slb(&port, backends, (const char *const[]){ "--relay", mode, NULL });
	fd = testproc_connect(port, IO_TIMEOUT_MS);
	/* read_full returns short only at EOF: TALK bytes means the backend's FIN came through */
	cr_assert_eq(testproc_read_full(fd, big, sizeof(big), IO_TIMEOUT_MS), TALK);
	cr_assert_eq(testproc_fnv(TESTPROC_FNV_INIT, big, TALK), echo_talk_fnv(TALK), "the backend's bytes changed");
	cr_assert_eq(testproc_write_all(fd, back, BACK, IO_TIMEOUT_MS), 0, "client could not send after backend FIN");
	shutdown(fd, SHUT_WR);
	deadline = testproc_now_ms() + IO_TIMEOUT_MS;
	while (atomic_load(&echo.received) < BACK && testproc_now_ms() < deadline)
		usleep(10000);
	cr_assert_eq(atomic_load(&echo.received), BACK);
	cr_assert_eq(atomic_load(&echo.received_fnv), testproc_fnv(TESTPROC_FNV_INIT, back, BACK),
		     "the client's bytes changed");
	close(fd);
	stop_slb_expect_clean(slb);
	echo_server_stop(&echo);
}

Test(relay, half_close_backend_first_copy)
{
	half_close_backend_first("copy");
}

Test(relay, half_close_backend_first_splice)
{
	half_close_backend_first("splice");
}

Test(relay, half_close_backend_first_auto)
{
	half_close_backend_first("auto");
}

/* Segments the client has received so far (TCP_INFO), once everything it sent is ACKed. */
static unsigned client_segs_in_settled(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	for (int i = 0; i < 500; i++) {
		cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
		if (ti.tcpi_unacked == 0)
			return ti.tcpi_segs_in;
		usleep(2000);
	}
	cr_assert_fail("the client's request was never ACKed");
	return 0;
}

/* A backend that answers and closes at once (its answer and FIN in one segment, as an HTTP
 * server does for Connection: close): slb passes both on in one segment too, not the bytes
 * and then a FIN of its own (which cost the client an ACK and crossed its own FIN). */
static void answer_and_fin_in_one_segment(const char *mode)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";
	unsigned port, bport, backends[] = { 0, 0 }, before;
	char buf[256];
	struct testproc *slb;
	int lfd, fd, bfd;

	lfd = testproc_listen(&bport);
	cr_assert_geq(lfd, 0);
	backends[0] = bport;
	slb = start_slb(&port, backends, (const char *const[]){ "--relay", mode, NULL });
	fd = testproc_connect(port, IO_TIMEOUT_MS);
	cr_assert_eq(testproc_write_all(fd, "GET / HTTP/1.1\r\n\r\n", 18, IO_TIMEOUT_MS), 0);
	bfd = testproc_accept(lfd, IO_TIMEOUT_MS);
	cr_assert_geq(bfd, 0);
	cr_assert_eq(testproc_read_full(bfd, buf, 18, IO_TIMEOUT_MS), 18);
	before = client_segs_in_settled(fd);
	cr_assert_eq(send(bfd, answer, sizeof(answer) - 1, MSG_MORE), (ssize_t)sizeof(answer) - 1);
	shutdown(bfd, SHUT_WR); /* the FIN joins the corked answer: one segment */
	cr_assert_eq(testproc_read_full(fd, buf, sizeof(buf), IO_TIMEOUT_MS), (ssize_t)sizeof(answer) - 1);
	cr_assert_eq(client_segs_in_settled(fd) - before, 1, "slb sent the answer and its FIN in %u segments",
		     client_segs_in_settled(fd) - before);
	close(fd);
	close(bfd);
	close(lfd);
	stop_slb_expect_clean(slb);
}

Test(relay, answer_and_fin_in_one_segment_copy)
{
	answer_and_fin_in_one_segment("copy");
}

Test(relay, answer_and_fin_in_one_segment_auto)
{
	answer_and_fin_in_one_segment("auto");
}

static void raise_nofile(void)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

#define CONCURRENT 1000

Test(relay, thousand_concurrent_connections)
{
	unsigned port, backends[] = { 0, 0 };
	static int fds[CONCURRENT];
	struct testproc *slb;
	unsigned ok = 0;

	raise_nofile();
	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	backends[0] = echo.port;
	slb = start_slb(&port, backends, NULL);
	for (int i = 0; i < CONCURRENT; i++) {
		fds[i] = testproc_connect(port, IO_TIMEOUT_MS);
		cr_assert_geq(fds[i], 0, "connection %d: %s", i, strerror(-fds[i]));
	}
	/* all open at once; now each one talks */
	for (int i = 0; i < CONCURRENT; i++) {
		char msg[32], back[32];
		int len = snprintf(msg, sizeof(msg), "conn %d", i);

		cr_assert_eq(testproc_write_all(fds[i], msg, (size_t)len, IO_TIMEOUT_MS), 0);
		if (testproc_read_full(fds[i], back, (size_t)len, IO_TIMEOUT_MS) == len && !memcmp(msg, back, (size_t)len))
			ok++;
	}
	cr_assert_eq(ok, CONCURRENT);
	cr_assert_geq(atomic_load(&echo.accepted), CONCURRENT);
	for (int i = 0; i < CONCURRENT; i++)
		close(fds[i]);
	stop_slb_expect_clean(slb);
	echo_server_stop(&echo);
}

Test(relay, refused_backend_costs_clients_nothing)
{
	unsigned port, backends[] = { 0, 0, 0 };
	struct testproc *slb;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	backends[0] = refused_port();
	backends[1] = echo.port;
	slb = start_slb(&port, backends, NULL);
	for (int i = 0; i < 200; i++)
		check_roundtrip(port, 64);
	stop_slb_expect_clean(slb);
	echo_server_stop(&echo);
}

Test(relay, all_backends_down_closes_client_promptly)
{
	unsigned port, backends[] = { refused_port(), refused_port(), 0 };
	struct testproc *slb;
	char out[4096];
	int fd;

	slb = start_slb(&port, backends, NULL);
	for (int i = 0; i < 5; i++) {
		fd = testproc_connect(port, IO_TIMEOUT_MS);
		cr_assert_geq(fd, 0);
		/* closed, not left hanging: the bound is for liveness, far above the expected time */
		cr_assert_eq(testproc_wait_eof(fd, 5000), 0, "client left hanging with no backend");
		close(fd);
	}
	cr_assert_eq(testproc_wait_output(slb, "no live backend left to try for a client: closing it", IO_TIMEOUT_MS),
		     0, "no log line about it:\n%s", (testproc_output(slb, out, sizeof(out)), out));
	stop_slb_expect_clean(slb);
}

Test(relay, backend_dying_mid_stream_closes_client)
{
	unsigned port, backends[] = { 0, 0 };
	struct testproc *slb;
	int lfd, bfd, fd;
	unsigned bport;

	lfd = testproc_listen(&bport);
	cr_assert_geq(lfd, 0);
	backends[0] = bport;
	slb = start_slb(&port, backends, NULL);
	fd = testproc_connect(port, IO_TIMEOUT_MS);
	bfd = testproc_accept(lfd, IO_TIMEOUT_MS);
	cr_assert_geq(bfd, 0);
	cr_assert_eq(testproc_write_all(bfd, "partial", 7, IO_TIMEOUT_MS), 0);
	{
		struct linger lg = { 1, 0 };

		setsockopt(bfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(bfd); /* RST mid-response */
	cr_assert_eq(testproc_wait_eof(fd, 5000), 0, "client not told that the backend died");
	close(fd);
	close(lfd);
	cr_assert(testproc_running(slb), "slb died with its backend");
	stop_slb_expect_clean(slb);
}

Test(relay, idle_connection_closed_at_idle_timeout)
{
	unsigned port, backends[] = { 0, 0 };
	struct testproc *slb;
	int fd;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	backends[0] = echo.port;
	slb = start_slb(&port, backends, (const char *const[]){ "--idle-timeout", "300", NULL });
	fd = testproc_connect(port, IO_TIMEOUT_MS);
	cr_assert_eq(testproc_write_all(fd, "x", 1, IO_TIMEOUT_MS), 0);
	cr_assert_eq(testproc_wait_eof(fd, 5000), 0, "idle connection never closed");
	close(fd);
	stop_slb_expect_clean(slb);
	echo_server_stop(&echo);
}

Test(relay, sigterm_drains_open_connections_then_exits_zero)
{
	unsigned port, backends[] = { 0, 0 };
	struct testproc *slb;
	char buf[16];
	int fd, late;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	backends[0] = echo.port;
	slb = start_slb(&port, backends, (const char *const[]){ "--drain-timeout", "10000", NULL });
	fd = testproc_connect(port, IO_TIMEOUT_MS);
	cr_assert_eq(testproc_write_all(fd, "one", 3, IO_TIMEOUT_MS), 0);
	cr_assert_eq(testproc_read_full(fd, buf, 3, IO_TIMEOUT_MS), 3);
	testproc_signal(slb, SIGTERM);
	/* new clients are refused once the workers close their listeners */
	late = testwait_connect_refused(port, testwait_ms(2000));
	cr_assert_geq(late, 0, "slb still accepting %d ms into its drain", testwait_ms(2000));
	/* and the open connection keeps working */
	cr_assert(testproc_running(slb), "slb exited with a connection open");
	cr_assert_eq(testproc_write_all(fd, "two", 3, IO_TIMEOUT_MS), 0);
	cr_assert_eq(testproc_read_full(fd, buf, 3, IO_TIMEOUT_MS), 3);
	cr_assert_eq(memcmp(buf, "two", 3), 0);
	close(fd);
	cr_assert_eq(testproc_wait(slb, IO_TIMEOUT_MS), 0, "slb did not exit once drained");
	cr_assert_eq(testproc_exit_code(slb), 0);
	echo_server_stop(&echo);
}

Test(relay, drain_timeout_closes_what_is_left)
{
	unsigned port, backends[] = { 0, 0 };
	struct testproc *slb;
	int fd;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	backends[0] = echo.port;
	slb = start_slb(&port, backends, (const char *const[]){ "--drain-timeout", "200", NULL });
	fd = testproc_connect(port, IO_TIMEOUT_MS);
	cr_assert_eq(testproc_write_all(fd, "x", 1, IO_TIMEOUT_MS), 0);
	testproc_signal(slb, SIGTERM);
	cr_assert_eq(testproc_wait(slb, IO_TIMEOUT_MS), 0, "slb did not exit at its drain timeout");
	cr_assert_eq(testproc_exit_code(slb), 0);
	cr_assert_eq(testproc_wait_eof(fd, 5000), 0);
	close(fd);
	echo_server_stop(&echo);
}

Test(relay, port_in_use_is_a_runtime_error)
{
	unsigned port;
	int lfd = testproc_listen(&port);
	char listen[64], out[1024];
	struct testproc *slb;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	slb = testproc_spawn((const char *const[]){ "slb", "--listen", listen, "--backend", "127.0.0.1:1", NULL });
	cr_assert_eq(testproc_wait(slb, IO_TIMEOUT_MS), 0);
	cr_assert_eq(testproc_exit_code(slb), 1);
	testproc_output(slb, out, sizeof(out));
	cr_assert(strstr(out, "in use"), "unclear error: %s", out);
	cr_assert_eq(strchr(out, '\n') - out + 1, (long)strlen(out), "more than one line: %s", out);
	close(lfd);
}

Test(relay, bad_flag_is_a_usage_error)
{
	struct testproc *slb = testproc_spawn((const char *const[]){ "slb", "--workers", "lots", NULL });
	char out[1024];

	cr_assert_eq(testproc_wait(slb, IO_TIMEOUT_MS), 0);
	cr_assert_eq(testproc_exit_code(slb), 2);
	testproc_output(slb, out, sizeof(out));
	cr_assert(strstr(out, "--workers"), "%s", out);
}
