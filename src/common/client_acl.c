/* client_acl: the allow/deny matcher and a client's address as the limits count it
 * (include/slb/common/client_acl.h). */
#include "slb/common/client_acl.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static const unsigned char v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int client_ip_from_sockaddr(const struct sockaddr *sa, struct client_ip *out)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memset(out, 0, sizeof(*out));
		out->family = AF_INET;
		memcpy(out->b, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const unsigned char *a = in6->sin6_addr.s6_addr;

		memset(out, 0, sizeof(*out));
		if (memcmp(a, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
			out->family = AF_INET;
			memcpy(out->b, a + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->b, a, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* Whether the first bits of a and b are equal. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (!rest)
		return true;
	return ((a[whole] ^ b[whole]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

bool client_ip_in_cidr(const struct client_ip *ip, const struct slb_cidr *c)
{
	return ip->family == c->family && prefix_equal(ip->b, c->net, c->prefix);
}

/* The longest prefix among the rules of list that contain ip, or -1 when none does. */
static int longest_match(const struct slb_cidr *list, unsigned n, const struct client_ip *ip)
{
	int best = -1;

	for (unsigned i = 0; i < n; i++)
		if ((int)list[i].prefix > best && client_ip_in_cidr(ip, &list[i]))
			best = (int)list[i].prefix;
	return best;
}

bool client_acl_allows(const struct slb_cidr *allow, unsigned n_allow, const struct slb_cidr *deny,
		       unsigned n_deny, const struct client_ip *ip)
{
	int a = longest_match(allow, n_allow, ip), d = longest_match(deny, n_deny, ip);

	if (a < 0 && d < 0)
		return n_allow == 0;
	return a > d;
}

void client_ip_mask(struct client_ip *ip, unsigned prefix)
{
	unsigned width = ip->family == AF_INET ? 32 : 128, whole, rest;

	if (prefix >= width)
		return;
	whole = prefix / 8;
	rest = prefix % 8;
	if (rest)
		ip->b[whole++] &= (unsigned char)(0xff << (8 - rest));
	memset(ip->b + whole, 0, sizeof(ip->b) - whole);
}
