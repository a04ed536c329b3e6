/* Services (issue 21): one slb serving two services on two ports from a config file with
 * '[service NAME]' sections. Every request lands on its own service's backends, under
 * connection-per-request load; a backend that registers by heartbeat with service=api takes
 * only api's traffic; an unknown service is refused; and a service whose backends are all
 * down leaves the other one alone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "healthtest.h"
#include "testproc.h"

#define IO_MS 5000
#define ROUNDS 150 /* requests per service, one connection each */
#define N_STATIC 4

static char conf[64];
static struct healthtest_slb slb;
static const char *const static_names[N_STATIC] = { "web1", "web2", "api1", "api2" };
static struct testproc *static_be[N_STATIC];
static unsigned static_port[N_STATIC];
static unsigned web_port, api_port;

static void suite_fini(void)
{
	testproc_stop_all();
	if (conf[0])
		unlink(conf);
}

TestSuite(services, .fini = suite_fini, .timeout = 120);

/* slb-backend --name name, without heartbeats: it answers "backend NAME". */
static struct testproc *http_backend(const char *name, unsigned *port)
{
	const char *argv[] = { "slb-backend", "--listen", "127.0.0.1:{port0}", "--name", name, NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "listening on", .timeout_ms = IO_MS };
	struct testproc *p = testproc_start(&st);

	cr_assert_not_null(p, "slb-backend %s did not come up: %s", name, st.why);
	*port = st.ports[0];
	return p;
}

static void write_conf(void)
{
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text),
		     "heartbeat-timeout = 30000\n"
		     "[service web]\nlisten = 127.0.0.1:%u\nbackend = 127.0.0.1:%u\nbackend = 127.0.0.1:%u\n"
		     "[service api]\nlisten = 127.0.0.1:%u\nbackend = 127.0.0.1:%u\nbackend = 127.0.0.1:%u\n"
		     "balance = p2c\n",
		     web_port, static_port[0], static_port[1], api_port, static_port[2], static_port[3]);
	cr_assert(n > 0 && (size_t)n < sizeof(text));
	cr_assert_eq(testproc_write_file(conf, sizeof(conf), "/tmp/slb-services-XXXXXX", text), 0, "%s", conf);
}

/* The four static backends, then slb with the two services on ports of their own (picked
 * again when another program took one) beside the default service, which healthtest gives
 * the client port and the heartbeat and admin ports. */
static void start_two_services(void)
{
	const char *const extra[] = { "-c", conf, "--workers", "2", NULL };
	int rc = -EADDRINUSE;

	for (unsigned i = 0; i < N_STATIC; i++)
		static_be[i] = http_backend(static_names[i], &static_port[i]);
	for (int attempt = 0; attempt < 5 && rc == -EADDRINUSE; attempt++) {
		web_port = (unsigned)testproc_free_port();
		api_port = (unsigned)testproc_free_port();
		write_conf();
		rc = healthtest_start(&slb, extra);
		if (rc && strstr(slb.why, "in use"))
			rc = -EADDRINUSE;
	}
	cr_assert_eq(rc, 0, "slb did not start: %s", slb.why);
}

/* One request on a connection of its own to port; returns the answering backend's name in
 * name, or false when no answer came. */
static bool get_name(unsigned port, char *name, size_t len)
{
	static struct testproc_http r;

	if (testproc_http_get(port, "/", &r, IO_MS) != 0 || r.status != 200 || strncmp(r.body, "backend ", 8) != 0)
		return false;
	snprintf(name, len, "%.*s", (int)strcspn(r.body + 8, "\r\n"), r.body + 8);
	return true;
}

/* ROUNDS requests to each service's port, interleaved; counts[k] gets the answers of the
 * backend named names[k], and every answer must come from a backend of the port's service
 * (a name starting with "web" or "api"). */
static void load_both(const char *const *names, unsigned n, unsigned *counts)
{
	char name[64];

	for (unsigned i = 0; i < ROUNDS; i++) {
		cr_assert(get_name(web_port, name, sizeof(name)), "request %u to web got no answer", i);
		cr_assert_eq(strncmp(name, "web", 3), 0, "request %u to web answered by %s", i, name);
		for (unsigned k = 0; k < n; k++)
			counts[k] += strcmp(name, names[k]) == 0;
		cr_assert(get_name(api_port, name, sizeof(name)), "request %u to api got no answer", i);
		cr_assert_eq(strncmp(name, "api", 3), 0, "request %u to api answered by %s", i, name);
		for (unsigned k = 0; k < n; k++)
			counts[k] += strcmp(name, names[k]) == 0;
	}
}

