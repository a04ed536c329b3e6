/* healthtest: helpers for the health integration tests; see healthtest.h. */
#include "healthtest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HEALTHTEST_IO_MS 5000
#define HEALTHTEST_ARGS_MAX 48

static int port_arg(char *buf, size_t len, unsigned *port)
{
	int p = testproc_free_port();

	if (p < 0)
		return p;
	*port = (unsigned)p;
	snprintf(buf, len, "127.0.0.1:%d", p);
	return 0;
}

/* See healthtest.h. */
int healthtest_start(struct healthtest_slb *s, const char *const *extra)
{
	static char ports[3][32];
	const char *argv[HEALTHTEST_ARGS_MAX];
	int n = 0;

	if (port_arg(ports[0], sizeof(ports[0]), &s->listen) || port_arg(ports[1], sizeof(ports[1]), &s->hb) ||
	    port_arg(ports[2], sizeof(ports[2]), &s->admin))
		return -EADDRNOTAVAIL;
	argv[n++] = "slb";
	argv[n++] = "--listen";
	argv[n++] = ports[0];
	argv[n++] = "--heartbeat-listen";
	argv[n++] = ports[1];
	argv[n++] = "--admin";
	argv[n++] = ports[2];
	argv[n++] = "--workers";
	argv[n++] = "1";
	for (; extra && *extra && n < HEALTHTEST_ARGS_MAX - 1; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	s->proc = testproc_spawn(argv);
	if (!s->proc)
		return -errno;
	return testproc_wait_output(s->proc, "listening on", HEALTHTEST_IO_MS);
}

/* See healthtest.h. */
int healthtest_stop(struct healthtest_slb *s, char *why, size_t len)
{
	static const char *const bad[] = { "AddressSanitizer", "runtime error", "ThreadSanitizer", "LeakSanitizer",
					   " error " };
	static char out[65536];
	int code = testproc_stop(s->proc, HEALTHTEST_IO_MS);
	size_t n = testproc_output(s->proc, out, sizeof(out));
	const char *tail = out + (n > 1500 ? n - 1500 : 0);

	if (code != 0) {
		snprintf(why, len, "slb exit code %d:\n%s", code, tail);
		return -EPROTO;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strstr(out, bad[i])) {
			snprintf(why, len, "slb printed \"%s\":\n%s", bad[i], tail);
			return -EPROTO;
		}
	}
	return 0;
}

/* Finds the backend's line in /status (one backend object per line) and the field in it. */
static int field_in(const char *body, unsigned be_port, const char *field, char *buf, size_t len)
{
	char key[64];
	const char *line, *end, *v, *stop;

	snprintf(key, sizeof(key), "\"address\":\"127.0.0.1:%u\"", be_port);
	line = strstr(body, key);
	if (!line)
		return -ENOENT;
	end = strchr(line, '\n');
	snprintf(key, sizeof(key), "\"%s\":", field);
	v = strstr(line, key);
	if (!v || (end && v > end))
		return -ENOENT;
	v += strlen(key);
	if (*v == '"')
		stop = strchr(++v, '"');
	else
		stop = v + strcspn(v, ",}\n");
	if (!stop)
		return -EPROTO;
	snprintf(buf, len, "%.*s", (int)(stop - v), v);
	return 0;
}

/* See healthtest.h. */
int healthtest_field(unsigned admin_port, unsigned be_port, const char *field, char *buf, size_t len)
{
	static struct testproc_http r;
	int rc = testproc_http_get(admin_port, "/status", &r, HEALTHTEST_IO_MS);

	if (rc)
		return rc;
	if (r.status != 200)
		return -EPROTO;
	return field_in(r.body, be_port, field, buf, len);
}

/* See healthtest.h. */
int healthtest_wait_state(unsigned admin_port, unsigned be_port, const char *state, int timeout_ms)
{
	int64_t start = testproc_now_ms();
	char got[32];

	for (;;) {
		int64_t now = testproc_now_ms();

		if (healthtest_field(admin_port, be_port, "state", got, sizeof(got)) == 0 && strcmp(got, state) == 0)
			return (int)(now - start);
		if (now - start > timeout_ms)
			return -ETIMEDOUT;
		usleep(2000);
	}
}

/* See healthtest.h. */
int healthtest_session(unsigned hb_port, char *hello, size_t len)
{
	int fd = testproc_connect(hb_port, HEALTHTEST_IO_MS), rc;

	if (fd < 0)
		return fd;
	rc = testproc_read_line(fd, hello, len, HEALTHTEST_IO_MS);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* See healthtest.h. */
int healthtest_cmd(int fd, const char *line, char *reply, size_t len)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EMSGSIZE;
	rc = testproc_write_all(fd, buf, (size_t)n, HEALTHTEST_IO_MS);
	if (rc)
		return rc;
	return testproc_read_line(fd, reply, len, HEALTHTEST_IO_MS);
}
