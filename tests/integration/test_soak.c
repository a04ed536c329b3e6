/* Soak: minutes of mixed load (a fresh connection per request, plus 1 MiB downloads that go
 * through the splice path) while backends come and go (killed and restarted, stopped and
 * continued, one that always refuses). Afterwards slb's open descriptors and RSS must be back
 * where they were after the warm-up: nothing leaks per connection, per pipe, per session.
 * SLB_SOAK_SECONDS sets the length (default 90; 30 under a sanitizer). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo_server.h"
#include "faultkit.h"
#include "loadgen.h"
#include "testproc.h"
#include "testwait.h"

#define N_BACKENDS 3
#define FD_SLACK 8              /* descriptors that may legitimately differ (a session mid-reconnect) */
#define RSS_SLACK_KIB (8 * 1024) /* allocator caches; a leak per connection would be far more */
#define CHURN_EVERY_MS 1500
#define SPAWN_BUDGET 24         /* testproc allows 64 children per test process: room for retries */
#define WARMUP_MS 8000

struct soak {
	struct faultkit_slb slb;
	char hb[32];
	unsigned ports[N_BACKENDS];
	struct testproc *be[N_BACKENDS];
	unsigned spawned;
	unsigned kills;          /* backends killed so far: each may cut what it had in flight */
	unsigned dl_total;       /* 1 MiB downloads made, */
	unsigned dl_whole;       /* and those that came whole */
	char dl_why[128];        /* the first download that did not */
};

static void soak_fini(void)
{
	testproc_stop_all();
}

TestSuite(soak, .fini = soak_fini, .timeout = 600);

/* Backend i, restarted on the port it had (a fresh one the first time, or when another
 * program took it meanwhile), once it has registered with slb. */
static struct testproc *backend_start(struct soak *s, unsigned i)
{
	char name[16];
	const char *argv[] = { "slb-backend", "--listen", "127.0.0.1:{port0}", "--name", name, "--heartbeat", s->hb,
			       "--interval", "100", NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "registered", .timeout_ms = 5000 };
	struct testproc *p;

	snprintf(name, sizeof(name), "soak%u", i);
	st.ports[0] = s->ports[i];
	p = testproc_start(&st);
	cr_assert_not_null(p, "backend %u did not register: %s", i, st.why);
	s->ports[i] = st.ports[0];
	s->spawned++;
	return p;
}

/* One step of churn: kill and restart a backend while spawns last, else stop and continue one. */
static void churn_step(struct soak *s, unsigned step)
{
	unsigned i = step % N_BACKENDS;
	char addr[32];

	if (s->spawned < SPAWN_BUDGET) {
		s->kills++;
		testproc_signal(s->be[i], SIGKILL);
		testproc_wait(s->be[i], 5000);
		s->be[i] = backend_start(s, i);
		return;
	}
	testproc_signal(s->be[i], SIGSTOP);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", s->ports[i]);
	cr_assert_geq(faultkit_wait_state(s->slb.admin, addr, "down", testwait_ms(5000)), 0,
		      "stopped backend %s never went down", addr);
	testproc_signal(s->be[i], SIGCONT);
}

/* n downloads of 1 MiB, two at a time, counted in s. They run between churn steps (a kill
 * and its restart are over before they start, a stopped backend is continued), so every one
 * must come whole. */
static void downloads(struct soak *s, unsigned n)
{
	char why[128] = "";
	unsigned ok = faultkit_parallel_gets(s->slb.port, "/bytes/1048576", n, 2, 10000, why, sizeof(why));

	if (ok < n && !s->dl_why[0])
		snprintf(s->dl_why, sizeof(s->dl_why), "%s", why);
	s->dl_total += n;
	s->dl_whole += ok;
}

/* The loaded requests that failed: each kill may cut the requests in flight on that backend,
 * at most one per load thread; nothing else may fail (a stopped backend's requests wait for
 * it within their timeout, a refused connect is retried on another backend). */
static void assert_failures_within_kills(const struct soak *s, const struct loadgen *lg)
{
	char why[256] = "";
	unsigned failed = loadgen_failures(lg, 0, INT64_MAX, why, sizeof(why));

	cr_log_info("soak: %u of %u requests failed, %u kills", failed, lg->n_recs, s->kills);
	cr_assert_leq(failed, s->kills * lg->o.threads, "%u requests failed with %u kills of %u load threads; first: %s",
		      failed, s->kills, lg->o.threads, why);
}

