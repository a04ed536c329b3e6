/* The event timeline: GET /events?since=N and the server-sent event stream at
 * /events/stream, with a backend killed and one drained by hand; a subscriber that stops
 * reading is dropped while slb carries on, and subscribers are capped. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faultkit.h"
#include "healthtest.h"
#include "testproc.h"

#define IO_MS 5000
#define STATIC_BE 9 /* a static backend on 127.0.0.1:9, drained by hand */

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(admin_events, .fini = suite_fini, .timeout = 120);

static const char *const with_static[] = { "--backend", "127.0.0.1:9", NULL };

static void get_ok(unsigned admin, const char *path, struct testproc_http *r)
{
	cr_assert_eq(testproc_http_get(admin, path, r, IO_MS), 0, "GET %s", path);
	cr_assert_eq(r->status, 200, "GET %s: %d %s", path, r->status, r->body);
}

static void post_ok(unsigned admin, const char *path)
{
	struct testproc_http r;

	cr_assert_eq(testproc_http_request(admin, "POST", path, NULL, NULL, &r, IO_MS), 0);
	cr_assert_eq(r.status, 200, "POST %s: %d %s", path, r.status, r.body);
}

/*
 * Polls GET /events?since=0 until its body holds needle; r keeps the last answer. Returns 0 or
 * -ETIMEDOUT. An event that follows another one by a quiescent point of every worker (the
 * "drained" after a drain) is not in the list the instant the first is, least of all under TSan.
 */
static int events_wait(unsigned admin, const char *needle, struct testproc_http *r, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;

	do {
		get_ok(admin, "/events?since=0", r);
		if (strstr(r->body, needle))
			return 0;
		usleep(10 * 1000);
	} while (testproc_now_ms() < deadline);
	return -ETIMEDOUT;
}

/*
 * A heartbeat backend killed with SIGKILL, then a static one drained by hand.
 * Operator sees in GET /events?since=0: "old":"up","new":"down" with "heartbeat connection
 *   closed", "admin drain from 127.0.0.1", then "drained: no connection left"; once that last
 *   one is listed, ?since=last_seq gives an empty list.
 */
Test(admin_events, events_list_changes_with_their_reasons)
{
	struct healthtest_slb s;
	struct testproc_http r;
	struct testproc *be;
	char path[64], *last;
	unsigned port;

	healthtest_start_ok(&s, with_static);
	be = healthtest_backend(&s, "web1", NULL, &port);
	cr_assert_geq(healthtest_wait_state(s.admin, port, "up", IO_MS), 0);
	testproc_signal(be, SIGKILL);
	cr_assert_geq(healthtest_wait_state(s.admin, port, "down", IO_MS), 0);
	post_ok(s.admin, "/backends/127.0.0.1:9/drain");
	cr_assert_eq(events_wait(s.admin, "\"reason\":\"drained: no connection left", &r, IO_MS), 0, "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"old\":\"up\",\"new\":\"down\",\"reason\":\"heartbeat connection closed\""),
			   "%s", r.body);
	cr_assert_not_null(strstr(r.body, "\"new\":\"draining\",\"reason\":\"admin drain from 127.0.0.1\""), "%s",
			   r.body);
	last = strstr(r.body, "\"last_seq\":");
	cr_assert_not_null(last);
	snprintf(path, sizeof(path), "/events?since=%ld", strtol(last + 11, NULL, 10));
	get_ok(s.admin, path, &r);
	cr_assert_not_null(strstr(r.body, "\"events\":[\n]"), "%s", r.body);
	healthtest_stop_ok(&s);
}

