/* hb_server: heartbeat sessions. Each session is a non-blocking socket with an HB_LINE_MAX
 * input buffer and a small output buffer; lines become backend table events at once, so a
 * session that closes (a backend process killed with SIGKILL) takes its backend down in the
 * same loop turn that sees the EOF, and health publishes before sleeping again. */
#include "hb_server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/common/log.h"
#include "slb/control/hbauth.h"
#include "slb/control/heartbeat.h"

#define HB_OUT_MAX 1024          /* replies queued for a peer that does not read them */
#define HB_REPLY_MAX 160
#define HB_ACCEPTS_PER_TURN 64
#define HB_READS_PER_TURN 8      /* fairness: one chatty peer cannot hold the loop */
#define HB_ACCEPT_PAUSE_MS 100   /* out of descriptors: stop accepting for a while */
#define HB_SESSION_EVENTS (EPOLLIN | EPOLLRDHUP)

struct hb_session {
	struct hl_handler h;
	struct hb_server *srv;
	struct hb_session *prev, *next;
	uint32_t be_id;              /* backend this session registered, 0 before REGISTER */
	unsigned errors;             /* bad lines so far; HB_MAX_ERRORS closes */
	bool discarding;             /* dropping the rest of an over-long line */
	bool want_out;               /* EPOLLOUT armed: replies are waiting in out[] */
	int64_t last_rx_ms;          /* last complete line */
	struct hbauth_session auth;  /* nonce sent in HELLO, last seq that verified */
	char peer[ADDR_TEXT_MAX];
	size_t in_len;
	size_t out_len;
	char in[HB_LINE_MAX];
	char out[HB_OUT_MAX];
};

struct hb_server {
	struct hl_handler listener;
	struct hb_session *head;
	unsigned n;                  /* open sessions */
	int64_t paused_until_ms;     /* 0 while accepting */
	struct hbauth_key *key;      /* NULL without --heartbeat-key-file: lines are not checked */
};

static void session_close(struct health_ctx *ctx, struct hb_session *s, const char *why);

static void session_free(struct hl_handler *h)
{
	free(h); /* h is the first member of struct hb_session */
}

/* Takes s off the server's list; what its backend becomes is the caller's business. */
static void session_unlink(struct hb_server *srv, struct hb_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->n--;
}

/* The backend s is registered for, if s still owns it (a takeover moves it elsewhere). */
static struct backend *session_backend(struct health_ctx *ctx, struct hb_session *s)
{
	struct backend *b = table_get(ctx->table, s->be_id);

	return b && b->session == s ? b : NULL;
}

static int session_flush(struct health_ctx *ctx, struct hb_session *s)
{
	long n = hl_send(s->h.fd, s->out, s->out_len);

	if (n < 0)
		return (int)n;
	memmove(s->out, s->out + n, s->out_len - (size_t)n);
	s->out_len -= (size_t)n;
	if (s->want_out == (s->out_len != 0))
		return 0;
	s->want_out = s->out_len != 0;
	return hl_mod(ctx, &s->h, HB_SESSION_EVENTS | (s->want_out ? EPOLLOUT : 0));
}

/* Queues one reply line and tries to send it now. A peer whose replies pile up past
 * HB_OUT_MAX is not reading them and is closed. */
