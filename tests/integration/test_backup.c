/* Backup backends (issue 23): a backup (--backend ADDR,backup, or REGISTER role=backup) takes
 * traffic only while no other backend of its service is up. Traffic goes to the primary, moves
 * to the backup once the primary is down, and comes back when the primary is up again; /status
 * says which is the backup. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "healthtest.h"
#include "testproc.h"
#include "testwait.h"

#define IO_MS 5000
#define REQS 20

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(backup, .fini = suite_fini, .timeout = 60);

/* slb-backend NAME on port (0: a free one, stored back), listening without heartbeats. */
static struct testproc *backend_on(const char *name, unsigned *port)
{
	const char *argv[] = { "slb-backend", "--listen", "127.0.0.1:{port0}", "--name", name, NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "listening on", .timeout_ms = IO_MS };
	struct testproc *p;

	st.ports[0] = *port;
	p = testproc_start(&st);
	cr_assert_not_null(p, "slb-backend %s did not come up: %s", name, st.why);
	*port = st.ports[0];
	return p;
}

/* REQS requests through slb, each on a fresh connection: how many name answered. */
static unsigned answered_by(unsigned port, const char *name)
{
	static struct testproc_http r;
	char got[32];
	unsigned n = 0;

	for (unsigned i = 0; i < REQS; i++) {
		cr_assert_eq(testproc_http_get(port, "/", &r, IO_MS), 0, "request %u failed", i);
		cr_assert_eq(r.status, 200);
		n += strcmp(faultkit_backend_name(r.body, got, sizeof(got)), name) == 0;
	}
	return n;
}

/* Polls until a request is answered by name (the snapshot that changes the rotation is
 * published within a health tick of the state change). */
static void wait_answered_by(unsigned port, const char *name)
{
	static struct testproc_http r;
	int64_t deadline = testproc_now_ms() + testwait_ms(IO_MS);
	char got[32];

	for (;;) {
		if (testproc_http_get(port, "/", &r, IO_MS) == 0 &&
		    strcmp(faultkit_backend_name(r.body, got, sizeof(got)), name) == 0)
			return;
		cr_assert_lt(testproc_now_ms(), deadline, "%s never answered", name);
		usleep(10000);
	}
}

static void expect_backup_field(unsigned admin, unsigned port, const char *want)
{
	char addr[32], got[16];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	cr_assert_eq(faultkit_status_field(admin, addr, "backup", got, sizeof(got)), 0, "no backup field for %s",
		     addr);
	cr_assert_str_eq(got, want, "%s: backup is %s", addr, got);
}

Test(backup, takes_traffic_only_while_the_primary_is_down)
{
	static struct faultkit_slb slb;
	static char primary_be[40], backup_be[40], addr[32];
	unsigned pport = 0, bport = 0;
	struct testproc *primary = backend_on("primary", &pport);
	const char *args[] = { "--backend", primary_be, "--backend", backup_be, "--check", "tcp", "--check-interval",
			       "100", "--check-timeout", "50", "--rise", "1", "--fall", "1", "--workers", "1", NULL };

	backend_on("backup", &bport);
	snprintf(primary_be, sizeof(primary_be), "127.0.0.1:%u", pport);
	snprintf(backup_be, sizeof(backup_be), "127.0.0.1:%u,backup", bport);
	faultkit_slb_start_ok(&slb, 0, args);
	expect_backup_field(slb.admin, pport, "false");
	expect_backup_field(slb.admin, bport, "true");
	cr_assert_eq(answered_by(slb.port, "primary"), REQS, "the backup took traffic while the primary was up");

	testproc_stop(primary, IO_MS);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", pport);
	cr_assert_geq(faultkit_wait_state(slb.admin, addr, "down", testwait_ms(IO_MS)), 0, "the primary never went down");
	wait_answered_by(slb.port, "backup");
	cr_assert_eq(answered_by(slb.port, "backup"), REQS, "with the primary down, not all went to the backup");

	primary = backend_on("primary", &pport);
	cr_assert_geq(faultkit_wait_state(slb.admin, addr, "up", testwait_ms(IO_MS)), 0, "the primary never came back");
	wait_answered_by(slb.port, "primary");
	cr_assert_eq(answered_by(slb.port, "primary"), REQS, "the backup kept traffic after the primary came back");
	faultkit_slb_stop_ok(&slb, IO_MS);
}

/* A backend that registers with role=backup is one; the static primary keeps the traffic. */
Test(backup, heartbeat_role_backup)
{
	static struct healthtest_slb slb;
	static char primary_be[40], line[96];
	const char *const flags[] = { "--backend", primary_be, NULL };
	unsigned pport = 0, bport = 0;
	int fd;

	backend_on("primary", &pport);
	backend_on("hbbackup", &bport);
	snprintf(primary_be, sizeof(primary_be), "127.0.0.1:%u", pport);
	healthtest_start_flags_ok(&slb, flags, NULL);
	fd = healthtest_session_ok(&slb, NULL);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u name=hbbackup role=backup", bport);
	cr_assert_eq(testproc_write_all(fd, line, strlen(line), IO_MS), 0);
	cr_assert_eq(testproc_write_all(fd, "\n", 1, IO_MS), 0);
	healthtest_expect_state(&slb, bport, "up", NULL);
	expect_backup_field(slb.admin, bport, "true");
	cr_assert_eq(answered_by(slb.listen, "primary"), REQS, "the heartbeat backup took traffic");
	close(fd);
	healthtest_stop_ok(&slb);
}
