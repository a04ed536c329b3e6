/* netns: two network namespaces made by the test itself, "lb" (slb and the test's clients)
 * and "be" (the backends), joined by a veth pair, so faults can be injected with nftables on
 * the backends' side without touching the host's network:
 *
 *     ns lb: lo, v0 10.199.0.1/24  <--veth-->  ns be: lo, v0 10.199.0.2/24
 *
 * Needs root, ip(8) (iproute2) and, for rules, nft(8) (nftables). The calling thread moves
 * between namespaces with setns(); processes spawned from it start in the namespace it is
 * in, and so do sockets it opens. Names carry the test's pid, so leftovers of a test that was
 * killed are recognised and removed by the next netns_create(). */
#ifndef SLB_NETNS_H
#define SLB_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#define NETNS_LB_ADDR "10.199.0.1"
#define NETNS_BE_ADDR "10.199.0.2"

struct netns {
	char lb[32], be[32]; /* names under /run/netns */
	int orig_fd;         /* the namespace the caller started in */
	int lb_fd, be_fd;
	bool inited;         /* netns_create() ran: the fds above are meaningful */
	bool made;           /* namespaces exist and must be deleted */
};

/* Creates both namespaces and the link, and moves the calling thread into lb. Returns 0, or
 * -errno with the reason in why (e.g. not root, no ip(8), namespaces not permitted); on
 * failure nothing is left behind and the thread is where it was. */
int netns_create(struct netns *n, char *why, size_t len);

/* Moves the calling thread into lb or be. Returns 0 or -errno. */
int netns_enter_lb(const struct netns *n);
int netns_enter_be(const struct netns *n);

/* Loads an nftables ruleset (nft -f syntax) into be. Returns 0, or -errno with nft's message
 * in why (-ENOENT when nft is not installed). */
int netns_nft(const struct netns *n, const char *ruleset, char *why, size_t len);

/* Removes every table from be. Returns 0 or -errno. */
int netns_nft_flush(const struct netns *n);

/* Moves the calling thread back where it started and deletes both namespaces. Stop the
 * processes running in them first. Idempotent, and a no-op on a zeroed struct netns (a
 * suite's .fini can call it whether or not its test made namespaces). */
void netns_destroy(struct netns *n);

/* Runs a shell command; its output (stdout and stderr) goes into out when out is not NULL.
 * Returns the exit code, or -errno when it could not run. */
int netns_sh(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- a topology of many namespaces (the scale-out test: client, router, instances, backends) ----
 *
 * Each namespace is named slbf<pid>_<suffix>, so netns_create's clean-up of a killed test's
 * leftovers covers these too. */

#define NETNS_TOPO_MAX 12

struct netns_topo {
	char name[NETNS_TOPO_MAX][32]; /* names under /run/netns */
	int fd[NETNS_TOPO_MAX];
	unsigned n;                    /* namespaces made so far */
	int orig_fd;                   /* the namespace the caller started in */
	bool inited;                   /* netns_topo_init() ran */
};

/* Starts an empty topology. Returns 0, or -errno with the reason in why (not root, or
 * /proc/self/ns/net unreadable). */
int netns_topo_init(struct netns_topo *t, char *why, size_t len);

/* Makes namespace slbf<pid>_<suffix> with lo up. Returns its index (>= 0), or -errno with the
 * reason in why (-ENOENT: no ip(8); -EPERM: namespaces not permitted). */
int netns_topo_add(struct netns_topo *t, const char *suffix, char *why, size_t len);

/* Joins namespaces a and b by a veth pair: ifa with address cidr_a ("203.0.113.1/28") in a,
 * ifb with cidr_b in b, both up. Returns 0, or -errno with ip's message in why. */
int netns_topo_link(struct netns_topo *t, int a, const char *ifa, const char *cidr_a, int b, const char *ifb,
		    const char *cidr_b, char *why, size_t len);

/* Runs "ip netns exec NAME sh -c CMD" for namespace i (see netns_sh for out and the result). */
int netns_topo_sh(const struct netns_topo *t, int i, char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Loads an nftables ruleset into namespace i, as netns_nft does into be (same results). */
int netns_topo_nft(const struct netns_topo *t, int i, const char *ruleset, char *why, size_t len);

/* Removes every nftables table from namespace i. Returns 0 or -EIO. */
int netns_topo_nft_flush(const struct netns_topo *t, int i);

/* Moves the calling thread into namespace i, or back where it started when i < 0. Threads it
 * creates afterwards, processes it spawns and sockets it opens are in that namespace.
 * Returns 0 or -errno. */
int netns_topo_enter(const struct netns_topo *t, int i);

/* Moves the calling thread back and deletes every namespace. Stop the processes running in
 * them first. Idempotent; a no-op on a zeroed struct. */
void netns_topo_destroy(struct netns_topo *t);

#endif