static void expect_service_field(unsigned be_port, const char *service)
{
	char buf[64];

	cr_assert_eq(healthtest_field(slb.admin, be_port, "service", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, service, "backend on port %u", be_port);
}

Test(services, every_request_lands_on_its_services_backends)
{
	static struct testproc_http r;
	unsigned counts[N_STATIC] = { 0 };

	start_two_services();
	load_both(static_names, N_STATIC, counts);
	for (unsigned k = 0; k < N_STATIC; k++)
		cr_assert_gt(counts[k], 0, "%s took no request", static_names[k]);
	cr_assert_eq(counts[0] + counts[1], ROUNDS);
	cr_assert_eq(counts[2] + counts[3], ROUNDS);
	expect_service_field(static_port[0], "web");
	expect_service_field(static_port[3], "api");
	cr_assert_eq(testproc_http_get(slb.admin, "/status?service=api", &r, IO_MS), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, "\"service\":\"api\""), "%s", r.body);
	cr_assert_null(strstr(r.body, "\"service\":\"web\""), "%s", r.body);
	cr_assert_eq(testproc_http_get(slb.admin, "/status?service=nope", &r, IO_MS), 0);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body, "{\"error\":\"unknown service\"}"), "%s", r.body);
	healthtest_stop_ok(&slb);
}

Test(services, heartbeat_backend_takes_only_its_services_traffic)
{
	static const char *const names[] = { "api3", "api1", "web1" };
	unsigned counts[3] = { 0 }, port;
	char lb[32], svc[32];

	start_two_services();
	http_backend("api3", &port);
	snprintf(lb, sizeof(lb), "127.0.0.1:%u", slb.hb);
	snprintf(svc, sizeof(svc), "127.0.0.1:%u", port);
	cr_assert_not_null(testproc_spawn((const char *const[]){ "slb-agent", "--service", svc, "--lb", lb,
								 "--service-name", "api", "--name", "api3", NULL }));
	cr_assert_geq(healthtest_wait_state(slb.admin, port, "up", IO_MS), 0, "api3 never came up");
	expect_service_field(port, "api");
	load_both(names, 3, counts);
	cr_assert_gt(counts[0], 0, "api3 took none of api's requests");
	cr_assert_gt(counts[1], 0);
	cr_assert_gt(counts[2], 0);
	healthtest_stop_ok(&slb);
}

Test(services, register_into_an_unknown_service_is_refused)
{
	char line[96], reply[128];
	int fd;

	start_two_services();
	fd = healthtest_session_ok(&slb, NULL);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u service=nope", slb.listen + 1);
	healthtest_expect_reply(fd, line, "ERR unknown service");
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u service=web", slb.listen + 1);
	cr_assert_gt(healthtest_cmd(fd, line, reply, sizeof(reply)), 0);
	cr_assert_eq(strncmp(reply, "OK registered id=", 17), 0, "%s", reply);
	expect_service_field(slb.listen + 1, "web");
	close(fd);
	healthtest_stop_ok(&slb);
}

Test(services, a_service_with_every_backend_down_leaves_the_other_alone)
{
	unsigned api_ok = 0, web_ok = 0;
	char name[64];

	start_two_services();
	cr_assert_eq(testproc_stop(static_be[0], IO_MS), 0);
	cr_assert_eq(testproc_stop(static_be[1], IO_MS), 0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		web_ok += get_name(web_port, name, sizeof(name));
		cr_assert(get_name(api_port, name, sizeof(name)), "request %u to api got no answer", i);
		cr_assert_eq(strncmp(name, "api", 3), 0, "request %u to api answered by %s", i, name);
		api_ok++;
	}
	cr_assert_eq(web_ok, 0, "web has no backend left, yet answered %u times", web_ok);
	cr_assert_eq(api_ok, ROUNDS);
	healthtest_stop_ok(&slb);
}
