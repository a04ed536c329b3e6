/* http_req: HTTP/1.x request head parsing; see http_req.h. */
#include "http_req.h"

#include <string.h>
#include <strings.h>

/* See http_req.h. */
size_t http_req_head_len(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Splits off one line of the head, without its "\r\n". Returns the next line's start. */
static const char *http_req_next_line(const char *p, const char *end, size_t *line_len)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t len;

	if (!nl)
		nl = end;
	len = (size_t)(nl - p);
	if (len && p[len - 1] == '\r')
		len--;
	*line_len = len;
	return nl < end ? nl + 1 : end;
}

static bool http_req_token_eq(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(p, word, len) == 0;
}

static size_t http_req_trim(const char **p, size_t len)
{
	while (len && (**p == ' ' || **p == '\t')) {
		(*p)++;
		len--;
	}
	while (len && ((*p)[len - 1] == ' ' || (*p)[len - 1] == '\t'))
		len--;
	return len;
}

/* Connection is a comma-separated list: "keep-alive, Upgrade" is legal. */
static void http_req_parse_connection(const char *v, size_t len, bool *says_close, bool *says_keep)
{
	while (len) {
		const char *comma = memchr(v, ',', len);
		size_t tok = comma ? (size_t)(comma - v) : len;
		const char *t = v;
		size_t tlen = http_req_trim(&t, tok);

		if (http_req_token_eq(t, tlen, "close"))
			*says_close = true;
		else if (http_req_token_eq(t, tlen, "keep-alive"))
			*says_keep = true;
		v += tok;
		len -= tok;
		if (len) {
			v++;
			len--;
		}
	}
}

static int http_req_parse_length(const char *v, size_t len, struct http_req *req)
{
	uint64_t n = 0;

	if (len == 0 || len > 18)
		return 400;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 400;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (req->has_length && req->content_length != n)
		return 400;
	req->content_length = n;
	req->has_length = true;
	return 0;
}

/* "METHOD SP TARGET SP HTTP/1.x". Returns 0 or the HTTP status to refuse with. */
static int http_req_parse_request_line(const char *p, size_t len, struct http_req *req, int *minor)
{
	const char *sp1 = memchr(p, ' ', len), *sp2, *target, *q;
	size_t rest;

	if (!sp1 || sp1 == p)
		return 400;
	req->head = http_req_token_eq(p, (size_t)(sp1 - p), "HEAD");
	target = sp1 + 1;
	rest = len - (size_t)(target - p);
	sp2 = memchr(target, ' ', rest);
	if (!sp2 || sp2 == target || *target != '/')
		return 400;
	q = memchr(target, '?', (size_t)(sp2 - target));
	req->path = target;
	req->path_len = (size_t)((q ? q : sp2) - target);
	rest = len - (size_t)(sp2 + 1 - p);
	if (rest != 8 || strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return 400;
	if (sp2[6] != '1' || sp2[7] != '.')
		return 505;
	if (sp2[8] != '0' && sp2[8] != '1')
		return 505;
	*minor = sp2[8] - '0';
	return 0;
}

static int http_req_parse_header(const char *p, size_t len, struct http_req *req, bool *says_close,
				 bool *says_keep)
{
	const char *colon = memchr(p, ':', len), *v;
	size_t vlen;

	/* No colon, or a continuation line (obsolete folding): refuse rather than guess. */
	if (!colon || colon == p || *p == ' ' || *p == '\t')
		return 400;
	v = colon + 1;
	vlen = http_req_trim(&v, len - (size_t)(v - p));
	if (http_req_token_eq(p, (size_t)(colon - p), "connection"))
		http_req_parse_connection(v, vlen, says_close, says_keep);
	else if (http_req_token_eq(p, (size_t)(colon - p), "content-length"))
		return http_req_parse_length(v, vlen, req);
	else if (http_req_token_eq(p, (size_t)(colon - p), "transfer-encoding"))
		req->chunked = true;
	return 0;
}

/* See http_req.h. */
void http_req_parse(const char *buf, size_t len, struct http_req *req)
{
	const char *p = buf, *end = buf + len;
	bool says_close = false, says_keep = false;
	size_t line_len;
	int minor = 1;

	memset(req, 0, sizeof(*req));
	p = http_req_next_line(p, end, &line_len);
	req->error = http_req_parse_request_line(buf, line_len, req, &minor);
	while (!req->error && p < end) {
		const char *line = p;

		p = http_req_next_line(p, end, &line_len);
		if (line_len == 0)
			break;
		req->error = http_req_parse_header(line, line_len, req, &says_close, &says_keep);
	}
	if (!req->error && req->chunked)
		req->error = 501;
	req->http10 = minor == 0;
	req->keep_alive = !req->error && !says_close && (minor == 1 || says_keep);
}

