/* client_limits: the shared table of per-client counts and the worker's admission check
 * (client_limits.h says what the table promises and what happens when it is full). */
#include "client_limits.h"

#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "slb/common/log.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* One client of one service. key 0 is "never used"; an entry changes owner only by a CAS of
 * key while idle (conns 0, bucket full). A worker that read the old key just before such an
 * eviction may still count its connection here: that count belongs to the new owner until it
 * closes (a race of nanoseconds, and never a leak: every add has its release by index). */
struct client_entry {
	_Atomic uint64_t key;     /* keyed hash of (service, masked address); 0: free */
	_Atomic uint64_t tat_ns;  /* token bucket as GCRA: when the bucket is full again */
	_Atomic uint32_t conns;   /* connections open, counted here */
	_Atomic uint32_t log_s;   /* the second of the last refusal logged (+1; 0: none) */
	uint64_t pad;             /* 32 bytes: two entries per cache line, none across two */
};

struct client_table {
	uint32_t mask;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	struct client_entry e[];
};

struct client_table *client_table_new(uint32_t size)
{
	struct client_table *t;

	if (size < CLIENT_PROBE || (size & (size - 1)))
		return NULL;
	if (sodium_init() < 0) /* idempotent; randombytes_buf wants it once */
		return NULL;
	t = calloc(1, sizeof(*t) + (size_t)size * sizeof(t->e[0]));
	if (!t)
		return NULL;
	t->mask = size - 1;
	randombytes_buf(t->hash_key, sizeof(t->hash_key));
	return t;
}

void client_table_free(struct client_table *t)
{
	free(t);
}

/* The client's key: service, family and the address cut to what counts as one client. */
static uint64_t client_key(const struct client_table *t, const struct service_config *s, unsigned svc,
			   const struct client_ip *ip)
{
	struct client_ip m = *ip;
	unsigned char in[19], out[crypto_shorthash_BYTES];
	uint64_t h;

	client_ip_mask(&m, m.family == AF_INET ? 32 : s->client_ipv6_prefix);
	in[0] = (unsigned char)svc; /* two bytes: up to 500 services */
	in[1] = (unsigned char)(svc >> 8);
	in[2] = (unsigned char)m.family;
	memcpy(in + 3, m.b, 16);
	crypto_shorthash(out, in, sizeof(in), t->hash_key);
	memcpy(&h, out, sizeof(h));
	return h ? h : 1;
}

static bool entry_idle(struct client_entry *e, uint64_t now_ns)
{
	return atomic_load_explicit(&e->conns, memory_order_relaxed) == 0 &&
	       atomic_load_explicit(&e->tat_ns, memory_order_relaxed) <= now_ns;
}

/* The entry of key, claimed (an empty one) or taken over (an idle one) if it has none; NULL
 * when every neighbour belongs to an active client. With claim false, only finds. */
static struct client_entry *entry_find(struct client_table *t, uint64_t key, uint64_t now_ns, bool claim)
{
	struct client_entry *idle = NULL;
	uint64_t idle_key = 0;

	for (uint32_t i = 0; i < CLIENT_PROBE; i++) {
		struct client_entry *e = &t->e[(key + i) & t->mask];
		uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);

		if (k == key)
			return e;
		if (k == 0 && claim &&
		    (atomic_compare_exchange_strong_explicit(&e->key, &k, key, memory_order_acq_rel,
							     memory_order_acquire) || k == key))
			return e; /* claimed, or another worker claimed it for the same client */
		if (!idle && k && entry_idle(e, now_ns)) {
			idle = e;
			idle_key = k;
		}
	}
	if (!idle || !claim)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&idle->key, &idle_key, key, memory_order_acq_rel,
						    memory_order_acquire))
		return idle;
	return NULL; /* lost the race for it: full here, for this once */
}

/* GCRA, the token bucket as one timestamp: tat is when the bucket would be full again; a
 * connection costs one interval and is refused when that would put tat more than the
 * bucket's depth (rate/10 tokens, at least 1) ahead of now. */
