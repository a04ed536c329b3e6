/* snapshot: build, publish, read, quiesce and reclaim the sets of live backends (QSBR): a
 * snapshot is one pool per service, each built here, assembled and published as one.
 *
 * Shared state and who writes it:
 *   snap_current   the published snapshot: publisher stores, readers load (both at least
 *                  release/acquire; seq_cst for the reason below)
 *   snap_gp        grace-period counter, starts at 1 and only rises: publisher only
 *   snap_readers[] one cache line per reader: the snap_gp value it last saw at a quiescent
 *                  point, 0 while offline. Written only by its reader, read by the reclaimer
 *   retired list   publisher only (snapshot_publish, snapshot_reclaim, snapshot_teardown run
 *                  on the one publisher thread), so it takes no lock
 *
 * Why a snapshot retired with stamp G may be freed once every online reader shows >= G:
 * a reader that copied a value >= G into its slot read snap_gp with acquire after the
 * publisher's increment to G, which follows the store of the newer pointer; so every
 * pointer it has loaded since is newer, and the one it held before has been dropped
 * (the header's contract: a pointer dies at the next quiescent point). Its reads of the
 * old snapshot come before that slot store (release), which the reclaimer reads with
 * acquire, so they also come before the free.
 *
 * The one case the counter alone does not cover is a reader coming online: the reclaimer
 * may still see its old 0 and skip it while the reader loads the pointer. That is the
 * store-buffering pattern (reader: store slot, load pointer; publisher: store pointer,
 * load slot), closed by making those four accesses seq_cst: either the reclaimer sees the
 * slot, or the reader's load sees the newer pointer. seq_cst accesses rather than two
 * atomic_thread_fence calls because gcc's ThreadSanitizer does not support fences (-Wtsan,
 * an error with SLB_WERROR) and models these; on x86-64 the reader's seq_cst load is the
 * same plain mov as an acquire load, and the stores are on cold paths. Quiescent points of
 * a reader already online need none of this: an old slot value only delays reclamation. */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/snapshot.h"

#define SNAP_CACHELINE 64

/* Hidden in front of every snapshot so that retiring one needs no allocation and so
 * cannot fail inside snapshot_publish. Its size keeps the snapshot after it aligned. */
struct snap_block {
	alignas(max_align_t) struct snap_block *next; /* next retired, in stamp order */
	uint64_t stamp;                               /* snap_gp value that retired it */
};

struct snap_reader {
	alignas(SNAP_CACHELINE) _Atomic uint64_t seen; /* snap_gp at the last quiescent point; 0 = offline */
};

/* Read by every reader once per loop turn and written once per publish: kept together on
 * a line of their own so that the readers' slots and the publisher's private state stay off it. */
static struct {
	alignas(SNAP_CACHELINE) _Atomic(struct snapshot *) current;
	_Atomic uint64_t gp;
	_Atomic unsigned nreaders; /* slots handed out by snapshot_reader_register */
} snap_shared = { .gp = 1 };

static struct snap_reader snap_readers[SNAP_MAX_READERS];

static uint32_t snap_ids = SNAP_ID_LIMIT_DEFAULT; /* snap_id_limit: written before threads start */

/* Publisher-private. */
static struct snap_block *retired_head; /* oldest first, so stamps rise along the list */
static struct snap_block *retired_tail;
static unsigned retired_count;
static uint64_t snap_version;

static struct snap_block *snap_block_of(struct snapshot *s)
{
	return (struct snap_block *)((char *)s - sizeof(struct snap_block));
}

static struct snapshot *snap_of_block(struct snap_block *b)
{
	return (struct snapshot *)((char *)b + sizeof(struct snap_block));
}

uint32_t snap_id_limit(void)
{
	return snap_ids;
}

int snap_id_limit_set(uint32_t limit)
{
	if (limit < 2 || limit > SNAP_ID_MAX + 1)
		return -EINVAL;
	snap_ids = limit;
	return 0;
}

uint32_t snap_list_cap(uint32_t n)
{
	uint64_t cap = (uint64_t)n * SNAP_LIST_PER_BACKEND;

	return cap > SNAP_LIST_MIN ? (uint32_t)cap : SNAP_LIST_MIN;
}

