/* The runtime API on the admin endpoint, against a real slb and real backends: every route
 * with good and bad input, as an operator would use it with curl. Each bad request must get
 * its status code and leave /status as it was; changes must show in /status and in where
 * client connections go. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "echo_server.h"
#include "faultkit.h"
#include "healthtest.h"
#include "testproc.h"

#define IO_MS 5000
#define STOP_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(admin_api, .fini = suite_fini, .timeout = 120);

/* One request; asserts it got an answer and returns the status. */
static int call(unsigned admin, const char *method, const char *path, const char *body, const char *headers,
		struct testproc_http *r)
{
	int rc = testproc_http_request(admin, method, path, headers, body, r, IO_MS);

	cr_assert_eq(rc, 0, "%s %s: %s", method, path, strerror(-rc));
	return r->status;
}

static void expect(unsigned admin, const char *method, const char *path, const char *body, int status,
		   const char *in_body)
{
	struct testproc_http r;

	cr_assert_eq(call(admin, method, path, body, NULL, &r), status, "%s %s: %d %s", method, path, r.status,
		     r.body);
	if (in_body)
		cr_assert_not_null(strstr(r.body, in_body), "%s %s: no %s in %s", method, path, in_body, r.body);
}

static void expect_field(unsigned admin, const char *addr, const char *field, const char *want)
{
	char got[128];

	cr_assert_eq(faultkit_status_field(admin, addr, field, got, sizeof(got)), 0, "%s of %s", field, addr);
	cr_assert_str_eq(got, want, "%s of %s", field, addr);
}

/* Which backend answers a client now ("web1"), through slb's listener. */
static void expect_served_by(unsigned port, const char *name)
{
	char body[256], who[64];

	for (int i = 0; i < 6; i++) {
		cr_assert_eq(faultkit_http_body(port, "/", body, sizeof(body), IO_MS), 200);
		cr_assert_str_eq(faultkit_backend_name(body, who, sizeof(who)), name);
	}
}

static void start_two(struct faultkit_slb *s, char *a1, char *a2, size_t len, const char *const *more)
{
	const char *args[16] = { "--workers", "1", "--backend", a1, "--backend", a2 };
	unsigned n = 6;

	faultkit_backend_ok("web1", a1, len);
	faultkit_backend_ok("web2", a2, len);
	for (; more && *more; more++)
		args[n++] = *more;
	args[n] = NULL;
	faultkit_slb_start_ok(s, 0, args);
}

/*
 * drain, enable, disable and weight, by address and by id, on two static backends.
 * Operator sees: each answer is 200 with the backend's new state; a drained backend gets no
 *   new client while the other takes them all; disable shows admin_down; enable brings both
 *   back; weight 0 drains and a weight sets the weight in use while the configured one stays.
 */
