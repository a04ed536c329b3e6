/* conn_replay: --retry-unanswered. A backend that closes or resets a connection before sending
 * a single byte back, while slb still holds every byte the client sent, has its request sent
 * again to another backend, so the client never sees the failure (a backend that crashes with
 * requests in its accept queue would otherwise cut each of them).
 *
 * What is held is the provided buffer of the client's first recv: after it went to the backend
 * whole, the buffer is kept (c->rp_buf) instead of given back, until the backend's first byte
 * comes back, the client sends more, or the connection ends. Nothing is copied and nothing is
 * allocated. The price is one buffer per connection waiting for its answer; at most half of a
 * worker's buffers are held so, and a connection that finds that many held is not replayable.
 *
 * A backend that ends the connection before the client sent anything, while the client is
 * still open, is replaced the same way (RP_ARMED: there is nothing to send again, so nothing
 * the backend could have acted on).
 *
 * The first buffer qualifies when it is not full (a full one may have more behind it) and, in
 * http mode, when it is one whole HTTP/1.x request head with an idempotent method (RFC 9110
 * section 9.2.2) and no body. Each replay takes one of --retries' tries (c->tried). */
#include "conn.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "slb/common/log.h"

/* The methods a client may send twice with the effect of once (RFC 9110 9.2.2), with the
 * space after them. */
static const char *const idempotent_methods[] = { "GET ", "HEAD ", "OPTIONS ", "TRACE ", "PUT ", "DELETE " };

static size_t http_method_len(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < sizeof(idempotent_methods) / sizeof(idempotent_methods[0]); i++) {
		size_t len = strlen(idempotent_methods[i]);

		if (n >= len && memcmp(p, idempotent_methods[i], len) == 0)
			return len;
	}
	return 0;
}

/* "TARGET HTTP/1.x" between p and eol: a target without spaces or controls, and a version
 * this replay knows to mean one request per head. */
static bool http_request_line_ok(const unsigned char *p, const unsigned char *eol)
{
	size_t n = (size_t)(eol - p);

	if (n < 10 || memcmp(eol - 9, " HTTP/1.", 8) != 0 || (eol[-1] != '0' && eol[-1] != '1'))
		return false;
	for (const unsigned char *t = p; t < eol - 9; t++)
		if (*t <= ' ' || *t == 0x7f)
			return false;
	return true;
}

static bool http_name_is(const unsigned char *p, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp((const char *)p, name, n) == 0;
}

/* One header line: no body may follow (Content-Length 0 or absent, no Transfer-Encoding);
 * anything that does not read as a header (a fold, no colon) is refused rather than guessed. */
static bool http_header_ok(const unsigned char *p, const unsigned char *eol)
{
	const unsigned char *colon = memchr(p, ':', (size_t)(eol - p)), *v;
	size_t name_len = colon ? (size_t)(colon - p) : 0;

	if (!name_len || memchr(p, ' ', name_len) || memchr(p, '\t', name_len))
		return false;
	if (http_name_is(p, name_len, "transfer-encoding"))
		return false;
	if (!http_name_is(p, name_len, "content-length"))
		return true;
	for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
		;
	if (v == eol || *v != '0')
		return false;
	while (v < eol && *v == '0')
		v++;
	while (v < eol && (*v == ' ' || *v == '\t'))
		v++;
	return v == eol;
}

/* See conn.h. The head must end exactly where the bytes end: anything after it is a body or a
 * second request, which this replay does not take. */
bool conn_replay_http_ok(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *line, *eol;
	size_t m = http_method_len(p, n);

	if (!m || n < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0)
		return false;
	eol = memmem(p, n, "\r\n", 2);
	if (!http_request_line_ok(p + m, eol))
		return false;
	for (line = eol + 2; line < end - 2; line = eol + 2) {
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!http_header_ok(line, eol))
			return false;
	}
	return true;
}

/* Whether the client's first buffer (in h[DIR_UP], about to be sent) may be replayed. */
static bool replay_first_ok(const struct worker *w, const struct conn *c)
{
	const struct half *up = &c->h[DIR_UP];

	if (!up->has_buf || up->buf_off || up->buf_len >= w->bufs.size || w->replay_held >= w->bufs.count / 2)
		return false;
	if (w->cfg->services[c->svc].retry_unanswered == RETRY_UNANSWERED_ANY)
		return true;
	return conn_replay_http_ok(uring_buf_addr(&w->bufs, up->buf_id), up->buf_len);
}

/* See conn.h. */
void conn_replay_on_bytes(struct worker *w, struct conn *c, unsigned dir)
{
	if (dir == DIR_UP && c->replay == RP_ARMED && replay_first_ok(w, c)) {
		c->replay = RP_SENDING;
		return;
	}
	conn_replay_drop(w, c);
}

/* See conn.h. */
void conn_replay_drop(struct worker *w, struct conn *c)
{
	bool held = c->replay == RP_HELD;

	c->replay = RP_OFF;
	if (!held)
		return;
	w->replay_held--;
	uring_buf_recycle(&w->bufs, c->rp_buf);
	relay_copy_wake_waiters(w);
}

/* The first buffer's send is over (done, or failed): keep its buffer. */
static void replay_keep(struct worker *w, struct conn *c)
{
	struct half *up = &c->h[DIR_UP];

	c->rp_buf = up->buf_id;
	c->rp_len = (uint16_t)up->buf_len;
	up->has_buf = 0;
	c->replay = RP_HELD;
	w->replay_held++;
}

