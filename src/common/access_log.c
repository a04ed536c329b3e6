/* access_log: formatting (pure), the per-worker byte rings and the log thread.
 *
 * Why a thread fed by rings and not an io_uring write from each worker: a buffered write to a
 * regular file cannot be done without blocking, so io_uring hands every one to an io-wq
 * thread anyway (IO_URING_NOTES.md: the same hand-off made io_uring's splice cost as much CPU
 * as copying), and each worker would need its own buffers in flight, its own reopen on
 * SIGUSR1 and its own answer to short writes. With one thread, a worker's cost per line is
 * the formatting, one memcpy and one release store: no system call, no wake-up (the thread
 * polls every ACCESS_LOG_FLUSH_MS). Only that thread writes the file, so lines never
 * interleave, whatever the length; a ring that is full drops the line, counted by the worker.
 * The thread owns the descriptor, so a reopen is a plain open, swap and close. */
#include "slb/common/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "slb/common/log.h"

#define RING_BYTES (256u * 1024) /* per worker: ~1,500 lines between two flushes */
#define ACCESS_LOG_FLUSH_MS 20

static const char *const end_names[END_MAX] = {
	[END_NONE] = "open",
	[END_CLIENT_CLOSED] = "client_closed",
	[END_BACKEND_CLOSED] = "backend_closed",
	[END_CLIENT_RESET] = "client_reset",
	[END_BACKEND_RESET] = "backend_reset",
	[END_IDLE_TIMEOUT] = "idle_timeout",
	[END_CONNECT_FAILED] = "connect_failed",
	[END_MAX_CONNS] = "max_conns",
	[END_DRAIN_TIMEOUT] = "drain_timeout",
	[END_PROXY_INVALID] = "proxy_invalid",
	[END_PROXY_TIMEOUT] = "proxy_timeout",
	[END_SNI_INVALID] = "sni_invalid",
	[END_SNI_TIMEOUT] = "sni_timeout",
	[END_SNI_UNROUTED] = "sni_unrouted",
	[END_ERROR] = "error",
	[END_CLIENT_DENIED] = "client_denied",
	[END_CLIENT_LIMIT] = "client_limit",
};

const char *access_log_end_name(enum access_log_end end)
{
	return (unsigned)end < END_MAX ? end_names[end] : "?";
}

/* ---- formatting ---- */

/* An address as the format writes it: quoted in JSON; null (JSON) or - (text) when unknown.
 * addr_format prints digits, dots, colons and brackets only: nothing to escape. */
static const char *format_addr(const struct slb_addr *a, bool json, char *buf, size_t len)
{
	char text[ADDR_TEXT_MAX];

	if (!a)
		return json ? "null" : "-";
	snprintf(buf, len, json ? "\"%s\"" : "%s", addr_format(a, text, sizeof(text)));
	return buf;
}

/* A name needs no escaping (see access_log_entry): "-" or null when there is none. */
static void format_name(const char *name, bool json, char *buf, size_t len)
{
	if (!name || !name[0])
		snprintf(buf, len, "%s", json ? "null" : "-");
	else
		snprintf(buf, len, json ? "\"%.63s\"" : "%.63s", name);
}

/* One text field: "-" (text) or null (JSON) when empty; the caller escaped it (no space, no
 * '"' or '\\'). */
static const char *format_text(const char *v, bool json, char *buf, size_t len)
{
	if (!v || !v[0])
		return json ? "null" : "-";
	snprintf(buf, len, json ? "\"%s\"" : "%s", v);
	return buf;
}

/* Appends sni= and alpn= (a connection of an sni listener) in place of the line's end: the
 * newline, or "}\n" in JSON. Returns the new length, or 0 when it does not fit. */
static size_t format_tls(char *buf, size_t len, size_t n, bool json, const struct access_log_entry *e)
{
	char sni[TLS_TEXT_MAX + 2], alpn[TLS_TEXT_MAX + 2];
	size_t at = n - (json ? 2 : 1);
	int m = snprintf(buf + at, len - at, json ? ",\"sni\":%s,\"alpn\":%s}\n" : " sni=%s alpn=%s\n",
			 format_text(e->sni, json, sni, sizeof(sni)), format_text(e->alpn, json, alpn, sizeof(alpn)));

	return m < 0 || (size_t)m >= len - at ? 0 : at + (size_t)m;
}

