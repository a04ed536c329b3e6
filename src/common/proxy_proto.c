/* proxy_proto: PROXY protocol v1 (one text line) and v2 (binary) headers, parsed with every
 * length checked against the bytes actually there, and written for backends. The rules
 * followed are the public specification's (haproxy.org, doc/proxy-protocol.txt). */
#include "slb/common/proxy_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
static const char v1_sig[] = "PROXY ";

#define V2_CMD_LOCAL 0x20
#define V2_CMD_PROXY 0x21
#define V2_FAM_UNSPEC 0x00
#define V2_FAM_TCP4 0x11
#define V2_FAM_TCP6 0x21
#define V2_FAM_UNIX 0x31
#define V2_LEN_TCP4 12
#define V2_LEN_TCP6 36
#define V2_LEN_UNIX 216
#define V1_TOKEN_MAX 40 /* an IPv6 address in text is at most 39 bytes */

/* ---- v1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN ...\r\n" ---- */

/* Splits the next space-terminated (or, for the last, end-terminated) token off *p. */
static int v1_token(const char **p, const char *end, bool last, char *tok, size_t toklen)
{
	const char *s = *p, *stop = last ? end : memchr(s, ' ', (size_t)(end - s));
	size_t n;

	if (!stop)
		return -EINVAL;
	n = (size_t)(stop - s);
	if (n == 0 || n >= toklen || memchr(s, '\0', n))
		return -EINVAL;
	memcpy(tok, s, n);
	tok[n] = '\0';
	*p = last ? stop : stop + 1;
	return 0;
}

static int v1_port(const char *tok, uint16_t *port)
{
	unsigned v;

	if (addr_parse_port(tok, strlen(tok), &v))
		return -EINVAL;
	*port = htons((uint16_t)v);
	return 0;
}

static void addr_set_ip(struct slb_addr *a, int family, const void *ip, uint16_t port_net)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ip, 4);
		sin->sin_port = port_net;
		a->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, ip, 16);
		sin6->sin6_port = port_net;
		a->len = sizeof(*sin6);
	}
}

/* The fields of a TCP4/TCP6 line, between the protocol and the "\r\n". */
static int v1_parse_fields(const char *p, const char *end, int family, struct proxy_info *out)
{
	char tok[4][V1_TOKEN_MAX];
	unsigned char ip[2][16];
	uint16_t port[2];

	for (int i = 0; i < 4; i++)
		if (v1_token(&p, end, i == 3, tok[i], sizeof(tok[i])))
			return -EINVAL;
	if (inet_pton(family, tok[0], ip[0]) != 1 || inet_pton(family, tok[1], ip[1]) != 1 ||
	    v1_port(tok[2], &port[0]) || v1_port(tok[3], &port[1]))
		return -EINVAL;
	addr_set_ip(&out->src, family, ip[0], port[0]);
	addr_set_ip(&out->dst, family, ip[1], port[1]);
	out->has_addrs = true;
	return 0;
}

static int v1_parse(const char *buf, size_t len, struct proxy_info *out)
{
	size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	const char *lf = memchr(buf, '\n', scan), *p = buf + 6, *end;

	if (!lf)
		return len >= PROXY_V1_MAX ? -EINVAL : 0;
	end = lf - 1; /* the '\r' */
	if (end < p || *end != '\r' || memchr(buf, '\r', (size_t)(end - buf)))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	/* UNKNOWN: the receiver must ignore the rest of the line and keep its own addresses */
	if ((size_t)(end - p) >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (end - p == 7 || p[7] == ' '))
		return (int)(lf - buf + 1);
	if ((size_t)(end - p) < 5 || p[4] != ' ' || memcmp(p, "TCP", 3) != 0 || (p[3] != '4' && p[3] != '6'))
		return -EINVAL;
	if (v1_parse_fields(p + 5, end, p[3] == '4' ? AF_INET : AF_INET6, out))
		return -EINVAL;
	return (int)(lf - buf + 1);
}