static void session_reply(struct health_ctx *ctx, struct hb_session *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void session_reply(struct health_ctx *ctx, struct hb_session *s, const char *fmt, ...)
{
	char line[HB_REPLY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		n = (int)strlen(line);
	line[n++] = '\n';
	if (s->out_len + (size_t)n > sizeof(s->out)) {
		session_close(ctx, s, "peer does not read replies");
		return;
	}
	memcpy(s->out + s->out_len, line, (size_t)n);
	s->out_len += (size_t)n;
	if (session_flush(ctx, s))
		session_close(ctx, s, "write failed");
}

static void session_count_error(struct health_ctx *ctx, struct hb_session *s, const char *why)
{
	session_reply(ctx, s, "ERR %s", why);
	if (!s->h.dead && ++s->errors >= HB_MAX_ERRORS)
		session_close(ctx, s, "too many errors");
}

/* A malformed line is the peer's bug, worth a debug line at most. */
static void session_error(struct health_ctx *ctx, struct hb_session *s, const char *why)
{
	slb_log_limited(LOG_DEBUG, 0, "heartbeat: bad line from %s: %s", s->peer, why);
	session_count_error(ctx, s, why);
}

/* A line refused for security (bad or missing MAC, replay, too many backends) may be an
 * attack or a misconfigured key: the operator must hear of it, without a flood. */
static void session_refuse(struct health_ctx *ctx, struct hb_session *s, const char *why)
{
	slb_log_limited(LOG_WARN, 0, "heartbeat: refused a line from %s: %s", s->peer, why);
	session_count_error(ctx, s, why);
}

static enum be_event state_event(enum hb_state st)
{
	if (st == HB_STATE_DRAIN)
		return BE_EV_HB_DRAIN;
	if (st == HB_STATE_DOWN)
		return BE_EV_HB_DOWN;
	return BE_EV_HB_UP;
}

/* The state word of "OK state=": slb's view, which can be down while the peer says up. */
static const char *reply_state(enum be_state st)
{
	if (st == BE_STATE_UP)
		return "up";
	return st == BE_STATE_DRAINING ? "drain" : "down";
}

/* A REGISTER for an address that another live session holds: the newer one wins, since the
 * usual cause is a restarted agent whose old connection has not timed out yet. */
static void session_take_over(struct health_ctx *ctx, struct backend *b, struct hb_session *s)
{
	struct hb_session *old = b->session;

	slb_log(LOG_INFO, 0, "heartbeat: backend id %u registered again from %s; closing its session from %s",
		b->id, s->peer, old->peer);
	b->session = NULL;
	old->be_id = 0;
	session_close(ctx, old, "taken over by a new session");
}

/* An address slb itself serves would make every client connection a connection to slb again.
 * Returns true when m's address was refused (and answered). Costs a bind test only for an
 * address on the port of a wildcard listener. */
static bool session_refuse_address(struct health_ctx *ctx, struct hb_session *s, const struct slb_addr *a)
{
	const char *why = config_served_by(ctx->cfg, a, addr_is_local);

	if (why)
		session_refuse(ctx, s, why);
	return why != NULL;
}

static void session_register(struct health_ctx *ctx, struct hb_session *s, const struct hb_msg *m)
{
	enum hb_state st = m->has_state ? m->state : HB_STATE_UP;
	struct backend *b = session_backend(ctx, s);
	char why[48];

	if (b && !addr_equal(&b->addr, &m->addr)) {
		session_error(ctx, s, "session already registered another address");
		return;
	}
	if (session_refuse_address(ctx, s, &m->addr))
		return;
	b = table_find(ctx->table, &m->addr);
	if (!table_accepts_session(b)) {
		/* before any takeover: an operator's attached session must not be closed for this */
		session_refuse(ctx, s, "static backend");
		session_close(ctx, s, "tried to register a static backend");
		return;
	}
	if (!b && table_count_source(ctx->table, BE_SOURCE_HEARTBEAT) >= ctx->cfg->heartbeat_max_backends) {
		session_refuse(ctx, s, "too many backends");
		return;
	}
	if (b && b->session && b->session != s)
		session_take_over(ctx, b, s);
	if (table_register(ctx->table, m, s, ctx->now_ms, &b)) {
		session_error(ctx, s, "backend table full");
		return;
	}
	s->be_id = b->id;
	snprintf(why, sizeof(why), st == HB_STATE_UP ? "registered" : "registered with state=%s", hb_state_name(st));
	table_apply(ctx->table, b, state_event(st), why, ctx->now_ms);
	slb_log(LOG_DEBUG, 0, "heartbeat: %s registered backend id %u", s->peer, b->id);
	session_reply(ctx, s, "OK registered id=%u interval=%u timeout=%u", b->id, ctx->cfg->heartbeat_interval_ms,
		      ctx->cfg->heartbeat_timeout_ms);
}

static void session_heartbeat(struct health_ctx *ctx, struct hb_session *s, const struct hb_msg *m)
{
	struct backend *b = session_backend(ctx, s);

	if (!b) {
		session_error(ctx, s, "not registered");
		return;
	}
	table_set_load(ctx->table, b, m->load);
	table_apply(ctx->table, b, state_event(m->has_state ? m->state : b->reported), NULL, ctx->now_ms);
	session_reply(ctx, s, "OK state=%s interval=%u", reply_state(b->state), ctx->cfg->heartbeat_interval_ms);
}

static void session_bye(struct health_ctx *ctx, struct hb_session *s)
{
	struct backend *b = session_backend(ctx, s);

	if (b)
		table_apply(ctx->table, b, BE_EV_HB_BYE, NULL, ctx->now_ms);
	session_reply(ctx, s, "OK bye");
	if (!s->h.dead)
		session_close(ctx, s, "bye");
}

/* With a heartbeat key every line must verify before it can change anything; without one,
 * seq and mac are parsed and ignored, so signing peers work with either kind of slb. */
static void session_line(struct health_ctx *ctx, struct hb_session *s, const char *line, size_t len)
{
	char why[64];
	struct hb_msg m;

	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return; /* a blank line is harmless: tolerate it as a keepalive */
	s->last_rx_ms = ctx->now_ms;
	if (hb_parse_line(line, len, &m, why, sizeof(why))) {
		session_error(ctx, s, why);
		return;
	}
	if (s->srv->key && hbauth_check_msg(s->srv->key, &s->auth, line, &m, why, sizeof(why))) {
		session_refuse(ctx, s, why);
		return;
	}
	if (m.verb == HB_VERB_REGISTER)
		session_register(ctx, s, &m);
	else if (m.verb == HB_VERB_HEARTBEAT)
		session_heartbeat(ctx, s, &m);
	else
		session_bye(ctx, s);
}

/* Splits the input into lines. A buffer full without a newline is an over-long line: answer
 * once, then drop bytes up to the next newline. */
static void session_consume(struct health_ctx *ctx, struct hb_session *s)
{
	size_t start = 0;
	char *nl;

	while (!s->h.dead && (nl = memchr(s->in + start, '\n', s->in_len - start))) {
		size_t len = (size_t)(nl - (s->in + start));

		if (s->discarding)
			s->discarding = false;
		else
			session_line(ctx, s, s->in + start, len);
		start += len + 1;
	}
	if (s->h.dead)
		return;
	memmove(s->in, s->in + start, s->in_len - start);
	s->in_len -= start;
	if (s->in_len < sizeof(s->in))
		return;
	s->in_len = 0;
	if (!s->discarding) {
		s->discarding = true;
		session_error(ctx, s, "line too long");
	}
}

static void session_read(struct health_ctx *ctx, struct hb_session *s)
{
	for (unsigned i = 0; i < HB_READS_PER_TURN && !s->h.dead; i++) {
		ssize_t n = read(s->h.fd, s->in + s->in_len, sizeof(s->in) - s->in_len);

		if (n > 0) {
			s->in_len += (size_t)n;
			session_consume(ctx, s);
			continue;
		}
		if (n == 0) {
			session_close(ctx, s, "connection closed");
		} else if (errno == EINTR) {
			continue;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			slb_log_limited(LOG_DEBUG, errno, "heartbeat: read from %s", s->peer);
			session_close(ctx, s, "read error");
		}
		return;
	}
}

static void session_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	struct hb_session *s = (struct hb_session *)h;

	if ((events & EPOLLOUT) && session_flush(ctx, s)) {
		session_close(ctx, s, "write failed");
		return;
	}
	/* EOF, RDHUP and errors all surface through read(): data sent before a close (a BYE, a
	 * last heartbeat) is handled before the close itself. */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		session_read(ctx, s);
}

/* Retires s, and when it still owns a backend, takes that backend down at once: a closed
 * heartbeat connection means the process is gone. */
static void session_close(struct health_ctx *ctx, struct hb_session *s, const char *why)
{
	struct backend *b = session_backend(ctx, s);

	if (s->h.dead)
		return;
	if (b)
		table_apply(ctx->table, b, BE_EV_HB_CLOSED, NULL, ctx->now_ms);
	slb_log_limited(LOG_DEBUG, 0, "heartbeat: session from %s closed: %s", s->peer, why);
	session_unlink(s->srv, s);
	hl_retire(ctx, &s->h);
}

static void session_open(struct health_ctx *ctx, struct hb_server *srv, int fd, const struct slb_addr *peer)
{
	struct hb_session *s = calloc(1, sizeof(*s));

	if (!s) {
		slb_log_limited(LOG_WARN, ENOMEM, "heartbeat: refusing a session");
		close(fd);
		return;
	}
	s->h.on_event = session_on_event;
	s->h.free = session_free;
	s->h.fd = fd;
	s->srv = srv;
	s->last_rx_ms = ctx->now_ms;
	addr_format(peer, s->peer, sizeof(s->peer));
	if (hl_add(ctx, &s->h, HB_SESSION_EVENTS)) {
		slb_log_limited(LOG_WARN, errno, "heartbeat: epoll add for %s", s->peer);
		close(fd);
		free(s);
		return;
	}
	s->next = srv->head;
	if (srv->head)
		srv->head->prev = s;
	srv->head = s;
	srv->n++;
	/* A fresh random nonce per connection is what makes a line captured on one connection
	 * useless on any other: the MAC covers it. */
	hbauth_new_nonce(s->auth.nonce);
	session_reply(ctx, s, "HELLO slb/1 nonce=%s", s->auth.nonce);
}

/* Out of descriptors the listener stays readable and would spin the loop: park it. */
static void listener_pause(struct health_ctx *ctx, struct hb_server *srv, int err)
{
	slb_log_limited(LOG_WARN, err, "heartbeat: accept failed, pausing for %d ms", HB_ACCEPT_PAUSE_MS);
	srv->paused_until_ms = ctx->now_ms + HB_ACCEPT_PAUSE_MS;
	hl_mod(ctx, &srv->listener, 0);
}

static bool peer_allowed(const struct slb_config *cfg, const struct slb_addr *peer)
{
	if (cfg->n_heartbeat_allow == 0)
		return true;
	for (unsigned i = 0; i < cfg->n_heartbeat_allow; i++)
		if (addr_in_cidr(peer, &cfg->heartbeat_allow[i]))
			return true;
	return false;
}

static void listener_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	struct hb_server *srv = (struct hb_server *)h;

	for (unsigned i = 0; i < HB_ACCEPTS_PER_TURN; i++) {
		struct slb_addr peer = { .len = sizeof(peer.ss) };
		int fd = accept4(h->fd, (struct sockaddr *)&peer.ss, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				listener_pause(ctx, srv, errno);
			return;
		}
		if (!peer_allowed(ctx->cfg, &peer)) {
			char text[ADDR_TEXT_MAX];

			addr_format(&peer, text, sizeof(text));
			slb_log_limited(LOG_WARN, 0, "heartbeat: refused a connection from %s: not in --heartbeat-allow",
					text);
			close(fd);
			continue;
		}
		if (srv->n >= HB_SESSIONS_MAX) {
			slb_log_limited(LOG_WARN, 0, "heartbeat: %u sessions open, refusing one more", srv->n);
			close(fd);
			continue;
		}
		session_open(ctx, srv, fd, &peer);
	}
}