/* "2024-05-01T12:00:00.123Z" */
static void format_time(char *buf, size_t len, int64_t unix_ms)
{
	time_t sec = (time_t)(unix_ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(unix_ms % 1000));
}

size_t access_log_format(char *buf, size_t len, enum access_log_format fmt, const struct access_log_entry *e)
{
	char t[40], c[ADDR_TEXT_MAX + 2], l[ADDR_TEXT_MAX + 2], b[ADDR_TEXT_MAX + 2], cms[24];
	char name[CONFIG_NAME_MAX + 2];
	bool json = fmt == ACCESS_LOG_JSON;
	const char *svc = e->service ? e->service : json ? "null" : "-", *q = json && e->service ? "\"" : "";
	int n;

	format_time(t, sizeof(t), e->end_unix_ms);
	format_name(e->backend_name, json, name, sizeof(name));
	if (e->connect_ms >= 0)
		snprintf(cms, sizeof(cms), "%lld", (long long)e->connect_ms);
	else
		snprintf(cms, sizeof(cms), "%s", json ? "null" : "-");
	n = snprintf(buf, len,
		     json ? "{\"time\":\"%s\",\"worker\":%u,\"client\":%s,\"listener\":%s,\"service\":%s%s%s,"
			    "\"backend\":%s,\"backend_name\":%s,\"attempts\":%u,\"bytes_up\":%llu,\"bytes_down\":%llu,"
			    "\"duration_ms\":%lld,\"connect_ms\":%s,\"end\":\"%s\"}\n"
			  : "%s worker=%u client=%s listener=%s service=%s%s%s backend=%s backend_name=%s attempts=%u "
			    "bytes_up=%llu bytes_down=%llu duration_ms=%lld connect_ms=%s end=%s\n",
		     t, e->worker, format_addr(e->client, json, c, sizeof(c)),
		     format_addr(e->listener, json, l, sizeof(l)), q, svc, q, format_addr(e->backend, json, b, sizeof(b)),
		     name,
		     e->attempts, (unsigned long long)e->bytes_up, (unsigned long long)e->bytes_down,
		     (long long)e->duration_ms, cms, access_log_end_name(e->end));
	if (n < 0 || (size_t)n >= len)
		return 0;
	return e->tls ? format_tls(buf, len, (size_t)n, json, e) : (size_t)n;
}

/* ---- rings: single producer (a worker), single consumer (the log thread) ---- */

struct access_log_ring {
	_Alignas(64) _Atomic uint64_t head; /* bytes pushed, written by the worker only */
	_Alignas(64) _Atomic uint64_t tail; /* bytes written out, by the log thread only */
	char *data;                         /* RING_BYTES */
};

static struct {
	struct access_log_ring *rings;
	unsigned n_rings;
	int fd;
	bool is_stdout;
	char path[CONFIG_FILE_MAX];
	pthread_t tid;
	bool started;
	_Atomic bool stop;
	_Atomic bool reopen;
} alog = { .fd = -1 };

bool access_log_push(struct access_log_ring *r, const char *line, size_t len)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	size_t at = (size_t)(head % RING_BYTES), first = RING_BYTES - at;

	if (RING_BYTES - (head - tail) < len)
		return false;
	if (first >= len) {
		memcpy(r->data + at, line, len);
	} else {
		memcpy(r->data + at, line, first);
		memcpy(r->data, line + first, len - first);
	}
	atomic_store_explicit(&r->head, head + len, memory_order_release);
	return true;
}

struct access_log_ring *access_log_ring(unsigned i)
{
	return alog.rings && i < alog.n_rings ? &alog.rings[i] : NULL;
}

static int open_log_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	return fd == -1 ? -errno : fd;
}

