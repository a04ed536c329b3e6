/* conn: one client connection and its backend leg (the worker that runs them is in
 * worker_impl.h). The state machine (pick -> connect -> relay -> half-close -> finalize) is in
 * conn.c; the two ways of moving bytes are the leaves relay_copy.c and relay_splice.c. */
#ifndef SLB_CONN_H
#define SLB_CONN_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/access_log.h"
#include "slb/common/addr.h"
#include "slb/common/failq.h"
#include "slb/dataplane/balance.h"
#include "slb/dataplane/pipe_pool.h"
#include "slb/dataplane/uring.h"
#include "worker_impl.h"

enum conn_op {
	OP_NONE = 0,
	OP_ACCEPT,
	OP_CONNECT,
	OP_CONNECT_TIMEOUT, /* the linked timeout of a connect */
	OP_RECV,            /* copy: read src into a provided buffer */
	OP_SEND,            /* copy: write that buffer to dst */
	OP_POLL_IN,         /* splice: wait until src is readable */
	OP_POLL_OUT,        /* splice: wait until dst can take what is left in the pipe */
	OP_INSTALL,         /* splice: a regular descriptor twin of the client's direct one */
	OP_INSTALL_SHUT,    /* the same twin, made to half-close the client with shutdown(2) */
	OP_SHUTDOWN,        /* FIN to dst after EOF from src */
	OP_CANCEL,          /* teardown: cancel what is pending on a descriptor */
	OP_IDENT,           /* identity: a regular twin of the client, for its addresses */
	OP_PROXY_POLL,      /* identity: wait for (more of) the client's PROXY header */
	OP_SNI_RECV,        /* sni: read (more of) the client's ClientHello into its hello buffer */
	OP_SNI_SEND,        /* sni: send the held ClientHello to the backend, before the relay */
	OP_REPLAY_SEND,     /* replay: the held request, to the next backend (conn_replay.c) */
	OP_REFUSE_RECV,     /* --no-backend http-503: what the client sent, read before the answer */
	OP_REFUSE_SEND,     /* --no-backend http-503: the answer to a client nobody takes */
	OP_IGNORE,          /* closes and the like whose result only matters for logs */
	OP_MAX,
};

enum conn_state {
	CONN_FREE = 0,
	CONN_IDENT,      /* learning the client's addresses (and PROXY header) before picking */
	CONN_SNI,        /* reading the client's ClientHello to pick its service (conn_sni.c) */
	CONN_CONNECTING,
	CONN_RELAYING,
	CONN_CLOSING, /* waiting for in-flight operations before the slot is reused */
};

/* --retry-unanswered, per connection: may what the client sent still be replayed?
 *   OFF      no: replay is off, or a byte came back, or the client sent more than one buffer
 *            (or a request replay may not take); nothing is held
 *   ARMED    nothing has gone up yet: a backend that ends now is replaced, and gets nothing
 *   SENDING  the client's first buffer, a replayable whole, is being sent (in h[DIR_UP])
 *   HELD     it went whole and slb kept the buffer (rp_buf, rp_len): nothing more came from
 *            the client, nothing back from the backend. A backend's end now replays it. */
enum conn_replay {
	RP_OFF = 0,
	RP_ARMED,
	RP_SENDING,
	RP_HELD,
};

/* Directions: UP is client -> backend, DOWN is backend -> client. */
enum { DIR_UP = 0, DIR_DOWN = 1 };

/* One direction of the relay. Exactly one of these holds at a time:
 *   reading:  an op waits on src (a recv, or a poll before splicing)
 *   writing:  bytes are owned (buffer or pipe) and an op writes them to dst (a send, or a
 *             poll for room before splicing the rest of the pipe)
 *   waiting:  copy mode found no free buffer; on the worker's wait list
 *   done:     EOF from src was passed on as a FIN to dst
 * and none of them between two operations of one step. While the backend connects (copy
 * reads only), UP may already read the client: its buffer (has_buf) or its EOF (eof_early) is
 * held, neither reading nor writing, until conn_start_relay passes it on. When src had more
 * after a recv, the next recv is linked behind the send (linked): reading and writing both
 * hold until the send's CQE; the recv's CQE always comes after it. */
