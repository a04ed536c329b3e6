/* phi: the phi-accrual failure detector (Hayashibara et al., 2004) over one heartbeat
 * session's recent inter-arrival times. phi = -log10 of the probability that a heartbeat
 * would still arrive this late, under a normal distribution fitted to the window: it rises
 * slowly for a sender whose intervals vary and steeply for one that was clockwork. Pure:
 * callers pass the times. */
#ifndef SLB_PHI_H
#define SLB_PHI_H

#include <stdbool.h>
#include <stdint.h>

#define PHI_WINDOW 64         /* intervals kept: about a minute of history at 1 s */
#define PHI_MIN_INTERVALS 8   /* fewer than this: no phi yet (the hard timeout still holds) */
#define PHI_SD_MIN_DIV 4      /* the deviation used is at least a quarter of the mean... */
#define PHI_SD_MIN_MS 10.0    /* ...and at least the health tick, see docs/gray-failures.md */
#define PHI_MAX 99.0          /* beyond this the tail underflows; "certain" */

struct phi_window {
	int64_t last_ms;          /* the last arrival; -1 before the first */
	uint32_t iv[PHI_WINDOW];  /* ring of intervals in ms */
	unsigned n;               /* intervals held, <= PHI_WINDOW */
	unsigned head;            /* where the next one goes */
	uint64_t sum, sumsq;      /* of the held intervals, kept as they come and go */
};

/* Starts a window with a first arrival at now_ms (a REGISTER: a new process). */
void phi_reset(struct phi_window *w, int64_t now_ms);

/* Records an arrival at now_ms. A gap above max_gap_ms (the hard timeout) restarts the
 * window instead: a backend that was out for silence says nothing about its rhythm by it. */
void phi_arrive(struct phi_window *w, int64_t now_ms, int64_t max_gap_ms);

/* The mean and the deviation used (floored: PHI_SD_MIN_DIV, PHI_SD_MIN_MS) of the window, in
 * ms. Returns false, leaving them untouched, while it holds fewer than PHI_MIN_INTERVALS. */
bool phi_stats(const struct phi_window *w, double *mean_ms, double *sd_ms);

/* phi after elapsed_ms of silence for a sender with these statistics: -log10(P(X > elapsed))
 * for X normal(mean, sd): 0.3 at the mean, 8 about 5.6 deviations past it, at most PHI_MAX. */
double phi_value(double mean_ms, double sd_ms, double elapsed_ms);

#endif
