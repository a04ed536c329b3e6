/* --access-log: one line per finished client connection, in text or JSON, with the cause from
 * the documented vocabulary; SIGUSR1 reopens the file after a rotation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "peers.h"
#include "testproc.h"

#define IO_MS 5000
#define STOP_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(access_log, .fini = suite_fini, .timeout = 60);

/* Waits until file path holds at least n lines; returns its text in buf. */
static void wait_lines(const char *path, unsigned n, char *buf, size_t len)
{
	for (int i = 0; i < 250; i++) {
		unsigned lines = 0;

		if (peers_read_file(path, buf, len) > 0)
			for (const char *p = buf; (p = strchr(p, '\n')); p++)
				lines++;
		if (lines >= n)
			return;
		usleep(20000);
	}
	cr_assert_fail("%s has fewer than %u lines: %s", path, n, buf);
}

/*
 * A request answered by slb-backend, one client refused at --max-conns 1 while another is
 * held, and, after the only backend is stopped, a client no backend can serve.
 * Log shows: end=backend_closed or client_closed (both close after the answer) with
 *   the client's address and port, the backend and its name, one attempt and the byte counts both ways; end=max_conns with client=-; end=connect_failed with
 *   backend=- backend_name=- and attempts=1.
 */
Test(access_log, text_lines_say_who_what_and_why)
{
	char dir[64], path[128], be[64], log[8192], want[256];
	struct testproc *b;
	struct faultkit_slb s;
	struct testproc_http r;
	unsigned bport, src_port;
	int held, fd;

	cr_assert_eq(peers_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	b = faultkit_backend_start("b", "127.0.0.1", &bport);
	cr_assert_not_null(b);
	snprintf(be, sizeof(be), "127.0.0.1:%u,name=web-1", bport);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--max-conns", "1", "--access-log", path,
							     "--backend", be, NULL });
	be[strcspn(be, ",")] = '\0';
	cr_assert_eq(peers_get_from("127.0.0.2", "127.0.0.1", s.port, &src_port, log, sizeof(log)), 200);
	wait_lines(path, 1, log, sizeof(log));
	snprintf(want, sizeof(want), "client=127.0.0.2:%u listener=127.0.0.1:%u service=default backend=%s "
		 "backend_name=web-1 attempts=1 bytes_up=",
		 src_port, s.port, be);
	cr_assert(strstr(log, want), "no '%s' in: %s", want, log);
	/* Both ends close once the answer is out; whose FIN slb reads first is a race between two
	 * sockets (seen both ways under load), and the line names that one. */
	cr_assert(strstr(log, "end=backend_closed\n") || strstr(log, "end=client_closed\n"), "%s", log);
	cr_assert_null(strstr(log, "bytes_up=0 "), "%s", log);
	cr_assert_null(strstr(log, "bytes_down=0 "), "%s", log);

	held = testproc_connect(s.port, IO_MS);
	cr_assert_geq(held, 0);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", 1, IO_MS), 0);
	fd = testproc_connect(s.port, IO_MS);
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0);
	close(fd);
	close(held);
	wait_lines(path, 3, log, sizeof(log));
	cr_assert(strstr(log, "client=- listener=- service=- backend=- backend_name=- attempts=0 bytes_up=0 bytes_down=0"),
		  "%s", log);
	cr_assert(strstr(log, "end=max_conns\n"), "%s", log);

	testproc_stop(b, STOP_MS);
	cr_assert_eq(testproc_http_get(s.port, "/", &r, IO_MS) < 0, true);
	wait_lines(path, 4, log, sizeof(log));
	cr_assert(strstr(log, "backend=- backend_name=- attempts=1 bytes_up=0 bytes_down=0"), "%s", log);
	cr_assert(strstr(log, "connect_ms=- end=connect_failed\n"), "%s", log);
	cr_assert_eq(faultkit_metric(s.admin, "slb_access_log_dropped_total"), 0);
	cr_assert_eq(faultkit_metric(s.admin, "slb_access_log_lines_total"), 4);
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * --access-log-format json, then logrotate's habit: the file is renamed and slb gets SIGUSR1.
 * Log shows: one JSON object per line with every field; lines before the signal in the
 *   renamed file, lines after it in a new file at the configured path.
 */
