/* faultkit: what the fault-injection tests (test_faults_*.c) share: slb and slb-backend as
 * separate processes (slb optionally under a descriptor limit), /metrics and /status read
 * whole, slb's resident memory and descriptor count from /proc, its log lines counted, and
 * clients that misbehave on purpose (never read, read slowly) from threads.
 *
 * Built on testproc: every wait takes a timeout, every child is stopped by
 * testproc_stop_all(), and processes are spawned from the calling (main) thread only. */
#ifndef SLB_FAULTKIT_H
#define SLB_FAULTKIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testproc.h"

#define FAULTKIT_ARGS_MAX 48

struct faultkit_slb {
	struct testproc *proc;
	unsigned port;   /* client port on 127.0.0.1 */
	unsigned admin;  /* --admin port on 127.0.0.1 */
	unsigned port2;  /* the port "{port2}" in the start's args stood for (e.g. --heartbeat-listen) */
	char why[TESTPROC_WHY_MAX]; /* after a failed start: the reason and slb's last lines */
};

/* Starts slb through slbproc_start: --listen and --admin on free ports of 127.0.0.1, then args
 * (NULL-terminated: --backend, --workers and the other flags; "{port2}" in them stands for a
 * third free port), --ready-grace 0 unless args give one; ready at its "listening on" line,
 * retried on fresh ports when slb lost one to another program. nofile > 0 runs it under
 * `prlimit --nofile=N:N`, so slb cannot raise its own limit. Returns 0, or -errno (-ECHILD
 * when slb exited first) with the reason and slb's last lines in s->why. */
int faultkit_slb_start(struct faultkit_slb *s, unsigned nofile, const char *const *args);

/* Starts slb-backend --name name --listen ip:PORT on a free port, waits for its "listening on"
 * line and stores the port, retrying on fresh ports when one was taken. ip is "127.0.0.1" or
 * an address of the current network namespace. Returns the process, or NULL (the reason is in
 * errno, and the backend's last lines are logged with cr_log_error). */
struct testproc *faultkit_backend_start(const char *name, const char *ip, unsigned *port);

/* GET path from 127.0.0.1:port and the whole body into buf (NUL-terminated, truncated to
 * len - 1). Returns the HTTP status, or -errno. */
int faultkit_http_body(unsigned port, const char *path, char *buf, size_t len, int timeout_ms);

/* The sum of every series of a /metrics family (e.g. "slb_worker_idle_timeouts_total"), or
 * -1 when /metrics could not be read or has no such family. */
long long faultkit_metric(unsigned admin_port, const char *name);

/* Polls /metrics every 10 ms until the family sums to want. Returns 0 or -ETIMEDOUT. */
int faultkit_wait_metric(unsigned admin_port, const char *name, long long want, int timeout_ms);

/* Copies the JSON value of field ("state", "reason") of backend addr ("10.199.0.2:8080") in
 * GET /status into buf, without quotes. Returns 0, -ENOENT, or -errno. */
int faultkit_status_field(unsigned admin_port, const char *addr, const char *field, char *buf, size_t len);

/* Polls /status every 10 ms until backend addr is in state. Returns the milliseconds it
 * took, or -ETIMEDOUT. */
int faultkit_wait_state(unsigned admin_port, const char *addr, const char *state, int timeout_ms);

/* The same, polling every poll_ms. */
int faultkit_wait_state_every(unsigned admin_port, const char *addr, const char *state, int timeout_ms,
			      int poll_ms);

/* VmRSS of pid in KiB from /proc/pid/status, or -errno. */
long faultkit_rss_kib(pid_t pid);

/* Open descriptors of pid (entries of /proc/pid/fd), or -errno. */
int faultkit_fd_count(pid_t pid);

/* CPU time (user + system) that the thread of pid named comm (its /proc task comm, e.g.
 * "slb-health") has used so far, in ms (clock-tick resolution), or -errno (-ESRCH: no such
 * thread). */
long faultkit_thread_cpu_ms(pid_t pid, const char *comm);

/* What a client of slb p sees when slb cuts its stream (backend reset, drain timeout):
 * -ECONNRESET, or -EPIPE (a clean EOF) when p said at start-up that its kernel cannot set
 * SO_LINGER on a direct descriptor (before Linux 6.7). */
int faultkit_cut_errno(const struct testproc *p);

/* Lines of p's output that contain needle. */
unsigned faultkit_count_lines(const struct testproc *p, const char *needle);

