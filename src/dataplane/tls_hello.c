/* tls_hello: the ClientHello read in two passes over the caller's buffer. The first walks
 * the record headers only, so a hello still arriving costs a few header reads per call
 * however it is segmented, and answers "need more" with the least the caller must wait for.
 * The second, once every record the hello spans is in, reads the hello through a cursor that
 * steps over record headers, every vector bounded by its own length and by its container.
 * Formats learnt from RFC 8446 (sections 4.1.2, 4.2 and 5.1), RFC 6066 section 3 and RFC 7301. */
#include "slb/dataplane/tls_hello.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define REC_HANDSHAKE 22
#define HS_CLIENT_HELLO 1
#define HS_HEADER 4 /* msg_type, 24-bit length */
#define HELLO_RANDOM 32
#define SESSION_ID_MAX 32
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define SNI_HOST_NAME 0

static size_t be16(const unsigned char *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* 3.1 (TLS 1.0) to 3.4: record versions and ClientHello.legacy_version alike. SSL 3.0 (3.0)
 * is refused: RFC 8446 appendix D.5 has servers abort on it. */
static bool version_ok(size_t major, size_t minor)
{
	return major == 3 && minor >= 1 && minor <= 4;
}

/* ---- pass 1: the records the hello spans ---- */

struct span {
	size_t end;                   /* end of the last whole record walked, offset in buf */
	unsigned records;             /* whole records walked */
	size_t hs_have;               /* handshake bytes in them */
	size_t hs_total;              /* the hello's length, header included; 0: not known yet */
	unsigned char hdr[HS_HEADER]; /* the handshake header, gathered across tiny records */
	size_t hdr_n;
};

/* The first bytes decide "not TLS" before a whole record header is in, so that plain HTTP
 * falls back at its first byte instead of waiting for five. */
static int first_bytes_check(const unsigned char *b, size_t len)
{
	if (b[0] != REC_HANDSHAKE)
		return -ENOMSG;
	if (len >= 2 && b[1] != 3)
		return -ENOMSG;
	if (len >= 3 && !version_ok(3, b[2]))
		return -ENOMSG;
	return 0;
}

/* A record header inside the hello: a bad first one is not TLS, a bad later one is a
 * malformed hello (RFC 8446 5.1: handshake messages are not interleaved with other types;
 * zero-length handshake fragments are forbidden; 2^14 bytes at most). */
static int record_check(const unsigned char *h, bool first)
{
	size_t rlen = be16(h + 3);

	if (h[0] != REC_HANDSHAKE || !version_ok(h[1], h[2]))
		return first ? -ENOMSG : -EINVAL;
	if (rlen == 0 || rlen > TLS_RECORD_MAX)
		return -EINVAL;
	return 0;
}

/* Gathers the handshake header from a record's payload p[0..n); it may straddle records. */
static int span_take_header(struct span *s, const unsigned char *p, size_t n)
{
	while (s->hdr_n < HS_HEADER && n > 0) {
		s->hdr[s->hdr_n++] = *p++;
		n--;
	}
	if (s->hdr_n > 0 && s->hdr[0] != HS_CLIENT_HELLO)
		return -EINVAL;
	if (s->hdr_n == HS_HEADER && s->hs_total == 0)
		s->hs_total = HS_HEADER + ((size_t)s->hdr[1] << 16 | be16(s->hdr + 2));
	return 0;
}

/* Walks the record headers from s->end. Returns 1 once the records hold the whole hello, 0
 * with *need set when bytes are missing, or the verdict of a bad header. Each check looks
 * only at bytes before the point where it stops, so a prefix never disagrees with the whole. */
static int span_scan(const unsigned char *b, size_t len, struct span *s, size_t *need)
{
	for (;;) {
		size_t pos = s->end, rlen;
		int rc;

		if (s->records == TLS_HELLO_RECORDS_MAX)
			return -E2BIG;
		if (len < pos + TLS_RECORD_HEADER) {
			*need = pos + TLS_RECORD_HEADER;
			return 0;
		}
		if ((rc = record_check(b + pos, s->records == 0)))
			return rc;
		rlen = be16(b + pos + 3);
		if (pos + TLS_RECORD_HEADER + rlen > TLS_HELLO_SPAN_MAX)
			return -E2BIG;
		if (len < pos + TLS_RECORD_HEADER + rlen) {
			*need = pos + TLS_RECORD_HEADER + rlen;
			return 0;
		}
		s->end = pos + TLS_RECORD_HEADER + rlen;
		s->records++;
		if ((rc = span_take_header(s, b + pos + TLS_RECORD_HEADER, rlen)))
			return rc;
		s->hs_have += rlen;
		if (s->hs_total && s->hs_have >= s->hs_total)
			return 1;
		/* the rest needs at least one more header: past the cap, waiting is pointless */
		if (s->hs_total && s->end + TLS_RECORD_HEADER + (s->hs_total - s->hs_have) > TLS_HELLO_SPAN_MAX)
			return -E2BIG;
	}
}

/* ---- pass 2: the hello, read through record boundaries ---- */

struct cursor {
	const unsigned char *b; /* the caller's buffer */
	size_t pos;             /* next byte to read, offset in b */
	size_t rec_end;         /* end of the payload of the record pos is in */
	size_t left;            /* bytes this cursor may still read: its vector's length */
};

/* At the end of a record's payload, steps over the next record's header. span_scan checked
 * every header up to the hello's end, and left never reaches past it, so this header is
 * whole and its record inside the buffer. */
static void cur_hop(struct cursor *c)
{
	if (c->pos == c->rec_end) {
		c->rec_end = c->pos + TLS_RECORD_HEADER + be16(c->b + c->pos + 3);
		c->pos += TLS_RECORD_HEADER;
	}
}

/* Reads an nbytes big-endian integer; false when the vector has fewer bytes left. */
static bool cur_uint(struct cursor *c, unsigned nbytes, size_t *v)
{
	if (c->left < nbytes)
		return false;
	*v = 0;
	for (unsigned i = 0; i < nbytes; i++) {
		cur_hop(c);
		*v = *v << 8 | c->b[c->pos++];
	}
	c->left -= nbytes;
	return true;
}

static bool cur_skip(struct cursor *c, size_t n)
{
	if (c->left < n)
		return false;
	c->left -= n;
	while (n > 0) {
		size_t step;

		cur_hop(c);
		step = c->rec_end - c->pos < n ? c->rec_end - c->pos : n;
		c->pos += step;
		n -= step;
	}
	return true;
}

/* Splits a vector off c: its length (nbytes wide), then that many bytes, which sub reads
 * and c skips. False when the length overruns what c has left. */
static bool cur_vector(struct cursor *c, unsigned nbytes, struct cursor *sub)
{
	size_t n;

	if (!cur_uint(c, nbytes, &n))
		return false;
	*sub = *c;
	sub->left = n;
	return cur_skip(c, n);
}

static unsigned char ascii_lower(size_t c)
{
	return (unsigned char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* The host_name, copied lowercased: the buffer itself must stay as the client sent it. */
static int sni_copy_name(struct cursor *name, struct tls_hello *out)
{
	size_t n = name->left, c = 0;

	if (n == 0 || n > TLS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		cur_uint(name, 1, &c);
		if (c == 0) /* "a.example\0.b.example" would match one name and log another */
			return -EINVAL;
		out->name[i] = (char)ascii_lower(c);
	}
	out->name[n] = '\0';
	out->name_len = n;
	return 0;
}

/* server_name: a ServerNameList <1..2^16-1> filling the extension. Entries of types other
 * than host_name are skipped by the 16-bit length every implementation gives them; RFC 6066
 * allows one name per type, so a second host_name is malformed rather than a guess. */
static int sni_parse(struct cursor *ext, struct tls_hello *out)
{
	struct cursor list, name;
	size_t type;

	if (!cur_vector(ext, 2, &list) || ext->left != 0 || list.left == 0)
		return -EINVAL;
	while (list.left > 0) {
		if (!cur_uint(&list, 1, &type) || !cur_vector(&list, 2, &name))
			return -EINVAL;
		if (type != SNI_HOST_NAME)
			continue;
		if (out->name_len > 0 || sni_copy_name(&name, out))
			return -EINVAL;
	}
	return 0;
}

/* ALPN: a ProtocolNameList <2..2^16-1> of names <1..255> filling the extension. The first
 * names that fit whole are kept for the log; all are counted. */
static int alpn_parse(struct cursor *ext, struct tls_hello *out)
{
	struct cursor list, proto;
	bool keeping = true;

	if (!cur_vector(ext, 2, &list) || ext->left != 0 || list.left == 0)
		return -EINVAL;
	while (list.left > 0) {
		size_t n;

		if (!cur_vector(&list, 1, &proto) || proto.left == 0)
			return -EINVAL;
		n = proto.left;
		keeping = keeping && out->alpn_len + 1 + n <= TLS_ALPN_KEEP;
		if (keeping) {
			out->alpn[out->alpn_len++] = (unsigned char)n;
			for (size_t i = 0; i < n; i++, out->alpn_len++) {
				size_t c = 0;

				cur_uint(&proto, 1, &c);
				out->alpn[out->alpn_len] = (unsigned char)c;
			}
		}
		out->alpn_count++;
	}
	return 0;
}

/* RFC 8446 4.2: one extension of a type per block. Other types are skipped unseen, but a
 * second server_name or ALPN could route by one name while the backend serves another. */
static int ext_once(bool *seen)
{
	if (*seen)
		return -EINVAL;
	*seen = true;
	return 0;
}

static int hello_parse_extensions(struct cursor *exts, struct tls_hello *out)
{
	bool seen_sni = false, seen_alpn = false;

	while (exts->left > 0) {
		struct cursor data;
		size_t type;
		int rc = 0;

		if (!cur_uint(exts, 2, &type) || !cur_vector(exts, 2, &data))
			return -EINVAL;
		if (type == EXT_SERVER_NAME)
			rc = ext_once(&seen_sni);
		else if (type == EXT_ALPN)
			rc = ext_once(&seen_alpn);
		if (rc == 0 && type == EXT_SERVER_NAME)
			rc = sni_parse(&data, out);
		else if (rc == 0 && type == EXT_ALPN)
			rc = alpn_parse(&data, out);
		if (rc)
			return rc;
	}
	return 0;
}

/* The ClientHello body (RFC 8446 4.1.2, which keeps TLS 1.2's layout): version, random,
 * session id <0..32>, cipher suites <2..2^16-2> in pairs, compression methods <1..2^8-1>,
 * then extensions filling the rest exactly, or nothing (TLS 1.0-1.2 allow no extensions). */
static int hello_parse_body(struct cursor *c, struct tls_hello *out)
{
	struct cursor v;
	size_t ver;

	if (!cur_uint(c, 2, &ver) || !version_ok(ver >> 8, ver & 0xff) || !cur_skip(c, HELLO_RANDOM))
		return -EINVAL;
	if (!cur_vector(c, 1, &v) || v.left > SESSION_ID_MAX)
		return -EINVAL;
	if (!cur_vector(c, 2, &v) || v.left < 2 || v.left % 2 != 0)
		return -EINVAL;
	if (!cur_vector(c, 1, &v) || v.left == 0)
		return -EINVAL;
	if (c->left == 0)
		return 0;
	if (!cur_vector(c, 2, &v) || c->left != 0)
		return -EINVAL;
	return hello_parse_extensions(&v, out);
}

static void hello_reset(struct tls_hello *out)
{
	out->need = 0;
	out->records = 0;
	out->name_len = 0;
	out->name[0] = '\0';
	out->alpn_count = 0;
	out->alpn_len = 0;
}

int tls_hello_parse(const void *buf, size_t len, struct tls_hello *out)
{
	const unsigned char *b = buf;
	struct span s = { 0 };
	struct cursor c;
	int rc;

	if (len > 0 && (rc = first_bytes_check(b, len)))
		return rc;
	hello_reset(out);
	rc = span_scan(b, len, &s, &out->need);
	if (rc <= 0)
		return rc;
	out->records = s.records;
	c = (struct cursor){ .b = b, .pos = TLS_RECORD_HEADER,
			     .rec_end = TLS_RECORD_HEADER + be16(b + 3), .left = s.hs_total };
	cur_skip(&c, HS_HEADER);
	rc = hello_parse_body(&c, out);
	if (rc)
		return rc;
	return (int)s.end;
}

/* ---- the ALPN list as log text ---- */

/* Appends s[0..n) when it fits with room left for the NUL. */
static bool text_put(char *text, size_t size, size_t *at, const char *s, size_t n)
{
	if (*at + n >= size)
		return false;
	memcpy(text + *at, s, n);
	*at += n;
	return true;
}

/* A protocol name is any bytes: the log gets them escaped, and ',' too, so the list splits. */
static bool text_put_byte(char *text, size_t size, size_t *at, unsigned char c)
{
	char esc[5];

	if (c > ' ' && c < 0x7f && c != ',' && c != '\\' && c != '"')
		return text_put(text, size, at, (const char *)&c, 1);
	snprintf(esc, sizeof(esc), "\\x%02x", c);
	return text_put(text, size, at, esc, 4);
}

size_t tls_hello_alpn_text(const struct tls_hello *hello, char *text, size_t size)
{
	size_t at = 0, i = 0;
	unsigned kept = 0;
	bool ok = true;

	if (size == 0)
		return 0;
	while (ok && i < hello->alpn_len) {
		size_t n = hello->alpn[i++];

		if (kept++ > 0)
			ok = text_put(text, size, &at, ",", 1);
		for (size_t j = 0; ok && j < n; j++)
			ok = text_put_byte(text, size, &at, hello->alpn[i + j]);
		i += n;
	}
	if (ok && kept < hello->alpn_count)
		text_put(text, size, &at, ",...", 4);
	text[at] = '\0';
	return at;
}
