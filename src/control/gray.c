/* gray: the outlier arithmetic, pure (see slb/control/gray.h). The reference a backend is
 * held against is the lower median of the *other* live backends: with two of three slow, each
 * slow one is compared with the fast one and both are outliers, and it is the cap on ejections
 * (--outlier-max-ejected-percent), not the arithmetic, that keeps a slow fleet from emptying.
 * Sorting once per figure makes every candidate's "median of the others" one index away. */
#include "slb/control/gray.h"

#include "slb/control/phi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gray_sum_add(struct gray_sum *s, const struct lat_ewma *e, int64_t now_ms)
{
	uint64_t n = atomic_load_explicit(&e->n, memory_order_relaxed);
	int64_t last = atomic_load_explicit(&e->last_ms, memory_order_relaxed);
	uint64_t w = n < GRAY_WEIGHT_MAX ? n : GRAY_WEIGHT_MAX;

	if (n == 0 || now_ms - last > LAT_STALE_MS)
		return;
	s->weighted_us += atomic_load_explicit(&e->avg_us, memory_order_relaxed) * w;
	s->weight += w;
	s->n += n;
}

struct gray_figure gray_sum_figure(const struct gray_sum *s)
{
	struct gray_figure f = { 0, 0 };

	if (s->weight) {
		f.avg_us = s->weighted_us / s->weight;
		f.n = s->n;
	}
	return f;
}

struct gray_figure gray_backend_figure(struct worker_channel *const *ch, unsigned n, uint32_t id, bool ttfb,
				       int64_t now_ms)
{
	struct gray_sum sum = { 0, 0, 0 };

	for (unsigned i = 0; i < n; i++) {
		const struct backend_stats *bs = &ch[i]->stats.be[id];

		gray_sum_add(&sum, ttfb ? &bs->ttfb : &bs->connect, now_ms);
	}
	return gray_sum_figure(&sum);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t gray_lower_median(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_u64);
	return v[(n - 1) / 2];
}

int64_t gray_ejection_ms(unsigned base_ms, unsigned count)
{
	int64_t cap = base_ms > GRAY_EJECT_MAX_MS ? base_ms : GRAY_EJECT_MAX_MS;
	int64_t ms = base_ms;

	for (unsigned i = 1; i < count && ms < cap; i++)
		ms *= 2;
	return ms < cap ? ms : cap;
}

/* One figure of every live backend with enough samples, sorted. */
struct gray_ranking {
	uint64_t v[SNAP_ID_MAX + 1];
	unsigned m;
};

static const struct gray_figure *gray_pick(const struct gray_candidate *c, bool ttfb)
{
	return ttfb ? &c->ttfb : &c->connect;
}

static bool gray_counts(const struct gray_candidate *c, bool ttfb, const struct gray_params *p)
{
	return c->live && gray_pick(c, ttfb)->n >= p->min_requests && gray_pick(c, ttfb)->n > 0;
}

static void gray_rank(struct gray_ranking *r, const struct gray_candidate *c, unsigned n, bool ttfb,
		      const struct gray_params *p)
{
	r->m = 0;
	for (unsigned i = 0; i < n; i++)
		if (gray_counts(&c[i], ttfb, p))
			r->v[r->m++] = gray_pick(&c[i], ttfb)->avg_us;
	if (r->m)
		gray_lower_median(r->v, r->m);
}

/* The lower median of the ranking without one occurrence of v (which is in it): the
 * (m - 2) / 2-th of the others, which sits one place further when v is at or before it. */
static uint64_t gray_median_of_others(const struct gray_ranking *r, uint64_t v)
{
	unsigned j = (r->m - 2) / 2;

	return r->v[j] < v ? r->v[j] : r->v[j + 1];
}

static uint64_t gray_floor(uint64_t us)
{
	return us > GRAY_FLOOR_US ? us : GRAY_FLOOR_US;
}

/* p2c's factor: the figure over the fleet's median, in percent, quantized and bounded. */
static void gray_lat_pct(struct gray_candidate *c, const struct gray_ranking *r, bool ttfb,
			 const struct gray_params *p)
{
	uint64_t pct;

	if (!gray_counts(c, ttfb, p))
		return;
	pct = gray_pick(c, ttfb)->avg_us * 100 / gray_floor(r->v[(r->m - 1) / 2]);
	pct = pct / GRAY_LAT_PCT_STEP * GRAY_LAT_PCT_STEP;
	if (pct > GRAY_LAT_PCT_MAX)
		pct = GRAY_LAT_PCT_MAX;
	if (pct > c->lat_pct)
		c->lat_pct = (unsigned)pct;
}