/* ---- v2: 12-byte signature, version/command, family, 16-bit length, addresses, TLVs ---- */

/* TLVs (type, 16-bit length, value) must tile the rest of the payload exactly. */
static int v2_check_tlvs(const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t vlen;

		if (len < 3)
			return -EINVAL;
		vlen = ((size_t)p[1] << 8) | p[2];
		if (vlen > len - 3)
			return -EINVAL;
		p += 3 + vlen;
		len -= 3 + vlen;
	}
	return 0;
}

static int v2_parse_addrs(const unsigned char *p, unsigned fam, size_t plen, struct proxy_info *out)
{
	size_t need = fam == V2_FAM_TCP4 ? V2_LEN_TCP4 : fam == V2_FAM_TCP6 ? V2_LEN_TCP6 : V2_LEN_UNIX;
	size_t ip_len = fam == V2_FAM_TCP4 ? 4 : 16;
	uint16_t ports[2];

	if (plen < need || v2_check_tlvs(p + need, plen - need))
		return -EINVAL;
	if (fam == V2_FAM_UNIX)
		return 0; /* no IP addresses: the connection's own are kept */
	memcpy(ports, p + 2 * ip_len, sizeof(ports));
	addr_set_ip(&out->src, fam == V2_FAM_TCP4 ? AF_INET : AF_INET6, p, ports[0]);
	addr_set_ip(&out->dst, fam == V2_FAM_TCP4 ? AF_INET : AF_INET6, p + ip_len, ports[1]);
	out->has_addrs = true;
	return 0;
}

static int v2_parse(const unsigned char *buf, size_t len, struct proxy_info *out)
{
	size_t plen;
	unsigned cmd, fam;

	if (len < PROXY_V2_FIXED)
		return 0;
	cmd = buf[12];
	fam = buf[13];
	plen = ((size_t)buf[14] << 8) | buf[15];
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return -EINVAL;
	if (fam != V2_FAM_UNSPEC && fam != V2_FAM_TCP4 && fam != V2_FAM_TCP6 && fam != V2_FAM_UNIX)
		return -EINVAL; /* datagram families have no place on a TCP listener */
	if (plen > PROXY_V2_PAYLOAD_MAX)
		return -E2BIG;
	if (len < PROXY_V2_FIXED + plen)
		return 0;
	memset(out, 0, sizeof(*out));
	/* LOCAL (a health check from the balancer itself) and UNSPEC carry no addresses to use;
	 * whatever follows is skipped, as the specification asks. */
	if (cmd == V2_CMD_PROXY && fam != V2_FAM_UNSPEC && v2_parse_addrs(buf + PROXY_V2_FIXED, fam, plen, out))
		return -EINVAL;
	return (int)(PROXY_V2_FIXED + plen);
}

int proxy_parse(const void *buf, size_t len, struct proxy_info *out)
{
	const unsigned char *b = buf;
	size_t n;

	if (len == 0)
		return 0;
	if (b[0] == v1_sig[0]) {
		n = len < 6 ? len : 6;
		if (memcmp(b, v1_sig, n) != 0)
			return -EINVAL;
		return len < 6 ? 0 : v1_parse(buf, len, out);
	}
	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(b, v2_sig, n) != 0)
		return -EINVAL;
	return v2_parse(b, len, out);
}

/* ---- building ---- */

static bool addrs_are_ip_pair(const struct slb_addr *src, const struct slb_addr *dst)
{
	int f = src->ss.ss_family;

	return f == dst->ss.ss_family && (f == AF_INET || f == AF_INET6);
}

static const void *addr_ip(const struct slb_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return &((const struct sockaddr_in *)&a->ss)->sin_addr;
	return &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
}

static uint16_t addr_port_net(const struct slb_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_port;
	return ((const struct sockaddr_in6 *)&a->ss)->sin6_port;
}

