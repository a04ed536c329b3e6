/* testproc: process, socket and HTTP helpers for integration tests; see testproc.h. */
#include "testproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slb/common/clock.h"

#define SETPRIV "/usr/bin/setpriv"
#define FREE_PORT_LOW 20000  /* the default ephemeral range starts at 32768 */
#define FREE_PORT_HIGH 32000

extern char **environ;

static struct testproc procs[TESTPROC_MAX];
static unsigned n_procs;
static bool atexit_done;

/* See testproc.h. */
int64_t testproc_now_ms(void)
{
	return clock_now_ms();
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - testproc_now_ms();

	return left > 0 ? (int)left : 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Waits for events on fd until deadline. Returns 0 when ready, -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, ms_left(deadline));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

/* ---- processes ---- */

/* See testproc.h. */
const char *testproc_bin(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("SLB_BIN_DIR");

	snprintf(buf, len, "%s/%s", dir && *dir ? dir : ".", name);
	return buf;
}

static void proc_set_name(struct testproc *p, const char *path)
{
	const char *slash = strrchr(path, '/');

	snprintf(p->name, sizeof(p->name), "%s", slash ? slash + 1 : path);
}

/* Child setup that posix_spawn does for us: fresh stdin/stdout/stderr, signals reset. */
static int spawn_prepare(posix_spawn_file_actions_t *fa, posix_spawnattr_t *attr, int out_fd)
{
	sigset_t all, none;

	sigfillset(&all);
	sigemptyset(&none);
	if (posix_spawn_file_actions_init(fa) || posix_spawnattr_init(attr))
		return -ENOMEM;
	posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(fa, out_fd, 2);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &all);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	return 0;
}

/* Builds [setpriv --pdeathsig KILL --] path args... so the child dies with the test. */
static int spawn_build_argv(const char *const argv[], const char *path, char **out)
{
	size_t n = 0, i = 0;

	if (access(SETPRIV, X_OK) == 0) {
		out[n++] = SETPRIV;
		out[n++] = "--pdeathsig";
		out[n++] = "KILL";
		out[n++] = "--";
	}
	out[n++] = (char *)path;
	for (i = 1; argv[i]; i++) {
		if (n + 1 >= TESTPROC_ARGS_MAX)
			return -E2BIG;
		out[n++] = (char *)argv[i];
	}
	out[n] = NULL;
	return 0;
}

/* The file is unlinked at once and lives as long as an fd points at it: ours (closed by
 * testproc_stop_all or at exit) and the child's. O_APPEND keeps stdout and stderr lines whole. */
static int spawn_out_file(struct testproc *p)
{
	char path[] = "/tmp/slb-testproc-XXXXXX";
	int fd = mkostemp(path, O_APPEND | O_CLOEXEC);

	if (fd == -1)
		return -errno;
	unlink(path);
	p->out_fd = fd;
	return 0;
}

/* See testproc.h. */
struct testproc *testproc_spawn(const char *const argv[])
{
	char path[512], *args[TESTPROC_ARGS_MAX];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct testproc *p;
	int rc;

