/* loadgen: client load with a record per request; see loadgen.h. */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testproc.h"

static void loadgen_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* See loadgen.h. */
int64_t loadgen_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* See loadgen.h. */
char *loadgen_backend_name(const char *body, char *buf, size_t len)
{
	static const char prefix[] = "backend ";
	size_t n;

	buf[0] = '\0';
	if (strncmp(body, prefix, sizeof(prefix) - 1) != 0)
		return buf;
	body += sizeof(prefix) - 1;
	n = strcspn(body, "\r\n");
	snprintf(buf, len, "%.*s", (int)n, body);
	return buf;
}

/* One request into r (the idx-th). The answer is big enough for the demo backend's "backend NAME". */
static void loadgen_one(const struct loadgen *lg, struct loadgen_rec *r, unsigned idx)
{
	struct testproc_http *http = malloc(sizeof(*http)); /* 8 KiB: too big for a thread's habits */

	r->start_us = loadgen_now_us();
	if (!http) {
		r->rc = -ENOMEM;
		r->end_us = loadgen_now_us();
		return;
	}
	if (lg->o.to.sin_family) {
		r->sport = lg->o.sport_n ? lg->o.sport_first + idx % lg->o.sport_n : 0;
		r->rc = testproc_http_get_to(&lg->o.to, r->sport, "/", http, lg->o.timeout_ms);
	} else {
		r->rc = testproc_http_get(lg->o.port, "/", http, lg->o.timeout_ms);
	}
	r->end_us = loadgen_now_us();
	r->status = r->rc ? 0 : http->status;
	if (!r->rc)
		loadgen_backend_name(http->body, r->backend, sizeof(r->backend));
	free(http);
}

static void *loadgen_thread(void *arg)
{
	struct loadgen *lg = arg;

	while (!atomic_load(&lg->stop) && loadgen_now_us() < lg->deadline_us) {
		unsigned idx = atomic_fetch_add(&lg->next, 1);

		if (idx >= lg->o.max_reqs)
			break;
		loadgen_one(lg, &lg->recs[idx], idx);
		if (lg->o.gap_ms > 0)
			loadgen_sleep_ms(lg->o.gap_ms);
	}
	return NULL;
}

/* See loadgen.h. */
int loadgen_start(struct loadgen *lg, const struct loadgen_opts *o)
{
	if (!o->threads || o->threads > LOADGEN_THREADS_MAX || !o->max_reqs || o->timeout_ms <= 0)
		return -EINVAL;
	memset(lg, 0, sizeof(*lg));
	lg->o = *o;
	lg->recs = calloc(o->max_reqs, sizeof(*lg->recs));
	if (!lg->recs)
		return -ENOMEM;
	lg->started_us = loadgen_now_us();
	lg->deadline_us = lg->started_us + (int64_t)o->max_run_ms * 1000;
	for (unsigned i = 0; i < o->threads; i++) {
		int rc = pthread_create(&lg->tid[i], NULL, loadgen_thread, lg);

		if (rc) {
			loadgen_free(lg);
			return -rc;
		}
		lg->n_threads++;
	}
	return 0;
}

/* See loadgen.h. */
unsigned loadgen_stop(struct loadgen *lg)
{
	atomic_store(&lg->stop, true);
	return loadgen_finish(lg);
}

/* See loadgen.h. */
unsigned loadgen_finish(struct loadgen *lg)
{
	unsigned taken;

	for (unsigned i = 0; i < lg->n_threads; i++)
		pthread_join(lg->tid[i], NULL);
	lg->n_threads = 0;
	taken = atomic_load(&lg->next);
	lg->n_recs = taken < lg->o.max_reqs ? taken : lg->o.max_reqs;
	return lg->n_recs;
}

/* See loadgen.h. */
void loadgen_free(struct loadgen *lg)
{
	loadgen_stop(lg);
	free(lg->recs);
	lg->recs = NULL;
	lg->n_recs = 0;
}

/* See loadgen.h. */
bool loadgen_ok(const struct loadgen_rec *r)
{
	return r->rc == 0 && r->status == 200;
}

/* See loadgen.h. */
static void describe_failure(const struct loadgen *lg, unsigned i, char *why, size_t len)
{
	const struct loadgen_rec *r = &lg->recs[i];

	snprintf(why, len, "request %u started %.3f s into the load, failed after %lld us: %s, status %d", i,
		 (double)(r->start_us - lg->started_us) / 1e6, (long long)(r->end_us - r->start_us),
		 r->rc ? strerror(-r->rc) : "answered", r->status);
}

/* Counts the failed records for which in(r, from, to) holds; describes the first in why. */
static unsigned count_failures(const struct loadgen *lg, int64_t from_us, int64_t to_us, char *why, size_t len,
			       bool (*in)(const struct loadgen_rec *, int64_t, int64_t))
{
	unsigned n = 0;

	if (len)
		why[0] = '\0';
	for (unsigned i = 0; i < lg->n_recs; i++) {
		const struct loadgen_rec *r = &lg->recs[i];

		if (!in(r, from_us, to_us) || loadgen_ok(r))
			continue;
		if (n++ == 0 && len)
			describe_failure(lg, i, why, len);
	}
	return n;
}

static bool started_in(const struct loadgen_rec *r, int64_t from_us, int64_t to_us)
{
	return r->start_us >= from_us && r->start_us < to_us;
}

static bool in_flight_in(const struct loadgen_rec *r, int64_t from_us, int64_t to_us)
{
	return r->start_us <= to_us && r->end_us >= from_us;
}

unsigned loadgen_failures(const struct loadgen *lg, int64_t from_us, int64_t to_us, char *why, size_t len)
{
	return count_failures(lg, from_us, to_us, why, len, started_in);
}

/* See loadgen.h. */
unsigned loadgen_failures_in_flight(const struct loadgen *lg, int64_t from_us, int64_t to_us, char *why,
				    size_t len)
{
	return count_failures(lg, from_us, to_us, why, len, in_flight_in);
}

/* See loadgen.h. */
unsigned loadgen_answered(const struct loadgen *lg, const char *name, int64_t from_us, int64_t to_us)
{
	unsigned n = 0;

	for (unsigned i = 0; i < lg->n_recs; i++) {
		const struct loadgen_rec *r = &lg->recs[i];

		if (r->start_us < from_us || r->start_us >= to_us || !loadgen_ok(r))
			continue;
		if (!name || strcmp(r->backend, name) == 0)
			n++;
	}
	return n;
}

/* See loadgen.h. */
const struct loadgen_rec *loadgen_first_answered(const struct loadgen *lg, const char *name, int64_t from_us,
						 int64_t to_us)
{
	const struct loadgen_rec *first = NULL;

	for (unsigned i = 0; i < lg->n_recs; i++) {
		const struct loadgen_rec *r = &lg->recs[i];

		if (r->start_us < from_us || r->start_us >= to_us || !loadgen_ok(r) || strcmp(r->backend, name))
			continue;
		if (!first || r->start_us < first->start_us)
			first = r;
	}
	return first;
}
