/* Maglev as properties: 10,000 client keys over N backends; removing one backend moves at
 * most 1/N plus 2 points of the keys and adding it back restores every one; the keys spread
 * within 5% of the weights; two instances that learned the backends in another order (other
 * ids) agree key by key; retries walk to a deterministic second choice. The table is built as
 * health builds it (control/maglev.c) and read as a worker reads it (balance_maglev). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../../src/control/maglev.h"
#include "slb/dataplane/balance.h"

#define N_KEYS 10000
#define MAX_BE 40

static uint64_t keys[N_KEYS];

/* Keys of clients 172.16.x.y, hashed as a worker hashes them. */
static void make_keys(const struct balance_state *st)
{
	for (unsigned i = 0; i < N_KEYS; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(40000) };

		sin.sin_addr.s_addr = htonl(0xac100000u + i * 7 + 1);
		keys[i] = balance_hash_client(st, (const struct sockaddr *)&sin);
	}
}

static void state_for_seed(struct balance_state *st, unsigned seed)
{
	struct service_config cfg = { .hash_seed = seed };

	balance_state_init(st, &balance_maglev, &cfg, 0, NULL);
}

/* Backends 10.0.0.<h>:80 for h in hosts[0..n), ids from first_id on, weights optional; the
 * table sized for MAX_BE backends, as health sizes it for the most it may hold. */
static struct snap_pool *build(const unsigned *hosts, unsigned n, uint32_t first_id, const unsigned *weights,
			      unsigned seed)
{
	struct service_config cfg = { .hash_seed = seed };
	unsigned char key[CONFIG_HASH_KEY_BYTES];
	struct snap_backend be[MAX_BE];
	struct snap_pool *s;
	char text[32];

	for (unsigned i = 0; i < n; i++) {
		memset(&be[i], 0, sizeof(be[i]));
		be[i].id = first_id + i;
		be[i].weight = weights ? weights[i] : 1;
		snprintf(text, sizeof(text), "10.0.0.%u:80", hosts[i]);
		cr_assert_eq(addr_parse(text, &be[i].addr, NULL, 0), 0);
	}
	s = snap_pool_build_ext(be, n, maglev_table_size(MAX_BE));
	cr_assert_not_null(s);
	config_hash_key(&cfg, key);
	cr_assert_eq(maglev_fill(s, key), 0);
	return s;
}

/* The host (last octet) each key lands on. */
static void assign(const struct snap_pool *s, struct balance_state *st, unsigned char *host)
{
	for (unsigned i = 0; i < N_KEYS; i++) {
		int p = balance_maglev.pick(s, st, NULL, keys[i]);
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&s->be[p].addr.ss;

		cr_assert_geq(p, 0);
		host[i] = (unsigned char)(ntohl(sin->sin_addr.s_addr) & 0xff);
	}
}

static unsigned moved(const unsigned char *a, const unsigned char *b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < N_KEYS; i++)
		n += a[i] != b[i];
	return n;
}

