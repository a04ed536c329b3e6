/* tls_hello: a table of hellos built here field by field (valid, malformed, not TLS, split
 * across records, oversized), each parsed from the very end of a mapping followed by an
 * inaccessible page, so a read past len crashes instead of passing by luck; then the real
 * ClientHellos captured from curl, openssl s_client and chromium (the fuzzing seeds), cut at
 * every byte and fed one byte at a time. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "slb/dataplane/tls_hello.h"

#define SEEDS SLB_SOURCE_DIR "/tests/fuzz/corpus/clienthello/"
#define BIG 40000

/* ---- building hellos ---- */

struct hb {
	unsigned char b[BIG];
	size_t n;
};

static void put(struct hb *h, const void *p, size_t n)
{
	cr_assert(h->n + n <= sizeof(h->b));
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void put_u(struct hb *h, size_t v, unsigned bytes)
{
	while (bytes-- > 0)
		put(h, &(unsigned char){ (unsigned char)(v >> (8 * bytes)) }, 1);
}

static void put_ext(struct hb *h, unsigned type, const void *data, size_t n)
{
	put_u(h, type, 2);
	put_u(h, n, 2);
	put(h, data, n);
}

/* server_name holding one entry of type `type`. */
static void ext_sni_typed(struct hb *e, unsigned type, const char *name, size_t n)
{
	struct hb d = { .n = 0 };

	put_u(&d, 3 + n, 2);
	put_u(&d, type, 1);
	put_u(&d, n, 2);
	put(&d, name, n);
	put_ext(e, 0, d.b, d.n);
}

static void ext_sni(struct hb *e, const char *name)
{
	ext_sni_typed(e, 0, name, strlen(name));
}

static void ext_alpn(struct hb *e, const char *const *protos)
{
	struct hb d = { .n = 2 };

	for (; *protos; protos++) {
		put_u(&d, strlen(*protos), 1);
		put(&d, *protos, strlen(*protos));
	}
	d.b[0] = (unsigned char)((d.n - 2) >> 8);
	d.b[1] = (unsigned char)(d.n - 2);
	put_ext(e, 16, d.b, d.n);
}

/* Offsets in a hello built by hello_record (one record, empty session id). */
#define OFF_REC_LEN 3
#define OFF_HS_TYPE 5
#define OFF_HS_LEN 6
#define OFF_VERSION 9
#define OFF_SID_LEN 43
#define OFF_SUITES_LEN 44
#define OFF_COMP_LEN 48
#define OFF_EXT_LEN 50
#define OFF_EXTS 52

/* The handshake message: version 3.3, a zero random, an empty session id, one suite, null
 * compression, then the extensions block e (with its length) unless e is NULL. */
static void hello_message(struct hb *m, const struct hb *e)
{
	struct hb body = { .n = 0 };

	put_u(&body, 0x0303, 2);
	put(&body, (unsigned char[32]){ 0 }, 32);
	put_u(&body, 0, 1);
	put_u(&body, 2, 2);
	put_u(&body, 0x1301, 2);
	put_u(&body, 1, 1);
	put_u(&body, 0, 1);
	if (e) {
		put_u(&body, e->n, 2);
		put(&body, e->b, e->n);
	}
	put_u(m, 1, 1);
	put_u(m, body.n, 3);
	put(m, body.b, body.n);
}

/* Cuts message m into handshake records of at most `first` bytes for the first and `rest`
 * for the others. */
static void records(struct hb *out, const struct hb *m, size_t first, size_t rest)
{
	for (size_t at = 0, cap = first; at < m->n; at += cap, cap = rest) {
		size_t n = m->n - at < cap ? m->n - at : cap;

		put_u(out, 0x160301, 3);
		put_u(out, n, 2);
		put(out, m->b + at, n);
	}
}

static void hello_record(struct hb *out, const struct hb *e)
{
	struct hb m = { .n = 0 };

	hello_message(&m, e);
	records(out, &m, BIG, BIG);
}

static void set16(struct hb *h, size_t off, size_t v)
{
	h->b[off] = (unsigned char)(v >> 8);
	h->b[off + 1] = (unsigned char)v;
}

/* ---- the table ---- */

static void mk_sni(struct hb *h)
{
	struct hb e = { .n = 0 };

	ext_sni(&e, "Api.EXAMPLE.com");
	ext_alpn(&e, (const char *const[]){ "h2", "http/1.1", NULL });
	hello_record(h, &e);
}

static void mk_no_extensions(struct hb *h)
{
	hello_record(h, NULL);
}

static void mk_empty_extensions(struct hb *h)
{
	hello_record(h, &(struct hb){ .n = 0 });
}

static void mk_other_name_type_first(struct hb *h)
{
	struct hb e = { .n = 0 }, d = { .n = 0 };

	put_u(&d, 3 + 4 + 3 + 9, 2);
	put_u(&d, 7, 1); /* an unknown name type, skipped by its length */
	put_u(&d, 4, 2);
	put(&d, "abcd", 4);
	put_u(&d, 0, 1);
	put_u(&d, 9, 2);
	put(&d, "b.example", 9);
	put_ext(&e, 0, d.b, d.n);
	hello_record(h, &e);
}

/* A hello naming "xxx...x", n bytes. */
static void hello_name_of(struct hb *h, size_t n)
{
	struct hb e = { .n = 0 };
	char name[300];

	memset(name, 'x', n);
	name[n] = '\0';
	ext_sni(&e, name);
	hello_record(h, &e);
}

static void mk_name_255(struct hb *h)
{
	hello_name_of(h, 255);
}

static void mk_session_id_32(struct hb *h)
{
	struct hb m = { .n = 0 }, m2 = { .n = 0 };

	hello_message(&m, NULL);
	put(&m2, m.b, OFF_SID_LEN - 5);
	put_u(&m2, 32, 1);
	put(&m2, (unsigned char[32]){ 7 }, 32);
	put(&m2, m.b + OFF_SID_LEN - 4, m.n - (OFF_SID_LEN - 4));
	m2.b[3] = (unsigned char)(m2.n - 4); /* the 24-bit length's low byte: the body is short */
	records(h, &m2, BIG, BIG);
}

static void mk_trailing_in_record(struct hb *h)
{
	struct hb e = { .n = 0 };

	ext_sni(&e, "a.example");
	hello_record(h, &e);
	put(h, "\x14\x00\x00\x00", 4); /* another message after the hello, same record */
	set16(h, OFF_REC_LEN, h->n - 5);
}

static void mk_split_100(struct hb *h)
{
	struct hb e = { .n = 0 }, m = { .n = 0 };

	put_ext(&e, 21, (unsigned char[600]){ 0 }, 600); /* padding before the name */
	ext_sni(&e, "late.example");
	hello_message(&m, &e);
	records(h, &m, 100, 100);
}

static void mk_split_header(struct hb *h)
{
	struct hb e = { .n = 0 }, m = { .n = 0 };

	ext_sni(&e, "tiny.example");
	hello_message(&m, &e);
	records(h, &m, 1, 2); /* the handshake header straddles three records */
}

static void mk_split_name(struct hb *h)
{
	struct hb e = { .n = 0 }, m = { .n = 0 };

	ext_sni(&e, "straddle.example");
	hello_message(&m, &e);
	records(h, &m, m.n - 8, 64); /* the name's last 8 bytes in the second record */
}

static void mk_record_16384(struct hb *h)
{
	struct hb e = { .n = 0 };

	ext_sni(&e, "big.example");
	put_ext(&e, 21, (unsigned char[BIG]){ 0 }, 16384 - 47 - e.n - 4);
	hello_record(h, &e);
	cr_assert_eq(h->n, TLS_HELLO_SPAN_MAX);
}

static void mk_padded_1800(struct hb *h)
{
	struct hb e = { .n = 0 };

	put_ext(&e, 51, (unsigned char[1250]){ 0 }, 1250); /* a key share the size of ML-KEM's */
	ext_sni(&e, "pq.example");
	put_ext(&e, 21, (unsigned char[400]){ 0 }, 400);
	hello_record(h, &e);
}

static void mk_ext_one_byte_over(struct hb *h)
{
	struct hb e = { .n = 0 };

	ext_sni(&e, "a.example");
	put_u(&e, 0, 1);
	hello_record(h, &e);
}

static void mk_sni_name_256(struct hb *h)
{
	hello_name_of(h, 256);
}

static void mk_sni_two_host_names(struct hb *h)
{
	struct hb e = { .n = 0 }, d = { .n = 0 };

	put_u(&d, 2 * (3 + 9), 2);
	for (int i = 0; i < 2; i++) {
		put_u(&d, 0, 1);
		put_u(&d, 9, 2);
		put(&d, i ? "b.example" : "a.example", 9);
	}
	put_ext(&e, 0, d.b, d.n);
	hello_record(h, &e);
}

static void mk_sni_twice(struct hb *h)
{
	struct hb e = { .n = 0 };

	ext_sni(&e, "a.example");
	ext_sni(&e, "b.example");
	hello_record(h, &e);
}

static void mk_alpn_twice(struct hb *h)
{
	struct hb e = { .n = 0 };

	ext_alpn(&e, (const char *const[]){ "h2", NULL });
	ext_alpn(&e, (const char *const[]){ "h2", NULL });
	hello_record(h, &e);
}

static void mk_alpn_empty_name(struct hb *h)
{
	struct hb e = { .n = 0 };

	ext_alpn(&e, (const char *const[]){ "h2", "", NULL });
	hello_record(h, &e);
}

static void mk_record_len_0(struct hb *h)
{
	put(h, "\x16\x03\x01\x00\x00", 5);
}

static void mk_record_16385(struct hb *h)
{
	put(h, "\x16\x03\x01\x40\x01\x01", 6);
}

static void mk_split_over_span(struct hb *h)
{
	struct hb e = { .n = 0 }, m = { .n = 0 };

	put_ext(&e, 21, (unsigned char[BIG]){ 0 }, 16384 - 47 - 4);
	hello_message(&m, &e);
	cr_assert_eq(m.n, 16384);
	records(h, &m, 9000, 9000); /* 16384 bytes and two headers: 5 bytes over the span */
}

static void mk_split_65_records(struct hb *h)
{
	struct hb e = { .n = 0 }, m = { .n = 0 };

	ext_sni(&e, "many.example");
	hello_message(&m, &e);
	records(h, &m, 1, 1); /* the 65th record is one too many, whatever follows */
}

static void mk_http(struct hb *h)
{
	put(h, "GET / HTTP/1.1\r\n\r\n", 18);
}

static void mk_sslv2(struct hb *h)
{
	put(h, "\x80\x2e\x01\x00\x02", 5);
}

static void mk_alert(struct hb *h)
{
	put(h, "\x15\x03\x03\x00\x02\x02\x28", 7);
}

static void mk_prefix_3(struct hb *h)
{
	put(h, "\x16\x03\x01", 3);
}

static void mk_empty(struct hb *h)
{
	(void)h;
}

static void mk_raw(struct hb *h)
{
	(void)h; /* the runner builds the hello from the case's bytes */
}

enum {
	MK_SNI = 0,
	MK_NO_EXTENSIONS,
	MK_EMPTY_EXTENSIONS,
	MK_OTHER_NAME_TYPE_FIRST,
	MK_NAME_255,
	MK_SESSION_ID_32,
	MK_TRAILING_IN_RECORD,
	MK_SPLIT_100,
	MK_SPLIT_HEADER,
	MK_SPLIT_NAME,
	MK_RECORD_16384,
	MK_PADDED_1800,
	MK_EXT_ONE_BYTE_OVER,
	MK_SNI_NAME_256,
	MK_SNI_TWO_HOST_NAMES,
	MK_SNI_TWICE,
	MK_ALPN_TWICE,
	MK_ALPN_EMPTY_NAME,
	MK_RECORD_LEN_0,
	MK_RECORD_16385,
	MK_SPLIT_OVER_SPAN,
	MK_SPLIT_65_RECORDS,
	MK_HTTP,
	MK_SSLV2,
	MK_ALERT,
	MK_PREFIX_3,
	MK_EMPTY,
	MK_RAW,
};

/* Indexed by the case's kind: Criterion runs each case in a fresh process, so the cases hold
 * indexes and inline text, never pointers. */
static void (*const makers[])(struct hb *) = {
	mk_sni,
	mk_no_extensions,
	mk_empty_extensions,
	mk_other_name_type_first,
	mk_name_255,
	mk_session_id_32,
	mk_trailing_in_record,
	mk_split_100,
	mk_split_header,
	mk_split_name,
	mk_record_16384,
	mk_padded_1800,
	mk_ext_one_byte_over,
	mk_sni_name_256,
	mk_sni_two_host_names,
	mk_sni_twice,
	mk_alpn_twice,
	mk_alpn_empty_name,
	mk_record_len_0,
	mk_record_16385,
	mk_split_over_span,
	mk_split_65_records,
	mk_http,
	mk_sslv2,
	mk_alert,
	mk_prefix_3,
	mk_empty,
	mk_raw,
};

#define OK 1 /* a parsed hello: the whole input is its span */

enum patch_op {
	P_NONE = 0,
	P_SET8,  /* the byte at off becomes val */
	P_SET16, /* the 16-bit field at off becomes val */
	P_ADD8,  /* val is added to the byte at off (a length made one too long or short) */
};

struct hello_case {
	int kind;          /* index in makers */
	enum patch_op op;  /* then one field broken */
	unsigned off;
	int val;
	int want;          /* OK, 0 (need more), or the error */
	char name[260];    /* the server name a parsed hello gives */
	char alpn[32];     /* tls_hello_alpn_text of it */
	unsigned records;
	unsigned char exts[32]; /* for kind MK_RAW: the extensions, as bytes */
	size_t exts_len;
};

#define GOOD(kind, name, alpn, records) { kind, P_NONE, 0, 0, OK, name, alpn, records, "", 0 }
#define BAD(kind, want) { kind, P_NONE, 0, 0, want, "", "", 0, "", 0 }
#define BROKEN(kind, op, off, val, want) { kind, op, off, val, want, "", "", 0, "", 0 }
#define RAW(exts, want) { MK_RAW, P_NONE, 0, 0, want, "", "", 0, exts, sizeof(exts) - 1 }

ParameterizedTestParameters(tls_hello, cases)
{
	static struct hello_case cases[] = {
		GOOD(MK_SNI, "api.example.com", "h2,http/1.1", 1),
		GOOD(MK_NO_EXTENSIONS, "", "", 1),
		GOOD(MK_EMPTY_EXTENSIONS, "", "", 1),
		GOOD(MK_OTHER_NAME_TYPE_FIRST, "b.example", "", 1),
		GOOD(MK_NAME_255, "", "", 1), /* the name checked by its length in check_hello */
		GOOD(MK_SESSION_ID_32, "", "", 1),
		GOOD(MK_TRAILING_IN_RECORD, "a.example", "", 1),
		GOOD(MK_SPLIT_100, "late.example", "", 7),
		GOOD(MK_SPLIT_HEADER, "tiny.example", "", 35),
		GOOD(MK_SPLIT_NAME, "straddle.example", "", 2),
		GOOD(MK_RECORD_16384, "big.example", "", 1),
		GOOD(MK_PADDED_1800, "pq.example", "", 1),
		/* one field of a good hello broken */
		BROKEN(MK_SNI, P_SET8, OFF_HS_TYPE, 2, -EINVAL), /* a ServerHello */
		BROKEN(MK_SNI, P_SET16, OFF_VERSION, 0x0300, -EINVAL),
		BROKEN(MK_NO_EXTENSIONS, P_SET8, OFF_SID_LEN, 33, -EINVAL),
		BROKEN(MK_NO_EXTENSIONS, P_SET16, OFF_SUITES_LEN, 1, -EINVAL),
		BROKEN(MK_NO_EXTENSIONS, P_SET16, OFF_SUITES_LEN, 0, -EINVAL),
		BROKEN(MK_NO_EXTENSIONS, P_SET8, OFF_COMP_LEN, 0, -EINVAL),
		BROKEN(MK_SNI, P_ADD8, OFF_EXT_LEN + 1, 1, -EINVAL),
		BROKEN(MK_SNI, P_ADD8, OFF_EXT_LEN + 1, -1, -EINVAL),
		BROKEN(MK_SNI, P_ADD8, OFF_EXTS + 5, 1, -EINVAL), /* the ServerNameList length */
		BROKEN(MK_SNI, P_ADD8, OFF_EXTS + 8, 1, -EINVAL), /* the HostName length */
		BROKEN(MK_SNI, P_ADD8, OFF_HS_LEN + 2, -1, -EINVAL), /* the body outlives the message */
		BROKEN(MK_SNI, P_ADD8, OFF_HS_LEN + 2, 1, 0), /* the hello goes on in a record to come */
		BROKEN(MK_SNI, P_SET8, OFF_HS_LEN, 1, -E2BIG), /* 64 KiB more: past one record's span */
		BROKEN(MK_SPLIT_100, P_SET8, 105, 23, -EINVAL), /* 2nd record: application data */
		BROKEN(MK_SPLIT_100, P_SET16, 108, 0, -EINVAL), /* 2nd record: empty */
		BROKEN(MK_SPLIT_100, P_SET16, 106, 0x0300, -EINVAL), /* 2nd record: SSL 3.0 */
		BROKEN(MK_SNI, P_SET8, 2, 0, -ENOMSG), /* record version SSL 3.0 */
		BROKEN(MK_SNI, P_SET8, 2, 5, -ENOMSG),
		BROKEN(MK_SNI, P_SET8, 1, 2, -ENOMSG),
		BAD(MK_EXT_ONE_BYTE_OVER, -EINVAL),
		RAW("\x00\x15\x00\x0a" "12345", -EINVAL), /* data shorter than its length */
		RAW("\x00\x00\x00\x02\x00\x00", -EINVAL), /* an empty ServerNameList */
		RAW("\x00\x00\x00\x00", -EINVAL), /* server_name empty: a server's answer */
		RAW("\x00\x00\x00\x05\x00\x03\x00\x00\x00", -EINVAL), /* a host_name of 0 bytes */
		BAD(MK_SNI_NAME_256, -EINVAL),
		RAW("\x00\x00\x00\x14\x00\x12\x00\x00\x0f" "a.example\0.evil", -EINVAL), /* a NUL */
		BAD(MK_SNI_TWO_HOST_NAMES, -EINVAL),
		BAD(MK_SNI_TWICE, -EINVAL),
		BAD(MK_ALPN_TWICE, -EINVAL),
		BAD(MK_ALPN_EMPTY_NAME, -EINVAL),
		RAW("\x00\x10\x00\x02\x00\x00", -EINVAL), /* an empty ALPN list */
		RAW("\x00\x10\x00\x05\x00\x03\x05h2x", -EINVAL), /* a name past its list */
		BAD(MK_RECORD_LEN_0, -EINVAL),
		BAD(MK_RECORD_16385, -EINVAL),
		BAD(MK_SPLIT_OVER_SPAN, -E2BIG),
		BAD(MK_SPLIT_65_RECORDS, -E2BIG),
		BAD(MK_HTTP, -ENOMSG),
		BAD(MK_SSLV2, -ENOMSG),
		BAD(MK_ALERT, -ENOMSG),
		BAD(MK_PREFIX_3, 0),
		BAD(MK_EMPTY, 0),
	};

	cr_assert_eq(sizeof(makers) / sizeof(makers[0]), MK_RAW + 1);
	return cr_make_param_array(struct hello_case, cases, sizeof(cases) / sizeof(cases[0]));
}

static void patch(struct hb *h, const struct hello_case *c)
{
	if (c->op == P_SET8)
		h->b[c->off] = (unsigned char)c->val;
	else if (c->op == P_SET16)
		set16(h, c->off, (size_t)c->val);
	else if (c->op == P_ADD8)
		h->b[c->off] = (unsigned char)(h->b[c->off] + c->val);
}

/* Parses from the end of a mapping whose next page is inaccessible, and checks the parser
 * left the bytes as they were (they are the TLS transcript). */
static int parse_guarded(const unsigned char *in, size_t len, struct tls_hello *out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (len / page + 1) * page;
	unsigned char *map = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc;

	cr_assert(map != MAP_FAILED);
	cr_assert(mprotect(map + span, page, PROT_NONE) == 0);
	memcpy(map + span - len, in, len);
	rc = tls_hello_parse(map + span - len, len, out);
	cr_assert(memcmp(map + span - len, in, len) == 0, "the parser wrote into the buffer");
	munmap(map, span + page);
	return rc;
}

static void check_hello(const struct hello_case *c, const struct tls_hello *h)
{
	char alpn[64];

	if (c->kind == MK_NAME_255)
		cr_assert(h->name_len == 255 && strspn(h->name, "x") == 255 && h->name[255] == '\0');
	else
		cr_assert_str_eq(h->name, c->name);
	cr_assert_eq(h->name_len, strlen(h->name));
	tls_hello_alpn_text(h, alpn, sizeof(alpn));
	cr_assert_str_eq(alpn, c->alpn);
	cr_assert_eq(h->records, c->records);
}

ParameterizedTest(struct hello_case *c, tls_hello, cases)
{
	static struct hb in;
	struct tls_hello h;
	int rc;

	in.n = 0;
	makers[c->kind](&in);
	if (c->kind == MK_RAW) {
		struct hb e = { .n = 0 };

		put(&e, c->exts, c->exts_len);
		hello_record(&in, &e);
	}
	patch(&in, c);
	rc = parse_guarded(in.b, in.n, &h);
	if (c->want == OK) {
		cr_assert_eq(rc, (int)in.n, "case %d: got %d, want the whole %zu bytes", c->kind, rc, in.n);
		check_hello(c, &h);
		return;
	}
	cr_assert_eq(rc, c->want, "case %d: got %d, want %d", c->kind, rc, c->want);
	if (rc == 0)
		cr_assert(h.need > in.n && h.need <= TLS_HELLO_SPAN_MAX, "need %zu for %zu bytes", h.need, in.n);
}

/* ---- the captured hellos ---- */

static size_t read_seed(const char *name, unsigned char *buf, size_t size)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s%s", SEEDS, name);
	f = fopen(path, "rb");
	cr_assert(f, "cannot open %s", path);
	n = fread(buf, 1, size, f);
	fclose(f);
	cr_assert(n > 0 && n < size);
	return n;
}

