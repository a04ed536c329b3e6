/* balance_maglev: Maglev consistent hashing (Eisenbud et al., NSDI 2016). Health fills the
 * lookup table in the snapshot (src/control/maglev.c); a pick is one modulo and one load. The
 * key is the SipHash of the client's address (balance_hash_client), so a client lands on the
 * same backend on every slb instance with the same backends and --hash-seed, and keeps it
 * while the set of backends changes by others than its own. */
#include "slb/dataplane/balance.h"

/* True when ex holds every backend of s: walking the table would find nothing. */
static bool maglev_all_excluded(const struct snap_pool *s, const struct balance_exclude *ex)
{
	if (ex->n < s->n)
		return false;
	for (uint32_t i = 0; i < s->n; i++)
		if (!balance_excluded(ex, s->be[i].id))
			return false;
	return true;
}

/* A retry walks on from the key's entry to the next backend not tried yet: deterministic, so
 * every instance sends a client whose backend failed to the same second choice. */
static int maglev_pick(const struct snap_pool *s, struct balance_state *st, const struct balance_exclude *ex,
		       uint64_t key)
{
	uint32_t pos;

	if (s->n == 0 || s->maglev_len == 0)
		return -1;
	pos = (uint32_t)(key % s->maglev_len);
	if (!ex || ex->n == 0)
		return s->maglev[pos];
	if (maglev_all_excluded(s, ex))
		return -1;
	/* Every live backend has entries (maglev.c), so this ends well before a full turn. */
	for (uint32_t k = 0; k < s->maglev_len; k++) {
		uint16_t i = s->maglev[pos];

		if (!balance_excluded(ex, s->be[i].id))
			return i;
		pos = pos + 1 < s->maglev_len ? pos + 1 : 0;
	}
	return -1;
}

const struct balance_ops balance_maglev = {
	.name = "maglev",
	.pick = maglev_pick,
	.needs_client_addr = true,
};