/* Marks c an outlier by this figure when it is above factor x the others' median. */
static void gray_judge_one(struct gray_candidate *c, const struct gray_ranking *r, bool ttfb,
			   const struct gray_params *p)
{
	uint64_t v, ref, excess;

	if (r->m < 2 || !gray_counts(c, ttfb, p))
		return;
	v = gray_pick(c, ttfb)->avg_us;
	ref = gray_median_of_others(r, v);
	if (v * 100 <= gray_floor(ref) * p->factor_pct)
		return;
	excess = v * 100 / gray_floor(ref);
	if (c->outlier && excess <= c->excess_pct)
		return;
	c->outlier = true;
	c->excess_pct = excess > UINT32_MAX ? UINT32_MAX : (unsigned)excess;
	snprintf(c->reason, sizeof(c->reason), "outlier, %s %llu ms vs median %llu ms", ttfb ? "ttfb" : "connect",
		 (unsigned long long)(v + 500) / 1000, (unsigned long long)(ref + 500) / 1000);
}

/* How many outliers rank above c (larger excess; ties go to the lower index). */
static unsigned gray_rank_of(const struct gray_candidate *c, unsigned n, unsigned i)
{
	unsigned above = 0;

	for (unsigned k = 0; k < n; k++)
		if (k != i && c[k].outlier &&
		    (c[k].excess_pct > c[i].excess_pct || (c[k].excess_pct == c[i].excess_pct && k < i)))
			above++;
	return above;
}

/* Worst first, while the ejected stay within max_ejected_pct of the fleet; the rest are capped. */
static unsigned gray_apply_cap(struct gray_candidate *c, unsigned n, const struct gray_params *p)
{
	unsigned fleet = 0, ejected = 0, room, taken = 0;

	for (unsigned i = 0; i < n; i++) {
		fleet += c[i].live || c[i].ejected;
		ejected += c[i].ejected;
	}
	room = (unsigned)((unsigned long)p->max_ejected_pct * fleet / 100);
	room = room > ejected ? room - ejected : 0;
	for (unsigned i = 0; i < n; i++) {
		if (!c[i].outlier)
			continue;
		c[i].capped = gray_rank_of(c, n, i) >= room;
		taken += !c[i].capped;
	}
	for (unsigned i = 0; i < n; i++)
		c[i].outlier = c[i].outlier && !c[i].capped;
	return taken;
}

unsigned gray_judge(struct gray_candidate *c, unsigned n, const struct gray_params *p)
{
	static struct gray_ranking r[2]; /* health thread only: 1 MiB off its stack, in .bss (only
					 * the pages of the live backends' figures are touched) */

	for (unsigned i = 0; i < n; i++) {
		c[i].outlier = c[i].capped = false;
		c[i].lat_pct = 100;
		c[i].excess_pct = 0;
		c[i].reason[0] = '\0';
	}
	for (unsigned k = 0; k < 2; k++) {
		gray_rank(&r[k], c, n, k == 0, p);
		for (unsigned i = 0; i < n && r[k].m; i++) {
			gray_lat_pct(&c[i], &r[k], k == 0, p);
			if (p->detect)
				gray_judge_one(&c[i], &r[k], k == 0, p);
		}
	}
	return gray_apply_cap(c, n, p);
}

void gray_note_rhythm(struct gray_board *g, uint32_t id, const struct phi_window *w)
{
	struct gray_entry *e;

	if (id == 0 || id >= snap_id_limit())
		return;
	e = &g->be[id];
	e->hb_ready = phi_stats(w, &e->hb_mean_ms, &e->hb_sd_ms);
	e->hb_last_ms = w->last_ms;
}

void gray_forget_rhythm(struct gray_board *g, uint32_t id)
{
	if (id != 0 && id < snap_id_limit())
		g->be[id].hb_ready = false;
}

double gray_phi(const struct gray_board *g, uint32_t id, int64_t now_ms)
{
	const struct gray_entry *e;

	if (!g || id == 0 || id >= snap_id_limit() || !g->be[id].hb_ready)
		return -1.0;
	e = &g->be[id];
	return phi_value(e->hb_mean_ms, e->hb_sd_ms, (double)(now_ms - e->hb_last_ms));
}
