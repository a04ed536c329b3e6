/* gray: gray failures, the backends that still answer, slowly. The arithmetic is pure (unit
 * tested): combining the workers' latency averages, the median, the outlier verdicts with the
 * cap on ejections, and the ejection time that doubles for repeat offenders. health_gray.c
 * feeds it from the workers' counters and applies its verdicts to the backend table; the
 * reasoning is in docs/gray-failures.md. */
#ifndef SLB_GRAY_H
#define SLB_GRAY_H

#include <stdbool.h>
#include <stdint.h>

#include "slb/common/channel.h"
#include "slb/common/latency.h"
#include "slb/common/snapshot.h"
#include "slb/control/phi.h"

/* Latencies below this count as this: the workers' clock ticks at 1-4 ms, so a median of
 * "0 ms" would make any 1 ms answer an outlier. With factor 3 nothing under 15 ms is one. */
#define GRAY_FLOOR_US 5000
/* A worker's average weighs in with the samples it holds, up to what an EWMA remembers. */
#define GRAY_WEIGHT_MAX 16
#define GRAY_EJECT_MAX_MS 300000       /* doubling stops here (or at the base, if longer) */
#define GRAY_REPEAT_WINDOW_MS 3600000  /* an ejection within this of the last one doubles it */
#define GRAY_LAT_PCT_MAX 1000          /* p2c's latency factor: at most 10x the cost */
#define GRAY_LAT_PCT_STEP 25           /* quantum, so a jittery figure does not republish */
#define GRAY_REASON_MAX 80

/* One latency figure over all workers. */
struct gray_figure {
	uint64_t avg_us;  /* weighted mean of the workers' fresh averages */
	uint64_t n;       /* samples behind them */
};

/* Accumulates workers' averages into one figure (gray_figure_add, then gray_figure_done). */
struct gray_sum {
	uint64_t weighted_us;
	uint64_t weight;
	uint64_t n;
};

/* Adds one worker's average unless it is stale (last sample more than LAT_STALE_MS before
 * now_ms) or empty. Pure but for the relaxed loads of e. */
void gray_sum_add(struct gray_sum *s, const struct lat_ewma *e, int64_t now_ms);

/* The figure the sum makes: {0, 0} when no worker had a fresh average. */
struct gray_figure gray_sum_figure(const struct gray_sum *s);

/* Backend id's figure (ttfb, else connect time) over the n workers' channels at now_ms. */
struct gray_figure gray_backend_figure(struct worker_channel *const *ch, unsigned n, uint32_t id, bool ttfb,
				       int64_t now_ms);

/* The lower median of v[0..n) (the middle value, or the lower of the two middle ones), which
 * sorts v in place. n > 0. */
uint64_t gray_lower_median(uint64_t *v, unsigned n);

/* What health knows of one backend for a verdict. The caller fills the inputs; gray_judge
 * fills the outputs. */
struct gray_candidate {
	uint32_t id;
	bool live;                   /* in rotation: judged, and part of the medians */
	bool ejected;                /* out as an outlier now: counts against the cap */
	struct gray_figure ttfb;
	struct gray_figure connect;
	/* outputs */
	bool outlier;                /* to be ejected now */
	bool capped;                 /* an outlier by its figures, kept in by --outlier-max-ejected-percent */
	unsigned lat_pct;            /* p2c's latency factor: 100 = at the median or faster */
	unsigned excess_pct;         /* its figure over the reference, in percent (for ordering) */
	char reason[GRAY_REASON_MAX]; /* "outlier, ttfb 310 ms vs median 2 ms" when outlier or capped */
};

struct gray_params {
	bool detect;                 /* --outlier-detection: without it only lat_pct is computed */
	unsigned factor_pct;         /* --outlier-factor x 100 */
	unsigned min_requests;       /* --outlier-min-requests */
	unsigned max_ejected_pct;    /* --outlier-max-ejected-percent */
};

/* Judges c[0..n) (at most SNAP_ID_MAX entries). A live backend with at least
 * min_requests samples of a figure is an outlier when that figure is above factor x the lower
 * median of the same figure over the other live backends with enough samples (at least one
 * other), floored at GRAY_FLOOR_US. Outliers are ejected worst first while the ejected ones
 * stay within max_ejected_pct of the fleet (the live and the ejected); the others are marked
 * capped. lat_pct is each live backend's worse figure over the median of all, in percent,
 * from 100 to GRAY_LAT_PCT_MAX in GRAY_LAT_PCT_STEP steps. Returns how many to eject. */
unsigned gray_judge(struct gray_candidate *c, unsigned n, const struct gray_params *p);

/* What health keeps per backend id for gray failures: p2c's latency factor as published, and
 * the heartbeat rhythm for phi in /status. Owned by the health thread. */
struct gray_entry {
	unsigned lat_pct;            /* in the current snapshot; 0 before the first verdict (= 100) */
	bool hb_ready;               /* a session with enough intervals: phi can be computed */
	double hb_mean_ms, hb_sd_ms; /* phi_stats of the session's window */
	int64_t hb_last_ms;          /* its last heartbeat */
};

struct gray_board {
	int64_t next_eval_ms;        /* when health judges again */
	/* By backend id, up to the highest any instance may have: health callocs the board, so it
	 * comes from mmap and only the pages of ids below snap_id_limit() are ever touched. */
	struct gray_entry be[SNAP_ID_MAX + 1];
	struct gray_candidate cand[SNAP_ID_MAX + 1]; /* scratch for gray_judge */
};

/* Records the heartbeat rhythm of backend id's session from its window w (after each
 * heartbeat): phi can be computed once w holds PHI_MIN_INTERVALS intervals. id 0 or out of
 * range is ignored. */
void gray_note_rhythm(struct gray_board *g, uint32_t id, const struct phi_window *w);

/* Backend id's session ended: it has no rhythm, so no phi, until a new session builds one.
 * id 0 or out of range is ignored. */
void gray_forget_rhythm(struct gray_board *g, uint32_t id);

/* phi of backend id at now_ms, or a negative value when it has none (no session, too few
 * heartbeats yet). */
double gray_phi(const struct gray_board *g, uint32_t id, int64_t now_ms);

/* How long the count-th ejection in a row lasts: base_ms doubled count - 1 times, at most
 * GRAY_EJECT_MAX_MS (or base_ms when that is longer). count >= 1. */
int64_t gray_ejection_ms(unsigned base_ms, unsigned count);

#endif
