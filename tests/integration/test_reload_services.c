/* Reload (SIGHUP) adds and removes whole services (issue 21): slb serves the default service
 * (A: two backends, the client port) under connection-per-request load while 20 reloads
 * alternately remove and add a service b with a port and a backend of its own, and change a
 * setting of A each time. Not one request to A fails; after each add b's port answers from
 * b's backend on every try (so from whichever worker the kernel hands the connection to),
 * after each remove it refuses connections, and /status lists the services as they are. A
 * reload whose new port is taken is rejected, says why, and leaves slb serving as before. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "loadgen.h"
#include "testproc.h"

#define RELOADS 20
#define IO_MS 5000
#define TRIES 8 /* requests to b after each add: with 2 workers, both almost surely take some */

static char conf_path[64], sock_path[64];
static char a_addr[2][32], b_addr[32];
static struct faultkit_slb slb;

static void setup(void)
{
	faultkit_raise_nofile();
	snprintf(conf_path, sizeof(conf_path), "/tmp/slb-test-reload-svc-%d.conf", getpid());
	snprintf(sock_path, sizeof(sock_path), "/tmp/slb-test-reload-svc-%d.sock", getpid());
}

static void teardown(void)
{
	testproc_stop_all();
	unlink(conf_path);
	unlink(sock_path);
}

TestSuite(reload_services, .init = setup, .fini = teardown, .timeout = 120);

/* The default service (A) on slb's client port with its two backends and retries, then
 * service b on b_port when b_port is not 0. */
static void write_conf(unsigned retries, unsigned b_port)
{
	FILE *f = fopen(conf_path, "w");

	cr_assert_not_null(f);
	fprintf(f, "workers = 2\nretries = %u\nbackend = %s\nbackend = %s\n", retries, a_addr[0], a_addr[1]);
	if (b_port)
		fprintf(f, "[service b]\nlisten = 127.0.0.1:%u\nbackend = %s,name=b1\nconnect-timeout = 900\n", b_port,
			b_addr);
	cr_assert_eq(fclose(f), 0);
}

static void start_all(unsigned b_port)
{
	static const char *const args[] = { "-c", conf_path, "--control-socket", sock_path, NULL };

	faultkit_backend_ok("a1", a_addr[0], sizeof(a_addr[0]));
	faultkit_backend_ok("a2", a_addr[1], sizeof(a_addr[1]));
	faultkit_backend_ok("b1", b_addr, sizeof(b_addr));
	write_conf(2, b_port);
	faultkit_slb_start_ok(&slb, 0, args);
}

/* Sends SIGHUP and waits for the n-th line holding outcome ("reload: done", "reload rejected"). */
static void reload(unsigned n, const char *outcome)
{
	faultkit_reload_ok(slb.proc, n, outcome);
}

/* Every one of TRIES requests to port, each on a fresh connection, is answered by b1. */
static void expect_b_answers(unsigned port, unsigned round)
{
	char body[256], name[64];

	for (unsigned i = 0; i < TRIES; i++) {
		cr_assert_eq(faultkit_http_body(port, "/", body, sizeof(body), IO_MS), 200,
			     "round %u: request %u to b's new port %u got no answer", round, i, port);
		cr_assert_str_eq(faultkit_backend_name(body, name, sizeof(name)), "b1", "round %u: answered by '%s'",
				 round, name);
	}
}

/* port refuses connections: at once once the workers closed their sockets, which they do in
 * the loop turn that took the reload (polled: "reload: done" comes just before). */
static void expect_refused(unsigned port, unsigned round)
{
	int fd = -1;

	for (int t = 0; t < 200; t++, usleep(10000)) {
		fd = testproc_connect(port, IO_MS);
		if (fd < 0)
			break;
		close(fd);
	}
	cr_assert_eq(fd, -ECONNREFUSED, "round %u: b's old port %u still accepts (%d)", round, port, fd);
	cr_assert_eq(testproc_connect(port, IO_MS), -ECONNREFUSED, "round %u: port %u accepts again", round, port);
}