struct half {
	unsigned reading : 1;
	unsigned writing : 1;
	unsigned waiting : 1;
	unsigned done : 1;
	unsigned bulk : 1;      /* auto mode: this direction moves bulk, use splice */
	unsigned eof_early : 1; /* UP: the client ended while the backend connected; passed on after */
	unsigned more : 1;      /* copy: src had more (bytes or its FIN) after the last recv */
	unsigned linked : 1;    /* copy: the pending recv is linked behind the pending send */
	unsigned corked : 1;    /* copy: the last send went with MSG_MORE (copy_submit_send) */
	unsigned has_pipe : 1;
	unsigned has_buf : 1;   /* copy: holds provided buffer buf_id */
	uint16_t buf_id;        /* copy: buffer being written */
	uint32_t buf_len, buf_off;
	uint32_t pipe_bytes;    /* splice: bytes sitting in the pipe */
	struct pipe_pair pipe;
};

struct conn {
	uint32_t gen;
	uint8_t state;          /* enum conn_state */
	uint8_t abort : 1;      /* teardown is abortive (RST) rather than graceful */
	uint8_t installing : 1; /* the client's regular twin is being made */
	uint8_t no_splice : 1;  /* no twin could be made: this connection copies */
	uint8_t counted : 1;    /* counted in the pickers' global counts (balance_conn_open) */
	uint8_t connected : 1;  /* a backend connect succeeded (for the access log) */
	uint8_t ttfb_wait : 1;  /* a turn is open: the backend's next byte is a ttfb sample */
	uint8_t turn_up : 1;    /* the last bytes moved went up (client -> backend) */
	uint8_t shut_pending : 1; /* the client's half-close waits for its twin (installing) */
	uint8_t end;            /* enum access_log_end: the first cause of the end seen, 0 while open */
	uint8_t send_proxy;     /* enum proxy_version the current backend wants */
	uint16_t svc;           /* its service: the listener's, index of its pool and settings */
	uint8_t replay : 2;     /* enum conn_replay */
	uint8_t refusing : 1;   /* given up: answered as --no-backend says */
	uint8_t rp_wait : 1;    /* RP_SENDING: the backend ended; its send's CQE decides */
	uint8_t rp_reset : 1;   /* rp_wait: it ended with a reset (else a FIN) */
	uint16_t proxy_len;     /* --accept-proxy: header bytes read so far (into w->proxy_bufs) */
	uint16_t inflight;      /* SQEs submitted whose CQE has not been seen */
	uint16_t sni_group;     /* accepted on an sni listener: its index in w->listeners + 1; 0: by port */
	uint16_t hello;         /* its hello buffer in w->sni (index + 1) while it holds one; 0: none */
	uint16_t hello_len;     /* bytes held in it: read from the client */
	uint16_t hello_sent;    /* reading: the length tls_hello_parse needs first; then: bytes sent */
	uint16_t rp_buf;        /* RP_HELD: the provided buffer kept, */
	uint16_t rp_len;        /* and its bytes (at most one buffer, 16 KiB) */
	int cfd;                /* client: direct descriptor (index in the ring's file table) */
	int bfd;                /* backend: plain descriptor */
	int cfd_sys;            /* client: regular twin for splice(2), or -1 */
	uint32_t backend_id;    /* id of the backend in use, 0 = none yet */
	uint32_t next_free;     /* free list link */
	uint32_t client_entry;  /* counted in this client_table entry (1-based), given back at release; 0: none */
	struct balance_exclude tried;
	uint32_t mark_ms;       /* low 32 bits of the worker clock: connect submitted, then the turn's start */
	uint64_t hash_key;      /* balance_hash_client of the client, for pickers that hash; else 0 */
	int64_t last_active_ms;
	struct half h[2];
	struct slb_addr baddr;  /* copied from the snapshot: connect reads it after the pick */
};

/* What an idle connection costs does not grow with the backends or services: nothing in the
 * slot is sized by them (a backend is an id, a service an index). */
_Static_assert(sizeof(struct conn) <= 296, "struct conn grew: every idle connection pays for it");

/* A connection's identity and history, kept beside the slot table (w->ids, one per slot) and
 * only when a feature needs it (w->need_addrs): inside struct conn, the two addresses cost
 * every idle connection 300 bytes more (bench: 256 -> 568 B/conn) with the features off.
 * Filled from getpeername/getsockname on the client's twin, or from its PROXY header.
 * The one place any code (PROXY sending, the access log, a hashing picker) reads them. */
