/* testproc: what integration tests need to run real processes on loopback: spawn (posix_spawn,
 * output captured to a file), wait and stop with timeouts, free ports, sockets, lines and HTTP.
 *
 * Rules that keep tests from hanging or leaking:
 *  - every call that waits takes a timeout in milliseconds and returns -ETIMEDOUT when it passes;
 *  - every child is stopped by testproc_stop_all(): it runs at exit (registered by the first
 *    spawn) and should also be the suite's .fini, so a failed assertion cleans up too;
 *  - children get SIGKILL if the test process dies (setpriv --pdeathsig, when installed), which
 *    covers crashes and Criterion timeouts. The parent-death signal is tied to the spawning
 *    thread: spawn from the test's main thread;
 *  - all traffic is to 127.0.0.1 (or [::1] through the *6 helpers).
 * Socket helpers return blocking fds; their timeouts are implemented with poll(). */
#ifndef SLB_TESTPROC_H
#define SLB_TESTPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/types.h>

#define TESTPROC_MAX 64      /* children per test process, over its whole life */
#define TESTPROC_ARGS_MAX 64

struct testproc {
	pid_t pid;              /* the child's pid (kept after it is reaped, for messages) */
	bool in_use;            /* slot taken (slots are not reused, so handles stay valid) */
	bool reaped;            /* exited and waited for: status is valid */
	int status;             /* wait status once reaped */
	char name[64];          /* basename of the program, for messages */
	int out_fd;             /* the child's stdout and stderr: an unlinked temp file, so
				 * nothing is left in /tmp however the test ends */
};

/* ---- processes ---- */

/* Writes the path of a binary under test into buf: $SLB_BIN_DIR/name, or ./name when
 * SLB_BIN_DIR is unset. Returns buf. */
const char *testproc_bin(const char *name, char *buf, size_t len);

/* Starts argv (NULL-terminated; argv[0] without a '/' is looked up with testproc_bin) with
 * stdin from /dev/null, stdout and stderr appended to an unlinked temp file, an empty signal mask
 * and default signal dispositions. Returns a handle that stays valid until the test process
 * exits, or NULL with errno set (ENOSPC when TESTPROC_MAX children were already spawned). */
struct testproc *testproc_spawn(const char *const argv[]);

/* Waits until p exits. Returns 0 (p->status is set), or -ETIMEDOUT. Fine to call again. */
int testproc_wait(struct testproc *p, int timeout_ms);

/* True while p has not exited (reaps it if it just did). */
bool testproc_running(struct testproc *p);

/* The exit code once reaped; 128 + signal number when it was killed; -1 while running. */
int testproc_exit_code(const struct testproc *p);

/* Sends sig to p's pid (only while it has not been reaped). Returns 0 or -errno. */
int testproc_signal(struct testproc *p, int sig);

/* SIGTERM, then SIGKILL if p is still running after timeout_ms; always reaps it.
 * Returns testproc_exit_code(p). */
int testproc_stop(struct testproc *p, int timeout_ms);

/* Stops every child still running (SIGTERM, 500 ms, then SIGKILL) and closes their output
 * files. Idempotent; use as Criterion's .fini. */
void testproc_stop_all(void);

/* Spawns argv, waits up to timeout_ms for it to exit and copies its output into out (as
 * testproc_output). Returns its exit code (testproc_exit_code), -ETIMEDOUT when it is still
 * running (it is left to testproc_stop_all), or -errno when it could not be spawned. */
int testproc_run(const char *const argv[], int timeout_ms, char *out, size_t len);

/* Copies what p printed so far into buf (NUL-terminated, truncated to len - 1 bytes).
 * Returns the number of bytes copied. */
size_t testproc_output(const struct testproc *p, char *buf, size_t len);

/* Waits until p's output contains needle. Returns 0, -ETIMEDOUT, or -ECHILD when p exited
 * without printing it. */
int testproc_wait_output(struct testproc *p, const char *needle, int timeout_ms);

/* Copies the last `lines` lines p printed (at most len - 1 bytes of them) into buf,
 * NUL-terminated. Returns the number of bytes copied. */
size_t testproc_tail(const struct testproc *p, unsigned lines, char *buf, size_t len);

