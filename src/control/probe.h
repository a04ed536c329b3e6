/* probe: active checks on the health thread's loop: a non-blocking TCP connect, or an HTTP/1.0
 * GET that must answer with a 2xx status line. Results feed the backend table's rise/fall. */
#ifndef SLB_PROBE_H
#define SLB_PROBE_H

#include "health_loop.h"

/* Sets ctx->probes. Returns 0 or -ENOMEM. */
int probe_init(struct health_ctx *ctx);

/* Called every tick: fails probes past cfg->check_timeout_ms, and starts a probe for each
 * backend that table_wants_probe() and whose check_interval_ms has passed since its last one.
 * Static backends get cfg->check (tcp when --check none: the way back after an ejection);
 * heartbeat backends, probed only while ejected, always get tcp since the HTTP path is a
 * property of the static fleet. */
void probe_tick(struct health_ctx *ctx);

/* Abandons every running probe (no table events) and frees the set. */
void probe_fini(struct health_ctx *ctx);

#endif
