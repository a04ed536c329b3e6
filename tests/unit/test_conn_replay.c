/* conn_replay: which held bytes --retry-unanswered http may send to another backend: one whole
 * HTTP/1.x request head, an idempotent method (RFC 9110 9.2.2), no body, nothing after it.
 * Anything it cannot read as such is refused, never guessed at. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "../../src/dataplane/conn.h"

struct http_case {
	char text[160];
	bool ok;
};

ParameterizedTestParameters(conn_replay, http_judges_held_bytes)
{
	static struct http_case cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "GET /x?y=1 HTTP/1.0\r\n\r\n", true },
		{ "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "TRACE / HTTP/1.1\r\n\r\n", true },
		{ "PUT /k HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", true },
		{ "DELETE /k HTTP/1.1\r\ncontent-length:  00 \r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:0\r\n\r\n", true },
		/* not idempotent */
		{ "POST / HTTP/1.1\r\nHost: a\r\n\r\n", false },
		{ "PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", false },
		{ "CONNECT a:443 HTTP/1.1\r\n\r\n", false },
		{ "get / HTTP/1.1\r\n\r\n", false },
		{ "GETX / HTTP/1.1\r\n\r\n", false },
		/* a body, or what may be one */
		{ "PUT /k HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", false },
		{ "PUT /k HTTP/1.1\r\nContent-Length: 5\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nContent-Length: 0x\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nContent-Length: \r\n\r\n", false },
		/* not one whole head */
		{ "GET / HTTP/1.1\r\nHost: a\r\n", false },
		{ "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\n\r\n\r\n", false },
		{ "GET / HTTP/1.1\n\n", false },
		{ "GET / HTTP/2.0\r\n\r\n", false },
		{ "GET / HTTP/1.1 \r\n\r\n", false },
		{ "GET  HTTP/1.1\r\n\r\n", false },
		{ "GET /a b HTTP/1.1\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost a\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\n: empty name\r\n\r\n", false },
		{ "", false },
		{ "\r\n\r\n", false },
	};

	return cr_make_param_array(struct http_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct http_case *tc, conn_replay, http_judges_held_bytes)
{
	bool ok = conn_replay_http_ok((const unsigned char *)tc->text, strlen(tc->text));

	cr_assert_eq(ok, tc->ok, "'%s': %s, expected %s", tc->text, ok ? "replayable" : "not replayable",
		     tc->ok ? "replayable" : "not");
}

/* The judge reads only the n bytes it is given: a head cut anywhere is not whole. */
Test(conn_replay, http_cut_heads_are_never_whole)
{
	const char *head = "GET /path HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n";
	size_t n = strlen(head);

	for (size_t cut = 0; cut < n; cut++)
		cr_assert_not(conn_replay_http_ok((const unsigned char *)head, cut), "cut at %zu", cut);
	cr_assert(conn_replay_http_ok((const unsigned char *)head, n));
}
