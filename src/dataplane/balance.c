/* balance: the table of pickers and the exclude list that makes retries go elsewhere. */
#include "slb/dataplane/balance.h"

#include <stddef.h>

const struct balance_ops *balance_ops_for(enum balance_algo algo)
{
	switch (algo) {
	case BALANCE_LEASTCONN:
		return &balance_leastconn;
	case BALANCE_ROUNDROBIN:
		break;
	}
	return &balance_roundrobin;
}

bool balance_excluded(const struct balance_exclude *ex, uint32_t id)
{
	for (unsigned i = 0; i < ex->n; i++)
		if (ex->ids[i] == id)
			return true;
	return false;
}

void balance_exclude_add(struct balance_exclude *ex, uint32_t id)
{
	if (ex->n < BALANCE_MAX_EXCLUDE && !balance_excluded(ex, id))
		ex->ids[ex->n++] = id;
}