static int snap_cmp_id(const void *a, const void *b)
{
	const struct snap_backend *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static bool snap_sorted(const struct snap_backend *be, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		if (be[i - 1].id > be[i].id)
			return false;
	return true;
}

/* be[] is sorted: ids must be in 1..snap_id_limit()-1 and distinct, because workers
 * index their per-backend counters by id and 0 means "none". */
static int snap_check_ids(const struct snap_backend *be, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (be[i].id == 0 || be[i].id >= snap_ids)
			return -EINVAL;
		if (i > 0 && be[i].id == be[i - 1].id)
			return -EINVAL;
	}
	return 0;
}

/* The share a backend is given, in hundredths of a weight. A weight of 0 would leave a live
 * backend out of rr[]; count it as 1. eff_weight 0 means "not ramping". */
static uint64_t snap_eff(const struct snap_backend *b)
{
	if (b->eff_weight)
		return b->eff_weight;
	return (uint64_t)(b->weight ? b->weight : 1) * SNAP_WEIGHT_UNIT;
}

static uint64_t snap_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* The largest divisor of SNAP_WEIGHT_UNIT that divides every share: without a ramp the lists
 * are in whole weights as configured (3:1 is a cycle of 4, not 400), and a ramp lengthens
 * the cycle only while it lasts. */
static uint64_t snap_common_unit(const struct snap_backend *be, uint32_t n)
{
	uint64_t g = SNAP_WEIGHT_UNIT;

	for (uint32_t i = 0; i < n; i++)
		g = snap_gcd(snap_eff(&be[i]), g);
	return g;
}

/* p2c draws leave out backends at full load, unless every backend is. */
static bool snap_any_below_full(const struct snap_backend *be, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (be[i].load < SNAP_LOAD_FULL)
			return true;
	return false;
}

/* The weights, in units of g, of the backends a list holds (all of them, or the drawable). */
struct snap_list {
	uint64_t g;     /* common unit of the shares */
	uint64_t sum;   /* of snap_eff / g over the members */
	uint32_t n;     /* members */
	uint32_t max;   /* length cap of the list */
	bool skip_full; /* backends at SNAP_LOAD_FULL are not members */
};

static bool snap_member(const struct snap_list *l, const struct snap_backend *b)
{
	return !l->skip_full || b->load < SNAP_LOAD_FULL;
}

static void snap_list_init(struct snap_list *l, const struct snap_backend *be, uint32_t n, uint32_t max,
			   bool draw_only)
{
	l->g = snap_common_unit(be, n);
	l->sum = 0;
	l->n = 0;
	l->max = max;
	l->skip_full = draw_only && snap_any_below_full(be, n);
	for (uint32_t i = 0; i < n; i++) {
		if (!snap_member(l, &be[i]))
			continue;
		l->sum += snap_eff(&be[i]) / l->g;
		l->n++;
	}
}

/* How many times backend b appears in a list: its weight (in units of g) when the whole list
 * fits, else its share of a budget of max - n, rounded. Rounding and the floor of 1 add at
 * most 1 per backend over the exact share, hence the budget keeps the sum <= max
 * (n < SNAP_LIST_PER_BACKEND x n <= max, so the budget is positive). */
static uint32_t snap_share(const struct snap_list *l, const struct snap_backend *b)
{
	uint64_t w = snap_eff(b) / l->g;
	uint64_t share;

	if (l->sum <= l->max)
		return (uint32_t)w;
	share = (w * (l->max - l->n) + l->sum / 2) / l->sum;
	return share ? (uint32_t)share : 1;
}

static uint32_t snap_list_len(const struct snap_list *l, const struct snap_backend *be, uint32_t n)
{
	uint32_t len = 0;

	for (uint32_t i = 0; i < n; i++)
		if (snap_member(l, &be[i]))
			len += snap_share(l, &be[i]);
	return len;
}

struct snap_swrr {
	uint32_t picks;  /* entries of rr[] given to the backend so far */
	uint32_t weight; /* snap_share of the backend in rr[] */
};

/* Backend a's next turn comes before b's: turn p of a backend of weight w is due at
 * (2p + 1) / 2w of the cycle (the middle of its p-th slice), compared by cross-multiplying;
 * the lower index first on a tie. Products stay below 2^50 (picks, weights <= 2^24). */
