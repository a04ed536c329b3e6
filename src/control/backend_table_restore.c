/* backend_table_restore: see backend_table_restore.h. */
#include "slb/control/backend_table_restore.h"

#include <errno.h>

/* BE_EV_OUTLIER sets the state (ejected: down) and the full ejection time for b's count; the
 * time left in the old process then replaces that end, which changes no state. */
int table_restore_ejection(struct backend_table *t, struct backend *b, int64_t remaining_ms, unsigned count,
			   const char *detail, int64_t now_ms)
{
	int changed;

	if (remaining_ms <= 0 || count == 0)
		return -EINVAL;
	changed = table_apply(t, b, BE_EV_OUTLIER, detail, now_ms);
	b->ejected_until_ms = now_ms + remaining_ms;
	b->outlier_count = count;
	return changed;
}
