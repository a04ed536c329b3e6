/* listener: a worker's SO_REUSEPORT listeners and their accepts (listener.c), private to
 * src/dataplane. The worker opens them before its thread starts, re-arms their accepts and
 * stops them between loop turns, and hands each accept's completion to listener_on_accept,
 * which is inline below because it runs once per client. The listeners themselves (struct
 * worker_listener) are the worker's, in worker_impl.h, where conn.c reads their ports. */
#ifndef SLB_LISTENER_H
#define SLB_LISTENER_H

#include <errno.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "slb/common/config.h"
#include "slb/common/log.h"
#include "slb/dataplane/worker.h"
#include "worker_impl.h"

#define ACCEPT_REARM_MS 100 /* after EMFILE and the like, before accepting again */

/* Checks that every address of cfg without a socket in in (which may be NULL) can be bound
 * without SO_REUSEPORT: addresses with inherited sockets are held by the old process, where a
 * plain bind would fail. Returns 0, or -errno with "cannot listen on ADDR: ..." in err. */
int listeners_check_free(const struct slb_config *cfg, const struct workers_inherit *in, char *err,
			 size_t errlen);

/* Gives w (w->idx, w->cfg set) its listeners for every --listen address: the inherited sockets
 * j of address i with j % n_workers == w->idx (taken out of in, set to -1 there), or a fresh
 * SO_REUSEPORT one when none falls to it. Returns 0, or -errno with err filled; what was
 * opened stays in w->listeners (owned by w) for listeners_close. */
int listeners_open(struct worker *w, struct workers_inherit *in, unsigned n_workers, char *err,
		   size_t errlen);

/* Closes w's listening sockets still open (w->listeners itself stays allocated). */
void listeners_close(struct worker *w);

/* Closes the inherited sockets no worker took (in may be NULL) and empties in. */
void listeners_close_inherited(struct workers_inherit *in);

/* The address buffers of single-shot accepts, ACCEPT_ADDR_SLOTS per listener, for a picker
 * that needs the client's address. Returns 0 or -ENOMEM; w owns w->accept_addrs. */
int listeners_alloc_addrs(struct worker *w);

/* Arms single-shot accept slot k of listener i. */
void listener_arm_slot(struct worker *w, unsigned i, unsigned k);

/* Arms every listener whose accepts ended and whose pause (if any) is over. */
void listeners_rearm(struct worker *w);

/* Cancels the accepts of every armed listener; each ends with a completion that disarms it, and
 * listeners_rearm arms it again (a new process has taken some of the sockets' queues). */
void listeners_cancel_armed(struct worker *w);

/* A reload: w->cfg is the new config, old the one it replaced (still valid). Each listener
 * follows its address into the new config (its index, and its service, which may have
 * changed); one whose address the new config no longer has stops accepting and closes (its
 * connections go on); w takes its socket of each new address from bound (may be NULL), set to
 * -1 there. */
void listeners_follow(struct worker *w, const struct slb_config *old, struct workers_inherit *bound);

/* Stops accepting for good (a drain or a stop): cancels the accepts and closes the listeners;
 * w->accept_off is set once every accept has ended. Does nothing the second time. */
void listeners_stop_accepting(struct worker *w);

/* The key of the client a single-shot accept brought (when its service's picker hashes),
 * its address copied into peer (the slot's buffer is the kernel's again once the slot is
 * re-armed: a flush of a full submission queue may start that accept at once), and that slot
 * armed again. */
static inline uint64_t listener_accept_key(struct worker *w, unsigned i, unsigned k,
					  const struct io_uring_cqe *cqe, struct sockaddr_in6 *peer)
{
	struct worker_listener *l = &w->listeners[i];
	const struct sockaddr *sa = (const struct sockaddr *)&w->accept_addrs[i * ACCEPT_ADDR_SLOTS + k].ss;
	uint64_t key = 0;

	l->busy &= ~(1u << k);
	if (cqe->res >= 0) {
		/* a TCP peer is AF_INET or AF_INET6: sockaddr_in6 holds either */
		memcpy(peer, sa, sizeof(*peer));
		if (w->svc[l->service].balance->needs_client_addr)
			key = balance_hash_client(&w->svc[l->service].bal, sa);
	}
	/* cancelled while accepting: workers_rearm_accepts wants a fresh accept in its place,
	 * unless a reload closed the listener (fd -1, listeners_follow) */
	if ((cqe->res >= 0 || cqe->res == -ECANCELED) && w->accepting && l->fd >= 0)
		listener_arm_slot(w, i, k);
	else if (!l->busy)
		l->armed = false; /* its last slot came back: re-arm after a pause, or accepts are off */
	return key;
}

/* Once no accept is armed after stop accepting, no connection can arrive any more. */
static inline void listener_note_accept_off(struct worker *w)
{
	for (unsigned i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].armed)
			return;
	atomic_store_explicit(&w->accept_off, true, memory_order_release);
}

/* The completion of an accept (OP_ACCEPT): hands the client to conn_accept, or closes it once
 * the worker stops; an error pauses the listener for ACCEPT_REARM_MS (listeners_rearm arms it
 * again). Inline: it runs once per client, inside the worker's completion loop. */
static inline void listener_on_accept(struct worker *w, const struct io_uring_cqe *cqe)
{
	unsigned slot = uring_ud_slot(cqe->user_data), i = slot / ACCEPT_ADDR_SLOTS;
	struct worker_listener *l = &w->listeners[i];
	struct sockaddr_in6 peer;
	uint64_t key = w->accept_addrs ? listener_accept_key(w, i, slot % ACCEPT_ADDR_SLOTS, cqe, &peer) : 0;

	if (cqe->res >= 0) {
		/* A connection accepted while the accept was being cancelled (drain, or a new slb
		 * taking over) left the queue for good: serve it. Only a stop closes it. */
		if (!w->stopping) {
			conn_accept(w, cqe->res, l->service, key,
				    w->accept_addrs ? (const struct sockaddr *)&peer : NULL, l->sni_map ? i + 1 : 0);
		} else {
			struct io_uring_sqe *sqe = uring_sqe(&w->ring);

			io_uring_prep_close_direct(sqe, (unsigned)cqe->res);
			io_uring_sqe_set_data64(sqe, uring_ud(OP_IGNORE, 0, 0, 0));
		}
	} else if (cqe->res != -ECANCELED) {
		stat_add(&w->ch->stats.rejected, 1);
		slb_log_limited(LOG_WARN, cqe->res, "worker %u: accept failed; pausing accepts for %d ms", w->idx,
				ACCEPT_REARM_MS);
	}
	if (!w->accept_addrs && !(cqe->flags & IORING_CQE_F_MORE))
		l->armed = false;
	if (!l->armed) {
		if (cqe->res < 0 && cqe->res != -ECANCELED)
			l->retry_at = w->now_ms + ACCEPT_REARM_MS;
		if (!w->accepting)
			listener_note_accept_off(w);
	}
}

#endif
