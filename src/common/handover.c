/* handover: the control socket's mechanics; see handover.h. */
#include "slb/common/handover.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int handover_addr(const char *path, struct sockaddr_un *sun, char *err, size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (!path[0] || strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "control socket '%s': path empty or longer than %zu bytes", path,
			 sizeof(sun->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

static int handover_fail(int fd, const char *path, const char *what, char *err, size_t errlen)
{
	int e = errno;

	snprintf(err, errlen, "control socket %s: %s: %s", path, what, strerror(e));
	if (fd >= 0)
		close(fd);
	return -e;
}

/* A socket file nobody listens on (ECONNREFUSED) was left by a process that died: it may
 * go. One that answers belongs to a running slb, which must not lose its socket. */
static int handover_clear_stale(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd == -1)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		ret = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sun->sun_path);
	close(fd);
	return ret;
}

/* See handover.h. umask makes the socket owner-only from birth, so no other user ever has a
 * window to connect before the chmod to 600. */
int handover_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, ret;

	ret = handover_addr(path, &sun, err, errlen);
	if (ret)
		return ret;
	if (handover_clear_stale(&sun) == -EADDRINUSE) {
		snprintf(err, errlen, "control socket %s: another slb is listening there", path);
		return -EADDRINUSE;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return handover_fail(-1, path, "socket", err, errlen);
	old_mask = umask(077);
	ret = bind(fd, (const struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (ret == -1)
		return handover_fail(fd, path, "bind", err, errlen);
	if (chmod(path, 0600) == -1 || listen(fd, 4) == -1)
		return handover_fail(fd, path, "listen", err, errlen);
	return fd;
}

/* See handover.h. */
int handover_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd, ret;

	ret = handover_addr(path, &sun, err, errlen);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return handover_fail(-1, path, "socket", err, errlen);
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) == -1)
		return handover_fail(fd, path, "connect", err, errlen);
	return fd;
}

/* See handover.h. */
int handover_accept(int listen_fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd == -1)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* See handover.h. */
int handover_send(int sock, const char *line, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t len = strlen(line);
	struct iovec iov = { .iov_base = (void *)line, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (len == 0 || len >= HANDOVER_LINE_MAX)
		return -EMSGSIZE;
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

/* Collects the descriptors a message carried: the first goes to *fd, any more are closed
 * and make the message malformed. */
static bool handover_take_fds(struct msghdr *msg, int *fd)
{
	bool ok = !(msg->msg_flags & MSG_CTRUNC);

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd < 0) {
				*fd = got;
			} else {
				close(got);
				ok = false;
			}
		}
	}
	return ok;
}

