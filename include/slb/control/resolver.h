/* resolver: the addresses a backend's host name stands for (--backend web.internal:8080).
 * Two halves. The lookup (resolver_lookup) blocks in getaddrinfo, so it runs only on the
 * resolver thread (resolver_thread.c), never on a worker or on the health thread. The set
 * (dns_set_update) is pure: the health thread keeps one per name and learns from it which
 * addresses joined and which left the answer, so it can add the first and drain the second.
 * Test seam: with SLB_TEST_HOSTS_FILE set in the environment, names are looked up in that
 * file ("ADDR NAME..." lines, as /etc/hosts) instead of DNS, re-read at every lookup, so a
 * test can change an answer by rewriting it (docs/testing.md). */
#ifndef SLB_RESOLVER_H
#define SLB_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "slb/common/addr.h"
#include "slb/common/config.h"

#define RESOLVER_MAX_ADDRS 32 /* addresses kept from one answer; the rest are dropped, logged */
#define RESOLVER_ERR_MAX 96
#define RESOLVER_ENV_HOSTS "SLB_TEST_HOSTS_FILE"

/* One lookup of host:port: every A and AAAA record, sorted and without duplicates. */
struct resolver_answer {
	char host[CONFIG_HOST_MAX];
	uint16_t port;
	int error;                               /* 0, or the failure (err says it in words) */
	char err[RESOLVER_ERR_MAX];
	unsigned n;                              /* addresses in addrs */
	bool truncated;                          /* the name had more than RESOLVER_MAX_ADDRS */
	struct slb_addr addrs[RESOLVER_MAX_ADDRS];
};

/* Looks up host (with port for every address) and fills *out: through getaddrinfo (blocking;
 * AF_UNSPEC, SOCK_STREAM), or through the file named by $SLB_TEST_HOSTS_FILE when that is
 * set. Returns 0, or -ENOENT (no such name, or no address), -EAGAIN (a temporary failure) or
 * -EIO (anything else, an unreadable seam file included), with out->error set to the same
 * and out->err saying why. */
int resolver_lookup(const char *host, uint16_t port, struct resolver_answer *out);

/* The last good answer for one name, as the health thread keeps it. */
struct dns_set {
	char host[CONFIG_HOST_MAX];
	uint16_t port;
	bool answered;                           /* a lookup has succeeded once */
	int failing;                             /* the error of the last lookup; 0: it succeeded */
	unsigned n;
	struct slb_addr addrs[RESOLVER_MAX_ADDRS];
};

/* What an answer changed: addresses that joined and that left the set. */
struct dns_diff {
	unsigned n_added, n_gone;
	struct slb_addr added[RESOLVER_MAX_ADDRS];
	struct slb_addr gone[RESOLVER_MAX_ADDRS];
};

/* Applies answer a to set s and fills *d. A failed answer changes no address (the last good
 * set stands, HAProxy's and nginx's habit: a DNS outage must not empty a pool) and records the
 * error in s->failing. Returns true when the failure state changed (worth one log line):
 * from answering to failing, or back. */
bool dns_set_update(struct dns_set *s, const struct resolver_answer *a, struct dns_diff *d);

/* Whether a is in s's set. */
bool dns_set_has(const struct dns_set *s, const struct slb_addr *a);

/* ---- the resolver thread (resolver_thread.c) ---- */

/* A name to look up, as --backend gave it. */
struct resolver_name {
	char host[CONFIG_HOST_MAX];
	uint16_t port;
};

struct resolver;

/* Starts a thread that looks up each of its names at once and then every interval_ms, and
 * after each answer adds 1 to the eventfd notify_fd (the caller's; it must outlive the
 * thread). Starts with no name. Returns 0 and *out, or -errno (nothing started). */
int resolver_start(unsigned interval_ms, int notify_fd, struct resolver **out);

/* Replaces the names (at most CONFIG_MAX_STATIC_BACKENDS; more are ignored) and the interval,
 * and has every name looked up again now (a reload). Answers pending for a name dropped stay
 * and are the caller's to ignore. Any thread. */
void resolver_set_names(struct resolver *r, const struct resolver_name *names, unsigned n, unsigned interval_ms);

/* Moves up to max answers that arrived since the last call into out, the latest per name,
 * and returns how many. Any thread; never blocks on a lookup. */
unsigned resolver_take(struct resolver *r, struct resolver_answer *out, unsigned max);

/* Stops the thread (waits for a lookup under way to end: getaddrinfo cannot be interrupted)
 * and frees r. NULL is a no-op. */
void resolver_stop(struct resolver *r);

#endif
