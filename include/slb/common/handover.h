/* handover: how a running slb passes its sockets to the process that replaces it (binary
 * upgrade, see slb(8)). The two talk over a unix SOCK_SEQPACKET socket: each message is one
 * text line with at most one descriptor attached (SCM_RIGHTS), so a line and its descriptor
 * always arrive together and message boundaries need no framing of our own. Mechanics and
 * grammar only (handover_parse: which verbs exist, which carry a descriptor, what argument
 * each takes): takeover.c decides what is sent, in what order, and what each line means. */
#ifndef SLB_HANDOVER_H
#define SLB_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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

/* The verbs of the takeover protocol (the order of the conversation is in takeover.h). */
enum handover_verb {
	HANDOVER_NONE = 0,
	HANDOVER_TAKEOVER,  /* new -> old: "TAKEOVER <version>" */
	HANDOVER_LISTEN,    /* old -> new, + descriptor: "LISTEN <addr>" */
	HANDOVER_HEARTBEAT, /* + descriptor: "HEARTBEAT <addr>" */
	HANDOVER_ADMIN,     /* + descriptor: "ADMIN <addr>" */
	HANDOVER_CONTROL,   /* + descriptor: "CONTROL <path>" */
	HANDOVER_LEASE,     /* "LEASE <text>" */
	HANDOVER_STATE,     /* "STATE <text>": what the operator set on a backend at run time */
	HANDOVER_END,       /* "END [<pid>]" (older slb: no pid) */
	HANDOVER_DRAIN,     /* new -> old: "DRAIN" */
	HANDOVER_OK,        /* old -> new: "OK <pid>" */
	HANDOVER_STOPPED,   /* old -> new: "STOPPED" */
	HANDOVER_ERR,       /* old -> new: "ERR <why>", the request refused */
};

struct handover_msg {
	enum handover_verb verb;
	const char *arg;    /* the text after the verb and its space, inside the parsed line; "" when none */
	pid_t pid;          /* END, OK: the pid said; 0 when END says none */
};

/* Parses line, one message as handover_recv returned it, received with a descriptor (has_fd)
 * or without: a known verb, a descriptor exactly with the verbs that carry one, one space then
 * a non-empty argument of printable ASCII for the verbs that take one (a decimal pid > 0 for
 * END and OK), nothing after the others. m->arg points into line. Returns 0, or -EPROTO with
 * why filled ("unknown verb 'X'", "LISTEN needs a descriptor", ...). */
int handover_parse(const char *line, bool has_fd, struct handover_msg *m, char *why, size_t len);

/* "LISTEN", ...; "NONE" for HANDOVER_NONE and anything out of range. */
const char *handover_verb_name(enum handover_verb v);

#endif