struct seed_case {
	char file[48];
	char name[48];
	char alpn[32];
};

ParameterizedTestParameters(tls_hello, seeds)
{
	static struct seed_case cases[] = {
		{ "curl-7.88", "a.example", "h2,http/1.1" },
		{ "curl-7.88-http1.1-uppercase", "api.example.com", "http/1.1" },
		{ "openssl-3.0-alpn", "b.example", "h2,http/1.1" },
		{ "openssl-3.0-no-sni", "", "" },
		{ "openssl-3.0-tls1.2", "old.example", "" },
		{ "chromium-ip-literal-mlkem", "", "h2,http/1.1" },
		{ "chromium-sni-mlkem", "www.shop.example", "h2,http/1.1" },
	};

	return cr_make_param_array(struct seed_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct seed_case *c, tls_hello, seeds)
{
	static unsigned char buf[BIG];
	size_t n = read_seed(c->file, buf, sizeof(buf));
	struct tls_hello h;
	char alpn[64];

	cr_assert_eq(parse_guarded(buf, n, &h), (int)n, "%s", c->file);
	cr_assert_str_eq(h.name, c->name);
	tls_hello_alpn_text(&h, alpn, sizeof(alpn));
	cr_assert_str_eq(alpn, c->alpn);
}

/* Every cut of a whole hello asks for more, and for no more than the hello: a reader that
 * reads exactly `need` bytes each time never overshoots into the next message. */
static void check_every_cut(const unsigned char *buf, size_t n)
{
	struct tls_hello h;

	for (size_t cut = 0; cut < n; cut++) {
		int rc = tls_hello_parse(buf, cut, &h);

		cr_assert_eq(rc, 0, "cut at %zu of %zu: got %d", cut, n, rc);
		cr_assert(h.need > cut && h.need <= n, "cut at %zu of %zu: need %zu", cut, n, h.need);
	}
}

Test(tls_hello, every_cut_of_a_real_hello_needs_more)
{
	static const char *const files[] = { "curl-7.88", "openssl-3.0-alpn", "chromium-sni-mlkem" };
	static unsigned char buf[BIG];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		check_every_cut(buf, read_seed(files[i], buf, sizeof(buf)));
}

Test(tls_hello, every_cut_of_a_split_hello_needs_more)
{
	static struct hb in;

	mk_split_header(&in);
	check_every_cut(in.b, in.n);
	in.n = 0;
	mk_split_100(&in);
	check_every_cut(in.b, in.n);
}

/* The worker's loop: a buffer growing by the bytes of each read, parsed whole after each;
 * the answer comes with the last byte and is the answer for the whole. */
static void feed(const unsigned char *in, size_t n, size_t step)
{
	static unsigned char buf[BIG];
	struct tls_hello h, whole;
	size_t have = 0, calls = 0;
	int rc = 0, want = tls_hello_parse(in, n, &whole);

	while (rc == 0 && have < n) {
		size_t add = n - have < step ? n - have : step;

		memcpy(buf + have, in + have, add);
		have += add;
		calls++;
		rc = tls_hello_parse(buf, have, &h);
	}
	cr_assert_eq(rc, want);
	cr_assert_eq(have, n, "answered %d after %zu of %zu bytes", rc, have, n);
	cr_assert_eq(calls, (n + step - 1) / step);
	cr_assert_str_eq(h.name, whole.name);
	cr_assert(h.alpn_len == whole.alpn_len && memcmp(h.alpn, whole.alpn, h.alpn_len) == 0);
}

Test(tls_hello, byte_at_a_time_parses_as_whole)
{
	static unsigned char buf[BIG];
	static struct hb in;
	size_t n = read_seed("chromium-sni-mlkem", buf, sizeof(buf));

	for (size_t step = 1; step <= 7; step++)
		feed(buf, n, step);
	feed(buf, n, 1460);
	mk_split_name(&in);
	feed(in.b, in.n, 1);
}

Test(tls_hello, need_is_the_end_of_the_record_once_its_header_is_in)
{
	static unsigned char buf[BIG];
	size_t n = read_seed("chromium-sni-mlkem", buf, sizeof(buf));
	struct tls_hello h;

	cr_assert_eq(tls_hello_parse(buf, 4, &h), 0);
	cr_assert_eq(h.need, TLS_RECORD_HEADER);
	cr_assert_eq(tls_hello_parse(buf, 5, &h), 0);
	cr_assert_eq(h.need, n);
}

Test(tls_hello, not_tls_is_answered_from_the_first_byte)
{
	struct tls_hello h;

	cr_assert_eq(tls_hello_parse("G", 1, &h), -ENOMSG);
	cr_assert_eq(tls_hello_parse("\x16\x02", 2, &h), -ENOMSG);
	cr_assert_eq(tls_hello_parse("\x16\x03\x00", 3, &h), -ENOMSG);
	cr_assert_eq(tls_hello_parse("\x16", 1, &h), 0);
}

/* ---- the ALPN text ---- */

Test(tls_hello, alpn_text_escapes_and_cuts_whole)
{
	struct tls_hello h = { .alpn_count = 3, .alpn_len = 10 };
	char text[64];

	memcpy(h.alpn, "\x02h2\x03" "a,\x01\x02 \\", 10);
	cr_assert_eq(tls_hello_alpn_text(&h, text, sizeof(text)), strlen(text));
	cr_assert_str_eq(text, "h2,a\\x2c\\x01,\\x20\\x5c");
	tls_hello_alpn_text(&h, text, 7);
	cr_assert_str_eq(text, "h2,a"); /* "\x2c" does not fit in the 6 bytes left: cut before it */
	h.alpn_count = 5;
	tls_hello_alpn_text(&h, text, sizeof(text));
	cr_assert_str_eq(text, "h2,a\\x2c\\x01,\\x20\\x5c,...");
	cr_assert_eq(tls_hello_alpn_text(&h, text, 0), 0);
}

Test(tls_hello, alpn_beyond_what_is_kept_is_counted)
{
	static struct hb in;
	struct hb e = { .n = 0 };
	const char *protos[40];
	struct tls_hello h;
	char text[256];

	for (int i = 0; i < 39; i++)
		protos[i] = "proto-12345"; /* 12 bytes each in wire form: 10 fit in 128 */
	protos[39] = NULL;
	ext_alpn(&e, protos);
	in.n = 0;
	hello_record(&in, &e);
	cr_assert_eq(tls_hello_parse(in.b, in.n, &h), (int)in.n);
	cr_assert_eq(h.alpn_count, 39);
	cr_assert_eq(h.alpn_len, 120);
	tls_hello_alpn_text(&h, text, sizeof(text));
	cr_assert(strstr(text, ",...") == text + strlen(text) - 4);
}
