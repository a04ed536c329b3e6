/* snapshot under concurrency: one publisher replaces and reclaims snapshots as fast as it
 * can while readers load the current one, read every field and check it against what the
 * publisher wrote for that version. A snapshot freed too early shows up as an ASan
 * use-after-free, a TSan race with free(), or (plain build) a canary that does not match
 * its version once the memory is reused by a later build. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slb/common/snapshot.h"

#include "tsan_detect.h"

#define STRESS_PUBLISHES 20000
#define STRESS_READERS 3
#define STRESS_MAX_N 8

struct stress_reader {
	pthread_t thread;
	unsigned long reads;   /* snapshots checked */
	unsigned long bad;     /* snapshots whose contents did not match their version */
	unsigned long regress; /* a load returned an older version than the previous one */
	unsigned long offline; /* times it went offline */
};

static atomic_bool stress_stop;

/* Everything a snapshot of version v holds is a function of v. */
static uint32_t canary_n(uint64_t v)
{
	return 1 + (uint32_t)(v % STRESS_MAX_N);
}

static uint32_t canary_weight(uint64_t v, uint32_t id)
{
	return 1 + (uint32_t)((v + id) % 4);
}

static uint32_t canary_load(uint64_t v, uint32_t id)
{
	return (uint32_t)((v * 31 + id) % 101);
}

static uint16_t canary_port(uint64_t v, uint32_t id)
{
	return (uint16_t)(v * 7 + id);
}

/* Builds the snapshot that will be published as version v (ids given in reverse order,
 * so every build also sorts). */
static struct snapshot *canary_build(uint64_t v)
{
	struct snap_backend be[STRESS_MAX_N];
	uint32_t n = canary_n(v);

	memset(be, 0, sizeof(be));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = n - i;
		struct sockaddr_in *sin = (struct sockaddr_in *)&be[i].addr.ss;

		be[i].id = id;
		be[i].weight = canary_weight(v, id);
		be[i].load = canary_load(v, id);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(canary_port(v, id));
		sin->sin_addr.s_addr = htonl((uint32_t)v);
		be[i].addr.len = sizeof(*sin);
	}
	return snapshot_build(be, n);
}

static bool canary_backend_ok(const struct snap_backend *b, uint64_t v, uint32_t i)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&b->addr.ss;
	uint32_t id = i + 1;

	return b->id == id && b->weight == canary_weight(v, id) && b->load == canary_load(v, id) &&
	       sin->sin_family == AF_INET && ntohs(sin->sin_port) == canary_port(v, id) &&
	       ntohl(sin->sin_addr.s_addr) == (uint32_t)v && b->addr.len == sizeof(*sin);
}

static bool canary_ok(const struct snapshot *snap)
{
	const struct snap_pool *s = snap->pool[0];
	unsigned counts[STRESS_MAX_N] = { 0 };
	uint32_t sum = 0;
	uint64_t v = snap->version;

	if (snap->n_pools != 1)
		return false;

	if (s->n != canary_n(v))
		return false;
	for (uint32_t i = 0; i < s->n; i++) {
		if (!canary_backend_ok(&s->be[i], v, i))
			return false;
		sum += s->be[i].weight;
	}
	if (s->rr_len != sum)
		return false;
	for (uint32_t k = 0; k < s->rr_len; k++) {
		if (s->rr[k] >= s->n)
			return false;
		counts[s->rr[k]]++;
	}
	for (uint32_t i = 0; i < s->n; i++)
		if (counts[i] != s->be[i].weight)
			return false;
	return true;
}

static void stress_nap(long ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ns };

	nanosleep(&ts, NULL);
}

/* A worker loop in miniature: quiescent point at the top, one snapshot read per turn,
 * and now and then a "long wait" spent offline. */
static void *stress_reader_main(void *arg)
{
	struct stress_reader *r = arg;
	uint64_t last = 0;
	int idx = snapshot_reader_register();

	if (idx < 0) {
		r->bad++;
		return NULL;
	}
	for (unsigned long turn = 0; !atomic_load_explicit(&stress_stop, memory_order_relaxed); turn++) {
		const struct snapshot *s;

		snapshot_offline(idx); /* the quiescent point, as worker_loop passes it */
		snapshot_online(idx);
		s = snapshot_current();
		if (s) {
			r->reads++;
			if (!canary_ok(s))
				r->bad++;
			if (s->version < last)
				r->regress++;
			last = s->version;
		}
		if (turn % 97 == 0) {
			snapshot_offline(idx);
			r->offline++;
			if (turn % 3 == 0)
				stress_nap(20000);
			else
				sched_yield();
			snapshot_online(idx);
		}
	}
	snapshot_offline(idx);
	return NULL;
}

