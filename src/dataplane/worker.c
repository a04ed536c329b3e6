/* worker: the data-plane threads. Each owns its SO_REUSEPORT listeners (listener.c), an
 * io_uring, a pre-sized slot table, a buffer ring and a pipe pool, and runs one loop: wait,
 * dispatch completions (accepts to listener.h, the rest to conn.c), handle the rare things
 * once per turn.
 * The loop turn is also the worker's QSBR quiescent point for the snapshot. */
#include "slb/dataplane/worker.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client_limits.h"
#include "conn.h"
#include "listener.h"
#include "slb/common/access_log.h"
#include "slb/common/clock.h"
#include "slb/common/log.h"
#include "slb/common/snapshot.h"

#define RING_ENTRIES 1024
#define BUF_COUNT 1024             /* provided buffers per worker (power of two) */
#define BUF_SIZE (16u * 1024)      /* one recv at most; a full one switches auto to splice */
#define WAIT_MAX_MS 100            /* longest sleep: bounds drain and stop latency */
#define DIRECT_SPARE 64            /* direct descriptors beyond the slots, so a refusal can accept */

struct worker_boot {
	sem_t ready;
	int status;          /* 0 or -errno, set before ready is posted */
	char err[160];
};

struct worker_thread {
	pthread_t tid;
	bool started;
	struct worker_boot boot;
};

/* The workers as the process sees them: their threads and channels, and what main asks of
 * every worker (drain, stop, re-arm, a new config), which each reads once per loop turn. */
struct worker_set {
	struct worker *workers;
	struct worker_channel *channels;  /* the workers' counters and failure rings */
	unsigned n_channels;              /* mapped (workers_map_channels) */
	unsigned n;
	_Atomic bool drain_requested;
	_Atomic unsigned rearm_gen;       /* bumped by workers_rearm_accepts */
	_Atomic bool stop_requested;
	const struct slb_config *_Atomic cfg_next; /* the newest config, from workers_reconfigure */
	struct workers_inherit *_Atomic bound_next; /* its new addresses' sockets, or NULL */
	bool hash_addrs;                  /* accepts return client addresses (maglev or client limits at start) */
	bool learn_addrs;                 /* each client's addresses are learnt (PROXY, access log) */
	_Atomic unsigned cfg_gen;         /* bumped by each workers_reconfigure */
	_Atomic unsigned open_total;      /* client connections over all workers, for --max-conns */
	struct client_table *clients;     /* per-client counts, shared; NULL: no service limits clients */
	struct worker_thread *threads;
};

static struct worker_set ws;

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

/* The channels hold counters for every id up to SNAP_ID_MAX (about 5 MiB a worker): fresh
 * anonymous pages are zero and become resident only where a worker writes, so the memory
 * taken grows with the backends connected to, not with the highest possible id. (An
 * allocator may hand back used memory, which would then need the memset that makes it all
 * resident.) Returns the channels, page-aligned, or NULL. */