/* Writes why p is not ready into why: "NAME exited with code C" or "NAME is still not ready",
 * then its last lines of output, so an assertion message says what the child said. */
void testproc_explain(struct testproc *p, char *why, size_t len);

/* ---- children that listen on picked ports ---- */

#define TESTPROC_PORTS_MAX 4
#define TESTPROC_START_TRIES 5
#define TESTPROC_WHY_MAX 2048

/* A child that listens on ports picked for it. Each argv entry may hold "{port0}" ..
 * "{port3}", replaced on every attempt by fresh ports from testproc_free_port. */
struct testproc_start {
	const char *const *argv;            /* in: NULL-terminated, as for testproc_spawn */
	unsigned n_ports;                   /* in: how many ports to pick (1..TESTPROC_PORTS_MAX) */
	const char *ready;                  /* in: the output that says it is up; NULL: port0 accepts */
	int timeout_ms;                     /* in: for each attempt to become ready */
	unsigned ports[TESTPROC_PORTS_MAX]; /* in: nonzero ones are used on the first attempt
					     * (to test the retry); out: the ports that came up */
	char why[TESTPROC_WHY_MAX];         /* out, on failure: the reason and the child's last lines */
};

/* Starts st->argv and waits until it is ready. A picked port can be taken by another program
 * between the pick and the child's bind: when the child exits saying "address already in use",
 * it is started again on fresh ports, up to TESTPROC_START_TRIES times. Returns the process,
 * or NULL with errno set (ECHILD: it exited; ETIMEDOUT: it never got ready, and was stopped;
 * EADDRINUSE: every attempt lost its port) and st->why filled. */
struct testproc *testproc_start(struct testproc_start *st);

/* The same for a child expected to exit (a start that must be refused): runs st->argv with
 * fresh ports until it exits (st->timeout_ms; st->ready is not used), again on fresh ports
 * while its output says "address already in use", and copies its output into out (as
 * testproc_run). Returns its exit code, -ETIMEDOUT, or -errno. */
int testproc_run_on_ports(struct testproc_start *st, char *out, size_t len);

/* ---- ports and sockets (127.0.0.1 only) ---- */

/* A TCP port that was free a moment ago, picked at random below the ephemeral range so that
 * outgoing connections do not grab it first. Another process may still take it: pair it with
 * testproc_wait_port, which says when the child exited instead of listening. Returns the
 * port, or -errno. */
int testproc_free_port(void);

/* The same on [::1]. Returns the port, -EADDRINUSE, or the -errno (-EADDRNOTAVAIL,
 * -EAFNOSUPPORT) that says this host has no IPv6 loopback: then skip what needs it. */
int testproc_free_port6(void);

/* A listening socket on 127.0.0.1 with a kernel-chosen port, returned in *port: the race-free
 * way to run a fake server inside the test. Returns the fd or -errno. */
int testproc_listen(unsigned *port);

/* A socket bound to 127.0.0.1 on a kernel-chosen port (in *port) that does not listen yet: it
 * holds the port while connects to it are refused, until the caller listen()s on it (a server
 * that comes up later on a port nobody else can take meanwhile). Returns the fd or -errno. */
int testproc_bind(unsigned *port);

/* A listening socket on 127.0.0.1:port (SO_REUSEADDR), e.g. to bring a fake server back on the
 * port it had. Returns the fd or -errno (-EADDRINUSE). */
int testproc_listen_port(unsigned port);

/* Accepts one connection. Returns the fd or -errno (-ETIMEDOUT). */
int testproc_accept(int listen_fd, int timeout_ms);

/* Connects to 127.0.0.1:port. Returns the fd or -errno (-ETIMEDOUT, -ECONNREFUSED). A connection
 * the server accepted and reset at once still counts as connected: its reads see EOF. */
int testproc_connect(unsigned port, int timeout_ms);

/* The same to [::1]:port. */
int testproc_connect6(unsigned port, int timeout_ms);

/* Retries connecting until 127.0.0.1:port accepts (the child is ready). Returns 0,
 * -ECHILD when p exited (p may be NULL to skip that check), or -ETIMEDOUT. */
int testproc_wait_port(struct testproc *p, unsigned port, int timeout_ms);

/* Writes all len bytes. Returns 0 or -errno (-ETIMEDOUT, -EPIPE). */
int testproc_write_all(int fd, const void *buf, size_t len, int timeout_ms);