static bool snap_rr_before(const struct snap_swrr *sw, uint32_t a, uint32_t b)
{
	uint64_t ka = (2 * (uint64_t)sw[a].picks + 1) * sw[b].weight;
	uint64_t kb = (2 * (uint64_t)sw[b].picks + 1) * sw[a].weight;

	return ka < kb || (ka == kb && a < b);
}

/* Restores the min-heap h[0..n) below slot i (the root's key rose). */
static void snap_heap_down(const struct snap_swrr *sw, uint32_t *h, uint32_t n, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, m = i, t;

		if (l < n && snap_rr_before(sw, h[l], h[m]))
			m = l;
		if (l + 1 < n && snap_rr_before(sw, h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Weighted round robin, spread out: every backend's turns are due at the middles of equal
 * slices of the cycle ((2p + 1) / 2w), and rr[] lists the turns in the order they fall due.
 * Over one cycle of rr_len entries each backend appears exactly weight times (its turns past
 * the cycle are due after 1), so the sequence repeats seamlessly, and one backend's turns are
 * spread out (3:1 gives A A B A) instead of coming in bursts. A heap of the backends by their
 * next turn makes it O(rr_len log n), on the health thread only: 10,000 backends with 160,000
 * entries take about 10 ms (the smooth weighted round robin of nginx, which this replaced,
 * is O(rr_len x n) and took seconds at that size). h is scratch for n indexes. */
static void snap_fill_rr(struct snap_pool *s, struct snap_swrr *sw, uint32_t *h)
{
	struct snap_list l;
	uint32_t n = 0;

	snap_list_init(&l, s->be, s->n, snap_list_cap(s->n), false);
	for (uint32_t i = 0; i < s->n; i++) {
		sw[i].picks = 0;
		sw[i].weight = snap_share(&l, &s->be[i]);
		if (sw[i].weight)
			h[n++] = i;
	}
	for (uint32_t i = n / 2; i-- > 0;)
		snap_heap_down(sw, h, n, i);
	for (uint32_t k = 0; k < s->rr_len; k++) {
		uint32_t best = h[0];

		s->rr[k] = (uint16_t)best;
		sw[best].picks++;
		snap_heap_down(sw, h, n, 0);
	}
}

/* Draws pick a uniform random entry, so one run per backend is fine (no interleaving), and
 * lets p2c draw its second candidate from everything but the first's run. */
static void snap_fill_draw(struct snap_pool *s)
{
	struct snap_list l;
	uint32_t k = 0;

	snap_list_init(&l, s->be, s->n, snap_list_cap(s->n), true);
	for (uint32_t i = 0; i < s->n; i++) {
		s->be[i].draw_first = k;
		s->be[i].draw_n = snap_member(&l, &s->be[i]) ? snap_share(&l, &s->be[i]) : 0;
		for (uint32_t c = 0; c < s->be[i].draw_n; c++)
			s->draw[k++] = (uint16_t)i;
	}
}

static uint32_t snap_len(const struct snap_backend *be, uint32_t n, uint32_t max, bool draw_only)
{
	struct snap_list l;

	snap_list_init(&l, be, n, max, draw_only);
	return snap_list_len(&l, be, n);
}

/* Lays out the arrays behind be[] in the one allocation. */
static void snap_layout(struct snap_pool *s, uint32_t n, uint32_t rr_len, uint32_t draw_len, uint32_t maglev_len)
{
	s->n = n;
	s->rr_len = rr_len;
	s->rr = (uint16_t *)&s->be[n];
	s->draw_len = draw_len;
	s->draw = s->rr + rr_len;
	s->maglev_len = maglev_len;
	s->maglev = maglev_len ? s->draw + draw_len : NULL;
}

/* Also: NULL with errno EINVAL when n or an id is out of range or an id repeats (a bug in
 * the caller, which owns the ids). One allocation holds the struct, be[], rr[], draw[] and
 * maglev[], so a pool is freed with one free(). Shares are computed from the sorted copy so
 * that rr[] and draw[] index it. */
struct snap_pool *snap_pool_build_ext(const struct snap_backend *live, uint32_t n, uint32_t maglev_len)
{
	struct snap_swrr *sw = NULL;
	uint32_t *heap;
	uint32_t rr_len, draw_len;
	struct snap_pool *s;
	size_t size;

	if (n >= snap_ids) {
		errno = EINVAL;
		return NULL;
	}
	rr_len = snap_len(live, n, snap_list_cap(n), false);
	draw_len = snap_len(live, n, snap_list_cap(n), true);
	size = sizeof(*s) + (size_t)n * sizeof(s->be[0]) + ((size_t)rr_len + draw_len + maglev_len) * sizeof(s->rr[0]);
	if (n) {
		sw = calloc(n, sizeof(*sw) + sizeof(*heap));
		if (!sw)
			goto out_nomem;
	}
	s = calloc(1, size);
	if (!s)
		goto out_free_sw;

	snap_layout(s, n, rr_len, draw_len, maglev_len);
	if (n)
		memcpy(s->be, live, (size_t)n * sizeof(s->be[0]));
	if (!snap_sorted(s->be, n)) /* health hands them over in id order: skip the copying sort */
		qsort(s->be, n, sizeof(s->be[0]), snap_cmp_id);
	if (snap_check_ids(s->be, n))
		goto out_invalid;
	for (uint32_t i = 0; i < n; i++) {
		s->be[i].eff_weight = (uint32_t)snap_eff(&s->be[i]);
		if (!s->be[i].lat_pct)
			s->be[i].lat_pct = 100;
	}
	heap = sw ? (uint32_t *)(sw + n) : NULL; /* NULL + 0 would be undefined */
	snap_fill_rr(s, sw, heap);
	snap_fill_draw(s);
	free(sw);
	return s;

out_invalid:
	free(s);
	free(sw);
	errno = EINVAL;
	return NULL;
out_free_sw:
	free(sw);
out_nomem:
	errno = ENOMEM;
	return NULL;
}

struct snap_pool *snap_pool_build(const struct snap_backend *live, uint32_t n)
{
	return snap_pool_build_ext(live, n, 0);
}

void snap_pool_free(struct snap_pool *p)
{
	free(p);
}

static void snap_free_pools(struct snap_pool *const *pools, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		snap_pool_free(pools[i]);
}

/* The hidden block header comes first, so that retiring the snapshot needs no allocation. */
struct snapshot *snapshot_assemble(struct snap_pool *const *pools, uint32_t n)
{
	struct snap_block *b;
	struct snapshot *s;

	if (n == 0 || n > SNAP_MAX_POOLS) {
		snap_free_pools(pools, n > SNAP_MAX_POOLS ? SNAP_MAX_POOLS : n);
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b) + sizeof(*s) + n * sizeof(s->pool[0]));
	if (!b) {
		snap_free_pools(pools, n);
		errno = ENOMEM;
		return NULL;
	}
	s = snap_of_block(b);
	s->n_pools = n;
	memcpy(s->pool, pools, n * sizeof(s->pool[0]));
	return s;
}

struct snapshot *snapshot_build_ext(const struct snap_backend *live, uint32_t n, uint32_t maglev_len)
{
	struct snap_pool *p = snap_pool_build_ext(live, n, maglev_len);

	return p ? snapshot_assemble(&p, 1) : NULL;
}

struct snapshot *snapshot_build(const struct snap_backend *live, uint32_t n)
{
	return snapshot_build_ext(live, n, 0);
}

uint32_t snapshot_live(const struct snapshot *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; s && i < s->n_pools; i++)
		n += s->pool[i]->n;
	return n;
}

/* Accepts NULL, like free(). */
void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	snap_free_pools(s->pool, s->n_pools);
	free(snap_block_of(s));
}

