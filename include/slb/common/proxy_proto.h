/* proxy_proto: the PROXY protocol (HAProxy's, versions 1 and 2) that carries a client's
 * address across a Layer-4 hop: parsed when slb sits behind another balancer
 * (--accept-proxy), written when a backend wants it (--send-proxy). Pure functions over
 * bytes: no sockets, so the parser is unit-tested and fuzzed on its own. */
#ifndef SLB_PROXY_PROTO_H
#define SLB_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "slb/common/addr.h"

#define PROXY_V1_MAX 107          /* the spec's longest v1 line, "\r\n" included */
#define PROXY_V2_FIXED 16         /* signature, version/command, family, length */
#define PROXY_V2_PAYLOAD_MAX 1024 /* addresses plus TLVs slb accepts; more is refused */
#define PROXY_HDR_MAX (PROXY_V2_FIXED + PROXY_V2_PAYLOAD_MAX)

enum proxy_version {
	PROXY_NONE = 0,
	PROXY_V1 = 1,
	PROXY_V2 = 2,
};

struct proxy_info {
	bool has_addrs;      /* false: v1 UNKNOWN, v2 LOCAL or a family without IP addresses;
			      * the receiver keeps the connection's own addresses */
	struct slb_addr src; /* the original client, when has_addrs */
	struct slb_addr dst; /* the address the client connected to, when has_addrs */
};

/* Parses the PROXY header at the start of buf[0..len), v1 or v2 (told apart by the first
 * byte). Never reads past len. Returns the header's length (> 0) once a whole valid header is
 * there, with out filled; 0 when every byte so far is a valid prefix and more are needed;
 * -EINVAL when the bytes are not a PROXY header or break its rules (v1 longer than
 * PROXY_V1_MAX, bad tokens; v2 bad version, command, family or a length shorter than the
 * family's addresses or than its TLVs say); -E2BIG for a v2 payload over PROXY_V2_PAYLOAD_MAX. */
int proxy_parse(const void *buf, size_t len, struct proxy_info *out);

/* Writes a version-ver header saying src connected to dst into buf (len bytes; 108 suffice
 * for v1, 52 for v2). Addresses of different families (or not IP) give "PROXY UNKNOWN" (v1)
 * or a LOCAL header (v2). Returns the header's length, or -ENOSPC when it does not fit,
 * -EINVAL for another ver. */
int proxy_build(enum proxy_version ver, const struct slb_addr *src, const struct slb_addr *dst, void *buf,
		size_t len);

#define PP2_TYPE_AUTHORITY 0x02 /* v2 TLV: the host name the client asked for (its TLS server name) */
#define PROXY_AUTHORITY_MAX 255 /* the longest authority proxy_build_authority writes */

/* proxy_build, and for v2 a PP2_TYPE_AUTHORITY TLV carrying name[0..name_len) after the
 * addresses, when name_len is 1 to PROXY_AUTHORITY_MAX and the header is a PROXY one (not
 * LOCAL). v1 has no TLVs: name is ignored. Returns the header's length, -ENOSPC when it does
 * not fit in len, -EINVAL for another ver. */
int proxy_build_authority(enum proxy_version ver, const struct slb_addr *src, const struct slb_addr *dst,
			  const char *name, size_t name_len, void *buf, size_t len);

/* "v1", "v2" or "off". */
const char *proxy_version_name(enum proxy_version ver);

#endif
