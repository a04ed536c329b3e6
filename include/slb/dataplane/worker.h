/* worker: the data-plane threads. Each owns an io_uring, a SO_REUSEPORT listener per --listen
 * address, a slot table of connections, its counters and its failure ring; it reads backends
 * only through the snapshot and never touches the health thread's table. */
#ifndef SLB_WORKER_H
#define SLB_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "slb/common/channel.h"
#include "slb/common/config.h"

/* For --check-config: binds each --listen address with a plain bind and closes it at once.
 * Returns 0 or -EINVAL with one "cannot listen on ADDR: reason" line per address added to errs. */
int workers_check_ports(const struct slb_config *cfg, struct config_errors *errs);

/* Listening sockets taken over from the slb that ran before (binary upgrade), by cfg->listen
 * index: every old worker's SO_REUSEPORT socket for that address, each with its own queue. */
struct workers_inherit {
	int fds[CONFIG_MAX_LISTEN][CONFIG_MAX_WORKERS];
	unsigned n[CONFIG_MAX_LISTEN];  /* 0: nothing inherited for that address, bind it */
};

/* Allocates cfg->workers channels and gives each worker a listener for every --listen address,
 * before any thread starts (so "port in use" is reported first). An address with inherited
 * sockets (in may be NULL) is not bound again: worker w serves the sockets j with
 * j % cfg->workers == w, so every inherited queue is served; a worker left without one binds a
 * fresh SO_REUSEPORT socket, which joins the group. Any other address is first checked free
 * with a plain bind, then bound. Every fd of in is the workers' after the call, whatever it
 * returns (in->n is zeroed). Returns 0 or -errno with err filled (the first address that
 * failed); workers_free releases what was opened. */
int workers_prepare(const struct slb_config *cfg, struct workers_inherit *in, char *err, size_t errlen);

/* Every listening socket of every worker, for a new slb taking over: fds[k] serves
 * cfg->listen[addr_idx[k]]. The fds stay the workers'. Only before workers_stop_accepting.
 * Returns how many were written (at most cap). */
unsigned workers_listener_fds(int *fds, unsigned *addr_idx, unsigned cap);

/* The channel of worker i, valid from workers_prepare until workers_free. */
struct worker_channel *workers_channel(unsigned i);
unsigned workers_count(void);

/* Starts the threads. Returns 0 or -errno with err filled (then no thread is left running). */
int workers_start(char *err, size_t errlen);

/* For a reload: binds, for each address of next that run does not have, one SO_REUSEPORT
 * socket per worker (n_workers), after a plain bind has shown the port free, so that "port in
 * use" is an error as at start. Returns 0 with the sockets in out (out->n[i] for next->listen[i],
 * 0 for an address run has), or -errno with "cannot listen on ADDR: reason" in err and nothing
 * left open. The caller owns what it bound until workers_reconfigure takes it. */
int workers_bind_new(const struct slb_config *run, const struct slb_config *next, unsigned n_workers,
		     struct workers_inherit *out, char *err, size_t errlen);

/* Closes the sockets of bound (from workers_bind_new) that no worker took, and empties it:
 * for a reload that failed after binding. */
void workers_close_bound(struct workers_inherit *bound);

/* Whether the workers' accepts return each client's address (a service used maglev at start),
 * and whether they learn each client's addresses (PROXY headers or the access log at start):
 * what maglev and send-proxy need. Fixed from workers_prepare on. */
bool workers_hash_clients(void);
bool workers_learn_clients(void);

/* Whether the workers share a client table (client_limits.h) and so learn each client's
 * address for the --client-* settings: when a service had one at start. Fixed from
 * workers_prepare on. */
bool workers_limit_clients(void);

/* Whether the workers, as set up at start, can serve service svc of cfg (one a reload adds):
 * maglev needs accepts that return client addresses, a PROXY header client addresses
 * learnt, and --client-* settings the client table, which workers arrange only when a
 * service needed them at start. Returns 0, or
 * -ENOTSUP with the reason in err. */
int workers_can_serve(const struct slb_config *cfg, unsigned svc, char *err, size_t errlen);

/* A reload: every worker switches to cfg at the top of its next loop turn (within about
 * 100 ms) and derives its settings again (picker, connect timeout, idle timeout, retries).
 * Its listeners follow cfg->listen by address: an address cfg no longer has stops accepting
 * and is closed (its connections go on), one that moved to another service serves that one,
 * and each worker takes its socket of a new address from bound (workers_bind_new; may be
 * NULL), arms it and serves it. Services only grow in number (service_align). The fields that
 * need threads or memory sized at start (workers, pin, max-conns, relay, a switch to or from
 * maglev) must equal the running ones: the caller keeps them. cfg and bound must stay valid
 * until the next workers_reconfigure or workers_free; the previous cfg may be freed, and the
 * sockets of bound are the workers' (those no running worker took are closed), once this
 * returned 0. Returns 0 once every running worker has switched, or -ETIMEDOUT after 2 s (then
 * the previous config, and bound, may still be in use). */
int workers_reconfigure(const struct slb_config *cfg, struct workers_inherit *bound);

/* Stops accepting: every worker cancels its accepts and closes its listeners; open connections
 * keep relaying, and a connection accepted while the accept was being cancelled is served too. */
void workers_stop_accepting(void);

/* Asks every worker still accepting to cancel its accepts and arm them again (within one loop
 * turn). For a new slb once the old one has stopped accepting on the sockets they shared: the
 * kernel wakes one accept per connection (they wait exclusively), and when the one woken was
 * the old process's, cancelled before it ran, the connection waits in the queue unseen until
 * the next one arrives. A fresh accept looks at the queue first. */
void workers_rearm_accepts(void);

/* True until every worker's accepts have ended after workers_stop_accepting: until then a
 * connection may still arrive, so a drain must not conclude there are none. */
bool workers_accepting(void);

/* Open client connections summed over workers (relaxed; for draining and admin). */
unsigned long workers_open_conns(void);

/* Tells every worker to close what it still has and exit, then joins them. */
void workers_stop_and_join(void);

void workers_free(void);

#endif