struct stress_result {
	struct stress_reader readers[STRESS_READERS];
	unsigned long build_failed;  /* snapshot_build returned NULL */
	unsigned long wrong_version; /* publish did not number versions 1, 2, 3... */
	unsigned max_waiting;        /* most retired snapshots left after one reclaim */
	unsigned left_at_end;        /* retired snapshots left once every reader is offline */
};

/* The whole run, checked with plain counters rather than Criterion asserts so that the
 * ThreadSanitizer build can call it without the Criterion runner (see main below). */
static void stress_run(struct stress_result *res)
{
	struct snapshot *first = canary_build(1);

	memset(res, 0, sizeof(*res));
	atomic_store(&stress_stop, false);
	if (!first) {
		res->build_failed++;
		return;
	}
	snapshot_publish(first);
	for (int i = 0; i < STRESS_READERS; i++)
		if (pthread_create(&res->readers[i].thread, NULL, stress_reader_main, &res->readers[i]))
			abort();

	for (uint64_t v = 2; v <= STRESS_PUBLISHES; v++) {
		struct snapshot *s = canary_build(v);
		unsigned waiting;

		if (!s) {
			res->build_failed++;
			break;
		}
		snapshot_publish(s);
		if (s->version != v)
			res->wrong_version++;
		waiting = snapshot_reclaim();
		if (waiting > res->max_waiting)
			res->max_waiting = waiting;
		if (v % 64 == 0)
			sched_yield(); /* let readers run on a 2-CPU box */
	}

	atomic_store(&stress_stop, true);
	for (int i = 0; i < STRESS_READERS; i++)
		if (pthread_join(res->readers[i].thread, NULL))
			abort();
	/* every reader is offline now: nothing can hold a retired snapshot */
	res->left_at_end = snapshot_reclaim();
	snapshot_teardown();
}

static bool stress_passed(const struct stress_result *res)
{
	for (int i = 0; i < STRESS_READERS; i++) {
		const struct stress_reader *r = &res->readers[i];

		if (r->bad || r->regress || !r->reads)
			return false;
	}
	return !res->build_failed && !res->wrong_version && !res->left_at_end;
}

Test(snapshot_stress, readers_never_see_a_freed_snapshot, .timeout = 100)
{
	struct stress_result res;

	stress_run(&res);
	for (int i = 0; i < STRESS_READERS; i++) {
		const struct stress_reader *r = &res.readers[i];

		cr_log_info("reader %d: %lu reads, %lu offline", i, r->reads, r->offline);
		cr_expect_eq(r->bad, 0, "reader %d saw %lu corrupt snapshots", i, r->bad);
		cr_expect_eq(r->regress, 0, "reader %d went back in versions %lu times", i, r->regress);
		cr_expect_gt(r->reads, 0, "reader %d never read", i);
	}
	cr_log_info("at most %u snapshots waited for reclamation", res.max_waiting);
	cr_expect_eq(res.build_failed, 0);
	cr_expect_eq(res.wrong_version, 0);
	cr_expect_eq(res.left_at_end, 0, "%u snapshots left with every reader offline", res.left_at_end);
	cr_assert(stress_passed(&res));
}

#if TEST_UNDER_TSAN
/* Criterion cannot start under ThreadSanitizer (Snaipe/Criterion#274: its BoxFort arena
 * is mapped at a random fixed address, which TSan refuses outside its application
 * ranges), so this build runs the stress run from its own main: a race makes TSan exit
 * with 66 at exit, a failed check with 1. */
int main(void)
{
	struct stress_result res;
	bool ok;

	stress_run(&res);
	ok = stress_passed(&res);
	for (int i = 0; i < STRESS_READERS; i++)
		printf("reader %d: %lu reads, %lu bad, %lu regress, %lu offline\n", i, res.readers[i].reads,
		       res.readers[i].bad, res.readers[i].regress, res.readers[i].offline);
	printf("%s: build_failed %lu wrong_version %lu max_waiting %u left_at_end %u\n", ok ? "PASS" : "FAIL",
	       res.build_failed, res.wrong_version, res.max_waiting, res.left_at_end);
	return ok ? 0 : 1;
}
#endif