Test(access_log, json_lines_and_sigusr1_reopens_the_file)
{
	char dir[64], path[128], rotated[160], be[64], log[8192];
	struct faultkit_slb s;
	struct testproc_http r;
	unsigned bport;

	cr_assert_eq(peers_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/access.log.1", dir);
	cr_assert_not_null(faultkit_backend_start("b", "127.0.0.1", &bport));
	snprintf(be, sizeof(be), "127.0.0.1:%u", bport);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--access-log", path,
							     "--access-log-format", "json", "--backend", be, NULL });
	cr_assert_eq(testproc_http_get(s.port, "/", &r, IO_MS), 0);
	wait_lines(path, 1, log, sizeof(log));
	cr_assert(strstr(log, "{\"time\":\""), "%s", log);
	cr_assert(strstr(log, ",\"worker\":0,\"client\":\"127.0.0.1:"), "%s", log);
	cr_assert(strstr(log, "\"attempts\":1,\"bytes_up\":"), "%s", log);
	cr_assert(strstr(log, ",\"end\":\"backend_closed\"}\n") || strstr(log, ",\"end\":\"client_closed\"}\n"),
		  "%s", log); /* Connection: close: either FIN may come first */

	cr_assert_eq(rename(path, rotated), 0);
	cr_assert_eq(testproc_signal(s.proc, SIGUSR1), 0);
	cr_assert_eq(testproc_wait_output(s.proc, "access log: reopened", IO_MS), 0);
	cr_assert_eq(testproc_http_get(s.port, "/", &r, IO_MS), 0);
	wait_lines(path, 1, log, sizeof(log));
	wait_lines(rotated, 1, log, sizeof(log));
	cr_assert(testproc_running(s.proc), "SIGUSR1 killed slb");
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * --accept-proxy with the access log: the client in the log is the one the header names.
 */
Test(access_log, the_client_is_the_proxy_headers)
{
	static const char req[] = "PROXY TCP4 198.51.100.9 192.0.2.1 5555 443\r\nGET / HTTP/1.0\r\n\r\n";
	char dir[64], path[128], be[64], log[4096];
	struct faultkit_slb s;
	struct testproc_http r;
	unsigned bport;
	int fd;

	cr_assert_eq(peers_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/access.log", dir);
	cr_assert_not_null(faultkit_backend_start("b", "127.0.0.1", &bport));
	snprintf(be, sizeof(be), "127.0.0.1:%u", bport);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--accept-proxy", "--access-log", path,
							     "--backend", be, NULL });
	fd = testproc_connect(s.port, IO_MS);
	cr_assert_eq(testproc_write_all(fd, req, sizeof(req) - 1, IO_MS), 0);
	cr_assert_eq(testproc_http_read(fd, &r, false, IO_MS), 0);
	close(fd);
	wait_lines(path, 1, log, sizeof(log));
	cr_assert(strstr(log, "client=198.51.100.9:5555 listener=192.0.2.1:443 "), "%s", log);
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * The log's file stops taking lines: --access-log is a FIFO that nobody reads, so the log
 * thread blocks in its write once the pipe is full.
 * Client sees: nothing; 2,000 requests are all answered (a worker never waits for the log).
 * slb counts: the lines that found their worker's ring full, in slb_access_log_dropped_total;
 *   written plus dropped is one per connection.
 */
Test(access_log, a_stalled_log_drops_and_counts_lines_instead_of_waiting)
{
	char dir[64], path[128], be[64], why[256];
	struct faultkit_slb s;
	unsigned bport, ok;
	long long lines, dropped;
	int rd;

	cr_assert_eq(peers_tmpdir(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* so slb's open does not wait */
	cr_assert_geq(rd, 0);
	cr_assert_not_null(faultkit_backend_start("b", "127.0.0.1", &bport));
	snprintf(be, sizeof(be), "127.0.0.1:%u", bport);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--access-log", path, "--backend", be,
							     NULL });
	ok = faultkit_parallel_gets(s.port, "/", 2000, 4, IO_MS, why, sizeof(why));
	cr_assert_eq(ok, 2000, "%s", why);
	cr_assert_eq(faultkit_wait_metric(s.admin, "slb_worker_active_connections", 0, IO_MS), 0);
	lines = faultkit_metric(s.admin, "slb_access_log_lines_total");
	dropped = faultkit_metric(s.admin, "slb_access_log_dropped_total");
	cr_assert_gt(dropped, 0, "a 64 KiB pipe and a 256 KiB ring took 2,000 lines");
	cr_assert_eq(lines + dropped, 2000);
	close(rd); /* the blocked write fails (EPIPE) and slb can stop */
	faultkit_slb_stop_ok(&s, STOP_MS);
}
