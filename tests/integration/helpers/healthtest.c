/* healthtest: helpers for the health integration tests; see healthtest.h. */
#include "healthtest.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "slbproc.h"
#include "slb/common/hbauth.h"

#define HEALTHTEST_IO_MS 5000

/* See healthtest.h. */
int healthtest_start_flags(struct healthtest_slb *s, const char *const *flags, const char *const *more)
{
	static const char *const one_worker[] = { "--heartbeat-listen", "127.0.0.1:{port2}", "--workers", "1", NULL };
	static const char *const hb_only[] = { "--heartbeat-listen", "127.0.0.1:{port2}", NULL };
	/* --workers given twice is an error: the test's own wins */
	bool workers_given = slbproc_has_flag(flags, "--workers") || slbproc_has_flag(more, "--workers");
	struct slbproc sp;
	int rc = slbproc_start(&sp, 0, workers_given ? hb_only : one_worker, flags, more);

	s->proc = sp.proc;
	s->listen = sp.listen;
	s->hb = sp.port2;
	s->admin = sp.admin;
	snprintf(s->why, sizeof(s->why), "%s", sp.why);
	return rc;
}

/* See healthtest.h. */
int healthtest_start(struct healthtest_slb *s, const char *const *extra)
{
	return healthtest_start_flags(s, extra, NULL);
}

/* See healthtest.h. */
int healthtest_stop(struct healthtest_slb *s, char *why, size_t len)
{
	return faultkit_stop_clean(s->proc, HEALTHTEST_IO_MS, why, len);
}

static void backend_addr(char *buf, size_t len, unsigned be_port)
{
	snprintf(buf, len, "127.0.0.1:%u", be_port);
}

/* See healthtest.h. */
int healthtest_field(unsigned admin_port, unsigned be_port, const char *field, char *buf, size_t len)
{
	char addr[32];

	backend_addr(addr, sizeof(addr), be_port);
	return faultkit_status_field(admin_port, addr, field, buf, len);
}

/* See healthtest.h. */
int healthtest_wait_state(unsigned admin_port, unsigned be_port, const char *state, int timeout_ms)
{
	char addr[32];

	backend_addr(addr, sizeof(addr), be_port);
	return faultkit_wait_state_every(admin_port, addr, state, timeout_ms, 2);
}

/* See healthtest.h. */
int healthtest_session(unsigned hb_port, char *hello, size_t len)
{
	int fd = testproc_connect(hb_port, HEALTHTEST_IO_MS), rc;

	if (fd < 0)
		return fd;
	rc = testproc_read_line(fd, hello, len, HEALTHTEST_IO_MS);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* See healthtest.h. */
int healthtest_cmd(int fd, const char *line, char *reply, size_t len)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EMSGSIZE;
	rc = testproc_write_all(fd, buf, (size_t)n, HEALTHTEST_IO_MS);
	if (rc)
		return rc;
	return testproc_read_line(fd, reply, len, HEALTHTEST_IO_MS);
}

/* ---- for the tests ---- */

/* See healthtest.h. */
void healthtest_start_ok(struct healthtest_slb *s, const char *const *extra)
{
	healthtest_start_flags_ok(s, extra, NULL);
}

/* See healthtest.h. */
void healthtest_start_flags_ok(struct healthtest_slb *s, const char *const *flags, const char *const *more)
{
	int rc = healthtest_start_flags(s, flags, more);

	cr_assert_eq(rc, 0, "slb did not come up: %s: %s", strerror(-rc), s->why);
}

/* See healthtest.h. */
void healthtest_stop_ok(struct healthtest_slb *s)
{
	static char why[2048];

	cr_assert_eq(healthtest_stop(s, why, sizeof(why)), 0, "%s", why);
}

/* See healthtest.h. */
void healthtest_expect_state(const struct healthtest_slb *s, unsigned be_port, const char *state,
			     const char *reason)
{
	char got[128];
	int ms = healthtest_wait_state(s->admin, be_port, state, HEALTHTEST_IO_MS);

	cr_assert_geq(ms, 0, "backend %u never became %s", be_port, state);
	if (reason) {
		cr_assert_eq(healthtest_field(s->admin, be_port, "reason", got, sizeof(got)), 0);
		cr_assert_str_eq(got, reason);
	}
}

/* See healthtest.h. */
int healthtest_session_ok(const struct healthtest_slb *s, char *nonce)
{
	char hello[128];
	int fd = healthtest_session(s->hb, hello, sizeof(hello));

	cr_assert_geq(fd, 0, "heartbeat connect: %s", strerror(-fd));
	cr_assert_eq(strncmp(hello, "HELLO slb/1 nonce=", 18), 0, "hello: %s", hello);
	cr_assert_eq(strlen(hello + 18), HBAUTH_NONCE_HEX, "hello: %s", hello);
	if (nonce)
		memcpy(nonce, hello + 18, HBAUTH_NONCE_HEX + 1);
	return fd;
}

/* See healthtest.h. */
void healthtest_expect_reply(int fd, const char *line, const char *reply)
{
	char got[256];
	int rc = healthtest_cmd(fd, line, got, sizeof(got));

	cr_assert_geq(rc, 0, "%s: no reply (%s)", line, strerror(-rc));
	cr_assert_str_eq(got, reply, "after %s", line);
}

/* See healthtest.h. */
void healthtest_expect_exit(const char *const argv[], int expected, char *out, size_t len)
{
	int code = testproc_run(argv, HEALTHTEST_IO_MS, out, len);

	cr_assert_eq(code, expected, "%s exited %d, not %d: %s", argv[0], code, expected, out);
}

/* See healthtest.h. */
void healthtest_expect_exit_1(const char *const argv[], char *out, size_t len)
{
	healthtest_expect_exit(argv, 1, out, len);
}

/* See healthtest.h. */
struct testproc *healthtest_backend(const struct healthtest_slb *s, const char *name, const char *key_file,
				    unsigned *port)
{
	char hb[32];
	const char *argv[12] = { "slb-backend", "--listen", "127.0.0.1:{port0}", "--name", name, "--heartbeat", hb };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "listening on",
				     .timeout_ms = HEALTHTEST_IO_MS };
	struct testproc *p;

	snprintf(hb, sizeof(hb), "127.0.0.1:%u", s->hb);
	if (key_file) {
		argv[7] = "--heartbeat-key-file";
		argv[8] = key_file;
	}
	p = testproc_start(&st);
	cr_assert_not_null(p, "slb-backend %s did not come up: %s", name, st.why);
	*port = st.ports[0];
	return p;
}
