/* client_limits: the table the workers share for --client-max-conns and --client-max-rate:
 * counts held and given back, the token bucket, one entry per /64 for IPv6, eviction of idle
 * entries, and a table full of active clients failing open. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../../src/dataplane/client_limits.h"
#include "slb/common/config.h"

static struct client_ip ip_of(const char *text)
{
	struct client_ip ip = { .family = AF_INET };

	if (inet_pton(AF_INET, text, ip.b) != 1) {
		ip.family = AF_INET6;
		cr_assert_eq(inet_pton(AF_INET6, text, ip.b), 1, "%s", text);
	}
	return ip;
}

static struct service_config svc_limits(unsigned conns, unsigned rate)
{
	struct service_config s;

	memset(&s, 0, sizeof(s));
	s.client_max_conns = conns;
	s.client_max_rate = rate;
	s.client_ipv6_prefix = 64;
	return s;
}

static enum client_verdict admit(struct client_table *t, const struct service_config *s, const char *who,
				 int64_t now, uint32_t *entry)
{
	struct client_ip ip = ip_of(who);
	struct client_admission adm;
	enum client_verdict v = client_table_admit(t, s, 0, &ip, now, &adm);

	if (entry)
		*entry = adm.entry;
	return v;
}

Test(client_limits, counts_open_connections_and_gives_them_back)
{
	struct client_table *t = client_table_new(1024);
	struct service_config s = svc_limits(10, 0);
	struct client_ip ip = ip_of("127.0.0.2");
	uint32_t held[10];

	for (unsigned i = 0; i < 10; i++)
		cr_assert_eq(admit(t, &s, "127.0.0.2", 1000, &held[i]), CLIENT_OK);
	cr_expect_eq(admit(t, &s, "127.0.0.2", 1000, NULL), CLIENT_OVER_CONNS, "the 11th is refused");
	cr_expect_eq(admit(t, &s, "127.0.0.3", 1000, NULL), CLIENT_OK, "another client is not");
	cr_expect_eq(client_table_conns(t, &s, 0, &ip), 10, "a refusal holds no count");
	client_table_release(t, held[0]);
	cr_expect_eq(admit(t, &s, "127.0.0.2", 1000, NULL), CLIENT_OK, "one closed, one more may open");
	client_table_free(t);
}

Test(client_limits, token_bucket_holds_the_rate)
{
	struct client_table *t = client_table_new(1024);
	struct service_config s = svc_limits(0, 100);
	unsigned ok = 0;

	/* 5 s of a client trying every millisecond: 100/s plus a bucket of 10 */
	for (int64_t ms = 0; ms < 5000; ms++)
		ok += admit(t, &s, "10.0.0.1", 1000 + ms, NULL) == CLIENT_OK;
	cr_expect(ok >= 500 && ok <= 511, "admitted %u in 5 s at 100/s", ok);
	cr_expect_eq(admit(t, &s, "10.0.0.2", 5999, NULL), CLIENT_OK, "another client has its own bucket");
	client_table_free(t);
}

Test(client_limits, a_burst_takes_the_bucket_then_waits)
{
	struct client_table *t = client_table_new(1024);
	struct service_config s = svc_limits(0, 100);
	unsigned ok = 0;

	for (unsigned i = 0; i < 50; i++) /* one loop turn: one coarse clock reading */
		ok += admit(t, &s, "10.0.0.1", 1000, NULL) == CLIENT_OK;
	cr_expect_eq(ok, 10, "a bucket of 100/10 at once, got %u", ok);
	cr_expect_eq(admit(t, &s, "10.0.0.1", 1005, NULL), CLIENT_OVER_RATE, "5 ms later: no token yet");
	cr_expect_eq(admit(t, &s, "10.0.0.1", 1010, NULL), CLIENT_OK, "10 ms later: one");
	client_table_free(t);
}

