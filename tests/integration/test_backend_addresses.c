/* Which addresses may be a backend, and who owns a static one (issue 9, items 1 and 3):
 *  - slb refuses to start (exit 2, one line naming the reason) with a backend that is one of
 *    its own addresses (listener, wildcard listener, admin, heartbeat port) or no single host
 *    (unspecified, multicast, broadcast);
 *  - a heartbeat REGISTER of such an address gets ERR with the same reason;
 *  - a loop that start-up cannot see (the backend's address becomes this host's afterwards,
 *    in a network namespace the test makes) is cut at the first connection and the backend
 *    marked down "loop to itself", without a descriptor storm; clients get the other backend;
 *  - a heartbeat session may attach to a static backend only with heartbeat=allow, and its
 *    weight and state end with the session. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "healthtest.h"
#include "netns.h"
#include "testproc.h"
#include "testskip.h"

#define IO_MS 5000

static struct netns net;

static void suite_fini(void)
{
	testproc_stop_all(); /* first: nothing may run in the namespace when it goes */
	netns_destroy(&net);
}

TestSuite(backend_addresses, .fini = suite_fini, .timeout = 60);

/* ---- start-up ---- */

struct refusal {
	char args[4][32];
	char why[64];
};

ParameterizedTestParameters(backend_addresses, startup_refuses_own_and_non_host_backends)
{
	static struct refusal cases[] = {
		{ { "--listen", "127.0.0.1:18500", "--backend", "127.0.0.1:18500" }, "address is slb's own listener" },
		{ { "--listen", "*:18500", "--backend", "127.0.0.1:18500" }, "address is slb's own listener" },
		{ { "--listen", "0.0.0.0:18500", "--backend", "127.0.0.5:18500" }, "address is slb's own listener" },
		{ { "--admin", "127.0.0.1:18501", "--backend", "127.0.0.1:18501" },
		  "address is slb's own admin endpoint" },
		{ { "--heartbeat-listen", "127.0.0.1:18502", "--backend", "127.0.0.1:18502" },
		  "address is slb's own heartbeat port" },
		{ { "--listen", "127.0.0.1:18500", "--backend", "0.0.0.0:80" }, "address is unspecified" },
		{ { "--listen", "127.0.0.1:18500", "--backend", "224.0.0.1:80" }, "address is multicast" },
		{ { "--listen", "127.0.0.1:18500", "--backend", "255.255.255.255:80" }, "address is broadcast" },
	};
	return cr_make_param_array(struct refusal, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct refusal *c, backend_addresses, startup_refuses_own_and_non_host_backends)
{
	const char *const argv[] = { "slb", c->args[0], c->args[1], c->args[2], c->args[3], NULL };
	char out[1024];
	char *nl;

	healthtest_expect_exit(argv, 2, out, sizeof(out));
	nl = strchr(out, '\n');
	cr_assert(nl && nl[1] == '\0', "not exactly one line: %s", out);
	cr_assert(strncmp(out, "slb: ", 5) == 0 && strstr(out, c->why), "'%s' lacks '%s'", out, c->why);
}

/* ---- REGISTER ---- */

static struct healthtest_slb slb;

/* Opens a session, sends "REGISTER addr[ args]" and asserts the reply. Returns the fd. */
static int register_expect(const char *addr, const char *args, const char *reply)
{
	char line[128];
	int fd = healthtest_session_ok(&slb, NULL);

	snprintf(line, sizeof(line), "REGISTER %s%s", addr, args);
	healthtest_expect_reply(fd, line, reply);
	return fd;
}

/* A fresh session per refusal: three errors would close a shared one. */
static void expect_register_refused(const char *addr, const char *err)
{
	char reply[128];

	snprintf(reply, sizeof(reply), "ERR %s", err);
	close(register_expect(addr, "", reply));
}

Test(backend_addresses, register_refuses_own_and_non_host_addresses)
{
	char addr[3][32];

	healthtest_start_ok(&slb, NULL);
	snprintf(addr[0], sizeof(addr[0]), "127.0.0.1:%u", slb.listen);
	snprintf(addr[1], sizeof(addr[1]), "127.0.0.1:%u", slb.admin);
	snprintf(addr[2], sizeof(addr[2]), "127.0.0.1:%u", slb.hb);
	expect_register_refused(addr[0], "address is slb's own listener");
	expect_register_refused(addr[1], "address is slb's own admin endpoint");
	expect_register_refused(addr[2], "address is slb's own heartbeat port");
	expect_register_refused("0.0.0.0:80", "address is unspecified, not a single host");
	expect_register_refused("224.0.0.1:80", "address is multicast, not a single host");
	expect_register_refused("255.255.255.255:80", "address is broadcast, not a single host");
	cr_assert_eq(faultkit_status_field(slb.admin, addr[0], "state", addr[1], sizeof(addr[1])), -ENOENT,
		     "a refused address never enters the table");
	healthtest_stop_ok(&slb);
}

/* ---- a loop start-up cannot see ---- */

#define LOOP_ADDR "10.199.0.77" /* assigned to nothing when slb starts */

/*
 * slb listens on *:P with two backends: a real one, and LOOP_ADDR:P, which is nobody's at
 * start-up; then the test assigns LOOP_ADDR to lo, so that backend is slb's own listener.
 * Client sees: every request answered by the real backend.
 * slb logs: "backend 10.199.0.77:P is slb's own listener: loop to itself" (rate-limited) and
 *   "backend 10.199.0.77:P down: loop to itself"; its descriptors stay few.
 */
Test(backend_addresses, runtime_loop_is_cut_and_marked_down)
{
	static char why[1024];
	char listen[32], loop_be[32], real_be[32], admin[32], reason[64];
	const char *argv[16] = { "slb", "--listen", listen, "--admin", admin, "--workers", "1", "--backend", loop_be,
				 "--backend", real_be, NULL };
	unsigned real_port, ok;
	struct testproc *p;
	int rc, lport, aport;

	rc = netns_create(&net, why, sizeof(why));
	if (rc)
		testskip(TESTSKIP_NETNS, "cannot make network namespaces: %s", why);
	cr_assert_not_null(faultkit_backend_start("real", "127.0.0.1", &real_port), "slb-backend: %s", strerror(errno));
	lport = testproc_free_port();
	aport = testproc_free_port();
	cr_assert(lport > 0 && aport > 0 && lport != aport);
	snprintf(listen, sizeof(listen), "*:%d", lport);
	snprintf(admin, sizeof(admin), "127.0.0.1:%d", aport);
	snprintf(loop_be, sizeof(loop_be), LOOP_ADDR ":%d", lport);
	snprintf(real_be, sizeof(real_be), "127.0.0.1:%u", real_port);
	p = testproc_spawn(argv);
	cr_assert_not_null(p);
	cr_assert_eq(testproc_wait_output(p, "listening on", IO_MS), 0, "slb did not start");
	rc = netns_sh(why, sizeof(why), "ip addr add " LOOP_ADDR "/32 dev lo");
	cr_assert_eq(rc, 0, "ip addr add: %s", why);

	ok = faultkit_parallel_gets((unsigned)lport, "/", 20, 2, IO_MS, why, sizeof(why));
	cr_expect_eq(ok, 20, "%u of 20 requests answered: %s", ok, why);
	cr_assert_geq(faultkit_wait_state(aport, loop_be, "down", IO_MS), 0, "the loop backend never went down");
	cr_assert_eq(faultkit_status_field(aport, loop_be, "reason", reason, sizeof(reason)), 0);
	cr_expect_str_eq(reason, "loop to itself");
	cr_log_info("loop: %lld connections accepted for 20 requests, %d descriptors open, %u log lines",
		    faultkit_metric(aport, "slb_worker_accepted_total"), faultkit_fd_count(p->pid),
		    faultkit_count_lines(p, "loop to itself"));
	cr_expect_lt(faultkit_fd_count(p->pid), 200, "descriptor storm: %d open", faultkit_fd_count(p->pid));
	cr_expect_lt(faultkit_metric(aport, "slb_worker_accepted_total"), 2000, "accepted %lld connections for 20",
		     faultkit_metric(aport, "slb_worker_accepted_total"));
	cr_expect_geq(faultkit_count_lines(p, "loop to itself"), 2, "the cut and the transition are logged");
	cr_expect_leq(faultkit_count_lines(p, "is slb's own listener: loop to itself"), 10, "log not rate-limited");
	rc = faultkit_stop_clean(p, IO_MS, why, sizeof(why));
	cr_assert_eq(rc, 0, "%s", why);
}

/* ---- who owns a static backend ---- */

/* slb with one static backend on a port nobody listens on (only /status is looked at); its
 * "127.0.0.1:PORT" goes into addr (32 bytes). */
static unsigned start_with_static(const char *options, char *addr)
{
	static char be[64];
	const char *extra[] = { "--backend", be, NULL };
	int port = testproc_free_port();

	cr_assert_gt(port, 0);
	snprintf(addr, 32, "127.0.0.1:%d", port);
	snprintf(be, sizeof(be), "%s%s", addr, options);
	healthtest_start_ok(&slb, extra);
	return (unsigned)port;
}

static void expect_field(unsigned port, const char *field, const char *want)
{
	char got[64];

	cr_assert_eq(healthtest_field(slb.admin, port, field, got, sizeof(got)), 0);
	cr_assert_str_eq(got, want, "%s of 127.0.0.1:%u", field, port);
}

Test(backend_addresses, heartbeat_cannot_take_over_a_static_backend)
{
	char addr[32];
	unsigned port = start_with_static(",weight=2", addr);
	int fd = register_expect(addr, " state=drain weight=3", "ERR static backend");

	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "the session is closed");
	close(fd);
	expect_field(port, "state", "up");
	expect_field(port, "weight", "2");
	expect_field(port, "reason", "static backend");
	healthtest_stop_ok(&slb);
}

Test(backend_addresses, allowed_heartbeat_lasts_only_as_long_as_its_session)
{
	char addr[32];
	unsigned port = start_with_static(",weight=2,heartbeat=allow", addr);
	int fd = register_expect(addr, " state=drain weight=3", "OK registered id=1 interval=1000 timeout=3000");

	expect_field(port, "state", "draining");
	expect_field(port, "weight", "3");
	healthtest_expect_reply(fd, "BYE", "OK bye");
	/* at once: the BYE and its effect are one loop turn of the health thread */
	expect_field(port, "state", "up");
	expect_field(port, "weight", "2");
	expect_field(port, "reason", "heartbeat bye: back to its --backend settings");
	close(fd);

	fd = register_expect(addr, " state=down weight=5", "OK registered id=1 interval=1000 timeout=3000");
	expect_field(port, "state", "down");
	close(fd); /* the peer vanishes without BYE */
	cr_assert_geq(healthtest_wait_state(slb.admin, port, "up", IO_MS), 0);
	expect_field(port, "weight", "2");
	expect_field(port, "reason", "heartbeat connection closed: back to its --backend settings");
	healthtest_stop_ok(&slb);
}
