/* faultkit: processes, admin reads, /proc numbers and misbehaving clients for the
 * fault-injection tests; see faultkit.h. */
#include "faultkit.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../../src/demo/http_server.h" /* http_bytes_pattern; slb_demo exports no include dir */
#include "slbproc.h"
#include "testwait.h"

#define FAULTKIT_FLOWING_MS 5000 /* for a download to get its first bytes */
#define START_MS 10000
#define ADMIN_MS 3000
#define BODY_MAX (1 << 20)
#define PARALLEL_MAX 16

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - testproc_now_ms();

	return left > 0 ? (int)left : 0;
}

/* ---- processes ---- */

/* See faultkit.h. */
int faultkit_slb_start(struct faultkit_slb *s, unsigned nofile, const char *const *args)
{
	struct slbproc sp;
	int rc = slbproc_start(&sp, nofile, NULL, args, NULL);

	s->proc = sp.proc;
	s->port = sp.listen;
	s->admin = sp.admin;
	s->port2 = sp.port2;
	snprintf(s->why, sizeof(s->why), "%s", sp.why);
	return rc;
}

/* See faultkit.h. */
struct testproc *faultkit_backend_start(const char *name, const char *ip, unsigned *port)
{
	char listen[64];
	const char *argv[] = { "slb-backend", "--listen", listen, "--name", name, NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "listening on", .timeout_ms = START_MS };
	struct testproc *be;

	snprintf(listen, sizeof(listen), "%s:{port0}", ip);
	be = testproc_start(&st);
	if (be)
		*port = st.ports[0];
	else
		cr_log_error("slb-backend %s did not come up: %s", name, st.why);
	return be;
}

/* See faultkit.h. */
unsigned long faultkit_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

/* ---- admin ---- */

