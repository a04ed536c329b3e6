/* http_req: parses the head of one HTTP/1.x request (request line plus the few headers that
 * decide framing and keep-alive); pure functions over (pointer, length), no sockets. */
#ifndef SLB_DEMO_HTTP_REQ_H
#define SLB_DEMO_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_req {
	bool head;               /* HEAD: same answer without the body */
	const char *path;        /* target up to '?', points into the parsed buffer */
	size_t path_len;
	bool keep_alive;         /* HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive" */
	bool http10;             /* HTTP/1.0: a kept-alive answer must say so (RFC 9112 9.3) */
	uint64_t content_length; /* request body bytes that follow the head */
	bool has_length;
	bool chunked;            /* a Transfer-Encoding was given: we cannot frame it */
	int error;               /* HTTP status to refuse with (400, 501, 505), 0 if fine */
};

/* Returns the length of the head at buf, blank line included ("\r\n\r\n" or "\n\n"),
 * or 0 when it is not complete within len bytes. */
size_t http_req_head_len(const char *buf, size_t len);

/* Parses a complete head of len bytes (as measured by http_req_head_len) into req.
 * Never fails as a call: a malformed request sets req->error, and then keep_alive is
 * false because the framing of what follows cannot be trusted. */
void http_req_parse(const char *buf, size_t len, struct http_req *req);

#endif
