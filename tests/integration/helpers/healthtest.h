/* healthtest: what the health integration tests share: slb started with its heartbeat and
 * admin ports on loopback, heartbeat sessions driven line by line, and backend states read
 * back from GET /status (through faultkit). Built on testproc; every wait has a timeout. The
 * *_ok and expect_* helpers assert with Criterion, for use inside a Test. */
#ifndef SLB_HEALTHTEST_H
#define SLB_HEALTHTEST_H

#include <stddef.h>

#include "testproc.h"

struct healthtest_slb {
	struct testproc *proc;
	unsigned listen;  /* client port */
	unsigned hb;      /* --heartbeat-listen port */
	unsigned admin;   /* --admin port */
	char why[TESTPROC_WHY_MAX]; /* after a failed start: the reason and slb's last lines */
};

/* Starts slb through slbproc_start (--listen and --admin on free ports, --ready-grace 0, ready at
 * "listening on", retried on fresh ports when slb lost one to another program) with
 * --heartbeat-listen on its third port and one worker (unless extra says --workers), then extra
 * (NULL-terminated, may be NULL). Returns 0, or -errno with the reason and slb's last lines in
 * s->why. */
int healthtest_start(struct healthtest_slb *s, const char *const *extra);

/* The same with a suite's fixed flags and a test's own (either NULL), as two lists. */
int healthtest_start_flags(struct healthtest_slb *s, const char *const *flags, const char *const *more);

/* SIGTERM, then checks slb exited 0 and printed no sanitizer report nor error line. Returns 0,
 * or -EPROTO with the reason and the output's tail in why. */
int healthtest_stop(struct healthtest_slb *s, char *why, size_t len);

/* Copies the JSON value of field (e.g. "state", "reason") of the backend 127.0.0.1:be_port in
 * GET /status into buf, without quotes. Returns 0, -ENOENT (no such backend), or -errno. */
int healthtest_field(unsigned admin_port, unsigned be_port, const char *field, char *buf, size_t len);

/* Polls /status every 2 ms until the backend's state is state. Returns the milliseconds it
 * took, or -ETIMEDOUT. */
int healthtest_wait_state(unsigned admin_port, unsigned be_port, const char *state, int timeout_ms);

/* Connects to the heartbeat port and reads the HELLO line into hello. Returns the fd or -errno. */
int healthtest_session(unsigned hb_port, char *hello, size_t len);

/* Sends line plus "\n" and reads one reply line into reply. Returns its length or -errno. */
int healthtest_cmd(int fd, const char *line, char *reply, size_t len);

/* ---- for the tests: these fail the running Criterion test instead of returning errors ---- */

/* healthtest_start, asserting that slb came up. */
void healthtest_start_ok(struct healthtest_slb *s, const char *const *extra);

/* healthtest_start_flags, asserting that slb came up. */
void healthtest_start_flags_ok(struct healthtest_slb *s, const char *const *flags, const char *const *more);

/* healthtest_stop, asserting a clean exit (the reason and slb's output tail in the message). */
void healthtest_stop_ok(struct healthtest_slb *s);

/* Waits for backend 127.0.0.1:be_port to be in state and, unless reason is NULL, asserts its
 * reason in /status. */
void healthtest_expect_state(const struct healthtest_slb *s, unsigned be_port, const char *state,
			     const char *reason);

/* Opens a heartbeat session and asserts its HELLO line is "HELLO slb/1 nonce=" and a nonce of
 * HBAUTH_NONCE_HEX characters, which it copies into nonce (HBAUTH_NONCE_HEX + 1 bytes) unless
 * nonce is NULL. Returns the fd. */
int healthtest_session_ok(const struct healthtest_slb *s, char *nonce);

/* Sends line and asserts that the reply line is reply. */
void healthtest_expect_reply(int fd, const char *line, const char *reply);

/* Runs argv (a command that must refuse to start), asserts that it exited with code within 5 s
 * and copies its output into out. */
void healthtest_expect_exit(const char *const argv[], int code, char *out, size_t len);

/* healthtest_expect_exit with code 1. */
void healthtest_expect_exit_1(const char *const argv[], char *out, size_t len);

/* Starts slb-backend --name name on a free port of 127.0.0.1, heartbeating to s (signed with
 * key_file unless it is NULL), and waits for its "listening on" line (retrying on fresh ports
 * when one was taken); stores the port and returns the process. Asserts that it came up. */
struct testproc *healthtest_backend(const struct healthtest_slb *s, const char *name, const char *key_file,
				    unsigned *port);

#endif
