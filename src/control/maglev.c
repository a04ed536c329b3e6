/* maglev: the lookup table of Maglev consistent hashing, written from the paper's description
 * (section 3.4): every backend has a preference list, a permutation of the table's slots
 * given by an offset and a skip (prime table size, so every skip visits every slot); backends
 * take turns claiming their next preferred free slot until the table is full. Removing a
 * backend leaves most slots of the others where they were, which is what keeps clients on
 * their backend. Weights: a backend of weight w gets w turns for the heaviest's one, by credit
 * (smooth, so no backend claims a run of slots ahead of the others). */
#include "maglev.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAGLEV_EMPTY UINT16_MAX /* no backend yet; indexes stay below snap_id_limit() */

static const uint32_t maglev_primes[] = { 251,     509,     1021,    2039,    4093,    8191,
					   16381,   32749,   65521,   131071,  262139,  524287,
					   1048573, 2097143, 4194301, MAGLEV_SIZE_MAX };

#define N_PRIMES (sizeof(maglev_primes) / sizeof(maglev_primes[0]))

struct maglev_turn {
	uint32_t be;     /* index into s->be[] */
	uint32_t pos;    /* next slot of its preference list */
	uint32_t skip;   /* 1..M-1 */
	uint32_t weight; /* configured, 1..256 */
	uint64_t credit; /* turns earned, in units of the heaviest weight */
};

uint32_t maglev_table_size(uint32_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < N_PRIMES; i++)
		if (maglev_primes[i] >= 100ull * n)
			return maglev_primes[i];
	return MAGLEV_SIZE_MAX;
}

static bool maglev_size_ok(uint32_t m)
{
	for (size_t i = 0; i < N_PRIMES; i++)
		if (maglev_primes[i] == m)
			return true;
	return false;
}

/* Family, then address bytes, then port: the order every instance agrees on. */
static int maglev_addr_cmp(const struct slb_addr *a, const struct slb_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return a->ss.ss_family < b->ss.ss_family ? -1 : 1;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;
		int c = memcmp(&x->sin_addr, &y->sin_addr, sizeof(x->sin_addr));

		return c ? c : (int)ntohs(x->sin_port) - (int)ntohs(y->sin_port);
	} else {
		const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;
		int c = memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));

		return c ? c : (int)ntohs(x->sin6_port) - (int)ntohs(y->sin6_port);
	}
}

static int maglev_turn_cmp(const void *a, const void *b, void *snap)
{
	const struct maglev_turn *x = a, *y = b;
	const struct snap_pool *s = snap;

	return maglev_addr_cmp(&s->be[x->be].addr, &s->be[y->be].addr);
}

/* Offset and skip from one 64-bit SipHash of the address text: low and high halves. */
static void maglev_turn_init(struct maglev_turn *t, const struct snap_backend *b, uint32_t m,
			     const unsigned char *key)
{
	unsigned char out[crypto_shorthash_BYTES];
	char text[ADDR_TEXT_MAX];
	uint64_t h;

	addr_format(&b->addr, text, sizeof(text));
	crypto_shorthash(out, (const unsigned char *)text, strlen(text), key);
	memcpy(&h, out, sizeof(h));
	t->pos = (uint32_t)((h & 0xffffffffu) % m);
	t->skip = (uint32_t)((h >> 32) % (m - 1)) + 1;
	t->weight = b->weight ? b->weight : 1;
}

/* t claims its next preferred slot that is still free. The walk ends: the preference list
 * visits every slot and the caller stops before the table is full. */
static void maglev_claim(struct snap_pool *s, struct maglev_turn *t)
{
	while (s->maglev[t->pos] != MAGLEV_EMPTY)
		t->pos = (t->pos + t->skip) % s->maglev_len;
	s->maglev[t->pos] = (uint16_t)t->be;
	t->pos = (t->pos + t->skip) % s->maglev_len;
}

/* Rounds over the backends in address order: each earns its weight, and claims one slot per
 * max_weight of credit. Credit starts at max_weight - weight, so round one gives every
 * backend exactly one slot, however light. */
static void maglev_populate(struct snap_pool *s, struct maglev_turn *turns, uint32_t max_weight)
{
	uint32_t filled = 0;

	for (uint32_t j = 0; j < s->n; j++)
		turns[j].credit = max_weight - turns[j].weight;
	while (filled < s->maglev_len) {
		for (uint32_t j = 0; j < s->n && filled < s->maglev_len; j++) {
			struct maglev_turn *t = &turns[j];

			for (t->credit += t->weight; t->credit >= max_weight && filled < s->maglev_len; filled++) {
				maglev_claim(s, t);
				t->credit -= max_weight;
			}
		}
	}
}

_Static_assert(sizeof(((struct snap_pool *)0)->maglev_key) == CONFIG_HASH_KEY_BYTES, "maglev_key holds a key");

int maglev_fill(struct snap_pool *s, const unsigned char key[CONFIG_HASH_KEY_BYTES])
{
	struct maglev_turn *turns;
	uint32_t max_weight = 1;

	memcpy(s->maglev_key, key, CONFIG_HASH_KEY_BYTES);
	if (s->n == 0)
		return 0;
	if (!maglev_size_ok(s->maglev_len))
		return -EINVAL;
	turns = calloc(s->n, sizeof(*turns));
	if (!turns)
		return -ENOMEM;
	for (uint32_t j = 0; j < s->n; j++) {
		turns[j].be = j;
		maglev_turn_init(&turns[j], &s->be[j], s->maglev_len, key);
		if (turns[j].weight > max_weight)
			max_weight = turns[j].weight;
	}
	qsort_r(turns, s->n, sizeof(*turns), maglev_turn_cmp, s);
	memset(s->maglev, 0xff, (size_t)s->maglev_len * sizeof(s->maglev[0]));
	maglev_populate(s, turns, max_weight);
	free(turns);
	return 0;
}

/* The inputs maglev_fill reads: size, key, and per backend in be[] order its address and
 * weight. */
static bool maglev_same_inputs(const struct snap_pool *s, const struct snap_pool *prev,
			       const unsigned char key[CONFIG_HASH_KEY_BYTES])
{
	if (!prev || prev->n != s->n || prev->maglev_len != s->maglev_len ||
	    memcmp(prev->maglev_key, key, CONFIG_HASH_KEY_BYTES) != 0)
		return false;
	for (uint32_t j = 0; j < s->n; j++)
		if (prev->be[j].weight != s->be[j].weight || maglev_addr_cmp(&prev->be[j].addr, &s->be[j].addr) != 0)
			return false;
	return true;
}

int maglev_fill_reusing(struct snap_pool *s, const struct snap_pool *prev,
			const unsigned char key[CONFIG_HASH_KEY_BYTES])
{
	if (s->n == 0 || !maglev_same_inputs(s, prev, key))
		return maglev_fill(s, key);
	memcpy(s->maglev, prev->maglev, (size_t)s->maglev_len * sizeof(s->maglev[0]));
	memcpy(s->maglev_key, key, CONFIG_HASH_KEY_BYTES);
	return 1;
}
