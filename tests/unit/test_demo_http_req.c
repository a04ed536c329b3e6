/* http_req, slb-backend's request head parser: a table of well-formed, malformed and
 * incomplete heads. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "../../src/demo/http_req.h" /* slb_demo exports no include dir */

/* Strings inline, not pointers: Criterion hands each case to a worker process in which the
 * runner's addresses mean nothing. */
struct req_case {
	char text[96];
	int error;          /* expected req.error */
	bool keep_alive;
	bool head;
	char path[16];      /* expected path (up to '?'), when error is 0 */
	uint64_t length;    /* expected Content-Length */
};

ParameterizedTestParameters(http_req, parses_heads)
{
	static struct req_case cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 0, true, false, "/", 0 },
		{ "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", 0, true, false, "/a/b", 0 },
		{ "HEAD /health HTTP/1.1\r\n\r\n", 0, true, true, "/health", 0 },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0, false, false, "/", 0 },
		{ "GET / HTTP/1.1\r\nconnection: Keep-Alive, CLOSE\r\n\r\n",
		  0, false, false, "/", 0 },
		{ "GET / HTTP/1.0\r\n\r\n", 0, false, false, "/", 0 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, true, false, "/", 0 },
		{ "POST /f HTTP/1.1\r\nContent-Length:  12 \r\n\r\n", 0, true, false, "/f", 12 },
		{ "GET / HTTP/1.1\nHost: bare-lf\n\n", 0, true, false, "/", 0 },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		  0, true, false, "/", 1 },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		  400, false, false, "", 0 },
		{ "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, false, false, "", 0 },
		{ "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		  400, false, false, "", 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		  501, false, false, "", 0 },
		{ "GET / HTTP/2.0\r\n\r\n", 505, false, false, "", 0 },
		{ "GET / HTTP/1.1 \r\n\r\n", 400, false, false, "", 0 },
		{ "GET  / HTTP/1.1\r\n\r\n", 400, false, false, "", 0 },
		{ "GET noslash HTTP/1.1\r\n\r\n", 400, false, false, "", 0 },
		{ "GET /\r\n\r\n", 400, false, false, "", 0 },
		{ "garbage\r\n\r\n", 400, false, false, "", 0 },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, false, false, "", 0 },
		{ "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, false, false, "", 0 },
		{ "GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400, false, false, "", 0 },
	};

	return cr_make_param_array(struct req_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct req_case *c, http_req, parses_heads)
{
	size_t len = strlen(c->text);
	struct http_req req;

	cr_assert_eq(http_req_head_len(c->text, len), len, "head length of: %s", c->text);
	http_req_parse(c->text, len, &req);
	cr_expect_eq(req.error, c->error, "error for: %s", c->text);
	if (c->error) {
		cr_expect_not(req.keep_alive, "an error always closes: %s", c->text);
		return;
	}
	cr_expect_eq(req.keep_alive, c->keep_alive, "keep-alive for: %s", c->text);
	cr_expect_eq(req.head, c->head, "HEAD for: %s", c->text);
	cr_expect_eq(req.path_len, strlen(c->path), "path of: %s", c->text);
	cr_expect_eq(memcmp(req.path, c->path, req.path_len), 0, "path of: %s", c->text);
	cr_expect_eq(req.content_length, c->length, "length for: %s", c->text);
}

Test(http_req, incomplete_heads_are_not_measured)
{
	static const char *const partial[] = {
		"", "GET / HTTP/1.1", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n",
		"GET / HTTP/1.1\r\n\r", "GET / HTTP/1.1\n",
	};

	for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++)
		cr_expect_eq(http_req_head_len(partial[i], strlen(partial[i])), 0, "case %zu", i);
}

Test(http_req, head_length_stops_at_the_first_blank_line)
{
	static const char two[] = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";

	cr_expect_eq(http_req_head_len(two, sizeof(two) - 1), strlen("GET /1 HTTP/1.1\r\n\r\n"));
}
