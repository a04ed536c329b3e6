/* hb_client: heartbeat protocol client; see hb_client.h.
 *
 * One socket and one timerfd per client. What the timer measures depends on the phase:
 *
 *   phase        socket                    timer fires ->
 *   BACKOFF      none                      connect
 *   CONNECTING   connect in flight         give up (connect timeout)
 *   HELLO        waiting for slb's HELLO   give up (answer timeout)
 *   REGISTERING  REGISTER sent             give up (answer timeout)
 *   RUNNING      registered                send a HEARTBEAT (periodic)
 *
 * Every failure goes through hb_fail(): close, log, arm the backoff, and nothing else, so
 * a session is always either fully alive or fully gone.
 *
 * With a key, every line we send ends in " seq=N mac=HEX": N counts from 1 on each connection
 * and the MAC covers the nonce of that connection's HELLO (see slb/common/heartbeat.h). */
#include "hb_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "slb/common/log.h"

#define HB_CONNECT_TIMEOUT_MS 2000
#define HB_ANSWER_TIMEOUT_MS 2000
/* A session is deemed dead after this many HEARTBEATs without an OK, if the last OK is also
 * older than the answer timeout: short intervals must not turn a slow slb into a flap. */
#define HB_UNANSWERED_MAX 3

enum hb_phase {
	HB_PHASE_BACKOFF = 0,
	HB_PHASE_CONNECTING,
	HB_PHASE_HELLO,
	HB_PHASE_REGISTERING,
	HB_PHASE_RUNNING,
};

struct hb_client {
	struct hb_client_config cfg;
	struct evloop *loop;
	struct ev_watch sock;   /* the session with slb; fd -1 between sessions */
	struct ev_watch timer;  /* see the table at the top */
	enum hb_phase phase;
	unsigned backoff_ms;    /* delay before the next connect */
	unsigned interval_ms;   /* heartbeat period in force */
	unsigned unanswered;    /* HEARTBEATs sent since the last OK */
	int64_t last_ok_ms;     /* when slb last answered OK */
	unsigned failures;      /* consecutive failed sessions: only the first is a warning */
	uint64_t sent;          /* HEARTBEATs sent, over all sessions */
	uint64_t seq;           /* last seq= sent on this connection (with a key) */
	char nonce[HBAUTH_NONCE_HEX + 1]; /* from this connection's HELLO; "" before it */
	hb_client_report_fn report;
	void *arg;
	size_t in_len, out_len;
	char in[HB_LINE_MAX];
	char out[HB_LINE_MAX * 4];
	char lb_text[ADDR_TEXT_MAX];
	bool drained;           /* the last OK said " drained" (this instance holds no connection) */
};

/* "OK state=drain ... conns=0 drained": the word, not a prefix of another. */
static bool hb_line_says_drained(const char *line)
{
	const char *w = strstr(line, " drained");

	return w && (w[8] == '\0' || w[8] == ' ');
}

/* See hb_client.h. */
bool hb_client_drained(const struct hb_client *c)
{
	return c->drained;
}

static void hb_set_timer(struct hb_client *c, unsigned first_ms, unsigned period_ms)
{
	int rc = evloop_timer_arm(c->timer.fd, first_ms, period_ms);

	/* Only EINVAL is possible on a valid timerfd, and our values are in range. */
	if (rc)
		slb_log(LOG_ERROR, rc, "heartbeat to %s: cannot arm the timer", c->lb_text);
}

static void hb_close_socket(struct hb_client *c)
{
	int fd = c->sock.fd;

	if (fd < 0)
		return;
	evloop_del(c->loop, &c->sock);
	close(fd);
	c->in_len = c->out_len = 0;
}