/* /status's services list has service b in state (NULL: not listed at all) and b1 in it. */
static void expect_status_b(const char *state, unsigned port, unsigned round)
{
	struct testproc_http r;
	char want[128], svc[32] = "";

	cr_assert_eq(testproc_http_get(slb.admin, "/status", &r, IO_MS), 0);
	cr_assert(strstr(r.body, "{\"name\":\"default\",\"state\":\"serving\""), "round %u: %s", round, r.body);
	/* the object goes on with the service's "clients" figures */
	if (!strcmp(state, "serving"))
		snprintf(want, sizeof(want), "{\"name\":\"b\",\"state\":\"serving\",\"listen\":[\"127.0.0.1:%u\"],", port);
	else
		snprintf(want, sizeof(want), "{\"name\":\"b\",\"state\":\"%s\",\"listen\":[],", state);
	cr_assert(strstr(r.body, want), "round %u: /status lacks %s:\n%s", round, want, r.body);
	if (!strcmp(state, "serving")) {
		cr_assert_eq(faultkit_status_field(slb.admin, b_addr, "service", svc, sizeof(svc)), 0);
		cr_assert_str_eq(svc, "b", "round %u", round);
	}
}

/*
 * 20 reloads under load on A: odd ones remove b, even ones add it back, on the port it just
 * closed or on a fresh one in turn; each flips A's retries (1 or 2).
 * Operator sees: no failed request on A; 'service b added, listening on ...' and 'service b
 *   removed: 1 backend draining' in the log; b's port answering or refused as the file says.
 */
Test(reload_services, twenty_reloads_add_and_remove_a_service_under_load)
{
	struct loadgen_opts o = { .threads = 2, .max_reqs = 200000, .timeout_ms = IO_MS, .gap_ms = 1,
				  .max_run_ms = 60000 };
	unsigned b_port = (unsigned)testproc_free_port(), old_port = 0;
	struct loadgen lg;
	char why[256] = "";

	start_all(b_port);
	expect_b_answers(b_port, 0);
	o.port = slb.port;
	cr_assert_eq(loadgen_start(&lg, &o), 0);
	for (unsigned v = 1; v <= RELOADS; v++) {
		bool add = v % 2 == 0;

		old_port = b_port ? b_port : old_port;
		/* every other add takes the port b just closed again, the others a fresh one */
		b_port = !add ? 0 : v % 4 == 0 ? old_port : (unsigned)testproc_free_port();
		write_conf(1 + (v + 1) % 2, b_port); /* 1, 2, 1...: a change each time (start: 2) */
		reload(v, "reload: done");
		if (add) {
			expect_b_answers(b_port, v);
			expect_status_b("serving", b_port, v);
		} else {
			expect_refused(old_port, v);
			expect_status_b("removed", 0, v);
		}
		usleep(200000); /* load on A between two reloads too */
	}
	loadgen_stop(&lg);
	cr_assert_gt(loadgen_answered(&lg, NULL, 0, INT64_MAX), 200, "too little load to mean anything");
	cr_assert_eq(loadgen_failures(&lg, 0, INT64_MAX, why, sizeof(why)), 0, "failed requests on A: %s", why);
	loadgen_free(&lg);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service b added, listening on 127.0.0.1:"), RELOADS / 2);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service b removed: 1 backend draining"), RELOADS / 2);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: retries"), RELOADS);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload rejected"), 0);
	faultkit_slb_stop_ok(&slb, 5000);
}

/*
 * The file adds service b on a port another program listens on.
 * Operator sees: 'reload: cannot listen on 127.0.0.1:P: Address already in use', then
 *   'reload rejected'; b is not in /status, A answers as before; once the port is free the
 *   same file loads.
 */