struct conn_id {
	struct slb_addr client;        /* the original client; len 0: unknown */
	struct slb_addr local;         /* the address it connected to (slb's listener, or the one before) */
	uint64_t bytes[2];             /* per direction, for the access log */
	int64_t accept_ms, connect_ms; /* CLOCK_MONOTONIC, read only with --access-log */
};

/* Hands an accepted client fd to a free slot and starts picking a backend for it.
 * key is the client's balance_hash_client when the picker needs_client_addr, else 0; it is
 * kept for retries. peer is the client's address when accept wrote one (w->accept_addrs),
 * else NULL; read before conn_accept returns. sni_group is the listener's index in
 * w->listeners + 1 when it routes by TLS server name, else 0. Owns fd from here on (closes it
 * if nothing can serve it, or resets it when the service's client rules refuse it; for an sni
 * listener those of the listener's first service). */
void conn_accept(struct worker *w, int fd, unsigned svc, uint64_t key, const struct sockaddr *peer,
		 unsigned sni_group);

/* Dispatches one CQE that belongs to a connection. */
void conn_handle_cqe(struct worker *w, const struct io_uring_cqe *cqe);

/* Closes connections idle for longer than the idle timeout; with all=true, every one. */
void conn_sweep(struct worker *w, bool all);

/* The conn <-> relay contract. The relay leaves (relay_copy.c, relay_splice.c) move bytes
 * and report what happened; every decision about the connection's life is conn.c's:
 *
 *   conn_count_bytes  n bytes moved in dir: counters only, never ends the connection.
 *   conn_arm_read     start the next read of dir, through splice or copy as the relay mode
 *                     and the direction's history say. Does nothing unless c is relaying, so
 *                     a leaf may call it after an event that could have closed c.
 *   conn_half_eof     src of dir reached EOF: pass it on as a FIN; when both directions are
 *                     done the connection is finalized.
 *   conn_read_error   a read of dir failed with res (-errno): a backend reset is counted,
 *                     then the connection is finalized abortively.
 *   conn_finalize     tear the connection down (abortive: with RST). It may release the slot
 *                     at once (nothing in flight), so after conn_finalize, conn_half_eof and
 *                     conn_read_error the caller must not touch c again. Idempotent on a
 *                     connection already closing. */
void conn_count_bytes(struct worker *w, struct conn *c, unsigned dir, unsigned n);
void conn_arm_read(struct worker *w, struct conn *c, unsigned dir);
void conn_half_eof(struct worker *w, struct conn *c, unsigned dir);

/* The client's regular twin (for shutdown(2) and splice(2)): conn_want_twin asks for it once
 * (FIXED_FD_INSTALL, OP_INSTALL_SHUT) unless it exists or is on its way; conn_twin_arrived
 * keeps it and does the half-close that waited for it (shut_pending). */
void conn_want_twin(struct worker *w, struct conn *c, unsigned dir);
void conn_twin_arrived(struct conn *c, int fd);
void conn_read_error(struct worker *w, struct conn *c, unsigned dir, int res);
void conn_write_error(struct worker *w, struct conn *c, unsigned dir, int res);
void conn_finalize(struct worker *w, struct conn *c, bool abortive);

/* Records why c ends (enum access_log_end), unless a cause was recorded already. */
static inline void conn_set_end(struct conn *c, unsigned end)
{
	if (!c->end)
		c->end = (uint8_t)end;
}

/* Identity known (conn_ident.c is done): pick a backend and connect, or close the client. */
void conn_connect_first(struct worker *w, struct conn *c);

/* Identity known: a client of an sni listener has its ClientHello read first (conn_sni.c),
 * any other one goes on to conn_connect_first. */
void conn_route(struct worker *w, struct conn *c);

/* conn_sni.c: routing by TLS server name. conn_sni_start takes a hello buffer from the
 * worker's pool and reads the client into it until tls_hello_parse has an answer, then sets
 * c->svc from the listener group's name map and goes on to conn_connect_first (or closes the
 * client, counted). Once connected, conn_sni_forward sends the held bytes to the backend and
 * then starts the relay; conn_sni_release gives the buffer back (idempotent, at teardown);
 * conn_sni_expire closes a client still in CONN_SNI past --sni-timeout. */
