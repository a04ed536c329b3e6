/* testskip: see testskip.h. */
#include "testskip.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* One write with O_APPEND: ctest runs two test binaries at once, and a line written whole
 * cannot interleave with another's. */
static void log_skip(const char *reason, const char *msg)
{
	const char *path = getenv("SLB_SKIP_LOG");
	char line[1024];
	int fd, n;

	if (!path || !*path)
		return;
	n = snprintf(line, sizeof(line), "%s\t%s/%s\t%s\n", reason, criterion_current_suite->name,
		     criterion_current_test->name, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) { /* truncated: keep it one line */
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return; /* the skip still shows in the test's output */
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "testskip: short write to %s\n", path);
	close(fd);
}

void testskip(const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "SKIP %s: %s\n", reason, msg);
	log_skip(reason, msg);
	criterion_skip_test("%s: %s", reason, msg);
}