static struct worker_channel *workers_map_channels(unsigned n)
{
	void *p = mmap(NULL, sizeof(struct worker_channel) * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool cfg_sends_proxy(const struct slb_config *cfg);

static int workers_alloc(const struct slb_config *cfg, char *err, size_t errlen)
{
	ws.channels = workers_map_channels(cfg->workers);
	ws.n_channels = ws.channels ? cfg->workers : 0;
	ws.workers = calloc(cfg->workers, sizeof(*ws.workers));
	ws.threads = calloc(cfg->workers, sizeof(*ws.threads));
	if (!ws.channels || !ws.workers || !ws.threads) {
		snprintf(err, errlen, "out of memory for %u workers", cfg->workers);
		return -ENOMEM;
	}
	ws.n = cfg->workers;
	/* decided at start (workers_limit_clients): a reload cannot add the table */
	if (!config_limits_clients(cfg))
		return 0;
	ws.clients = client_table_new(CLIENT_TABLE_SIZE);
	if (ws.clients)
		return 0;
	snprintf(err, errlen, "out of memory for the client table");
	return -ENOMEM;
}

int workers_prepare(const struct slb_config *cfg, struct workers_inherit *in, char *err, size_t errlen)
{
	int ret;

	ret = listeners_check_free(cfg, in, err, errlen);
	if (!ret)
		ret = workers_alloc(cfg, err, errlen);
	/* as worker_init_picker decides it: maglev, or client limits that read accept's address */
	ws.hash_addrs = ws.clients && !cfg->accept_proxy;
	for (unsigned i = 0; i < cfg->n_services; i++)
		ws.hash_addrs |= cfg->services[i].balance == BALANCE_MAGLEV;
	ws.learn_addrs = cfg->accept_proxy || cfg->access_log[0] || cfg_sends_proxy(cfg);
	for (unsigned i = 0; !ret && i < ws.n; i++) {
		struct worker *w = &ws.workers[i];

		w->idx = i;
		w->cfg = cfg;
		w->ch = &ws.channels[i];
		w->cpu = cfg->pin ? (int)(i % online_cpus()) : -1;
		w->clients = ws.clients;
		ret = listeners_open(w, in, ws.n, err, errlen);
	}
	listeners_close_inherited(in); /* none is left when every worker got its share */
	return ret;
}

struct worker_channel *workers_channel(unsigned i)
{
	return &ws.channels[i];
}

unsigned workers_count(void)
{
	return ws.n;
}

static int worker_alloc_slots(struct worker *w)
{
	/* --max-conns is one limit for the process (open_total), and SO_REUSEPORT spreads clients
	 * by hash, not evenly, so any worker may hold them all. Slots are handed out from a
	 * high-water mark, so pages of the table are touched only once connections use them. */
	w->n_slots = w->cfg->max_conns + 1; /* slot 0 means "none" */
	w->slot_hwm = 1;
	w->open_total = &ws.open_total;
	w->conns = calloc(w->n_slots, sizeof(*w->conns));
	w->waitq_cap = 2 * w->n_slots;
	w->waitq = calloc(w->waitq_cap, sizeof(*w->waitq));
	w->last_failed = calloc(snap_id_limit(), 1);
	if (!w->conns || !w->waitq || !w->last_failed)
		return -ENOMEM;
	return 0;
}

static bool cfg_sends_proxy(const struct slb_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].send_proxy)
			return true;
	for (unsigned i = 0; i < cfg->n_backends; i++)
		if (cfg->backends[i].send_proxy)
			return true;
	return false;
}

/* What the client-identity features need; nothing of it when they are off. */
static int worker_init_ident(struct worker *w, struct worker_boot *boot)
{
	const struct slb_config *cfg = w->cfg;

	w->alog = access_log_ring(w->idx);
	w->need_addrs = cfg->accept_proxy || w->alog || cfg_sends_proxy(cfg);
	if (w->need_addrs && !uring_opcode_supported(IORING_OP_FIXED_FD_INSTALL)) {
		snprintf(boot->err, sizeof(boot->err), "--send-proxy, --accept-proxy and --access-log need Linux 6.8 "
			 "(IORING_OP_FIXED_FD_INSTALL, to learn a client's address)");
		return -ENOSYS;
	}
	if (w->need_addrs)
		w->ids = calloc(w->n_slots, sizeof(*w->ids)); /* pages touched only as slots are used */
	if (cfg->accept_proxy)
		w->proxy_bufs = calloc(w->n_slots, PROXY_HDR_MAX);
	if (w->alog)
		w->be_names = calloc(snap_id_limit(), sizeof(*w->be_names));
	if ((w->need_addrs && !w->ids) || (cfg->accept_proxy && !w->proxy_bufs) || (w->alog && !w->be_names)) {
		snprintf(boot->err, sizeof(boot->err), "out of memory for worker %u", w->idx);
		return -ENOMEM;
	}
	return 0;
}

/* Resets to clients (backend reset, drain timeout) need SO_LINGER on a direct descriptor. */
static void worker_probe_linger(struct worker *w)
{
	w->linger_by_uring = uring_probe_linger(&w->ring);
	if (w->idx != 0)
		return;
	if (w->linger_by_uring)
		slb_log(LOG_INFO, 0, "clients cut short get a reset: SO_LINGER through io_uring (Linux 6.7+)");
	else
		slb_log(LOG_WARN, 0, "clients cut short see a clean close (FIN), not a reset: this kernel cannot "
			"set SO_LINGER through io_uring (Linux 6.7+)");
}

