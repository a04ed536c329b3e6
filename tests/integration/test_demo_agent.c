/* slb-agent as a black box on loopback, against a fake heartbeat port: it registers the
 * service, reports state=up while the local check passes and state=down once it fails. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakehb.h"
#include "testproc.h"

#define T_MS 5000

TestSuite(demo_agent, .fini = testproc_stop_all, .timeout = 60);

static struct testproc *start_agent(unsigned service_port, unsigned hb_port, const char *check)
{
	char svc[32], lb[32];
	const char *argv[] = { "slb-agent", "--service", svc, "--lb", lb, "--check", check,
			       "--interval", "50", "--name", "side", NULL };
	struct testproc *p;

	snprintf(svc, sizeof(svc), "127.0.0.1:%u", service_port);
	snprintf(lb, sizeof(lb), "127.0.0.1:%u", hb_port);
	p = testproc_spawn(argv);
	cr_assert_not_null(p, "spawn slb-agent: %s", strerror(errno));
	return p;
}

/* Reads heartbeats until one says state=want. Returns how many it read, or fails. */
static int wait_state(int fd, const char *want)
{
	int64_t deadline = testproc_now_ms() + T_MS;
	char line[512], v[32];

	for (int n = 1; testproc_now_ms() < deadline; n++) {
		int rc = fakehb_read_line(fd, 50, line, sizeof(line), T_MS);

		cr_assert_geq(rc, 0, "reading heartbeats: %s", strerror(-rc));
		cr_assert_eq(strncmp(line, "HEARTBEAT ", 10), 0, "got: %s", line);
		if (strcmp(fakehb_value(line, "state", v, sizeof(v)) ?: "", want) == 0)
			return n;
	}
	cr_assert_fail("no HEARTBEAT state=%s", want);
	return 0;
}

Test(demo_agent, tcp_check_reports_up_then_down_once_the_service_closes)
{
	char reg[512], v[64], want[64];
	unsigned svc_port, hb_port;
	int svc_fd, lfd, fd;

	svc_fd = testproc_listen(&svc_port);
	lfd = testproc_listen(&hb_port);
	cr_assert(svc_fd >= 0 && lfd >= 0);
	start_agent(svc_port, hb_port, "tcp");
	fd = fakehb_accept_register(lfd, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0, "no registration: %s", strerror(-fd));
	snprintf(want, sizeof(want), "REGISTER 127.0.0.1:%u ", svc_port);
	cr_expect_eq(strncmp(reg, want, strlen(want)), 0, "got: %s", reg);
	cr_expect_str_eq(fakehb_value(reg, "name", v, sizeof(v)) ?: "", "side");
	cr_expect_str_eq(fakehb_value(reg, "state", v, sizeof(v)) ?: "", "up");
	cr_expect_eq(wait_state(fd, "up"), 1, "the first heartbeat already says up");
	close(svc_fd);
	wait_state(fd, "down");
	close(fd);
	close(lfd);
}

Test(demo_agent, registers_down_when_the_service_is_down_from_the_start)
{
	char reg[512], v[64];
	unsigned svc_port, hb_port;
	int svc_fd, lfd, fd;

	/* A port that was listening a moment ago and is closed now: connects are refused. */
	svc_fd = testproc_listen(&svc_port);
	cr_assert_geq(svc_fd, 0);
	close(svc_fd);
	lfd = testproc_listen(&hb_port);
	cr_assert_geq(lfd, 0);
	start_agent(svc_port, hb_port, "tcp");
	fd = fakehb_accept_register(lfd, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0);
	cr_expect_str_eq(fakehb_value(reg, "state", v, sizeof(v)) ?: "", "down");
	wait_state(fd, "down");
	close(fd);
	close(lfd);
}