static bool replay_tries_left(const struct worker *w, const struct conn *c)
{
	return c->tried.n <= w->cfg->services[c->svc].retries;
}

/* The old backend's leg is closed by conn_reconnect; its halves start again from nothing but
 * the client's state: a FIN the client sent, passed to the old backend, goes to the new one
 * after the held bytes (eof_early, as when the client ends while a backend connects). */
static void replay_reset_halves(struct worker *w, struct conn *c)
{
	struct half *up = &c->h[DIR_UP];

	relay_copy_release(w, c, DIR_DOWN);
	relay_splice_release(w, c, DIR_DOWN);
	memset(&c->h[DIR_DOWN], 0, sizeof(c->h[DIR_DOWN]));
	if (up->done) {
		up->done = 0;
		up->eof_early = 1;
	}
}

/* RP_ARMED: the client has sent nothing and has not ended either, so it waits for a backend
 * to talk to. A client that half-closed without a word gets the backend's close as it is. */
static bool replay_client_waits(const struct conn *c)
{
	const struct half *up = &c->h[DIR_UP];

	return !up->done && !up->eof_early;
}

/* Counts, reports and logs the dropped request, then connects to the next backend. res: 0 for
 * a close, else the -errno that ended the old backend's leg. */
static void replay_start(struct worker *w, struct conn *c, unsigned dir, int res)
{
	uint32_t id = c->backend_id;
	char addr[ADDR_TEXT_MAX];

	stat_add(&w->ch->stats.be[id].replays, 1);
	stat_add(&w->ch->stats.replays, 1);
	/* Health judges it as a failed connect: a request taken and never answered, or a reset
	 * before a word. A close before the client said anything is no sign of failure (a
	 * backend may close idle clients), so it is not reported: a healthy backend would be
	 * ejected by clients that are slow to speak. */
	if (c->replay == RP_HELD || res != 0)
		conn_report_backend(w, id, FAILQ_CONNECT_ERROR);
	slb_log_limited(LOG_INFO, res, "backend %s %s before answering: %s on another backend",
			addr_format(&c->baddr, addr, sizeof(addr)),
			res == 0 ? "closed the connection" : dir == DIR_UP ? "refused the request" : "reset the connection",
			c->replay == RP_HELD ? "replaying the request" : "connecting its client (nothing sent yet)");
	replay_reset_halves(w, c);
	c->rp_wait = 0;
	c->state = CONN_CONNECTING;
	conn_reconnect(w, c); /* on failure c is given up, the client refused as --no-backend says */
}

/* See conn.h. A backend that ends while the request is still on its way up (RP_SENDING) is
 * judged when the send's CQE comes (conn_replay_sent). A failed first send (dir UP) keeps its
 * buffer; the backend's end then comes through its pending read (a reset wakes it), which
 * replays, so one path does it. Never once the backend's FIN went on to the client. */
bool conn_replay_try(struct worker *w, struct conn *c, unsigned dir, int res)
{
	struct half *down = &c->h[DIR_DOWN];

	if (dir == DIR_DOWN && c->replay == RP_SENDING) {
		c->rp_wait = 1;
		c->rp_reset = res != 0;
		return true;
	}
	if (dir == DIR_UP) {
		replay_keep(w, c);
		if (down->reading)
			return true;
		down->waiting = 0; /* its wait for a buffer ends here; the wait list skips it */
	}
	if (c->state != CONN_RELAYING || down->reading || down->writing || down->done || c->h[DIR_UP].writing ||
	    !replay_tries_left(w, c) || (c->replay == RP_ARMED && !replay_client_waits(c)))
		return false;
	replay_start(w, c, dir, res);
	return true;
}

/* See conn.h. */
bool conn_replay_sent(struct worker *w, struct conn *c)
{
	int res = c->rp_reset ? -ECONNRESET : 0;

	replay_keep(w, c);
	if (!c->rp_wait)
		return false;
	c->rp_wait = 0;
	if (conn_replay_try(w, c, DIR_DOWN, res))
		return true;
	/* no replay after all: the backend's end, as it would have gone */
	if (res)
		conn_read_error(w, c, DIR_DOWN, res);
	else
		conn_half_eof(w, c, DIR_DOWN);
	return true;
}

/* See conn.h. MSG_WAITALL: the socket has just connected, and only an error ends it short. */
void conn_replay_send(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&w->ring);

	io_uring_prep_send(sqe, c->bfd, uring_buf_addr(&w->bufs, c->rp_buf), c->rp_len, MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data64(sqe, conn_ud(w, c, OP_REPLAY_SEND, DIR_UP));
	c->inflight++;
}

/* See conn.h. The next backend took the bytes: relay. It refused them too: the next one,
 * while tries last; else the client sees the reset it would have seen without replay. */
void conn_replay_on_send(struct worker *w, struct conn *c, int res)
{
	if (res == (int)c->rp_len) {
		conn_start_relay(w, c);
		return;
	}
	if (res >= 0)
		res = -EPIPE;
	if (c->replay == RP_HELD && replay_tries_left(w, c)) {
		replay_start(w, c, DIR_UP, res);
		return;
	}
	conn_set_end(c, END_BACKEND_RESET);
	conn_finalize(w, c, true);
}
