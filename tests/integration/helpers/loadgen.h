/* loadgen: steady client load for failover tests: a few threads, each doing one HTTP GET on a
 * fresh connection (Connection: close) at a time, with a per-request timeout. Every request is
 * recorded (start, end, result, which slb-backend answered) so a test can ask afterwards what
 * happened to the requests that started after a given moment. Times are in microseconds of
 * loadgen_now_us(): a killed backend's last breath lasts about a millisecond, and the tests
 * need to tell what happened before it from what happened after.
 *
 * The threads only make requests and fill records; they never assert and never spawn, so a
 * test keeps Criterion assertions and processes on its main thread. Read the records only
 * after loadgen_stop(). */
#ifndef SLB_LOADGEN_H
#define SLB_LOADGEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define LOADGEN_THREADS_MAX 8
#define LOADGEN_NAME_MAX 32

struct loadgen_rec {
	int64_t start_us;               /* loadgen_now_us() just before connecting */
	int64_t end_us;                 /* after the answer, or the failure */
	int rc;                         /* 0, or -errno from testproc_http_get */
	unsigned sport;                 /* the source port chosen (opts.sport_first), 0 for any */
	int status;                     /* HTTP status, 0 when none came */
	char backend[LOADGEN_NAME_MAX]; /* NAME from the body "backend NAME", "" when none */
};

struct loadgen_opts {
	unsigned port;       /* slb's client port on 127.0.0.1 (when to.sin_family is 0) */
	struct sockaddr_in to; /* else: where to connect, e.g. a service address in a namespace */
	unsigned sport_first; /* with to: request i comes from source port sport_first + i % sport_n, */
	unsigned sport_n;     /* so a test knows each flow (0: any port) */
	unsigned threads;    /* 1..LOADGEN_THREADS_MAX */
	unsigned max_reqs;   /* requests over all threads, then the threads stop */
	int timeout_ms;      /* per request: connect, send and read the whole answer */
	int gap_ms;          /* pause of each thread between two requests */
	int max_run_ms;      /* the threads stop after this however far they got */
};

struct loadgen {
	struct loadgen_opts o;
	struct loadgen_rec *recs;   /* o.max_reqs records; the first n_recs are filled */
	unsigned n_recs;            /* valid after loadgen_stop() */
	_Atomic unsigned next;      /* next record to take (may pass max_reqs) */
	_Atomic bool stop;
	int64_t started_us;         /* loadgen_now_us() at loadgen_start */
	int64_t deadline_us;
	unsigned n_threads;         /* threads actually started */
	pthread_t tid[LOADGEN_THREADS_MAX];
};

/* Monotonic clock in microseconds (the clock of testproc_now_ms, finer). */
int64_t loadgen_now_us(void);

/* Starts o->threads threads making requests to 127.0.0.1:o->port. Returns 0 or -errno
 * (-EINVAL for a bad option, -ENOMEM); on failure nothing is left running. */
int loadgen_start(struct loadgen *lg, const struct loadgen_opts *o);

/* Tells the threads to stop, waits for their requests in flight (at most o.timeout_ms) and
 * joins them. Returns the number of records, now readable in lg->recs. Idempotent. */
unsigned loadgen_stop(struct loadgen *lg);

/* Waits until the threads end by themselves (max_reqs made, or max_run_ms passed) and joins
 * them. Returns the number of records, as loadgen_stop. */
unsigned loadgen_finish(struct loadgen *lg);

/* Frees the records. Calls loadgen_stop() first if needed. */
void loadgen_free(struct loadgen *lg);

/* True when the request got a 200 answer from some backend. */
bool loadgen_ok(const struct loadgen_rec *r);

/* Counts the failed requests that started in [from_us, to_us) and describes the first one
 * (start relative to the load's start, duration, error, status) in why. Returns the count. */
unsigned loadgen_failures(const struct loadgen *lg, int64_t from_us, int64_t to_us, char *why, size_t len);

/* Counts the failed requests that were in flight at some instant of [from_us, to_us] (started
 * at or before to_us, ended at or after from_us), described as loadgen_failures does. For an
 * event known only to lie in that interval (a route change seen by polling), these are the
 * requests it may have cut. */
unsigned loadgen_failures_in_flight(const struct loadgen *lg, int64_t from_us, int64_t to_us, char *why,
				    size_t len);

/* Counts the successful requests that started in [from_us, to_us), all of them when name is
 * NULL, else only those answered by backend name. */
unsigned loadgen_answered(const struct loadgen *lg, const char *name, int64_t from_us, int64_t to_us);

/* The first request (in start order) that started in [from_us, to_us) and was answered by
 * backend name, or NULL. Points into lg->recs. */
const struct loadgen_rec *loadgen_first_answered(const struct loadgen *lg, const char *name, int64_t from_us,
						 int64_t to_us);

/* Puts the NAME of a "backend NAME" body into buf ("" when the body is something else).
 * Returns buf. */
char *loadgen_backend_name(const char *body, char *buf, size_t len);

#endif