/* Ends the session for reason and schedules the next connect. err is an errno or 0. */
static void hb_fail(struct hb_client *c, int err, const char *reason)
{
	bool was_registered = c->phase == HB_PHASE_RUNNING;

	hb_close_socket(c);
	c->phase = HB_PHASE_BACKOFF;
	c->failures++;
	if (was_registered || c->failures == 1)
		slb_log(LOG_WARN, err, "heartbeat to %s: %s; reconnecting from %u ms backoff",
			c->lb_text, reason, c->backoff_ms);
	else
		slb_log(LOG_DEBUG, err, "heartbeat to %s: %s (failure %u)", c->lb_text, reason,
			c->failures);
	hb_set_timer(c, c->backoff_ms, 0);
	c->backoff_ms *= 2;
	if (c->backoff_ms > HB_CLIENT_BACKOFF_MAX_MS)
		c->backoff_ms = HB_CLIENT_BACKOFF_MAX_MS;
}

static int hb_want(struct hb_client *c, uint32_t events)
{
	int rc = evloop_modify(c->loop, &c->sock, events);

	if (rc)
		hb_fail(c, rc, "epoll_ctl failed");
	return rc;
}

/* Writes what is queued. Returns 0 (EPOLLOUT is asked for whatever is left), or -errno after
 * failing the session. */
static int hb_flush(struct hb_client *c)
{
	size_t off = 0;

	while (off < c->out_len) {
		ssize_t n = send(c->sock.fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1) {
			int err = errno;

			hb_fail(c, err, "send failed");
			return -err;
		}
		off += (size_t)n;
	}
	memmove(c->out, c->out + off, c->out_len - off);
	c->out_len -= off;
	return hb_want(c, EPOLLIN | (c->out_len ? EPOLLOUT : 0));
}

/* Formats one line into buf (len bytes) as slb wants it: with a key, " seq=N mac=HEX" is
 * appended, the MAC taken over "<nonce> <line up to seq>"; then "\n". Returns the length with
 * the "\n", or -EMSGSIZE when the line would not fit slb's HB_LINE_MAX. */
static int hb_vformat(struct hb_client *c, char *buf, size_t len, const char *fmt, va_list ap)
{
	char mac[HB_MAC_HEX + 1];
	int n = vsnprintf(buf, len, fmt, ap), m;

	if (n < 0 || (size_t)n >= len)
		return -EMSGSIZE;
	if (c->cfg.key) {
		m = snprintf(buf + n, len - (size_t)n, " seq=%" PRIu64, c->seq + 1);
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -EMSGSIZE;
		n += m;
		hbauth_sign(c->cfg.key, c->nonce, buf, (size_t)n, mac);
		m = snprintf(buf + n, len - (size_t)n, " mac=%s", mac);
		if (m < 0 || (size_t)m >= len - (size_t)n)
			return -EMSGSIZE;
		n += m;
		c->seq++;
	}
	if ((size_t)n + 1 >= len || n + 1 > HB_LINE_MAX)
		return -EMSGSIZE;
	buf[n++] = '\n';
	return n;
}

