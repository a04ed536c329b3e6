/* privs: dropping root after the ports are bound (--user). Looked up early so a typo fails
 * before anything is bound; dropped before any thread exists, so it holds for the process. */
#ifndef SLB_PRIVS_H
#define SLB_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

#include "slb/common/config.h"

struct privs_user {
	char name[CONFIG_USER_MAX];
	uid_t uid;
	gid_t gid;               /* the user's primary group from the password database */
};

/* Looks name up in the password database (getpwnam_r). Returns 0 and *out, -ENOENT for an
 * unknown user, or -errno from the lookup, with a one-line reason in err. */
int privs_lookup_user(const char *name, struct privs_user *out, char *err, size_t errlen);

/* Drops every supplementary group, then sets real, effective and saved gid and uid to u's,
 * and checks that root cannot be regained. Call it before any thread starts: set*id() act on
 * the calling thread in the kernel, and only glibc's broadcast would fix up other threads.
 * Returns 0, or -EPERM (not started as root, or a step failed) / -errno with err filled; on
 * failure the process must exit, since it may be half-dropped. */
int privs_drop(const struct privs_user *u, char *err, size_t errlen);

#endif
