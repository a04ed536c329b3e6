/* phi: the phi-accrual arithmetic (see slb/control/phi.h). The window keeps running sums so
 * that a tick over thousands of sessions costs no loop over their histories. */
#include "slb/control/phi.h"

#include <math.h>
#include <string.h>

void phi_reset(struct phi_window *w, int64_t now_ms)
{
	memset(w, 0, sizeof(*w));
	w->last_ms = now_ms;
}

void phi_arrive(struct phi_window *w, int64_t now_ms, int64_t max_gap_ms)
{
	int64_t gap = now_ms - w->last_ms;
	uint32_t *slot = &w->iv[w->head];

	if (w->last_ms < 0 || gap > max_gap_ms || gap < 0) {
		phi_reset(w, now_ms);
		return;
	}
	if (w->n == PHI_WINDOW) {
		w->sum -= *slot;
		w->sumsq -= (uint64_t)*slot * *slot;
	} else {
		w->n++;
	}
	*slot = (uint32_t)gap;
	w->sum += (uint64_t)gap;
	w->sumsq += (uint64_t)gap * (uint64_t)gap;
	w->head = (w->head + 1) % PHI_WINDOW;
	w->last_ms = now_ms;
}

/* A sender's own timer and the scheduler add a few ms that a clockwork window would not
 * show; without a floor a 10 ms hiccup of a 100 ms sender would read as death. */
bool phi_stats(const struct phi_window *w, double *mean_ms, double *sd_ms)
{
	double mean, var, floor;

	if (w->n < PHI_MIN_INTERVALS)
		return false;
	mean = (double)w->sum / w->n;
	var = (double)w->sumsq / w->n - mean * mean;
	floor = mean / PHI_SD_MIN_DIV > PHI_SD_MIN_MS ? mean / PHI_SD_MIN_DIV : PHI_SD_MIN_MS;
	*mean_ms = mean;
	*sd_ms = var > floor * floor ? sqrt(var) : floor;
	return true;
}

double phi_value(double mean_ms, double sd_ms, double elapsed_ms)
{
	double p = 0.5 * erfc((elapsed_ms - mean_ms) / (sd_ms * M_SQRT2));
	double phi;

	if (p <= 0.0)
		return PHI_MAX;
	phi = -log10(p);
	return phi < 0.0 ? 0.0 : phi > PHI_MAX ? PHI_MAX : phi;
}
