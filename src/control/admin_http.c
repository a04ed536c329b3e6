/* admin_http: the request side of the admin server's HTTP/1.0, as a pure function over
 * (pointer, length) so that it is unit-tested and fuzzed without sockets. It reads the
 * method and the path and nothing else: the admin server answers two fixed documents, so
 * headers, versions and bodies cannot change what it sends. */
#include "slb/control/admin.h"

#include <errno.h>
#include <string.h>

/* Length of the head (through its blank line), or 0 while there is none. Both terminators
 * are searched because a client may end lines with "\n" alone; the earlier one wins. */
static size_t head_length(const char *buf, size_t len)
{
	const char *crlf = memmem(buf, len, "\r\n\r\n", 4);
	const char *lf = memmem(buf, len, "\n\n", 2);
	size_t a = crlf ? (size_t)(crlf - buf) + 4 : 0;
	size_t b = lf ? (size_t)(lf - buf) + 2 : 0;

	if (!a || !b)
		return a ? a : b;
	return a < b ? a : b;
}

/* The path runs from after "GET " to the next space or the end of the line, and stops early
 * at a query ('?') or at the '\r' of a version-less "GET /path\r\n". */
static void parse_path(const char *path, const char *eol, struct admin_request *out)
{
	const char *p = path;

	while (p < eol && *p != ' ' && *p != '?' && *p != '\r')
		p++;
	out->path = path;
	out->path_len = (size_t)(p - path);
}

int admin_parse_request(const char *buf, size_t len, struct admin_request *out)
{
	const char *eol;
	size_t head;

	memset(out, 0, sizeof(*out));
	if (len > ADMIN_REQ_MAX) /* more than the server ever holds: look at what it would */
		len = ADMIN_REQ_MAX;
	head = head_length(buf, len);
	if (!head)
		return len >= ADMIN_REQ_MAX ? -EMSGSIZE : 0;
	/* A complete head holds a '\n', so the request line ends inside it. */
	eol = memchr(buf, '\n', head);
	if (!memchr(buf, ' ', (size_t)(eol - buf)))
		return -EINVAL;
	if (eol - buf >= 4 && memcmp(buf, "GET ", 4) == 0) {
		out->method = ADMIN_METHOD_GET;
		parse_path(buf + 4, eol, out);
	}
	return (int)head;
}