void conn_sni_start(struct worker *w, struct conn *c);
void conn_sni_on_recv(struct worker *w, struct conn *c, int res);
void conn_sni_forward(struct worker *w, struct conn *c);
void conn_sni_on_send(struct worker *w, struct conn *c, int res);
void conn_sni_release(struct worker *w, struct conn *c);
void conn_sni_expire(struct worker *w, struct conn *c);
/* The hello of a client of an sni listener (name_len 0: it gave no name, or was not TLS), or
 * NULL (a client by port, or neither the access log nor PROXY keeps it: worker_sni.seen). */
const struct tls_hello *conn_sni_hello(const struct worker *w, const struct conn *c);
/* At worker start: the group maps and the hello pool when a listener has ,sni (w->has_sni),
 * and each such listener's sni_map; needs the listeners open and w->n_slots, w->alog and
 * w->need_addrs set. Returns 0 or -errno with err filled.
 * conn_sni_free undoes it (also after a failed init). */
int conn_sni_init(struct worker *w, char *err, size_t errlen);
void conn_sni_free(struct worker *w);

/* Connected (and the PROXY header, any held ClientHello and any replay sent): read the backend, and pass on what
 * the client's early recv brought, or read the client. */
void conn_start_relay(struct worker *w, struct conn *c);

/* Closes the backend leg and connects to a backend not tried yet (c->state must be
 * CONN_CONNECTING). Returns 0 (connecting), or -ENOENT when --retries is spent or no live
 * backend is left, or -errno: then c has been given up (finalized, the client refused as
 * --no-backend says) and the caller must not touch it again. */
int conn_reconnect(struct worker *w, struct conn *c);

/* Reports backend id's fate to health through the failure ring (successes only after a
 * failure, so the ring stays quiet while all is well). */
void conn_report_backend(struct worker *w, uint32_t id, enum failq_kind kind);

/* conn_replay.c: --retry-unanswered. All of it is off the path of a connection whose service
 * has it off (c->replay stays RP_OFF: one bit test in conn_count_bytes).
 *   conn_replay_on_bytes  n bytes moved in dir while c->replay != RP_OFF: the client's first
 *                         buffer is judged (replayable or not); any later byte up, and any
 *                         byte down, ends the chance of a replay.
 *   conn_replay_sent      the first buffer went up whole (relay_copy_on_send): keep it rather
 *                         than give it back (h[DIR_UP] holds none then). Returns true when c
 *                         was taken over (the backend had ended meanwhile: replayed, or ended
 *                         as without replay): the caller must not touch c again.
 *   conn_replay_try       the backend ended c (dir DOWN: EOF when res is 0, else the read's
 *                         -errno) or refused the request (dir UP: the send's -errno). Returns
 *                         true when c was taken over (replaying, waiting for the request's send
 *                         or the DOWN read to end, or given up): the caller must not touch c
 *                         again; false: go on as without replay.
 *   conn_replay_send      connected again: send the held bytes (the state stays
 *                         CONN_CONNECTING until they went).
 *   conn_replay_on_send   that send's CQE.
 *   conn_replay_drop      give the held buffer back, if any; c->replay becomes RP_OFF.
 *   conn_replay_http_ok   whether p[0..n) is one whole HTTP/1.x request head with an
 *                         idempotent method and no body (pure; for unit tests too). */
void conn_replay_on_bytes(struct worker *w, struct conn *c, unsigned dir);
bool conn_replay_sent(struct worker *w, struct conn *c);
bool conn_replay_try(struct worker *w, struct conn *c, unsigned dir, int res);
void conn_replay_send(struct worker *w, struct conn *c);
void conn_replay_on_send(struct worker *w, struct conn *c, int res);
void conn_replay_drop(struct worker *w, struct conn *c);
bool conn_replay_http_ok(const unsigned char *p, size_t n);

/* conn_refuse.c: a client that no backend can take (no live backend, --retries spent, no
 * socket), answered as its service's --no-backend says, then finalized. The caller has
 * recorded the cause (conn_set_end) and counted it; c must not be touched afterwards. */
void conn_refuse(struct worker *w, struct conn *c);
/* The 503's send came back (op OP_REFUSE_SEND), or the read before it that takes in what the
 * client sent (OP_REFUSE_RECV, cqe carries its buffer): close the client after the send. */