Test(reload_services, a_port_in_use_rejects_the_reload_and_changes_nothing)
{
	unsigned port = 0;
	int holder = testproc_listen(&port);
	char body[256], line[96];
	struct testproc_http r;

	cr_assert_geq(holder, 0);
	start_all(0);
	write_conf(1, port);
	reload(1, "reload rejected");
	snprintf(line, sizeof(line), "reload: cannot listen on 127.0.0.1:%u: Address already in use", port);
	cr_assert_eq(faultkit_count_lines(slb.proc, line), 1, "no '%s'", line);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service b added"), 0);
	cr_assert_eq(testproc_http_get(slb.admin, "/status", &r, IO_MS), 0);
	cr_assert_null(strstr(r.body, "\"name\":\"b\""), "%s", r.body);
	cr_assert_eq(faultkit_status_field(slb.admin, b_addr, "state", body, sizeof(body)), -ENOENT,
		     "b's backend joined although its service was refused");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(faultkit_http_body(slb.port, "/", body, sizeof(body), IO_MS), 200);
	close(holder);
	reload(1, "reload: done");
	expect_b_answers(port, 1);
	/* not faultkit_slb_stop_ok: the rejected reload rightly logged errors */
	cr_assert_eq(testproc_stop(slb.proc, 5000), 0);
	cr_assert_eq(testproc_exit_code(slb.proc), 0);
}

/*
 * A reload renames service b to c (its port and backend go with it) and another changes c's
 * balance and check.
 * Operator sees: 'reload: 127.0.0.1:P moves from service b to service c' and no close of that
 *   port; every request on it is answered by b1, now of c in /status; c's changes logged with
 *   its name.
 */
Test(reload_services, a_port_moves_to_another_service_without_closing)
{
	unsigned port = (unsigned)testproc_free_port();
	char line[96], svc[32] = "";
	FILE *f;

	start_all(port);
	expect_b_answers(port, 0);
	f = fopen(conf_path, "w");
	cr_assert_not_null(f);
	fprintf(f, "workers = 2\nbackend = %s\nbackend = %s\n[service c]\nlisten = 127.0.0.1:%u\nbackend = %s\n",
		a_addr[0], a_addr[1], port, b_addr);
	cr_assert_eq(fclose(f), 0);
	reload(1, "reload: done");
	snprintf(line, sizeof(line), "reload: 127.0.0.1:%u moves from service b to service c", port);
	cr_assert_eq(faultkit_count_lines(slb.proc, line), 1, "no '%s'", line);
	cr_assert_eq(faultkit_count_lines(slb.proc, "closed: no new connections"), 0);
	expect_b_answers(port, 1);
	cr_assert_eq(faultkit_status_field(slb.admin, b_addr, "service", svc, sizeof(svc)), 0);
	cr_assert_str_eq(svc, "c");
	f = fopen(conf_path, "a");
	cr_assert_not_null(f);
	fprintf(f, "balance = leastconn\ncheck = tcp\n");
	cr_assert_eq(fclose(f), 0);
	reload(2, "reload: done");
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service c: balance roundrobin -> leastconn"), 1);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service c: check changed"), 1);
	expect_b_answers(port, 2);
	faultkit_slb_stop_ok(&slb, 5000);
}

/*
 * A reload adds service b before a binary upgrade: the running slb hands b's sockets over
 * with the others (the workers' listeners are the reloaded config's, not the start's), and the
 * new slb, started with the same file, serves b on them.
 * Operator sees: the new slb serving alone, b answering through it, the old one drained.
 */
Test(reload_services, an_upgrade_after_a_reload_takes_the_new_ports_over)
{
	static char listen[32], admin[32];
	const char *argv[] = { "slb", "--listen", listen, "--admin", admin, "--control-socket", sock_path,
			       "--takeover", sock_path, "-c", conf_path, NULL };
	unsigned port = (unsigned)testproc_free_port();
	char why[TESTPROC_WHY_MAX];
	struct testproc *next;

	start_all(0);
	write_conf(2, port);
	reload(1, "reload: done");
	expect_b_answers(port, 1);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", slb.port);
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", slb.admin);
	next = testproc_spawn(argv);
	cr_assert_not_null(next);
	if (testproc_wait_output(next, "this process serves alone", IO_MS)) {
		testproc_explain(next, why, sizeof(why));
		cr_assert_fail("the new slb did not take over: %s", why);
	}
	cr_assert_eq(testproc_wait(slb.proc, IO_MS), 0, "the old slb did not exit after the upgrade");
	expect_b_answers(port, 2);
	cr_assert_eq(faultkit_count_lines(next, "is not in the new configuration"), 0);
	cr_assert_eq(faultkit_stop_clean(next, 5000, why, sizeof(why)), 0, "%s", why);
}

