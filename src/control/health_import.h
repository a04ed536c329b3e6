/* health_import: the new slb's side of a binary upgrade (the running slb's side, health_export
 * and health_hand_over, is declared in slb/control/health_handover.h); what health.c calls
 * while it prepares. */
#ifndef SLB_HEALTH_IMPORT_H
#define SLB_HEALTH_IMPORT_H

#include "health_loop.h"
#include "slb/control/health.h"

/* Takes what the slb that ran before handed over (in, may be NULL) into ctx's table, on the
 * thread that prepares health (before it runs): every lease (a heartbeat backend in rotation),
 * then every backend's runtime state (what the operator set through the API, and outlier
 * ejections with the time they have left), replayed through the table's events. A lease that
 * does not parse, names a static backend or finds the table full is logged and skipped (all
 * of them when cfg has no heartbeat port); so is a state that does not parse or names a
 * backend this process does not have. */
void health_import_handover(struct health_ctx *ctx, const struct health_handover *in);

#endif
