/* conn_sni: routing by TLS server name (passthrough: slb never decrypts). A client accepted
 * on an ADDR:PORT,sni listener is read before any backend is picked: its bytes go into a
 * hello buffer, tls_hello_parse judges the whole buffer after each read (a hello may come in
 * many segments), and the listener group's name map picks the service. The held bytes then
 * go to the backend first, and the connection is relayed as any other.
 *
 * Why a buffer of its own and not a peek, as conn_ident does for a PROXY header: a peeked
 * byte stays in the socket and keeps it readable, so a client that sends half a hello would
 * wake the worker in a loop; the bytes must be taken out, and kept until a backend takes them.
 * Buffers come from a per-worker pool of one maximal TLS record each (TLS_HELLO_SPAN_MAX),
 * allocated at start (its pages touched only as buffers are first used) and held only from
 * the accept until the hello has gone to the backend: no allocation per connection.
 *
 * What each answer of the parser does:
 *   whole hello          its server name's service, else the fallback, else closed (unrouted)
 *   not TLS (-ENOMSG)    the fallback (plain HTTP on :443), else closed (unrouted)
 *   too big (-E2BIG)     the fallback, else closed (unrouted): it may be valid, slb cannot say
 *   malformed (-EINVAL)  closed (sni error): a record that claims to be TLS and is not
 *   nothing whole within --sni-timeout: closed (sni timeout) */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "slb/common/config_sni.h"
#include "slb/common/log.h"
#include "slb/common/sni_map.h"
#include "slb/dataplane/tls_hello.h"

#define SNI_BUFS_MAX 1024 /* hellos in progress per worker: 16 MiB of address space, touched as used */

static unsigned char *sni_buf(const struct worker *w, const struct conn *c)
{
	return w->sni.bufs + (size_t)(c->hello - 1) * TLS_HELLO_SPAN_MAX;
}

/* Where the parser writes: the slot's kept hello when the log or PROXY wants it, else scratch. */
static struct tls_hello *sni_out(struct worker *w, const struct conn *c, struct tls_hello *scratch)
{
	return w->sni.seen ? &w->sni.seen[conn_slot(w, c)] : scratch;
}

static void sni_read(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_recv(sqe, c->cfd, sni_buf(w, c) + c->hello_len, TLS_HELLO_SPAN_MAX - c->hello_len, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_SNI_RECV, 0));
	c->inflight++;
}

static void sni_close(struct worker *w, struct conn *c, enum access_log_end end, bool abortive)
{
	conn_set_end(c, end);
	conn_finalize(w, c, abortive);
}

void conn_sni_start(struct worker *w, struct conn *c)
{
	struct tls_hello scratch, *h = sni_out(w, c, &scratch);

	h->name_len = 0;
	h->alpn_count = 0;
	h->alpn_len = 0;
	if (!w->sni.n_free) {
		stat_add(&w->ch->stats.rejected, 1);
		slb_log_limited(LOG_WARN, 0, "every hello buffer of this worker is taken (%u clients still sending "
				"their TLS ClientHello): refusing a client", w->sni.cap);
		sni_close(w, c, END_ERROR, true);
		return;
	}
	/* --retry-unanswered judges the client's first buffer as an HTTP request; here it is a
	 * TLS hello (or, to a fallback, bytes slb held itself), never replayed */
	c->replay = RP_OFF;
	c->hello = (uint16_t)(w->sni.free[--w->sni.n_free] + 1);
	c->hello_len = 0;
	c->hello_sent = 0;
	c->state = CONN_SNI;
	c->last_active_ms = w->now_ms; /* --sni-timeout counts from here */
	sni_read(w, c);
}

/* See conn.h. */
void conn_sni_release(struct worker *w, struct conn *c)
{
	if (!c->hello)
		return;
	w->sni.free[w->sni.n_free++] = (uint16_t)(c->hello - 1);
	c->hello = 0;
}

/* A hashing picker hashes with its own service's seed: the accept hashed with the listener's. */
static void sni_rehash(struct worker *w, struct conn *c)
{
	const struct conn_id *id = w->ids ? conn_id(w, c) : NULL;

	if (w->svc[c->svc].balance->needs_client_addr && id && id->client.len)
		c->hash_key = balance_hash_client(&w->svc[c->svc].bal, (const struct sockaddr *)&id->client.ss);
}

/* The service for a parser's answer, or -ENOENT (closed by the caller, counted unrouted). */
static int sni_pick(const struct worker *w, const struct conn *c, int ret, struct tls_hello *h)
{
	const struct sni_map *map = w->listeners[c->sni_group - 1].sni_map;

	if (ret > 0)
		return sni_map_lookup(map, h->name, h->name_len);
	h->name_len = 0; /* not TLS or too big: no name to log or pass on */
	h->alpn_count = 0;
	h->alpn_len = 0;
	return sni_map_lookup(map, "", 0);
}

/* The client's name for slb's own log, any byte but [a-z0-9.*_-] as '?': a name may hold
 * anything but NUL, a newline included. */
static void sni_log_name(const struct tls_hello *h, int ret, char *out, size_t size)
{
	size_t i;

	if (ret <= 0) {
		snprintf(out, size, "%s", ret == -ENOMSG ? "(not TLS)" : "(hello too big)");
		return;
	}
	for (i = 0; i < h->name_len && i + 1 < size; i++)
		out[i] = strchr("abcdefghijklmnopqrstuvwxyz0123456789.*_-", h->name[i]) ? h->name[i] : '?';
	out[i] = '\0';
}

