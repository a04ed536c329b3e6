/* healthtest: what the health integration tests share: slb started with its heartbeat and
 * admin ports on loopback, heartbeat sessions driven line by line, and backend states read
 * back from GET /status. Built on testproc; every wait has a timeout. */
#ifndef SLB_HEALTHTEST_H
#define SLB_HEALTHTEST_H

#include <stddef.h>

#include "testproc.h"

struct healthtest_slb {
	struct testproc *proc;
	unsigned listen;  /* client port */
	unsigned hb;      /* --heartbeat-listen port */
	unsigned admin;   /* --admin port */
};

/* Starts slb with one worker, --heartbeat-listen and --admin on free ports, then extra
 * (NULL-terminated, may be NULL), and waits for "listening on". Returns 0 or -errno. */
int healthtest_start(struct healthtest_slb *s, const char *const *extra);

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

#endif
