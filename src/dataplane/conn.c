/* conn: the life of one client connection: take a slot, pick a backend, connect with a
 * timeout (retrying elsewhere on failure), relay both ways, pass half-closes on, and tear
 * down once every in-flight operation has come back. All retries go through
 * conn_connect_next, all teardown through conn_finalize. */
#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_limits.h"
#include "slb/common/clock.h"
#include "slb/common/failq.h"
#include "slb/common/log.h"
#include "slb/common/proxy_proto.h"
#include "slb/common/snapshot.h"
#include "slb/dataplane/tls_hello.h"

static struct conn *conn_alloc(struct worker *w)
{
	struct conn *c;
	uint32_t slot = w->free_head;

	if (atomic_fetch_add_explicit(w->open_total, 1, memory_order_relaxed) >= w->cfg->max_conns) {
		atomic_fetch_sub_explicit(w->open_total, 1, memory_order_relaxed);
		return NULL;
	}
	if (slot) {
		c = &w->conns[slot];
		w->free_head = c->next_free;
	} else {
		/* open_total < max_conns < n_slots, so the table cannot be exhausted here */
		slot = w->slot_hwm++;
		c = &w->conns[slot];
	}
	c->gen = (c->gen + 1) & 0xffffff;
	c->state = CONN_CONNECTING;
	c->abort = 0;
	c->inflight = 0;
	c->cfd = -1;
	c->bfd = -1;
	c->cfd_sys = -1;
	c->installing = 0;
	c->shut_pending = 0;
	c->no_splice = 0;
	c->connected = 0;
	c->end = END_NONE;
	c->send_proxy = PROXY_NONE;
	c->replay = RP_OFF;
	c->refusing = 0;
	c->rp_wait = 0;
	c->proxy_len = 0;
	c->sni_group = 0;
	c->hello = 0;
	if (w->ids)
		memset(conn_id(w, c), 0, offsetof(struct conn_id, accept_ms));
	c->backend_id = 0;
	c->client_entry = 0;
	c->tried.n = 0;
	c->last_active_ms = w->now_ms;
	memset(c->h, 0, sizeof(c->h));
	return c;
}

static void close_fd_async(struct worker *w, int fd, bool fixed)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	if (fixed)
		io_uring_prep_close_direct(sqe, (unsigned)fd);
	else
		io_uring_prep_close(sqe, fd);
	io_uring_sqe_set_data64(sqe, uring_ud(OP_IGNORE, 0, 0, 0));
}

/* An abortive close sends RST, so the peer learns that the stream was cut, not finished. */
static void set_linger_zero(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void backend_leg_close(struct worker *w, struct conn *c)
{
	if (c->bfd >= 0) {
		if (c->abort)
			set_linger_zero(c->bfd);
		close_fd_async(w, c->bfd, false);
		c->bfd = -1;
	}
	if (c->backend_id) {
		stat_sub(&w->ch->stats.be[c->backend_id].active, 1);
		balance_conn_close(c->backend_id, c->counted);
		c->backend_id = 0;
	}
}

/* A client cut short by its backend's reset or by the drain timeout must see a reset, not a
 * clean end of stream: without length framing it would take a truncated answer for a whole
 * one. A client refused by its service's client rules is reset too, as HAProxy's
 * "tcp-request connection reject" does: it learns at once, and no backend ever saw it.
 * SO_LINGER 0 goes on its regular twin when it has one; else on the direct descriptor
 * through io_uring (SOCKET_URING_OP_SETSOCKOPT, 6.7), hard-linked so that the close runs
 * whatever the setsockopt says. Before 6.7 such a client sees a FIN (said once at start-up). */
static bool client_gets_rst(const struct worker *w, const struct conn *c)
{
	if (c->end == END_BACKEND_RESET || c->end == END_DRAIN_TIMEOUT || c->end == END_CLIENT_DENIED ||
	    c->end == END_CLIENT_LIMIT)
		return true;
	return c->refusing && w->cfg->services[c->svc].no_backend == NO_BACKEND_RESET;
}

static void client_leg_close(struct worker *w, struct conn *c)
{
	bool rst = c->abort && client_gets_rst(w, c);

	if (c->cfd_sys >= 0) {
		if (rst)
			set_linger_zero(c->cfd_sys);
		close_fd_async(w, c->cfd_sys, false);
		c->cfd_sys = -1;
	} else if (rst && w->linger_by_uring) {
		struct io_uring_sqe *sqe;

		uring_reserve(&w->ring, 2); /* the setsockopt and the close below, one chain */
		sqe = uring_sqe(&w->ring);

		uring_prep_linger_zero(sqe, c->cfd);
		sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
		io_uring_sqe_set_data64(sqe, uring_ud(OP_IGNORE, 0, 0, 0));
	}
	close_fd_async(w, c->cfd, true);
	c->cfd = -1;
}

/* Every in-flight CQE has come back: give back buffers, pipes, descriptors and the slot. */
static void conn_release(struct worker *w, struct conn *c)
{
	uint32_t slot = conn_slot(w, c);

	if (w->alog)
		conn_log_access(w, c, (enum access_log_end)c->end);
	for (unsigned dir = 0; dir < 2; dir++) {
		relay_copy_release(w, c, dir);
		relay_splice_release(w, c, dir);
	}
	conn_sni_release(w, c);
	if (c->replay)
		conn_replay_drop(w, c);
	backend_leg_close(w, c);
	if (c->cfd >= 0)
		client_leg_close(w, c);
	client_table_release(w->clients, c->client_entry); /* every close path ends here, once */
	c->state = CONN_FREE;
	c->gen = (c->gen + 1) & 0xffffff;
	c->next_free = w->free_head;
	w->free_head = slot;
	atomic_fetch_sub_explicit(w->open_total, 1, memory_order_relaxed);
	stat_sub(&w->ch->stats.active, 1);
}

static void cancel_fd(struct worker *w, struct conn *c, int fd, bool fixed)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL | (fixed ? IORING_ASYNC_CANCEL_FD_FIXED : 0));
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_CANCEL, 0));
	c->inflight++;
}

