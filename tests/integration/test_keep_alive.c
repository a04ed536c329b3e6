/* HTTP/1.0 keep-alive with a real client: ApacheBench's -k sends HTTP/1.0 requests with
 * "Connection: Keep-Alive" and waits for a close unless the answer says keep-alive, so a
 * backend that keeps the socket open without saying so hangs it (issue 9, item 6). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"

#define AB "/usr/bin/ab"
#define IO_MS 10000
#define AB_MS 60000       /* ab's own -s timeout is shorter: it fails before we kill it */
#define REQUESTS "200"

TestSuite(keep_alive, .fini = testproc_stop_all, .timeout = 180);

/* Runs ab -k against 127.0.0.1:port and asserts that every request was answered on a kept
 * connection. */
static void expect_ab_keep_alive(unsigned port)
{
	static char out[1 << 16];
	char url[64];
	struct testproc *ab;

	cr_assert_eq(access(AB, X_OK), 0, AB " is missing: scripts/install-deps.sh installs apache2-utils");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	ab = testproc_spawn((const char *const[]){ AB, "-k", "-n", REQUESTS, "-c", "4", "-s", "10", url, NULL });
	cr_assert_not_null(ab);
	if (testproc_wait(ab, AB_MS))
		testproc_stop(ab, 1000);
	testproc_output(ab, out, sizeof(out));
	cr_assert_eq(testproc_exit_code(ab), 0, "ab against port %u failed:\n%s", port, out);
	cr_assert_not_null(strstr(out, "Complete requests:      " REQUESTS "\n"), "%s", out);
	cr_assert_not_null(strstr(out, "Failed requests:        0\n"), "%s", out);
	cr_assert_not_null(strstr(out, "Keep-Alive requests:    " REQUESTS "\n"), "%s", out);
}

Test(keep_alive, ab_k_completes_against_the_backend_and_through_slb)
{
	static struct faultkit_slb s;
	char be[32];

	faultkit_backend_ok("b1", be, sizeof(be));
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "2", "--backend", be, NULL });
	expect_ab_keep_alive((unsigned)atoi(strchr(be, ':') + 1));
	expect_ab_keep_alive(s.port);
	faultkit_slb_stop_ok(&s, IO_MS);
}