Test(client_limits, rate_refusal_gives_the_count_back)
{
	struct client_table *t = client_table_new(1024);
	struct service_config s = svc_limits(5, 1);
	struct client_ip ip = ip_of("10.0.0.1");

	cr_assert_eq(admit(t, &s, "10.0.0.1", 1000, NULL), CLIENT_OK);
	cr_expect_eq(admit(t, &s, "10.0.0.1", 1000, NULL), CLIENT_OVER_RATE);
	cr_expect_eq(client_table_conns(t, &s, 0, &ip), 1);
	client_table_free(t);
}

Test(client_limits, ipv6_clients_count_per_64)
{
	struct client_table *t = client_table_new(1024);
	struct service_config s = svc_limits(2, 0);

	cr_assert_eq(admit(t, &s, "2001:db8:0:1::1", 1000, NULL), CLIENT_OK);
	cr_assert_eq(admit(t, &s, "2001:db8:0:1::2", 1000, NULL), CLIENT_OK);
	cr_expect_eq(admit(t, &s, "2001:db8:0:1:ffff::3", 1000, NULL), CLIENT_OVER_CONNS, "same /64");
	cr_expect_eq(admit(t, &s, "2001:db8:0:2::1", 1000, NULL), CLIENT_OK, "another /64");
	s.client_ipv6_prefix = 128;
	cr_expect_eq(admit(t, &s, "2001:db8:0:1::9", 1000, NULL), CLIENT_OK, "per address at /128");
	client_table_free(t);
}

Test(client_limits, denied_before_any_count)
{
	struct client_table *t = client_table_new(1024);
	struct service_config s = svc_limits(1, 0);
	char err[128];

	cr_assert_eq(addr_parse_cidr("127.0.0.3/32", &s.client_deny[0], err, sizeof(err)), 0);
	s.n_client_deny = 1;
	cr_expect_eq(admit(t, &s, "127.0.0.3", 1000, NULL), CLIENT_DENIED);
	cr_expect_eq(admit(t, &s, "127.0.0.2", 1000, NULL), CLIENT_OK);
	client_table_free(t);
}

/* 16 entries, one neighbourhood: 16 clients each holding a connection fill it. */
Test(client_limits, full_table_of_active_clients_fails_open)
{
	struct client_table *t = client_table_new(CLIENT_PROBE);
	struct service_config s = svc_limits(1, 0);
	char who[32];
	uint32_t entry;

	for (unsigned i = 0; i < CLIENT_PROBE; i++) {
		snprintf(who, sizeof(who), "10.0.1.%u", i);
		cr_assert_eq(admit(t, &s, who, 1000, NULL), CLIENT_OK, "%s", who);
	}
	cr_expect_eq(admit(t, &s, "10.0.2.1", 1000, &entry), CLIENT_UNTRACKED, "no room: let in");
	cr_expect_eq(entry, 0, "and holds nothing");
	cr_expect_eq(admit(t, &s, "10.0.1.0", 1000, NULL), CLIENT_OVER_CONNS, "the tracked keep their limits");
	client_table_free(t);
}

Test(client_limits, idle_entries_are_evicted_for_newcomers)
{
	struct client_table *t = client_table_new(CLIENT_PROBE);
	struct service_config s = svc_limits(1, 0);
	struct service_config rated = svc_limits(1, 1);
	uint32_t held[CLIENT_PROBE];
	char who[32];

	for (unsigned i = 0; i < CLIENT_PROBE; i++) {
		snprintf(who, sizeof(who), "10.0.1.%u", i);
		cr_assert_eq(admit(t, &s, who, 1000, &held[i]), CLIENT_OK, "%s", who);
	}
	client_table_release(t, held[3]);
	cr_expect_eq(admit(t, &s, "10.0.2.1", 1000, &held[3]), CLIENT_OK, "an idle entry is taken over");
	cr_expect_neq(held[3], 0);
	cr_expect_eq(admit(t, &s, "10.0.2.2", 1000, NULL), CLIENT_UNTRACKED, "and then the table is full again");
	/* a client whose bucket is not full again is not idle, even without connections */
	for (unsigned i = 0; i < CLIENT_PROBE; i++)
		client_table_release(t, held[i]);
	cr_assert_eq(admit(t, &rated, "10.0.2.1", 1000, &held[0]), CLIENT_OK);
	client_table_release(t, held[0]);
	cr_expect_eq(admit(t, &rated, "10.0.2.1", 1000, NULL), CLIENT_OVER_RATE, "its bucket survives");
	client_table_free(t);
}