static bool conn_has_io_pending(const struct conn *c)
{
	for (unsigned dir = 0; dir < 2; dir++)
		if (c->h[dir].reading || c->h[dir].writing)
			return true;
	return c->state == CONN_CONNECTING || c->state == CONN_IDENT || c->state == CONN_SNI;
}

void conn_finalize(struct worker *w, struct conn *c, bool abortive)
{
	bool io_pending = conn_has_io_pending(c);

	if (c->state == CONN_CLOSING || c->state == CONN_FREE)
		return;
	conn_set_end(c, END_ERROR); /* callers that know better said so first */
	c->state = CONN_CLOSING;
	c->abort = abortive;
	if (c->inflight == 0) {
		conn_release(w, c);
		return;
	}
	/* Pending recvs, polls and splices hold the files; cancel them so the slot comes back.
	 * After a clean close only shutdowns can be in flight, and they finish on their own. */
	if (!abortive && !io_pending)
		return;
	if (c->cfd >= 0)
		cancel_fd(w, c, c->cfd, true);
	if (c->bfd >= 0)
		cancel_fd(w, c, c->bfd, false);
}

/* Time to first byte, per turn of the conversation: the first bytes up after bytes went down
 * (or after the connect) open a turn, the first bytes down close it with a sample. So a
 * keep-alive connection gives one sample per request, and a server that speaks first gives
 * one from the connect. Costs two bit tests per transfer and one clock read already made. */
static void conn_time_turn(struct worker *w, struct conn *c, unsigned dir, struct backend_stats *bs)
{
	if (dir == DIR_UP) {
		if (!c->turn_up) {
			c->turn_up = 1;
			c->ttfb_wait = 1;
			c->mark_ms = (uint32_t)w->now_ms;
		}
		return;
	}
	if (c->ttfb_wait) {
		c->ttfb_wait = 0;
		lat_ewma_add(&bs->ttfb, (uint32_t)w->now_ms - c->mark_ms, w->now_ms);
	}
	c->turn_up = 0;
}

void conn_count_bytes(struct worker *w, struct conn *c, unsigned dir, unsigned n)
{
	struct backend_stats *bs = &w->ch->stats.be[c->backend_id];

	if (c->replay)
		conn_replay_on_bytes(w, c, dir);
	conn_time_turn(w, c, dir, bs);
	if (w->ids)
		conn_id(w, c)->bytes[dir] += n;
	if (dir == DIR_UP) {
		stat_add(&w->ch->stats.bytes_in, n);
		stat_add(&bs->bytes_to_backend, n);
	} else {
		stat_add(&w->ch->stats.bytes_out, n);
		stat_add(&bs->bytes_to_client, n);
	}
	c->last_active_ms = w->now_ms;
}

