/* addr: parses, prints and classifies socket addresses written "ADDR:PORT" or "[V6]:PORT".
 * Pure functions with no sockets, shared by flags, heartbeats and the admin endpoint, except
 * addr_is_local, which asks the kernel. */
#ifndef SLB_ADDR_H
#define SLB_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* Sets the port (host order) of an AF_INET or AF_INET6 address. */
void addr_set_port(struct slb_addr *a, unsigned port);

/* Port in network order, read where AF_INET and AF_INET6 both keep it: one load, for the
 * data plane's per-connection comparison. */
static inline uint16_t addr_port_raw(const struct slb_addr *a)
{
	return ((const struct sockaddr_in *)&a->ss)->sin_port;
}

/* True when a and b hold the same host address (IPv4-mapped IPv6 folded to IPv4), whatever
 * their ports. */
bool addr_same_host(const struct slb_addr *a, const struct slb_addr *b);

/* True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8: addresses only this host can reach. */
bool addr_is_loopback(const struct slb_addr *a);

/* What kind of destination an address is. Only a unicast address names a single host slb
 * can connect to; the rest are refused wherever a backend address comes in. */
enum addr_kind {
	ADDR_KIND_UNICAST = 0,
	ADDR_KIND_UNSPECIFIED, /* 0.0.0.0, ::, ::ffff:0.0.0.0 (a wildcard, not a host) */
	ADDR_KIND_MULTICAST,   /* 224.0.0.0/4, ff00::/8 and their IPv4-mapped forms */
	ADDR_KIND_BROADCAST,   /* 255.255.255.255 (and ::ffff:255.255.255.255) */
};

/* The kind of a's address (IPv4-mapped IPv6 folded to IPv4). Pure. */
enum addr_kind addr_classify(const struct slb_addr *a);

/* "unicast", "unspecified", "multicast" or "broadcast". */
const char *addr_kind_name(enum addr_kind k);

/* NULL when a is a single unicast host, else a fixed one-line reason that names the kind
 * ("address is multicast, not a single host"), safe to send to an untrusted peer. */
const char *addr_host_problem(const struct slb_addr *a);

/* How a caller learns whether an address is assigned to this host (tests pass a fake). */
typedef bool (*addr_local_fn)(const struct slb_addr *a);

/* True when a's address is assigned to an interface of this host, or is loopback: a socket can
 * bind it (port 0, so no port is taken). EADDRNOTAVAIL means not local; any other failure
 * (no descriptor left) answers true, since a caller refusing an address it cannot prove
 * foreign is safer than a loop. Costs a socket and a bind: for configuration and the control
 * plane, never per connection. */
bool addr_is_local(const struct slb_addr *a);

/* True when a is the wildcard of its family ("*", 0.0.0.0, ::). */
bool addr_is_wildcard(const struct slb_addr *a);

/* Index in served[0..n) of the address slb serves that a would reach: an equal one (IPv4-mapped
 * forms folded), or a wildcard one with a's port when is_local(a) (an IPv6 wildcard listens on
 * IPv4 too). Returns -1 when none; is_local is called only for a wildcard on a's port. */
int addr_find_served(const struct slb_addr *a, const struct slb_addr *served, unsigned n, addr_local_fn is_local);

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
