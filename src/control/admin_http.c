/* admin_http: the request side of the admin server's HTTP, as a pure function over
 * (pointer, length) so that it is unit-tested and fuzzed without sockets. It reads the
 * method, the path and its query, and the two headers that change what is done:
 * Content-Length (bodies are small and bounded: the runtime API's JSON) and Authorization
 * (the admin token). Transfer-Encoding is refused: no client of a tiny JSON API needs it,
 * and a body framed two ways is how request smuggling starts. */
#include "slb/control/admin_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The path runs from after the method's space to the next space or the end of the line; a
 * query ('?') is split off, and the '\r' of a version-less "GET /path\r\n" ends it too. */
static void parse_target(const char *path, const char *eol, struct admin_request *out)
{
	const char *p = path, *q;

	while (p < eol && *p != ' ' && *p != '?' && *p != '\r')
		p++;
	out->path = path;
	out->path_len = (size_t)(p - path);
	if (p == eol || *p != '?')
		return;
	q = ++p;
	while (p < eol && *p != ' ' && *p != '\r')
		p++;
	out->query = q;
	out->query_len = (size_t)(p - q);
}

static const struct {
	const char *name;
	enum admin_method method;
} methods[] = {
	{ "GET", ADMIN_METHOD_GET },
	{ "POST", ADMIN_METHOD_POST },
	{ "PUT", ADMIN_METHOD_PUT },
	{ "DELETE", ADMIN_METHOD_DELETE },
};

/* The method, then the target after the first space (the caller saw one). A method of any
 * other name has its path read too, so that a known path answers 405 with Allow. */
static void parse_request_line(const char *buf, const char *eol, struct admin_request *out)
{
	const char *sp = memchr(buf, ' ', (size_t)(eol - buf));
	size_t n = (size_t)(sp - buf);

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (n == strlen(methods[i].name) && memcmp(buf, methods[i].name, n) == 0)
			out->method = methods[i].method;
	parse_target(sp + 1, eol, out);
}

/* Digits only, no sign, at most 9 of them: a length that cannot be read is a bad request. */
static int parse_length(const char *v, size_t len, size_t *out)
{
	char text[10];

	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, v, len);
	text[len] = '\0';
	if (strspn(text, "0123456789") != len)
		return -EINVAL;
	*out = strtoul(text, NULL, 10);
	return 0;
}

static bool header_is(const char *line, size_t name_len, const char *name)
{
	return name_len == strlen(name) && strncasecmp(line, name, name_len) == 0;
}

/* One header line (without its line ending). Two Content-Lengths are refused even when
 * equal: it costs nothing and no honest client sends them. */
static int parse_header(const char *line, size_t len, struct admin_request *out)
{
	const char *colon = memchr(line, ':', len), *v, *end = line + len;
	size_t name_len;

	if (!colon)
		return -EINVAL;
	name_len = (size_t)(colon - line);
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (header_is(line, name_len, "Transfer-Encoding"))
		return -EINVAL;
	if (header_is(line, name_len, "Authorization")) {
		out->auth = v;
		out->auth_len = (size_t)(end - v);
	} else if (header_is(line, name_len, "Content-Length")) {
		if (out->has_length)
			return -EINVAL;
		out->has_length = true;
		return parse_length(v, (size_t)(end - v), &out->content_length);
	}
	return 0;
}

static int parse_headers(const char *p, const char *head_end, struct admin_request *out)
{
	while (p < head_end) {
		const char *nl = memchr(p, '\n', (size_t)(head_end - p));
		size_t len = (size_t)(nl - p);
		int rc;

		if (len && p[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		rc = parse_header(p, len, out);
		if (rc)
			return rc;
		p = nl + 1;
	}
	return 0;
}

int admin_parse_request(const char *buf, size_t len, struct admin_request *out)
{
	const char *eol;
	size_t head;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > ADMIN_REQ_MAX) /* more than the server ever holds of a head: look at what it would */
		len = ADMIN_REQ_MAX;
	head = head_length(buf, len);
	if (!head)
		return len >= ADMIN_REQ_MAX ? -EMSGSIZE : 0;
	/* A complete head holds a '\n', so the request line ends inside it. */
	eol = memchr(buf, '\n', head);
	if (!memchr(buf, ' ', (size_t)(eol - buf)))
		return -EINVAL;
	rc = parse_headers(eol + 1, buf + head, out);
	if (!rc && out->content_length > ADMIN_REQ_BODY_MAX)
		rc = -EFBIG;
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	parse_request_line(buf, eol, out);
	return (int)head;
}
