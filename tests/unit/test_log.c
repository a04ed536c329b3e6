/* log_escape: bytes a peer sent, made safe and unambiguous for one log line. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "slb/common/log.h"

/* Strings inline, not pointers: Criterion hands each case to a worker process in which the
 * runner's addresses mean nothing. */
struct escape_case {
	char in[16];
	size_t len;         /* bytes of in, NULs included */
	size_t outlen;
	char want[32];
	size_t consumed;
};

ParameterizedTestParameters(log, escape_cases)
{
	static struct escape_case cases[] = {
		{ "HEARTBEAT load=5", 16, 64, "HEARTBEAT load=5", 16 },
		{ "", 0, 8, "", 0 },
		{ "a\"b\\c", 5, 64, "a\\\"b\\\\c", 5 },
		{ "GET /\r\n", 7, 64, "GET /\\x0d\\x0a", 7 },
		{ "\x1b[2J\x7f", 5, 64, "\\x1b[2J\\x7f", 5 },
		{ "caf\xc3\xa9", 5, 64, "caf\\xc3\\xa9", 5 },
		{ "a\0b", 3, 64, "a\\x00b", 3 },
		/* out of room: stops before the byte whose escape does not fit, never mid-escape */
		{ "abcdef", 6, 4, "abc", 3 },
		{ "ab\ncd", 5, 6, "ab", 2 },
		{ "ab\"cd", 5, 5, "ab\\\"", 3 },
	};

	return cr_make_param_array(struct escape_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct escape_case *c, log, escape_cases)
{
	char out[64];

	memset(out, 'X', sizeof(out));
	cr_assert_eq(log_escape(out, c->outlen, c->in, c->len), c->consumed, "want \"%s\"", c->want);
	cr_assert_str_eq(out, c->want);
}

Test(log, escape_into_one_byte_is_an_empty_string)
{
	char out[1] = { 'X' };

	cr_assert_eq(log_escape(out, sizeof(out), "abc", 3), 0);
	cr_assert_eq(out[0], '\0');
}
