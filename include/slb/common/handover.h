/* handover: how a running slb passes its sockets to the process that replaces it (binary
 * upgrade, see slb(8)). The two talk over a unix SOCK_SEQPACKET socket: each message is one
 * text line with at most one descriptor attached (SCM_RIGHTS), so a line and its descriptor
 * always arrive together and message boundaries need no framing of our own. Mechanics only:
 * main decides what is sent and what each line means. */
#ifndef SLB_HANDOVER_H
#define SLB_HANDOVER_H

#include <stddef.h>

#define HANDOVER_LINE_MAX 640 /* longest line, its NUL included */

/* Creates the control socket at path (mode 600; a stale socket file left by a process that
 * died is replaced, a live one is not). Returns the listening fd (non-blocking, cloexec) or
 * -errno with err filled ("control socket PATH: ..."). */
int handover_listen(const char *path, char *err, size_t errlen);

/* Connects to the control socket at path. Returns the fd (blocking, cloexec) or -errno with
 * err filled. */
int handover_connect(const char *path, char *err, size_t errlen);

/* Accepts one peer on a listening control socket if it runs as the same user as this
 * process or as root (SO_PEERCRED). Returns the connected fd (blocking, cloexec), -EAGAIN
 * when nobody is waiting, -EPERM (fd closed) for another user, or -errno. */
int handover_accept(int listen_fd);

/* Sends line (no newline; shorter than HANDOVER_LINE_MAX) with fd attached, or none when
 * fd < 0. fd stays the caller's. Returns 0, -EMSGSIZE for a long line, or -errno. */
int handover_send(int sock, const char *line, int fd);

/* Receives one message within timeout_ms: line gets its text, NUL-terminated; *fd gets the
 * attached descriptor (cloexec; the caller owns it) or -1. Returns the line's length,
 * -ETIMEDOUT, -ECONNRESET when the peer closed, -EPROTO for a message that is not one text
 * line with at most one descriptor (any descriptor that came with it is closed), or -errno. */
int handover_recv(int sock, char *line, size_t cap, int *fd, int timeout_ms);

#endif
