/* privs: --user; see privs.h. The order is the only safe one: supplementary groups and the
 * gid while still root (afterwards neither may change), the uid last. */
#include "slb/common/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slb/common/log.h"

#define PRIVS_PWBUF_MAX 65536

int privs_lookup_user(const char *name, struct privs_user *out, char *err, size_t errlen)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = hint > 0 ? (size_t)hint : 4096;
	struct passwd pw, *found = NULL;
	char *buf;
	int rc;

	for (;;) {
		buf = malloc(len);
		if (!buf) {
			snprintf(err, errlen, "--user %.64s: out of memory", name);
			return -ENOMEM;
		}
		rc = getpwnam_r(name, &pw, buf, len, &found);
		if (rc != ERANGE || len >= PRIVS_PWBUF_MAX)
			break;
		free(buf);
		len *= 2;
	}
	if (rc == 0 && found) {
		snprintf(out->name, sizeof(out->name), "%s", name);
		out->uid = pw.pw_uid;
		out->gid = pw.pw_gid;
	}
	free(buf);
	if (rc) {
		snprintf(err, errlen, "--user %.64s: cannot read the user database: %s", name, strerror(rc));
		return -rc;
	}
	if (!found) {
		snprintf(err, errlen, "--user %.64s: no such user", name);
		return -ENOENT;
	}
	return 0;
}

static int drop_fail(char *err, size_t errlen, const struct privs_user *u, const char *step)
{
	int e = errno;

	snprintf(err, errlen, "--user %s: %s failed: %s", u->name, step, strerror(e));
	return -e;
}

int privs_drop(const struct privs_user *u, char *err, size_t errlen)
{
	if (geteuid() != 0) {
		snprintf(err, errlen, "--user %s: slb must start as root to change user (running as uid %u)", u->name,
			 (unsigned)geteuid());
		return -EPERM;
	}
	if (setgroups(0, NULL) == -1)
		return drop_fail(err, errlen, u, "setgroups");
	if (setresgid(u->gid, u->gid, u->gid) == -1)
		return drop_fail(err, errlen, u, "setresgid");
	if (setresuid(u->uid, u->uid, u->uid) == -1)
		return drop_fail(err, errlen, u, "setresuid");
	/* Dropping to uid 0 is a no-op; anything else must be irreversible. */
	if (u->uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "--user %s: root could be regained after dropping privileges", u->name);
		return -EPERM;
	}
	slb_log(LOG_INFO, 0, "running as user %s (uid %u, gid %u)", u->name, (unsigned)u->uid, (unsigned)u->gid);
	return 0;
}