static void sni_route(struct worker *w, struct conn *c, int ret, struct tls_hello *h)
{
	int svc = sni_pick(w, c, ret, h);
	char name[65];

	if (svc < 0) {
		stat_add(&w->ch->stats.sni_unrouted, 1);
		sni_log_name(h, ret, name, sizeof(name));
		slb_log_limited(LOG_INFO, 0, "no service for a client's TLS server name '%s' and no sni-fallback: "
				"closing it", name);
		sni_close(w, c, END_SNI_UNROUTED, true);
		return;
	}
	c->svc = (uint16_t)svc;
	sni_rehash(w, c);
	conn_connect_first(w, c);
}

void conn_sni_on_recv(struct worker *w, struct conn *c, int res)
{
	struct tls_hello scratch, *h = sni_out(w, c, &scratch);
	int ret;

	if (res <= 0) { /* the client left (or reset) before its hello was whole */
		sni_close(w, c, res == 0 ? END_CLIENT_CLOSED : END_CLIENT_RESET, res < 0);
		return;
	}
	c->hello_len = (uint16_t)(c->hello_len + res);
	/* while reading, hello_sent holds what the parser said it needs first: a hello trickled
	 * in byte by byte is parsed once per record rather than once per byte */
	if (c->hello_len < c->hello_sent) {
		sni_read(w, c);
		return;
	}
	ret = tls_hello_parse(sni_buf(w, c), c->hello_len, h);
	if (ret == 0 && c->hello_len < TLS_HELLO_SPAN_MAX) {
		c->hello_sent = (uint16_t)(h->need < TLS_HELLO_SPAN_MAX ? h->need : TLS_HELLO_SPAN_MAX);
		sni_read(w, c);
		return;
	}
	c->hello_sent = 0;
	if (ret == -EINVAL) {
		stat_add(&w->ch->stats.sni_errors, 1);
		slb_log_limited(LOG_INFO, 0, "closing a client: malformed TLS ClientHello");
		sni_close(w, c, END_SNI_INVALID, true);
		return;
	}
	sni_route(w, c, ret == 0 ? -E2BIG : ret, h);
}

void conn_sni_expire(struct worker *w, struct conn *c)
{
	stat_add(&w->ch->stats.sni_timeouts, 1);
	slb_log_limited(LOG_INFO, 0, "closing a client: no whole TLS ClientHello within %u ms (--sni-timeout)",
			w->cfg->sni_timeout_ms);
	sni_close(w, c, END_SNI_TIMEOUT, true);
}

/* See conn.h. The backend's socket has just connected: the send buffer takes most hellos
 * whole, and a short send goes on from where it stopped. */
void conn_sni_forward(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_send(sqe, c->bfd, sni_buf(w, c) + c->hello_sent, (size_t)(c->hello_len - c->hello_sent),
			   MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_SNI_SEND, DIR_UP));
	c->inflight++;
}

void conn_sni_on_send(struct worker *w, struct conn *c, int res)
{
	if (res < 0) {
		conn_write_error(w, c, DIR_UP, res);
		return;
	}
	conn_count_bytes(w, c, DIR_UP, (unsigned)res);
	c->hello_sent = (uint16_t)(c->hello_sent + res);
	if (c->hello_sent < c->hello_len) {
		conn_sni_forward(w, c);
		return;
	}
	conn_sni_release(w, c);
	conn_start_relay(w, c);
}

/* See conn.h. */
const struct tls_hello *conn_sni_hello(const struct worker *w, const struct conn *c)
{
	if (!c->sni_group || !w->sni.seen)
		return NULL;
	return &w->sni.seen[conn_slot(w, c)];
}

/* See conn.h. */
int conn_sni_init(struct worker *w, char *err, size_t errlen)
{
	const struct slb_config *cfg = w->cfg;
	int ret;

	w->has_sni = config_sni_any(cfg);
	if (!w->has_sni)
		return 0;
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		if (cfg->listen_sni[i] && (ret = config_sni_build(cfg, i, &w->sni.map[i], err, errlen)))
			return ret;
	}
	for (unsigned i = 0; i < w->n_listeners; i++)
		w->listeners[i].sni_map = w->sni.map[w->listeners[i].addr_idx];
	w->sni.cap = w->n_slots < SNI_BUFS_MAX ? w->n_slots : SNI_BUFS_MAX;
	w->sni.bufs = calloc(w->sni.cap, TLS_HELLO_SPAN_MAX);
	w->sni.free = calloc(w->sni.cap, sizeof(*w->sni.free));
	if (w->alog || w->need_addrs)
		w->sni.seen = calloc(w->n_slots, sizeof(*w->sni.seen));
	if (!w->sni.bufs || !w->sni.free || ((w->alog || w->need_addrs) && !w->sni.seen)) {
		snprintf(err, errlen, "out of memory for the TLS hello buffers of worker %u", w->idx);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < w->sni.cap; i++)
		w->sni.free[w->sni.n_free++] = (uint16_t)(w->sni.cap - 1 - i);
	return 0;
}

/* See conn.h. */
void conn_sni_free(struct worker *w)
{
	for (unsigned i = 0; i < CONFIG_MAX_LISTEN; i++) {
		sni_map_free(w->sni.map[i]);
		w->sni.map[i] = NULL;
	}
	free(w->sni.bufs);
	free(w->sni.free);
	free(w->sni.seen);
	memset(&w->sni, 0, sizeof(w->sni));
}
