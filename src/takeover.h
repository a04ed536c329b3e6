/* takeover: the binary upgrade's protocol, wired like main.c across both planes (the control
 * socket's mechanics are slb/common/handover.h). Over one SEQPACKET connection:
 *
 *   new -> old   TAKEOVER slb/1
 *   old -> new   LISTEN <addr> + fd       one per listening socket of every old worker
 *                HEARTBEAT <addr> + fd    the heartbeat listener, when there is one
 *                ADMIN <addr> + fd        the admin listener, when there is one
 *                CONTROL <path> + fd      the control socket's own listener
 *                LEASE <text>             one per heartbeat backend up or draining
 *                STATE <text>             one per backend the operator changed at run time
 *                END <pid>                its own pid: SO_PEERCRED would name the first slb,
 *                                         since the control socket's listener is inherited
 *   (the new process starts serving on those sockets)
 *   new -> old   DRAIN
 *   old -> new   OK <pid>                 then the old process stops accepting and drains
 *   old -> new   ERR <why>                instead of the sockets: another takeover is on
 *
 * Each message is checked against handover_parse's grammar, then for its place in this
 * order; a bad one ends the takeover with its reason logged.
 *
 * The sockets themselves move, never a port: each SO_REUSEPORT socket keeps its own accept
 * queue, and the connections waiting in it are accepted by whichever process holds it, so no
 * queue is ever closed while connections wait in it. Until DRAIN the old process serves as if
 * nothing happened (but for admin connections, which it stops accepting before it sends the
 * sockets, answering those it has: health_export): a new process that fails before it just
 * closes the connection. */
#ifndef SLB_TAKEOVER_H
#define SLB_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "slb/common/config.h"
#include "slb/control/health_handover.h"
#include "slb/dataplane/worker.h"

/* ---- the new process ---- */

/* What the new process received, matched to its own configuration. */
struct takeover_in {
	int sock;                        /* the control connection to the old process, -1: none */
	pid_t old_pid;                   /* the old process, as its END and OK say; 0: not said yet */
	struct workers_inherit listen;   /* by cfg->listen index */
	struct health_handover health;   /* heartbeat and admin listeners, leases */
	int control_fd;                  /* the control socket's listener when the path is the same */
};

/* Connects to the control socket at cfg->takeover, asks for the sockets and receives them
 * until END. Sockets for addresses the new cfg no longer has are closed (logged once per
 * address). Returns 0, or -errno with err filled (in is then cleaned up: nothing left open). */
int takeover_receive(const struct slb_config *cfg, struct takeover_in *in, char *err, size_t errlen);

/* Once the new process serves: sends DRAIN, waits for "OK <pid>" (the old process drains),
 * then for "STOPPED" (its accepts have ended: only this process takes connections now; the
 * caller then re-arms its own accepts, see workers_rearm_accepts). Closes the connection.
 * Returns 0 or -errno with err filled (without OK, the old process may still be serving). */
int takeover_finish(struct takeover_in *in, char *err, size_t errlen);

/* Closes whatever of in is still open. */
void takeover_in_close(struct takeover_in *in);

/* ---- the running process: the control socket ---- */

struct takeover_server {
	const struct slb_config *cfg;
	int listen_fd;     /* the control socket, -1: none */
	int peer;          /* the new process being handed the sockets, -1: none */
	pid_t peer_pid;
	ino_t ino;         /* the socket file's inode while it is ours (unlinked at exit only then) */
	const char *path;
};

/* Serves cfg->control_socket: binds it (mode 600; a stale socket file is replaced, a live one
 * refused), or takes inherited_fd (>= 0: the same socket, from the old process). cfg must
 * outlive s. Returns 0 or -errno with err filled. */
int takeover_server_open(struct takeover_server *s, const struct slb_config *cfg, int inherited_fd, char *err,
			 size_t errlen);

/* The descriptors to poll for POLLIN (at most 2) into fds. Returns how many. */
unsigned takeover_server_fds(const struct takeover_server *s, int *fds);

/* Handles what is readable on the control socket or the connection: a new process asking for
 * the sockets (they are sent at once; the process keeps serving) or asking to DRAIN.
 * Returns true once a new process has taken over (its pid in s->peer_pid): the caller must
 * then hand the heartbeat backends over (health_hand_over) and drain. */
bool takeover_server_on_ready(struct takeover_server *s);

/* After a takeover, once this process's accepts have all ended: tells the new process so
 * ("STOPPED") and closes the connection to it. Does nothing when there is none. */
void takeover_server_accepts_off(struct takeover_server *s);

/* Closes the control socket; unlinks its file only while it is still this process's (not
 * after a takeover, nor when another process has bound the path since). */
void takeover_server_close(struct takeover_server *s);

#endif