/* See conn.h. */
void conn_report_backend(struct worker *w, uint32_t id, enum failq_kind kind)
{
	bool failed = kind != FAILQ_CONNECT_OK;

	/* Successes are only news to health after a failure: keeps the ring quiet when all is well. */
	if (!failed && !w->last_failed[id])
		return;
	if (failq_push(&w->ch->failq, id, kind))
		w->last_failed[id] = failed;
}

static int backend_socket(const struct slb_addr *a)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Picks a backend not tried yet and starts connecting. Returns 0, -ENOENT when no live
 * backend is left to try, or -errno when no socket can be had (EMFILE...); on error the
 * caller closes the client. */
static int conn_connect_next(struct worker *w, struct conn *c)
{
	const struct snapshot *snap = snapshot_current(); /* valid until this loop turn ends */
	struct worker_service *ws = &w->svc[c->svc];
	const struct snap_pool *pool;
	struct io_uring_sqe *sqe;
	int idx, fd;

	/* health builds a pool per service and publishes a reload's new ones before workers take
	 * the reload (health_reconfigure), so the second test only guards that order */
	if (!snap || c->svc >= snap->n_pools)
		return -ENOENT;
	pool = snap->pool[c->svc];
	idx = ws->balance->pick(pool, &ws->bal, &c->tried, c->hash_key);
	if (idx < 0)
		return -ENOENT;
	fd = backend_socket(&pool->be[idx].addr);
	if (fd < 0)
		return fd;
	c->bfd = fd;
	c->mark_ms = (uint32_t)w->now_ms;
	c->backend_id = pool->be[idx].id;
	c->baddr = pool->be[idx].addr;
	if (w->be_names)
		memcpy(w->be_names[c->backend_id], pool->be[idx].name, SNAP_NAME_MAX);
	c->send_proxy = pool->be[idx].send_proxy ? pool->be[idx].send_proxy
						 : (uint8_t)w->cfg->services[c->svc].send_proxy;
	balance_exclude_add(&c->tried, c->backend_id);
	stat_add(&w->ch->stats.be[c->backend_id].active, 1);
	c->counted = balance_conn_open(&ws->bal, c->backend_id);

	uring_reserve(&w->ring, 2); /* the connect and its timeout, one chain */
	sqe = uring_sqe(&w->ring);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&c->baddr.ss, c->baddr.len);
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_CONNECT, 0));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = uring_sqe(&w->ring);
	io_uring_prep_link_timeout(sqe, &ws->connect_ts, 0);
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_CONNECT_TIMEOUT, 0));
	c->inflight += 2;
	return 0;
}

/* No backend for this client: say why once per burst, count it, close the client. */
static void conn_give_up(struct worker *w, struct conn *c, int why)
{
	conn_set_end(c, why == -ENOENT ? END_CONNECT_FAILED : END_ERROR);
	if (why == -ENOENT) {
		stat_add(&w->ch->stats.no_backend, 1);
		slb_log_limited(LOG_WARN, 0, "no live backend left to try for a client: closing it");
	} else {
		stat_add(&w->ch->stats.rejected, 1);
		slb_log_limited(LOG_WARN, why, "cannot open a backend socket: closing a client");
	}
	conn_refuse(w, c);
}

/* See conn.h. */
bool conn_reads_by_copy(const struct worker *w, const struct conn *c, unsigned dir)
{
	return c->no_splice || !w->pipes.cap || w->cfg->relay == RELAY_COPY ||
	       (w->cfg->relay == RELAY_AUTO && !c->h[dir].bulk);
}

/* The client's first recv goes out with the connect rather than after it: the request is
 * usually there already, so it is in hand when the connect completes (often in the same loop
 * turn) and goes to the backend at once, a loop turn earlier than reading it after the connect.
 * Only a copy recv: a splice would need the client's twin first. */
void conn_connect_first(struct worker *w, struct conn *c)
{
	int ret;

	c->state = CONN_CONNECTING;
	ret = conn_connect_next(w, c);
	if (ret) {
		conn_give_up(w, c, ret);
		return;
	}
	if (conn_reads_by_copy(w, c, DIR_UP))
		relay_copy_arm(w, c, DIR_UP);
}

/* See conn.h. */
void conn_route(struct worker *w, struct conn *c)
{
	if (c->sni_group)
		conn_sni_start(w, c);
	else
		conn_connect_first(w, c);
}