	if (n_procs == TESTPROC_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	if (!atexit_done) {
		atexit(testproc_stop_all);
		atexit_done = true;
	}
	p = &procs[n_procs];
	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
	if (strchr(argv[0], '/'))
		snprintf(path, sizeof(path), "%s", argv[0]);
	else
		testproc_bin(argv[0], path, sizeof(path));
	proc_set_name(p, path);
	rc = spawn_out_file(p);
	if (!rc)
		rc = spawn_build_argv(argv, path, args);
	if (!rc)
		rc = spawn_prepare(&fa, &attr, p->out_fd);
	if (rc)
		goto out_close;
	rc = posix_spawn(&p->pid, args[0], &fa, &attr, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		rc = -rc;
		goto out_close;
	}
	p->in_use = true;
	n_procs++;
	return p;

out_close:
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->out_fd = -1;
	errno = -rc;
	return NULL;
}

static bool proc_try_reap(struct testproc *p)
{
	int status;
	pid_t r;

	if (p->reaped)
		return true;
	do {
		r = waitpid(p->pid, &status, WNOHANG);
	} while (r == -1 && errno == EINTR);
	if (r == p->pid || (r == -1 && errno == ECHILD)) {
		/* ECHILD: someone else reaped it; report a generic failure rather than hang. */
		p->status = r == p->pid ? status : (255 << 8);
		p->reaped = true;
	}
	return p->reaped;
}

/* See testproc.h. */
int testproc_wait(struct testproc *p, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;

	for (;;) {
		if (proc_try_reap(p))
			return 0;
		if (testproc_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(2);
	}
}

/* See testproc.h. */
bool testproc_running(struct testproc *p)
{
	return !proc_try_reap(p);
}

/* See testproc.h. */
int testproc_exit_code(const struct testproc *p)
{
	if (!p->reaped)
		return -1;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return -1;
}

/* See testproc.h. */
int testproc_signal(struct testproc *p, int sig)
{
	/* Never signal a reaped pid: the number may belong to another process by now. */
	if (p->reaped || p->pid <= 0)
		return -ESRCH;
	return kill(p->pid, sig) == -1 ? -errno : 0;
}

/* See testproc.h. */
int testproc_stop(struct testproc *p, int timeout_ms)
{
	if (!proc_try_reap(p)) {
		testproc_signal(p, SIGTERM);
		if (testproc_wait(p, timeout_ms)) {
			testproc_signal(p, SIGKILL);
			testproc_wait(p, 5000);
		}
	}
	return testproc_exit_code(p);
}

/* See testproc.h. */
void testproc_stop_all(void)
{
	for (unsigned i = 0; i < n_procs; i++) {
		struct testproc *p = &procs[i];

		if (!p->in_use)
			continue;
		testproc_stop(p, 500);
		if (p->out_fd >= 0)
			close(p->out_fd);
		p->out_fd = -1;
	}
}

/* See testproc.h. */
int testproc_run(const char *const argv[], int timeout_ms, char *out, size_t len)
{
	struct testproc *p = testproc_spawn(argv);
	int rc;

	if (!p)
		return -errno;
	rc = testproc_wait(p, timeout_ms);
	testproc_output(p, out, len);
	return rc ? rc : testproc_exit_code(p);
}

/* See testproc.h. */
size_t testproc_output(const struct testproc *p, char *buf, size_t len)
{
	size_t got = 0;

	if (len == 0)
		return 0;
	while (p->out_fd >= 0 && got < len - 1) {
		ssize_t n = pread(p->out_fd, buf + got, len - 1 - got, (off_t)got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

/* See testproc.h. */
int testproc_wait_output(struct testproc *p, const char *needle, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	static char buf[1 << 16];

	for (;;) {
		bool exited = !testproc_running(p);

		testproc_output(p, buf, sizeof(buf));
		if (strstr(buf, needle))
			return 0;
		if (exited)
			return -ECHILD;
		if (testproc_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
}

/* The start of the last `lines` lines of text (a final newline ends a line, not starts one). */
static const char *tail_start(const char *text, size_t len, unsigned lines)
{
	size_t i = len;

	if (i && text[i - 1] == '\n')
		i--;
	while (i > 0) {
		if (text[i - 1] == '\n' && --lines == 0)
			break;
		i--;
	}
	return text + i;
}

/* See testproc.h. */
size_t testproc_tail(const struct testproc *p, unsigned lines, char *buf, size_t len)
{
	struct stat st;
	off_t from = 0;
	ssize_t n;
	size_t kept;
	const char *start;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (p->out_fd < 0 || fstat(p->out_fd, &st) == -1)
		return 0;
	if (st.st_size > (off_t)(len - 1))
		from = st.st_size - (off_t)(len - 1);
	do {
		n = pread(p->out_fd, buf, len - 1, from);
	} while (n == -1 && errno == EINTR);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	start = tail_start(buf, (size_t)n, lines);
	kept = (size_t)n - (size_t)(start - buf);
	memmove(buf, start, kept + 1);
	return kept;
}

/* See testproc.h. */
void testproc_explain(struct testproc *p, char *why, size_t len)
{
	char tail[1024];
	int n;

	testproc_tail(p, 8, tail, sizeof(tail));
	if (testproc_running(p))
		n = snprintf(why, len, "%s (pid %d) is still not ready", p->name, (int)p->pid);
	else
		n = snprintf(why, len, "%s (pid %d) exited with code %d", p->name, (int)p->pid,
			     testproc_exit_code(p));
	if (n >= 0 && (size_t)n < len)
		snprintf(why + n, len - (size_t)n, "; its last lines:\n%s", tail[0] ? tail : "(nothing)\n");
}

/* ---- children that listen on picked ports ---- */

static bool port_in(const unsigned *ports, unsigned n, unsigned port)
{
	for (unsigned i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* Fills the zero entries of ports with distinct ports, all free a moment ago. Returns 0 or
 * -errno. */
static int start_pick_ports(unsigned *ports, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		while (!ports[i] || port_in(ports, i, ports[i])) {
			int port = testproc_free_port();

			if (port < 0)
				return port;
			ports[i] = (unsigned)port;
		}
	}
	return 0;
}

/* Copies arg into out with every "{portN}" replaced by ports[N]. Returns 0 or -E2BIG. */
static int start_expand_arg(const char *arg, const unsigned *ports, unsigned n_ports, char *out, size_t len)
{
	size_t o = 0;

	while (*arg) {
		int n = 1;

		if (strncmp(arg, "{port", 5) == 0 && (unsigned)(arg[5] - '0') < n_ports && arg[6] == '}') {
			n = snprintf(out + o, len - o, "%u", ports[arg[5] - '0']);
			arg += 7;
		} else if (o + 1 < len) {
			out[o] = *arg++;
		}
		if (n < 0 || o + (size_t)n >= len)
			return -E2BIG;
		o += (size_t)n;
	}
	out[o] = '\0';
	return 0;
}

/* Fills argv (TESTPROC_ARGS_MAX entries, NULL-terminated) from st->argv with st->ports put in;
 * the strings live in a static buffer until the next call. Returns 0 or -E2BIG. */
static int start_build_argv(const struct testproc_start *st, const char **argv)
{
	static char args[TESTPROC_ARGS_MAX][256];
	size_t n;

	for (n = 0; st->argv[n]; n++) {
		if (n + 1 >= TESTPROC_ARGS_MAX ||
		    start_expand_arg(st->argv[n], st->ports, st->n_ports, args[n], sizeof(args[n])))
			return -E2BIG;
		argv[n] = args[n];
	}
	argv[n] = NULL;
	return 0;
}

/* Up means: the ready line was printed, or port0 accepts while the child still runs (so a
 * connection taken by another program listening there does not count). */
static int start_wait_ready(struct testproc_start *st, struct testproc *p)
{
	int rc;

	if (st->ready)
		return testproc_wait_output(p, st->ready, st->timeout_ms);
	rc = testproc_wait_port(p, st->ports[0], st->timeout_ms);
	if (rc == 0 && !testproc_running(p))
		rc = -ECHILD;
	return rc;
}

/* One attempt on fresh ports. Returns the process, or NULL with errno set and st->why filled. */
static struct testproc *start_once(struct testproc_start *st)
{
	const char *argv[TESTPROC_ARGS_MAX];
	struct testproc *p = NULL;
	int rc = start_pick_ports(st->ports, st->n_ports);

	if (!rc)
		rc = start_build_argv(st, argv);
	if (!rc) {
		p = testproc_spawn(argv);
		rc = p ? 0 : -errno;
	}
	if (rc) {
		snprintf(st->why, sizeof(st->why), "cannot start %s: %s", st->argv[0], strerror(-rc));
		errno = -rc;
		return NULL;
	}
	rc = start_wait_ready(st, p);
	if (rc == 0)
		return p;
	testproc_explain(p, st->why, sizeof(st->why));
	testproc_stop(p, 1000);
	errno = -rc;
	return NULL;
}

/* See testproc.h. */
struct testproc *testproc_start(struct testproc_start *st)
{
	for (int attempt = 0; attempt < TESTPROC_START_TRIES; attempt++) {
		struct testproc *p = start_once(st);

		if (p)
			return p;
		if (errno != ECHILD || !strcasestr(st->why, "address already in use"))
			return NULL;
		memset(st->ports, 0, sizeof(st->ports));
	}
	errno = EADDRINUSE;
	return NULL;
}

/* See testproc.h. */
int testproc_run_on_ports(struct testproc_start *st, char *out, size_t len)
{
	const char *argv[TESTPROC_ARGS_MAX];
	int code = -EADDRINUSE;

	for (int attempt = 0; attempt < TESTPROC_START_TRIES; attempt++) {
		int rc = start_pick_ports(st->ports, st->n_ports);

		if (!rc)
			rc = start_build_argv(st, argv);
		if (rc)
			return rc;
		code = testproc_run(argv, st->timeout_ms, out, len);
		if (code < 0 || !strcasestr(out, "address already in use"))
			return code;
		memset(st->ports, 0, sizeof(st->ports));
	}
	return code;
}

/* ---- ports and sockets ---- */

static struct sockaddr_in loopback(unsigned port)
{
	return (struct sockaddr_in){
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
}

/* 127.0.0.1:port or [::1]:port in ss; returns the address length. */
static socklen_t loopback_of(int family, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		*(struct sockaddr_in *)ss = loopback(port);
		return sizeof(struct sockaddr_in);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

/* Binding without SO_REUSEADDR also fails while TIME_WAIT sockets hold the port, which is
 * what we want: the child's bind would have to wait for them too. Returns 0 or -errno. */
static int port_bind_test(int family, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback_of(family, port, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd == -1)
		return -errno;
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		rc = -errno;
	close(fd);
	return rc;
}

static int free_port(int family)
{
	static unsigned seed;

	if (!seed)
		seed = (unsigned)getpid() ^ (unsigned)testproc_now_ms();
	for (int i = 0; i < 200; i++) {
		unsigned span = FREE_PORT_HIGH - FREE_PORT_LOW;
		unsigned port = FREE_PORT_LOW + (unsigned)rand_r(&seed) % span;

		if (port_bind_test(family, port) == 0)
			return (int)port;
	}
	return -EADDRINUSE;
}

/* See testproc.h. */
int testproc_free_port(void)
{
	return free_port(AF_INET);
}

/* See testproc.h. */
int testproc_free_port6(void)
{
	int rc = port_bind_test(AF_INET6, 0);

	return rc ? rc : free_port(AF_INET6);
}

/* See testproc.h. */
int testproc_listen(unsigned *port)
{
	int fd = testproc_bind(port), rc;

	if (fd < 0)
		return fd;
	if (listen(fd, 128) == -1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* See testproc.h. */
int testproc_bind(unsigned *port)
{
	struct sockaddr_in sin = loopback(0);
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd == -1)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* See testproc.h. */
int testproc_listen_port(unsigned port)
{
	struct sockaddr_in sin = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, rc;

	if (fd == -1)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 128) == -1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* See testproc.h. */
int testproc_accept(int listen_fd, int timeout_ms)
{
	int rc = wait_fd(listen_fd, POLLIN, testproc_now_ms() + timeout_ms);
	int fd;

	if (rc)
		return rc;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	return fd == -1 ? -errno : fd;
}

static int set_blocking(int fd, bool blocking)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -errno;
	flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags) == -1 ? -errno : 0;
}

/* Binds fd to source port sport of any address (IPv4 only), so a test can choose the flow. */
static int bind_source_port(int fd, unsigned sport)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons((uint16_t)sport) };
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
		return -errno;
	return 0;
}

static int connect_addr(const struct sockaddr_storage *ss, socklen_t sslen, unsigned sport, int timeout_ms)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0, rc;
	socklen_t len = sizeof(err);

	if (fd == -1)
		return -errno;
	rc = sport ? bind_source_port(fd, sport) : 0;
	if (rc)
		goto out_close;
	if (connect(fd, (const struct sockaddr *)ss, sslen) == -1) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto out_close;
		}
		rc = wait_fd(fd, POLLOUT, testproc_now_ms() + timeout_ms);
		if (rc)
			goto out_close;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		/* A refused connect reports ECONNREFUSED; ECONNRESET means the handshake completed
		 * and the peer reset the connection before we looked. That is a successful connect
		 * whose reads now see EOF, which is what a test of "server closes the client" wants. */
		if (err && err != ECONNRESET) {
			rc = -err;
			goto out_close;
		}
	}
	rc = set_blocking(fd, true);
	if (rc)
		goto out_close;
	return fd;

out_close:
	close(fd);
	return rc;
}

static int connect_loopback(int family, unsigned port, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t sslen = loopback_of(family, port, &ss);

	return connect_addr(&ss, sslen, 0, timeout_ms);
}

/* See testproc.h. */
int testproc_connect(unsigned port, int timeout_ms)
{
	return connect_loopback(AF_INET, port, timeout_ms);
}

/* See testproc.h. */
int testproc_connect6(unsigned port, int timeout_ms)
{
	return connect_loopback(AF_INET6, port, timeout_ms);
}

/* See testproc.h. */
int testproc_wait_port(struct testproc *p, unsigned port, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;

	for (;;) {
		int fd = testproc_connect(port, 200);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (p && !testproc_running(p))
			return -ECHILD;
		if (testproc_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(10);
	}
}

/* See testproc.h. */
int testproc_write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	size_t off = 0;

	while (off < len) {
		ssize_t n;
		int rc = wait_fd(fd, POLLOUT, deadline);

		if (rc)
			return rc;
		n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* Reads what is there, up to len, after waiting for it until deadline. Returns the byte
 * count, 0 on EOF, -ECONNRESET on a reset, -ETIMEDOUT or -errno. */
static ssize_t read_some_rst(int fd, void *buf, size_t len, int64_t deadline)
{
	for (;;) {
		int rc = wait_fd(fd, POLLIN, deadline);
		ssize_t n;

		if (rc)
			return rc;
		n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n == -1 ? -errno : n;
	}
}

/* The same, where a reset counts as EOF: the peer is gone either way. */
static ssize_t read_some(int fd, void *buf, size_t len, int64_t deadline)
{
	ssize_t n = read_some_rst(fd, buf, len, deadline);

	return n == -ECONNRESET ? 0 : n;
}

/* See testproc.h. */
ssize_t testproc_read_upto(int fd, void *buf, size_t len, int timeout_ms, bool *reset)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	size_t got = 0;

	if (reset)
		*reset = false;
	while (got < len) {
		ssize_t n = read_some_rst(fd, (char *)buf + got, len - got, deadline);

		if (n == -ECONNRESET && reset)
			*reset = true;
		if (n == -ECONNRESET || n == 0)
			break;
		if (n < 0)
			return n;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* See testproc.h. */
ssize_t testproc_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	return testproc_read_upto(fd, buf, len, timeout_ms, NULL);
}

/* See testproc.h. */
int testproc_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	size_t got = 0;

	for (;;) {
		char ch;
		ssize_t n = read_some(fd, &ch, 1, deadline);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		if (ch == '\n')
			break;
		if (got + 1 >= len)
			return -EMSGSIZE;
		buf[got++] = ch;
	}
	if (got && buf[got - 1] == '\r')
		got--;
	buf[got] = '\0';
	return (int)got;
}

/* See testproc.h. */
int testproc_wait_eof(int fd, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	char scratch[4096];

	for (;;) {
		ssize_t n = read_some(fd, scratch, sizeof(scratch), deadline);

		if (n == 0)
			return 0;
		if (n < 0)
			return (int)n;
	}
}

/* ---- HTTP ---- */

/* See testproc.h. */
uint64_t testproc_fnv(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* See testproc.h. */
const char *testproc_http_header(const struct testproc_http *r, const char *name, char *buf,
				 size_t len)
{
	size_t nlen = strlen(name);
	const char *line = strchr(r->head, '\n');

	while (line && *++line) {
		const char *eol = strchr(line, '\n');
		size_t vlen;
		const char *v;

		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			v = line + nlen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			vlen = eol ? (size_t)(eol - v) : strlen(v);
			while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			snprintf(buf, len, "%.*s", (int)vlen, v);
			return buf;
		}
		line = eol;
	}
	return NULL;
}

static int http_read_head(int fd, struct testproc_http *r, int64_t deadline)
{
	size_t got = 0;

	for (;;) {
		ssize_t n;

		if (got + 1 >= sizeof(r->head))
			return -EPROTO;
		n = read_some(fd, r->head + got, 1, deadline);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		got++;
		r->head[got] = '\0';
		if (got >= 4 && memcmp(r->head + got - 4, "\r\n\r\n", 4) == 0)
			return 0;
		if (got >= 2 && memcmp(r->head + got - 2, "\n\n", 2) == 0)
			return 0;
	}
}

static int http_parse_head(struct testproc_http *r)
{
	char v[64];

	if (sscanf(r->head, "HTTP/1.%*1[01] %3d", &r->status) != 1)
		return -EPROTO;
	if (testproc_http_header(r, "Content-Length", v, sizeof(v))) {
		char *end;

		r->content_length = strtoull(v, &end, 10);
		if (*end || end == v)
			return -EPROTO;
		r->has_length = true;
	}
	r->conn_close = testproc_http_header(r, "Connection", v, sizeof(v)) &&
			strcasecmp(v, "close") == 0;
	return 0;
}

static int http_read_body(int fd, struct testproc_http *r, int64_t deadline)
{
	char chunk[65536];

	while (!r->has_length || r->body_len < r->content_length) {
		uint64_t want = r->has_length ? r->content_length - r->body_len : sizeof(chunk);
		size_t len = want < sizeof(chunk) ? (size_t)want : sizeof(chunk);
		ssize_t n = read_some_rst(fd, chunk, len, deadline);

		if (n == -ECONNRESET && !r->has_length)
			return 0;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return r->has_length ? -EPIPE : 0;
		if (r->body_len < TESTPROC_HTTP_BODY_KEEP) {
			size_t keep = TESTPROC_HTTP_BODY_KEEP - (size_t)r->body_len;

			memcpy(r->body + r->body_len, chunk, (size_t)n < keep ? (size_t)n : keep);
		}
		r->body_fnv = testproc_fnv(r->body_fnv, chunk, (size_t)n);
		r->body_len += (uint64_t)n;
	}
	return 0;
}

/* See testproc.h. */
int testproc_http_read(int fd, struct testproc_http *r, bool head_only, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	int rc;

	memset(r, 0, sizeof(*r));
	r->body_fnv = TESTPROC_FNV_INIT;
	rc = http_read_head(fd, r, deadline);
	if (!rc)
		rc = http_parse_head(r);
	if (!rc && !head_only && r->status != 204 && r->status != 304 && r->status >= 200)
		rc = http_read_body(fd, r, deadline);
	return rc;
}

/* Sends a GET of path for host on fd (connected) and reads the answer. Returns 0 or -errno. */
static int http_exchange(int fd, const char *host, const char *path, struct testproc_http *r, int64_t deadline)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path,
			 host);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(req))
		return -E2BIG;
	rc = testproc_write_all(fd, req, (size_t)n, ms_left(deadline));
	return rc ? rc : testproc_http_read(fd, r, false, ms_left(deadline));
}

/* See testproc.h. */
int testproc_http_request(unsigned port, const char *method, const char *path, const char *headers,
			  const char *body, struct testproc_http *r, int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	size_t blen = body ? strlen(body) : 0;
	char *req;
	int fd, rc, n;

	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s%s%s", method, path,
		     port, headers ? headers : "", body ? "Content-Length: " : "", body ? "" : "\r\n");
	if (n < 0)
		return -ENOMEM;
	fd = testproc_connect(port, timeout_ms);
	rc = fd < 0 ? fd : testproc_write_all(fd, req, (size_t)n, ms_left(deadline));
	free(req);
	if (!rc && body) {
		char len[32];

		n = snprintf(len, sizeof(len), "%zu\r\n\r\n", blen);
		rc = testproc_write_all(fd, len, (size_t)n, ms_left(deadline));
		if (!rc)
			rc = testproc_write_all(fd, body, blen, ms_left(deadline));
	}
	if (!rc)
		rc = testproc_http_read(fd, r, false, ms_left(deadline));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* See testproc.h. */
int testproc_http_get_to(const struct sockaddr_in *to, unsigned sport, const char *path, struct testproc_http *r,
			 int timeout_ms)
{
	int64_t deadline = testproc_now_ms() + timeout_ms;
	struct sockaddr_storage ss = { 0 };
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	char host[INET_ADDRSTRLEN + 8];
	int fd, rc;

	memcpy(&ss, to, sizeof(*to));
	inet_ntop(AF_INET, &to->sin_addr, host, sizeof(host));
	snprintf(host + strlen(host), 8, ":%u", ntohs(to->sin_port));
	fd = connect_addr(&ss, sizeof(*to), sport, timeout_ms);
	if (fd < 0)
		return fd;
	rc = http_exchange(fd, host, path, r, deadline);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
	return rc;
}

int testproc_http_get(unsigned port, const char *path, struct testproc_http *r, int timeout_ms)
{
	return testproc_http_request(port, "GET", path, NULL, NULL, r, timeout_ms);
}

/* See testproc.h. */
int testproc_write_file(char *path, size_t len, const char *tmpl, const char *text)
{
	size_t n = strlen(text);
	int fd, rc = 0;

	if (!path[0]) {
		snprintf(path, len, "%s", tmpl);
		fd = mkstemp(path);
	} else {
		fd = open(path, O_WRONLY | O_TRUNC);
	}
	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		rc = -EIO;
	close(fd);
	return rc;
}
