/* testwait: see testwait.h. */
#include "testwait.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testproc.h"

int testwait_scale(void)
{
	const char *san = getenv("SLB_SANITIZER");

	return san && *san ? TESTWAIT_SANITIZER_SCALE : 1;
}

int testwait_ms(int ms)
{
	return ms * testwait_scale();
}

void testwait_report(const char *what, double took_ms, int promise_ms)
{
	fprintf(stderr, "measured: %s took %.1f ms (promised within %d ms)%s\n", what, took_ms, promise_ms,
		took_ms > promise_ms ? ": slower than promised on this run" : "");
}

int testwait_connect_refused(unsigned port, int budget_ms)
{
	int64_t start = testproc_now_ms();

	for (;;) {
		int fd = testproc_connect(port, 1000);

		if (fd == -ECONNREFUSED)
			return (int)(testproc_now_ms() - start);
		if (fd >= 0)
			close(fd);
		if (testproc_now_ms() - start > budget_ms)
			return -ETIMEDOUT;
		usleep(10 * 1000);
	}
}