/*
 * Service b has a static backend and one registered by slb-agent --service-name b; a reload
 * removes b.
 * Operator sees: 'service b removed: 2 backends draining'; both leave rotation (no longer up
 *   in /status); b's port refuses; the default service answers; the agent's REGISTER into the
 *   service that is gone is refused ('unknown service') while slb stays up; a reload that names
 *   b again serves it (b1 from the file, b2 once its agent registers again).
 */
Test(reload_services, a_removed_services_heartbeat_backends_leave_with_it)
{
	static const char *const hb_args[] = { "-c", conf_path, "--heartbeat-listen", "127.0.0.1:{port2}", NULL };
	unsigned port = (unsigned)testproc_free_port(), hb_port;
	char lb[32], svc_addr[32], state[32] = "", body[256];

	faultkit_backend_ok("a1", a_addr[0], sizeof(a_addr[0]));
	faultkit_backend_ok("a2", a_addr[1], sizeof(a_addr[1]));
	faultkit_backend_ok("b1", b_addr, sizeof(b_addr));
	faultkit_backend_ok("b2", svc_addr, sizeof(svc_addr));
	write_conf(2, port);
	faultkit_slb_start_ok(&slb, 0, hb_args);
	hb_port = slb.port2;
	snprintf(lb, sizeof(lb), "127.0.0.1:%u", hb_port);
	cr_assert_not_null(testproc_spawn((const char *const[]){ "slb-agent", "--service", svc_addr, "--lb", lb,
								 "--service-name", "b", "--interval", "200", NULL }));
	cr_assert_geq(faultkit_wait_state(slb.admin, svc_addr, "up", IO_MS), 0, "b2 never came up");
	write_conf(1, 0);
	reload(1, "reload: done");
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service b removed: 2 backends draining"), 1);
	expect_refused(port, 1);
	for (int t = 0; t < 300; t++, usleep(10000))
		if (faultkit_status_field(slb.admin, svc_addr, "state", state, sizeof(state)) != 0 ||
		    strcmp(state, "up") != 0)
			break;
	cr_assert_str_neq(state, "up", "b2 still up in /status after its service was removed");
	usleep(600000); /* a few heartbeats of the agent into the removed service */
	cr_assert(testproc_running(slb.proc));
	cr_assert_eq(faultkit_http_body(slb.port, "/", body, sizeof(body), IO_MS), 200);
	cr_assert_geq(faultkit_count_lines(slb.proc, "refused a line from 127.0.0.1"), 1,
		      "the agent's REGISTER into the removed service was not refused");
	write_conf(2, port);
	reload(2, "reload: done");
	for (unsigned i = 0; i < TRIES; i++) {
		char name[64];

		cr_assert_eq(faultkit_http_body(port, "/", body, sizeof(body), IO_MS), 200, "request %u to b", i);
		faultkit_backend_name(body, name, sizeof(name));
		cr_assert(!strcmp(name, "b1") || !strcmp(name, "b2"), "b back: answered by '%s'", name);
	}
	cr_assert_eq(testproc_stop(slb.proc, 5000), 0);
	cr_assert_eq(testproc_exit_code(slb.proc), 0);
}

/*
 * slb started without a maglev service; a reload adds service b with balance = maglev.
 * Operator sees: the reload rejected with the reason (the workers' accepts return no client
 *   addresses: an upgrade or restart), nothing bound on b's port, the default answering.
 */
Test(reload_services, a_new_service_the_workers_cannot_serve_is_refused_with_the_reason)
{
	unsigned port = (unsigned)testproc_free_port();
	char body[256];
	FILE *f;

	start_all(0);
	write_conf(2, port);
	f = fopen(conf_path, "a");
	cr_assert_not_null(f);
	fprintf(f, "balance = maglev\n");
	cr_assert_eq(fclose(f), 0);
	reload(1, "reload rejected");
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service b: balance maglev: the workers were started "
						    "without a maglev service"),
		     1);
	cr_assert_eq(testproc_connect(port, IO_MS), -ECONNREFUSED, "b's port was bound by a rejected reload");
	cr_assert_eq(faultkit_http_body(slb.port, "/", body, sizeof(body), IO_MS), 200);
	cr_assert_eq(testproc_stop(slb.proc, 5000), 0);
	cr_assert_eq(testproc_exit_code(slb.proc), 0);
}

