/* Everything an operator sees is per service (issue 21): /metrics series carry a service
 * label and slb_service_backends counts each service's backends by state; /status lists the
 * services with their listen addresses and live/total counts; /services/NAME/backends/... steers a
 * backend of one service, the routes of before services keep working for a name or address
 * that only one service has and answer 409 for one that several have; and slb-ctl takes
 * --service. Two services, web and api, each have a backend named "one".
 *
 * No traffic is sent: the static backends are free loopback ports nobody listens on (without
 * a check slb trusts them up), so the suite is a few admin requests long. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "healthtest.h"
#include "testproc.h"

#define IO_MS 5000
#define OUT_MAX 16384
#define N_BE 4 /* web: one, two; api: one, three */

static char conf[64];
static struct healthtest_slb slb;
static unsigned be_port[N_BE], web_port, api_port;
static char admin[32];

static void suite_fini(void)
{
	testproc_stop_all();
	if (conf[0])
		unlink(conf);
}

TestSuite(service_ops, .fini = suite_fini, .timeout = 120);

static void write_conf(void)
{
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text),
		     "[service web]\nlisten = 127.0.0.1:%u\nbackend = 127.0.0.1:%u,name=one\n"
		     "backend = 127.0.0.1:%u,name=two\n"
		     "[service api]\nlisten = 127.0.0.1:%u\nbalance = p2c\nbackend = 127.0.0.1:%u,name=one\n"
		     "backend = 127.0.0.1:%u,name=three\n",
		     web_port, be_port[0], be_port[1], api_port, be_port[2], be_port[3]);
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	cr_assert_eq(testproc_write_file(conf, sizeof(conf), "/tmp/slb-svcops-XXXXXX", text), 0, "%s", conf);
}

/* A free port that none of the n in taken[] is. */
static unsigned distinct_port(const unsigned *taken, unsigned n)
{
	for (;;) {
		unsigned p = (unsigned)testproc_free_port();
		unsigned i = 0;

		while (i < n && taken[i] != p)
			i++;
		if (i == n)
			return p;
	}
}

/* slb with web and api beside the default service (healthtest's client, heartbeat and admin
 * ports), on ports picked again when another program took one, or when slb picked one of the
 * backends' ports for itself (its ports are chosen apart from the file's). */
static void start_services(void)
{
	const char *const extra[] = { "-c", conf, NULL };
	unsigned ports[N_BE + 2];
	int rc = -EADDRINUSE;

	for (int attempt = 0; attempt < 5 && rc == -EADDRINUSE; attempt++) {
		for (unsigned i = 0; i < N_BE + 2; i++)
			ports[i] = distinct_port(ports, i);
		memcpy(be_port, ports, sizeof(be_port));
		web_port = ports[N_BE];
		api_port = ports[N_BE + 1];
		write_conf();
		rc = healthtest_start(&slb, extra);
		if (rc && (strstr(slb.why, "in use") || strstr(slb.why, "slb's own")))
			rc = -EADDRINUSE;
	}
	cr_assert_eq(rc, 0, "slb did not start: %s", slb.why);
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", slb.admin);
}

/* A port for a backend to add: none of slb's own, nor a configured backend's. */
static unsigned fresh_port(void)
{
	const unsigned taken[] = { slb.listen, slb.hb, slb.admin, web_port, api_port,
				   be_port[0], be_port[1], be_port[2], be_port[3] };

	return distinct_port(taken, sizeof(taken) / sizeof(taken[0]));
}

static void expect_body(const struct testproc_http *r, const char *needle)
{
	cr_assert_not_null(strstr(r->body, needle), "missing %s in:\n%s", needle, r->body);
}

static void get_ok(const char *path, struct testproc_http *r)
{
	cr_assert_eq(testproc_http_get(slb.admin, path, r, IO_MS), 0, "GET %s", path);
	cr_assert_eq(r->status, 200, "GET %s: %d %s", path, r->status, r->body);
}

