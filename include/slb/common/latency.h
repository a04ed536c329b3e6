/* latency: the exponentially weighted moving averages of connect time and time to first byte
 * that each worker keeps per backend (in its struct backend_stats), and that the health thread
 * combines over workers. Single writer (the worker), relaxed atomics, no shared line: the
 * worker already writes this backend's byte counters on the same event. */
#ifndef SLB_LATENCY_H
#define SLB_LATENCY_H

#include <stdatomic.h>
#include <stdint.h>

/* 1/8: the last 8 samples carry ~2/3 of the weight, so a backend that turns slow shows it
 * within a handful of requests, and one slow answer among fast ones moves the average by an
 * eighth of the difference. A shift, not a division, on the hot path. */
#define LAT_EWMA_SHIFT 3

/* An average whose last sample is older than this describes another moment: the next sample
 * starts it afresh, and health leaves it out meanwhile. This is also what lets an ejected
 * backend come back with a clean slate (--outlier-base-ejection is at least this long). */
#define LAT_STALE_MS 1000

struct lat_ewma {
	_Atomic uint64_t avg_us;  /* the average, in microseconds */
	_Atomic uint64_t n;       /* samples since the average (re)started */
	_Atomic int64_t last_ms;  /* worker clock of the last sample; 0: never */
};

/* The next average after sample_us, given the current one and how many samples it holds
 * (0: none, the sample becomes the average). Pure, for the unit tests. */
static inline uint64_t lat_ewma_next(uint64_t avg_us, uint64_t n, uint64_t sample_us)
{
	int64_t diff = (int64_t)sample_us - (int64_t)avg_us;

	if (n == 0)
		return sample_us;
	return (uint64_t)((int64_t)avg_us + diff / (1 << LAT_EWMA_SHIFT));
}

/* Worker side: adds a sample of sample_ms taken at now_ms (the worker's coarse clock). Only
 * the owning worker calls it; relaxed loads and stores, as every per-worker counter. */
static inline void lat_ewma_add(struct lat_ewma *e, int64_t sample_ms, int64_t now_ms)
{
	uint64_t n = atomic_load_explicit(&e->n, memory_order_relaxed);
	uint64_t avg = atomic_load_explicit(&e->avg_us, memory_order_relaxed);

	if (now_ms - atomic_load_explicit(&e->last_ms, memory_order_relaxed) > LAT_STALE_MS)
		n = 0;
	avg = lat_ewma_next(avg, n, sample_ms > 0 ? (uint64_t)sample_ms * 1000 : 0);
	atomic_store_explicit(&e->avg_us, avg, memory_order_relaxed);
	atomic_store_explicit(&e->n, n + 1, memory_order_relaxed);
	atomic_store_explicit(&e->last_ms, now_ms, memory_order_relaxed);
}

#endif
