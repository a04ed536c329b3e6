/* slbproc: the one way a test starts slb; see slbproc.h. */
#include "slbproc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* See slbproc.h. */
bool slbproc_has_flag(const char *const *flags, const char *flag)
{
	for (; flags && *flags; flags++)
		if (strcmp(*flags, flag) == 0)
			return true;
	return false;
}

/* Appends the NULL-terminated list (may be NULL) to argv[*n], keeping room for what
 * slbproc_start adds after it. Returns 0 or -E2BIG. */
static int args_append(const char **argv, int *n, const char *const *list)
{
	for (; list && *list; list++) {
		if (*n >= SLBPROC_ARGS_MAX - 3)
			return -E2BIG;
		argv[(*n)++] = *list;
	}
	return 0;
}

/* See slbproc.h. */
int slbproc_start(struct slbproc *s, unsigned nofile, const char *const *own, const char *const *flags,
		  const char *const *more)
{
	static char limit[32], path[512];
	const char *argv[SLBPROC_ARGS_MAX];
	struct testproc_start st = { .argv = argv, .n_ports = 3, .ready = "listening on",
				     .timeout_ms = SLBPROC_START_MS };
	const char *const *lists[] = { own, flags, more };
	bool grace_given = false;
	int n = 0;

	memset(s, 0, sizeof(*s));
	if (nofile) {
		snprintf(limit, sizeof(limit), "--nofile=%u:%u", nofile, nofile);
		argv[n++] = "/usr/bin/prlimit";
		argv[n++] = limit;
		argv[n++] = "--";
		argv[n++] = testproc_bin("slb", path, sizeof(path));
	} else {
		argv[n++] = "slb";
	}
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:{port0}";
	argv[n++] = "--admin";
	argv[n++] = "127.0.0.1:{port1}";
	for (unsigned i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (args_append(argv, &n, lists[i])) {
			snprintf(s->why, sizeof(s->why), "more than %d arguments", SLBPROC_ARGS_MAX);
			return -E2BIG;
		}
		grace_given |= slbproc_has_flag(lists[i], "--ready-grace");
	}
	if (!grace_given) {
		argv[n++] = "--ready-grace";
		argv[n++] = "0";
	}
	argv[n] = NULL;
	s->proc = testproc_start(&st);
	if (!s->proc) {
		int err = errno;

		snprintf(s->why, sizeof(s->why), "%s", st.why);
		return -err;
	}
	s->listen = st.ports[0];
	s->admin = st.ports[1];
	s->port2 = st.ports[2];
	return 0;
}

/* See slbproc.h. */
struct testproc *slbproc_start_ok(struct slbproc *s, unsigned nofile, const char *const *own,
				  const char *const *flags, const char *const *more)
{
	int rc = slbproc_start(s, nofile, own, flags, more);

	cr_assert_eq(rc, 0, "slb did not come up: %s: %s", strerror(-rc), s->why);
	return s->proc;
}
