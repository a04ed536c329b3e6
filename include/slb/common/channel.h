/* channel: the one thing the two planes share at run time besides the snapshot. Each worker
 * owns one channel: its counters (written by the worker, read by the admin endpoint) and its
 * failure ring (produced by the worker, consumed by the health thread). main allocates them
 * through workers_prepare and hands them to health_prepare; neither plane calls the other. */
#ifndef SLB_CHANNEL_H
#define SLB_CHANNEL_H

#include "slb/common/failq.h"
#include "slb/common/stats.h"

/* Allocated before any thread starts and freed after both planes stopped. */
struct worker_channel {
	struct worker_stats stats; /* single writer: its worker */
	struct failq failq;        /* SPSC: its worker -> the health thread */
};

#endif
