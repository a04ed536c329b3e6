/* kaclients: long-lived keep-alive HTTP clients, for events that must not cut an established
 * connection (a planned removal or a join behind ECMP, tests/integration/test_scale_out.c).
 *
 * kaclients_start opens n connections (from the calling thread, so in its network namespace)
 * and one thread then sends "GET /" (HTTP/1.1, kept alive) on each every period_ms and reads
 * the whole answer. A connection that is reset, closed by the far end, or left without an
 * answer for timeout_ms has failed: it is recorded and never reopened, since what a test
 * counts is established connections cut. Each connection remembers the backend (X-Backend)
 * of its first answer and whether a later one came from another backend.
 *
 * The thread never asserts; read the records after kaclients_stop(), or the atomic counters
 * at any time. */
#ifndef SLB_KACLIENTS_H
#define SLB_KACLIENTS_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KACLIENTS_MAX 64

struct kaclient {
	int fd;
	int64_t next_us;          /* when the next request is due */
	int64_t sent_us;          /* when the request in flight went, 0 when none is */
	size_t len;               /* bytes of the answer read so far */
	char buf[1024];
	_Atomic unsigned answered; /* complete answers */
	_Atomic int err;          /* 0 while alive, else -errno (-EPIPE: closed by the far end,
				   * -ETIMEDOUT: no answer in time, -EPROTO: not an HTTP answer) */
	int64_t failed_us;        /* when it failed (loadgen_now_us) */
	unsigned sport;           /* its source port */
	char backend[32];         /* X-Backend of the first answer */
	bool moved;               /* a later answer came from another backend */
};

struct kaclients {
	unsigned n;
	int period_ms, timeout_ms;
	_Atomic bool stop;
	bool running;
	pthread_t tid;
	struct kaclient c[KACLIENTS_MAX];
};

/* Connects n (1..KACLIENTS_MAX) clients to to, each within timeout_ms, and starts the thread.
 * Returns 0, or -errno of the first connection that failed (then nothing is left open). */
int kaclients_start(struct kaclients *k, const struct sockaddr_in *to, unsigned n, int period_ms, int timeout_ms);

/* Waits until every live connection has at least want answers, or timeout_ms. Returns how many
 * connections have fewer (failed ones included). */
unsigned kaclients_wait_answered(struct kaclients *k, unsigned want, int timeout_ms);

/* Stops sending, waits for the answers in flight (at most timeout_ms), joins the thread and
 * closes the connections. The records stay readable. Idempotent. */
void kaclients_stop(struct kaclients *k);

/* Connections failed (read after kaclients_stop); the first to fail described in why. */
unsigned kaclients_failed(const struct kaclients *k, char *why, size_t len);

/* Answers over all connections. */
unsigned kaclients_answers(const struct kaclients *k);

#endif