static int hb_format(struct hb_client *c, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int hb_format(struct hb_client *c, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = hb_vformat(c, buf, len, fmt, ap);
	va_end(ap);
	return n;
}

/* Queues one line and sends it. Returns 0, or -errno after failing the session. */
static int hb_send_line(struct hb_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int hb_send_line(struct hb_client *c, const char *fmt, ...)
{
	char line[HB_LINE_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = hb_vformat(c, line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0) {
		hb_fail(c, EMSGSIZE, "line too long for the heartbeat protocol");
		return n;
	}
	/* The queue only backs up when slb stops reading: treat it as a dead session. */
	if ((size_t)n > sizeof(c->out) - c->out_len) {
		hb_fail(c, ENOBUFS, "slb is not reading our lines");
		return -ENOBUFS;
	}
	memcpy(c->out + c->out_len, line, (size_t)n);
	c->out_len += (size_t)n;
	return hb_flush(c);
}

/* " load=N", or "" when the reporter left the load out. */
static const char *hb_load_text(int load, char *buf, size_t len)
{
	if (load < 0)
		return "";
	snprintf(buf, len, " load=%d", load > 100 ? 100 : load);
	return buf;
}

static int hb_send_register(struct hb_client *c)
{
	enum hb_state state = HB_STATE_UP;
	char svc[ADDR_TEXT_MAX], weight[24] = "", name[HB_NAME_MAX + 8] = "", load_buf[16];
	char service[HB_SERVICE_MAX + 10] = "";
	int load = -1;

	c->report(c->arg, HB_VERB_REGISTER, &state, &load);
	if (c->cfg.weight)
		snprintf(weight, sizeof(weight), " weight=%u", c->cfg.weight);
	if (c->cfg.name[0])
		snprintf(name, sizeof(name), " name=%s", c->cfg.name);
	if (c->cfg.service_name[0])
		snprintf(service, sizeof(service), " service=%s", c->cfg.service_name);
	return hb_send_line(c, "REGISTER %s%s%s%s state=%s%s",
			    addr_format(&c->cfg.service, svc, sizeof(svc)), weight, name, service,
			    hb_state_name(state), hb_load_text(load, load_buf, sizeof(load_buf)));
}

static void hb_send_heartbeat(struct hb_client *c)
{
	enum hb_state state = HB_STATE_UP;
	char load_buf[16];
	int load = -1;

	c->report(c->arg, HB_VERB_HEARTBEAT, &state, &load);
	if (hb_send_line(c, "HEARTBEAT state=%s%s", hb_state_name(state),
			 hb_load_text(load, load_buf, sizeof(load_buf))))
		return;
	c->sent++;
	c->unanswered++;
}

/* Finds "key=<number>" among the words of line. Returns 0 and the value, or -ENOENT. */
static int hb_find_number(const char *line, const char *key, unsigned long *out)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += klen) {
		char num[24];
		size_t n;

		if ((p != line && p[-1] != ' ') || p[klen] != '=')
			continue;
		n = strcspn(p + klen + 1, " ");
		if (n == 0 || n >= sizeof(num))
			return -ENOENT;
		memcpy(num, p + klen + 1, n);
		num[n] = '\0';
		return cli_parse_ulong(num, 0, 86400000, out);
	}
	return -ENOENT;
}

static void hb_start_interval(struct hb_client *c, unsigned long slb_interval)
{
	unsigned ms = c->cfg.interval_ms;

	if (!ms)
		ms = slb_interval ? (unsigned)slb_interval : HB_CLIENT_DEFAULT_INTERVAL_MS;
	if (ms == c->interval_ms && c->phase == HB_PHASE_RUNNING)
		return;
	c->interval_ms = ms;
	hb_set_timer(c, ms, ms);
}

static int hb_on_registered(struct hb_client *c, const char *line)
{
	unsigned long id = 0, interval = 0, timeout = 0;

	hb_find_number(line, "id", &id);
	hb_find_number(line, "interval", &interval);
	hb_find_number(line, "timeout", &timeout);
	hb_start_interval(c, interval);
	c->phase = HB_PHASE_RUNNING;
	c->backoff_ms = HB_CLIENT_BACKOFF_MIN_MS;
	c->failures = 0;
	c->unanswered = 0;
	c->last_ok_ms = evloop_now_ms();
	slb_log(LOG_INFO, 0, "heartbeat to %s: registered as id=%lu, every %u ms (slb timeout %lu ms)",
		c->lb_text, id, c->interval_ms, timeout);
	return 0;
}

/* Takes the nonce that this connection's lines are signed with, then registers. A keyed
 * client cannot sign without one, so a HELLO without it ends the session. */
static int hb_on_hello(struct hb_client *c, const char *line)
{
	const char *p = strstr(line, " nonce=");
	size_t n = p ? strspn(p + 7, "0123456789abcdef") : 0;

	c->nonce[0] = '\0';
	c->seq = 0;
	if (n == HBAUTH_NONCE_HEX && (p[7 + n] == '\0' || p[7 + n] == ' '))
		snprintf(c->nonce, sizeof(c->nonce), "%.*s", (int)n, p + 7);
	if (c->cfg.key && !c->nonce[0]) {
		hb_fail(c, 0, "slb's HELLO has no nonce to sign with");
		return -EPROTO;
	}
	c->phase = HB_PHASE_REGISTERING;
	return hb_send_register(c) ? -EPROTO : 0;
}

/* Handles one line from slb (NUL-terminated, no "\n"). Returns 0, or -EPROTO after failing
 * the session. */
static int hb_on_line(struct hb_client *c, const char *line)
{
	char reason[HB_LINE_MAX + 32];

	if (strncmp(line, "ERR", 3) == 0) {
		snprintf(reason, sizeof(reason), "slb refused: %s", line);
		hb_fail(c, 0, reason);
		return -EPROTO;
	}
	if (c->phase == HB_PHASE_HELLO && strncmp(line, "HELLO slb/1", 11) == 0)
		return hb_on_hello(c, line);
	if (c->phase == HB_PHASE_REGISTERING && strncmp(line, "OK registered", 13) == 0)
		return hb_on_registered(c, line);
	if (c->phase == HB_PHASE_RUNNING && strncmp(line, "OK", 2) == 0) {
		unsigned long interval;

		c->unanswered = 0;
		c->last_ok_ms = evloop_now_ms();
		if (hb_find_number(line, "interval", &interval) == 0)
			hb_start_interval(c, interval);
		c->drained = hb_line_says_drained(line);
		if (c->cfg.on_reply)
			c->cfg.on_reply(c->arg, line);
		return 0;
	}
	snprintf(reason, sizeof(reason), "unexpected line from slb: %.*s", 120, line);
	hb_fail(c, 0, reason);
	return -EPROTO;
}

/* Splits c->in into lines and handles them; keeps a partial last line. */
static int hb_process_input(struct hb_client *c)
{
	char *nl;

	while ((nl = memchr(c->in, '\n', c->in_len))) {
		size_t len = (size_t)(nl - c->in);
		char line[HB_LINE_MAX];

		if (len && c->in[len - 1] == '\r')
			len--;
		memcpy(line, c->in, len);
		line[len] = '\0';
		c->in_len -= (size_t)(nl + 1 - c->in);
		memmove(c->in, nl + 1, c->in_len);
		if (hb_on_line(c, line))
			return -EPROTO;
	}
	if (c->in_len == sizeof(c->in)) {
		hb_fail(c, 0, "line from slb too long");
		return -EPROTO;
	}
	return 0;
}

static void hb_read(struct hb_client *c)
{
	for (;;) {
		ssize_t n = recv(c->sock.fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			hb_fail(c, errno, "connection lost");
			return;
		}
		if (n == 0) {
			hb_fail(c, 0, "slb closed the connection");
			return;
		}
		c->in_len += (size_t)n;
		if (hb_process_input(c))
			return;
	}
}

static void hb_on_connected(struct hb_client *c)
{
	c->phase = HB_PHASE_HELLO;
	if (hb_want(c, EPOLLIN))
		return;
	hb_set_timer(c, HB_ANSWER_TIMEOUT_MS, 0);
}

static void hb_on_socket(struct ev_watch *w, uint32_t events)
{
	struct hb_client *c = container_of(w, struct hb_client, sock);

	if (c->phase == HB_PHASE_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err)
			hb_fail(c, err, "cannot connect");
		else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			hb_on_connected(c);
		return;
	}
	if ((events & EPOLLOUT) && hb_flush(c))
		return;
	if (c->sock.fd >= 0)
		hb_read(c);
}