Test(client_limits, refusals_log_once_per_second_per_client)
{
	struct client_table *t = client_table_new(1024);
	struct service_config s = svc_limits(1, 0);
	struct client_ip ip = ip_of("10.0.0.1");
	struct client_admission adm;
	unsigned logs = 0;

	cr_assert_eq(client_table_admit(t, &s, 0, &ip, 1000, &adm), CLIENT_OK);
	for (int64_t ms = 1000; ms < 3000; ms += 10) {
		cr_assert_eq(client_table_admit(t, &s, 0, &ip, ms, &adm), CLIENT_OVER_CONNS);
		logs += adm.log;
	}
	cr_expect_eq(logs, 2, "two seconds, two lines (got %u)", logs);
	client_table_free(t);
}

Test(client_limits, rejects_a_size_that_is_not_a_power_of_two)
{
	cr_expect_null(client_table_new(1000));
	cr_expect_null(client_table_new(8));
}

/* Workers share the table with atomics only: four threads admitting and releasing for the same
 * few clients never hold more than the limit at once, and every count comes back. */
#define RACE_THREADS 4
#define RACE_ROUNDS 100000
#define RACE_CLIENTS 3

static struct client_table *race_table;
static struct service_config race_svc;
static _Atomic unsigned race_held[RACE_CLIENTS], race_peak[RACE_CLIENTS];

static void *race_worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	uint32_t mine[RACE_CLIENTS][4];
	unsigned n[RACE_CLIENTS] = { 0 };

	for (unsigned r = 0; r < RACE_ROUNDS; r++) {
		unsigned k = (seed = seed * 1103515245u + 12345u) >> 16 & 3;
		unsigned who = r % RACE_CLIENTS;
		struct client_ip ip = { .family = AF_INET, .b = { 10, 0, 0, (unsigned char)who } };
		struct client_admission adm;

		if (k && n[who] < 4 && client_table_admit(race_table, &race_svc, 0, &ip, 1000, &adm) == CLIENT_OK) {
			unsigned now = atomic_fetch_add(&race_held[who], 1) + 1, peak = atomic_load(&race_peak[who]);

			while (now > peak && !atomic_compare_exchange_weak(&race_peak[who], &peak, now))
				;
			mine[who][n[who]++] = adm.entry;
		} else if (n[who]) {
			atomic_fetch_sub(&race_held[who], 1);
			client_table_release(race_table, mine[who][--n[who]]);
		}
	}
	for (unsigned who = 0; who < RACE_CLIENTS; who++)
		while (n[who]) {
			atomic_fetch_sub(&race_held[who], 1);
			client_table_release(race_table, mine[who][--n[who]]);
		}
	return NULL;
}

Test(client_limits, concurrent_workers_never_pass_the_limit_and_give_every_count_back)
{
	pthread_t tid[RACE_THREADS];

	race_table = client_table_new(1024);
	race_svc = svc_limits(5, 0);
	for (uintptr_t i = 0; i < RACE_THREADS; i++)
		cr_assert_eq(pthread_create(&tid[i], NULL, race_worker, (void *)(i + 1)), 0);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		pthread_join(tid[i], NULL);
	for (unsigned who = 0; who < RACE_CLIENTS; who++) {
		struct client_ip ip = { .family = AF_INET, .b = { 10, 0, 0, (unsigned char)who } };

		cr_expect_leq(atomic_load(&race_peak[who]), 5, "client %u held %u at once", who,
			      atomic_load(&race_peak[who]));
		cr_expect_eq(atomic_load(&race_peak[who]), 5, "the limit was reached (%u)", atomic_load(&race_peak[who]));
		cr_expect_eq(client_table_conns(race_table, &race_svc, 0, &ip), 0, "client %u: counts left", who);
	}
	client_table_free(race_table);
}
