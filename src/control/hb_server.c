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
#include "slb/common/hbauth.h"
#include "slb/common/heartbeat.h"
#include "slb/control/phi.h"

#define HB_OUT_MAX 1024          /* replies queued for a peer that does not read them */
#define HB_REPLY_MAX 160
#define HB_READS_PER_TURN 8      /* fairness: one chatty peer cannot hold the loop */
#define HB_SESSION_EVENTS (EPOLLIN | EPOLLRDHUP)
#define HB_NOTE_BYTES 60         /* of a bad line, shown in the warning */
#define HB_NOTE_INTERVAL_MS 10000 /* one warning per peer host per this */
#define HB_NOTE_HOSTS 32         /* peer hosts remembered for that; the stalest is forgotten */

struct hb_session {
	struct hl_handler h;         /* on the listener's list (hl_conn_link) */
	struct hb_server *srv;
	uint32_t be_id;              /* backend this session registered, 0 before REGISTER */
	unsigned errors;             /* bad lines so far; HB_MAX_ERRORS closes */
	bool discarding;             /* dropping the rest of an over-long line */
	bool want_out;               /* EPOLLOUT armed: replies are waiting in out[] */
	bool unsent;                 /* on srv->unsent: replies queued this loop turn */
	struct hb_session *next_unsent;
	bool noted;                  /* a bad line was logged at warn: so is the close, at info */
	uint8_t dialect;             /* enum hb_dialect: fixed by the session's first line */
	const char *line;            /* the line being handled, in in[]: read only while handling it */
	size_t line_len;
	int64_t last_rx_ms;          /* last complete line */
	struct hbauth_session auth;  /* nonce sent in HELLO, last seq that verified */
	struct phi_window phi;       /* recent heartbeat intervals, from REGISTER on */
	char peer[ADDR_TEXT_MAX];
	size_t in_len;
	size_t out_len;
	char in[HB_LINE_MAX];
	char out[HB_OUT_MAX];
};

/* When a peer host's last bad line was logged, and how many sessions were not since. */
struct hb_note {
	char host[ADDR_TEXT_MAX];    /* "10.0.0.7" or "[::1]": the peer text without its port */
	int64_t last_ms;             /* 0: free */
	unsigned suppressed;
};

/* A session speaks one dialect for its whole life, fixed by its first line. */
enum hb_dialect {
	HB_DIALECT_UNKNOWN = 0,
	HB_DIALECT_SLB,    /* REGISTER / HEARTBEAT / BYE, answered line by line */
	HB_DIALECT_LEGACY, /* "heartbeat:<port>" every 10 s, and the peer never reads */
};

struct hb_server {
	struct hl_listener listener; /* its sessions, HB_SESSIONS_MAX at most */
	struct hb_session *unsent;   /* sessions with replies queued this turn (hb_server_send_replies) */
	struct hbauth_key *key;      /* NULL without --heartbeat-key-file: lines are not checked */
	struct hb_note notes[HB_NOTE_HOSTS];
};

static void session_close(struct health_ctx *ctx, struct hb_session *s, const char *why);

