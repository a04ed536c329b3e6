/* Flags as an operator meets them, with real slb processes on loopback: every --listen address
 * serves, a single-valued flag given twice (and other bad usage) is refused with exit 2 and one
 * line naming the flag, and more workers than CPUs start with one warning. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "echo_server.h"
#include "testproc.h"

#define IO_MS 10000
#define MAX_ARGS 24

static struct echo_server echo;

static void suite_fini(void)
{
	testproc_stop_all();
	echo_server_stop(&echo);
}


TestSuite(flags, .fini = suite_fini, .timeout = 60);

static unsigned free_port_ok(void)
{
	int p = testproc_free_port();

	cr_assert_gt(p, 0, "no free port: %s", strerror(-p));
	return (unsigned)p;
}

/* A round trip through slb to the echo backend on one connection. */
static void expect_echo(int fd, const char *where)
{
	char msg[64], back[64];

	cr_assert_geq(fd, 0, "connect to %s: %s", where, strerror(-fd));
	snprintf(msg, sizeof(msg), "hello through %s", where);
	cr_assert_eq(testproc_write_all(fd, msg, strlen(msg), IO_MS), 0);
	cr_assert_eq(testproc_read_full(fd, back, strlen(msg), IO_MS), (ssize_t)strlen(msg), "no echo via %s", where);
	cr_assert_eq(memcmp(msg, back, strlen(msg)), 0);
	close(fd);
}

/* Starts slb on n fresh ports ("{port0}".. in argv), again on new ones when another program
 * took one first (tests run two at a time); ports[] gets the ones it came up on. */
static struct testproc *start_slb_ok(const char *const *argv, unsigned n, unsigned *ports)
{
	struct testproc_start st = { .argv = argv, .n_ports = n, .ready = "listening on", .timeout_ms = IO_MS };
	struct testproc *slb = testproc_start(&st);

	cr_assert_not_null(slb, "slb did not come up: %s", st.why);
	memcpy(ports, st.ports, n * sizeof(*ports));
	return slb;
}

Test(flags, every_listen_address_serves)
{
	char a1[32], a2[32], a6[48], be[32], out[4096];
	const char *argv[MAX_ARGS] = { "slb", "--workers", "2", "--listen", "127.0.0.1:{port0}", "--listen",
				       "127.0.0.1:{port1}", "--backend", be };
	int p6 = testproc_free_port6(), n = 9;
	unsigned ports[3] = { 0 };
	struct testproc *slb;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	snprintf(be, sizeof(be), "127.0.0.1:%u", echo.port);
	if (p6 > 0) {
		argv[n++] = "--listen";
		argv[n++] = "[::1]:{port2}";
	} else {
		cr_log_warn("no IPv6 loopback here (%s): [::1] is not tested", strerror(-p6));
	}
	argv[n] = NULL;
	slb = start_slb_ok(argv, p6 > 0 ? 3 : 2, ports);
	snprintf(a1, sizeof(a1), "127.0.0.1:%u", ports[0]);
	snprintf(a2, sizeof(a2), "127.0.0.1:%u", ports[1]);
	snprintf(a6, sizeof(a6), "[::1]:%u", ports[2]);
	testproc_output(slb, out, sizeof(out));
	cr_assert(strstr(out, a1) && strstr(out, a2), "start line does not name both addresses:\n%s", out);
	/* several connections each, so that both workers' listeners are likely to take some */
	for (int i = 0; i < 4; i++) {
		expect_echo(testproc_connect(ports[0], IO_MS), a1);
		expect_echo(testproc_connect(ports[1], IO_MS), a2);
		if (p6 > 0)
			expect_echo(testproc_connect6(ports[2], IO_MS), a6);
	}
	cr_assert_eq(testproc_stop(slb, IO_MS), 0, "slb exit code %d", testproc_exit_code(slb));
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct bad_usage {
	char args[4][32];
	char why[96];
};

ParameterizedTestParameters(flags, bad_usage_exits_2_naming_the_flag)
{
	static struct bad_usage params[] = {
		{ { "--workers", "2", "--workers", "3" }, "--workers given twice" },
		{ { "--admin", "127.0.0.1:7001", "--admin", "127.0.0.1:7002" }, "--admin given twice" },
		{ { "--balance", "leastconn", "--balance", "roundrobin" }, "--balance given twice" },
		{ { "--relay", "copy", "--relay", "copy" }, "--relay given twice" },
		{ { "--pin", "--no-pin" }, "--no-pin contradicts --pin" },
		{ { "--listen", "127.0.0.1:7003", "--listen", "127.0.0.1:7003" }, "address given twice" },
		{ { "--check-timeout", "2000" }, "--check-timeout (2000 ms) must be shorter than --check-interval" },
		{ { "--heartbeat-interval", "500" }, "--heartbeat-interval needs --heartbeat-listen" },
		{ { "--heartbeat-max-backends", "5" }, "--heartbeat-max-backends needs --heartbeat-listen" },
		{ { "--user", "no-such-user-slb" }, "--user no-such-user-slb: no such user" },
		{ { "-listen", "127.0.0.1:7004" }, "unknown flag '-listen': long flags start with two dashes (--listen)" },
	};
	return cr_make_param_array(struct bad_usage, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct bad_usage *p, flags, bad_usage_exits_2_naming_the_flag)
{
	char listen[32], out[4096];
	const char *argv[MAX_ARGS] = { "slb", "--backend", "127.0.0.1:7000", "--listen", listen };
	int n = 5, code;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", free_port_ok());
	for (int i = 0; i < 4 && p->args[i][0]; i++)
		argv[n++] = p->args[i];
	argv[n] = NULL;
	code = testproc_run(argv, IO_MS, out, sizeof(out));
	cr_assert_eq(code, 2, "exit code %d for %s %s: %s", code, p->args[0], p->args[1], out);
	cr_assert(strstr(out, p->why), "error lacks '%s': %s", p->why, out);
	cr_assert_eq(strncmp(out, "slb: ", 5), 0, "%s", out);
	cr_assert_eq(strchr(out, '\n') - out + 1, (long)strlen(out), "more than one line: %s", out);
}

Test(flags, more_workers_than_cpus_start_with_one_warning)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char listen[32], be[32], workers[24], out[8192];
	const char *argv[] = { "slb", "--listen", "127.0.0.1:{port0}", "--backend", be, "--workers", workers, NULL };
	unsigned port;
	struct testproc *slb;
	const char *hit;

	cr_assert_gt(cpus, 0);
	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	snprintf(be, sizeof(be), "127.0.0.1:%u", echo.port);
	snprintf(workers, sizeof(workers), "%ld", cpus + 1);
	slb = start_slb_ok(argv, 1, &port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	expect_echo(testproc_connect(port, IO_MS), listen);
	testproc_output(slb, out, sizeof(out));
	hit = strstr(out, "more than the");
	cr_assert_not_null(hit, "no warning about workers sharing CPUs:\n%s", out);
	cr_assert_null(strstr(hit + 1, "more than the"), "warned more than once:\n%s", out);
	cr_assert(strstr(out, "warn"), "not a warning:\n%s", out);
	cr_assert_eq(testproc_stop(slb, IO_MS), 0, "slb exit code %d", testproc_exit_code(slb));
}
