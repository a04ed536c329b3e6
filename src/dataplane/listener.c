/* listener: a worker's SO_REUSEPORT listeners, one or more per --listen address, and their
 * accepts: bound at start or taken over from the previous process, armed, paused after an
 * error, cancelled for a takeover, closed for a drain. The completion of an accept, which runs
 * once per client, is inline in listener.h. */
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096

static int listener_open(const struct slb_addr *a, bool reuseport)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) ||
	    /* accepted sockets inherit TCP_NODELAY from the listener: no setsockopt per client */
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* SO_REUSEPORT would let a second slb (same user) share the port silently; a plain bind
 * first makes "port in use" an error, as an operator expects. */
static int listener_check_free(const struct slb_addr *a)
{
	int fd = listener_open(a, false);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int listener_error(const struct slb_addr *a, int ret, char *err, size_t errlen)
{
	char text[ADDR_TEXT_MAX];

	snprintf(err, errlen, "cannot listen on %s: %s", addr_format(a, text, sizeof(text)), strerror(-ret));
	return ret;
}

/* Appends fd (a listening socket for cfg->listen[i], now w's) to w's listeners. */
static void listener_add(struct worker *w, unsigned i, int fd)
{
	struct worker_listener *l = &w->listeners[w->n_listeners++];

	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->addr_idx = i;
	l->port = addr_port_raw(&w->cfg->listen[i]);
	l->service = w->cfg->listen_service[i];
}

/* Gives w the inherited sockets of address i that fall to it (j % n_workers == w->idx), or a
 * fresh SO_REUSEPORT one when none does. Returns 0 or -errno with err filled. */
static int listener_take_address(struct worker *w, unsigned i, struct workers_inherit *in,
				 unsigned n_workers, char *err, size_t errlen)
{
	unsigned n = in ? in->n[i] : 0;
	int fd;

	for (unsigned j = w->idx; j < n; j += n_workers) {
		listener_add(w, i, in->fds[i][j]);
		in->fds[i][j] = -1;
	}
	if (w->idx < n)
		return 0;
	fd = listener_open(&w->cfg->listen[i], true);
	if (fd < 0)
		return listener_error(&w->cfg->listen[i], fd, err, errlen);
	listener_add(w, i, fd);
	return 0;
}

/* See listener.h. */
int listeners_open(struct worker *w, struct workers_inherit *in, unsigned n_workers, char *err, size_t errlen)
{
	/* room for a reload's new addresses too (listeners_follow): a reload never reallocates,
	 * since accepts in flight point into accept_addrs, which is sized alike */
	unsigned cap = w->cfg->n_listen + CONFIG_MAX_LISTEN;

	for (unsigned i = 0; in && i < w->cfg->n_listen; i++)
		cap += in->n[i] / n_workers + 1;
	w->listeners_cap = cap;
	w->listeners = calloc(cap, sizeof(*w->listeners));
	if (!w->listeners) {
		snprintf(err, errlen, "out of memory for the listeners of worker %u", w->idx);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < w->cfg->n_listen; i++) {
		int ret = listener_take_address(w, i, in, n_workers, err, errlen);

		if (ret)
			return ret;
	}
	return 0;
}

/* See listener.h. */
void listeners_close(struct worker *w)
{
	for (unsigned i = 0; i < w->n_listeners; i++) {
		if (w->listeners[i].fd >= 0)
			close(w->listeners[i].fd);
		w->listeners[i].fd = -1;
	}
}

/* See listener.h. */
void listeners_close_inherited(struct workers_inherit *in)
{
	for (unsigned i = 0; in && i < CONFIG_MAX_LISTEN; i++) {
		for (unsigned j = 0; j < in->n[i]; j++)
			if (in->fds[i][j] >= 0)
				close(in->fds[i][j]);
		in->n[i] = 0;
	}
}

/* See worker.h. */
int workers_check_ports(const struct slb_config *cfg, struct config_errors *errs)
{
	unsigned before = errs->n;
	char err[160];

	for (unsigned i = 0; i < cfg->n_listen; i++) {
		int ret = listener_check_free(&cfg->listen[i]);

		if (ret) {
			listener_error(&cfg->listen[i], ret, err, sizeof(err));
			config_errors_add(errs, "%s", err);
		}
	}
	return errs->n > before ? -EINVAL : 0;
}

/* See listener.h. */
int listeners_check_free(const struct slb_config *cfg, const struct workers_inherit *in, char *err,
			 size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		int ret = in && in->n[i] ? 0 : listener_check_free(&cfg->listen[i]);

		if (ret)
			return listener_error(&cfg->listen[i], ret, err, errlen);
	}
	return 0;
}