static bool bucket_take(struct client_entry *e, unsigned rate, uint64_t now_ns)
{
	uint64_t interval = NS_PER_S / rate, depth = interval * (rate / 10 ? rate / 10 : 1);
	uint64_t tat = atomic_load_explicit(&e->tat_ns, memory_order_relaxed), next;

	do {
		next = (tat > now_ns ? tat : now_ns) + interval;
		if (next - now_ns > depth)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&e->tat_ns, &tat, next, memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

/* Whether this refusal is the entry's first in second now_s (one CAS per second at most). */
static bool log_due(struct client_entry *e, int64_t now_ms)
{
	uint32_t s = (uint32_t)(now_ms / 1000) + 1, old = atomic_load_explicit(&e->log_s, memory_order_relaxed);

	return old != s &&
	       atomic_compare_exchange_strong_explicit(&e->log_s, &old, s, memory_order_relaxed, memory_order_relaxed);
}

/* The count and the rate of an entry; on CLIENT_OK with a count limit, one count is held. */
static enum client_verdict entry_admit(struct client_entry *e, const struct service_config *s, uint64_t now_ns)
{
	if (s->client_max_conns &&
	    atomic_fetch_add_explicit(&e->conns, 1, memory_order_relaxed) >= s->client_max_conns) {
		atomic_fetch_sub_explicit(&e->conns, 1, memory_order_relaxed);
		return CLIENT_OVER_CONNS;
	}
	if (s->client_max_rate && !bucket_take(e, s->client_max_rate, now_ns)) {
		if (s->client_max_conns)
			atomic_fetch_sub_explicit(&e->conns, 1, memory_order_relaxed);
		return CLIENT_OVER_RATE;
	}
	return CLIENT_OK;
}

enum client_verdict client_table_admit(struct client_table *t, const struct service_config *s, unsigned svc,
				       const struct client_ip *ip, int64_t now_ms, struct client_admission *out)
{
	uint64_t now_ns = (uint64_t)now_ms * NS_PER_MS;
	struct client_entry *e;
	enum client_verdict v;

	out->entry = 0;
	out->log = false;
	if (!client_acl_allows(s->client_allow, s->n_client_allow, s->client_deny, s->n_client_deny, ip))
		return CLIENT_DENIED;
	if (!s->client_max_conns && !s->client_max_rate)
		return CLIENT_OK;
	e = entry_find(t, client_key(t, s, svc, ip), now_ns, true);
	if (!e)
		return CLIENT_UNTRACKED;
	v = entry_admit(e, s, now_ns);
	if (v == CLIENT_OK && s->client_max_conns)
		out->entry = (uint32_t)(e - t->e) + 1;
	else if (v != CLIENT_OK)
		out->log = log_due(e, now_ms);
	return v;
}

void client_table_release(struct client_table *t, uint32_t entry)
{
	if (entry)
		atomic_fetch_sub_explicit(&t->e[entry - 1].conns, 1, memory_order_relaxed);
}

uint32_t client_table_conns(struct client_table *t, const struct service_config *s, unsigned svc,
			    const struct client_ip *ip)
{
	struct client_entry *e = entry_find(t, client_key(t, s, svc, ip), 0, false);

	return e ? atomic_load_explicit(&e->conns, memory_order_relaxed) : 0;
}

/* ---- the worker's side ---- */

static void refusal_log(const struct worker *w, const struct conn *c, const struct client_ip *ip,
			enum client_verdict v)
{
	const struct service_config *s = &w->cfg->services[c->svc];
	struct slb_cidr who = { .family = ip->family, .prefix = ip->family == AF_INET ? 32 : s->client_ipv6_prefix };
	struct client_ip m = *ip;
	char text[ADDR_TEXT_MAX];

	/* the network that counts as this client: 127.0.0.2/32, 2001:db8::/64 */
	client_ip_mask(&m, who.prefix);
	memcpy(who.net, m.b, sizeof(who.net));
	addr_format_cidr(&who, text, sizeof(text));
	if (v == CLIENT_OVER_CONNS)
		slb_log(LOG_WARN, 0, "service %s: client %s has %u connections open (--client-max-conns): resetting "
			"its new ones", s->name, text, s->client_max_conns);
	else
		slb_log(LOG_WARN, 0, "service %s: client %s opens more than %u connections a second "
			"(--client-max-rate): resetting its new ones", s->name, text, s->client_max_rate);
}

/* Counts a refusal of c by verdict v and resets c (end cause for the access log). */
static void refuse(struct worker *w, struct conn *c, const struct client_ip *ip, enum client_verdict v,
		   bool log)
{
	struct client_stats *cs = &w->ch->stats.clients[c->svc];

	if (v == CLIENT_DENIED) {
		stat_add(&cs->denied, 1);
		slb_log_limited(LOG_INFO, 0, "service %s: a client is not let in by --client-allow/--client-deny: "
				"resetting it", w->cfg->services[c->svc].name);
	} else {
		stat_add(v == CLIENT_OVER_CONNS ? &cs->over_conns : &cs->over_rate, 1);
		if (log)
			refusal_log(w, c, ip, v);
	}
	conn_set_end(c, v == CLIENT_DENIED ? END_CLIENT_DENIED : END_CLIENT_LIMIT);
	conn_finalize(w, c, true);
}

bool client_limits_admit_conn(struct worker *w, struct conn *c, const struct sockaddr *peer)
{
	const struct service_config *s = &w->cfg->services[c->svc];
	struct client_admission adm;
	enum client_verdict v;
	struct client_ip ip;

	if (!service_limits_clients(s) || !peer || client_ip_from_sockaddr(peer, &ip))
		return true; /* no rule for this service, or a client without an IP address */
	v = client_table_admit(w->clients, s, c->svc, &ip, w->now_ms, &adm);
	if (v == CLIENT_UNTRACKED) {
		stat_add(&w->ch->stats.clients[c->svc].untracked, 1);
		slb_log_limited(LOG_WARN, 0, "service %s: the client table is full around a new client: letting it "
				"in uncounted", s->name);
	}
	if (v <= CLIENT_UNTRACKED) {
		c->client_entry = adm.entry;
		return true;
	}
	/* the access log names a client refused at accept, before identity would have asked */
	if (w->ids && !conn_id(w, c)->client.len) {
		struct slb_addr *a = &conn_id(w, c)->client;

		a->len = peer->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memcpy(&a->ss, peer, a->len);
	}
	refuse(w, c, &ip, v, adm.log);
	return false;
}
