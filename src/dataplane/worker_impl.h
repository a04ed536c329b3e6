/* worker_impl: what one worker thread owns, shared by the data plane's own files (worker.c
 * runs the loop, conn.c and the relay leaves act on connections). Private to src/dataplane:
 * the rest of the process sees workers only through slb/dataplane/worker.h. */
#ifndef SLB_WORKER_IMPL_H
#define SLB_WORKER_IMPL_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "slb/common/channel.h"
#include "slb/common/config.h"
#include "slb/dataplane/balance.h"
#include "slb/dataplane/pipe_pool.h"
#include "slb/dataplane/uring.h"

struct conn;
struct access_log_ring;
struct conn_id;
struct sni_map;
struct tls_hello;
struct client_table;

#define ACCEPT_ADDR_SLOTS 8 /* single-shot accepts in flight per listener when the picker needs addresses */

/* Where one single-shot accept writes its client's address. */
struct accept_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* One SO_REUSEPORT listener of a worker, for one --listen address, with its own multishot
 * accept, or ACCEPT_ADDR_SLOTS single-shot ones (user_data slot = index in worker.listeners
 * * ACCEPT_ADDR_SLOTS + address slot). After a binary upgrade a worker may hold several for
 * one address: every socket inherited from the old process has its own accept queue, and each
 * must be served. */
struct worker_listener {
	int fd;                  /* -1 once closed */
	unsigned addr_idx;       /* which cfg->listen address */
	uint16_t port;           /* network order: a backend on this port may be slb itself */
	bool armed;              /* multishot: its accept is pending; with addresses: its slots are */
	uint8_t busy;            /* with addresses: bit k set while slot k's accept is in flight */
	uint16_t service;        /* cfg->listen_service[addr_idx]: whose pool its clients get */
	const struct sni_map *sni_map; /* its clients' service is their server name's, in this map
				  * (w->sni.map, built at start; a reload changes no ,sni listener);
				  * NULL: the listener's service */
	int64_t retry_at;        /* accepts paused until then after an accept error */
};

/* A worker's picker for one service, and what it precomputes from that service's settings. */
struct worker_service {
	const struct balance_ops *balance;
	struct balance_state bal;
	struct __kernel_timespec connect_ts; /* the service's --connect-timeout */
};

/* Routing by TLS server name (conn_sni.c), set up at start when a listener has ,sni: the name
 * map of each listener group and a pool of hello buffers, each one maximal TLS record, held by
 * a connection only until its hello has gone to its backend. */
struct worker_sni {
	struct sni_map *map[CONFIG_MAX_LISTEN]; /* by cfg->listen index at start; NULL: by port */
	unsigned char *bufs;     /* cap buffers of TLS_HELLO_SPAN_MAX bytes */
	uint16_t *free;          /* free buffer indices, n_free of them on top */
	unsigned cap, n_free;
	struct tls_hello *seen;  /* per slot: the hello's name and ALPN, kept for the access log and
				  * the PROXY v2 authority; NULL when neither is on */
};

/* Everything one worker thread owns. */
struct worker {
	unsigned idx;
	int cpu;                 /* -1: not pinned */
	struct worker_listener *listeners; /* at least one per --listen address; slots of closed
				  * ones (fd -1) are reused by a reload once disarmed */
	unsigned n_listeners;    /* slots used so far */
	unsigned listeners_cap;  /* slots allocated: start's plus CONFIG_MAX_LISTEN for reloads */
	const struct slb_config *cfg;   /* replaced between loop turns by a reload */
	_Atomic unsigned cfg_seen;       /* the reload generation cfg comes from */
	struct worker_channel *ch;
	struct io_uring ring;
	struct uring_bufs bufs;
	struct pipe_pool pipes;
	struct worker_service svc[CONFIG_MAX_SERVICES]; /* by service index; cfg->n_services used */
	int snap_reader;
	struct conn *conns;      /* slot 0 unused so that 0 can mean "none" */
	uint32_t n_slots;
	uint32_t free_head;      /* free slot list, 0 = empty */
	uint32_t slot_hwm;       /* slots below this have been used at least once */
	_Atomic unsigned *open_total; /* connections over all workers (one relaxed add per connection) */
	uint64_t *waitq;         /* halves waiting for a buffer, as user_data (slot, gen, dir) */
	uint32_t waitq_cap, waitq_head, waitq_tail;
	int64_t now_ms;          /* CLOCK_MONOTONIC_COARSE, refreshed once per loop turn */
	int64_t pipes_retry_at;  /* no new pipe is tried before then after pipe2 failed */
	bool accepting;          /* false once draining: listeners closed */
	struct accept_addr *accept_addrs; /* ACCEPT_ADDR_SLOTS per listener, or NULL: multishot accepts */
	_Atomic bool accept_off; /* every accept has ended (drain waits for it: see workers_accepting) */
	unsigned rearm_seen;     /* the workers_rearm_accepts generation acted on */
	bool stopping;
	uint8_t *last_failed;    /* per backend id: last report to health was a failure */
	bool need_addrs;         /* PROXY or the access log wants each client's addresses */
	bool linger_by_uring;    /* SO_LINGER can be set on a direct descriptor (Linux 6.7+) */
	struct access_log_ring *alog; /* NULL: --access-log is off */
	char (*be_names)[SNAP_NAME_MAX]; /* alog: per backend id, its name when last picked, else NULL.
				  * An id is not reused while a connection holds it, so a finished
				  * connection finds its backend's name here, snapshots gone or not */
	unsigned char *proxy_bufs; /* --accept-proxy: PROXY_HDR_MAX bytes per slot, else NULL */
	struct conn_id *ids;     /* need_addrs: one per slot (conn_id()), else NULL */
	bool need_client_addr;   /* accepts carry addresses: a picker hashes them or client limits need them */
	struct client_table *clients; /* shared by all workers (client_limits.h); NULL: no service limits clients */
	unsigned idle_min_ms;    /* the shortest --idle-timeout of a service, 0: none has one */
	bool has_sni;            /* a listener routes by server name: w->sni is set up, the sweep runs */
	struct worker_sni sni;
	unsigned replay_held;    /* buffers kept by connections for --retry-unanswered (RP_HELD) */
};

#endif