/* See faultkit.h. */
int faultkit_http_body(unsigned port, const char *path, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	static char raw[BODY_MAX];
	size_t got = 0;
	const char *body;
	int fd, rc, status = 0;

	fd = testproc_connect(port, timeout_ms);
	if (fd < 0)
		return fd;
	rc = faultkit_send_get(fd, path, true, ms_left(deadline));
	while (!rc && got < sizeof(raw) - 1) {
		ssize_t n = testproc_read_full(fd, raw + got, sizeof(raw) - 1 - got, ms_left(deadline));

		if (n < 0)
			rc = (int)n;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (rc)
		return rc;
	raw[got] = '\0';
	body = strstr(raw, "\r\n\r\n");
	if (!body || sscanf(raw, "HTTP/1.%*1[01] %3d", &status) != 1)
		return -EPROTO;
	snprintf(buf, len, "%s", body + 4);
	return status;
}

/* See faultkit.h. */
long long faultkit_metric(unsigned admin_port, const char *name)
{
	static char body[BODY_MAX];
	size_t nlen = strlen(name);
	long long sum = 0;
	bool found = false;

	if (faultkit_http_body(admin_port, "/metrics", body, sizeof(body), ADMIN_MS) != 200)
		return -1;
	for (const char *line = body; *line;) {
		const char *eol = strchr(line, '\n');

		/* "name 12" or "name{labels} 12"; "# HELP name" lines do not start with it */
		if (!strncmp(line, name, nlen) && (line[nlen] == ' ' || line[nlen] == '{')) {
			const char *v = line[nlen] == '{' ? strchr(line, '}') : line + nlen;

			if (v) {
				sum += strtoll(v + 1, NULL, 10);
				found = true;
			}
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	return found ? sum : -1;
}

/* See faultkit.h. */
int faultkit_wait_metric(unsigned admin_port, const char *name, long long want, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;

	for (;;) {
		if (faultkit_metric(admin_port, name) == want)
			return 0;
		if (testproc_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(10);
	}
}

/* /status has one backend object per line: find the line with the address, then the field. */
static int status_field_in(const char *body, const char *addr, const char *field, char *buf, size_t len)
{
	char key[96];
	const char *line, *end, *v, *stop;

	snprintf(key, sizeof(key), "\"address\":\"%s\"", addr);
	line = strstr(body, key);
	if (!line)
		return -ENOENT;
	end = strchr(line, '\n');
	snprintf(key, sizeof(key), "\"%s\":", field);
	v = strstr(line, key);
	if (!v || (end && v > end))
		return -ENOENT;
	v += strlen(key);
	if (*v == '"')
		stop = strchr(++v, '"');
	else
		stop = v + strcspn(v, ",}\n");
	if (!stop)
		return -EPROTO;
	snprintf(buf, len, "%.*s", (int)(stop - v), v);
	return 0;
}

/* See faultkit.h. */
int faultkit_status_field(unsigned admin_port, const char *addr, const char *field, char *buf, size_t len)
{
	static char body[BODY_MAX];
	int rc = faultkit_http_body(admin_port, "/status", body, sizeof(body), ADMIN_MS);

	if (rc < 0)
		return rc;
	if (rc != 200)
		return -EPROTO;
	return status_field_in(body, addr, field, buf, len);
}

/* See faultkit.h. */
int faultkit_wait_state_every(unsigned admin_port, const char *addr, const char *state, int timeout_ms,
			      int poll_ms)
{
	int64_t start = testproc_now_ms();
	char got[32];

	for (;;) {
		int64_t now = testproc_now_ms();

		if (faultkit_status_field(admin_port, addr, "state", got, sizeof(got)) == 0 && strcmp(got, state) == 0)
			return (int)(now - start);
		if (now - start > timeout_ms)
			return -ETIMEDOUT;
		sleep_ms(poll_ms);
	}
}

/* See faultkit.h. */
int faultkit_wait_state(unsigned admin_port, const char *addr, const char *state, int timeout_ms)
{
	return faultkit_wait_state_every(admin_port, addr, state, timeout_ms, 10);
}

/* ---- /proc ---- */

/* See faultkit.h. */
long faultkit_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* See faultkit.h. */
int faultkit_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Whether /proc/pid/task/tid/comm is comm. */
static bool task_is_named(pid_t pid, const char *tid, const char *comm)
{
	char path[96], name[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(name, sizeof(name), f))
		name[0] = '\0';
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	return strcmp(name, comm) == 0;
}

/* utime + stime of one task in ms, from its stat line: the fields after the ")" that ends
 * the name, which may itself hold spaces and parentheses. */
static long task_cpu_ms(pid_t pid, const char *tid)
{
	unsigned long long utime, stime;
	char path[96], line[1024];
	const char *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	/* after ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return -EPROTO;
	return (long)((utime + stime) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* See faultkit.h. */
long faultkit_thread_cpu_ms(pid_t pid, const char *comm)
{
	char path[64];
	struct dirent *e;
	long ms = -ESRCH;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && task_is_named(pid, e->d_name, comm)) {
			ms = task_cpu_ms(pid, e->d_name);
			break;
		}
	closedir(d);
	return ms;
}

/* See faultkit.h. */
int faultkit_cut_errno(const struct testproc *p)
{
	return faultkit_count_lines(p, "clients cut short see a clean close") ? -EPIPE : -ECONNRESET;
}

unsigned faultkit_count_lines(const struct testproc *p, const char *needle)
{
	static char out[1 << 20];
	unsigned n = 0;

	testproc_output(p, out, sizeof(out));
	for (char *line = out; line && *line;) {
		char *eol = strchr(line, '\n');

		if (eol)
			*eol = '\0';
		if (strstr(line, needle))
			n++;
		line = eol ? eol + 1 : NULL;
	}
	return n;
}

/* See faultkit.h. */
int faultkit_stop_clean(struct testproc *p, int timeout_ms, char *why, size_t len)
{
	static const char *const bad[] = { "AddressSanitizer", "runtime error", "ThreadSanitizer", "LeakSanitizer",
					   " error " };
	static char out[1 << 20];
	int code = testproc_stop(p, timeout_ms);
	size_t n = testproc_output(p, out, sizeof(out));
	const char *tail = out + (n > 1500 ? n - 1500 : 0);

	if (code != 0) {
		snprintf(why, len, "slb exit code %d:\n%s", code, tail);
		return -EPROTO;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strstr(out, bad[i])) {
			snprintf(why, len, "slb printed \"%s\":\n%s", bad[i], tail);
			return -EPROTO;
		}
	}
	return 0;
}

/* See faultkit.h. */
int faultkit_slb_stop_clean(struct faultkit_slb *s, int timeout_ms, char *why, size_t len)
{
	return faultkit_stop_clean(s->proc, timeout_ms, why, len);
}

/* ---- requests ---- */

/* See faultkit.h. */
int faultkit_send_get(int fd, const char *path, bool close, int timeout_ms)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: slb\r\n%s\r\n", path,
			 close ? "Connection: close\r\n" : "");

	if (n < 0 || (size_t)n >= sizeof(req))
		return -E2BIG;
	return testproc_write_all(fd, req, (size_t)n, timeout_ms);
}

/* See faultkit.h. */
uint64_t faultkit_pattern_fnv(uint64_t n)
{
	uint64_t h = TESTPROC_FNV_INIT;

	for (uint64_t i = 0; i < n; i++) {
		char c = http_bytes_pattern(i);

		h = testproc_fnv(h, &c, 1);
	}
	return h;
}

/* See faultkit.h. */
char *faultkit_backend_name(const char *body, char *buf, size_t len)
{
	buf[0] = '\0';
	if (strncmp(body, "backend ", 8) == 0)
		snprintf(buf, len, "%.*s", (int)strcspn(body + 8, "\r\n"), body + 8);
	return buf;
}

struct parallel {
	unsigned port;
	const char *path;
	unsigned total;
	int timeout_ms;
	_Atomic unsigned next;
	_Atomic unsigned ok;
	_Atomic int first_rc;      /* first failure: -errno, or the HTTP status */
	_Atomic int first_idx;
};

static void *parallel_thread(void *arg)
{
	struct parallel *p = arg;
	struct testproc_http *r = malloc(sizeof(*r));
	unsigned i;

	while (r && (i = atomic_fetch_add(&p->next, 1)) < p->total) {
		int rc = testproc_http_get(p->port, p->path, r, p->timeout_ms);
		int zero = 0;

		if (rc == 0 && r->status == 200) {
			atomic_fetch_add(&p->ok, 1);
			continue;
		}
		if (atomic_compare_exchange_strong(&p->first_rc, &zero, rc ? rc : r->status))
			atomic_store(&p->first_idx, (int)i);
	}
	free(r);
	return NULL;
}

/* See faultkit.h. */
unsigned faultkit_parallel_gets(unsigned port, const char *path, unsigned total, unsigned threads,
				int timeout_ms, char *why, size_t len)
{
	struct parallel p = { .port = port, .path = path, .total = total, .timeout_ms = timeout_ms };
	pthread_t tid[PARALLEL_MAX];
	unsigned started = 0;
	int rc;

	if (threads > PARALLEL_MAX)
		threads = PARALLEL_MAX;
	for (unsigned i = 0; i < threads; i++)
		if (pthread_create(&tid[started], NULL, parallel_thread, &p) == 0)
			started++;
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	rc = atomic_load(&p.first_rc);
	if (rc < 0)
		snprintf(why, len, "request %d: %s", atomic_load(&p.first_idx), strerror(-rc));
	else if (rc > 0)
		snprintf(why, len, "request %d: HTTP %d", atomic_load(&p.first_idx), rc);
	else
		snprintf(why, len, "no failure");
	return atomic_load(&p.ok);
}

/* ---- slow readers ---- */

static int reader_head(struct faultkit_reader *rd, int fd, int64_t deadline)
{
	struct testproc_http *r = &rd->r;
	char v[32];
	size_t got = 0;

	for (;;) {
		ssize_t n;

		if (got + 1 >= sizeof(r->head))
			return -EPROTO;
		n = testproc_read_full(fd, r->head + got, 1, ms_left(deadline));
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		r->head[++got] = '\0';
		if (got >= 4 && memcmp(r->head + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (sscanf(r->head, "HTTP/1.%*1[01] %3d", &r->status) != 1 ||
	    !testproc_http_header(r, "Content-Length", v, sizeof(v)))
		return -EPROTO;
	r->content_length = strtoull(v, NULL, 10);
	r->has_length = true;
	return 0;
}

/* Reads the body in slices of at most a tenth of the rate, sleeping between them so the
 * average stays at or under rate_kib KiB/s. */
static int reader_body(struct faultkit_reader *rd, int fd, int64_t deadline)
{
	struct testproc_http *r = &rd->r;
	int64_t start = testproc_now_ms();
	static _Thread_local char chunk[65536];

	while (r->body_len < r->content_length) {
		unsigned rate = atomic_load(&rd->rate_kib);
		size_t slice = rate ? (size_t)rate * 1024 / 10 : sizeof(chunk);
		uint64_t want = r->content_length - r->body_len;
		bool reset;
		ssize_t n;

		if (slice > sizeof(chunk))
			slice = sizeof(chunk);
		n = testproc_read_upto(fd, chunk, want < slice ? (size_t)want : slice, ms_left(deadline), &reset);
		if (n < 0)
			return (int)n;
		r->body_fnv = testproc_fnv(r->body_fnv, chunk, (size_t)n);
		r->body_len += (uint64_t)n;
		atomic_store(&rd->got, r->body_len);
		if ((size_t)n < (want < slice ? want : slice))
			return reset ? -ECONNRESET : -EPIPE; /* cut before the whole body */
		if (rate) {
			int64_t due = start + (int64_t)(r->body_len / 1024) * 1000 / rate;

			if (due > testproc_now_ms())
				sleep_ms((int)(due - testproc_now_ms()));
		}
	}
	return 0;
}

static void *reader_thread(void *arg)
{
	struct faultkit_reader *rd = arg;
	int64_t deadline = testproc_now_ms() + rd->timeout_ms;
	int fd = rd->rc; /* the connected socket, handed over in rc */

	rd->r.body_fnv = TESTPROC_FNV_INIT;
	rd->rc = reader_head(rd, fd, deadline);
	if (!rd->rc)
		rd->rc = reader_body(rd, fd, deadline);
	rd->end_ms = testproc_now_ms();
	close(fd);
	return NULL;
}

/* See faultkit.h. */
int faultkit_reader_start(struct faultkit_reader *rd, unsigned port, const char *path, unsigned rate_kib,
			  int timeout_ms)
{
	int fd, rc;

	memset(rd, 0, sizeof(*rd));
	rd->port = port;
	snprintf(rd->path, sizeof(rd->path), "%s", path);
	atomic_init(&rd->rate_kib, rate_kib);
	rd->timeout_ms = timeout_ms;
	fd = testproc_connect(port, timeout_ms);
	if (fd < 0)
		return fd;
	rc = faultkit_send_get(fd, path, true, timeout_ms);
	if (!rc) {
		rd->rc = fd;
		rc = -pthread_create(&rd->tid, NULL, reader_thread, rd);
	}
	if (rc)
		close(fd);
	return rc;
}

/* See faultkit.h. */
void faultkit_reader_join(struct faultkit_reader *rd)
{
	pthread_join(rd->tid, NULL);
}

/* ---- for the tests ---- */

/* See faultkit.h. */
void faultkit_downloads_start(struct faultkit_reader *rd, unsigned n, unsigned port, uint64_t bytes,
			      unsigned rate_kib, int timeout_ms, uint64_t flowing)
{
	char path[64];
	int64_t deadline;

	snprintf(path, sizeof(path), "/bytes/%llu", (unsigned long long)bytes);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(faultkit_reader_start(&rd[i], port, path, rate_kib, timeout_ms), 0, "download %u", i);
	deadline = testproc_now_ms() + testwait_ms(FAULTKIT_FLOWING_MS);
	for (unsigned i = 0; i < n; i++) {
		while (atomic_load(&rd[i].got) < flowing && testproc_now_ms() < deadline)
			usleep(10000);
		cr_assert_geq(atomic_load(&rd[i].got), flowing, "download %u never started", i);
	}
}

/* See faultkit.h. */
void faultkit_downloads_expect_whole(struct faultkit_reader *rd, unsigned n, uint64_t bytes, const char *what)
{
	for (unsigned i = 0; i < n; i++)
		atomic_store(&rd[i].rate_kib, 0);
	for (unsigned i = 0; i < n; i++) {
		faultkit_reader_join(&rd[i]);
		cr_assert_eq(rd[i].rc, 0, "%s, download %u cut after %llu bytes: %s", what, i,
			     (unsigned long long)rd[i].r.body_len, strerror(-rd[i].rc));
		cr_assert_eq(rd[i].r.body_len, bytes, "%s, download %u", what, i);
		cr_assert_eq(rd[i].r.body_fnv, faultkit_pattern_fnv(bytes), "%s, download %u: bytes changed", what, i);
	}
}

/* See faultkit.h. */
void faultkit_slb_start_ok(struct faultkit_slb *s, unsigned nofile, const char *const *args)
{
	int rc = faultkit_slb_start(s, nofile, args);

	cr_assert_eq(rc, 0, "slb did not come up: %s: %s", strerror(-rc), s->why);
}

/* See faultkit.h. */
void faultkit_slb_stop_ok(struct faultkit_slb *s, int timeout_ms)
{
	static char why[4096];

	cr_assert_eq(faultkit_slb_stop_clean(s, timeout_ms, why, sizeof(why)), 0, "%s", why);
}

/* See faultkit.h. */
void faultkit_reload_ok(struct testproc *p, unsigned n, const char *outcome)
{
	static char tail[4096];

	cr_assert_eq(testproc_signal(p, SIGHUP), 0);
	for (int t = 0; t < 1000 && faultkit_count_lines(p, outcome) < n; t++)
		usleep(10000);
	testproc_tail(p, 12, tail, sizeof(tail));
	cr_assert_eq(faultkit_count_lines(p, outcome), n, "no '%s' after SIGHUP %u; slb said:\n%s", outcome, n, tail);
}

/* See faultkit.h. */
struct testproc *faultkit_backend_ok(const char *name, char *addr, size_t len)
{
	unsigned port;
	struct testproc *p = faultkit_backend_start(name, "127.0.0.1", &port);

	cr_assert_not_null(p, "slb-backend: %s", strerror(errno));
	snprintf(addr, len, "127.0.0.1:%u", port);
	return p;
}