/* Stops slb with SIGTERM and checks that it exited 0 within timeout_ms and printed no error
 * line nor sanitizer report. Returns 0, or -EPROTO with the reason and the output's tail in
 * why. */
int faultkit_slb_stop_clean(struct faultkit_slb *s, int timeout_ms, char *why, size_t len);

/* The same for any slb process p (e.g. one started by healthtest). */
int faultkit_stop_clean(struct testproc *p, int timeout_ms, char *why, size_t len);

/* ---- requests ---- */

/* Sends "GET path HTTP/1.1" (Connection: close when close is true) on fd. Returns 0 or -errno. */
int faultkit_send_get(int fd, const char *path, bool close, int timeout_ms);

/* FNV-1a 64 of the first n bytes of slb-backend's /bytes pattern. */
uint64_t faultkit_pattern_fnv(uint64_t n);

/* Parses the NAME of a "backend NAME" body into buf ("" when it is something else). */
char *faultkit_backend_name(const char *body, char *buf, size_t len);

/* Makes total GET path requests on fresh connections (Connection: close) from threads
 * (1..16) in parallel, each with timeout_ms for the whole exchange. Returns how many got a
 * 200; the first failure is described in why. */
unsigned faultkit_parallel_gets(unsigned port, const char *path, unsigned total, unsigned threads,
				int timeout_ms, char *why, size_t len);

/* A client that downloads GET path through slb on its own thread and reads at most
 * rate_kib KiB a second (0: as fast as it can), so slb always has bytes in flight. */
struct faultkit_reader {
	unsigned port;
	char path[64];
	_Atomic unsigned rate_kib;   /* may be changed while it runs (0: no limit from now on) */
	int timeout_ms;
	_Atomic uint64_t got;        /* body bytes so far */
	int rc;                      /* once joined: 0 (full answer), or -errno */
	struct testproc_http r;      /* once joined: the answer (body_fnv covers all of it) */
	int64_t end_ms;              /* once joined: when it finished or failed */
	pthread_t tid;
};

/* Connects, sends the request and starts the reading thread. Returns 0 or -errno (the
 * connect or the send failed; no thread then). */
int faultkit_reader_start(struct faultkit_reader *rd, unsigned port, const char *path, unsigned rate_kib,
			  int timeout_ms);

/* Waits for the thread; then rd->rc, rd->r and rd->end_ms are valid. */
void faultkit_reader_join(struct faultkit_reader *rd);

/* Starts n downloads of GET /bytes/<bytes> through 127.0.0.1:port, each read at rate_kib KiB
 * a second with timeout_ms for the whole answer, and waits until each has received flowing
 * bytes (0: no wait), so that slb has every one in flight. Fails the running test otherwise. */
void faultkit_downloads_start(struct faultkit_reader *rd, unsigned n, unsigned port, uint64_t bytes,
			      unsigned rate_kib, int timeout_ms, uint64_t flowing);

/* Lifts the rate limit of n downloads started as above, waits for each and asserts that it came
 * whole and unchanged (bytes of slb-backend's /bytes pattern); what names them in a failure
 * (e.g. "upgrade 3"). */
void faultkit_downloads_expect_whole(struct faultkit_reader *rd, unsigned n, uint64_t bytes, const char *what);

/* Raises the soft descriptor limit of the test process to its hard limit. Returns the
 * soft limit now in force. */
unsigned long faultkit_raise_nofile(void);

/* ---- for the tests: these fail the running Criterion test instead of returning errors ---- */

/* faultkit_slb_start, asserting that slb came up. */
void faultkit_slb_start_ok(struct faultkit_slb *s, unsigned nofile, const char *const *args);

/* faultkit_slb_stop_clean, asserting a clean exit (the reason and the output's tail in the
 * message). */
void faultkit_slb_stop_ok(struct faultkit_slb *s, int timeout_ms);

/* Sends SIGHUP to slb p and waits up to 10 s until n lines of its output hold outcome
 * ("reload: done", "reload rejected": the n-th reload's), asserting that they do (with slb's
 * last lines). */
void faultkit_reload_ok(struct testproc *p, unsigned n, const char *outcome);

/* faultkit_backend_start on 127.0.0.1, asserting that it came up; writes its
 * "127.0.0.1:PORT" into addr. */
struct testproc *faultkit_backend_ok(const char *name, char *addr, size_t len);

#endif
