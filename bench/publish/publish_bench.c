/* publish_bench: what one snapshot publish costs the health thread against the size of the
 * table: N heartbeat backends over S services, built and published the way health does it
 * (table_build_snapshot, snapshot_publish, snapshot_reclaim), timed over R rounds, plus a
 * full Maglev build at that size and a publish whose Maglev inputs did not change (the copy).
 * No reader is registered, so every publish frees the one before it at once. Times are this
 * thread's CPU time, so other load on the machine does not count. The id space is sized for
 * n, as --max-backends derives it: every publish walks it.
 *
 *   slb-bench-publish [N S R]   (default: the table of sizes below, 20 rounds each) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slb/common/heartbeat.h"
#include "slb/common/log.h"
#include "slb/common/snapshot.h"
#include "slb/control/backend_table.h"
#include "maglev.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* the machine may be shared: CPU time, not wall */
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A table of n registered backends, up, spread round robin over s services, each service with
 * a Maglev table of maglev_len entries when maglev_len > 0. NULL on a failure (said). */
static struct backend_table *bench_table(uint32_t n, unsigned s, uint32_t maglev_len)
{
	static struct table_params p;
	struct backend_table *t;

	memset(&p, 0, sizeof(p));
	p.n_services = s;
	for (unsigned i = 0; i < s; i++)
		p.svc[i] = (struct table_service_params){ .rise = 2, .fall = 3, .maglev_len = maglev_len };
	p.heartbeat_timeout_ms = 3000;
	p.expire_ms = 60000;
	t = table_create(&p);
	for (uint32_t i = 0; t && i < n; i++) {
		struct hb_msg m = { .verb = HB_VERB_REGISTER, .load = -1, .weight = 1 + i % 4 };
		struct backend *b;
		char text[64];

		snprintf(text, sizeof(text), "10.%u.%u.%u:80", i >> 16, (i >> 8) & 255, i & 255);
		/* the table never reads a session: any pointer stands for a live one */
		if (addr_parse(text, &m.addr, NULL, 0) || table_register(t, &m, &p, 0, &b)) {
			fprintf(stderr, "publish_bench: cannot register %s\n", text);
			table_destroy(t);
			return NULL;
		}
		table_apply(t, b, BE_EV_HB_UP, "registered", 0);
		table_set_service(t, b, i % s);
	}
	return t;
}

/* Microseconds per build + publish + reclaim, the mean of rounds. */
static double bench_publish(struct backend_table *t, unsigned rounds)
{
	double start = now_us();

	for (unsigned r = 0; r < rounds; r++) {
		struct snapshot *snap = table_build_snapshot(t, 0);

		if (!snap) {
			fprintf(stderr, "publish_bench: table_build_snapshot: %s\n", strerror(errno));
			exit(1);
		}
		if (snapshot_live(snap) != table_count(t)) {
			fprintf(stderr, "publish_bench: %u of %u backends live\n", snapshot_live(snap), table_count(t));
			exit(1);
		}
		snapshot_publish(snap);
		snapshot_reclaim();
	}
	return (now_us() - start) / rounds;
}

/* One row: n backends over s services, round robin pools, then with one service a Maglev
 * table sized for n (with 500 services each pool would carry one: health sizes them all for
 * the whole table, since a heartbeat backend may register into any service). */
static int bench_row(uint32_t n, unsigned s, unsigned rounds)
{
	uint32_t m = maglev_table_size(n);
	struct backend_table *t;
	double rr, full, copy;

	if (snap_id_limit_set(n + 1))
		return 1;
	t = bench_table(n, s, 0);
	if (!t)
		return 1;
	rr = bench_publish(t, rounds);
	table_destroy(t);
	snapshot_teardown();
	if (s > 1) {
		printf("%8u %8u %12.0f %12s %14s %14s\n", n, s, rr, "-", "-", "-");
		return 0;
	}
	t = bench_table(n, s, m);
	if (!t)
		return 1;
	full = bench_publish(t, 1); /* no current table to copy from: a full build */
	copy = bench_publish(t, rounds);
	table_destroy(t);
	snapshot_teardown();
	printf("%8u %8u %12.0f %12u %14.0f %14.0f\n", n, s, rr, m, full, copy);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		uint32_t n;
		unsigned s;
	} rows[] = { { 1000, 1 }, { 1000, 500 }, { 10000, 1 }, { 10000, 500 }, { 65535, 1 }, { 65535, 500 } };
	unsigned rounds = 20;
	int ret = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	atomic_store(&log_threshold, LOG_ERROR); /* a line per registration would be the bench */
	printf("%8s %8s %12s %12s %14s %14s\n", "backends", "services", "publish_us", "maglev_len", "maglev_full_us",
	       "maglev_same_us");
	if (argc == 4) {
		rounds = (unsigned)strtoul(argv[3], NULL, 10);
		return bench_row((uint32_t)strtoul(argv[1], NULL, 10), (unsigned)strtoul(argv[2], NULL, 10),
				 rounds ? rounds : 1);
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ret |= bench_row(rows[i].n, rows[i].s, rounds);
	return ret;
}
