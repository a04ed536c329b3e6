/* libFuzzer harness for tls_hello_parse: every input is the first bytes a client could send
 * to a listener that routes by server name. Beyond ASan and UBSan, it checks what the worker
 * relies on: a parsed hello spans no more than the input and TLS_HELLO_SPAN_MAX, its name is
 * 1-255 lowercase bytes without NUL that occur, in some case, in the input; "need more" asks
 * for more than it has and never past the cap, and never comes once the first record is in
 * and holds the whole hello; and every prefix of the input answers "need more" or the
 * verdict of the whole, so however the bytes are segmented the worker decides alike. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "slb/dataplane/tls_hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* The name was copied out of the input, lowercased: some window of the input matches it
 * ignoring case (it may straddle a record header, then two windows hold its parts: the
 * whole-name search is done only for hellos of one record). */
static void check_name(const struct tls_hello *h, const uint8_t *data, size_t size)
{
	bool found = false;

	check(h->name_len <= TLS_NAME_MAX && strlen(h->name) == h->name_len);
	for (size_t i = 0; i < h->name_len; i++)
		check(h->name[i] < 'A' || h->name[i] > 'Z');
	if (h->name_len == 0 || h->records != 1)
		return;
	for (size_t i = 0; !found && i + h->name_len <= size; i++)
		found = strncasecmp((const char *)data + i, h->name, h->name_len) == 0;
	check(found);
}

/* The first record holds the whole hello: its payload starts with the handshake header. */
static bool first_record_holds_hello(const uint8_t *data, size_t size)
{
	size_t rlen, hs;

	if (size < 9)
		return false;
	rlen = (size_t)data[3] << 8 | data[4];
	hs = 4 + ((size_t)data[6] << 16 | (size_t)data[7] << 8 | data[8]);
	return rlen >= 4 && size >= 5 + rlen && hs <= rlen;
}

static void check_verdict(int rc, const struct tls_hello *h, const uint8_t *data, size_t size)
{
	check(rc == 0 || rc == -ENOMSG || rc == -EINVAL || rc == -E2BIG || rc > 0);
	if (rc > 0) {
		check((size_t)rc <= size && rc <= TLS_HELLO_SPAN_MAX && h->records >= 1);
		check(h->alpn_len <= TLS_ALPN_KEEP && (h->alpn_len == 0 || h->alpn_count > 0));
		check_name(h, data, size);
	}
	if (rc == 0) {
		check(h->need > size && h->need <= TLS_HELLO_SPAN_MAX);
		check(!first_record_holds_hello(data, size));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello h, p;
	char text[64];
	int rc = tls_hello_parse(data, size, &h);

	check_verdict(rc, &h, data, size);
	if (rc > 0)
		check(tls_hello_alpn_text(&h, text, sizeof(text)) < sizeof(text));
	/* every prefix: need more, or the same verdict (the same hello for a parsed one) */
	for (size_t cut = 0; cut < size; cut += 1 + cut / 16) {
		int prc = tls_hello_parse(data, cut, &p);

		check(prc == 0 || prc == rc);
		if (prc > 0)
			check(strcmp(p.name, h.name) == 0 && p.alpn_count == h.alpn_count);
	}
	return 0;
}
