/* health_handover: the control plane's side of a binary upgrade (health_export and
 * health_hand_over are in slb/control/health.h); what health.c calls while it prepares. */
#ifndef SLB_HEALTH_HANDOVER_H
#define SLB_HEALTH_HANDOVER_H

#include "health_loop.h"
#include "slb/control/health.h"

/* Takes every lease of in (may be NULL) into ctx's table, on the thread that prepares health
 * (before it runs). A lease that does not parse, names a static backend or finds the table
 * full is logged and skipped; so are all of them when cfg has no heartbeat port. */
void health_import_leases(struct health_ctx *ctx, const struct health_handover *in);

#endif
