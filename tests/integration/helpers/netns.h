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

#endif