static void measure(const struct soak *s, int *fds, long *rss)
{
	usleep(500 * 1000); /* let closes and pipe returns finish */
	*fds = faultkit_fd_count(s->slb.proc->pid);
	*rss = faultkit_rss_kib(s->slb.proc->pid);
	cr_assert_gt(*fds, 0);
}

static int soak_seconds(void)
{
	const char *env = getenv("SLB_SOAK_SECONDS");

	if (env && atoi(env) > 0)
		return atoi(env);
	return getenv("SLB_SANITIZER") ? 30 : 90;
}

Test(soak, descriptors_and_memory_return_after_minutes_of_churn)
{
	struct soak s = { 0 };
	char refused[32];
	struct loadgen lg = { 0 };
	struct loadgen_opts o = { .threads = 3, .max_reqs = 2000000, .timeout_ms = 3000, .gap_ms = 1 };
	int fds0, fds1;
	long rss0, rss1;
	int64_t end;
	unsigned step = 0, answered = 0;

	faultkit_raise_nofile();
	snprintf(refused, sizeof(refused), "127.0.0.1:%u", refused_port());
	faultkit_slb_start_ok(&s.slb, 0,
			      (const char *const[]){ "--workers", "2", "--heartbeat-listen", "127.0.0.1:{port2}",
						     "--heartbeat-interval", "100", "--heartbeat-timeout", "400",
						     "--backend", refused, "--idle-timeout", "5000", NULL });
	snprintf(s.hb, sizeof(s.hb), "127.0.0.1:%u", s.slb.port2);
	for (unsigned i = 0; i < N_BACKENDS; i++)
		s.be[i] = backend_start(&s, i);

	/* Warm-up with the same mix, so pools and caches reach their working size: each worker's
	 * 1,024 receive buffers are handed out in ring order, so it takes a few thousand requests
	 * before every buffer has been written once. */
	o.port = s.slb.port;
	o.max_run_ms = WARMUP_MS;
	cr_assert_eq(loadgen_start(&lg, &o), 0);
	downloads(&s, 16);
	usleep(WARMUP_MS * 1000);
	loadgen_stop(&lg);
	cr_assert_gt(lg.n_recs, 2000, "warm-up too light: %u requests", lg.n_recs);
	assert_failures_within_kills(&s, &lg); /* no kill yet: none */
	loadgen_free(&lg);
	measure(&s, &fds0, &rss0);

	memset(&lg, 0, sizeof(lg));
	o.max_run_ms = soak_seconds() * 1000 + 10000;
	cr_assert_eq(loadgen_start(&lg, &o), 0);
	end = testproc_now_ms() + (int64_t)soak_seconds() * 1000;
	while (testproc_now_ms() < end) {
		churn_step(&s, step++);
		downloads(&s, 4);
		usleep(CHURN_EVERY_MS * 1000);
	}
	loadgen_stop(&lg);
	for (unsigned r = 0; r < lg.n_recs; r++)
		answered += loadgen_ok(&lg.recs[r]);
	cr_assert(testproc_running(s.slb.proc), "slb died during the soak");
	cr_assert_gt(answered, 1000, "too little load went through (%u answered)", answered);
	assert_failures_within_kills(&s, &lg);
	cr_log_info("soak: %u of %u downloads whole", s.dl_whole, s.dl_total);
	cr_assert_eq(s.dl_whole, s.dl_total, "%u of %u downloads cut; first: %s", s.dl_total - s.dl_whole, s.dl_total,
		     s.dl_why);
	for (unsigned i = 0; i < N_BACKENDS; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", s.ports[i]);
		cr_assert_geq(faultkit_wait_state(s.slb.admin, addr, "up", 3000), 0, "backend %s not back up", addr);
	}
	measure(&s, &fds1, &rss1);
	cr_log_info("soak: %u steps, %u of %u requests answered; fds %d -> %d, RSS %ld -> %ld KiB", step, answered,
		    lg.n_recs, fds0, fds1, rss0, rss1);
	cr_assert_leq(fds1, fds0 + FD_SLACK, "descriptors leaked: %d after warm-up, %d after the soak", fds0, fds1);
	if (!getenv("SLB_SANITIZER")) /* ASan's quarantine keeps RSS moving whatever slb does */
		cr_assert_leq(rss1, rss0 + RSS_SLACK_KIB, "RSS grew: %ld KiB after warm-up, %ld after the soak",
			      rss0, rss1);
	loadgen_free(&lg);
	faultkit_slb_stop_ok(&s.slb, 15000);
}
