/* access_log: the line format (text and JSON), the cause vocabulary, and the ring: whole
 * lines or nothing, never blocking. */
#include <criterion/criterion.h>
#include <string.h>

#include "slb/common/access_log.h"

static struct access_log_entry entry(struct slb_addr *c, struct slb_addr *l, struct slb_addr *b)
{
	cr_assert_eq(addr_parse("192.0.2.1:5000", c, NULL, 0), 0);
	cr_assert_eq(addr_parse("[::1]:80", l, NULL, 0), 0);
	cr_assert_eq(addr_parse("10.0.0.2:8080", b, NULL, 0), 0);
	return (struct access_log_entry){ .end_unix_ms = 1700000000123LL, .worker = 3, .client = c, .listener = l,
					  .backend = b, .backend_name = "web-2", .attempts = 2, .bytes_up = 10,
					  .bytes_down = 20000, .duration_ms = 15, .connect_ms = 4, .end = END_BACKEND_RESET,
					  .service = "web" };
}

Test(access_log, text_line)
{
	struct slb_addr c, l, b;
	struct access_log_entry e = entry(&c, &l, &b);
	char line[ACCESS_LOG_LINE_MAX];
	size_t n = access_log_format(line, sizeof(line), ACCESS_LOG_TEXT, &e);

	cr_assert_eq(n, strlen(line));
	cr_assert_str_eq(line, "2023-11-14T22:13:20.123Z worker=3 client=192.0.2.1:5000 listener=[::1]:80 "
			       "service=web backend=10.0.0.2:8080 backend_name=web-2 attempts=2 bytes_up=10 bytes_down=20000 "
			       "duration_ms=15 "
			       "connect_ms=4 end=backend_reset\n");
}

Test(access_log, json_line_with_unknowns)
{
	struct slb_addr c, l, b;
	struct access_log_entry e = entry(&c, &l, &b);
	char line[ACCESS_LOG_LINE_MAX];

	e.client = e.listener = e.backend = NULL;
	e.service = NULL;
	e.backend_name = NULL;
	e.connect_ms = -1;
	e.end = END_MAX_CONNS;
	cr_assert_gt(access_log_format(line, sizeof(line), ACCESS_LOG_JSON, &e), 0);
	cr_assert_str_eq(line, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"worker\":3,\"client\":null,\"listener\":null,"
			       "\"service\":null,\"backend\":null,\"backend_name\":null,\"attempts\":2,\"bytes_up\":10,"
			       "\"bytes_down\":20000,\"duration_ms\":15,\"connect_ms\":null,\"end\":\"max_conns\"}\n");
}

Test(access_log, json_line_names_the_service_and_the_backend_and_text_without_a_name_says_dash)
{
	struct slb_addr c, l, b;
	struct access_log_entry e = entry(&c, &l, &b);
	char line[ACCESS_LOG_LINE_MAX];

	cr_assert_gt(access_log_format(line, sizeof(line), ACCESS_LOG_JSON, &e), 0);
	cr_assert(strstr(line, "\"listener\":\"[::1]:80\",\"service\":\"web\",\"backend\":\"10.0.0.2:8080\","
			       "\"backend_name\":\"web-2\","),
		  "%s", line);
	e.backend_name = "";
	cr_assert_gt(access_log_format(line, sizeof(line), ACCESS_LOG_TEXT, &e), 0);
	cr_assert(strstr(line, " service=web backend=10.0.0.2:8080 backend_name=- attempts=2 "), "%s", line);
}

Test(access_log, a_line_that_does_not_fit_is_not_cut)
{
	struct slb_addr c, l, b;
	struct access_log_entry e = entry(&c, &l, &b);
	char line[64];

	cr_assert_eq(access_log_format(line, sizeof(line), ACCESS_LOG_TEXT, &e), 0);
}

Test(access_log, every_cause_has_a_name)
{
	for (int i = END_CLIENT_CLOSED; i < END_MAX; i++) {
		const char *name = access_log_end_name((enum access_log_end)i);

		cr_assert(name && strcmp(name, "?") != 0 && !strchr(name, ' '), "cause %d", i);
	}
	cr_assert_str_eq(access_log_end_name(END_MAX), "?");
}

/* Issue 21: a connection of an ADDR:PORT,sni listener ends its line with its ClientHello's
 * server name and ALPN list; "-" (text) or null (JSON) when it gave none; other lines are as
 * before. */
Test(access_log, sni_lines_carry_the_server_name_and_alpn)
{
	struct slb_addr c, l, b;
	struct access_log_entry e = entry(&c, &l, &b);
	char line[ACCESS_LOG_LINE_MAX];

	e.tls = true;
	e.sni = "api.example.com";
	e.alpn = "h2,http/1.1";
	cr_assert_gt(access_log_format(line, sizeof(line), ACCESS_LOG_TEXT, &e), 0);
	cr_assert(strstr(line, " end=backend_reset sni=api.example.com alpn=h2,http/1.1\n"), "%s", line);
	cr_assert_gt(access_log_format(line, sizeof(line), ACCESS_LOG_JSON, &e), 0);
	cr_assert(strstr(line, ",\"end\":\"backend_reset\",\"sni\":\"api.example.com\",\"alpn\":\"h2,http/1.1\"}\n"),
		  "%s", line);
	e.sni = NULL;
	e.alpn = "";
	cr_assert_gt(access_log_format(line, sizeof(line), ACCESS_LOG_TEXT, &e), 0);
	cr_assert(strstr(line, " sni=- alpn=-\n"), "%s", line);
	cr_assert_gt(access_log_format(line, sizeof(line), ACCESS_LOG_JSON, &e), 0);
	cr_assert(strstr(line, "\"sni\":null,\"alpn\":null}\n"), "%s", line);
	cr_assert_eq(access_log_format(line, 200, ACCESS_LOG_TEXT, &e), 0, "a line that does not fit is not cut");
}