void conn_accept(struct worker *w, int fd, unsigned svc, uint64_t key, const struct sockaddr *peer,
		 unsigned sni_group) /* fd: a direct descriptor */
{
	struct conn *c = conn_alloc(w);

	stat_add(&w->ch->stats.accepted, 1);
	if (!c) {
		stat_add(&w->ch->stats.rejected, 1);
		slb_log_limited(LOG_WARN, 0, "at its connection limit (--max-conns %u): refusing a client",
				w->cfg->max_conns);
		if (w->alog)
			conn_log_access(w, NULL, END_MAX_CONNS);
		close_fd_async(w, fd, true);
		return;
	}
	stat_add(&w->ch->stats.active, 1);
	c->cfd = fd;
	c->svc = (uint16_t)svc;
	c->sni_group = (uint16_t)sni_group;
	c->replay = w->cfg->services[svc].retry_unanswered ? RP_ARMED : RP_OFF;
	c->hash_key = key;
	if (w->alog)
		conn_id(w, c)->accept_ms = clock_now_ms();
	/* with --accept-proxy the client is the header's: checked once it is read (conn_ident.c) */
	if (w->clients && !w->cfg->accept_proxy && !client_limits_admit_conn(w, c, peer))
		return;
	if (w->need_addrs)
		conn_ident_start(w, c);
	else
		conn_route(w, c);
}

static enum failq_kind connect_failure_kind(int res)
{
	switch (res) {
	case -ECANCELED:
	case -ETIME:
	case -ETIMEDOUT:
		return FAILQ_CONNECT_TIMEOUT;
	case -ECONNREFUSED:
		return FAILQ_CONNECT_REFUSED;
	default:
		return FAILQ_CONNECT_ERROR;
	}
}

/* See conn.h. */
void conn_start_relay(struct worker *w, struct conn *c)
{
	struct half *up = &c->h[DIR_UP];

	c->state = CONN_RELAYING;
	c->last_active_ms = w->now_ms;
	conn_arm_read(w, c, DIR_DOWN);
	if (up->reading)
		return; /* the early recv still waits for the client */
	if (up->has_buf)
		relay_copy_forward(w, c, DIR_UP);
	else if (up->eof_early)
		conn_half_eof(w, c, DIR_UP);
	else
		conn_arm_read(w, c, DIR_UP);
}

static void conn_log_connect_failure(struct worker *w, const struct conn *c, int res)
{
	char addr[ADDR_TEXT_MAX];

	addr_format(&c->baddr, addr, sizeof(addr));
	if (connect_failure_kind(res) == FAILQ_CONNECT_TIMEOUT)
		slb_log_limited(LOG_WARN, 0, "connect to backend %s timed out after %u ms; trying another", addr,
				w->cfg->services[c->svc].connect_timeout_ms);
	else
		slb_log_limited(LOG_WARN, res, "connect to backend %s failed; trying another", addr);
}

/* The PROXY header goes first on a backend connection, before any byte of the client's (the
 * relay starts after it). A plain send(2): the socket has just connected, so its empty send
 * buffer takes the header whole; anything else means the backend is already gone. */
static int conn_send_proxy_header(const struct worker *w, struct conn *c)
{
	const struct conn_id *id = conn_id(w, c);
	const struct tls_hello *hello = conn_sni_hello(w, c);
	unsigned char hdr[PROXY_V2_FIXED + 36 + 3 + TLS_NAME_MAX]; /* v2 TCP6 and an authority TLV; > v1's 108 */
	int n = proxy_build_authority((enum proxy_version)c->send_proxy, &id->client, &id->local,
				      hello ? hello->name : NULL, hello ? hello->name_len : 0, hdr, sizeof(hdr));
	ssize_t sent;

	if (n < 0)
		return n;
	sent = send(c->bfd, hdr, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent == n)
		return 0;
	return sent < 0 ? -errno : -EIO;
}

/* See conn.h. */
int conn_reconnect(struct worker *w, struct conn *c)
{
	int res = -ENOENT;

	backend_leg_close(w, c);
	if (c->tried.n <= w->cfg->services[c->svc].retries) {
		stat_add(&w->ch->stats.retries, 1);
		res = conn_connect_next(w, c);
	}
	if (res)
		conn_give_up(w, c, res);
	return res;
}

static bool addr_yes(const struct slb_addr *a)
{
	return true;
}

static bool addr_no(const struct slb_addr *a)
{
	return false;
}