/* Reads len bytes. Returns len, fewer when the peer closed (or reset) first, -ETIMEDOUT when
 * the time ran out first (whatever came is in buf), or another -errno. */
ssize_t testproc_read_full(int fd, void *buf, size_t len, int timeout_ms);

/* The same, and *reset (when not NULL) says whether the peer ended with a reset rather than a
 * clean close: what an abortive close looks like to a client. */
ssize_t testproc_read_upto(int fd, void *buf, size_t len, int timeout_ms, bool *reset);

/* Reads one line, one byte at a time so nothing after it is consumed. Stores it without its
 * "\n" or "\r\n", NUL-terminated. Returns its length, -ETIMEDOUT, -EPIPE on EOF before a
 * newline, -EMSGSIZE when it does not fit in len, or another -errno. */
int testproc_read_line(int fd, char *buf, size_t len, int timeout_ms);

/* Reads and discards until the peer closes. Returns 0 on EOF (or a reset), -ETIMEDOUT. */
int testproc_wait_eof(int fd, int timeout_ms);

/* Monotonic clock in milliseconds. */
int64_t testproc_now_ms(void);

/* Writes text to the file at path: a new one made from tmpl (mkstemp, e.g.
 * "/tmp/slb-x-XXXXXX", copied into path) when path is empty, else the same file truncated, so
 * a test can rewrite its config before a reload. Returns 0 or -errno. */
int testproc_write_file(char *path, size_t len, const char *tmpl, const char *text);

/* ---- HTTP/1.1 client ---- */

#define TESTPROC_HTTP_HEAD_MAX 4096
#define TESTPROC_HTTP_BODY_KEEP 4096

struct testproc_http {
	int status;                          /* e.g. 200 */
	bool has_length;
	uint64_t content_length;
	bool conn_close;                     /* the answer said Connection: close */
	char head[TESTPROC_HTTP_HEAD_MAX];   /* status line and headers, NUL-terminated */
	char body[TESTPROC_HTTP_BODY_KEEP + 1]; /* the first bytes of the body, NUL-terminated */
	uint64_t body_len;                   /* body bytes received, all of them */
	uint64_t body_fnv;                   /* FNV-1a 64 of the whole body */
};

/* Reads one response from fd: head byte by byte, then exactly Content-Length bytes (or to EOF
 * without one), so the next pipelined response stays unread. head_only: a HEAD answer, no
 * body. Returns 0, or -errno (-ETIMEDOUT, -EPIPE on EOF mid-response, -ECONNRESET on a reset
 * mid-body, -EPROTO). */
int testproc_http_read(int fd, struct testproc_http *r, bool head_only, int timeout_ms);

/* Connects, sends "GET path HTTP/1.1" with Connection: close, reads the answer, closes.
 * Returns 0 or -errno. */
int testproc_http_get(unsigned port, const char *path, struct testproc_http *r, int timeout_ms);

/* Connects, sends "METHOD path HTTP/1.1" with Connection: close, then headers (each line
 * ending in "\r\n", may be NULL) and, unless body is NULL, Content-Length and body; reads the
 * answer and closes. Returns 0 or -errno. */
int testproc_http_request(unsigned port, const char *method, const char *path, const char *headers,
			  const char *body, struct testproc_http *r, int timeout_ms);

/* testproc_http_get to any IPv4 address (e.g. one inside a network namespace the test made),
 * from source port sport when it is not 0. The connection ends with a reset, so the same
 * source port can be used again at once: no TIME_WAIT on either side. Returns 0 or -errno
 * (-EADDRINUSE when sport is still taken). */
int testproc_http_get_to(const struct sockaddr_in *to, unsigned sport, const char *path, struct testproc_http *r,
			 int timeout_ms);

/* Copies the value of header name (case-insensitive) into buf. Returns buf, or NULL when the
 * header is missing. */
const char *testproc_http_header(const struct testproc_http *r, const char *name, char *buf,
				 size_t len);

/* FNV-1a 64 of len bytes, continuing from h (start with TESTPROC_FNV_INIT). */
#define TESTPROC_FNV_INIT 0xcbf29ce484222325ULL
uint64_t testproc_fnv(uint64_t h, const void *buf, size_t len);

#endif