int access_log_open(const struct slb_config *cfg, unsigned n_rings, char *err, size_t errlen)
{
	if (!cfg->access_log[0])
		return 0;
	snprintf(alog.path, sizeof(alog.path), "%s", cfg->access_log);
	alog.is_stdout = strcmp(cfg->access_log, "-") == 0;
	alog.fd = alog.is_stdout ? STDOUT_FILENO : open_log_file(cfg->access_log);
	if (alog.fd < 0) {
		snprintf(err, errlen, "--access-log %s: %s", cfg->access_log, strerror(-alog.fd));
		return alog.fd;
	}
	alog.rings = aligned_alloc(64, sizeof(*alog.rings) * n_rings);
	if (!alog.rings) {
		snprintf(err, errlen, "out of memory for the access log");
		return -ENOMEM;
	}
	memset(alog.rings, 0, sizeof(*alog.rings) * n_rings);
	alog.n_rings = n_rings;
	for (unsigned i = 0; i < n_rings; i++) {
		atomic_init(&alog.rings[i].head, 0);
		atomic_init(&alog.rings[i].tail, 0);
		alog.rings[i].data = malloc(RING_BYTES);
		if (!alog.rings[i].data) {
			snprintf(err, errlen, "out of memory for the access log");
			return -ENOMEM;
		}
	}
	return 0;
}

/* Writes out what ring r holds. A short write keeps the rest for the next turn; an error
 * drops what was there (counted nowhere else: the file is failing), logged at most 5/s. */
static void flush_ring(struct access_log_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	size_t at = (size_t)(tail % RING_BYTES), len = (size_t)(head - tail), first = RING_BYTES - at;
	struct iovec iov[2] = { { r->data + at, len < first ? len : first }, { r->data, len < first ? 0 : len - first } };
	ssize_t n;

	if (len == 0)
		return;
	n = writev(alog.fd, iov, iov[1].iov_len ? 2 : 1);
	if (n < 0) {
		slb_log_limited(LOG_WARN, errno, "access log: write to %s failed; lines lost", alog.path);
		n = (ssize_t)len;
	}
	atomic_store_explicit(&r->tail, tail + (uint64_t)n, memory_order_release);
}

static void reopen_file(void)
{
	int fd;

	if (alog.is_stdout)
		return;
	fd = open_log_file(alog.path);
	if (fd < 0) {
		slb_log(LOG_WARN, fd, "access log: cannot reopen %s; still writing to the old file", alog.path);
		return;
	}
	close(alog.fd);
	alog.fd = fd;
	slb_log(LOG_INFO, 0, "access log: reopened %s", alog.path);
}

static void flush_all(void)
{
	for (unsigned i = 0; i < alog.n_rings; i++)
		flush_ring(&alog.rings[i]);
}

static void *access_log_main(void *arg)
{
	struct timespec ts = { 0, ACCESS_LOG_FLUSH_MS * 1000000L };

	log_set_thread_name("access-log");
	pthread_setname_np(pthread_self(), "slb-access-log");
	while (!atomic_load_explicit(&alog.stop, memory_order_acquire)) {
		flush_all();
		/* lines pushed before the signal go to the old file, later ones to the new */
		if (atomic_exchange_explicit(&alog.reopen, false, memory_order_acq_rel))
			reopen_file();
		nanosleep(&ts, NULL);
	}
	flush_all();
	return NULL;
}

int access_log_start(char *err, size_t errlen)
{
	int ret;

	if (!alog.rings)
		return 0;
	ret = pthread_create(&alog.tid, NULL, access_log_main, NULL);
	if (ret) {
		snprintf(err, errlen, "cannot start the access log thread: %s", strerror(ret));
		return -ret;
	}
	alog.started = true;
	return 0;
}

void access_log_request_reopen(void)
{
	atomic_store_explicit(&alog.reopen, true, memory_order_release);
}

void access_log_close(void)
{
	if (alog.started) {
		atomic_store_explicit(&alog.stop, true, memory_order_release);
		pthread_join(alog.tid, NULL);
		alog.started = false;
	}
	for (unsigned i = 0; alog.rings && i < alog.n_rings; i++)
		free(alog.rings[i].data);
	free(alog.rings);
	alog.rings = NULL;
	alog.n_rings = 0;
	if (alog.fd >= 0 && !alog.is_stdout)
		close(alog.fd);
	alog.fd = -1;
}