void conn_refuse_on_cqe(struct worker *w, struct conn *c, unsigned op, const struct io_uring_cqe *cqe);

/* conn_ident.c: who the client is, before a backend is picked. conn_ident_start makes a
 * regular twin of the client's direct descriptor (kept in cfd_sys, so splice and half-close
 * reuse it) and reads the addresses through it; with --accept-proxy it then reads the PROXY
 * header. Each ends in conn_route, or in conn_finalize with the cause recorded. */
void conn_ident_start(struct worker *w, struct conn *c);
void conn_ident_on_install(struct worker *w, struct conn *c, int res);
void conn_ident_on_poll(struct worker *w, struct conn *c, int res);
/* The sweep found c still in CONN_IDENT past --proxy-timeout: close it. */
void conn_ident_expire(struct worker *w, struct conn *c);

/* conn_log.c: the access log line of c, pushed to the worker's ring (counted when dropped).
 * Called once per connection, before its slot is released; a refusal has no conn (NULL). */
void conn_log_access(struct worker *w, const struct conn *c, enum access_log_end end);

static inline uint32_t conn_slot(const struct worker *w, const struct conn *c)
{
	return (uint32_t)(c - w->conns);
}

/* c's identity; only when w->need_addrs (else w->ids is NULL). */
static inline struct conn_id *conn_id(const struct worker *w, const struct conn *c)
{
	return &w->ids[conn_slot(w, c)];
}

static inline uint64_t conn_ud(const struct worker *w, const struct conn *c, unsigned op, unsigned dir)
{
	return uring_ud(op, dir, conn_slot(w, c), c->gen);
}

/* Client sockets are io_uring direct descriptors: accepted straight into the ring's file
 * table, they never occupy the process's descriptor table (RLIMIT_NOFILE), so a connection
 * costs one process descriptor (its backend socket) instead of two, and each operation skips the fd-table lookup.
 * Backend sockets stay plain descriptors because they need setsockopt before connect.
 * So the client side of every operation carries IOSQE_FIXED_FILE (or, as a splice source,
 * SPLICE_F_FD_IN_FIXED). */
static inline int half_src(const struct conn *c, unsigned dir)
{
	return dir == DIR_UP ? c->cfd : c->bfd;
}

static inline int half_dst(const struct conn *c, unsigned dir)
{
	return dir == DIR_UP ? c->bfd : c->cfd;
}

static inline bool half_src_fixed(unsigned dir)
{
	return dir == DIR_UP;
}

static inline bool half_dst_fixed(unsigned dir)
{
	return dir == DIR_DOWN;
}

#ifndef IORING_OP_FIXED_FD_INSTALL
#define IORING_OP_FIXED_FD_INSTALL 54 /* Linux 6.8; liburing 2.3 predates it */
#endif

static inline void sqe_fixed_if(struct io_uring_sqe *sqe, bool fixed)
{
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
}

/* relay_copy.c */
void relay_copy_arm(struct worker *w, struct conn *c, unsigned dir);
/* Sends the buffer that dir holds (has_buf, from a recv) to dst, counting its bytes. */
void relay_copy_forward(struct worker *w, struct conn *c, unsigned dir);
/* Whether the next read of dir is a copy recv (else a splice poll). */
bool conn_reads_by_copy(const struct worker *w, const struct conn *c, unsigned dir);
void relay_copy_on_recv(struct worker *w, struct conn *c, unsigned dir, const struct io_uring_cqe *cqe);
void relay_copy_on_send(struct worker *w, struct conn *c, unsigned dir, int res);
void relay_copy_release(struct worker *w, struct conn *c, unsigned dir);
void relay_copy_wake_waiters(struct worker *w);
/* Sends at once the bytes dir's last send left corked (MSG_MORE), if it did and the
 * destination's regular descriptor is known (relay_copy.c). */
void relay_copy_push(struct conn *c, unsigned dir);

/* relay_splice.c */
void relay_splice_arm(struct worker *w, struct conn *c, unsigned dir);
void relay_splice_on_poll_in(struct worker *w, struct conn *c, unsigned dir, int res);
void relay_splice_on_poll_out(struct worker *w, struct conn *c, unsigned dir, int res);
void relay_splice_on_install(struct worker *w, struct conn *c, unsigned dir, int res);
void relay_splice_release(struct worker *w, struct conn *c, unsigned dir);

#endif
