/* config_host: the address part of --backend when it is a host name (web.internal:8080), which
 * the resolver thread looks up later (src/control/resolver.h); literal addresses go on to
 * addr_parse_n as before. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "slb/common/config.h"

/* Why host cannot be a DNS name, or NULL: RFC 1123 labels of letters, digits, '-' (not at
 * either end; '_' too, as internal zones use it), 1-63 characters each, 253 in all, an
 * optional final '.'. */
static const char *host_problem(const char *host, size_t len)
{
	size_t label = 0;

	if (len == 0 || len >= CONFIG_HOST_MAX)
		return "a host name is 1 to 253 characters";
	for (size_t i = 0; i < len; i++) {
		char c = host[i];

		if (c == '.' && (label == 0 || host[i - 1] == '-'))
			return "a host name label is empty or ends with '-'";
		if (c == '.')
			label = 0;
		else if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return "a host name holds only letters, digits, '-', '_' and '.'";
		else if (label++ == 0 && c == '-')
			return "a host name label starts with '-'";
		if (label > 63)
			return "a host name label is at most 63 characters";
	}
	return host[len - 1] == '-' ? "a host name label ends with '-'" : NULL;
}

/* A host part with no letter (1.2.3, 300.1.1.1) is a mistyped address, not a name: it keeps
 * addr_parse_n's "bad IPv4 address"; so do localhost, '*' and "[v6]". */
static bool looks_like_name(const char *host, size_t len)
{
	bool letter = false;

	if (len == 0 || host[0] == '[' || (len == 9 && memcmp(host, "localhost", 9) == 0))
		return false;
	for (size_t i = 0; i < len; i++)
		letter |= isalpha((unsigned char)host[i]) != 0;
	return letter;
}

/* See config.h. */
int config_parse_backend_addr(const char *text, size_t len, struct config_backend *out, char *err, size_t errlen)
{
	const char *colon = memrchr(text, ':', len);
	size_t host_len = colon ? (size_t)(colon - text) : len;
	const char *problem;
	unsigned port;

	if (!colon || !looks_like_name(text, host_len) || memchr(text, ':', host_len))
		return addr_parse_n(text, len, &out->addr, err, errlen);
	problem = host_problem(text, host_len);
	if (problem || addr_parse_port(colon + 1, len - host_len - 1, &port) || port == 0) {
		snprintf(err, errlen, "%s in address '%.*s'", problem ? problem : "bad port (1-65535)",
			 (int)(len > 64 ? 64 : len), text);
		return -EINVAL;
	}
	memcpy(out->host, text, host_len);
	out->host[host_len] = '\0';
	out->port = (uint16_t)port;
	return 0;
}

/* See config.h. */
bool config_backend_same(const struct config_backend *a, const struct config_backend *b)
{
	if (a->host[0] || b->host[0])
		return a->port == b->port && strcasecmp(a->host, b->host) == 0;
	return addr_equal(&a->addr, &b->addr);
}