static void snap_retire(struct snapshot *s, uint64_t stamp)
{
	struct snap_block *b = snap_block_of(s);

	b->next = NULL;
	b->stamp = stamp;
	if (retired_tail)
		retired_tail->next = b;
	else
		retired_head = b;
	retired_tail = b;
	retired_count++;
}

/* The version is written before the pointer store (a release, seq_cst for the online
 * pairing), so a reader sees it with the rest. The counter is advanced after the store:
 * a reader that sees the new count therefore sees the new pointer (top of the file).
 * Publishing the current snapshot again would retire it while it stays current, so that
 * bug stops the process here rather than as a use-after-free in a worker. */
void snapshot_publish(struct snapshot *s)
{
	struct snapshot *old = atomic_load_explicit(&snap_shared.current, memory_order_relaxed);
	uint64_t stamp;

	if (!s || s == old) {
		fprintf(stderr, "snapshot_publish: %s snapshot\n", s ? "republished the current" : "NULL");
		abort();
	}
	s->version = ++snap_version;
	atomic_store_explicit(&snap_shared.current, s, memory_order_seq_cst);
	stamp = atomic_fetch_add_explicit(&snap_shared.gp, 1, memory_order_seq_cst) + 1;
	if (old)
		snap_retire(old, stamp);
}