/* The first 16 bytes (a PROXY v2 header's fixed part, or the start of a v1 line) that a
 * connection to b's port brings to the raw backend listening on lfd, the client having sent
 * "hi\n". */
static ssize_t header_at_backend(int lfd, unsigned port, char *buf)
{
	int c = testproc_connect(port, IO_MS), b;
	ssize_t n;

	cr_assert_geq(c, 0, "b's port %u: %d", port, c);
	cr_assert_eq(testproc_write_all(c, "hi\n", 3, IO_MS), 0);
	b = testproc_accept(lfd, IO_MS);
	cr_assert_geq(b, 0, "slb never connected to b's backend");
	n = testproc_read_full(b, buf, 16, IO_MS);
	close(b);
	close(c);
	return n;
}

/*
 * slb learns client addresses (its access log is on); a reload adds service b with
 * send-proxy = v1, another turns it to v2.
 * Backend sees: a PROXY v1 line before the client's bytes, then, after the second reload, a
 *   v2 header. Operator sees: 'reload: service b: send-proxy v1 -> v2'.
 */
Test(reload_services, send_proxy_of_an_added_service_applies_and_changes)
{
	static const char *const args[] = { "-c", conf_path, "--access-log", "/dev/null", NULL };
	static const char v2_sig[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n' };
	unsigned port = (unsigned)testproc_free_port(), bport = 0;
	int lfd = testproc_listen(&bport);
	char buf[256];
	FILE *f;
	ssize_t n;

	cr_assert_geq(lfd, 0);
	faultkit_backend_ok("a1", a_addr[0], sizeof(a_addr[0]));
	faultkit_backend_ok("a2", a_addr[1], sizeof(a_addr[1]));
	snprintf(b_addr, sizeof(b_addr), "127.0.0.1:%u", bport);
	write_conf(2, 0);
	faultkit_slb_start_ok(&slb, 0, args);
	for (unsigned v = 1; v <= 2; v++) {
		write_conf(2, port);
		f = fopen(conf_path, "a");
		cr_assert_not_null(f);
		fprintf(f, "send-proxy = v%u\n", v);
		cr_assert_eq(fclose(f), 0);
		reload(v, "reload: done");
		n = header_at_backend(lfd, port, buf);
		cr_assert_eq(n, 16, "round %u: %zd bytes", v, n);
		buf[n] = '\0';
		if (v == 1)
			cr_assert_eq(strncmp(buf, "PROXY TCP4 127.0", 16), 0, "not a v1 line: %s", buf);
		else
			cr_assert_eq(memcmp(buf, v2_sig, sizeof(v2_sig)), 0, "not a v2 header");
	}
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: service b: send-proxy v1 -> v2"), 1);
	close(lfd);
	faultkit_slb_stop_ok(&slb, 5000);
}

/*
 * Regression: slb learns no client addresses (no send-proxy, accept-proxy or access log at
 * start); a reload adds a backend with its own send-proxy=v1. The first connection to it
 * crashed slb (the worker built the header from a table it never allocated).
 * Operator sees: a warning that the header waits for an upgrade; both backends answer.
 */
Test(reload_services, a_backend_send_proxy_the_workers_cannot_build_waits_for_an_upgrade)
{
	char body[256], name[64];
	unsigned from_b = 0;
	FILE *f;

	start_all(0);
	f = fopen(conf_path, "a");
	cr_assert_not_null(f);
	fprintf(f, "backend = %s,send-proxy=v1\n", b_addr);
	cr_assert_eq(fclose(f), 0);
	reload(1, "reload: done");
	cr_assert_eq(faultkit_count_lines(slb.proc, "send-proxy=v1: the workers learn no client addresses"), 1);
	for (int i = 0; i < 12; i++) {
		cr_assert_eq(faultkit_http_body(slb.port, "/", body, sizeof(body), IO_MS), 200, "request %d", i);
		from_b += strcmp(faultkit_backend_name(body, name, sizeof(name)), "b1") == 0;
	}
	cr_assert_gt(from_b, 0, "the added backend took no request");
	faultkit_slb_stop_ok(&slb, 5000);
}
