/* The HTTP health check's one rule (slb/common/http_check.h), which slb's probes and slb-agent
 * both apply: a table of answers and the status each gives, and the request both send. Every
 * answer is judged from the very end of a page followed by an inaccessible page, so reading
 * one byte past its length crashes the test instead of passing by luck. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "slb/common/http_check.h"

/* Copies len bytes to the end of a readable page followed by a PROT_NONE page and judges them. */
static int status_guarded(const char *resp, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	int status;

	cr_assert(len <= (size_t)page);
	map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert(mprotect(map + page, (size_t)page, PROT_NONE) == 0);
	memcpy(map + page - len, resp, len);
	status = http_check_status(map + page - len, len);
	munmap(map, (size_t)page * 2);
	return status;
}

/* Criterion runs each case in a re-executed process: the text is held inline. */
struct status_case {
	char resp[64];
	int status; /* what http_check_status returns: the code, or 0 for no status line */
	bool passes;
};

ParameterizedTestParameters(http_check, status_lines)
{
	static struct status_case cases[] = {
		{ "HTTP/1.1 200 OK\r\n", 200, true },
		{ "HTTP/1.0 200 OK\r\n", 200, true },
		{ "HTTP/1.1 204 No Content\r\n", 204, true },
		{ "HTTP/1.1 299 \r\n", 299, true },
		{ "HTTP/1.1 200\r\n", 200, true },      /* no reason phrase */
		{ "HTTP/1.1 200\n", 200, true },        /* bare LF */
		{ "HTTP/1.1 200", 200, true },          /* the server closed after the code */
		{ "HTTP/1.1 100 Continue\r\n", 100, false },
		{ "HTTP/1.1 199 \r\n", 199, false },
		{ "HTTP/1.1 301 Moved\r\n", 301, false },
		{ "HTTP/1.1 404 Not Found\r\n", 404, false },
		{ "HTTP/1.0 503 Service Unavailable\r\n", 503, false },
		{ "HTTP/1.1 599 \r\n", 599, false },
		{ "", 0, false },
		{ "HTTP/1.1 20", 0, false },            /* cut inside the code */
		{ "HTTP/1.1", 0, false },
		{ "HTTP/1.2 200 OK\r\n", 0, false },    /* only 1.0 and 1.1 exist */
		{ "HTTP/2 200\r\n", 0, false },
		{ "HTTP/1.1 099 \r\n", 0, false },
		{ "HTTP/1.1 600 \r\n", 0, false },
		{ "HTTP/1.1 2000 OK\r\n", 0, false },   /* four digits */
		{ "HTTP/1.1 20x OK\r\n", 0, false },
		{ "HTTP/1.1  200 OK\r\n", 0, false },   /* two spaces */
		{ "HTTP/1.1 +20 OK\r\n", 0, false },
		{ "HTTP/1.1\t200 OK\r\n", 0, false },
		{ "http/1.1 200 OK\r\n", 0, false },    /* the version is case-sensitive */
		{ " HTTP/1.1 200 OK\r\n", 0, false },
		{ "SSH-2.0-OpenSSH_9.2\r\n", 0, false },
	};

	return cr_make_param_array(struct status_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct status_case *c, http_check, status_lines)
{
	int status = status_guarded(c->resp, strlen(c->resp));

	cr_assert_eq(status, c->status, "'%s': %d", c->resp, status);
	cr_assert_eq(http_check_passes(status), c->passes, "'%s'", c->resp);
}

Test(http_check, oversized_answer_is_judged_by_its_first_line)
{
	char resp[4096];

	memset(resp, 'x', sizeof(resp));
	memcpy(resp, "HTTP/1.1 200 OK\r\n", 17);
	cr_assert_eq(status_guarded(resp, sizeof(resp)), 200);
	memset(resp, 'x', sizeof(resp));
	cr_assert_eq(status_guarded(resp, sizeof(resp)), 0);
}

Test(http_check, request_is_http11_with_host_and_close)
{
	struct slb_addr v4, v6;
	char buf[256];
	size_t n;

	cr_assert_eq(addr_parse("127.0.0.1:8080", &v4, NULL, 0), 0);
	cr_assert_eq(addr_parse("[::1]:80", &v6, NULL, 0), 0);
	n = http_check_request(buf, sizeof(buf), "/health", &v4, "slb-check");
	cr_assert_str_eq(buf, "GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: slb-check\r\n"
			      "Connection: close\r\n\r\n");
	cr_assert_eq(n, strlen(buf));
	n = http_check_request(buf, sizeof(buf), "/", &v6, "slb-agent");
	cr_assert_str_eq(buf, "GET / HTTP/1.1\r\nHost: [::1]:80\r\nUser-Agent: slb-agent\r\nConnection: close\r\n\r\n");
	cr_assert_eq(n, strlen(buf));
}

Test(http_check, request_that_does_not_fit_is_refused)
{
	struct slb_addr a;
	char buf[32];

	cr_assert_eq(addr_parse("127.0.0.1:8080", &a, NULL, 0), 0);
	cr_assert_eq(http_check_request(buf, sizeof(buf), "/health", &a, "slb-check"), 0);
}
