/* worker_impl: what one worker thread owns, shared by the data plane's own files (worker.c
 * runs the loop, conn.c and the relay leaves act on connections). Private to src/dataplane:
 * the rest of the process sees workers only through slb/dataplane/worker.h. */
#ifndef SLB_WORKER_IMPL_H
#define SLB_WORKER_IMPL_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "slb/common/channel.h"
#include "slb/common/config.h"
#include "slb/dataplane/balance.h"
#include "slb/dataplane/pipe_pool.h"
#include "slb/dataplane/uring.h"

struct conn;
struct access_log_ring;
struct conn_id;

/* Everything one worker thread owns. */
struct worker {
	unsigned idx;
	int cpu;                 /* -1: not pinned */
	int listen_fd;
	const struct slb_config *cfg;
	struct worker_channel *ch;
	struct io_uring ring;
	struct uring_bufs bufs;
	struct pipe_pool pipes;
	const struct balance_ops *balance;
	struct balance_state bal;
	int snap_reader;
	struct conn *conns;      /* slot 0 unused so that 0 can mean "none" */
	uint32_t n_slots;
	uint32_t free_head;      /* free slot list, 0 = empty */
	uint32_t slot_hwm;       /* slots below this have been used at least once */
	_Atomic unsigned *open_total; /* connections over all workers (one relaxed add per connection) */
	uint64_t *waitq;         /* halves waiting for a buffer, as user_data (slot, gen, dir) */
	uint32_t waitq_cap, waitq_head, waitq_tail;
	int64_t now_ms;          /* CLOCK_MONOTONIC_COARSE, refreshed once per loop turn */
	int64_t accept_retry_at; /* accepts paused until then after an accept error */
	int64_t pipes_retry_at;  /* no new pipe is tried before then after pipe2 failed */
	bool accepting;
	bool accept_armed;
	bool stopping;
	uint8_t *last_failed;    /* per backend id: last report to health was a failure */
	bool need_addrs;         /* PROXY or the access log wants each client's addresses */
	bool linger_by_uring;    /* SO_LINGER can be set on a direct descriptor (Linux 6.7+) */
	struct access_log_ring *alog; /* NULL: --access-log is off */
	unsigned char *proxy_bufs; /* --accept-proxy: PROXY_HDR_MAX bytes per slot, else NULL */
	struct conn_id *ids;     /* need_addrs: one per slot (conn_id()), else NULL */
	struct __kernel_timespec connect_ts;
};

#endif
