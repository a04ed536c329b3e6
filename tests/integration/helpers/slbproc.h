/* slbproc: the one way an integration test starts slb. It gets --listen and --admin on free
 * ports of 127.0.0.1 and a third free port its flags may use as "{port2}" (e.g. for
 * --heartbeat-listen), then the test's flags, then --ready-grace 0 unless the flags give one
 * (no route announcer watches a test's /ready, so SIGTERM drains at once). It is ready at its
 * "listening on" line, not at a probe connection, which slb would relay to a backend; when
 * another program takes a picked port first, slb is started again on fresh ports
 * (testproc_start). faultkit_slb_start and healthtest_start are layers over it that add their
 * own flags and name the ports for their suites. */
#ifndef SLB_TEST_SLBPROC_H
#define SLB_TEST_SLBPROC_H

#include <stdbool.h>

#include "testproc.h"

#define SLBPROC_ARGS_MAX 96  /* slb's whole command line, prlimit and the added flags included */
#define SLBPROC_START_MS 10000

struct slbproc {
	struct testproc *proc;      /* slb, once started */
	unsigned listen;            /* --listen port ("{port0}") */
	unsigned admin;             /* --admin port ("{port1}") */
	unsigned port2;             /* the third free port, what "{port2}" in the flags stood for */
	char why[TESTPROC_WHY_MAX]; /* after a failed start: the reason and slb's last lines */
};

/* Starts slb as above with the flags of three NULL-terminated lists, in order, any of them
 * NULL: a helper's own (healthtest's heartbeat port), a suite's fixed ones and a test's, so
 * that nobody copies one list into another. A flag in an earlier list that a later one gives
 * again is the caller's to avoid (slb refuses most flags given twice). nofile > 0
 * runs it under `prlimit --nofile=N:N`, so slb cannot raise its own limit. Returns 0, or
 * -errno with the reason and slb's last lines in s->why: -E2BIG (more than SLBPROC_ARGS_MAX
 * arguments), -ECHILD (slb exited first), -ETIMEDOUT, -EADDRINUSE (every attempt lost a
 * port). */
int slbproc_start(struct slbproc *s, unsigned nofile, const char *const *own, const char *const *flags,
		  const char *const *more);

/* slbproc_start, asserting that slb came up (the reason and slb's last lines in the message).
 * Returns s->proc. */
struct testproc *slbproc_start_ok(struct slbproc *s, unsigned nofile, const char *const *own,
				  const char *const *flags, const char *const *more);

/* Whether the NULL-terminated list flags (may be NULL) holds flag. */
bool slbproc_has_flag(const char *const *flags, const char *flag);

#endif
