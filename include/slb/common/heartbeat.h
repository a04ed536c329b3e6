/* heartbeat: the wire format of the push health protocol, parsed and printed as pure
 * functions over (pointer, length); the health thread owns the sockets and the sessions.
 *
 * Protocol (text lines ending in "\n", "\r\n" accepted, at most HB_LINE_MAX bytes each):
 *   slb -> peer on connect : HELLO slb/1 nonce=<16 hex digits>
 *   peer -> slb            : REGISTER <addr:port> [weight=N] [name=NAME] [service=SERVICE]
 *                            [role=primary|backup] [state=up|drain|down] [load=0-100]
 *                            (role=backup: it takes traffic only while no primary of its
 *                            service is up)
 *   slb -> peer            : OK registered id=<id> interval=<ms> timeout=<ms>
 *                            (or ERR too many backends past --heartbeat-max-backends, or
 *                            ERR unknown service when slb has no service SERVICE; without
 *                            service= the backend is the service "default"'s)
 *   peer -> slb            : HEARTBEAT [state=up|drain|down] [load=0-100]
 *   slb -> peer            : OK state=<state> interval=<ms>
 *   peer -> slb            : BYE                    (leave rotation now; slb answers OK bye and closes)
 *   slb -> peer            : ERR <reason>           (answer to any bad line; after HB_MAX_ERRORS the
 *                                                    connection is closed)
 * Every message may end with "seq=N mac=<64 hex>". When slb runs with --heartbeat-key-file, every
 * REGISTER, HEARTBEAT and BYE must: mac is HMAC-SHA256 (RFC 2104, key = the key file's bytes
 * less a trailing newline) over "<nonce> <line before ' mac='>", written in lowercase hex, where
 * nonce is the 16 hex digits of this connection's HELLO (random per connection, so a line is
 * worthless on any other connection), and seq must rise strictly within the connection (a
 * replayed line is refused). For example, with nonce 0011223344556677 the peer signs
 *   "0011223344556677 HEARTBEAT state=up seq=7"   and sends   "HEARTBEAT state=up seq=7 mac=<hex>".
 * Refusals: "ERR missing mac", "ERR bad mac", "ERR seq not rising"; each counts towards
 * HB_MAX_ERRORS, and only a line that verifies advances seq. Without a key, seq and mac are
 * parsed and ignored. slb's own lines are not signed.
 * The backend is in rotation from its REGISTER (state up) until its connection closes, it
 * sends BYE or state=down, or heartbeat timeout passes without a message. */
#ifndef SLB_HEARTBEAT_H
#define SLB_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/addr.h"

#define HB_LINE_MAX 512
#define HB_NAME_MAX 64
#define HB_SERVICE_MAX 33 /* a service name, 1-32 of [a-z0-9_-], and its NUL */
#define HB_MAX_ERRORS 3
#define HB_MAC_HEX 64

enum hb_verb {
	HB_VERB_NONE = 0,
	HB_VERB_REGISTER,
	HB_VERB_HEARTBEAT,
	HB_VERB_BYE,
};

enum hb_state {
	HB_STATE_UP = 0,
	HB_STATE_DRAIN,
	HB_STATE_DOWN,
};

struct hb_msg {
	enum hb_verb verb;
	struct slb_addr addr;     /* REGISTER only */
	unsigned weight;          /* 1..256; 0 when not given */
	char name[HB_NAME_MAX];   /* "" when not given */
	char service[HB_SERVICE_MAX]; /* REGISTER: the service it joins; "" when not given */
	bool backup;              /* REGISTER: role=backup (false: primary, or not given) */
	bool has_state;
	enum hb_state state;
	int load;                 /* 0..100, or -1 when not given */
	bool has_seq;
	uint64_t seq;
	bool has_mac;
	char mac[HB_MAC_HEX + 1];
	size_t signed_len;        /* bytes of the line covered by the MAC (before " mac=") */
	bool legacy;              /* from a "heartbeat:<port>" line (hb_parse_legacy) */
};

/* Parses one line (without its "\n"; a trailing "\r" is ignored). Returns 0, or -EINVAL with
 * a reason in err that is safe to send back to the peer (no bytes of the input in it). */
int hb_parse_line(const char *line, size_t len, struct hb_msg *out, char *err, size_t errlen);

/* The dialect of the original SmartLoadBalancer's backends: "heartbeat:<port>" (no line
 * ending, no spaces; port 1-65535 in decimal, no sign or leading zero). Pure. Returns 0 with
 * *port set, or -EINVAL for any other line. */
int hb_parse_legacy(const char *line, size_t len, unsigned *port);

const char *hb_state_name(enum hb_state s);
const char *hb_verb_name(enum hb_verb v);

/* Checks a backend name (1..HB_NAME_MAX-1 bytes of printable ASCII without '"' or '\\', so
 * it is safe in logs, JSON and Prometheus labels) and copies it NUL-terminated into out.
 * Returns 0, or -EINVAL with out unchanged. */
int hb_parse_name(const char *s, size_t len, char *out);

#endif
