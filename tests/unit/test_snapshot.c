/* snapshot: build precomputes a sorted copy and a smooth weighted round-robin order;
 * publish/current/offline/online/reclaim follow QSBR. Each Criterion test runs in its
 * own process, so the module's globals start fresh; .fini frees whatever is left. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/snapshot.h"

#include "tsan_detect.h"

static void snap_test_fini(void)
{
	snapshot_teardown();
}

TestSuite(snapshot, .fini = snap_test_fini);

static struct snap_backend be_make(uint32_t id, uint32_t weight)
{
	struct snap_backend b;

	memset(&b, 0, sizeof(b));
	b.id = id;
	b.weight = weight;
	return b;
}

/* How often each be[] index appears in s->rr; counts has s->n entries. */
static void rr_count(const struct snap_pool *s, unsigned *counts)
{
	memset(counts, 0, s->n * sizeof(*counts));
	for (uint32_t k = 0; k < s->rr_len; k++) {
		cr_assert_lt(s->rr[k], s->n, "rr[%u] = %u out of range", k, s->rr[k]);
		counts[s->rr[k]]++;
	}
}

/* Builds weights w[0..n) with ids 1..n and checks that a backend is only repeated
 * (cyclically, as workers wrap around) when every other backend is lighter. */
static void check_no_avoidable_repeat(const uint32_t *w, uint32_t n)
{
	struct snap_backend be[16];
	struct snap_pool *s;

	for (uint32_t i = 0; i < n; i++)
		be[i] = be_make(i + 1, w[i]);
	s = snap_pool_build(be, n);
	cr_assert_not_null(s);
	for (uint32_t k = 0; k < s->rr_len; k++) {
		uint32_t x = s->rr[k], y = s->rr[(k + 1) % s->rr_len];

		if (x != y)
			continue;
		for (uint32_t j = 0; j < n; j++)
			cr_assert(j == x || s->be[j].weight < s->be[x].weight,
				  "backend %u (w%u) repeats at %u while %u has w%u", x, s->be[x].weight, k, j,
				  s->be[j].weight);
	}
	snap_pool_free(s);
}

Test(snapshot, build_copies_and_sorts_by_id)
{
	struct snap_backend be[3] = { be_make(7, 1), be_make(2, 5), be_make(40, 3) };
	struct snap_pool *s;

	be[1].load = 42;
	s = snap_pool_build(be, 3);
	cr_assert_not_null(s);
	be[1].weight = 99; /* the caller keeps its array: the snapshot must not see this */
	cr_assert_eq(s->n, 3);
	cr_assert_eq(s->be[0].id, 2);
	cr_assert_eq(s->be[0].weight, 5);
	cr_assert_eq(s->be[0].load, 42);
	cr_assert_eq(s->be[1].id, 7);
	cr_assert_eq(s->be[2].id, 40);
	snap_pool_free(s);
}

Test(snapshot, rr_three_to_one_is_interleaved)
{
	struct snap_backend be[2] = { be_make(1, 3), be_make(2, 1) };
	struct snap_pool *s = snap_pool_build(be, 2);
	unsigned counts[2];

	cr_assert_not_null(s);
	cr_assert_eq(s->rr_len, 4);
	rr_count(s, counts);
	cr_assert_eq(counts[0], 3);
	cr_assert_eq(counts[1], 1);
	/* A A B A: B sits inside the run of A, never after three A in a row */
	cr_assert_eq(s->rr[0], 0);
	cr_assert_eq(s->rr[1], 0);
	cr_assert_eq(s->rr[2], 1);
	cr_assert_eq(s->rr[3], 0);
	snap_pool_free(s);
}

Test(snapshot, rr_counts_equal_weights_when_they_fit)
{
	struct snap_backend be[4] = { be_make(4, 7), be_make(1, 1), be_make(3, 256), be_make(2, 13) };
	struct snap_pool *s = snap_pool_build(be, 4);
	unsigned counts[4];

	cr_assert_not_null(s);
	cr_assert_eq(s->rr_len, 7 + 1 + 256 + 13);
	rr_count(s, counts);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(counts[i], s->be[i].weight, "id %u: %u picks for weight %u", s->be[i].id, counts[i],
			     s->be[i].weight);
	snap_pool_free(s);
}