static void hb_connect(struct hb_client *c)
{
	int fd = socket(c->cfg.lb.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd == -1) {
		hb_fail(c, errno, "socket failed");
		return;
	}
	rc = evloop_add(c->loop, &c->sock, fd, EPOLLOUT, hb_on_socket);
	if (rc) {
		close(fd);
		hb_fail(c, rc, "epoll_ctl failed");
		return;
	}
	c->phase = HB_PHASE_CONNECTING;
	if (connect(fd, (const struct sockaddr *)&c->cfg.lb.ss, c->cfg.lb.len) == -1 &&
	    errno != EINPROGRESS) {
		hb_fail(c, errno, "cannot connect");
		return;
	}
	hb_set_timer(c, HB_CONNECT_TIMEOUT_MS, 0);
}

static void hb_on_timer(struct ev_watch *w, uint32_t events)
{
	struct hb_client *c = container_of(w, struct hb_client, timer);

	if (!evloop_timer_ack(w->fd))
		return;
	switch (c->phase) {
	case HB_PHASE_BACKOFF:
		hb_connect(c);
		break;
	case HB_PHASE_CONNECTING:
		hb_fail(c, ETIMEDOUT, "cannot connect");
		break;
	case HB_PHASE_HELLO:
	case HB_PHASE_REGISTERING:
		hb_fail(c, ETIMEDOUT, "no answer from slb");
		break;
	case HB_PHASE_RUNNING:
		if (c->unanswered >= HB_UNANSWERED_MAX &&
		    evloop_now_ms() - c->last_ok_ms > HB_ANSWER_TIMEOUT_MS)
			hb_fail(c, ETIMEDOUT, "slb stopped answering heartbeats");
		else
			hb_send_heartbeat(c);
		break;
	}
}