Test(admin_api, drain_enable_disable_and_weight_steer_the_traffic)
{
	char a1[64], a2[64], path[128];
	struct faultkit_slb s;

	start_two(&s, a1, a2, sizeof(a1), NULL);
	snprintf(path, sizeof(path), "/backends/%s/drain", a1);
	expect(s.admin, "POST", path, NULL, 200, "\"state\":\"draining\"");
	expect_field(s.admin, a1, "reason", "admin drain from 127.0.0.1");
	expect_served_by(s.port, "web2");
	expect(s.admin, "POST", "/backends/1/enable", NULL, 200, "\"state\":\"up\"");
	expect(s.admin, "POST", "/backends/2/disable", NULL, 200, "\"state\":\"admin_down\"");
	expect_served_by(s.port, "web1");
	expect_field(s.admin, a2, "reason", "admin disable from 127.0.0.1");
	expect(s.admin, "POST", "/backends/2/enable", NULL, 200, "\"state\":\"up\"");
	expect(s.admin, "PUT", "/backends/1/weight", "0", 200, "\"state\":\"draining\"");
	expect_served_by(s.port, "web2");
	/* a weight again ends the drain that weight 0 began, as in HAProxy */
	expect(s.admin, "PUT", "/backends/1/weight", "{\"weight\": 7}", 200,
	       "\"state\":\"up\",\"source\":\"static\",\"weight\":7");
	expect_field(s.admin, a1, "cfg_weight", "1");
	expect_field(s.admin, a1, "admin_weight", "7");
	cr_assert_eq(testproc_wait_output(s.proc, "admin: drain backend", IO_MS), 0, "the change is logged");
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * Static backends named on the command line (--backend ADDR,name=NAME), steered by name.
 * Operator sees: /status and /metrics name them; POST /backends/front-1/drain drains the one
 *   so named (clients go to the other) and enable brings it back; an unknown name is 404;
 *   adding a backend under a name in use is 409.
 */
Test(admin_api, named_backends_are_steered_by_name)
{
	char a1[64], a2[64], a3[64], n1[80], n2[80], body[160];
	struct testproc_http r;
	struct faultkit_slb s;

	faultkit_backend_ok("web1", a1, sizeof(a1));
	faultkit_backend_ok("web2", a2, sizeof(a2));
	snprintf(n1, sizeof(n1), "%s,name=front-1", a1);
	snprintf(n2, sizeof(n2), "%s,name=front-2", a2);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--backend", n1, "--backend", n2, NULL });
	expect_field(s.admin, a1, "name", "front-1");
	cr_assert_eq(call(s.admin, "GET", "/metrics", NULL, NULL, &r), 200);
	snprintf(body, sizeof(body), "slb_backend_up{backend=\"%s\",name=\"front-2\",service=\"default\"} 1", a2);
	cr_assert_not_null(strstr(r.body, body), "no '%s' in /metrics", body);
	expect(s.admin, "POST", "/backends/front-1/drain", NULL, 200, "\"name\":\"front-1\",\"state\":\"draining\"");
	expect_served_by(s.port, "web2");
	expect(s.admin, "POST", "/backends/front-1/enable", NULL, 200, "\"state\":\"up\"");
	expect(s.admin, "GET", "/backends/front-2", NULL, 200, a2);
	expect(s.admin, "POST", "/backends/front-3/drain", NULL, 404, "unknown backend");
	faultkit_backend_ok("web3", a3, sizeof(a3));
	snprintf(body, sizeof(body), "{\"address\":\"%s\",\"name\":\"front-2\"}", a3);
	expect(s.admin, "POST", "/backends", body, 409, "backend 2 already has the name 'front-2'");
	snprintf(body, sizeof(body), "{\"address\":\"%s\",\"name\":\"front-3\"}", a3);
	expect(s.admin, "POST", "/backends", body, 200, "\"name\":\"front-3\"");
	expect(s.admin, "POST", "/backends/front-3/drain", NULL, 200, "\"state\":\"draining\"");
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * A heartbeat backend registers under the name of a static one (its process chooses it).
 * Operator sees: POST /backends/hb1/drain answers 400 "ambiguous name" and drains neither;
 *   by id each one still drains.
 */
Test(admin_api, a_name_two_backends_bear_is_refused)
{
	static const char *const extra[] = { "--backend", "127.0.0.1:8,name=hb1", NULL };
	struct healthtest_slb s;
	int fd;

	healthtest_start_ok(&s, extra);
	fd = healthtest_session_ok(&s, NULL);
	healthtest_expect_reply(fd, "REGISTER 127.0.0.1:9 name=hb1", "OK registered id=2 interval=1000 timeout=3000");
	expect(s.admin, "POST", "/backends/hb1/drain", NULL, 400, "ambiguous name 'hb1': 2 backends bear it");
	healthtest_expect_state(&s, 8, "up", NULL);
	healthtest_expect_state(&s, 9, "up", NULL);
	expect(s.admin, "POST", "/backends/2/drain", NULL, 200, "\"state\":\"draining\"");
	close(fd);
	healthtest_stop_ok(&s);
}

/* The states and weights of every backend, for "nothing changed". */
static void snapshot_states(unsigned admin, const char *a1, const char *a2, char *out, size_t len)
{
	char st1[32], st2[32], w1[16], w2[16];

	cr_assert_eq(faultkit_status_field(admin, a1, "state", st1, sizeof(st1)), 0);
	cr_assert_eq(faultkit_status_field(admin, a2, "state", st2, sizeof(st2)), 0);
	cr_assert_eq(faultkit_status_field(admin, a1, "weight", w1, sizeof(w1)), 0);
	cr_assert_eq(faultkit_status_field(admin, a2, "weight", w2, sizeof(w2)), 0);
	snprintf(out, len, "%s/%s %s/%s", st1, w1, st2, w2);
}

/* A body over the cap, sent as a whole (the server answers before reading it all). */
static void expect_too_large(unsigned admin)
{
	static char big[2000];
	struct testproc_http r;

	memset(big, '7', sizeof(big) - 1);
	cr_assert_eq(call(admin, "PUT", "/backends/1/weight", big, NULL, &r), 413, "%d", r.status);
	/* JSON like every other error of the API (issue 20: it was plain text) */
	cr_assert_str_eq(r.body, "{\"error\":\"request body over 1024 bytes\"}\n");
	cr_assert_not_null(strstr(r.head, "Content-Type: application/json"), "%s", r.head);
}

/*
 * Bad input of every kind: unknown backend (by id and address), unknown path, wrong method,
 * bad JSON, a weight out of range, a body that is not the expected shape, a huge body, a
 * bad ?since=, a second Content-Length, a duplicate key, an address slb serves itself.
 * Operator sees: 404, 404, 405 with Allow, 400 with a message, 413, 400; /status exactly as
 *   before, and slb still serving.
 */
Test(admin_api, bad_input_gets_its_status_and_changes_nothing)
{
	char a1[64], a2[64], before[128], after[128];
	struct testproc_http r;
	struct faultkit_slb s;

	start_two(&s, a1, a2, sizeof(a1), NULL);
	snapshot_states(s.admin, a1, a2, before, sizeof(before));
	expect(s.admin, "POST", "/backends/99/drain", NULL, 404, "unknown backend");
	expect(s.admin, "POST", "/backends/127.0.0.1:1/drain", NULL, 404, "unknown backend");
	expect(s.admin, "POST", "/backends/%ZZ/drain", NULL, 404, "unknown backend");
	expect(s.admin, "POST", "/backends/1/explode", NULL, 404, "no such path");
	cr_assert_eq(call(s.admin, "GET", "/backends/1/drain", NULL, NULL, &r), 405);
	cr_assert_not_null(strstr(r.head, "Allow: POST"), "%s", r.head);
	expect(s.admin, "DELETE", "/status", NULL, 405, NULL);
	/* a method slb has no route for at all: 405 on a known path too (issue 20: it was 404) */
	cr_assert_eq(call(s.admin, "PATCH", "/status", NULL, NULL, &r), 405, "%d %s", r.status, r.body);
	cr_assert_not_null(strstr(r.head, "Allow: GET"), "%s", r.head);
	cr_assert_not_null(strstr(r.body, "{\"error\":"), "%s", r.body);
	expect(s.admin, "PUT", "/backends/1/weight", "{\"weight\":", 400, "bad JSON");
	expect(s.admin, "PUT", "/backends/1/weight", "257", 400, "0 to 256");
	expect(s.admin, "PUT", "/backends/1/weight", "2.5", 400, "0 to 256");
	expect(s.admin, "PUT", "/backends/1/weight", "{\"weight\":2,\"x\":1}", 400, "0 to 256");
	expect(s.admin, "PUT", "/backends/1/weight", "{\"weight\":2,\"weight\":3}", 400, "bad JSON");
	expect(s.admin, "PUT", "/backends/1/weight", NULL, 400, "JSON body");
	expect(s.admin, "POST", "/backends", "{\"weight\":2}", 400, "address");
	expect(s.admin, "POST", "/backends", "{\"address\":\"0.0.0.0:80\"}", 400, "unspecified");
	expect(s.admin, "POST", "/backends", "{\"address\":\"127.0.0.1:9\",\"color\":1}", 400, "unknown key");
	expect(s.admin, "POST", "/backends", "{\"address\":\"127.0.0.1:9\",\"check\":\"ftp\"}", 400, "tcp");
	expect(s.admin, "GET", "/events?since=abc", NULL, 400, "since");
	expect(s.admin, "GET", "/status?per_worker=2", NULL, 400, "per_worker=1");
	expect(s.admin, "GET", "/status?per_worker=1", NULL, 200, "\"per_worker\":[{\"worker\":0,");
	expect_too_large(s.admin);
	cr_assert_eq(call(s.admin, "PUT", "/backends/1/weight", "5", "Content-Length: 1\r\n", &r), 400);
	snapshot_states(s.admin, a1, a2, after, sizeof(after));
	cr_assert_str_eq(after, before, "a refused request changed something");
	cr_assert_eq(faultkit_http_body(s.port, "/", before, sizeof(before), IO_MS), 200, "slb still serves");
	faultkit_slb_stop_ok(&s, STOP_MS);
}

static void write_token(char *path, size_t len, const char *token, mode_t mode)
{
	int fd;

	snprintf(path, len, "/tmp/slb-test-token-%d", getpid());
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, token, strlen(token)), (ssize_t)strlen(token));
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

#define TOKEN "0123456789abcdef0123456789abcdef-token"

/*
 * --admin-token-file: a change without the token, with a wrong one, or with the token in
 * another scheme is refused; with it, done. Reads need none, and a token on a read is fine.
 * Operator sees: 401 (with WWW-Authenticate), 401, 401, 200; GET /status 200 either way;
 *   nothing changed by the refused ones. slb logs the wrong token.
 */
Test(admin_api, token_guards_changes_and_leaves_reads_open)
{
	char a1[64], a2[64], path[128];
	const char *more[] = { "--admin-token-file", path, NULL };
	struct testproc_http r;
	struct faultkit_slb s;

	write_token(path, sizeof(path), TOKEN "\n", 0600);
	start_two(&s, a1, a2, sizeof(a1), more);
	cr_assert_eq(call(s.admin, "POST", "/backends/1/drain", NULL, NULL, &r), 401);
	cr_assert_not_null(strstr(r.head, "WWW-Authenticate: Bearer"), "%s", r.head);
	cr_assert_eq(call(s.admin, "POST", "/backends/1/drain", NULL, "Authorization: Bearer nope\r\n", &r), 401);
	cr_assert_eq(call(s.admin, "POST", "/backends/1/drain", NULL, "Authorization: Basic " TOKEN "\r\n", &r), 401);
	expect_field(s.admin, a1, "state", "up");
	cr_assert_eq(call(s.admin, "POST", "/backends/1/drain", NULL, "Authorization: Bearer " TOKEN "\r\n", &r), 200);
	expect_field(s.admin, a1, "state", "draining");
	cr_assert_eq(call(s.admin, "GET", "/status", NULL, NULL, &r), 200);
	cr_assert_eq(call(s.admin, "GET", "/status", NULL, "Authorization: Bearer nope\r\n", &r), 200);
	cr_assert_eq(testproc_wait_output(s.proc, "admin: wrong token from 127.0.0.1", IO_MS), 0);
	faultkit_slb_stop_ok(&s, STOP_MS);
	unlink(path);
}

/* A token file that others may read is refused at start, like the heartbeat key. */
Test(admin_api, token_file_readable_by_others_stops_slb)
{
	char path[128], out[4096];
	struct testproc_start st = {
		.argv = (const char *const[]){ "slb", "--listen", "127.0.0.1:{port0}", "--backend", "127.0.0.1:9",
					       "--admin", "127.0.0.1:{port1}", "--admin-token-file", path, NULL },
		.n_ports = 2,
		.timeout_ms = STOP_MS,
	};

	write_token(path, sizeof(path), TOKEN, 0644);
	cr_assert_eq(testproc_run_on_ports(&st, out, sizeof(out)), 1, "%s", out);
	cr_assert_not_null(strstr(out, "admin token file"), "%s", out);
	cr_assert_not_null(strstr(out, "chmod 600"), "%s", out);
	unlink(path);
}

/*
 * POST /backends adds a running server, which then takes clients; DELETE drains it and it
 * leaves /status once its connection is gone, while a download through it finishes whole.
 * Operator sees: 200 "source":"admin"; clients reach web3; DELETE 200 "removing":true and
 *   "draining" while the download runs; the backend gone from /status after it, 404 for it.
 */
/* Checks every 200 ms: an added backend with a check comes up after two of them. */
static const char *const fast_checks[] = { "--check-interval", "200", "--check-timeout", "150", "--rise", "2", NULL };

Test(admin_api, add_then_remove_waits_for_the_last_connection)
{
	char a1[64], a2[64], a3[64], body[256], path[128];
	struct faultkit_reader rd;
	struct faultkit_slb s;

	start_two(&s, a1, a2, sizeof(a1), fast_checks);
	faultkit_backend_ok("web3", a3, sizeof(a3));
	snprintf(body, sizeof(body), "{\"address\":\"%s\",\"weight\":3,\"name\":\"web3\",\"check\":\"tcp\"}", a3);
	expect(s.admin, "POST", "/backends", body, 200, "\"source\":\"admin\"");
	expect(s.admin, "POST", "/backends", body, 409, "already");
	cr_assert_geq(faultkit_wait_state(s.admin, a3, "up", IO_MS), 0, "web3 never passed its checks");
	expect(s.admin, "POST", "/backends/1/disable", NULL, 200, NULL);
	expect(s.admin, "POST", "/backends/2/disable", NULL, 200, NULL);
	expect_served_by(s.port, "web3");
	cr_assert_eq(faultkit_reader_start(&rd, s.port, "/bytes/4000000", 256, 30000), 0);
	/* in flight means relayed to web3 (a worker on a loaded machine may not have accepted it
	 * yet; a connection slb has not accepted cannot hold a removal back) */
	for (int i = 0; i < 500 && (faultkit_status_field(s.admin, a3, "active_conns", body, sizeof(body)) != 0 ||
				    strcmp(body, "1") != 0); i++)
		usleep(10000);
	snprintf(path, sizeof(path), "/backends/%s", a3);
	expect(s.admin, "DELETE", path, NULL, 200, "\"removing\":true");
	usleep(300000);
	expect_field(s.admin, a3, "state", "draining");
	expect_field(s.admin, a3, "active_conns", "1");
	atomic_store(&rd.rate_kib, 0);
	faultkit_reader_join(&rd);
	cr_assert_eq(rd.rc, 0, "the download was cut: %s", strerror(-rd.rc));
	cr_assert_eq(rd.r.body_fnv, faultkit_pattern_fnv(4000000));
	for (int i = 0; i < 200 && faultkit_status_field(s.admin, a3, "state", body, sizeof(body)) == 0; i++)
		usleep(10000);
	expect(s.admin, "GET", path, NULL, 404, "unknown backend");
	faultkit_slb_stop_ok(&s, STOP_MS);
}

/*
 * A backend that registered by heartbeat: disable holds it admin_down while its heartbeats
 * keep saying up; DELETE is a conflict while its session lives.
 * Operator sees: admin_down with reason "admin disable from 127.0.0.1" after more
 *   heartbeats; DELETE 409 saying why; enable brings it back up.
 */
Test(admin_api, disable_outlasts_heartbeats_and_remove_conflicts_with_a_session)
{
	struct healthtest_slb s;
	char reply[128], line[64];
	int fd;

	healthtest_start_ok(&s, NULL);
	fd = healthtest_session_ok(&s, NULL);
	healthtest_expect_reply(fd, "REGISTER 127.0.0.1:9 name=hb1", "OK registered id=1 interval=1000 timeout=3000");
	expect(s.admin, "POST", "/backends/1/disable", NULL, 200, "admin_down");
	healthtest_expect_reply(fd, "HEARTBEAT state=up", "OK state=down interval=1000");
	healthtest_expect_state(&s, 9, "admin_down", "admin disable from 127.0.0.1");
	expect(s.admin, "DELETE", "/backends/1", NULL, 409, "live heartbeat session");
	expect(s.admin, "POST", "/backends/1/enable", NULL, 200, "\"state\":\"up\"");
	snprintf(line, sizeof(line), "HEARTBEAT");
	cr_assert_gt(healthtest_cmd(fd, line, reply, sizeof(reply)), 0);
	cr_assert_str_eq(reply, "OK state=up interval=1000");
	close(fd);
	healthtest_stop_ok(&s);
}

/* Whether GET /events lists addr going to state ("up"), and, when reason is not NULL, with it. */
static bool events_list(unsigned admin, const char *addr, const char *state, const char *reason)
{
	char where[96], to[32];
	struct testproc_http r;

	snprintf(where, sizeof(where), "\"address\":\"%s\"", addr);
	snprintf(to, sizeof(to), "\"new\":\"%s\"", state);
	cr_assert_eq(call(admin, "GET", "/events?since=0", NULL, NULL, &r), 200);
	for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, where) && strstr(line, to) && (!reason || strstr(line, reason)))
			return true;
	return false;
}

