/* tls_hello: reads the server name (SNI, RFC 6066 section 3) and the ALPN list (RFC 7301)
 * out of a client's TLS ClientHello, so a worker can route a TLS connection it does not
 * decrypt. Pure function over the bytes received so far: no sockets, no allocation, no
 * state between calls, so the worker calls it again on the whole buffer after each read, and
 * it is unit-tested and fuzzed on its own.
 *
 * Records. The hello is a handshake message carried by TLS records (RFC 8446 section 5.1:
 * a 5-byte header, type 22, version 0x0301-0x0304, 1 to 16384 bytes of payload). It nearly
 * always fits in the first record (a post-quantum key share makes it ~1.8 KB, far below the
 * 16 KiB record limit), but a client may split it across several records, and some do on
 * purpose (DPI evasion), which puts the server name, usually behind the key share, in a
 * later record. The parser follows the hello across consecutive handshake records without
 * copying it: a cursor steps over the record headers in the caller's buffer. Every record
 * the hello spans, headers included, must fit in TLS_HELLO_SPAN_MAX bytes (one maximal
 * record), so a caller buffer of that size always suffices, and be at most
 * TLS_HELLO_RECORDS_MAX records: the caller parses the whole buffer again after each read, so
 * a hello cut into thousands of one-byte records would cost a rescan of every header per
 * byte. A hello past either limit is -E2BIG, which the caller can treat apart from a
 * malformed one (fallback rather than close).
 * Bytes after the hello's end in its last record are left alone (the backend judges them).
 *
 * Output. The server name and ALPN list are copied into struct tls_hello (fixed arrays, no
 * allocation) rather than pointed to in the buffer: matching wants the name lowercased, and
 * the client's bytes may not be changed (they are hashed into the TLS transcript); a field of
 * a split hello may also straddle a record header. So the result outlives the buffer. */
#ifndef SLB_TLS_HELLO_H
#define SLB_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

#define TLS_RECORD_HEADER 5                                  /* type, version, 16-bit length */
#define TLS_RECORD_MAX 16384                                 /* 2^14: a longer record is malformed */
#define TLS_HELLO_SPAN_MAX (TLS_RECORD_HEADER + TLS_RECORD_MAX) /* the buffer a caller needs */
#define TLS_HELLO_RECORDS_MAX 64                             /* records one hello may span */
#define TLS_NAME_MAX 255                                     /* RFC 6066 HostName, as slb accepts it */
#define TLS_ALPN_KEEP 128                                    /* ALPN bytes kept for the log */

struct tls_hello {
	size_t need;                        /* when tls_hello_parse returns 0: the buffer must
					     * hold at least this many bytes (> len) before an
					     * answer other than "need more" is possible */
	unsigned records;                   /* records the hello spans: 1 but for a split hello */
	size_t name_len;                    /* 0: no server_name extension or no host_name in it */
	char name[TLS_NAME_MAX + 1];        /* host_name, lowercased, NUL-terminated */
	unsigned alpn_count;                /* protocols the client offered; 0: no ALPN */
	size_t alpn_len;                    /* bytes used in alpn[] */
	unsigned char alpn[TLS_ALPN_KEEP];  /* the first offered protocols that fit whole, in
					     * wire form (a length byte, then the name) */
};

/* Parses the ClientHello at the start of buf[0..len), the bytes a client sent first. Never
 * reads past len and never writes to buf (the hello is part of the TLS transcript, so the
 * bytes must reach the backend as they came). Returns:
 *  > 0      a whole, well-formed ClientHello: the bytes its records span from buf[0], headers
 *           included (the caller forwards them, and anything after, unchanged); out holds the
 *           server name and ALPN copied out of buf, so out does not depend on buf afterwards;
 *   0       every byte so far is consistent with a ClientHello not yet whole: out->need says
 *           how many bytes (from buf[0]) are needed at least; once the first record is in
 *           and the hello fits in it, the answer is never 0;
 *  -ENOMSG  not TLS: the first byte is not a handshake record (22) or the record version
 *           is not 0x0301-0x0304 (plain HTTP, SSLv2, another protocol);
 *  -EINVAL  malformed: a record of length 0 or over TLS_RECORD_MAX, a record of another type
 *           inside the hello, a handshake message that is not a ClientHello, or any length
 *           (handshake, session id, cipher suites, compression, extensions, server_name
 *           list, ALPN list) that overruns its container or leaves bytes over; a server_name
 *           or ALPN extension given twice; two host_names; a host_name of 0 or over 255
 *           bytes or holding a NUL; an empty ALPN protocol name;
 *  -E2BIG   a hello that may be valid but whose records do not fit in TLS_HELLO_SPAN_MAX
 *           bytes or TLS_HELLO_RECORDS_MAX records.
 * The answer for a prefix of an input is 0 or the answer for the whole input, so the caller
 * may call again after every read, on however the bytes were segmented. out is written in
 * every case but -ENOMSG; only the fields the answer names are meaningful. */
int tls_hello_parse(const void *buf, size_t len, struct tls_hello *out);

/* Writes the ALPN protocols of a parsed hello as text for the log, comma-separated
 * ("h2,http/1.1"), bytes outside printable ASCII, and ',', '\\' and '"', as \xHH; "" when the
 * client offered none, and ",..." appended when some did not fit in hello->alpn. Returns the
 * length written (without the NUL, always written when size > 0); a text longer than
 * size - 1 is cut at a whole character or escape. */
size_t tls_hello_alpn_text(const struct tls_hello *hello, char *text, size_t size);

#endif