static unsigned worker_direct_table_size(const struct worker *w)
{
	struct rlimit rl;
	unsigned want = w->n_slots + DIRECT_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		return (unsigned)rl.rlim_cur;
	return want;
}

/* What a worker precomputes from its config, at start and after each reload: per service
 * the connect timeout as io_uring takes it, and the shortest idle timeout for the sweep. */
static void worker_derive_settings(struct worker *w)
{
	w->idle_min_ms = 0;
	for (unsigned i = 0; i < w->cfg->n_services; i++) {
		const struct service_config *s = &w->cfg->services[i];

		w->svc[i].connect_ts.tv_sec = s->connect_timeout_ms / 1000;
		w->svc[i].connect_ts.tv_nsec = (long long)(s->connect_timeout_ms % 1000) * 1000000;
		if (s->idle_timeout_ms && (!w->idle_min_ms || s->idle_timeout_ms < w->idle_min_ms))
			w->idle_min_ms = s->idle_timeout_ms;
	}
}

static void worker_pin(const struct worker *w)
{
	cpu_set_t set;
	int ret;

	if (w->cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret)
		slb_log(LOG_WARN, ret, "worker %u: cannot pin to CPU %d", w->idx, w->cpu);
}

/* The ring, its provided buffers and its table of direct descriptors: one per slot plus a
 * few that accept may hold before we refuse (the kernel caps a table at RLIMIT_NOFILE). */
static int worker_init_ring(struct worker *w, struct worker_boot *boot)
{
	const char *mode = "";
	int ret = uring_setup(&w->ring, RING_ENTRIES, &mode);

	if (ret) {
		snprintf(boot->err, sizeof(boot->err),
			 "io_uring is unavailable (%s): slb needs it (check kernel.io_uring_disabled and seccomp)",
			 strerror(-ret));
		return ret;
	}
	slb_log(w->idx == 0 ? LOG_INFO : LOG_DEBUG, 0, "worker %u: io_uring %s, cpu %d", w->idx, mode, w->cpu);
	ret = uring_bufs_init(&w->ring, &w->bufs, 0, BUF_COUNT, BUF_SIZE);
	if (ret) {
		snprintf(boot->err, sizeof(boot->err), "cannot register io_uring buffer ring: %s", strerror(-ret));
		return ret;
	}
	ret = pipe_pool_init(&w->pipes, w->cfg->pipes_per_worker); /* sized by main from ulimit -n */
	if (!ret)
		ret = worker_alloc_slots(w);
	if (ret) {
		snprintf(boot->err, sizeof(boot->err), "out of memory for worker %u", w->idx);
		return ret;
	}
	ret = io_uring_register_files_sparse(&w->ring, worker_direct_table_size(w));
	if (ret)
		snprintf(boot->err, sizeof(boot->err), "cannot register %u direct descriptors (kernel 5.19+ needed): %s",
			 worker_direct_table_size(w), strerror(-ret));
	return ret;
}

/* Each service's picker, and with maglev or client limits the address buffers of single-shot
 * accepts (on every listener: a few buffers each, rather than a second accept path per
 * service). */
static int worker_init_picker(struct worker *w, struct worker_boot *boot)
{
	for (unsigned i = 0; i < w->cfg->n_services; i++) {
		struct worker_service *s = &w->svc[i];

		s->balance = balance_ops_for(w->cfg->services[i].balance);
		balance_state_init(&s->bal, s->balance, &w->cfg->services[i], w->idx, &w->ch->stats);
		w->need_client_addr |= s->balance->needs_client_addr;
	}
	/* client limits read the address accept writes; with --accept-proxy, the header's */
	if (w->clients && !w->cfg->accept_proxy)
		w->need_client_addr = true;
	if (!w->need_client_addr)
		return 0;
	if (listeners_alloc_addrs(w) == 0)
		return 0;
	snprintf(boot->err, sizeof(boot->err), "out of memory for worker %u", w->idx);
	return -ENOMEM;
}