static void hb_server_free(struct hb_server *srv)
{
	if (srv->key) {
		hbauth_wipe_key(srv->key);
		free(srv->key);
	}
	free(srv);
}

/* Loads the key before the port is bound, so a bad key file stops slb before anyone can
 * connect; without one, says once what that means. */
static int hb_server_load_key(const struct slb_config *cfg, struct hb_server *srv, char *err, size_t errlen)
{
	char text[ADDR_TEXT_MAX];
	int rc = hbauth_init();

	if (rc) {
		snprintf(err, errlen, "heartbeat: libsodium cannot start (no randomness source?)");
		return rc;
	}
	addr_format(&cfg->heartbeat_listen, text, sizeof(text));
	if (!cfg->heartbeat_key_file[0]) {
		slb_log(LOG_WARN, 0, "heartbeat: no --heartbeat-key-file: anyone who can reach %s%s can register a "
			"backend", text, cfg->n_heartbeat_allow ? " from a --heartbeat-allow network" : "");
		return 0;
	}
	srv->key = malloc(sizeof(*srv->key));
	if (!srv->key) {
		snprintf(err, errlen, "heartbeat: out of memory");
		return -ENOMEM;
	}
	rc = hbauth_load_key(cfg->heartbeat_key_file, srv->key, err, errlen);
	if (rc)
		return rc;
	slb_log(LOG_INFO, 0, "heartbeat: lines to %s must be signed with the key in %s", text, cfg->heartbeat_key_file);
	return 0;
}

