/* http_check: the HTTP health check's request and status rule; see http_check.h. */
#include "slb/common/http_check.h"

#include <stdio.h>
#include <string.h>

#define HTTP_CHECK_VERSION_LEN 9 /* "HTTP/1.1 " */

/* See http_check.h. */
size_t http_check_request(char *buf, size_t size, const char *path, const struct slb_addr *host,
			  const char *agent)
{
	char text[ADDR_TEXT_MAX];
	int n;

	n = snprintf(buf, size,
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", path,
		     addr_format(host, text, sizeof(text)), agent);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* What may follow the code: the reason phrase's space, the end of the line, or nothing. */
static bool ends_status_code(const char *resp, size_t len, size_t at)
{
	return at == len || resp[at] == ' ' || resp[at] == '\r' || resp[at] == '\n';
}

/* See http_check.h. */
int http_check_status(const char *resp, size_t len)
{
	const char *code = resp + HTTP_CHECK_VERSION_LEN;

	if (len < HTTP_CHECK_VERSION_LEN + 3)
		return 0;
	if (memcmp(resp, "HTTP/1.0 ", HTTP_CHECK_VERSION_LEN) != 0 &&
	    memcmp(resp, "HTTP/1.1 ", HTTP_CHECK_VERSION_LEN) != 0)
		return 0;
	if (code[0] < '1' || code[0] > '5' || !is_digit(code[1]) || !is_digit(code[2]))
		return 0;
	if (!ends_status_code(resp, len, HTTP_CHECK_VERSION_LEN + 3))
		return 0;
	return (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
}

/* See http_check.h. */
bool http_check_passes(int status)
{
	return status >= 200 && status <= 299;
}
