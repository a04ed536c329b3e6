/* clock: the one millisecond clock of the process. Every deadline, lease and timeout is an
 * int64_t of CLOCK_MONOTONIC milliseconds, so values from different modules compare. */
#ifndef SLB_CLOCK_H
#define SLB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC in milliseconds: for the control plane, the tools and the tests. */
static inline int64_t clock_now_ms(void)
{
	return clock_ms_of(CLOCK_MONOTONIC);
}

/* CLOCK_MONOTONIC_COARSE in milliseconds: the same clock at tick resolution (1-4 ms), read
 * from the vDSO without touching the clock source, for once-per-loop-turn reads on the hot
 * path and log rate limits. */
static inline int64_t clock_coarse_ms(void)
{
	return clock_ms_of(CLOCK_MONOTONIC_COARSE);
}

#endif
