/* takeover: the binary upgrade's protocol; see takeover.h. Runs on main's thread in both
 * processes: the old one between two polls of its signals, the new one before and after it
 * starts serving. */
#include "takeover.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "reload.h"
#include "slb/common/handover.h"
#include "slb/common/log.h"

#define TAKEOVER_VERSION "slb/1"
#define TAKEOVER_WAIT_MS 5000 /* longest wait for one message, or for a send to go through */
#define TAKEOVER_FDS_MAX (CONFIG_MAX_LISTEN * CONFIG_MAX_WORKERS)

static struct health_handover exported; /* the old side's export: large, and one at a time */

static int send_line(int sock, int fd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int send_line(int sock, int fd, const char *fmt, ...)
{
	char line[HANDOVER_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return handover_send(sock, line, fd);
}

/* The connecting process, as the kernel saw it at connect(). Good for an accepted connection
 * only: on the connecting side, SO_PEERCRED names whoever called listen(), and the control
 * socket's listener is inherited from upgrade to upgrade, so that is the first slb, long gone
 * after a second upgrade. The old process says its pid itself (END, OK). */
static pid_t peer_pid(int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

/* One message within timeout_ms, parsed into m (m->arg points into line, HANDOVER_LINE_MAX
 * bytes); *fd gets its descriptor (the caller's) or -1. Returns 0, or -errno with why filled
 * (-EPROTO: a malformed message, its descriptor closed). */
static int recv_msg(int sock, char *line, struct handover_msg *m, int *fd, int timeout_ms, char *why, size_t len)
{
	int ret = handover_recv(sock, line, HANDOVER_LINE_MAX, fd, timeout_ms);

	if (ret >= 0)
		ret = handover_parse(line, *fd >= 0, m, why, len);
	else if (ret == -EPROTO)
		snprintf(why, len, "a message that is not one text line with at most one descriptor");
	else
		snprintf(why, len, "%s", ret == -ECONNRESET ? "the connection closed" : strerror(-ret));
	if (ret < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return ret < 0 ? ret : 0;
}

/* One message that must be want, a verb without a descriptor. Returns 0 or -errno with why
 * filled (-EPROTO for a malformed message or another verb). */
static int recv_verb(int sock, enum handover_verb want, char *line, struct handover_msg *m, int timeout_ms,
		     char *why, size_t len)
{
	int fd, ret = recv_msg(sock, line, m, &fd, timeout_ms, why, len);

	if (fd >= 0)
		close(fd);
	if (ret == 0 && m->verb != want) {
		snprintf(why, len, "%s where %s was due", handover_verb_name(m->verb), handover_verb_name(want));
		ret = -EPROTO;
	}
	return ret;
}

/* ---- the running process ---- */

/* Grouped by address, so that the new process logs a dropped address once. The workers'
 * address indexes are the config in force's (a reload may have added or removed addresses
 * since start), not s->cfg's. */
static int send_listeners(const struct takeover_server *s, unsigned *sent)
{
	static int fds[TAKEOVER_FDS_MAX];
	static unsigned idx[TAKEOVER_FDS_MAX];
	const struct slb_config *cfg = reload_current();
	unsigned n = workers_listener_fds(fds, idx, TAKEOVER_FDS_MAX);
	char text[ADDR_TEXT_MAX];
	int ret = 0;

	*sent = 0;
	for (unsigned a = 0; a < cfg->n_listen && !ret; a++) {
		addr_format(&cfg->listen[a], text, sizeof(text));
		for (unsigned k = 0; k < n && !ret; k++)
			if (idx[k] == a && !(ret = send_line(s->peer, fds[k], "LISTEN %s", text)))
				(*sent)++;
	}
	return ret;
}

static int send_health(const struct takeover_server *s)
{
	char text[ADDR_TEXT_MAX];
	int ret = health_export(&exported);

	if (!ret && exported.hb_fd >= 0)
		ret = send_line(s->peer, exported.hb_fd, "HEARTBEAT %s",
				addr_format(&s->cfg->heartbeat_listen, text, sizeof(text)));
	if (!ret && exported.admin_fd >= 0)
		ret = send_line(s->peer, exported.admin_fd, "ADMIN %s", addr_format(&s->cfg->admin, text, sizeof(text)));
	for (unsigned i = 0; !ret && i < exported.n_leases; i++)
		ret = send_line(s->peer, -1, "LEASE %s", exported.leases[i]);
	for (unsigned i = 0; !ret && i < exported.n_states; i++)
		ret = send_line(s->peer, -1, "STATE %s", exported.states[i]);
	return ret;
}

static int send_everything(const struct takeover_server *s)
{
	unsigned listeners;
	int ret = send_listeners(s, &listeners);

	if (!ret)
		ret = send_health(s);
	if (!ret)
		ret = send_line(s->peer, s->listen_fd, "CONTROL %s", s->path);
	if (!ret)
		ret = send_line(s->peer, -1, "END %d", (int)getpid());
	if (!ret)
		slb_log(LOG_INFO, 0, "takeover: pid %d asked for the sockets: sent %u listening sockets, %u heartbeat "
			"leases and %u backends' runtime state; serving on until it says DRAIN", (int)s->peer_pid,
			listeners, exported.n_leases, exported.n_states);
	return ret;
}

static void server_drop_peer(struct takeover_server *s, const char *why, int err)
{
	int ret;

	slb_log(LOG_WARN, err < 0 ? -err : 0, "takeover by pid %d failed: %s; still serving", (int)s->peer_pid, why);
	close(s->peer);
	s->peer = -1;
	ret = health_export_cancel();
	if (ret)
		slb_log(LOG_ERROR, -ret, "takeover: the admin listener does not accept again");
}

/* The request of a new process: TAKEOVER in this slb's version. Returns 0 or -errno with why
 * filled. */
static int server_read_request(int fd, char *why, size_t len)
{
	char line[HANDOVER_LINE_MAX];
	struct handover_msg m;
	int ret = recv_verb(fd, HANDOVER_TAKEOVER, line, &m, TAKEOVER_WAIT_MS, why, len);

	if (ret == 0 && strcmp(m.arg, TAKEOVER_VERSION) != 0) {
		snprintf(why, len, "it speaks '%.40s', this slb %s", m.arg, TAKEOVER_VERSION);
		ret = -EPROTO;
	}
	return ret;
}

/* A new process asks for the sockets. One at a time: a second one is refused. */
static void server_accept(struct takeover_server *s)
{
	struct timeval tv = { .tv_sec = TAKEOVER_WAIT_MS / 1000 };
	char why[128];
	int fd = handover_accept(s->listen_fd), ret;

	if (fd < 0) {
		if (fd != -EAGAIN)
			slb_log_limited(LOG_WARN, -fd, "control socket %s: accept", s->path);
		return;
	}
	if (s->peer >= 0) {
		slb_log(LOG_WARN, 0, "takeover: pid %d asked too, while pid %d is taking over: refused",
			(int)peer_pid(fd), (int)s->peer_pid);
		send_line(fd, -1, "ERR another takeover is in progress (pid %d)", (int)s->peer_pid);
		close(fd);
		return;
	}
	s->peer = fd;
	s->peer_pid = peer_pid(fd);
	ret = server_read_request(fd, why, sizeof(why));
	if (ret) {
		server_drop_peer(s, why, ret == -EPROTO ? 0 : ret);
		return;
	}
	/* A new process that stops reading must not hold this thread (and the signals) long. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ret = send_everything(s);
	if (ret)
		server_drop_peer(s, "sending the sockets", ret);
}

/* The new process serves and asks us to drain. Only after our OK went out is the control
 * socket ours no more: a new process that vanished before reading it leaves us serving. */
static bool server_on_peer(struct takeover_server *s)
{
	char line[HANDOVER_LINE_MAX], why[128];
	struct handover_msg m;
	int ret = recv_verb(s->peer, HANDOVER_DRAIN, line, &m, 0, why, sizeof(why));

	if (ret == -ETIMEDOUT)
		return false;
	if (ret == -ECONNRESET) {
		server_drop_peer(s, "it closed the control connection before DRAIN", 0);
		return false;
	}
	if (ret) {
		server_drop_peer(s, why, ret == -EPROTO ? 0 : ret);
		return false;
	}
	ret = send_line(s->peer, -1, "OK %d", (int)getpid());
	if (ret) {
		server_drop_peer(s, "it went away before our OK", ret);
		return false;
	}
	/* the connection stays open for STOPPED (takeover_server_accepts_off) */
	close(s->listen_fd);
	s->listen_fd = -1;
	s->ino = 0; /* the path is the new process's now */
	return true;
}

int takeover_server_open(struct takeover_server *s, const struct slb_config *cfg, int inherited_fd, char *err,
			 size_t errlen)
{
	struct stat st;

	s->cfg = cfg;
	s->path = cfg->control_socket;
	s->peer = -1;
	s->listen_fd = inherited_fd >= 0 ? inherited_fd : handover_listen(s->path, err, errlen);
	if (s->listen_fd < 0)
		return s->listen_fd;
	s->ino = stat(s->path, &st) == 0 ? st.st_ino : 0;
	slb_log(LOG_INFO, 0, "control socket %s: %s", s->path,
		inherited_fd >= 0 ? "taken over from the previous process" : "listening for a binary upgrade");
	return 0;
}

unsigned takeover_server_fds(const struct takeover_server *s, int *fds)
{
	unsigned n = 0;

	if (s->listen_fd >= 0)
		fds[n++] = s->listen_fd;
	if (s->peer >= 0)
		fds[n++] = s->peer;
	return n;
}

bool takeover_server_on_ready(struct takeover_server *s)
{
	if (s->listen_fd < 0)
		return false; /* taken over: only takeover_server_accepts_off is left */
	if (s->peer >= 0 && server_on_peer(s))
		return true;
	if (s->listen_fd >= 0)
		server_accept(s);
	return false;
}

void takeover_server_accepts_off(struct takeover_server *s)
{
	if (s->peer < 0)
		return;
	send_line(s->peer, -1, "STOPPED");
	close(s->peer);
	s->peer = -1;
}

void takeover_server_close(struct takeover_server *s)
{
	struct stat st;

	if (s->peer >= 0)
		close(s->peer);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->ino && stat(s->path, &st) == 0 && st.st_ino == s->ino)
		unlink(s->path);
	s->peer = s->listen_fd = -1;
	s->ino = 0;
}

/* ---- the new process ---- */

static int listen_index(const struct slb_config *cfg, const char *text)
{
	struct slb_addr a;

	if (addr_parse(text, &a, NULL, 0))
		return -1;
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (addr_equal(&cfg->listen[i], &a))
			return (int)i;
	return -1;
}

static bool same_addr(const struct slb_addr *mine, bool have, const char *text)
{
	struct slb_addr a;

	return have && addr_parse(text, &a, NULL, 0) == 0 && addr_equal(mine, &a);
}

/* Keeps fd in *slot when wanted, else closes it and says so. */
static void take_fd(int fd, bool wanted, int *slot, const char *what, const char *text)
{
	if (wanted && *slot < 0) {
		*slot = fd;
		return;
	}
	slb_log(LOG_INFO, 0, "takeover: %s %s is not in the new configuration: closing it", what, text);
	close(fd);
}

static void take_listener(const struct slb_config *cfg, struct takeover_in *in, int fd, const char *text,
			  char *last_dropped)
{
	int i = listen_index(cfg, text);

	if (i >= 0 && in->listen.n[i] < CONFIG_MAX_WORKERS) {
		in->listen.fds[i][in->listen.n[i]++] = fd;
		return;
	}
	if (strcmp(last_dropped, text) != 0)
		slb_log(LOG_INFO, 0, "takeover: --listen %s is not in the new configuration: closing it", text);
	snprintf(last_dropped, ADDR_TEXT_MAX + 1, "%s", text);
	close(fd);
}

/* A descriptor that comes with its address: LISTEN, HEARTBEAT, ADMIN, CONTROL. Takes fd
 * (kept or closed) unless the message is refused. Returns 0, or -EPROTO with why filled. */
static int take_socket(const struct slb_config *cfg, struct takeover_in *in, const struct handover_msg *m, int fd,
		       char *last_dropped, char *why, size_t len)
{
	int *slot = m->verb == HANDOVER_HEARTBEAT ? &in->health.hb_fd :
		    m->verb == HANDOVER_ADMIN     ? &in->health.admin_fd :
		    m->verb == HANDOVER_CONTROL   ? &in->control_fd : NULL;

	if (strlen(m->arg) > ADDR_TEXT_MAX + CONFIG_SOCKET_MAX) {
		snprintf(why, len, "%s with an address of %zu characters", handover_verb_name(m->verb), strlen(m->arg));
		return -EPROTO;
	}
	if (slot && *slot >= 0) {
		snprintf(why, len, "a second %s", handover_verb_name(m->verb));
		return -EPROTO;
	}
	if (m->verb == HANDOVER_LISTEN)
		take_listener(cfg, in, fd, m->arg, last_dropped);
	else if (m->verb == HANDOVER_HEARTBEAT)
		take_fd(fd, same_addr(&cfg->heartbeat_listen, cfg->has_heartbeat_listen, m->arg), slot,
			"--heartbeat-listen", m->arg);
	else if (m->verb == HANDOVER_ADMIN)
		take_fd(fd, same_addr(&cfg->admin, cfg->has_admin, m->arg), slot, "--admin", m->arg);
	else
		take_fd(fd, strcmp(m->arg, cfg->control_socket) == 0, slot, "--control-socket", m->arg);
	return 0;
}

/* A LEASE or STATE line's text into list, snap_id_limit() texts of width bytes (n of
 * them so far). */
static int take_text(char *list, size_t width, unsigned *n, const struct handover_msg *m, char *why, size_t len)
{
	if (*n >= snap_id_limit() || strlen(m->arg) >= width) {
		snprintf(why, len, "%s %s", *n >= snap_id_limit() ? "more than one per backend id:" :
			 "too long:", handover_verb_name(m->verb));
		return -EPROTO;
	}
	snprintf(list + (size_t)(*n)++ * width, width, "%s", m->arg);
	return 0;
}

/* One message of the old process, fd its descriptor. Returns 1 at END, 0 for another, or
 * with why filled (fd closed) -EPROTO for one out of place, -EBUSY for its ERR (refused). */
static int take_message(const struct slb_config *cfg, struct takeover_in *in, const struct handover_msg *m, int fd,
			char *last_dropped, char *why, size_t len)
{
	int ret;

	switch (m->verb) {
	case HANDOVER_END:
		in->old_pid = m->pid; /* 0: an older slb, whose END says none */
		return 1;
	case HANDOVER_LEASE:
		return take_text(in->health.leases[0], HEALTH_LEASE_LEN, &in->health.n_leases, m, why, len);
	case HANDOVER_STATE:
		return take_text(in->health.states[0], HEALTH_STATE_LEN, &in->health.n_states, m, why, len);
	case HANDOVER_LISTEN:
	case HANDOVER_HEARTBEAT:
	case HANDOVER_ADMIN:
	case HANDOVER_CONTROL:
		ret = take_socket(cfg, in, m, fd, last_dropped, why, len);
		break;
	case HANDOVER_ERR:
		snprintf(why, len, "%.100s", m->arg);
		ret = -EBUSY;
		break;
	default:
		snprintf(why, len, "%s before END", handover_verb_name(m->verb));
		ret = -EPROTO;
	}
	if (ret && fd >= 0)
		close(fd);
	return ret;
}

static void takeover_in_init(struct takeover_in *in)
{
	memset(&in->listen.n, 0, sizeof(in->listen.n));
	in->health.hb_fd = in->health.admin_fd = in->control_fd = -1;
	in->health.n_leases = in->health.n_states = 0;
	in->old_pid = 0;
}

static int receive_all(const struct slb_config *cfg, struct takeover_in *in, char *err, size_t errlen)
{
	char line[HANDOVER_LINE_MAX], last_dropped[ADDR_TEXT_MAX + 1] = "", why[160];
	struct handover_msg m;
	int fd, ret;

	for (;;) {
		ret = recv_msg(in->sock, line, &m, &fd, TAKEOVER_WAIT_MS, why, sizeof(why));
		if (!ret)
			ret = take_message(cfg, in, &m, fd, last_dropped, why, sizeof(why));
		if (ret == 1)
			return 0;
		if (ret < 0) {
			snprintf(err, errlen, "cannot take over from %s: the running slb %s: %s", cfg->takeover,
				 ret == -EPROTO ? "sent a bad message" : ret == -EBUSY ? "refused" : "did not send the sockets",
				 why);
			return ret;
		}
	}
}

/* "pid N", or what to call an old process that did not say its pid (an slb before END
 * carried it). */
static const char *old_name(const struct takeover_in *in, char *buf, size_t len)
{
	if (in->old_pid > 0)
		snprintf(buf, len, "pid %d", (int)in->old_pid);
	else
		snprintf(buf, len, "the running slb");
	return buf;
}

static unsigned count_listeners(const struct takeover_in *in)
{
	unsigned n = 0;

	for (unsigned i = 0; i < CONFIG_MAX_LISTEN; i++)
		n += in->listen.n[i];
	return n;
}

int takeover_receive(const struct slb_config *cfg, struct takeover_in *in, char *err, size_t errlen)
{
	char why[200], name[32];
	int ret;

	takeover_in_init(in);
	in->sock = handover_connect(cfg->takeover, why, sizeof(why));
	if (in->sock < 0) {
		snprintf(err, errlen, "cannot take over: %s (is an slb with --control-socket %s running?)", why,
			 cfg->takeover);
		return in->sock;
	}
	ret = send_line(in->sock, -1, "TAKEOVER " TAKEOVER_VERSION);
	if (!ret)
		ret = receive_all(cfg, in, err, errlen);
	else
		snprintf(err, errlen, "cannot take over from %s: %s", cfg->takeover, strerror(-ret));
	if (ret) {
		takeover_in_close(in);
		return ret;
	}
	slb_log(LOG_INFO, 0, "takeover: received %u listening sockets, %s, %s, %u heartbeat leases and %u backends' "
		"runtime state from %s", count_listeners(in),
		in->health.hb_fd >= 0 ? "the heartbeat listener" : "no heartbeat listener",
		in->health.admin_fd >= 0 ? "the admin listener" : "no admin listener", in->health.n_leases,
		in->health.n_states, old_name(in, name, sizeof(name)));
	return 0;
}


/* DRAIN, then "OK <pid>": the pid it says is the one named from now on. Returns 0 or -errno
 * with why filled. */
static int ask_drain(struct takeover_in *in, char *why, size_t len)
{
	char line[HANDOVER_LINE_MAX];
	struct handover_msg m;
	int ret = send_line(in->sock, -1, "DRAIN");

	if (ret)
		snprintf(why, len, "%s", strerror(-ret));
	else
		ret = recv_verb(in->sock, HANDOVER_OK, line, &m, TAKEOVER_WAIT_MS, why, len);
	if (!ret)
		in->old_pid = m.pid;
	return ret;
}

int takeover_finish(struct takeover_in *in, char *err, size_t errlen)
{
	char line[HANDOVER_LINE_MAX], name[32], why[160];
	struct handover_msg m;
	int ret = ask_drain(in, why, sizeof(why));

	if (ret < 0) {
		snprintf(err, errlen, "takeover: %s did not confirm DRAIN: %s", old_name(in, name, sizeof(name)), why);
	} else {
		slb_log(LOG_INFO, 0, "takeover: %s is draining; this process serves alone",
			old_name(in, name, sizeof(name)));
		ret = recv_verb(in->sock, HANDOVER_STOPPED, line, &m, TAKEOVER_WAIT_MS, why, sizeof(why));
		if (ret < 0)
			snprintf(err, errlen, "takeover: %s did not say it stopped accepting: %s",
				 old_name(in, name, sizeof(name)), why);
	}
	close(in->sock);
	in->sock = -1;
	return ret;
}

void takeover_in_close(struct takeover_in *in)
{
	for (unsigned i = 0; i < CONFIG_MAX_LISTEN; i++) {
		for (unsigned j = 0; j < in->listen.n[i]; j++)
			if (in->listen.fds[i][j] >= 0)
				close(in->listen.fds[i][j]);
		in->listen.n[i] = 0;
	}
	if (in->health.hb_fd >= 0)
		close(in->health.hb_fd);
	if (in->health.admin_fd >= 0)
		close(in->health.admin_fd);
	if (in->control_fd >= 0)
		close(in->control_fd);
	if (in->sock >= 0)
		close(in->sock);
	in->health.hb_fd = in->health.admin_fd = in->control_fd = in->sock = -1;
}