/* See listener.h. */
int listeners_alloc_addrs(struct worker *w)
{
	w->accept_addrs = calloc((size_t)ACCEPT_ADDR_SLOTS * w->listeners_cap, sizeof(*w->accept_addrs));
	return w->accept_addrs ? 0 : -ENOMEM;
}

/* A multishot accept cannot return addresses (one buffer would serve every client), so a
 * picker that hashes the client's address gets ACCEPT_ADDR_SLOTS single-shot accepts per
 * listener, each with its own buffer, re-armed as each completes: one SQE per client more than
 * multishot, against a getpeername(2) per client (a syscall, and a regular twin of the direct
 * descriptor first, Linux 6.8). Other pickers keep one multishot accept per listener. The
 * user_data slot of an accept is listener * ACCEPT_ADDR_SLOTS + address slot. */
void listener_arm_slot(struct worker *w, unsigned i, unsigned k)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);
	struct accept_addr *a = &w->accept_addrs[i * ACCEPT_ADDR_SLOTS + k];

	a->len = sizeof(a->ss);
	/* liburing 2.3 stores file_index + 1 without special-casing ALLOC (later versions do), so
	 * ALLOC - 1 is what makes the kernel see IORING_FILE_INDEX_ALLOC in both. */
	io_uring_prep_accept_direct(sqe, w->listeners[i].fd, (struct sockaddr *)&a->ss, &a->len, SOCK_NONBLOCK,
				    IORING_FILE_INDEX_ALLOC - 1);
	io_uring_sqe_set_data64(sqe, uring_ud(OP_ACCEPT, 0, i * ACCEPT_ADDR_SLOTS + k, 0));
	w->listeners[i].busy |= 1u << k;
}

static void listener_arm(struct worker *w, unsigned i)
{
	struct worker_listener *l = &w->listeners[i];
	struct io_uring_sqe *sqe;

	l->armed = true;
	if (w->accept_addrs) {
		for (unsigned k = 0; k < ACCEPT_ADDR_SLOTS; k++)
			if (!(l->busy & (1u << k)))
				listener_arm_slot(w, i, k);
		return;
	}
	/* Accepted sockets go straight into the ring's file table (see conn.h); they are
	 * non-blocking (splice relies on it); SOCK_CLOEXEC is refused with direct accept, and
	 * a direct descriptor is never in the fd table an exec could inherit anyway. */
	sqe = uring_sqe(&w->ring);
	io_uring_prep_multishot_accept_direct(sqe, l->fd, NULL, NULL, SOCK_NONBLOCK);
	io_uring_sqe_set_data64(sqe, uring_ud(OP_ACCEPT, 0, i * ACCEPT_ADDR_SLOTS, 0));
}

/* See listener.h. */
void listeners_rearm(struct worker *w)
{
	for (unsigned i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].fd >= 0 && !w->listeners[i].armed && w->now_ms >= w->listeners[i].retry_at)
			listener_arm(w, i);
}

/* Every accept on listener i: the multishot one, or each single-shot slot. Each ends with a
 * completion (-ECANCELED, or a connection accepted meanwhile), which disarms the listener. */
static void listener_cancel(struct worker *w, unsigned i)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_cancel_fd(sqe, w->listeners[i].fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, uring_ud(OP_IGNORE, 0, 0, 0));
}

/* See listener.h. */
void listeners_cancel_armed(struct worker *w)
{
	for (unsigned i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].armed && w->listeners[i].fd >= 0)
			listener_cancel(w, i);
}

