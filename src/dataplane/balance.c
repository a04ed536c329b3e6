/* balance: the table of pickers, the per-worker picker state, the client hash maglev picks
 * by, and the exclude list that makes retries go elsewhere. */
#include "slb/dataplane/balance.h"

#include <netinet/in.h>
#include <sodium.h>
#include <stddef.h>
#include <string.h>

/* Shared by every worker; touched only when the picker asks for it (p2c). Sized for the
 * highest id any instance may have: in .bss, so only the pages of the ids in use are ever
 * resident. */
static struct balance_global_count balance_global[SNAP_ID_MAX + 1];

const struct balance_ops *balance_ops_for(enum balance_algo algo)
{
	switch (algo) {
	case BALANCE_LEASTCONN:
		return &balance_leastconn;
	case BALANCE_P2C:
		return &balance_p2c;
	case BALANCE_MAGLEV:
		return &balance_maglev;
	case BALANCE_ROUNDROBIN:
		break;
	}
	return &balance_roundrobin;
}

/* splitmix64 of the index: well-spread, never 0 in practice; 0 is remapped anyway since
 * xorshift would stay at 0 for ever. */
static uint64_t balance_seed_rng(unsigned worker_idx)
{
	uint64_t z = (uint64_t)worker_idx + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

void balance_state_init(struct balance_state *st, const struct balance_ops *ops, const struct service_config *svc,
			unsigned worker_idx, const struct worker_stats *stats)
{
	memset(st, 0, sizeof(*st));
	st->cursor = worker_idx * 7919u; /* workers start at different places in the rr order */
	st->stats = stats;
	st->rng = balance_seed_rng(worker_idx);
	balance_state_reconfigure(st, ops, svc);
}

/* See balance.h. */
void balance_conn_close(uint32_t id, bool counted)
{
	if (counted)
		atomic_fetch_sub_explicit(&balance_global[id].active, 1, memory_order_relaxed);
}

/* See balance.h. */
void balance_state_reconfigure(struct balance_state *st, const struct balance_ops *ops,
			       const struct service_config *svc)
{
	st->global = ops->needs_global ? balance_global : NULL;
	config_hash_key(svc, st->hash_key);
	st->hash_port = svc->hash_key == HASH_KEY_SRC_PORT;
}

/* An IPv4 client seen through a dual-stack listener ([::]) arrives as ::ffff:a.b.c.d; it
 * hashes as plain IPv4 so that instances listening either way agree. */
static size_t balance_key_bytes(const struct sockaddr *sa, bool with_port, unsigned char *buf)
{
	const unsigned char *ip;
	size_t n;
	in_port_t port;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		ip = (const unsigned char *)&in->sin_addr;
		n = 4;
		port = in->sin_port;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		bool mapped = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);

		ip = in6->sin6_addr.s6_addr + (mapped ? 12 : 0);
		n = mapped ? 4 : 16;
		port = in6->sin6_port;
	} else {
		return 0;
	}
	memcpy(buf, ip, n);
	if (with_port) {
		memcpy(buf + n, &port, sizeof(port));
		n += sizeof(port);
	}
	return n;
}

uint64_t balance_hash_client(const struct balance_state *st, const struct sockaddr *sa)
{
	unsigned char in[18], out[crypto_shorthash_BYTES];
	uint64_t h;
	size_t n = balance_key_bytes(sa, st->hash_port, in);

	crypto_shorthash(out, in, n, st->hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
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
