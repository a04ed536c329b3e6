/* addr: "ADDR:PORT" / "[V6]:PORT" parsing and printing. Numeric only (plus localhost and *),
 * because a load balancer that blocks on DNS in its control path is a load balancer that stalls. */
#include "slb/common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST_TEXT_MAX 48

int addr_parse_port(const char *text, size_t len, unsigned *port)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(text[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* A port to listen on or connect to: 0 is not one. */
static int parse_port(const char *text, size_t len, unsigned *port)
{
	if (addr_parse_port(text, len, port) || *port == 0)
		return -EINVAL;
	return 0;
}

static int fill_v4(const char *host, unsigned port, struct slb_addr *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

	memset(out, 0, sizeof(*out));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (strcmp(host, "*") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (strcmp(host, "localhost") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -EINVAL;
	out->len = sizeof(*sin);
	return 0;
}

static int fill_v6(const char *host, unsigned port, struct slb_addr *out)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return -EINVAL;
	out->len = sizeof(*sin6);
	return 0;
}

static int fail(char *err, size_t errlen, const char *why, const char *text, size_t len)
{
	if (err && errlen)
		snprintf(err, errlen, "%s in address '%.*s'", why, (int)(len > 64 ? 64 : len), text);
	return -EINVAL;
}

int addr_parse_n(const char *text, size_t len, struct slb_addr *out, char *err, size_t errlen)
{
	char host[HOST_TEXT_MAX];
	const char *colon, *host_start = text;
	size_t host_len;
	bool v6 = false;
	unsigned port;

	if (len == 0)
		return fail(err, errlen, "empty address", text, len);
	colon = memrchr(text, ':', len);
	if (!colon)
		return fail(err, errlen, "missing :PORT", text, len);
	if (text[0] == '[') {
		if (colon == text || colon[-1] != ']')
			return fail(err, errlen, "IPv6 address must be written [ADDR]:PORT", text, len);
		host_start = text + 1;
		host_len = (size_t)(colon - 1 - host_start);
		v6 = true;
	} else {
		host_len = (size_t)(colon - text);
		if (memchr(text, ':', host_len))
			return fail(err, errlen, "IPv6 address must be written [ADDR]:PORT", text, len);
	}
	if (parse_port(colon + 1, len - (size_t)(colon + 1 - text), &port))
		return fail(err, errlen, "bad port (1-65535)", text, len);
	if (host_len == 0 || host_len >= sizeof(host))
		return fail(err, errlen, "bad host", text, len);
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	if ((v6 ? fill_v6 : fill_v4)(host, port, out))
		return fail(err, errlen, v6 ? "bad IPv6 address" : "bad IPv4 address (numeric, localhost or *)",
			    text, len);
	return 0;
}

int addr_parse(const char *text, struct slb_addr *out, char *err, size_t errlen)
{
	return addr_parse_n(text, strlen(text), out, err, errlen);
}

char *addr_format(const struct slb_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

bool addr_equal(const struct slb_addr *a, const struct slb_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;

		return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

unsigned addr_port(const struct slb_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

void addr_set_port(struct slb_addr *a, unsigned port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
}

/* The address bytes of a, IPv4-mapped IPv6 folded to IPv4. Returns the family or AF_UNSPEC. */
static sa_family_t addr_bytes(const struct slb_addr *a, const unsigned char **bytes)
{
	if (a->ss.ss_family == AF_INET) {
		*bytes = (const unsigned char *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
		return AF_INET;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			*bytes = in6->s6_addr + 12;
			return AF_INET;
		}
		*bytes = in6->s6_addr;
		return AF_INET6;
	}
	return AF_UNSPEC;
}

bool addr_is_loopback(const struct slb_addr *a)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };
	const unsigned char *b = NULL;
	sa_family_t fam = addr_bytes(a, &b);

	if (fam == AF_INET)
		return b[0] == 127;
	return fam == AF_INET6 && memcmp(b, v6_loopback, 16) == 0;
}

/* A zeroed slb_addr (no family) is no host either: unspecified. */
enum addr_kind addr_classify(const struct slb_addr *a)
{
	static const unsigned char zero[16];
	const unsigned char *b = NULL;
	sa_family_t fam = addr_bytes(a, &b);

	if (fam == AF_INET) {
		if (memcmp(b, zero, 4) == 0)
			return ADDR_KIND_UNSPECIFIED;
		if ((b[0] & 0xf0) == 0xe0)
			return ADDR_KIND_MULTICAST;
		if (b[0] == 0xff && b[1] == 0xff && b[2] == 0xff && b[3] == 0xff)
			return ADDR_KIND_BROADCAST;
		return ADDR_KIND_UNICAST;
	}
	if (fam == AF_INET6) {
		if (memcmp(b, zero, 16) == 0)
			return ADDR_KIND_UNSPECIFIED;
		return b[0] == 0xff ? ADDR_KIND_MULTICAST : ADDR_KIND_UNICAST;
	}
	return ADDR_KIND_UNSPECIFIED;
}

static const char *const kind_names[] = {
	[ADDR_KIND_UNICAST] = "unicast",
	[ADDR_KIND_UNSPECIFIED] = "unspecified",
	[ADDR_KIND_MULTICAST] = "multicast",
	[ADDR_KIND_BROADCAST] = "broadcast",
};

const char *addr_kind_name(enum addr_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

/* Fixed texts: the heartbeat port sends them to peers as they are. */
const char *addr_host_problem(const struct slb_addr *a)
{
	switch (addr_classify(a)) {
	case ADDR_KIND_UNSPECIFIED:
		return "address is unspecified, not a single host";
	case ADDR_KIND_MULTICAST:
		return "address is multicast, not a single host";
	case ADDR_KIND_BROADCAST:
		return "address is broadcast, not a single host";
	case ADDR_KIND_UNICAST:
		break;
	}
	return NULL;
}

bool addr_is_wildcard(const struct slb_addr *a)
{
	return addr_classify(a) == ADDR_KIND_UNSPECIFIED;
}

/* bind(2) with port 0 takes no port and fails with EADDRNOTAVAIL exactly when the address
 * is not assigned here (unless net.ipv4.ip_nonlocal_bind is set: then everything looks local,
 * which can only refuse too much, never let a loop through). */
bool addr_is_local(const struct slb_addr *a)
{
	struct slb_addr probe = *a;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool local;

	if (fd == -1)
		return true;
	if (probe.ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&probe.ss)->sin6_port = 0;
	else
		((struct sockaddr_in *)&probe.ss)->sin_port = 0;
	local = bind(fd, (const struct sockaddr *)&probe.ss, probe.len) == 0 || errno != EADDRNOTAVAIL;
	close(fd);
	return local;
}

_Static_assert(offsetof(struct sockaddr_in, sin_port) == offsetof(struct sockaddr_in6, sin6_port),
	       "addr_port_raw reads both families' port at one offset");

bool addr_same_host(const struct slb_addr *a, const struct slb_addr *b)
{
	const unsigned char *x = NULL, *y = NULL;
	sa_family_t fx = addr_bytes(a, &x), fy = addr_bytes(b, &y);

	return fx != AF_UNSPEC && fx == fy && memcmp(x, y, fx == AF_INET ? 4 : 16) == 0;
}

/* A wildcard listener hears a's address: [::] is dual-stack (slb never sets IPV6_V6ONLY),
 * 0.0.0.0 hears IPv4 (and IPv4-mapped) addresses only. */
static bool wildcard_covers(const struct slb_addr *w, const struct slb_addr *a)
{
	const unsigned char *b = NULL;

	if (!addr_is_wildcard(w))
		return false;
	return addr_bytes(w, &b) == AF_INET6 || addr_bytes(a, &b) == AF_INET;
}

int addr_find_served(const struct slb_addr *a, const struct slb_addr *served, unsigned n, addr_local_fn is_local)
{
	for (unsigned i = 0; i < n; i++) {
		if (addr_port(a) != addr_port(&served[i]))
			continue;
		if (addr_same_host(a, &served[i]))
			return (int)i;
		if (wildcard_covers(&served[i], a) && is_local(a))
			return (int)i;
	}
	return -1;
}

/* True when the first prefix bits of x and y agree. */
static bool prefix_equal(const unsigned char *x, const unsigned char *y, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));

	if (memcmp(x, y, whole) != 0)
		return false;
	return rest == 0 || ((x[whole] ^ y[whole]) & mask) == 0;
}

static int cidr_fail(char *err, size_t errlen, const char *why, const char *text)
{
	if (err && errlen)
		snprintf(err, errlen, "%s in network '%.64s'", why, text);
	return -EINVAL;
}

/* True when every bit of net past the first prefix bits is zero. */
static bool host_bits_zero(const unsigned char *net, unsigned prefix, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bit = i * 8;
		unsigned char keep = 0;

		if (bit + 8 <= prefix)
			keep = 0xff;
		else if (bit < prefix)
			keep = (unsigned char)(0xff << (8 - (prefix - bit)));
		if (net[i] & (unsigned char)~keep)
			return false;
	}
	return true;
}

int addr_parse_cidr(const char *text, struct slb_cidr *out, char *err, size_t errlen)
{
	const char *slash = strchr(text, '/');
	size_t host_len = slash ? (size_t)(slash - text) : strlen(text);
	char host[HOST_TEXT_MAX];
	unsigned max, prefix;

	memset(out, 0, sizeof(*out));
	if (host_len == 0 || host_len >= sizeof(host))
		return cidr_fail(err, errlen, "bad address", text);
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	out->family = strchr(host, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(out->family, host, out->net) != 1)
		return cidr_fail(err, errlen, out->family == AF_INET6 ? "bad IPv6 address" : "bad IPv4 address", text);
	max = out->family == AF_INET6 ? 128 : 32;
	prefix = max;
	if (slash) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || errno || *end || v > max)
			return cidr_fail(err, errlen, max == 128 ? "bad prefix (0-128)" : "bad prefix (0-32)", text);
		prefix = (unsigned)v;
	}
	out->prefix = prefix;
	if (!host_bits_zero(out->net, prefix, max / 8))
		return cidr_fail(err, errlen, "host bits set below the prefix", text);
	return 0;
}

/* An IPv4 network sees a mapped peer as the IPv4 address inside; an IPv6 network compares
 * all 16 bytes as they are, so "::ffff:10.0.0.0/104" matches mapped peers too. */
bool addr_in_cidr(const struct slb_addr *a, const struct slb_cidr *c)
{
	const unsigned char *b = NULL;

	if (c->family == AF_INET6 && a->ss.ss_family == AF_INET6)
		return prefix_equal(((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr, c->net, c->prefix);
	return addr_bytes(a, &b) == c->family && prefix_equal(b, c->net, c->prefix);
}

char *addr_format_cidr(const struct slb_cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->net, host, sizeof(host));
	snprintf(buf, len, "%s/%u", host, c->prefix);
	return buf;
}
