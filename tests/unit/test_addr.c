/* addr: what kind of destination an address is (only a unicast one names a host slb may
 * connect to), and whether an address is one slb itself serves, wildcard listeners included.
 * Locality is a fake here, so the tables say exactly which addresses are "this host". */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "slb/common/addr.h"
#include "slb/common/config.h"

static struct slb_addr addr_of(const char *text)
{
	struct slb_addr a;

	cr_assert_eq(addr_parse(text, &a, NULL, 0), 0, "%s", text);
	return a;
}

/* ---- classification ---- */

struct kind_case {
	char text[48];
	enum addr_kind kind;
};

ParameterizedTestParameters(addr, classifies_kinds)
{
	static struct kind_case cases[] = {
		{ "127.0.0.1:80", ADDR_KIND_UNICAST },
		{ "10.1.2.3:80", ADDR_KIND_UNICAST },
		{ "223.255.255.255:80", ADDR_KIND_UNICAST },
		{ "240.0.0.1:80", ADDR_KIND_UNICAST },
		{ "255.255.255.254:80", ADDR_KIND_UNICAST },
		{ "[::1]:80", ADDR_KIND_UNICAST },
		{ "[2001:db8::1]:80", ADDR_KIND_UNICAST },
		{ "[fe80::1]:80", ADDR_KIND_UNICAST },
		{ "[::ffff:10.0.0.1]:80", ADDR_KIND_UNICAST },
		{ "0.0.0.0:80", ADDR_KIND_UNSPECIFIED },
		{ "*:80", ADDR_KIND_UNSPECIFIED },
		{ "[::]:80", ADDR_KIND_UNSPECIFIED },
		{ "[::ffff:0.0.0.0]:80", ADDR_KIND_UNSPECIFIED },
		{ "224.0.0.1:80", ADDR_KIND_MULTICAST },
		{ "239.255.255.255:80", ADDR_KIND_MULTICAST },
		{ "[ff02::1]:80", ADDR_KIND_MULTICAST },
		{ "[ff0e::101]:80", ADDR_KIND_MULTICAST },
		{ "[::ffff:224.0.0.251]:80", ADDR_KIND_MULTICAST },
		{ "255.255.255.255:80", ADDR_KIND_BROADCAST },
		{ "[::ffff:255.255.255.255]:80", ADDR_KIND_BROADCAST },
	};
	return cr_make_param_array(struct kind_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct kind_case *c, addr, classifies_kinds)
{
	struct slb_addr a = addr_of(c->text);
	const char *why = addr_host_problem(&a);

	cr_assert_eq(addr_classify(&a), c->kind, "%s is %s", c->text, addr_kind_name(addr_classify(&a)));
	if (c->kind == ADDR_KIND_UNICAST) {
		cr_assert_null(why, "%s refused: %s", c->text, why);
		return;
	}
	cr_assert_not_null(why, "%s passed as a host", c->text);
	cr_assert(strstr(why, addr_kind_name(c->kind)), "'%s' does not name the kind", why);
}

Test(addr, zeroed_address_is_no_host)
{
	struct slb_addr a;

	memset(&a, 0, sizeof(a));
	cr_assert_eq(addr_classify(&a), ADDR_KIND_UNSPECIFIED);
}

/* ---- is this address one slb serves? ---- */

/* "This host" for the tables: loopback, 10.0.0.5 and 2001:db8::5. */
static bool fake_local(const struct slb_addr *a)
{
	struct slb_addr v4 = addr_of("10.0.0.5:1"), v6 = addr_of("[2001:db8::5]:1");

	return addr_is_loopback(a) || addr_same_host(a, &v4) || addr_same_host(a, &v6);
}

struct served_case {
	char served[2][32];  /* "" ends the list */
	char addr[40];
	int want;            /* index into served, -1: not served */
};

ParameterizedTestParameters(addr, finds_served_addresses)
{
	static struct served_case cases[] = {
		{ { "127.0.0.1:8080" }, "127.0.0.1:8080", 0 },
		{ { "127.0.0.1:8080" }, "[::ffff:127.0.0.1]:8080", 0 },
		{ { "127.0.0.1:8080" }, "127.0.0.1:8081", -1 },
		{ { "127.0.0.1:8080" }, "127.0.0.2:8080", -1 },
		{ { "*:8080" }, "127.0.0.2:8080", 0 },
		{ { "0.0.0.0:8080" }, "10.0.0.5:8080", 0 },
		{ { "0.0.0.0:8080" }, "[::ffff:10.0.0.5]:8080", 0 },
		{ { "0.0.0.0:8080" }, "10.0.0.6:8080", -1 },
		{ { "0.0.0.0:8080" }, "10.0.0.5:8081", -1 },
		{ { "0.0.0.0:8080" }, "[::1]:8080", -1 },
		{ { "[::]:8080" }, "[::1]:8080", 0 },
		{ { "[::]:8080" }, "[2001:db8::5]:8080", 0 },
		{ { "[::]:8080" }, "10.0.0.5:8080", 0 },
		{ { "[::]:8080" }, "[2001:db8::6]:8080", -1 },
		{ { "[::1]:8080" }, "[::1]:8080", 0 },
		{ { "10.0.0.9:8080", "127.0.0.1:9000" }, "127.0.0.1:9000", 1 },
		{ { "10.0.0.9:8080", "*:9000" }, "10.0.0.5:9000", 1 },
		{ { "10.0.0.9:8080", "*:9000" }, "10.0.0.9:9000", -1 },
	};
	return cr_make_param_array(struct served_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct served_case *c, addr, finds_served_addresses)
{
	struct slb_addr served[2], a = addr_of(c->addr);
	unsigned n = 0;

	while (n < 2 && c->served[n][0]) {
		served[n] = addr_of(c->served[n]);
		n++;
	}
	cr_assert_eq(addr_find_served(&a, served, n, fake_local), c->want, "%s against %s%s%s", c->addr,
		     c->served[0], n > 1 ? ", " : "", n > 1 ? c->served[1] : "");
}

Test(addr, loopback_is_local_and_documentation_net_is_not)
{
	struct slb_addr lo = addr_of("127.0.0.1:1"), lo2 = addr_of("127.3.2.1:65000"), far = addr_of("192.0.2.1:80");

	cr_assert(addr_is_local(&lo));
	cr_assert(addr_is_local(&lo2), "all of 127.0.0.0/8 is this host's");
	cr_assert_not(addr_is_local(&far), "TEST-NET-1 is assigned to no interface here");
}

/* ---- config_served_by: the listener, admin and heartbeat ports, each named ---- */

struct own_case {
	char addr[32];
	char why[48]; /* "": not slb's own */
};

ParameterizedTestParameters(config, names_slb_own_addresses)
{
	static struct own_case cases[] = {
		{ "10.0.0.5:8080", "address is slb's own listener" },
		{ "127.0.0.1:8080", "address is slb's own listener" },
		{ "10.0.0.6:8080", "" },
		{ "127.0.0.1:7001", "address is slb's own admin endpoint" },
		{ "10.0.0.5:7001", "" },
		{ "127.0.0.1:7000", "address is slb's own heartbeat port" },
		{ "127.0.0.1:7002", "" },
	};
	return cr_make_param_array(struct own_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct own_case *c, config, names_slb_own_addresses)
{
	struct slb_config cfg = { 0 };
	struct slb_addr a = addr_of(c->addr);
	const char *why;

	cfg.listen[0] = addr_of("*:8080");
	cfg.n_listen = 1;
	cfg.has_admin = cfg.has_heartbeat_listen = true;
	cfg.admin = addr_of("127.0.0.1:7001");
	cfg.heartbeat_listen = addr_of("127.0.0.1:7000");
	why = config_served_by(&cfg, &a, fake_local);
	if (!c->why[0])
		cr_assert_null(why, "%s: %s", c->addr, why);
	else
		cr_assert_str_eq(why ? why : "(none)", c->why, "%s", c->addr);
}