static int handover_wait(int sock, int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* See handover.h. */
int handover_recv(int sock, char *line, size_t cap, int *fd, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = line, .iov_len = cap - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;
	int ret;

	*fd = -1;
	ret = handover_wait(sock, timeout_ms);
	if (ret)
		return ret;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n == -1)
		return -errno;
	if (n == 0 && !msg.msg_controllen)
		return -ECONNRESET;
	line[n] = '\0';
	if (!handover_take_fds(&msg, fd) || (msg.msg_flags & MSG_TRUNC) || n == 0 ||
	    memchr(line, '\0', (size_t)n) || memchr(line, '\n', (size_t)n)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	return (int)n;
}

/* ---- the grammar ---- */

enum handover_arg {
	HANDOVER_ARG_NONE = 0, /* nothing after the verb */
	HANDOVER_ARG_TEXT,     /* printable text, not empty */
	HANDOVER_ARG_PID,      /* a pid */
	HANDOVER_ARG_PID_OPT,  /* a pid, or nothing (END of an older slb) */
};

static const struct {
	const char *name;
	bool fd;               /* the message carries a descriptor */
	enum handover_arg arg;
} handover_verbs[] = {
	[HANDOVER_TAKEOVER] = { "TAKEOVER", false, HANDOVER_ARG_TEXT },
	[HANDOVER_LISTEN] = { "LISTEN", true, HANDOVER_ARG_TEXT },
	[HANDOVER_HEARTBEAT] = { "HEARTBEAT", true, HANDOVER_ARG_TEXT },
	[HANDOVER_ADMIN] = { "ADMIN", true, HANDOVER_ARG_TEXT },
	[HANDOVER_CONTROL] = { "CONTROL", true, HANDOVER_ARG_TEXT },
	[HANDOVER_LEASE] = { "LEASE", false, HANDOVER_ARG_TEXT },
	[HANDOVER_STATE] = { "STATE", false, HANDOVER_ARG_TEXT },
	[HANDOVER_END] = { "END", false, HANDOVER_ARG_PID_OPT },
	[HANDOVER_DRAIN] = { "DRAIN", false, HANDOVER_ARG_NONE },
	[HANDOVER_OK] = { "OK", false, HANDOVER_ARG_PID },
	[HANDOVER_STOPPED] = { "STOPPED", false, HANDOVER_ARG_NONE },
	[HANDOVER_ERR] = { "ERR", false, HANDOVER_ARG_TEXT },
};

#define HANDOVER_N_VERBS (sizeof(handover_verbs) / sizeof(handover_verbs[0]))

const char *handover_verb_name(enum handover_verb v)
{
	return v > HANDOVER_NONE && (size_t)v < HANDOVER_N_VERBS ? handover_verbs[v].name : "NONE";
}

/* The verb that line starts with (up to a space or its end), or HANDOVER_NONE. */
static enum handover_verb handover_find_verb(const char *line, size_t n)
{
	for (size_t v = HANDOVER_NONE + 1; v < HANDOVER_N_VERBS; v++)
		if (strlen(handover_verbs[v].name) == n && memcmp(line, handover_verbs[v].name, n) == 0)
			return (enum handover_verb)v;
	return HANDOVER_NONE;
}

static bool handover_printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* A pid as END and OK carry it: decimal digits only, > 0, within pid_t. */
static int handover_parse_pid(const char *text, pid_t *pid)
{
	long v = 0;

	if (!*text || strlen(text) > 10)
		return -EPROTO;
	for (; *text; text++) {
		if (*text < '0' || *text > '9')
			return -EPROTO;
		v = v * 10 + (*text - '0');
	}
	if (v <= 0 || v > INT_MAX)
		return -EPROTO;
	*pid = (pid_t)v;
	return 0;
}

/* The argument of m's verb (m->arg) against what the verb takes. */
static int handover_check_arg(struct handover_msg *m, bool had_space, char *why, size_t len)
{
	enum handover_arg want = handover_verbs[m->verb].arg;
	const char *name = handover_verbs[m->verb].name;

	if (want == HANDOVER_ARG_NONE && had_space) {
		snprintf(why, len, "%s takes no argument", name);
		return -EPROTO;
	}
	if (want == HANDOVER_ARG_NONE || (want == HANDOVER_ARG_PID_OPT && !had_space))
		return 0;
	if (!m->arg[0] || !handover_printable(m->arg)) {
		snprintf(why, len, m->arg[0] ? "%s with a byte that is not printable ASCII" : "%s needs an argument", name);
		return -EPROTO;
	}
	if (want != HANDOVER_ARG_TEXT && handover_parse_pid(m->arg, &m->pid)) {
		snprintf(why, len, "%s needs a pid (a number > 0), not '%.20s'", name, m->arg);
		return -EPROTO;
	}
	return 0;
}

/* See handover.h. */
int handover_parse(const char *line, bool has_fd, struct handover_msg *m, char *why, size_t len)
{
	const char *space = strchr(line, ' ');
	size_t n = space ? (size_t)(space - line) : strlen(line);

	memset(m, 0, sizeof(*m));
	m->verb = handover_find_verb(line, n);
	m->arg = space ? space + 1 : line + n;
	if (m->verb == HANDOVER_NONE) {
		snprintf(why, len, "unknown verb '%.*s'", (int)(n < 20 ? n : 20), line);
		for (char *c = why; *c; c++)
			*c = *c < 0x20 || *c > 0x7e ? '?' : *c; /* said in a log line */
		return -EPROTO;
	}
	if (has_fd != handover_verbs[m->verb].fd) {
		snprintf(why, len, "%s %s", handover_verbs[m->verb].name,
			 has_fd ? "carries no descriptor" : "needs a descriptor");
		return -EPROTO;
	}
	return handover_check_arg(m, space != NULL, why, len);
}