static bool conn_wildcard_listener(const struct worker *w)
{
	for (unsigned i = 0; i < w->cfg->n_listen; i++)
		if (addr_is_wildcard(&w->cfg->listen[i]))
			return true;
	return false;
}

/* The rare path, run only for a backend on the listener's port: did the connect reach slb's
 * own listener? Yes when the listener has that address, or is a wildcard one and the address
 * is this host's: a loopback one, or (one getsockname) one the kernel also chose as the
 * connection's source, which it does for a destination assigned here and never otherwise.
 * Config and REGISTER refuse such backends; this catches an address that became local since
 * (a VIP moved onto this host). */
static bool conn_reached_self(const struct worker *w, const struct conn *c)
{
	struct slb_addr local = { .len = sizeof(local.ss) };
	bool here = addr_is_loopback(&c->baddr);

	if (!here && conn_wildcard_listener(w) &&
	    getsockname(c->bfd, (struct sockaddr *)&local.ss, &local.len) == 0)
		here = addr_same_host(&local, &c->baddr);
	return addr_find_served(&c->baddr, w->cfg->listen, w->cfg->n_listen, here ? addr_yes : addr_no) >= 0;
}

/* The hot path's whole cost of the loop guard for a backend on another port: one compare per
 * listener (usually one). */
static bool conn_port_is_listened(const struct worker *w, uint16_t port)
{
	for (unsigned i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].port == port)
			return true;
	return false;
}

/* The backend is slb itself: every connection to it would open another, until descriptors
 * run out. Cut this one with a RST (which also ends the connection slb accepted from itself),
 * let health take the backend out, and give the client another backend. */
static void conn_on_loop(struct worker *w, struct conn *c)
{
	char addr[ADDR_TEXT_MAX];

	conn_report_backend(w, c->backend_id, FAILQ_LOOP);
	slb_log_limited(LOG_WARN, 0, "backend %s is slb's own listener: loop to itself, closing the connection",
			addr_format(&c->baddr, addr, sizeof(addr)));
	set_linger_zero(c->bfd);
	conn_reconnect(w, c);
}

/* Connected: sample the connect time, and open the first turn from here, for a server that
 * speaks first (a client that speaks first restarts it with its first bytes). */
static void conn_time_connect(struct worker *w, struct conn *c)
{
	lat_ewma_add(&w->ch->stats.be[c->backend_id].connect, (uint32_t)w->now_ms - c->mark_ms, w->now_ms);
	c->mark_ms = (uint32_t)w->now_ms;
	c->ttfb_wait = 1;
	c->turn_up = 0;
}

/* The retry policy in one place: report, give up this backend, try the next one. A backend
 * on another port than the listener's costs one 16-bit comparison for the loop check. */
static void conn_on_connect(struct worker *w, struct conn *c, int res)
{
	uint32_t id = c->backend_id;

	if (res == 0 && conn_port_is_listened(w, addr_port_raw(&c->baddr)) && conn_reached_self(w, c)) {
		conn_on_loop(w, c);
		return;
	}
	if (res == 0 && c->send_proxy)
		res = conn_send_proxy_header(w, c);
	if (res == 0) {
		c->connected = 1;
		if (w->alog)
			conn_id(w, c)->connect_ms = clock_now_ms();
		stat_add(&w->ch->stats.be[id].conns, 1);
		conn_time_connect(w, c);
		conn_report_backend(w, id, FAILQ_CONNECT_OK);
		if (c->hello)
			conn_sni_forward(w, c); /* the relay starts once the hello has gone */
		else if (c->replay == RP_HELD)
			conn_replay_send(w, c); /* starts the relay once the held bytes went */
		else
			conn_start_relay(w, c);
		return;
	}
	conn_report_backend(w, id, connect_failure_kind(res));
	stat_add(&w->ch->stats.connect_failures, 1);
	stat_add(&w->ch->stats.be[id].connect_failures, 1);
	conn_log_connect_failure(w, c, res);
	conn_reconnect(w, c);
}

void conn_arm_read(struct worker *w, struct conn *c, unsigned dir)
{
	if (c->state != CONN_RELAYING)
		return;
	if (conn_reads_by_copy(w, c, dir))
		relay_copy_arm(w, c, dir);
	else
		relay_splice_arm(w, c, dir);
}

