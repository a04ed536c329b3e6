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

/* A reload: every worker switches to cfg at the top of its next loop turn (within about
 * 100 ms) and derives its settings again (picker, connect timeout, idle timeout, retries).
 * The fields that need sockets, threads or memory sized at start (listen, workers, pin,
 * max-conns, relay, a switch to or from maglev) must equal the running ones: the caller
 * keeps them. cfg must stay valid until the next workers_reconfigure or workers_free; the
 * previous one may be freed once this returned 0. Returns 0 once every running worker has
 * switched, or -ETIMEDOUT after 2 s (then the previous config may still be in use). */
int workers_reconfigure(const struct slb_config *cfg);

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
