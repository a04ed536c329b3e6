/* addr: parses and prints socket addresses written "ADDR:PORT" or "[V6]:PORT".
 * Pure functions with no sockets, shared by flags, heartbeats and the admin endpoint. */
#ifndef SLB_ADDR_H
#define SLB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define ADDR_TEXT_MAX 64 /* "[ffff:...:ffff]:65535" with room to spare */

struct slb_addr {
	struct sockaddr_storage ss; /* AF_INET or AF_INET6 */
	socklen_t len;              /* sizeof the family's sockaddr */
};

/* Parses "1.2.3.4:80", "[::1]:80", "localhost:80" or "*:80" (any IPv4 address).
 * Host names other than localhost are refused: slb never blocks on DNS.
 * Returns 0, or -EINVAL with a one-line reason in err. */
int addr_parse(const char *text, struct slb_addr *out, char *err, size_t errlen);

/* Same as addr_parse, for a text of len bytes that need not be NUL-terminated. */
int addr_parse_n(const char *text, size_t len, struct slb_addr *out, char *err, size_t errlen);

/* Writes "1.2.3.4:80" or "[::1]:80" into buf (ADDR_TEXT_MAX bytes suffice).
 * Returns buf, so it can be used inline in a log line. */
char *addr_format(const struct slb_addr *a, char *buf, size_t len);

/* True when both hold the same family, address and port. */
bool addr_equal(const struct slb_addr *a, const struct slb_addr *b);

/* Port in host order. */
unsigned addr_port(const struct slb_addr *a);

#endif