Test(snapshot, rr_never_repeats_while_an_equal_or_heavier_backend_waits)
{
	static const uint32_t sets[][8] = {
		{ 1, 1, 1 },	      { 3, 3 },		{ 2, 2, 1 },	   { 5, 5, 5, 1 },
		{ 4, 2, 4, 1, 3 },    { 10, 1, 1, 1 },	{ 7, 7, 2, 9, 9 }, { 256, 255, 1, 128, 64, 32, 16, 8 },
	};
	static const uint32_t lens[] = { 3, 2, 3, 4, 5, 4, 5, 8 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		check_no_avoidable_repeat(sets[i], lens[i]);
}

Test(snapshot, rr_random_weights_never_repeat_avoidably)
{
	uint32_t w[12];

	srand(1);
	for (int round = 0; round < 500; round++) {
		uint32_t n = 1 + (uint32_t)rand() % 12;
		uint32_t maxw = round % 2 ? 256 : 5;

		for (uint32_t i = 0; i < n; i++)
			w[i] = 1 + (uint32_t)rand() % maxw;
		check_no_avoidable_repeat(w, n);
	}
}

Test(snapshot, rr_scaled_down_keeps_ratios_and_every_backend)
{
	struct snap_backend be[70];
	struct snap_pool *s;
	unsigned counts[70];

	/* 30 x 256 + 30 x 128 + 10 x 1 = 11530 > snap_list_cap(70) = SNAP_LIST_MIN */
	for (uint32_t i = 0; i < 70; i++)
		be[i] = be_make(i + 1, i < 30 ? 256 : i < 60 ? 128 : 1);
	s = snap_pool_build(be, 70);
	cr_assert_not_null(s);
	cr_assert_eq(snap_list_cap(70), SNAP_LIST_MIN);
	cr_assert_leq(s->rr_len, SNAP_LIST_MIN);
	cr_assert_geq(s->rr_len, SNAP_LIST_MIN - 70);
	rr_count(s, counts);
	for (uint32_t i = 0; i < 70; i++)
		cr_assert_geq(counts[i], 1, "id %u left out of rr", s->be[i].id);
	for (uint32_t i = 0; i < 30; i++) {
		double ratio = (double)counts[i] / counts[30 + i];

		cr_assert(ratio > 1.9 && ratio < 2.1, "256:128 became %u:%u", counts[i], counts[30 + i]);
	}
	snap_pool_free(s);
}

/* The largest pool any instance may have (--max-backends 65535): every backend is in rr[],
 * whose cap grows with the pool (16 entries a backend), and 256:1 keeps its ratio within the
 * rounding of that cap. Criterion runs each test in a process of its own, so the id limit
 * set here ends with it. */
Test(snapshot, rr_largest_table_fits)
{
	uint32_t n = SNAP_ID_MAX;
	struct snap_backend *be = calloc(n, sizeof(*be));
	unsigned *counts = calloc(n, sizeof(*counts));
	struct snap_pool *s;

	cr_assert_eq(snap_id_limit_set(SNAP_ID_MAX + 1), 0);
	cr_assert_eq(snap_id_limit_set(SNAP_ID_MAX + 2), -EINVAL);
	cr_assert(be && counts);
	for (uint32_t i = 0; i < n; i++)
		be[i] = be_make(n - i, i % 3 ? 256 : 1); /* reversed ids: build sorts them */
	s = snap_pool_build(be, n);
	cr_assert_not_null(s);
	cr_assert_leq(s->rr_len, snap_list_cap(n));
	cr_assert_geq(s->rr_len, snap_list_cap(n) - n);
	cr_assert_leq(s->draw_len, snap_list_cap(n));
	rr_count(s, counts);
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_eq(s->be[i].id, i + 1);
		cr_assert_geq(counts[i], 1);
	}
	/* be[j] has id j + 1, built as be[n - j - 1]: weight 256 for j = 0, 1 and 1 for j = 2 */
	cr_assert_geq(counts[0], 10 * counts[2], "256:1 became %u:%u", counts[0], counts[2]);
	snap_pool_free(s);
	free(counts);
	free(be);
}