/* EOF from src: pass it on as a FIN to dst; the other direction keeps flowing. */
void conn_half_eof(struct worker *w, struct conn *c, unsigned dir)
{
	struct half *h = &c->h[dir];

	if (dir == DIR_DOWN && c->replay && conn_replay_try(w, c, dir, 0))
		return;
	/* the client ended before the backend connected: a shutdown now would abort the connect */
	if (c->state == CONN_CONNECTING) {
		h->eof_early = 1;
		return;
	}
	h->done = 1;
	conn_set_end(c, dir == DIR_UP ? END_CLIENT_CLOSED : END_BACKEND_CLOSED);
	if (c->h[!dir].done) {
		conn_finalize(w, c, false); /* both ways done: the close sends the FIN */
		return;
	}
	/* io_uring always runs a shutdown on an io-wq thread (REQ_F_FORCE_ASYNC); that hand-off
	 * was a fifth of slb's CPU per connection in the connection-per-request profile. So the
	 * backend's plain descriptor takes shutdown(2), and the client's direct descriptor gets
	 * a regular twin first (an inline op), unless it has one already or one is on its way
	 * (for splicing, or asked for early by copy_submit_send). */
	if (!half_dst_fixed(dir)) {
		shutdown(half_dst(c, dir), SHUT_WR);
	} else if (c->cfd_sys >= 0) {
		shutdown(c->cfd_sys, SHUT_WR);
	} else {
		c->shut_pending = 1;
		conn_want_twin(w, c, dir);
	}
}

/* See conn.h. */
void conn_want_twin(struct worker *w, struct conn *c, unsigned dir)
{
	struct io_uring_sqe *sqe;

	if (c->cfd_sys >= 0 || c->installing)
		return;
	sqe = uring_sqe(&w->ring);
	io_uring_prep_rw(IORING_OP_FIXED_FD_INSTALL, sqe, c->cfd, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_INSTALL_SHUT, dir));
	c->inflight++;
	c->installing = 1;
}

/* See conn.h. */
void conn_twin_arrived(struct conn *c, int fd)
{
	c->installing = 0;
	c->cfd_sys = fd;
	if (c->shut_pending) {
		c->shut_pending = 0;
		shutdown(fd, SHUT_WR);
	} else if (c->h[DIR_DOWN].waiting) {
		relay_copy_push(c, DIR_DOWN);
	}
}

/* A twin asked for by conn_want_twin came back: keep it; without it, a half-close that
 * waited goes through io-wq. */
static void conn_on_install_shut(struct worker *w, struct conn *c, unsigned dir, int res)
{
	struct io_uring_sqe *sqe;

	if (res >= 0) {
		conn_twin_arrived(c, res);
		return;
	}
	c->installing = 0;
	if (!c->shut_pending)
		return; /* asked for early: the half-close, if it comes, asks again */
	c->shut_pending = 0;
	sqe = uring_sqe(&w->ring);
	io_uring_prep_shutdown(sqe, c->cfd, SHUT_WR);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_SHUTDOWN, dir));
	c->inflight++;
}