/* seq_cst is acquire plus the online pairing described at the top of the file. */
const struct snapshot *snapshot_current(void)
{
	return atomic_load_explicit(&snap_shared.current, memory_order_seq_cst);
}

/* Slots are never given back: workers live as long as the process (and the tests reset
 * them through snapshot_teardown). The count is raised (seq_cst) before the slot goes
 * online, so the reclaimer's scan covers the slot whenever it could miss the reader. */
int snapshot_reader_register(void)
{
	unsigned n = atomic_load_explicit(&snap_shared.nreaders, memory_order_relaxed);

	do {
		if (n >= SNAP_MAX_READERS)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak_explicit(&snap_shared.nreaders, &n, n + 1, memory_order_seq_cst,
							memory_order_relaxed));
	snapshot_online((int)n);
	return (int)n;
}

/* Release: the reader's reads of its last snapshot come before the reclaimer sees 0. */
void snapshot_offline(int idx)
{
	assert(idx >= 0 && idx < SNAP_MAX_READERS);
	atomic_store_explicit(&snap_readers[idx].seen, 0, memory_order_release);
}

/* The seq_cst store pairs with the seq_cst loads in snap_oldest_reader (see the top of
 * the file). */
void snapshot_online(int idx)
{
	uint64_t gp = atomic_load_explicit(&snap_shared.gp, memory_order_acquire);

	assert(idx >= 0 && idx < SNAP_MAX_READERS);
	atomic_store_explicit(&snap_readers[idx].seen, gp, memory_order_seq_cst);
}

/* The lowest counter shown by an online reader, or UINT64_MAX when none is online. */
static uint64_t snap_oldest_reader(void)
{
	uint64_t oldest = UINT64_MAX;
	unsigned n;

	n = atomic_load_explicit(&snap_shared.nreaders, memory_order_seq_cst);
	for (unsigned i = 0; i < n; i++) {
		uint64_t seen = atomic_load_explicit(&snap_readers[i].seen, memory_order_seq_cst);

		if (seen && seen < oldest)
			oldest = seen;
	}
	return oldest;
}

uint64_t snapshot_mark(void)
{
	return atomic_load_explicit(&snap_shared.gp, memory_order_relaxed);
}

bool snapshot_passed(uint64_t mark)
{
	return snap_oldest_reader() >= mark;
}

unsigned snapshot_reclaim(void)
{
	uint64_t oldest;

	if (!retired_head)
		return 0;
	oldest = snap_oldest_reader();
	while (retired_head && retired_head->stamp <= oldest) {
		struct snap_block *b = retired_head;

		retired_head = b->next;
		retired_count--;
		snapshot_free(snap_of_block(b));
	}
	if (!retired_head)
		retired_tail = NULL;
	return retired_count;
}

/* Also forgets the registered readers, so a new set of workers can register again.
 * snap_gp and the version keep rising: nothing ever compares them across a teardown. */
void snapshot_teardown(void)
{
	struct snapshot *cur = atomic_exchange_explicit(&snap_shared.current, NULL, memory_order_acq_rel);

	while (retired_head) {
		struct snap_block *b = retired_head;

		retired_head = b->next;
		snapshot_free(snap_of_block(b));
	}
	retired_tail = NULL;
	retired_count = 0;
	snapshot_free(cur);
	for (unsigned i = 0; i < SNAP_MAX_READERS; i++)
		atomic_store_explicit(&snap_readers[i].seen, 0, memory_order_relaxed);
	atomic_store_explicit(&snap_shared.nreaders, 0, memory_order_release);
}
