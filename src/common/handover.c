/* handover: the control socket's mechanics; see handover.h. */
#include "slb/common/handover.h"

#include <errno.h>
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