Test(snapshot, weight_zero_still_gets_a_turn)
{
	struct snap_backend be[2] = { be_make(1, 0), be_make(2, 2) };
	struct snap_pool *s = snap_pool_build(be, 2);
	unsigned counts[2];

	cr_assert_not_null(s);
	cr_assert_eq(s->rr_len, 3);
	rr_count(s, counts);
	cr_assert_eq(counts[0], 1);
	cr_assert_eq(counts[1], 2);
	snap_pool_free(s);
}

Test(snapshot, empty_set_builds_and_publishes)
{
	struct snapshot *s = snapshot_build(NULL, 0);

	cr_assert_not_null(s);
	cr_assert_eq(s->n_pools, 1);
	cr_assert_eq(s->pool[0]->n, 0);
	cr_assert_eq(s->pool[0]->rr_len, 0);
	snapshot_publish(s);
	cr_assert_eq(snapshot_current(), s);
}

/* Issue 21: one snapshot holds a pool per service; it owns them, and counts their backends. */
Test(snapshot, assemble_owns_the_pools_and_counts_every_pools_backends)
{
	struct snap_backend one[1] = { be_make(1, 1) }, two[2] = { be_make(2, 1), be_make(3, 2) };
	struct snap_pool *pools[3] = { snap_pool_build(one, 1), snap_pool_build(NULL, 0), snap_pool_build(two, 2) };
	struct snapshot *s = snapshot_assemble(pools, 3);

	cr_assert_not_null(s);
	cr_assert_eq(s->n_pools, 3);
	cr_assert_eq(s->pool[2]->be[1].id, 3);
	cr_assert_eq(snapshot_live(s), 3);
	cr_assert_eq(snapshot_live(NULL), 0);
	snapshot_free(s); /* the pools with it: ASan would see a leak otherwise */
	errno = 0;
	cr_assert_null(snapshot_assemble(pools, 0));
	cr_assert_eq(errno, EINVAL);
}