/* Listener i accepts no more: its accepts are cancelled (each ends with a completion that
 * disarms it; a connection accepted meanwhile is served) and its socket closed, after the
 * cancel in the same submission. Its slot is free again once disarmed. */
static void listener_shut(struct worker *w, unsigned i)
{
	struct io_uring_sqe *sqe;

	if (w->listeners[i].fd < 0)
		return;
	if (w->listeners[i].armed)
		listener_cancel(w, i);
	sqe = uring_sqe(&w->ring);
	io_uring_prep_close(sqe, w->listeners[i].fd);
	io_uring_sqe_set_data64(sqe, uring_ud(OP_IGNORE, 0, 0, 0));
	w->listeners[i].fd = -1;
}

/* See listener.h. */
void listeners_stop_accepting(struct worker *w)
{
	if (!w->accepting)
		return;
	w->accepting = false;
	for (unsigned i = 0; i < w->n_listeners; i++)
		listener_shut(w, i);
	listener_note_accept_off(w);
}

/* A slot for a new listener: one shut and disarmed (no completion can name it any more), or
 * a fresh one. -1 when none is left, which a reload's CONFIG_MAX_LISTEN spare rules out. */
static int listener_free_slot(struct worker *w)
{
	for (unsigned i = 0; i < w->n_listeners; i++)
		if (w->listeners[i].fd < 0 && !w->listeners[i].armed && !w->listeners[i].busy)
			return (int)i;
	return w->n_listeners < w->listeners_cap ? (int)w->n_listeners++ : -1;
}

/* Takes this worker's socket of each new address in bound (set to -1 there); listeners_rearm
 * arms it. A worker that is draining closes it instead. */
static void listeners_take_bound(struct worker *w, struct workers_inherit *bound)
{
	for (unsigned i = 0; bound && i < w->cfg->n_listen; i++) {
		int fd = bound->n[i] > w->idx ? bound->fds[i][w->idx] : -1, k;

		if (fd < 0)
			continue;
		bound->fds[i][w->idx] = -1;
		k = w->accepting ? listener_free_slot(w) : -1;
		if (k < 0) {
			if (w->accepting)
				slb_log(LOG_ERROR, 0, "worker %u: no room for another listener", w->idx);
			close(fd);
			continue;
		}
		memset(&w->listeners[k], 0, sizeof(w->listeners[k]));
		w->listeners[k].fd = fd;
		w->listeners[k].addr_idx = i;
		w->listeners[k].port = addr_port_raw(&w->cfg->listen[i]);
		w->listeners[k].service = w->cfg->listen_service[i];
	}
}

/* See listener.h. */
void listeners_follow(struct worker *w, const struct slb_config *old, struct workers_inherit *bound)
{
	for (unsigned k = 0; k < w->n_listeners; k++) {
		struct worker_listener *l = &w->listeners[k];
		int i = l->fd >= 0 ? config_listen_find(w->cfg, &old->listen[l->addr_idx]) : -1;

		if (i < 0) {
			listener_shut(w, k);
			continue;
		}
		l->addr_idx = (unsigned)i;
		l->service = w->cfg->listen_service[i]; /* an address may move to another service */
	}
	listeners_take_bound(w, bound);
}

/* See worker.h. */
int workers_bind_new(const struct slb_config *run, const struct slb_config *next, unsigned n_workers,
		     struct workers_inherit *out, char *err, size_t errlen)
{
	memset(out->n, 0, sizeof(out->n));
	for (unsigned i = 0; i < next->n_listen; i++) {
		int ret;

		if (config_listen_find(run, &next->listen[i]) >= 0)
			continue; /* the workers listen there already */
		ret = listener_check_free(&next->listen[i]);
		for (unsigned j = 0; !ret && j < n_workers; j++) {
			int fd = listener_open(&next->listen[i], true);

			if (fd < 0)
				ret = fd;
			else
				out->fds[i][out->n[i]++] = fd;
		}
		if (ret) {
			listeners_close_inherited(out);
			return listener_error(&next->listen[i], ret, err, errlen);
		}
	}
	return 0;
}