int hb_server_open(struct health_ctx *ctx, char *err, size_t errlen)
{
	struct hb_server *srv = calloc(1, sizeof(*srv));
	int fd, e;

	if (!srv) {
		snprintf(err, errlen, "heartbeat: out of memory");
		return -ENOMEM;
	}
	e = hb_server_load_key(ctx->cfg, srv, err, errlen);
	if (e)
		goto out_free_srv;
	fd = hl_listen(&ctx->cfg->heartbeat_listen, "heartbeat", err, errlen);
	if (fd < 0) {
		e = fd;
		goto out_free_srv;
	}
	srv->listener.on_event = listener_on_event;
	srv->listener.fd = fd;
	e = hl_add(ctx, &srv->listener, EPOLLIN);
	if (e) {
		snprintf(err, errlen, "heartbeat: epoll: %s", strerror(-e));
		close(fd);
		goto out_free_srv;
	}
	ctx->hb = srv;
	return 0;

out_free_srv:
	hb_server_free(srv);
	return e;
}

/* A registered session outlives its heartbeat timeout (the backend is down but may resume)
 * by HB_SILENT_CLOSE_MS; a host that vanished without a FIN is closed after that. */
static bool session_idle(const struct health_ctx *ctx, const struct hb_session *s)
{
	int64_t limit = HB_UNREGISTERED_IDLE_MS;

	if (s->be_id)
		limit = (int64_t)ctx->cfg->heartbeat_timeout_ms + HB_SILENT_CLOSE_MS;
	return ctx->now_ms - s->last_rx_ms >= limit;
}

void hb_server_tick(struct health_ctx *ctx)
{
	struct hb_server *srv = ctx->hb;
	struct hb_session *s, *next;

	if (!srv)
		return;
	for (s = srv->head; s; s = next) {
		next = s->next;
		if (session_idle(ctx, s))
			session_close(ctx, s, s->be_id ? "silent too long" : "no REGISTER in time");
	}
	if (srv->paused_until_ms && ctx->now_ms >= srv->paused_until_ms) {
		srv->paused_until_ms = 0;
		hl_mod(ctx, &srv->listener, EPOLLIN);
	}
}

void hb_server_close(struct health_ctx *ctx)
{
	struct hb_server *srv = ctx->hb;

	if (!srv)
		return;
	while (srv->head) {
		struct hb_session *s = srv->head;

		session_unlink(srv, s);
		close(s->h.fd);
		free(s);
	}
	close(srv->listener.fd);
	hb_server_free(srv);
	ctx->hb = NULL;
}

unsigned hb_server_sessions(const struct health_ctx *ctx)
{
	return ctx->hb ? ctx->hb->n : 0;
}