static void session_free(struct hl_handler *h)
{
	free(h); /* h is the first member of struct hb_session */
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

/* Queues one reply line; hb_server_send_replies sends it at the end of the loop turn. A peer
 * whose replies pile up past HB_OUT_MAX is not reading them and is closed. */
static void session_reply(struct health_ctx *ctx, struct hb_session *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void session_reply(struct health_ctx *ctx, struct hb_session *s, const char *fmt, ...)
{
	char line[HB_REPLY_MAX];
	va_list ap;
	int n;

	if (s->dialect == HB_DIALECT_LEGACY)
		return; /* such a peer never reads: replies would only fill its socket */
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
	if (!s->unsent) {
		s->unsent = true;
		s->next_unsent = s->srv->unsent;
		s->srv->unsent = s;
	}
}

/* See hb_server.h. Sessions closed in this turn are still in memory (the graveyard is emptied
 * after this) and are skipped. */
void hb_server_send_replies(struct health_ctx *ctx)
{
	struct hb_session *s;

	if (!ctx->hb)
		return;
	while ((s = ctx->hb->unsent)) {
		ctx->hb->unsent = s->next_unsent;
		s->unsent = false;
		if (!s->h.dead && s->out_len && session_flush(ctx, s))
			session_close(ctx, s, "write failed");
	}
}

static void session_count_error(struct health_ctx *ctx, struct hb_session *s, const char *why)
{
	session_reply(ctx, s, "ERR %s", why);
	if (!s->h.dead && ++s->errors >= HB_MAX_ERRORS)
		session_close(ctx, s, "too many errors");
}

/* The note of peer's host: its own, or the stalest one, taken over. */
static struct hb_note *note_find(struct hb_server *srv, const char *peer)
{
	const char *colon = strrchr(peer, ':');
	size_t len = colon ? (size_t)(colon - peer) : strlen(peer);
	struct hb_note *stalest = &srv->notes[0];

	for (unsigned i = 0; i < HB_NOTE_HOSTS; i++) {
		struct hb_note *n = &srv->notes[i];

		if (strncmp(n->host, peer, len) == 0 && n->host[len] == '\0')
			return n;
		if (n->last_ms < stalest->last_ms)
			stalest = n;
	}
	snprintf(stalest->host, sizeof(stalest->host), "%.*s", (int)len, peer);
	stalest->last_ms = 0;
	stalest->suppressed = 0;
	return stalest;
}

/* A peer that speaks another dialect must be visible at the default level, or an operator
 * wiring up a new kind of backend sees nothing: the first bad line of a session is logged at
 * warn with its first bytes, at most once per HB_NOTE_INTERVAL_MS per peer host, so a peer
 * that reconnects in a loop does not flood the log. Returns true when it was logged. */
static bool session_note(struct health_ctx *ctx, struct hb_session *s, const char *why)
{
	char text[HB_NOTE_BYTES * 4 + 1], more[64] = "";
	size_t len = s->line_len < HB_NOTE_BYTES ? s->line_len : HB_NOTE_BYTES;
	struct hb_note *n;

	if (s->errors || !s->line)
		return false;
	n = note_find(s->srv, s->peer);
	if (n->last_ms && ctx->now_ms - n->last_ms < HB_NOTE_INTERVAL_MS) {
		n->suppressed++;
		return false;
	}
	if (n->suppressed)
		snprintf(more, sizeof(more), " [%u more sessions from this host not logged]", n->suppressed);
	n->last_ms = ctx->now_ms;
	n->suppressed = 0;
	log_escape(text, sizeof(text), s->line, len);
	s->noted = true;
	slb_log_limited(LOG_WARN, 0, "heartbeat: bad line from %s: %s: \"%s\"%s%s", s->peer, why, text,
			len < s->line_len ? "..." : "", more);
	return true;
}

/* A malformed line is the peer's bug: its first one in a session is noted, the rest are
 * worth a debug line at most. */
static void session_error(struct health_ctx *ctx, struct hb_session *s, const char *why)
{
	if (!session_note(ctx, s, why))
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
	struct hb_session *old = table_detach_session(b);

	slb_log(LOG_INFO, 0, "heartbeat: backend id %u registered again from %s; closing its session from %s",
		b->id, s->peer, old->peer);
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

/* See hb_server.h. */
void hb_server_detach(struct health_ctx *ctx, struct backend *b, const char *why)
{
	struct hb_session *s = table_detach_session(b);

	if (!s)
		return;
	s->be_id = 0;
	session_close(ctx, s, why);
}

/* Publishes the session's rhythm for phi (hb_server_tick, /status). */
static void session_rhythm(struct health_ctx *ctx, struct hb_session *s)
{
	gray_note_rhythm(ctx->gray, s->be_id, &s->phi);
}

/* The index of the service m registers into ("default" without service=; the legacy
 * dialect has none), or -1 once refused: slb has no such service, or it has no listener (a
 * file of [service NAME] sections only), so no client would ever reach the backend. */
static int session_service(struct health_ctx *ctx, struct hb_session *s, const struct hb_msg *m)
{
	int svc = config_service_find(ctx->cfg, m->service[0] ? m->service : "default");

	if (svc < 0 || !config_service_served(ctx->cfg, (unsigned)svc)) {
		session_refuse(ctx, s, "unknown service");
		return -1;
	}
	return svc;
}

static void session_register(struct health_ctx *ctx, struct hb_session *s, const struct hb_msg *m)
{
	enum hb_state st = m->has_state ? m->state : HB_STATE_UP;
	struct backend *b = session_backend(ctx, s);
	char why[48];
	int svc;

	if (b && !addr_equal(&b->addr, &m->addr)) {
		session_error(ctx, s, "session already registered another address");
		return;
	}
	if (session_refuse_address(ctx, s, &m->addr) || (svc = session_service(ctx, s, m)) < 0)
		return;
	b = table_find(ctx->table, &m->addr);
	if (!table_accepts_session(b)) {
		/* before any takeover: an operator's attached session must not be closed for this */
		session_refuse(ctx, s, "static backend");
		session_close(ctx, s, "tried to register a static backend");
		return;
	}
	if (!b && table_count_registered(ctx->table) >= ctx->cfg->heartbeat_max_backends) {
		session_refuse(ctx, s, "too many backends");
		return;
	}
	if (b && b->session && b->session != s)
		session_take_over(ctx, b, s);
	if (table_register(ctx->table, m, s, ctx->now_ms, &b)) {
		session_error(ctx, s, "backend table full");
		return;
	}
	if (b->source != BE_SOURCE_STATIC) { /* a static backend is its configuration's */
		table_set_service(ctx->table, b, (unsigned)svc);
		table_set_backup(ctx->table, b, m->backup);
	}
	s->be_id = b->id;
	phi_reset(&s->phi, ctx->now_ms);
	session_rhythm(ctx, s);
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
	phi_arrive(&s->phi, ctx->now_ms, ctx->cfg->heartbeat_timeout_ms);
	session_rhythm(ctx, s);
	table_set_load(ctx->table, b, m->load);
	table_apply(ctx->table, b, state_event(m->has_state ? m->state : b->reported), NULL, ctx->now_ms);
	if (b->state != BE_STATE_DRAINING) {
		session_reply(ctx, s, "OK state=%s interval=%u", reply_state(b->state), ctx->cfg->heartbeat_interval_ms);
		return;
	}
	/* A draining backend learns how many connections it still has, and "drained" once none
	 * is left: the moment it (or its agent) can stop without cutting anyone off. */
	hl_note_active(ctx, b);
	session_reply(ctx, s, "OK state=drain interval=%u conns=%llu%s", ctx->cfg->heartbeat_interval_ms,
		      (unsigned long long)b->active_conns, b->drained ? " drained" : "");
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
/* The first "heartbeat:<port>" line registers the peer's IP with that port, each later line
 * is a heartbeat. It cannot be authenticated, so with a key it is refused, loudly. */
static void session_legacy(struct health_ctx *ctx, struct hb_session *s, unsigned port)
{
	struct hb_msg m = { .verb = s->be_id ? HB_VERB_HEARTBEAT : HB_VERB_REGISTER, .load = -1, .legacy = true };

	if (s->srv->key) {
		slb_log_limited(LOG_WARN, 0, "heartbeat: %s speaks the legacy \"heartbeat:<port>\" dialect, which cannot "
				"be authenticated: refused because --heartbeat-key-file is set", s->peer);
		session_close(ctx, s, "legacy dialect refused: a heartbeat key is required");
		return;
	}
	s->dialect = HB_DIALECT_LEGACY;
	if (s->be_id) {
		session_heartbeat(ctx, s, &m);
		return;
	}
	if (addr_parse(s->peer, &m.addr, NULL, 0)) {
		session_close(ctx, s, "peer address unreadable");
		return;
	}
	addr_set_port(&m.addr, port);
	session_register(ctx, s, &m);
}

/* Returns true when line was the legacy dialect's (and was handled). A session that started
 * in it stays in it: any other line is an error there. */
static bool session_legacy_line(struct health_ctx *ctx, struct hb_session *s, const char *line, size_t len)
{
	unsigned port;

	if (hb_parse_legacy(line, len, &port) == 0) {
		session_legacy(ctx, s, port);
		return true;
	}
	if (s->dialect != HB_DIALECT_LEGACY)
		return false;
	session_error(ctx, s, "not a \"heartbeat:<port>\" line");
	return true;
}

static void session_line(struct health_ctx *ctx, struct hb_session *s, const char *line, size_t len)
{
	char why[64];
	struct hb_msg m;

	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return; /* a blank line is harmless: tolerate it as a keepalive */
	s->last_rx_ms = ctx->now_ms;
	s->line = line;
	s->line_len = len;
	if (s->dialect != HB_DIALECT_SLB && session_legacy_line(ctx, s, line, len))
		return;
	s->dialect = HB_DIALECT_SLB;
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
		s->line = s->in;
		s->line_len = sizeof(s->in);
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
	if (b) {
		gray_forget_rhythm(ctx->gray, b->id);
		table_apply(ctx->table, b, BE_EV_HB_CLOSED, NULL, ctx->now_ms);
	}
	slb_log_limited(s->noted ? LOG_INFO : LOG_DEBUG, 0, "heartbeat: session from %s closed: %s", s->peer, why);
	/* last words (ERR, OK bye) go before the close, best effort: the peer may be gone */
	if (s->out_len)
		hl_send(s->h.fd, s->out, s->out_len);
	hl_conn_close(ctx, &s->h);
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
	hl_conn_link(&srv->listener, &s->h);
	/* A fresh random nonce per connection is what makes a line captured on one connection
	 * useless on any other: the MAC covers it. */
	hbauth_new_nonce(s->auth.nonce);
	session_reply(ctx, s, "HELLO slb/1 nonce=%s", s->auth.nonce);
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

/* The allow-list is checked before anything is spent on the peer. */
static void session_accept(struct health_ctx *ctx, struct hl_listener *l, int fd, const struct slb_addr *peer)
{
	char text[ADDR_TEXT_MAX];

	if (peer_allowed(ctx->cfg, peer)) {
		session_open(ctx, (struct hb_server *)l, fd, peer);
		return;
	}
	slb_log_limited(LOG_WARN, 0, "heartbeat: refused a connection from %s: not in --heartbeat-allow",
			addr_format(peer, text, sizeof(text)));
	close(fd);
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

unsigned hb_sessions_max(const struct slb_config *cfg)
{
	unsigned n = cfg->heartbeat_max_backends + 64;

	return n > HB_SESSIONS_MAX ? n : HB_SESSIONS_MAX;
}

int hb_server_open(struct health_ctx *ctx, int fd, char *err, size_t errlen)
{
	struct hb_server *srv = calloc(1, sizeof(*srv));
	int e;

	if (!srv) {
		snprintf(err, errlen, "heartbeat: out of memory");
		e = -ENOMEM;
		goto out_close_fd;
	}
	e = hb_server_load_key(ctx->cfg, srv, err, errlen);
	if (e)
		goto out_free_srv;
	srv->listener.what = "heartbeat";
	srv->listener.max_conns = hb_sessions_max(ctx->cfg);
	srv->listener.accept = session_accept;
	e = hl_listener_open(ctx, &srv->listener, &ctx->cfg->heartbeat_listen, fd, err, errlen);
	fd = -1; /* the listener's now, or closed */
	if (e)
		goto out_free_srv;
	ctx->hb = srv;
	return 0;

out_free_srv:
	hb_server_free(srv);
out_close_fd:
	if (fd >= 0)
		close(fd);
	return e;
}

/* A registered session outlives its heartbeat timeout (the backend is down but may resume)
 * by HB_SILENT_CLOSE_MS; a host that vanished without a FIN is closed after that. */
static bool session_idle(const struct health_ctx *ctx, const struct hb_session *s)
{
	int64_t limit = HB_UNREGISTERED_IDLE_MS;

	if (s->be_id)
		limit = (int64_t)(s->dialect == HB_DIALECT_LEGACY ? ctx->cfg->legacy_heartbeat_timeout_ms
								 : ctx->cfg->heartbeat_timeout_ms) +
			HB_SILENT_CLOSE_MS;
	return ctx->now_ms - s->last_rx_ms >= limit;
}

/* With --heartbeat-phi: takes b out once its silence is that unlikely for its own rhythm,
 * before the hard --heartbeat-timeout; the next heartbeat brings it back. Below the mean
 * interval phi is under 0.31, so most ticks cost one comparison per session. */
static void session_suspect(struct health_ctx *ctx, struct hb_session *s)
{
	unsigned limit = ctx->cfg->heartbeat_phi_x100;
	const struct gray_entry *e = &ctx->gray->be[s->be_id];
	struct backend *b = session_backend(ctx, s);
	int64_t silent = ctx->now_ms - e->hb_last_ms;
	char why[TABLE_REASON_MAX];
	double phi;

	if (!limit || !b || b->timed_out || !e->hb_ready || silent <= e->hb_mean_ms)
		return;
	phi = gray_phi(ctx->gray, s->be_id, ctx->now_ms);
	if (phi * 100 < limit)
		return;
	snprintf(why, sizeof(why), "no heartbeat for %lld ms: phi %.1f over %u.%02u (interval %.0f +- %.0f ms)",
		 (long long)silent, phi, limit / 100, limit % 100, e->hb_mean_ms, e->hb_sd_ms);
	table_apply(ctx->table, b, BE_EV_HB_TIMEOUT, why, ctx->now_ms);
}

void hb_server_tick(struct health_ctx *ctx)
{
	struct hb_server *srv = ctx->hb;
	struct hl_handler *h, *next;

	if (!srv)
		return;
	for (h = srv->listener.head; h; h = next) {
		struct hb_session *s = (struct hb_session *)h;

		next = h->next;
		if (s->be_id)
			session_suspect(ctx, s);
		if (session_idle(ctx, s))
			session_close(ctx, s, s->be_id ? "silent too long" : "no REGISTER in time");
	}
	hl_listener_tick(ctx, &srv->listener);
}

void hb_server_close(struct health_ctx *ctx)
{
	struct hb_server *srv = ctx->hb;

	if (!srv)
		return;
	hl_listener_close(ctx, &srv->listener);
	hb_server_free(srv);
	ctx->hb = NULL;
}

int hb_server_listen_fd(const struct health_ctx *ctx)
{
	return ctx->hb ? ctx->hb->listener.h.fd : -1;
}

void hb_server_hand_over(struct health_ctx *ctx)
{
	struct hl_handler *h, *next;
	unsigned leased = 0;

	if (!ctx->hb)
		return;
	for (h = ctx->hb->listener.head; h; h = next) {
		struct hb_session *s = (struct hb_session *)h;
		struct backend *b = session_backend(ctx, s);

		next = h->next;
		if (b && b->source == BE_SOURCE_HEARTBEAT) {
			table_apply(ctx->table, b, BE_EV_LEASE, NULL, ctx->now_ms);
			leased++;
		}
		session_close(ctx, s, "handed over to the new process");
	}
	slb_log(LOG_INFO, 0, "heartbeat: %u backends handed over to the new process; closing every session so "
		"that they reconnect to it", leased);
	hb_server_close(ctx);
}

unsigned hb_server_sessions(const struct health_ctx *ctx)
{
	return ctx->hb ? ctx->hb->listener.n : 0;
}