static int build_v1(const struct slb_addr *src, const struct slb_addr *dst, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int af = src->ss.ss_family, n;

	if (!addrs_are_ip_pair(src, dst))
		n = snprintf(buf, len, "PROXY UNKNOWN\r\n");
	else
		n = snprintf(buf, len, "PROXY TCP%c %s %s %u %u\r\n", af == AF_INET ? '4' : '6',
			     inet_ntop(af, addr_ip(src), s, sizeof(s)), inet_ntop(af, addr_ip(dst), d, sizeof(d)),
			     ntohs(addr_port_net(src)), ntohs(addr_port_net(dst)));
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static int build_v2(const struct slb_addr *src, const struct slb_addr *dst, unsigned char *buf, size_t len)
{
	bool ip = addrs_are_ip_pair(src, dst);
	bool v4 = src->ss.ss_family == AF_INET;
	size_t ip_len = v4 ? 4 : 16, plen = !ip ? 0 : v4 ? V2_LEN_TCP4 : V2_LEN_TCP6;
	uint16_t ports[2];

	if (len < PROXY_V2_FIXED + plen)
		return -ENOSPC;
	memcpy(buf, v2_sig, sizeof(v2_sig));
	buf[12] = ip ? V2_CMD_PROXY : V2_CMD_LOCAL;
	buf[13] = !ip ? V2_FAM_UNSPEC : v4 ? V2_FAM_TCP4 : V2_FAM_TCP6;
	buf[14] = 0;
	buf[15] = (unsigned char)plen;
	if (!ip)
		return PROXY_V2_FIXED;
	memcpy(buf + PROXY_V2_FIXED, addr_ip(src), ip_len);
	memcpy(buf + PROXY_V2_FIXED + ip_len, addr_ip(dst), ip_len);
	ports[0] = addr_port_net(src);
	ports[1] = addr_port_net(dst);
	memcpy(buf + PROXY_V2_FIXED + 2 * ip_len, ports, sizeof(ports));
	return (int)(PROXY_V2_FIXED + plen);
}

int proxy_build(enum proxy_version ver, const struct slb_addr *src, const struct slb_addr *dst, void *buf,
		size_t len)
{
	return proxy_build_authority(ver, src, dst, NULL, 0, buf, len);
}

/* Appends the PP2_TYPE_AUTHORITY TLV (0x02: the host name the client asked for) to the v2
 * header of hdr bytes in buf, and counts it in the header's length. */
static int v2_add_authority(unsigned char *buf, int hdr, size_t len, const char *name, size_t name_len)
{
	size_t plen = (size_t)hdr - PROXY_V2_FIXED + 3 + name_len;

	if ((size_t)hdr + 3 + name_len > len)
		return -ENOSPC;
	buf[hdr] = PP2_TYPE_AUTHORITY;
	buf[hdr + 1] = (unsigned char)(name_len >> 8);
	buf[hdr + 2] = (unsigned char)name_len;
	memcpy(buf + hdr + 3, name, name_len);
	buf[14] = (unsigned char)(plen >> 8);
	buf[15] = (unsigned char)plen;
	return (int)(hdr + 3 + name_len);
}

int proxy_build_authority(enum proxy_version ver, const struct slb_addr *src, const struct slb_addr *dst,
			  const char *name, size_t name_len, void *buf, size_t len)
{
	int n;

	if (ver == PROXY_V1)
		return build_v1(src, dst, buf, len);
	if (ver != PROXY_V2)
		return -EINVAL;
	n = build_v2(src, dst, buf, len);
	/* a LOCAL header (addresses not IP) tells the backend to ignore what follows */
	if (n < 0 || !name_len || n == PROXY_V2_FIXED || name_len > PROXY_AUTHORITY_MAX)
		return n;
	return v2_add_authority(buf, n, len, name, name_len);
}

const char *proxy_version_name(enum proxy_version ver)
{
	return ver == PROXY_V1 ? "v1" : ver == PROXY_V2 ? "v2" : "off";
}
