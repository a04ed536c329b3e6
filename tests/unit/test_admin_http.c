/* Admin request parser: a table of heads (complete, partial, malformed, oversized) with the
 * status each is answered with, parsed from the end of a page followed by an inaccessible
 * page so that reading past len crashes instead of passing by luck. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "slb/control/admin_http.h"

/* Copies len bytes to the end of a readable region followed by a PROT_NONE page, parses them
 * and turns out->path into an offset (the mapping is gone when this returns). */
static int parse_guarded(const char *buf, size_t len, struct admin_request *out, long *path_off)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (len + page - 1) / page * page + page;
	char *map, *at;
	int rc;

	map = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert(mprotect(map + span, page, PROT_NONE) == 0);
	at = map + span - len;
	memcpy(at, buf, len);
	rc = admin_parse_request(at, len, out);
	*path_off = out->path ? out->path - at : -1;
	munmap(map, span + page);
	return rc;
}

/* Criterion runs each case in a re-executed process: the text is held inline. */
struct req_case {
	char text[128];
	int rc;           /* > 0: head length; 0: incomplete; -errno */
	enum admin_method method;
	char path[32];    /* expected path (of a whole request) */
};

ParameterizedTestParameters(admin_http, parse_request)
{
	static struct req_case cases[] = {
		/* complete: the head length counts through the blank line, not the body */
		{ "GET /status HTTP/1.0\r\n\r\n", 24, ADMIN_METHOD_GET, "/status" },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nbody", 34, ADMIN_METHOD_GET, "/metrics" },
		{ "GET /status?pretty=1 HTTP/1.0\n\n", 31, ADMIN_METHOD_GET, "/status" },
		{ "GET /status\r\n\r\n", 15, ADMIN_METHOD_GET, "/status" },
		{ "GET /metrics\n\n", 14, ADMIN_METHOD_GET, "/metrics" },
		{ "GET  /status HTTP/1.0\n\n", 23, ADMIN_METHOD_GET, "" },
		{ "GET \n\n", 6, ADMIN_METHOD_GET, "" },
		{ "GET \r\n\r\n", 8, ADMIN_METHOD_GET, "" },
		{ "GET /a\n\nGET /b\r\n\r\n", 8, ADMIN_METHOD_GET, "/a" },
		{ "GET /a\r\n\n", 9, ADMIN_METHOD_GET, "/a" },
		/* the runtime API's methods */
		{ "POST /status HTTP/1.0\r\n\r\n", 25, ADMIN_METHOD_POST, "/status" },
		{ "PUT /backends/1/weight HTTP/1.1\r\nContent-Length: 1\r\n\r\n5", 54, ADMIN_METHOD_PUT,
		  "/backends/1/weight" },
		{ "DELETE /backends/%5B%3A%3A1%5D%3A80\n\n", 37, ADMIN_METHOD_DELETE, "/backends/%5B%3A%3A1%5D%3A80" },
		{ "POST /b HTTP/1.1\r\ncontent-length:  12 \r\n\r\n", 42, ADMIN_METHOD_POST, "/b" },
		/* other methods parse with their path, and are answered 405 on a known path, 404 elsewhere */
		{ "PATCH /status HTTP/1.0\r\n\r\n", 26, ADMIN_METHOD_OTHER, "/status" },
		{ "get /status HTTP/1.0\r\n\r\n", 24, ADMIN_METHOD_OTHER, "/status" },
		{ "GE /\n\n", 6, ADMIN_METHOD_OTHER, "/" },
		{ "GETS /status\n\n", 14, ADMIN_METHOD_OTHER, "/status" },
		/* incomplete: read more */
		{ "", 0, ADMIN_METHOD_OTHER, "" },
		{ "GET /status HTTP/1.0\r\n", 0, ADMIN_METHOD_OTHER, "" },
		{ "GET /status HTTP/1.0\r\n\r", 0, ADMIN_METHOD_OTHER, "" },
		{ "GET /status HTTP/1.0\n\r\n", 0, ADMIN_METHOD_OTHER, "" },
		/* malformed request line: 400 */
		{ "GET\n\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		{ "\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		{ "GET/status\r\nHost: a b\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		/* malformed headers: 400; a body over the cap: 413 */
		{ "GET / HTTP/1.1\r\nno colon here\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		{ "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		{ "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER,
		  "" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
		{ "POST / HTTP/1.1\r\nContent-Length: 1025\r\n\r\n", -EFBIG, ADMIN_METHOD_OTHER, "" },
		{ "POST / HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n", -EINVAL, ADMIN_METHOD_OTHER, "" },
	};

	return cr_make_param_array(struct req_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct req_case *c, admin_http, parse_request)
{
	struct admin_request r;
	long off;
	int rc = parse_guarded(c->text, strlen(c->text), &r, &off);

	cr_assert_eq(rc, c->rc, "'%s': returned %d, expected %d", c->text, rc, c->rc);
	cr_assert_eq(r.method, c->method, "'%s'", c->text);
	if (c->rc <= 0) {
		cr_assert_eq(off, -1, "'%s': a path without a whole request", c->text);
		return;
	}
	cr_assert_eq(r.path_len, strlen(c->path), "'%s'", c->text);
	cr_assert(memcmp(c->text + off, c->path, r.path_len) == 0, "'%s'", c->text);
}

/* A head that arrives in pieces parses the same once complete, and never before. */
Test(admin_http, every_prefix_is_incomplete_until_the_blank_line)
{
	static const char text[] = "GET /metrics?x=1 HTTP/1.1\r\nHost: slb\r\nAccept: */*\r\n\r\n";
	size_t len = sizeof(text) - 1;
	struct admin_request r;
	long off;

	for (size_t i = 0; i < len; i++)
		cr_assert_eq(parse_guarded(text, i, &r, &off), 0, "prefix of %zu bytes", i);
	cr_assert_eq(parse_guarded(text, len, &r, &off), (int)len);
	cr_assert_eq(r.path_len, 8);
	cr_assert_eq(off, 4);
}

Test(admin_http, full_buffer_without_blank_line_is_refused)
{
	static char buf[ADMIN_REQ_MAX + 1];
	struct admin_request r;
	long off;

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /status HTTP/1.0\r\nX: ", 25);
	cr_assert_eq(parse_guarded(buf, ADMIN_REQ_MAX - 1, &r, &off), 0);
	cr_assert_eq(parse_guarded(buf, ADMIN_REQ_MAX, &r, &off), -EMSGSIZE);
	cr_assert_eq(parse_guarded(buf, ADMIN_REQ_MAX + 1, &r, &off), -EMSGSIZE);
	/* a head that ends exactly at the cap still counts */
	memcpy(buf + ADMIN_REQ_MAX - 4, "\r\n\r\n", 4);
	cr_assert_eq(parse_guarded(buf, ADMIN_REQ_MAX, &r, &off), ADMIN_REQ_MAX);
	cr_assert_eq(r.method, ADMIN_METHOD_GET);
	cr_assert_eq(r.path_len, 7);
}

Test(admin_http, query_token_and_length_are_found)
{
	static const char text[] = "PUT /events?since=12 HTTP/1.1\r\nAuthorization:  Bearer abc \r\n"
				   "Content-Length: 3\r\n\r\n";
	struct admin_request r;

	cr_assert_eq(admin_parse_request(text, sizeof(text) - 1, &r), (int)sizeof(text) - 1);
	cr_assert_eq(r.method, ADMIN_METHOD_PUT);
	cr_assert_eq(r.path_len, 7);
	cr_assert_eq(r.query_len, 8);
	cr_assert(memcmp(r.query, "since=12", 8) == 0);
	cr_assert_eq(r.auth_len, 10);
	cr_assert(memcmp(r.auth, "Bearer abc", 10) == 0);
	cr_assert(r.has_length);
	cr_assert_eq(r.content_length, 3);
}
