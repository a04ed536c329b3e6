/* libFuzzer harness for admin_parse_request: every input is the bytes an admin client sent
 * so far. Beyond ASan and UBSan, it checks the contract admin.c relies on: the head length
 * is within the input, the path lies inside the head, and a head found in a prefix is the
 * same head once more bytes arrive (the server parses again after every read). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slb/control/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_request(const char *buf, size_t size, int rc, const struct admin_request *r)
{
	check(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE || (rc > 0 && (size_t)rc <= size));
	check(rc != -EMSGSIZE || size >= ADMIN_REQ_MAX);
	if (rc <= 0 || r->method != ADMIN_METHOD_GET) {
		check(r->path == NULL && r->path_len == 0);
		return;
	}
	check(r->path == buf + 4 && r->path_len <= (size_t)rc - 4);
	for (size_t i = 0; i < r->path_len; i++)
		check(r->path[i] != ' ' && r->path[i] != '?' && r->path[i] != '\r' && r->path[i] != '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct admin_request r, whole;
	size_t cut = size ? data[0] % (size + 1) : 0;
	int rc, rc_whole;

	rc_whole = admin_parse_request(buf, size, &whole);
	check_request(buf, size, rc_whole, &whole);
	/* the same bytes in two reads: a prefix that held a head or a bad line decided it */
	rc = admin_parse_request(buf, cut, &r);
	check_request(buf, cut, rc, &r);
	if (rc > 0 || rc == -EINVAL) {
		check(rc == rc_whole && r.method == whole.method);
		check(r.path == whole.path && r.path_len == whole.path_len);
	}
	return 0;
}