static int worker_init(struct worker *w, struct worker_boot *boot)
{
	int ret;

	worker_pin(w);
	ret = worker_init_ring(w, boot);
	if (ret)
		return ret;
	ret = worker_init_ident(w, boot);
	if (ret)
		return ret;
	ret = conn_sni_init(w, boot->err, sizeof(boot->err));
	if (ret)
		return ret;
	worker_probe_linger(w);
	w->snap_reader = snapshot_reader_register();
	if (w->snap_reader < 0) {
		snprintf(boot->err, sizeof(boot->err), "too many snapshot readers");
		return w->snap_reader;
	}
	ret = worker_init_picker(w, boot);
	if (ret)
		return ret;
	worker_derive_settings(w);
	w->accepting = true;
	w->now_ms = clock_coarse_ms();
	return 0;
}

/* See workers_rearm_accepts: once disarmed, listeners_rearm arms them again. */
static void worker_take_rearm(struct worker *w)
{
	unsigned gen = atomic_load_explicit(&ws.rearm_gen, memory_order_relaxed);

	if (gen == w->rearm_seen)
		return;
	w->rearm_seen = gen;
	listeners_cancel_armed(w);
}

static unsigned worker_reap(struct worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		if (uring_ud_op(cqe->user_data) == OP_ACCEPT)
			listener_on_accept(w, cqe);
		else
			conn_handle_cqe(w, cqe);
		n++;
	}
	io_uring_cq_advance(&w->ring, n);
	return n;
}

/* How often idle connections (and late PROXY headers) are looked for: a quarter of the
 * shortest timeout, 10 ms to 1 s. */
static unsigned worker_sweep_ms(const struct worker *w)
{
	unsigned ms = w->idle_min_ms / 4;

	if (w->need_addrs && (ms == 0 || w->cfg->proxy_timeout_ms / 4 < ms))
		ms = w->cfg->proxy_timeout_ms / 4;
	if (w->has_sni && (ms == 0 || w->cfg->sni_timeout_ms / 4 < ms))
		ms = w->cfg->sni_timeout_ms / 4;

	return ms < 10 ? 10 : ms > 1000 ? 1000 : ms;
}

/* A reload published a new config: switch to it between two loop turns, so every decision
 * of one turn sees one config, then tell workers_reconfigure (cfg_seen). */
static void worker_take_config(struct worker *w)
{
	unsigned gen = atomic_load_explicit(&ws.cfg_gen, memory_order_acquire);

	const struct slb_config *old = w->cfg;

	if (gen == atomic_load_explicit(&w->cfg_seen, memory_order_relaxed))
		return;
	w->cfg = atomic_load_explicit(&ws.cfg_next, memory_order_relaxed);
	for (unsigned i = 0; i < w->cfg->n_services; i++) {
		w->svc[i].balance = balance_ops_for(w->cfg->services[i].balance);
		if (i < old->n_services)
			balance_state_reconfigure(&w->svc[i].bal, w->svc[i].balance, &w->cfg->services[i]);
		else /* a service added by the reload (service_align: indexes only grow) */
			balance_state_init(&w->svc[i].bal, w->svc[i].balance, &w->cfg->services[i], w->idx,
					   &w->ch->stats);
	}
	listeners_follow(w, old, atomic_load_explicit(&ws.bound_next, memory_order_relaxed));
	/* the closes of removed listeners go to the kernel before the acknowledgement, so a next
	 * reload that binds such an address again finds it free */
	io_uring_submit(&w->ring);
	worker_derive_settings(w);
	atomic_store_explicit(&w->cfg_seen, gen, memory_order_release);
}

/* The rare things, checked once per loop turn: reload, drain, stop, accept re-arm, idle
 * sweep. */
static void worker_tick(struct worker *w, int64_t *next_sweep)
{
	worker_take_config(w);
	/* acquire: what main did before asking (a takeover read the listener fds) comes before
	 * this worker closes them */
	if (atomic_load_explicit(&ws.drain_requested, memory_order_acquire))
		listeners_stop_accepting(w);
	if (atomic_load_explicit(&ws.stop_requested, memory_order_relaxed) && !w->stopping) {
		w->stopping = true;
		listeners_stop_accepting(w);
		conn_sweep(w, true);
	}
	if (w->accepting) {
		worker_take_rearm(w);
		listeners_rearm(w);
	}
	if ((w->idle_min_ms || w->need_addrs || w->has_sni) && w->now_ms >= *next_sweep) {
		conn_sweep(w, false);
		*next_sweep = w->now_ms + worker_sweep_ms(w);
	}
}

