/* ctl_http: see ctl_http.h. A blocking socket with SO_RCVTIMEO/SO_SNDTIMEO bounds every read
 * and write; the admin server answers one request per connection and closes, so an answer
 * is everything up to EOF. */
#include "ctl_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int http_fail(char *err, size_t errlen, int rc, const char *what, const struct slb_addr *a)
{
	char text[ADDR_TEXT_MAX];

	snprintf(err, errlen, "%s %s: %s", what, addr_format(a, text, sizeof(text)), strerror(-rc));
	return rc;
}

/* A connected socket whose reads and writes give up after timeout_ms (0: reads never do). */
static int http_connect(const struct slb_addr *a, int timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct timeval snd = { .tv_sec = CTL_HTTP_TIMEOUT_MS / 1000 };
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd == -1)
		return http_fail(err, errlen, -errno, "socket for", a);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd));
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return fd;
	rc = -errno;
	close(fd);
	return http_fail(err, errlen, rc == -EINPROGRESS ? -ETIMEDOUT : rc, "cannot reach slb's admin endpoint at", a);
}

static int http_send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int http_send_request(int fd, const struct ctl_target *t, const char *method, const char *path,
			     const char *body)
{
	char head[1024 + 512];
	int n;

	n = snprintf(head, sizeof(head), "%s %s HTTP/1.0\r\nUser-Agent: slb-ctl\r\n%s%s%sContent-Length: %zu\r\n\r\n",
		     method, path, t->token ? "Authorization: Bearer " : "", t->token ? t->token : "",
		     t->token ? "\r\n" : "", body ? strlen(body) : 0);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -E2BIG;
	n = http_send_all(fd, head, (size_t)n);
	if (!n && body)
		n = http_send_all(fd, body, strlen(body));
	return n;
}

/* Reads to EOF into a growing buffer (*out, NUL-terminated, the caller frees it). Returns 0
 * or -errno (-ETIMEDOUT when slb stopped answering, -EFBIG past CTL_HTTP_BODY_MAX). */
static int http_read_all(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *p;
	ssize_t got;

	for (;;) {
		if (!buf)
			return -ENOMEM;
		if (n + 1 == cap) {
			p = cap * 2 <= CTL_HTTP_BODY_MAX ? realloc(buf, cap * 2) : NULL;
			if (!p) {
				free(buf);
				return -EFBIG;
			}
			buf = p;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got > 0) {
			n += (size_t)got;
			continue;
		}
		if (got == -1 && errno == EINTR)
			continue;
		buf[n] = '\0';
		*out = buf;
		*len = n;
		return got == 0 ? 0 : errno == EAGAIN ? -ETIMEDOUT : -errno;
	}
}

/* Splits "HTTP/1.x NNN ...\r\n...\r\n\r\nBODY" into the status and the body. */
static int http_parse_answer(char *raw, size_t len, struct ctl_answer *a)
{
	char *body = strstr(raw, "\r\n\r\n");

	if (len < 12 || strncmp(raw, "HTTP/1.", 7) != 0 || !body)
		return -EPROTO;
	a->status = atoi(raw + 9);
	body += 4;
	a->len = len - (size_t)(body - raw);
	memmove(raw, body, a->len + 1);
	a->body = raw;
	return 0;
}

int ctl_http_call(const struct ctl_target *t, const char *method, const char *path, const char *body,
		  struct ctl_answer *a, char *err, size_t errlen)
{
	char *raw = NULL;
	size_t len = 0;
	int fd, rc;

	memset(a, 0, sizeof(*a));
	fd = http_connect(&t->admin, CTL_HTTP_TIMEOUT_MS, err, errlen);
	if (fd < 0)
		return fd;
	rc = http_send_request(fd, t, method, path, body);
	if (!rc)
		rc = http_read_all(fd, &raw, &len);
	close(fd);
	if (!rc)
		rc = http_parse_answer(raw, len, a);
	if (rc) {
		free(raw);
		return http_fail(err, errlen, rc, "talking to", &t->admin);
	}
	return 0;
}

char *ctl_http_encode(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s && n + 4 <= len; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~", ch)) {
			out[n++] = (char)ch;
			continue;
		}
		out[n++] = '%';
		out[n++] = hex[ch >> 4];
		out[n++] = hex[ch & 15];
	}
	out[n] = '\0';
	return out;
}

/* Feeds complete lines of buf[0..*len) to on_data ("data: " ones), keeps a partial one. */
static void http_stream_lines(char *buf, size_t *len, void (*on_data)(const char *, void *), void *arg)
{
	char *start = buf, *nl;

	while ((nl = memchr(start, '\n', *len - (size_t)(start - buf)))) {
		*nl = '\0';
		if (strncmp(start, "data: ", 6) == 0)
			on_data(start + 6, arg);
		start = nl + 1;
	}
	*len -= (size_t)(start - buf);
	memmove(buf, start, *len);
}

/* The stream's first line must say 200: a full house answers 503 and closes. */
static int http_stream_head(const char *buf, size_t len)
{
	if (len < 12)
		return 0;
	return strncmp(buf, "HTTP/1.0 200", 12) == 0 ? 1 : -EPROTO;
}

int ctl_http_stream(const struct ctl_target *t, const char *path, void (*on_data)(const char *json, void *arg),
		    void *arg, char *err, size_t errlen)
{
	char buf[8192];
	size_t len = 0;
	int fd, rc, head = 0;

	fd = http_connect(&t->admin, 0, err, errlen);
	if (fd < 0)
		return fd;
	rc = http_send_request(fd, t, "GET", path, NULL);
	while (!rc) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n == 0 ? 0 : -errno;
			break;
		}
		len += (size_t)n;
		if (!head && (head = http_stream_head(buf, len)) < 0)
			rc = head;
		else if (head)
			http_stream_lines(buf, &len, on_data, arg);
		if (len == sizeof(buf) - 1)
			len = 0; /* a line longer than any event: drop it */
	}
	close(fd);
	return rc ? http_fail(err, errlen, rc, "event stream from", &t->admin) : 0;
}