/* See hb_client.h. */
int hb_client_load_key(const char *path, struct hbauth_key *key, char *err, size_t errlen)
{
	if (hbauth_init()) {
		snprintf(err, errlen, "libsodium cannot start (no randomness source?)");
		return -EIO;
	}
	return hbauth_load_key(path, key, err, errlen);
}

/* See hb_client.h. */
int hb_client_start(struct hb_client **out, struct evloop *loop, const struct hb_client_config *cfg,
		    hb_client_report_fn report, void *arg)
{
	struct hb_client *c = calloc(1, sizeof(*c));
	int fd, rc;

	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->loop = loop;
	c->report = report;
	c->arg = arg;
	c->sock.fd = -1;
	c->backoff_ms = HB_CLIENT_BACKOFF_MIN_MS;
	addr_format(&cfg->lb, c->lb_text, sizeof(c->lb_text));
	fd = evloop_timer_open();
	if (fd < 0) {
		rc = fd;
		goto out_free;
	}
	rc = evloop_add(loop, &c->timer, fd, EPOLLIN, hb_on_timer);
	if (rc) {
		close(fd);
		goto out_free;
	}
	hb_connect(c);
	*out = c;
	return 0;

out_free:
	free(c);
	return rc;
}

/* See hb_client.h. */
void hb_client_send_now(struct hb_client *c)
{
	if (c->phase == HB_PHASE_RUNNING)
		hb_send_heartbeat(c);
}

/* See hb_client.h. */
bool hb_client_registered(const struct hb_client *c)
{
	return c->phase == HB_PHASE_RUNNING;
}

/* See hb_client.h. */
uint64_t hb_client_heartbeats_sent(const struct hb_client *c)
{
	return c->sent;
}

/* See hb_client.h. */
void hb_client_stop(struct hb_client *c)
{
	int fd = c->timer.fd;

	/* One try, no waiting: slb also notices the close, BYE only makes it immediate. */
	if (c->phase == HB_PHASE_RUNNING && c->out_len == 0) {
		char bye[HB_LINE_MAX + 1];
		int n = hb_format(c, bye, sizeof(bye), "BYE");

		if (n > 0)
			(void)send(c->sock.fd, bye, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	hb_close_socket(c);
	evloop_del(c->loop, &c->timer);
	close(fd);
	free(c);
}