/* The longest sleep: WAIT_MAX_MS, shorter when the idle sweep is due more often. */
static long long worker_wait_ns(const struct worker *w)
{
	if ((w->idle_min_ms || w->need_addrs || w->has_sni) && worker_sweep_ms(w) < WAIT_MAX_MS)
		return (long long)worker_sweep_ms(w) * 1000000;
	return WAIT_MAX_MS * 1000000LL;
}

static void worker_loop(struct worker *w)
{
	struct __kernel_timespec ts = { 0 };
	int64_t next_sweep = 0, stop_deadline = 0;
	struct io_uring_cqe *cqe;

	listeners_rearm(w);
	for (;;) {
		worker_reap(w);
		worker_tick(w, &next_sweep);
		if (w->stopping) {
			if (!stop_deadline)
				stop_deadline = w->now_ms + 1000;
			if (stat_get(&w->ch->stats.active) == 0 || w->now_ms >= stop_deadline)
				break;
		}
		stat_add(&w->ch->stats.loop_turns, 1);
		ts.tv_nsec = worker_wait_ns(w);
		snapshot_offline(w->snap_reader);
		io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		snapshot_online(w->snap_reader); /* the quiescent point: no snapshot pointer is held here */
		w->now_ms = clock_coarse_ms();
	}
	snapshot_offline(w->snap_reader);
	/* The last closes (and the SO_LINGER before them) are queued but not yet submitted. */
	io_uring_submit(&w->ring);
	io_uring_get_events(&w->ring);
}

static void worker_free(struct worker *w)
{
	uring_bufs_free(&w->ring, &w->bufs);
	pipe_pool_free(&w->pipes);
	if (w->ring.ring_fd > 0)
		io_uring_queue_exit(&w->ring);
	free(w->conns);
	free(w->waitq);
	free(w->last_failed);
	free(w->accept_addrs);
	w->accept_addrs = NULL;
	conn_sni_free(w);
	free(w->proxy_bufs);
	free(w->ids);
	free(w->be_names);
	w->be_names = NULL;
	w->proxy_bufs = NULL;
	w->ids = NULL;
	w->conns = NULL;
	w->waitq = NULL;
	w->last_failed = NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct worker_boot *boot = &ws.threads[w->idx].boot;
	char name[16];

	snprintf(name, sizeof(name), "worker%u", w->idx);
	log_set_thread_name(name);
	pthread_setname_np(pthread_self(), name);
	boot->status = worker_init(w, boot);
	sem_post(&boot->ready);
	if (boot->status == 0)
		worker_loop(w);
	listeners_close(w);
	worker_free(w);
	return NULL;
}

int workers_start(char *err, size_t errlen)
{
	for (unsigned i = 0; i < ws.n; i++) {
		struct worker_thread *t = &ws.threads[i];
		int ret;

		sem_init(&t->boot.ready, 0, 0);
		ret = pthread_create(&t->tid, NULL, worker_main, &ws.workers[i]);
		if (ret) {
			snprintf(err, errlen, "cannot start worker %u: %s", i, strerror(ret));
			workers_stop_and_join();
			return -ret;
		}
		t->started = true;
		sem_wait(&t->boot.ready);
		if (t->boot.status) {
			snprintf(err, errlen, "%s", t->boot.err);
			ret = t->boot.status;
			workers_stop_and_join();
			return ret;
		}
	}
	return 0;
}

/* See worker.h. */
bool workers_hash_clients(void)
{
	return ws.hash_addrs;
}

/* See worker.h. */
bool workers_learn_clients(void)
{
	return ws.learn_addrs;
}

/* See worker.h. */
bool workers_limit_clients(void)
{
	return ws.clients != NULL;
}