/*
 * With --check tcp, a backend added at run time is judged before it takes clients, as HAProxy
 * does for a server added at run time: nothing listens at one address, web3 listens at the
 * other.
 * Operator sees: both POSTs answer 200 with "state":"down" and "checking, up after 2 passed
 *   checks"; web3 turns up ("check passed 2 times"); the dead address stays down, /events
 *   never lists it up, and clients are all served by the others.
 */
Test(admin_api, added_backend_takes_clients_only_after_its_checks_pass)
{
	const char *const more[] = { "--check", "tcp", "--check-interval", "200", "--check-timeout", "150",
				     "--rise", "2", NULL };
	char a1[64], a2[64], a3[64], dead[64], body[256];
	struct faultkit_slb s;

	start_two(&s, a1, a2, sizeof(a1), more);
	snprintf(dead, sizeof(dead), "127.0.0.1:%u", refused_port());
	snprintf(body, sizeof(body), "{\"address\":\"%s\",\"name\":\"nobody\"}", dead);
	expect(s.admin, "POST", "/backends", body, 200, "\"state\":\"down\"");
	expect_field(s.admin, dead, "reason", "added by admin from 127.0.0.1: checking, up after 2 passed checks");
	faultkit_backend_ok("web3", a3, sizeof(a3));
	snprintf(body, sizeof(body), "{\"address\":\"%s\",\"name\":\"web3\"}", a3);
	expect(s.admin, "POST", "/backends", body, 200, "checking");
	cr_assert_geq(faultkit_wait_state(s.admin, a3, "up", IO_MS), 0, "web3 never passed its checks");
	cr_assert(events_list(s.admin, a3, "up", "check passed 2 times"));
	/* the dead address was added first and checked as often: its checks failed meanwhile */
	expect_field(s.admin, dead, "state", "down");
	cr_assert_not(events_list(s.admin, dead, "up", NULL), "%s was up with nothing listening", dead);
	for (int i = 0; i < 20; i++) {
		char who[64];

		cr_assert_eq(faultkit_http_body(s.port, "/", body, sizeof(body), IO_MS), 200, "request %d", i);
		cr_assert_str_neq(faultkit_backend_name(body, who, sizeof(who)), "nobody");
	}
	faultkit_slb_stop_ok(&s, STOP_MS);
}