ParameterizedTestParameters(maglev, removing_one_moves_few_and_adding_it_back_restores)
{
	static unsigned sizes[] = { 2, 3, 5, 10, 31 };

	return cr_make_param_array(unsigned, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

ParameterizedTest(unsigned *n, maglev, removing_one_moves_few_and_adding_it_back_restores)
{
	static unsigned char before[N_KEYS], without[N_KEYS], after[N_KEYS];
	unsigned hosts[MAX_BE], rest[MAX_BE], gone = *n / 2 + 1;
	struct balance_state st;
	struct snap_pool *all, *less, *again;

	state_for_seed(&st, 7);
	make_keys(&st);
	for (unsigned i = 0; i < *n; i++)
		hosts[i] = i + 1;
	for (unsigned i = 0, k = 0; i < *n; i++)
		if (hosts[i] != gone)
			rest[k++] = hosts[i];
	all = build(hosts, *n, 1, NULL, 7);
	less = build(rest, *n - 1, 1, NULL, 7);
	again = build(hosts, *n, 100, NULL, 7); /* back under new ids, as a re-registration gets */
	assign(all, &st, before);
	assign(less, &st, without);
	assign(again, &st, after);
	cr_assert_leq(moved(before, without), N_KEYS / *n + N_KEYS * 2 / 100, "%u of %u keys moved with %u backends",
		      moved(before, without), N_KEYS, *n);
	cr_assert_eq(moved(before, after), 0, "adding it back did not restore every key");
	snap_pool_free(all);
	snap_pool_free(less);
	snap_pool_free(again);
}

Test(maglev, keys_spread_within_five_percent_of_the_weights)
{
	unsigned hosts[] = { 1, 2, 3, 4 }, weights[] = { 1, 2, 3, 4 };
	static unsigned char host[N_KEYS];
	unsigned count[5] = { 0 };
	struct balance_state st;
	struct snap_pool *s;

	state_for_seed(&st, 11);
	make_keys(&st);
	s = build(hosts, 4, 1, weights, 11);
	assign(s, &st, host);
	for (unsigned i = 0; i < N_KEYS; i++)
		count[host[i]]++;
	for (unsigned h = 1; h <= 4; h++) {
		double want = N_KEYS * weights[h - 1] / 10.0;

		cr_assert(count[h] >= want * 0.95 && count[h] <= want * 1.05, "backend %u: %u keys, want %.0f", h,
			  count[h], want);
	}
	snap_pool_free(s);
}

Test(maglev, instances_with_the_same_seed_agree_whatever_the_ids)
{
	unsigned hosts[] = { 1, 2, 3, 4, 5 }, reversed[] = { 5, 4, 3, 2, 1 };
	static unsigned char a[N_KEYS], b[N_KEYS], c[N_KEYS];
	struct balance_state st;
	struct snap_pool *one, *two, *other_seed;

	state_for_seed(&st, 42);
	make_keys(&st);
	one = build(hosts, 5, 1, NULL, 42);
	two = build(reversed, 5, 300, NULL, 42);
	other_seed = build(hosts, 5, 1, NULL, 43);
	assign(one, &st, a);
	assign(two, &st, b);
	assign(other_seed, &st, c);
	cr_assert_eq(moved(a, b), 0, "two instances disagree on %u keys", moved(a, b));
	cr_assert_gt(moved(a, c), N_KEYS / 2, "another seed should shuffle most keys");
	snap_pool_free(one);
	snap_pool_free(two);
	snap_pool_free(other_seed);
}

Test(maglev, retry_goes_to_the_same_next_backend_everywhere)
{
	unsigned hosts[] = { 1, 2, 3 }, reversed[] = { 3, 2, 1 };
	struct snap_pool *one = build(hosts, 3, 1, NULL, 5), *two = build(reversed, 3, 50, NULL, 5);
	struct balance_state st;

	state_for_seed(&st, 5);
	make_keys(&st);
	for (unsigned i = 0; i < 200; i++) {
		struct balance_exclude ex1 = { .n = 0 }, ex2 = { .n = 0 };
		int p1 = balance_maglev.pick(one, &st, &ex1, keys[i]);
		int p2 = balance_maglev.pick(two, &st, &ex2, keys[i]);

		for (unsigned tries = 0; tries < 3; tries++) {
			cr_assert(addr_equal(&one->be[p1].addr, &two->be[p2].addr), "key %u, try %u", i, tries);
			balance_exclude_add(&ex1, one->be[p1].id);
			balance_exclude_add(&ex2, two->be[p2].id);
			p1 = balance_maglev.pick(one, &st, &ex1, keys[i]);
			p2 = balance_maglev.pick(two, &st, &ex2, keys[i]);
			if (tries < 2)
				cr_assert(p1 >= 0 && !balance_excluded(&ex1, one->be[p1].id));
		}
		cr_assert_eq(p1, -1, "every backend tried");
	}
	snap_pool_free(one);
	snap_pool_free(two);
}

Test(maglev, the_lightest_backend_still_gets_entries)
{
	unsigned hosts[] = { 1, 2 }, weights[] = { 256, 1 };
	struct snap_pool *s = build(hosts, 2, 1, weights, 0);
	unsigned light = 0;

	for (uint32_t i = 0; i < s->maglev_len; i++)
		light += s->maglev[i] == 1;
	cr_assert_geq(light, 1);
	cr_assert_leq(light, 1 + s->maglev_len / 257 + 1, "weight 1 of 257 over %u entries", s->maglev_len);
	snap_pool_free(s);
}

Test(maglev, table_sizes_are_primes_of_at_least_100_per_backend)
{
	cr_assert_eq(maglev_table_size(0), 0);
	for (uint32_t n = 1; n <= SNAP_ID_MAX; n += n < 5000 ? 1 : 97) {
		uint32_t m = maglev_table_size(n);

		cr_assert_geq(m, 100 * n);
		cr_assert_leq(m, MAGLEV_SIZE_MAX);
		for (uint32_t d = 2; d * d <= m; d++)
			cr_assert_neq(m % d, 0, "%u is not prime", m);
	}
}

Test(maglev, client_key_ignores_the_port_unless_asked)
{
	struct service_config cfg = { .hash_seed = 1, .hash_key = HASH_KEY_SRC };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(1000) }, b = a;
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6, .sin6_port = htons(1000) };
	struct balance_state st;

	a.sin_addr.s_addr = b.sin_addr.s_addr = htonl(0x7f000002);
	b.sin_port = htons(2000);
	mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&mapped.sin6_addr.s6_addr[12], &a.sin_addr, 4);
	balance_state_init(&st, &balance_maglev, &cfg, 0, NULL);
	cr_assert_eq(balance_hash_client(&st, (void *)&a), balance_hash_client(&st, (void *)&b));
	cr_assert_eq(balance_hash_client(&st, (void *)&a), balance_hash_client(&st, (void *)&mapped),
		     "a dual-stack listener sees the same client");
	cfg.hash_key = HASH_KEY_SRC_PORT;
	balance_state_init(&st, &balance_maglev, &cfg, 0, NULL);
	cr_assert_neq(balance_hash_client(&st, (void *)&a), balance_hash_client(&st, (void *)&b));
}