/* See worker.h. */
int workers_can_serve(const struct slb_config *cfg, unsigned svc, char *err, size_t errlen)
{
	const struct service_config *s = &cfg->services[svc];
	bool proxy = s->send_proxy != PROXY_NONE;

	for (unsigned i = 0; i < cfg->n_backends; i++)
		proxy |= cfg->backends[i].service == svc && cfg->backends[i].send_proxy != PROXY_NONE;
	if (s->balance == BALANCE_MAGLEV && !ws.hash_addrs) {
		snprintf(err, errlen, "service %s: balance maglev: the workers were started without a maglev service, "
			 "so their accepts do not return client addresses; that takes an upgrade or restart", s->name);
		return -ENOTSUP;
	}
	if (proxy && !ws.learn_addrs) {
		snprintf(err, errlen, "service %s: send-proxy: the workers were started without PROXY headers or an "
			 "access log, so they do not learn client addresses; that takes an upgrade or restart", s->name);
		return -ENOTSUP;
	}
	if (service_limits_clients(s) && !ws.clients) {
		snprintf(err, errlen, "service %s: client-*: the workers were started without per-client limits or "
			 "rules, so they keep no client table; that takes an upgrade or restart", s->name);
		return -ENOTSUP;
	}
	return 0;
}

/* See worker.h. */
int workers_reconfigure(const struct slb_config *cfg, struct workers_inherit *bound)
{
	unsigned gen = atomic_load(&ws.cfg_gen) + 1;
	int64_t deadline = clock_now_ms() + 2000;

	atomic_store_explicit(&ws.cfg_next, cfg, memory_order_relaxed);
	atomic_store_explicit(&ws.bound_next, bound, memory_order_relaxed);
	atomic_store_explicit(&ws.cfg_gen, gen, memory_order_release);
	for (unsigned i = 0; i < ws.n; i++) {
		while (ws.threads[i].started &&
		       atomic_load_explicit(&ws.workers[i].cfg_seen, memory_order_acquire) != gen) {
			struct timespec ts = { 0, 1000000 };

			if (clock_now_ms() >= deadline)
				return -ETIMEDOUT;
			nanosleep(&ts, NULL);
		}
	}
	listeners_close_inherited(bound); /* sockets of workers that are not running */
	return 0;
}

/* See worker.h. */
void workers_close_bound(struct workers_inherit *bound)
{
	listeners_close_inherited(bound);
}

/* See worker.h. */
void workers_rearm_accepts(void)
{
	atomic_fetch_add_explicit(&ws.rearm_gen, 1, memory_order_relaxed);
}

/* See worker.h. */
void workers_stop_accepting(void)
{
	atomic_store(&ws.drain_requested, true);
}

bool workers_accepting(void)
{
	for (unsigned i = 0; i < ws.n; i++)
		if (ws.threads[i].started && !atomic_load_explicit(&ws.workers[i].accept_off, memory_order_acquire))
			return true;
	return false;
}

unsigned workers_listener_fds(int *fds, unsigned *addr_idx, unsigned cap)
{
	unsigned k = 0;

	for (unsigned i = 0; i < ws.n; i++) {
		for (unsigned j = 0; j < ws.workers[i].n_listeners && k < cap; j++) {
			if (ws.workers[i].listeners[j].fd < 0)
				continue;
			fds[k] = ws.workers[i].listeners[j].fd;
			addr_idx[k++] = ws.workers[i].listeners[j].addr_idx;
		}
	}
	return k;
}

unsigned long workers_open_conns(void)
{
	unsigned long n = 0;

	for (unsigned i = 0; i < ws.n; i++)
		n += stat_get(&ws.channels[i].stats.active);
	return n;
}

void workers_stop_and_join(void)
{
	atomic_store(&ws.stop_requested, true);
	for (unsigned i = 0; i < ws.n; i++) {
		if (!ws.threads[i].started)
			continue;
		pthread_join(ws.threads[i].tid, NULL);
		ws.threads[i].started = false;
	}
}

void workers_free(void)
{
	for (unsigned i = 0; ws.workers && i < ws.n; i++) {
		listeners_close(&ws.workers[i]);
		free(ws.workers[i].listeners);
	}
	free(ws.workers);
	if (ws.channels)
		munmap(ws.channels, sizeof(*ws.channels) * ws.n_channels);
	free(ws.threads);
	client_table_free(ws.clients);
	ws.clients = NULL;
	ws.workers = NULL;
	ws.channels = NULL;
	ws.threads = NULL;
	ws.n = 0;
}
