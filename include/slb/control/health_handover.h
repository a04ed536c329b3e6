/* health_handover: the running slb's side of a binary upgrade (health_handover.c; the new
 * slb's side is health_import.c, which health_prepare runs): what it exports and when it lets
 * go. The struct is what crosses the control socket (src/takeover.c). */
#ifndef SLB_HEALTH_HANDOVER_H
#define SLB_HEALTH_HANDOVER_H

#include "slb/common/snapshot.h"

#define HEALTH_LEASE_LEN 192 /* one lease's text with its NUL */
#define HEALTH_STATE_LEN 400 /* one backend's runtime state with its NUL (an http check's path too) */

/* The control plane's part of a binary upgrade (see slb(8), UPGRADE): its listening sockets,
 * a lease for every heartbeat backend in rotation and the runtime state the operator set,
 * passed from the running slb to the one that replaces it. */
struct health_handover {
	int hb_fd;                /* heartbeat listener, -1: none */
	int admin_fd;             /* admin listener, -1: none */
	/* Room for one per id up to the highest any instance may have (38 MiB): the two
	 * instances (src/takeover.c, src/main.c) are static, in .bss, so only the pages of the
	 * lines actually exported are ever resident; n_* stay below snap_id_limit(). */
	unsigned n_leases;
	char leases[SNAP_ID_MAX + 1][HEALTH_LEASE_LEN]; /* "ADDR weight=N [name=NAME] state=up|drain
							  * [load=N]": what a REGISTER says */
	unsigned n_states;
	char states[SNAP_ID_MAX + 1][HEALTH_STATE_LEN]; /* one backend's runtime state: see
							  * health_handover.c */
};

/* For the running slb's side of a binary upgrade: stops accepting on the admin listener (the
 * new process accepts on the same socket) and waits up to 2 s for the admin requests already
 * accepted to be answered, so none is dropped when health_hand_over closes the admin
 * connections; then fills out with its listening sockets (they stay health's: send them, do
 * not close them), a lease for every heartbeat backend that is up or draining (or disabled
 * or ejected while it says it is up), and a state line for every backend the operator
 * changed at run time or health ejected (health_handover.c). Returns 0 or -errno (-ESRCH when
 * nothing is prepared). */
int health_export(struct health_handover *out);

/* The new process failed before it took over: the admin listener accepts here again. Does
 * nothing when health_export did not stop it. Returns 0 or -errno. */
int health_export_cancel(void);

/* Once the new slb has taken the leases over: heartbeat backends keep their state here as
 * leases while their sessions are closed (their peers reconnect to the new slb), and the
 * heartbeat and admin listeners are closed (the new slb holds the same sockets). Returns 0 or
 * -errno. */
int health_hand_over(void);

#endif
