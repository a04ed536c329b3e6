/* fakehb: scripted heartbeat server for tests; see fakehb.h. */
#include "fakehb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testproc.h"

/* See fakehb.h. */
const char *fakehb_value(const char *line, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = line; (p = strstr(p, key)); p += klen) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			snprintf(buf, len, "%.*s", (int)strcspn(p + klen + 1, " "), p + klen + 1);
			return buf;
		}
	}
	return NULL;
}

/* See fakehb.h. */
int fakehb_accept_register(int listen_fd, unsigned id, unsigned interval_ms, unsigned timeout_ms,
			   char *reg, size_t reglen, int wait_ms)
{
	int64_t deadline = testproc_now_ms() + wait_ms;
	static const char hello[] = "HELLO slb/1 nonce=0123456789abcdef\n";
	char ok[128];
	int fd, rc;

	fd = testproc_accept(listen_fd, wait_ms);
	if (fd < 0)
		return fd;
	rc = testproc_write_all(fd, hello, sizeof(hello) - 1, 1000);
	if (!rc)
		rc = testproc_read_line(fd, reg, reglen, (int)(deadline - testproc_now_ms()));
	if (rc >= 0 && strncmp(reg, "REGISTER ", 9) != 0)
		rc = -EPROTO;
	if (rc >= 0) {
		int n = snprintf(ok, sizeof(ok), "OK registered id=%u interval=%u timeout=%u\n", id,
				 interval_ms, timeout_ms);

		rc = testproc_write_all(fd, ok, (size_t)n, 1000);
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* See fakehb.h. */
int fakehb_read_line(int fd, unsigned interval_ms, char *line, size_t len, int timeout_ms)
{
	char state[16], ok[96];
	int rc = testproc_read_line(fd, line, len, timeout_ms);
	int n;

	if (rc < 0 || strncmp(line, "HEARTBEAT", 9) != 0)
		return rc;
	if (!fakehb_value(line, "state", state, sizeof(state)))
		snprintf(state, sizeof(state), "up");
	n = snprintf(ok, sizeof(ok), "OK state=%s interval=%u\n", state, interval_ms);
	/* The peer may be gone already (a crash test): its line still counts. */
	testproc_write_all(fd, ok, (size_t)n, 1000);
	return rc;
}
