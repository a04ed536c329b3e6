/* backend_table_restore: what a binary upgrade restores in the new process's table that no
 * event of the state machine sets by itself (the runtime state is otherwise restored through
 * the operator's own events, see health_handover.c). */
#ifndef SLB_BACKEND_TABLE_RESTORE_H
#define SLB_BACKEND_TABLE_RESTORE_H

#include <stdint.h>

#include "slb/control/backend_table.h"

/* An outlier ejection handed over by the slb that ran before: b is ejected (BE_EV_OUTLIER with
 * detail) until now_ms + remaining_ms, as its ejections in a row count count, so that its next
 * ejection doubles as it would have there. Returns 1 when b->state changed, 0 otherwise, or
 * -EINVAL (nothing changed) for remaining_ms <= 0 or count 0. */
int table_restore_ejection(struct backend_table *t, struct backend *b, int64_t remaining_ms, unsigned count,
			   const char *detail, int64_t now_ms);

#endif