/* CQEs that carry a provided buffer must give it back even when nobody wants the data. */
static void drop_cqe(struct worker *w, const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_BUFFER)
		uring_buf_recycle(&w->bufs, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

static void conn_dispatch(struct worker *w, struct conn *c, unsigned op, unsigned dir,
			  const struct io_uring_cqe *cqe)
{
	switch (op) {
	case OP_CONNECT:
		conn_on_connect(w, c, cqe->res);
		break;
	case OP_RECV:
		relay_copy_on_recv(w, c, dir, cqe);
		break;
	case OP_SEND:
		relay_copy_on_send(w, c, dir, cqe->res);
		break;
	case OP_POLL_IN:
		relay_splice_on_poll_in(w, c, dir, cqe->res);
		break;
	case OP_POLL_OUT:
		relay_splice_on_poll_out(w, c, dir, cqe->res);
		break;
	case OP_INSTALL:
		relay_splice_on_install(w, c, dir, cqe->res);
		break;
	case OP_INSTALL_SHUT:
		conn_on_install_shut(w, c, dir, cqe->res);
		break;
	case OP_REPLAY_SEND:
		conn_replay_on_send(w, c, cqe->res);
		break;
	case OP_REFUSE_RECV:
	case OP_REFUSE_SEND:
		conn_refuse_on_cqe(w, c, op, cqe);
		break;
	case OP_IDENT:
		conn_ident_on_install(w, c, cqe->res);
		break;
	case OP_PROXY_POLL:
		conn_ident_on_poll(w, c, cqe->res);
		break;
	case OP_SNI_RECV:
		conn_sni_on_recv(w, c, cqe->res);
		break;
	case OP_SNI_SEND:
		conn_sni_on_send(w, c, cqe->res);
		break;
	case OP_SHUTDOWN:
		/* ENOTCONN after the peer reset is harmless: the other direction reports it. */
		break;
	case OP_CONNECT_TIMEOUT: /* -ETIME fired (connect saw -ECANCELED), else -ECANCELED/-ENOENT */
	case OP_CANCEL:          /* -ENOENT when nothing was left to cancel */
	default:
		break;
	}
}

void conn_handle_cqe(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t slot = uring_ud_slot(ud);
	struct conn *c;

	if (slot == 0 || slot >= w->n_slots) {
		drop_cqe(w, cqe);
		return;
	}
	c = &w->conns[slot];
	if (c->state == CONN_FREE || c->gen != uring_ud_gen(ud)) {
		drop_cqe(w, cqe); /* stale: from a connection that has gone */
		return;
	}
	c->inflight--;
	if (c->state == CONN_CLOSING) {
		drop_cqe(w, cqe);
		/* a regular twin made while the connection was closing is closed with it */
		if ((uring_ud_op(ud) == OP_INSTALL || uring_ud_op(ud) == OP_INSTALL_SHUT || uring_ud_op(ud) == OP_IDENT) &&
		    cqe->res >= 0 && c->cfd_sys < 0)
			c->cfd_sys = cqe->res;
		if (c->inflight == 0)
			conn_release(w, c);
		return;
	}
	conn_dispatch(w, c, uring_ud_op(ud), uring_ud_dir(ud), cqe);
	if (c->state == CONN_CLOSING && c->inflight == 0)
		conn_release(w, c);
}

void conn_sweep(struct worker *w, bool all)
{
	for (uint32_t slot = 1; slot < w->slot_hwm; slot++) {
		struct conn *c = &w->conns[slot];
		int64_t idle = w->cfg->services[c->svc].idle_timeout_ms;

		if (c->state == CONN_FREE || c->state == CONN_CLOSING)
			continue;
		if (all) {
			conn_set_end(c, END_DRAIN_TIMEOUT);
			conn_finalize(w, c, true);
		} else if (c->state == CONN_IDENT && w->now_ms - c->last_active_ms >= w->cfg->proxy_timeout_ms) {
			conn_ident_expire(w, c);
		} else if (c->state == CONN_SNI && w->now_ms - c->last_active_ms >= w->cfg->sni_timeout_ms) {
			conn_sni_expire(w, c);
		} else if (idle && c->state == CONN_RELAYING && w->now_ms - c->last_active_ms >= idle) {
			stat_add(&w->ch->stats.idle_timeouts, 1);
			conn_set_end(c, END_IDLE_TIMEOUT);
			conn_finalize(w, c, true);
		}
	}
}

/* Errors on read end the connection, abortively so the other side sees the stream was cut. A
 * reset from the backend is counted (backend_resets) and never pushed into the failure ring:
 * health judges connects only, and a burst of resets would crowd out of that ring the connect
 * failures that eject a backend. */
void conn_read_error(struct worker *w, struct conn *c, unsigned dir, int res)
{
	if (dir == DIR_DOWN && c->replay && conn_replay_try(w, c, dir, res))
		return;
	conn_set_end(c, dir == DIR_UP ? END_CLIENT_RESET : res == -ECONNRESET ? END_BACKEND_RESET : END_ERROR);
	if (dir == DIR_DOWN && res == -ECONNRESET) {
		char addr[ADDR_TEXT_MAX];

		stat_add(&w->ch->stats.backend_resets, 1);
		slb_log_limited(LOG_INFO, 0, "backend %s reset a connection mid-stream; closing its client",
				addr_format(&c->baddr, addr, sizeof(addr)));
	}
	conn_finalize(w, c, true);
}

/* A write to dst of dir failed: that peer is gone (a reset, mostly); the stream is cut. */
void conn_write_error(struct worker *w, struct conn *c, unsigned dir, int res)
{
	if (dir == DIR_UP && c->replay == RP_SENDING && conn_replay_try(w, c, dir, res))
		return;
	conn_set_end(c, dir == DIR_UP ? END_BACKEND_RESET : END_CLIENT_RESET);
	conn_finalize(w, c, true);
}
