/* client_acl: the allow/deny matcher of --client-allow / --client-deny (longest prefix wins,
 * deny on a tie, default allow unless an allow list exists) and a client's address as the
 * per-client limits count it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "slb/common/client_acl.h"
#include "slb/common/config.h"

static struct client_ip ip_of(const char *text)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct client_ip ip = { .family = AF_UNSPEC };

	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
		cr_assert_eq(client_ip_from_sockaddr((struct sockaddr *)&in, &ip), 0);
	else if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
		cr_assert_eq(client_ip_from_sockaddr((struct sockaddr *)&in6, &ip), 0);
	else
		cr_assert_fail("bad test address %s", text);
	return ip;
}

/* "a,b;c": allow rules a and b, deny rule c ("" for none). */
static unsigned rules_of(const char *list, struct slb_cidr *out)
{
	char buf[256], *save = NULL, err[128];
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		cr_assert_eq(addr_parse_cidr(t, &out[n++], err, sizeof(err)), 0, "%s: %s", t, err);
	return n;
}

struct acl_case {
	char allow[96];
	char deny[96];
	char client[48];
	bool allowed;
};

ParameterizedTestParameters(client_acl, longest_prefix_wins)
{
	static struct acl_case cases[] = {
		{ "", "", "127.0.0.3", true },                         /* no rules: everyone */
		{ "", "127.0.0.3", "127.0.0.3", false },               /* a deny list alone */
		{ "", "127.0.0.3", "127.0.0.2", true },
		{ "127.0.0.2", "", "127.0.0.2", true },                /* an allow list: only those */
		{ "127.0.0.2", "", "127.0.0.3", false },
		{ "10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", false },    /* the longer deny wins */
		{ "10.0.0.0/8", "10.1.0.0/16", "10.2.0.1", true },
		{ "10.1.2.3/32", "10.0.0.0/8", "10.1.2.3", true },     /* the longer allow wins */
		{ "10.0.0.0/8", "10.0.0.0/8", "10.0.0.1", false },     /* a tie: deny */
		{ "0.0.0.0/0", "192.168.0.0/16", "192.168.1.1", false },
		{ "0.0.0.0/0", "192.168.0.0/16", "8.8.8.8", true },
		{ "", "0.0.0.0/0", "8.8.8.8", false },
		{ "", "0.0.0.0/0", "::1", true },                       /* an IPv4 rule never names IPv6 */
		{ "::/0", "::1/128", "::1", false },
		{ "::/0", "::1/128", "::2", true },
		{ "::1/128", "", "::1", true },
		{ "::1/128", "", "2001:db8::1", false },
		{ "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::5", false },
		{ "2001:db8::/32", "2001:db8:1::/48", "2001:db8:2::5", true },
		{ "", "10.0.0.1", "::ffff:10.0.0.1", false },          /* a mapped client is its IPv4 address */
		{ "10.0.0.0/8", "", "::ffff:10.0.0.1", true },
		{ "10.0.0.0/9", "", "10.128.0.1", false },               /* a prefix not on a byte boundary */
		{ "10.0.0.0/9", "", "10.127.255.255", true },
	};
	return cr_make_param_array(struct acl_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct acl_case *c, client_acl, longest_prefix_wins)
{
	struct slb_cidr allow[CONFIG_MAX_CLIENT_CIDRS], deny[CONFIG_MAX_CLIENT_CIDRS];
	unsigned na = rules_of(c->allow, allow), nd = rules_of(c->deny, deny);
	struct client_ip ip = ip_of(c->client);

	cr_expect_eq(client_acl_allows(allow, na, deny, nd, &ip), c->allowed, "allow [%s] deny [%s] client %s",
		     c->allow, c->deny, c->client);
}

Test(client_acl, refuses_a_family_without_addresses)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct client_ip ip = { .family = AF_UNSPEC };

	cr_expect_eq(client_ip_from_sockaddr(&sa, &ip), -EAFNOSUPPORT);
}

Test(client_acl, masks_an_ipv6_client_to_its_network)
{
	struct client_ip a = ip_of("2001:db8:1:2:aaaa::1"), b = ip_of("2001:db8:1:2:bbbb::9"), c = ip_of("2001:db8:1:3::1");

	client_ip_mask(&a, 64);
	client_ip_mask(&b, 64);
	client_ip_mask(&c, 64);
	cr_expect_eq(memcmp(a.b, b.b, 16), 0, "one /64, one client");
	cr_expect_neq(memcmp(a.b, c.b, 16), 0, "another /64, another client");
	a = ip_of("2001:db8::ff");
	client_ip_mask(&a, 121);
	cr_expect_eq(a.b[15], 0x80);
	a = ip_of("10.1.2.3");
	client_ip_mask(&a, 64); /* past an IPv4 address's width: unchanged */
	cr_expect_eq(a.b[3], 3);
}
