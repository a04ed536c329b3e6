/* client_acl: who a service lets in (--client-allow, --client-deny) and what one client is
 * for the per-client limits (its address, an IPv6 one cut to a prefix). Pure functions over
 * the service's configuration, which is read-only while workers use it (a reload swaps the
 * whole struct between their loop turns), so the matcher needs no state of its own. */
#ifndef SLB_CLIENT_ACL_H
#define SLB_CLIENT_ACL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "slb/common/addr.h"

/* A client's address as the rules and the limits see it: an IPv4-mapped IPv6 address (what a
 * dual-stack listener reports) is the IPv4 address it carries, so IPv4 rules and /32 counting
 * apply to it. */
struct client_ip {
	sa_family_t family;    /* AF_INET or AF_INET6 */
	unsigned char b[16];   /* network order; AF_INET uses the first 4 */
};

/* Reads sa (AF_INET or AF_INET6) into out. Returns 0, or -EAFNOSUPPORT for another family
 * (out then unchanged). */
int client_ip_from_sockaddr(const struct sockaddr *sa, struct client_ip *out);

/* True when ip is inside c (families must match: an IPv4 rule never names an IPv6 client). */
bool client_ip_in_cidr(const struct client_ip *ip, const struct slb_cidr *c);

/* The verdict of the rules on ip, as HAProxy and nginx users expect from an ordered list
 * made order-free: the matching rule with the longest prefix wins, a deny on a tie with an
 * allow of the same length; when no rule matches, ip is let in only if there is no allow
 * rule at all (an allow list is a list of the only networks let in). With no rules, true.
 * O(n_allow + n_deny), at most 64 prefix compares. */
bool client_acl_allows(const struct slb_cidr *allow, unsigned n_allow, const struct slb_cidr *deny,
		       unsigned n_deny, const struct client_ip *ip);

/* ip with every bit past the first prefix bits cleared (prefix is clamped to the family's
 * width): the per-client limits count an IPv6 client per network. */
void client_ip_mask(struct client_ip *ip, unsigned prefix);

#endif
