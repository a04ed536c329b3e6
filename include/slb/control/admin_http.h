/* admin_http: the admin endpoint's request parser (admin_http.c). Pure: it reads the bytes a
 * connection received so far and keeps no state, so it is tested and fuzzed without sockets. */
#ifndef SLB_ADMIN_HTTP_H
#define SLB_ADMIN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define ADMIN_REQ_MAX 4096          /* a request (line and headers) larger than this is refused */
#define ADMIN_REQ_BODY_MAX 1024     /* a request body (the API's JSON) larger than this: 413 */

/* A parsed request head: the method, the target, and the headers that matter. */
enum admin_method {
	ADMIN_METHOD_OTHER = 0, /* anything else: 405 on a known path, 404 elsewhere */
	ADMIN_METHOD_GET,
	ADMIN_METHOD_POST,
	ADMIN_METHOD_PUT,
	ADMIN_METHOD_DELETE,
};

struct admin_request {
	enum admin_method method;
	const char *path;      /* known methods only: into the caller's buffer, not NUL-terminated */
	size_t path_len;       /* 0 for "GET " with nothing after it */
	const char *query;     /* after '?', without it; NULL when there is none */
	size_t query_len;
	const char *auth;      /* the Authorization header's value, trimmed; NULL when absent */
	size_t auth_len;
	size_t content_length; /* body bytes after the head; 0 without Content-Length */
	bool has_length;
};

/* Parses the request head in buf[0..len): the bytes read so far on one connection, so it is
 * called again as more arrive. A head ends at the first "\r\n\r\n" or "\n\n"; the request
 * line is "METHOD SP PATH[?QUERY][ SP VERSION]", then "Name: value" header lines; a METHOD
 * other than GET, POST, PUT and DELETE is ADMIN_METHOD_OTHER, its path read all the same. Bytes past
 * ADMIN_REQ_MAX are not looked at. Returns the head's length (> 0) with out filled, 0 when the
 * head is not complete yet, -EMSGSIZE when ADMIN_REQ_MAX bytes hold no complete head, -EINVAL
 * for a request line without a space, a header line without a colon, a Content-Length that is
 * not 1-9 digits or given twice, or any Transfer-Encoding (all answered 400), or -EFBIG for a
 * Content-Length over ADMIN_REQ_BODY_MAX (413). On an error out is all zero. Pure: reads only
 * buf, keeps no state; out's pointers point into buf. */
int admin_parse_request(const char *buf, size_t len, struct admin_request *out);

#endif