Test(snapshot, bad_ids_are_refused)
{
	struct snap_backend zero[1] = { be_make(0, 1) };
	struct snap_backend big[1] = { be_make(snap_id_limit(), 1) };
	struct snap_backend dup[3] = { be_make(5, 1), be_make(3, 1), be_make(5, 2) };

	errno = 0;
	cr_assert_null(snapshot_build(zero, 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(snapshot_build(big, 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(snapshot_build(dup, 3));
	cr_assert_eq(errno, EINVAL);
}

Test(snapshot, publish_replaces_current_and_raises_version)
{
	struct snap_backend be[1] = { be_make(1, 1) };
	struct snapshot *a = snapshot_build(be, 1);
	struct snapshot *b = snapshot_build(be, 1);

	cr_assert(a && b);
	cr_assert_null(snapshot_current());
	snapshot_publish(a);
	cr_assert_eq(snapshot_current(), a);
	snapshot_publish(b);
	cr_assert_eq(snapshot_current(), b);
	cr_assert_eq(b->version, a->version + 1);
	/* no reader registered: nothing can hold a */
	cr_assert_eq(snapshot_reclaim(), 0);
}

Test(snapshot, reclaim_waits_for_an_online_reader_then_frees)
{
	struct snap_backend be[1] = { be_make(1, 1) };
	int r = snapshot_reader_register();

	cr_assert_geq(r, 0);
	snapshot_publish(snapshot_build(be, 1));
	snapshot_offline(r);
	snapshot_online(r);
	cr_assert_eq(snapshot_current()->version, 1); /* r may now hold version 1 */
	snapshot_publish(snapshot_build(be, 1));
	cr_assert_eq(snapshot_reclaim(), 1);
	cr_assert_eq(snapshot_reclaim(), 1, "freed while reader %d may still hold it", r);
	snapshot_offline(r);
	snapshot_online(r);
	cr_assert_eq(snapshot_reclaim(), 0);
}

Test(snapshot, reclaim_frees_only_what_the_slowest_reader_has_passed)
{
	struct snap_backend be[1] = { be_make(1, 1) };
	int fast = snapshot_reader_register();
	int slow = snapshot_reader_register();

	cr_assert(fast >= 0 && slow >= 0 && fast != slow);
	snapshot_publish(snapshot_build(be, 1));
	snapshot_publish(snapshot_build(be, 1));
	snapshot_offline(slow);
	snapshot_online(slow); /* slow has passed the retirement of version 1 only */
	snapshot_publish(snapshot_build(be, 1));
	snapshot_publish(snapshot_build(be, 1));
	snapshot_offline(fast);
	snapshot_online(fast);
	cr_assert_eq(snapshot_reclaim(), 2); /* versions 2 and 3 wait for slow */
	snapshot_offline(slow);
	snapshot_online(slow);
	cr_assert_eq(snapshot_reclaim(), 0);
}

Test(snapshot, offline_readers_never_block_reclaim)
{
	struct snap_backend be[1] = { be_make(1, 1) };
	int busy = snapshot_reader_register();
	int idle = snapshot_reader_register();

	cr_assert(busy >= 0 && idle >= 0);
	snapshot_offline(idle);
	for (int i = 0; i < 5; i++)
		snapshot_publish(snapshot_build(be, 1));
	snapshot_offline(busy);
	snapshot_online(busy);
	cr_assert_eq(snapshot_reclaim(), 0);
	snapshot_offline(busy);
	snapshot_publish(snapshot_build(be, 1));
	cr_assert_eq(snapshot_reclaim(), 0);
}

Test(snapshot, back_online_reader_blocks_only_newer_retirements)
{
	struct snap_backend be[1] = { be_make(1, 1) };
	int r = snapshot_reader_register();

	cr_assert_geq(r, 0);
	snapshot_offline(r);
	snapshot_publish(snapshot_build(be, 1));
	snapshot_publish(snapshot_build(be, 1));
	snapshot_online(r); /* can only ever see version 2 */
	cr_assert_eq(snapshot_reclaim(), 0);
	cr_assert_eq(snapshot_current()->version, 2);
	snapshot_publish(snapshot_build(be, 1));
	cr_assert_eq(snapshot_reclaim(), 1);
	snapshot_offline(r);
	snapshot_online(r);
	cr_assert_eq(snapshot_reclaim(), 0);
}

Test(snapshot, register_refuses_past_the_last_slot)
{
	for (int i = 0; i < SNAP_MAX_READERS; i++)
		cr_assert_eq(snapshot_reader_register(), i);
	cr_assert_eq(snapshot_reader_register(), -ENOSPC);
}

Test(snapshot, teardown_frees_all_and_forgets_readers)
{
	struct snap_backend be[1] = { be_make(1, 1) };
	int r = snapshot_reader_register();

	cr_assert_eq(r, 0);
	for (int i = 0; i < 3; i++)
		snapshot_publish(snapshot_build(be, 1));
	cr_assert_eq(snapshot_reclaim(), 2);
	snapshot_teardown(); /* ASan's leak check tells whether the retired ones went too */
	cr_assert_null(snapshot_current());
	cr_assert_eq(snapshot_reader_register(), 0);
}

#if TEST_UNDER_TSAN
/* Criterion cannot start under ThreadSanitizer (Snaipe/Criterion#274), and these tests
 * run on one thread, where TSan has nothing to find: skip (ctest SKIP_RETURN_CODE 77).
 * test_snapshot_stress is the one that runs under TSan. */
int main(void)
{
	printf("SKIP criterion-under-tsan: single-threaded tests, and Criterion cannot run under ThreadSanitizer\n");
	return 77;
}
#endif

/* A mark taken after a publish is passed once every online reader has gone through a
 * quiescent point since; an offline reader holds nothing and does not count. */
Test(snapshot, mark_is_passed_once_every_online_reader_has_moved_on)
{
	struct snap_backend be[1] = { be_make(1, 1) };
	int a = snapshot_reader_register(), b = snapshot_reader_register();
	uint64_t mark;

	cr_assert(a >= 0 && b >= 0);
	snapshot_publish(snapshot_build(be, 1));
	mark = snapshot_mark();
	cr_assert_not(snapshot_passed(mark), "both readers may still hold the previous snapshot");
	snapshot_offline(a);
	snapshot_online(a);
	cr_assert_not(snapshot_passed(mark), "reader %d has not moved on", b);
	snapshot_offline(b);
	cr_assert(snapshot_passed(mark), "an offline reader holds nothing");
	snapshot_online(b);
	cr_assert(snapshot_passed(mark));
	snapshot_publish(snapshot_build(be, 1));
	cr_assert_not(snapshot_passed(snapshot_mark()));
}