/* A change by the runtime API; returns the status, the answer in r. */
static int call(const char *method, const char *path, const char *body, struct testproc_http *r)
{
	cr_assert_eq(testproc_http_request(slb.admin, method, path, NULL, body, r, IO_MS), 0, "%s %s", method, path);
	return r->status;
}

static void expect_state(unsigned i, const char *state)
{
	char buf[32];

	cr_assert_eq(healthtest_field(slb.admin, be_port[i], "state", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, state, "backend %u (port %u)", i, be_port[i]);
}

/*
 * Operator sees: in /metrics every backend's series with its service, and the per-service
 * gauge; in /status a "services" array with each service's addresses, algorithm and counts
 * (the backends list as before), ?service=api narrowing both.
 */
Test(service_ops, metrics_and_status_are_per_service)
{
	static struct testproc_http r;
	char line[160];

	start_services();
	get_ok("/metrics", &r);
	snprintf(line, sizeof(line), "slb_backend_up{backend=\"127.0.0.1:%u\",name=\"one\",service=\"api\"} 1\n",
		 be_port[2]);
	expect_body(&r, line);
	snprintf(line, sizeof(line), "slb_backend_up{backend=\"127.0.0.1:%u\",name=\"one\",service=\"web\"} 1\n",
		 be_port[0]);
	expect_body(&r, line);
	expect_body(&r, "slb_service_backends{service=\"api\",state=\"up\"} 2\n");
	expect_body(&r, "slb_service_backends{service=\"default\",state=\"up\"} 0\n");
	/* one service at a time: the whole document may pass what testproc_http keeps of a body */
	get_ok("/status?service=api", &r);
	expect_body(&r, "{\"backends\":[");
	snprintf(line, sizeof(line), "\"services\":[\n{\"name\":\"api\",\"state\":\"serving\",\"listen\":[\"127.0.0.1:%u\"],",
		 api_port);
	expect_body(&r, line);
	expect_body(&r, "},\"algorithm\":\"p2c\",\"live\":2,\"total\":2,");
	cr_assert_null(strstr(r.body, "\"name\":\"web\""), "%s", r.body);
	get_ok("/status?service=web", &r);
	snprintf(line, sizeof(line), "{\"name\":\"web\",\"state\":\"serving\",\"listen\":[\"127.0.0.1:%u\"],", web_port);
	expect_body(&r, line);
	expect_body(&r, "},\"algorithm\":\"roundrobin\",\"live\":2,\"total\":2,");
	healthtest_stop_ok(&slb);
}

/*
 * Operator sees: /services/web/backends/one/drain drains web's "one" and not api's; the old
 * route answers 409 for "one" (two services have it) pointing at /services/NAME/..., and
 * works for "three" (only api has it) and for an address; another service's backend, an
 * unknown service and a name taken in the service are refused; an add lands in its service,
 * and its event names that service.
 */
Test(service_ops, routes_steer_one_services_backend)
{
	static struct testproc_http r;
	char path[96], body[128];

	start_services();
	cr_assert_eq(call("POST", "/backends/one/drain", NULL, &r), 409, "%s", r.body);
	expect_body(&r, "/services/NAME/backends/one");
	cr_assert_eq(call("POST", "/services/web/backends/one/drain", NULL, &r), 200, "%s", r.body);
	expect_body(&r, "\"state\":\"draining\"");
	expect_state(0, "draining");
	expect_state(2, "up");
	cr_assert_eq(call("POST", "/backends/three/disable", NULL, &r), 200, "%s", r.body);
	expect_state(3, "admin_down");
	snprintf(path, sizeof(path), "/backends/127.0.0.1:%u/enable", be_port[3]);
	cr_assert_eq(call("POST", path, NULL, &r), 200, "%s", r.body);
	expect_state(3, "up");
	cr_assert_eq(call("PUT", "/services/api/backends/one/weight", "7", &r), 200, "%s", r.body);
	expect_body(&r, "\"admin_weight\":7");
	snprintf(path, sizeof(path), "/services/api/backends/127.0.0.1:%u/drain", be_port[1]);
	cr_assert_eq(call("POST", path, NULL, &r), 404, "%s", r.body);
	expect_state(1, "up");
	cr_assert_eq(call("POST", "/services/nope/backends/one/drain", NULL, &r), 404, "%s", r.body);
	expect_body(&r, "unknown service");
	cr_assert_eq(call("GET", "/services/api/status", NULL, &r), 404, "%s", r.body);
	snprintf(body, sizeof(body), "{\"address\":\"127.0.0.1:%u\",\"name\":\"one\"}", fresh_port());
	cr_assert_eq(call("POST", "/services/api/backends", body, &r), 409, "%s", r.body);
	expect_body(&r, "already has the name 'one'");
	snprintf(body, sizeof(body), "{\"address\":\"127.0.0.1:%u\",\"name\":\"four\"}", fresh_port());
	cr_assert_eq(call("POST", "/services/api/backends", body, &r), 200, "%s", r.body);
	expect_body(&r, "\"service\":\"api\"");
	get_ok("/events", &r);
	expect_body(&r, "\"name\":\"four\",\"service\":\"api\",\"old\":\"none\"");
	cr_assert_eq(call("DELETE", "/services/api/backends/four", NULL, &r), 200, "%s", r.body);
	cr_assert_eq(call("GET", "/services/web/backends/one", NULL, &r), 200, "%s", r.body);
	expect_body(&r, "\"service\":\"web\"");
	healthtest_stop_ok(&slb);
}

/* Runs slb-ctl --admin ADMIN args... and returns its exit code, its output in out. */
static int ctl(char *out, const char *const *args)
{
	const char *argv[16] = { "slb-ctl", "--admin", admin };
	unsigned n = 3;
	struct testproc *p;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	p = testproc_spawn(argv);
	cr_assert_not_null(p, "spawn slb-ctl: %s", strerror(errno));
	cr_assert_eq(testproc_wait(p, IO_MS), 0, "slb-ctl did not finish");
	testproc_output(p, out, OUT_MAX);
	return testproc_exit_code(p);
}

#define CTL(out, ...) ctl(out, (const char *const[]){ __VA_ARGS__, NULL })

/*
 * Operator sees: slb-ctl drain one refused with slb's 409 and its hint; --service web (before
 * or after the command) drains web's; status --service api lists api's backends alone, with
 * the services table.
 */
Test(service_ops, slb_ctl_takes_service)
{
	static char out[OUT_MAX];
	char a0[32], a2[32];

	start_services();
	snprintf(a0, sizeof(a0), "127.0.0.1:%u", be_port[0]);
	snprintf(a2, sizeof(a2), "127.0.0.1:%u", be_port[2]);
	cr_assert_eq(CTL(out, "drain", "one"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "409: ambiguous name 'one'"), "%s", out);
	cr_assert_eq(CTL(out, "--service", "web", "drain", "one"), 0, "%s", out);
	cr_assert(strstr(out, a0) && strstr(out, "draining"), "%s", out);
	expect_state(2, "up");
	cr_assert_eq(CTL(out, "enable", "one", "--service", "web"), 0, "%s", out);
	expect_state(0, "up");
	cr_assert_eq(CTL(out, "weight", "--service", "api", "one", "3"), 0, "%s", out);
	cr_assert_eq(CTL(out, "status", "--service", "api"), 0, "%s", out);
	cr_assert_not_null(strstr(out, a2), "%s", out);
	cr_assert_null(strstr(out, a0), "%s", out);
	cr_assert_not_null(strstr(out, "SERVICE"), "%s", out);
	cr_assert_eq(CTL(out, "--service", "nope", "drain", "one"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "404: unknown service"), "%s", out);
	healthtest_stop_ok(&slb);
}