/* Opens /events/stream and reads its head. Returns the fd. */
static int open_stream(unsigned admin, int rcvbuf)
{
	static const char req[] = "GET /events/stream HTTP/1.1\r\nHost: slb\r\n\r\n";
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)admin),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char line[256];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	if (rcvbuf) /* before connect, so the window stays small */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(testproc_write_all(fd, req, sizeof(req) - 1, IO_MS), 0);
	if (rcvbuf)
		return fd;
	cr_assert_gt(testproc_read_line(fd, line, sizeof(line), IO_MS), 0);
	cr_assert_str_eq(line, "HTTP/1.0 200 OK");
	while (testproc_read_line(fd, line, sizeof(line), IO_MS) > 0)
		;
	return fd;
}

/* Reads stream lines until one holds needle. Returns 0 or -ETIMEDOUT. */
static int stream_expect(int fd, const char *needle, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	char line[1024];

	while (testproc_now_ms() < deadline) {
		int n = testproc_read_line(fd, line, sizeof(line), (int)(deadline - testproc_now_ms()));

		if (n < 0 && n != -EMSGSIZE)
			return n;
		if (n >= 0 && strstr(line, needle))
			return 0;
	}
	return -ETIMEDOUT;
}

/*
 * A subscriber on /events/stream, then a drain by hand and a heartbeat backend killed.
 * Subscriber sees: "event: state" with data naming "admin drain from 127.0.0.1", then
 *   "heartbeat connection closed", each within 2 s, without asking again.
 */
Test(admin_events, stream_delivers_changes_as_they_happen)
{
	struct healthtest_slb s;
	struct testproc *be;
	unsigned port;
	int fd;

	healthtest_start_ok(&s, with_static);
	be = healthtest_backend(&s, "web1", NULL, &port);
	cr_assert_geq(healthtest_wait_state(s.admin, port, "up", IO_MS), 0);
	fd = open_stream(s.admin, 0);
	post_ok(s.admin, "/backends/127.0.0.1:9/drain");
	cr_assert_eq(stream_expect(fd, "admin drain from 127.0.0.1", 2000), 0);
	testproc_signal(be, SIGKILL);
	cr_assert_eq(stream_expect(fd, "heartbeat connection closed", 2000), 0);
	close(fd);
	healthtest_stop_ok(&s);
}

/*
 * A subscriber with a 4 KiB receive buffer that never reads, while an operator toggles a
 * backend a few thousand times.
 * slb logs: "admin: event subscriber 127.0.0.1:PORT is N bytes behind, dropping it"; the
 *   toggles are all answered 200 meanwhile (nobody waited for the subscriber), and a new
 *   subscriber is served.
 */
Test(admin_events, slow_subscriber_is_dropped_never_waited_for)
{
	struct healthtest_slb s;
	int fd, toggles = 0;

	healthtest_start_ok(&s, with_static);
	fd = open_stream(s.admin, 4096);
	/* slb's log is read whole (its first MiB): each toggle logs a few lines */
	while (toggles < 5000 && (toggles % 40 || faultkit_count_lines(s.proc, "dropping it") == 0)) {
		post_ok(s.admin, "/backends/1/drain");
		post_ok(s.admin, "/backends/1/enable");
		toggles += 2;
	}
	cr_assert_eq(faultkit_count_lines(s.proc, "admin: event subscriber 127.0.0.1:"), 1,
		     "still subscribed after %d events", toggles);
	close(fd);
	fd = open_stream(s.admin, 0);
	post_ok(s.admin, "/backends/1/drain");
	cr_assert_eq(stream_expect(fd, "admin drain", 2000), 0);
	close(fd);
	healthtest_stop_ok(&s);
}

/* Subscribers are capped at 8: the ninth gets 503, and a read still works. */
Test(admin_events, subscribers_are_capped)
{
	struct healthtest_slb s;
	struct testproc_http r;
	int fds[8];

	healthtest_start_ok(&s, with_static);
	for (int i = 0; i < 8; i++)
		fds[i] = open_stream(s.admin, 0);
	cr_assert_eq(testproc_http_get(s.admin, "/events/stream", &r, IO_MS), 0);
	cr_assert_eq(r.status, 503, "%d", r.status);
	get_ok(s.admin, "/status", &r);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	healthtest_stop_ok(&s);
}
