/* resolver_thread: the one thread that blocks in getaddrinfo for slb. Workers never may, and
 * neither may the health thread: a lookup can take the resolver's whole timeout (5 s x
 * attempts), and health's 10 ms tick, probes and heartbeats cannot wait that long. Answers go
 * into a mailbox under a mutex and an eventfd wakes the health loop. See resolver.h. */
#include "slb/control/resolver.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slb/common/log.h"

struct resolver {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;       /* signalled by set_names (lookup now) and stop */
	int notify_fd;             /* the caller's eventfd */
	unsigned interval_ms;
	bool stop, kick;
	unsigned n_names;
	struct resolver_name names[CONFIG_MAX_STATIC_BACKENDS];
	unsigned n_pending;        /* answers not taken yet, one per name at most */
	struct resolver_answer pending[CONFIG_MAX_STATIC_BACKENDS];
};

/* A newer answer for a name replaces one not taken yet: only the latest counts. */
static void resolver_post_locked(struct resolver *r, const struct resolver_answer *a)
{
	unsigned i = 0;

	while (i < r->n_pending && (r->pending[i].port != a->port || strcmp(r->pending[i].host, a->host)))
		i++;
	if (i == CONFIG_MAX_STATIC_BACKENDS)
		return;
	r->pending[i] = *a;
	if (i == r->n_pending)
		r->n_pending++;
}

static void resolver_notify(struct resolver *r)
{
	uint64_t one = 1;

	if (write(r->notify_fd, &one, sizeof(one)) != sizeof(one))
		slb_log_limited(LOG_WARN, errno, "resolver: cannot wake the health thread");
}

/* One round over the names, unlocked during each lookup so that set_names and take never
 * wait for DNS. The names are copied first: set_names may replace them meanwhile. */
static void resolver_round(struct resolver *r, struct resolver_name *names, struct resolver_answer *a)
{
	unsigned n = r->n_names;

	memcpy(names, r->names, n * sizeof(*names));
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < n; i++) {
		resolver_lookup(names[i].host, names[i].port, a);
		pthread_mutex_lock(&r->lock);
		resolver_post_locked(r, a);
		pthread_mutex_unlock(&r->lock);
		resolver_notify(r);
	}
	pthread_mutex_lock(&r->lock);
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *resolver_main(void *arg)
{
	struct resolver *r = arg;
	struct resolver_name *names = malloc(sizeof(r->names));
	struct resolver_answer *a = malloc(sizeof(*a));
	struct timespec next;

	log_set_thread_name("resolver");
	pthread_mutex_lock(&r->lock);
	deadline_after(&next, r->interval_ms);
	while (!r->stop && names && a) {
		if (!r->kick && pthread_cond_timedwait(&r->wake, &r->lock, &next) != ETIMEDOUT)
			continue;
		r->kick = false;
		resolver_round(r, names, a);
		deadline_after(&next, r->interval_ms);
	}
	pthread_mutex_unlock(&r->lock);
	if (!names || !a)
		slb_log(LOG_ERROR, ENOMEM, "resolver: no memory: backend names are no longer looked up");
	free(names);
	free(a);
	return NULL;
}

/* See resolver.h. */
int resolver_start(unsigned interval_ms, int notify_fd, struct resolver **out)
{
	struct resolver *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (!r)
		return -ENOMEM;
	r->notify_fd = notify_fd;
	r->interval_ms = interval_ms;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a clock step must not stall lookups */
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	sigfillset(&all); /* signals are main's to handle, as for the health thread */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thread, NULL, resolver_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return -rc;
	}
	pthread_setname_np(r->thread, "slb-resolver");
	*out = r;
	return 0;
}

/* See resolver.h. */
void resolver_set_names(struct resolver *r, const struct resolver_name *names, unsigned n, unsigned interval_ms)
{
	if (n > CONFIG_MAX_STATIC_BACKENDS)
		n = CONFIG_MAX_STATIC_BACKENDS;
	pthread_mutex_lock(&r->lock);
	memcpy(r->names, names, n * sizeof(*names));
	r->n_names = n;
	r->interval_ms = interval_ms;
	r->kick = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

/* See resolver.h. */
unsigned resolver_take(struct resolver *r, struct resolver_answer *out, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->n_pending < max ? r->n_pending : max;
	memcpy(out, r->pending, n * sizeof(*out));
	memmove(r->pending, r->pending + n, (r->n_pending - n) * sizeof(*out));
	r->n_pending -= n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* See resolver.h. */
void resolver_stop(struct resolver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