/* a and b hold the same table, entry by entry. */
static void expect_same_table(const struct snap_pool *a, const struct snap_pool *b, const char *what)
{
	cr_assert_eq(a->maglev_len, b->maglev_len);
	cr_assert_eq(memcmp(a->maglev, b->maglev, a->maglev_len * sizeof(a->maglev[0])), 0, "%s", what);
}

/* A snapshot built from these inputs, filled by maglev_fill_reusing with prev at hand: the
 * table is rebuilt (not copied) and is what a fresh maglev_fill gives. */
static void expect_rebuilt(const struct snap_pool *prev, const unsigned *hosts, unsigned n, const unsigned *weights,
			   unsigned seed, const char *what)
{
	struct snap_pool *fresh = build(hosts, n, 1, weights, seed), *s = build(hosts, n, 1, weights, seed);
	struct service_config cfg = { .hash_seed = seed };
	unsigned char key[CONFIG_HASH_KEY_BYTES];

	config_hash_key(&cfg, key);
	cr_assert_eq(maglev_fill_reusing(s, prev, key), 0, "%s: rebuilt", what);
	expect_same_table(s, fresh, what);
	snap_pool_free(s);
	snap_pool_free(fresh);
}

/* A publish that changes no input of the table (here a load) copies the previous table; any
 * input that changed (a weight, an address, the key, the set) builds it anew, and the result
 * is always what maglev_fill computes. */
Test(maglev, an_unchanged_backend_set_reuses_the_previous_table)
{
	const unsigned hosts[] = { 1, 2, 3, 4 }, other_hosts[] = { 1, 2, 3, 5 }, heavier[] = { 1, 2, 1, 1 };
	struct snap_pool *prev = build(hosts, 4, 1, NULL, 7), *s;
	struct service_config cfg = { .hash_seed = 7 };
	unsigned char key[CONFIG_HASH_KEY_BYTES];

	config_hash_key(&cfg, key);
	s = snap_pool_build_ext(prev->be, 4, prev->maglev_len);
	s->be[0].load = 90;
	cr_assert_eq(maglev_fill_reusing(s, prev, key), 1, "a load change reuses the table");
	expect_same_table(s, prev, "reused");
	snap_pool_free(s);
	expect_rebuilt(prev, hosts, 4, heavier, 7, "a weight change");
	expect_rebuilt(prev, other_hosts, 4, NULL, 7, "another address");
	expect_rebuilt(prev, hosts, 3, NULL, 7, "one backend fewer");
	expect_rebuilt(prev, hosts, 4, NULL, 8, "another --hash-seed");
	snap_pool_free(prev);
}
