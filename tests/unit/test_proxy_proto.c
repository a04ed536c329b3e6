/* PROXY protocol parser and builder: tables of valid, malformed, incomplete and oversized
 * headers, each parsed from the very end of a page followed by an inaccessible one, so a read
 * past len crashes instead of passing by luck; and every header slb builds parses back. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "slb/common/proxy_proto.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"

static int parse_guarded(const void *hdr, size_t len, struct proxy_info *pi)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	int rc;

	cr_assert(len <= (size_t)page * 2);
	map = mmap(NULL, (size_t)page * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert(mprotect(map + 2 * page, (size_t)page, PROT_NONE) == 0);
	memcpy(map + 2 * page - len, hdr, len);
	rc = proxy_parse(map + 2 * page - len, len, pi);
	munmap(map, (size_t)page * 3);
	return rc;
}

struct pp_case {
	unsigned char hdr[160];
	size_t len;    /* bytes of hdr given to the parser */
	int want;      /* parse result */
	char src[48];  /* as addr_format prints it, "" when no addresses */
	char dst[48];
};

/* Criterion re-executes each case: the structs hold their bytes inline. */
#define V1(s, want, src, dst) { s, sizeof(s) - 1, want, src, dst }

ParameterizedTestParameters(proxy_proto, parse_cases)
{
	static struct pp_case cases[] = {
		/* valid v1 */
		V1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", 45, "192.0.2.1:56324", "198.51.100.2:443"),
		V1("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", 36, "[2001:db8::1]:1", "[::1]:65535"),
		V1("PROXY UNKNOWN\r\n", 15, "", ""),
		V1("PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 1 2\r\n", 43, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.0\r\n", 32, "1.2.3.4:1", "5.6.7.8:2"),
		/* the longest v1 line the spec allows: 107 bytes */
		V1("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		   "65535 65535\r\n", 104, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
		/* incomplete v1: every byte a valid prefix */
		V1("P", 0, "", ""),
		V1("PROXY", 0, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 0, "", ""),
		/* malformed v1 */
		V1("GET / HTTP/1.1\r\n", -EINVAL, "", ""),
		V1("PROXy TCP4", -EINVAL, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", -EINVAL, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", -EINVAL, "", ""),
		V1("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", -EINVAL, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", -EINVAL, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", -EINVAL, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", -EINVAL, "", ""),
		V1("PROXY TCP4 ::1 ::1 1 2\r\n", -EINVAL, "", ""),
		V1("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL, "", ""),
		V1("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL, "", ""),
		V1("PROXY UNKNOWNX\r\n", -EINVAL, "", ""),
		V1("PROXY \r\n", -EINVAL, "", ""),
		V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n", -EINVAL, "", ""),
		/* oversized v1: no CRLF within 107 bytes (108 with it), then exactly 107 */
		V1("PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		   "xxxxxxxxxxxx\r\n", -EINVAL, "", ""),
		V1("PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		   "xxxxxxxxxxx\r\n", 107, "", ""),
		/* valid v2 */
		{ SIG "\x21\x11\x00\x0c\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x01\xbb", 28, 28,
		  "192.0.2.1:56324", "198.51.100.2:443" },
		{ SIG "\x21\x21\x00\x24" "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
		  "\x00\x50\x1f\x90", 52, 52, "[2001:db8::1]:80", "[::1]:8080" },
		{ SIG "\x20\x00\x00\x00", 16, 16, "", "" },                /* LOCAL */
		{ SIG "\x20\x11\x00\x0c\1\2\3\4\5\6\7\x08\0\1\0\2", 28, 28, "", "" }, /* LOCAL ignores addresses */
		{ SIG "\x21\x00\x00\x03\1\2\3", 19, 19, "", "" },          /* PROXY UNSPEC: skipped */
		/* with TLVs: an empty one and a 2-byte one */
		{ SIG "\x21\x11\x00\x14\1\2\3\4\5\6\7\x08\0\1\0\2" "\x04\x00\x00" "\x01\x00\x02h2", 36, 36,
		  "1.2.3.4:1", "5.6.7.8:2" },
		/* incomplete v2 */
		{ SIG "\x21\x11\x00\x0c\1\2\3\4", 24, 0, "", "" },
		{ SIG, 12, 0, "", "" },
		{ "\r\n\r\n\0", 5, 0, "", "" },
		/* malformed v2 */
		{ SIG "\x11\x11\x00\x0c\1\2\3\4\5\6\7\x08\0\1\0\2", 28, -EINVAL, "", "" }, /* version 1 */
		{ SIG "\x22\x11\x00\x0c\1\2\3\4\5\6\7\x08\0\1\0\2", 28, -EINVAL, "", "" }, /* command 2 */
		{ SIG "\x21\x12\x00\x0c\1\2\3\4\5\6\7\x08\0\1\0\2", 28, -EINVAL, "", "" }, /* UDP4 */
		{ SIG "\x21\x41\x00\x0c\1\2\3\4\5\6\7\x08\0\1\0\2", 28, -EINVAL, "", "" }, /* family 4 */
		{ SIG "\x21\x11\x00\x0b\1\2\3\4\5\6\7\x08\0\1\0", 27, -EINVAL, "", "" },   /* short for TCP4 */
		{ SIG "\x21\x21\x00\x0c\1\2\3\4\5\6\7\x08\0\1\0\2", 28, -EINVAL, "", "" }, /* short for TCP6 */
		{ SIG "\x21\x11\x00\x10\1\2\3\4\5\6\7\x08\0\1\0\2" "\x01\x00\x05h", 32, -EINVAL, "", "" }, /* TLV overrun */
		{ SIG "\x21\x11\x00\x0e\1\2\3\4\5\6\7\x08\0\1\0\2" "\x01\x00", 30, -EINVAL, "", "" }, /* TLV cut */
		{ "\r\n\r\n\0\r\nQUIX\n", 12, -EINVAL, "", "" },
		{ "\r\n\r\nX", 5, -EINVAL, "", "" },
		/* oversized v2: a payload over PROXY_V2_PAYLOAD_MAX is refused before it arrives */
		{ SIG "\x21\x11\x04\x01", 16, -E2BIG, "", "" },
		{ SIG "\x21\x11\xff\xff", 16, -E2BIG, "", "" },
		/* neither */
		{ "\x16\x03\x01", 3, -EINVAL, "", "" },
		{ "", 0, 0, "", "" },
	};

	return cr_make_param_array(struct pp_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct pp_case *c, proxy_proto, parse_cases)
{
	struct proxy_info pi;
	char a[ADDR_TEXT_MAX];
	int rc = parse_guarded(c->hdr, c->len, &pi);

	cr_assert_eq(rc, c->want, "header of %zu bytes '%.40s': got %d, want %d", c->len, c->hdr, rc, c->want);
	if (rc <= 0)
		return;
	cr_assert_eq(pi.has_addrs, c->src[0] != '\0');
	if (!pi.has_addrs)
		return;
	cr_assert_str_eq(addr_format(&pi.src, a, sizeof(a)), c->src);
	cr_assert_str_eq(addr_format(&pi.dst, a, sizeof(a)), c->dst);
}

/* A whole v2 header with the largest payload accepted parses; one byte short waits. */
Test(proxy_proto, v2_payload_at_the_limit)
{
	static unsigned char hdr[PROXY_HDR_MAX];
	struct proxy_info pi;
	size_t plen = PROXY_V2_PAYLOAD_MAX;

	memcpy(hdr, SIG "\x21\x11", 14);
	hdr[14] = (unsigned char)(plen >> 8);
	hdr[15] = (unsigned char)plen;
	memset(hdr + 16, 0, plen);
	/* addresses, then one TLV that fills the rest */
	hdr[16 + 12] = 0xee;
	hdr[16 + 13] = (unsigned char)((plen - 15) >> 8);
	hdr[16 + 14] = (unsigned char)(plen - 15);
	cr_assert_eq(parse_guarded(hdr, sizeof(hdr) - 1, &pi), 0);
	cr_assert_eq(parse_guarded(hdr, sizeof(hdr), &pi), (int)sizeof(hdr));
	cr_assert(pi.has_addrs);
}

struct build_case {
	char src[48];
	char dst[48];
	int ver;
	char want_v1[120]; /* the exact v1 text, or "" for v2 */
};

ParameterizedTestParameters(proxy_proto, build_round_trips)
{
	static struct build_case cases[] = {
		{ "192.0.2.1:56324", "198.51.100.2:443", 1, "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" },
		{ "[2001:db8::1]:1", "[::1]:65535", 1, "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n" },
		{ "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		  1, "" },
		{ "192.0.2.1:56324", "198.51.100.2:443", 2, "" },
		{ "[2001:db8::1]:1", "[::1]:65535", 2, "" },
	};

	return cr_make_param_array(struct build_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct build_case *c, proxy_proto, build_round_trips)
{
	struct slb_addr src, dst;
	struct proxy_info pi;
	char buf[PROXY_V1_MAX + 1], a[ADDR_TEXT_MAX];
	int n;

	cr_assert_eq(addr_parse(c->src, &src, NULL, 0), 0);
	cr_assert_eq(addr_parse(c->dst, &dst, NULL, 0), 0);
	n = proxy_build((enum proxy_version)c->ver, &src, &dst, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	if (c->want_v1[0])
		cr_assert(n == (int)strlen(c->want_v1) && memcmp(buf, c->want_v1, (size_t)n) == 0);
	cr_assert_eq(parse_guarded(buf, (size_t)n, &pi), n);
	cr_assert(pi.has_addrs);
	cr_assert_str_eq(addr_format(&pi.src, a, sizeof(a)), c->src);
	cr_assert_str_eq(addr_format(&pi.dst, a, sizeof(a)), c->dst);
}

Test(proxy_proto, build_mixed_families_says_unknown_or_local)
{
	struct slb_addr v4, v6;
	struct proxy_info pi;
	char buf[64];

	cr_assert_eq(addr_parse("1.2.3.4:5", &v4, NULL, 0), 0);
	cr_assert_eq(addr_parse("[::1]:5", &v6, NULL, 0), 0);
	cr_assert_eq(proxy_build(PROXY_V1, &v4, &v6, buf, sizeof(buf)), 15);
	cr_assert(memcmp(buf, "PROXY UNKNOWN\r\n", 15) == 0);
	cr_assert_eq(proxy_build(PROXY_V2, &v6, &v4, buf, sizeof(buf)), 16);
	cr_assert_eq(parse_guarded(buf, 16, &pi), 16);
	cr_assert_not(pi.has_addrs);
}

Test(proxy_proto, build_refuses_a_short_buffer)
{
	struct slb_addr a;
	char buf[20];

	cr_assert_eq(addr_parse("192.0.2.1:56324", &a, NULL, 0), 0);
	cr_assert_eq(proxy_build(PROXY_V1, &a, &a, buf, sizeof(buf)), -ENOSPC);
	cr_assert_eq(proxy_build(PROXY_V2, &a, &a, buf, sizeof(buf)), -ENOSPC);
	cr_assert_eq(proxy_build(PROXY_NONE, &a, &a, buf, sizeof(buf)), -EINVAL);
}

/* Issue 21: the TLS server name routed on goes to the backend as PP2_TYPE_AUTHORITY, a TLV
 * after the addresses that the header's length counts, and the header still parses. */
Test(proxy_proto, v2_carries_the_server_name_as_authority)
{
	struct slb_addr src, dst;
	struct proxy_info pi;
	unsigned char buf[PROXY_V2_FIXED + 12 + 3 + 64];
	int n;

	cr_assert_eq(addr_parse("192.0.2.1:56324", &src, NULL, 0), 0);
	cr_assert_eq(addr_parse("198.51.100.2:443", &dst, NULL, 0), 0);
	n = proxy_build_authority(PROXY_V2, &src, &dst, "api.example.com", 15, buf, sizeof(buf));
	cr_assert_eq(n, PROXY_V2_FIXED + 12 + 3 + 15);
	cr_assert_eq((buf[14] << 8) | buf[15], 12 + 3 + 15, "the length counts the TLV");
	cr_assert_eq(buf[PROXY_V2_FIXED + 12], PP2_TYPE_AUTHORITY);
	cr_assert_eq((buf[PROXY_V2_FIXED + 13] << 8) | buf[PROXY_V2_FIXED + 14], 15);
	cr_assert_eq(memcmp(buf + PROXY_V2_FIXED + 15, "api.example.com", 15), 0);
	cr_assert_eq(proxy_parse(buf, (size_t)n, &pi), n, "slb's own parser takes it");
	cr_assert(addr_equal(&pi.src, &src));
	/* no name, v1 (no TLVs) and a buffer too short */
	cr_assert_eq(proxy_build_authority(PROXY_V2, &src, &dst, NULL, 0, buf, sizeof(buf)), PROXY_V2_FIXED + 12);
	cr_assert_eq(proxy_build_authority(PROXY_V1, &src, &dst, "a.b", 3, buf, sizeof(buf)),
		     proxy_build(PROXY_V1, &src, &dst, buf, sizeof(buf)));
	cr_assert_eq(proxy_build_authority(PROXY_V2, &src, &dst, "api.example.com", 15, buf, PROXY_V2_FIXED + 20),
		     -ENOSPC);
}