Test(demo_agent, http_check_follows_the_service_health)
{
	const char *argv[] = { "slb-backend", "--listen", "127.0.0.1:{port0}", "--name", "svc", NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .timeout_ms = T_MS };
	struct testproc *backend = testproc_start(&st);
	unsigned hb_port, port = st.ports[0];
	char reg[512];
	int lfd, fd;

	cr_assert_not_null(backend, "slb-backend did not come up: %s", st.why);
	lfd = testproc_listen(&hb_port);
	cr_assert_geq(lfd, 0);
	start_agent((unsigned)port, hb_port, "http:/health");
	fd = fakehb_accept_register(lfd, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0);
	wait_state(fd, "up");
	cr_assert_eq(testproc_signal(backend, SIGUSR1), 0);
	wait_state(fd, "down");
	cr_assert_eq(testproc_signal(backend, SIGUSR1), 0);
	wait_state(fd, "up");
	close(fd);
	close(lfd);
}

Test(demo_agent, keeps_trying_until_slb_listens)
{
	char reg[512];
	unsigned svc_port, hb_port;
	struct testproc *agent;
	int svc_fd, lfd, fd;

	svc_fd = testproc_listen(&svc_port);
	lfd = testproc_bind(&hb_port); /* bound, not listening: the agent's connects are refused */
	cr_assert(svc_fd >= 0 && lfd >= 0);
	agent = start_agent(svc_port, hb_port, "tcp");
	/* the first refused connect is logged; the agent is then in its backoff */
	cr_assert_eq(testproc_wait_output(agent, "reconnecting from", T_MS), 0, "slb-agent did not report a refusal");
	cr_assert_eq(listen(lfd, 16), 0, "listen: %s", strerror(errno));
	fd = fakehb_accept_register(lfd, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert_geq(fd, 0, "no registration once slb is up: %s", strerror(-fd));
	close(fd);
	close(lfd);
	close(svc_fd);
}

Test(demo_agent, bad_flags_exit_2_with_one_line)
{
	static const char *const bad[][8] = {
		{ "slb-agent", "--service", "127.0.0.1:1", "--lb", "127.0.0.1:2", "--check", "udp",
		  NULL },
		{ "slb-agent", "--service", "127.0.0.1:1", NULL },
		{ "slb-agent", "--whatever", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct testproc *p = testproc_spawn(bad[i]);
		char out[1024];

		cr_assert_not_null(p);
		cr_assert_eq(testproc_wait(p, T_MS), 0);
		cr_expect_eq(testproc_exit_code(p), 2, "case %zu", i);
		testproc_output(p, out, sizeof(out));
		cr_expect(out[0] && strchr(out, '\n') == out + strlen(out) - 1, "one line: %s",
			  out);
	}
}

/* --lb with two instances: each gets its own registration and heartbeats, and a failing
 * check reaches both at once. */
Test(demo_agent, registers_with_every_instance_and_reports_to_each)
{
	char svc[32], lbs[64], reg[512];
	const char *argv[] = { "slb-agent", "--service", svc, "--lb", lbs, "--check", "tcp", "--interval", "50", NULL };
	unsigned svc_port, p1, p2;
	int svc_fd = testproc_listen(&svc_port), l1 = testproc_listen(&p1), l2 = testproc_listen(&p2), f1, f2;

	cr_assert(svc_fd >= 0 && l1 >= 0 && l2 >= 0);
	snprintf(svc, sizeof(svc), "127.0.0.1:%u", svc_port);
	snprintf(lbs, sizeof(lbs), "127.0.0.1:%u,127.0.0.1:%u", p1, p2);
	cr_assert_not_null(testproc_spawn(argv));
	f1 = fakehb_accept_register(l1, 1, 50, 200, reg, sizeof(reg), T_MS);
	f2 = fakehb_accept_register(l2, 1, 50, 200, reg, sizeof(reg), T_MS);
	cr_assert(f1 >= 0 && f2 >= 0, "registrations: %d %d", f1, f2);
	wait_state(f1, "up");
	wait_state(f2, "up");
	close(svc_fd);
	wait_state(f1, "down");
	wait_state(f2, "down");
	close(f1);
	close(f2);
	close(l1);
	close(l2);
}
