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

/* Parses a decimal port of 1-5 digits, 0-65535, from text[0..len) (no sign, no spaces).
 * Returns 0 or -EINVAL. */
int addr_parse_port(const char *text, size_t len, unsigned *port);

/* Writes "1.2.3.4:80" or "[::1]:80" into buf (ADDR_TEXT_MAX bytes suffice).
 * Returns buf, so it can be used inline in a log line. */
char *addr_format(const struct slb_addr *a, char *buf, size_t len);

/* True when both hold the same family, address and port. */
bool addr_equal(const struct slb_addr *a, const struct slb_addr *b);

/* Port in host order. */
unsigned addr_port(const struct slb_addr *a);

/* True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8: addresses only this host can reach. */
bool addr_is_loopback(const struct slb_addr *a);

/* A network, for allow-lists. */
struct slb_cidr {
	sa_family_t family;     /* AF_INET or AF_INET6 */
	unsigned prefix;        /* 0..32 or 0..128 */
	unsigned char net[16];  /* network address in network order, host bits zero; AF_INET uses 4 */
};

/* Parses "10.0.0.0/8", "::1/128" or a bare address (one host: /32 or /128). Host bits set
 * below the prefix are refused rather than masked, since "10.1.2.3/8" is usually a typo.
 * Returns 0, or -EINVAL with a one-line reason in err. */
int addr_parse_cidr(const char *text, struct slb_cidr *out, char *err, size_t errlen);

/* True when a's address is inside c. An IPv4-mapped IPv6 peer (what a dual-stack listener
 * sees) matches an IPv4 network as the IPv4 address it carries, and an IPv6 network as the
 * IPv6 address it is (so "::ffff:10.0.0.0/104" works too). */
bool addr_in_cidr(const struct slb_addr *a, const struct slb_cidr *c);

/* Writes "10.0.0.0/8" into buf (ADDR_TEXT_MAX bytes suffice). Returns buf. */
char *addr_format_cidr(const struct slb_cidr *c, char *buf, size_t len);

#endif
