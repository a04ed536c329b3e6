/* What a client that no backend can take gets (--no-backend, issue 23), seen through curl as
 * a user would: close (the default, what slb always did) is an empty reply (curl exit 52),
 * reset is a reset (exit 56, or 7 when it comes before curl saw the connect done), http-503 is "HTTP/1.1 503 Service Unavailable" with Retry-After
 * and Connection: close (curl -f exits 22). The only backend refuses connects (its port is
 * closed), so every client is given up after its tries. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "faultkit.h"
#include "peers.h"
#include "testproc.h"
#include "testskip.h"

#define IO_MS 10000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(no_backend, .fini = suite_fini, .timeout = 60);

/* slb with one backend on a port nobody listens on, plus how (NULL: the default). */
static void start_slb(struct faultkit_slb *s, const char *how)
{
	static char dead[32];
	const char *args[] = { "--backend", dead, "--workers", "1", how ? "--no-backend" : NULL, how, NULL };
	int port = testproc_free_port();

	cr_assert_gt(port, 0);
	snprintf(dead, sizeof(dead), "127.0.0.1:%d", port);
	faultkit_slb_start_ok(s, 0, args);
}

/* Runs curl -sS (and -f with fail) on slb's port, with -i so the answer's head is in out.
 * Returns curl's exit code. */
static int run_curl(unsigned port, bool fail, char *out, size_t len)
{
	char url[64];
	const char *argv[] = { "/usr/bin/env", "curl", "-sS", "-i", "--max-time", "10", fail ? "-f" : "-v", url, NULL };
	int status;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	status = testproc_run(argv, IO_MS, out, len);
	cr_assert_geq(status, 0, "curl did not run: %d", status);
	return status;
}

static void require_curl(void)
{
	if (!peers_have("curl"))
		testskip(TESTSKIP_PROGRAM, "curl is not installed");
}

Test(no_backend, default_close_is_an_empty_reply)
{
	static struct faultkit_slb slb;
	static char out[4096];

	require_curl();
	start_slb(&slb, NULL);
	cr_assert_eq(run_curl(slb.port, false, out, sizeof(out)), 52, "curl: %s", out);
	cr_assert(strstr(out, "Empty reply"), "%s", out);
	faultkit_slb_stop_ok(&slb, IO_MS);
}

Test(no_backend, reset_is_a_reset)
{
	static struct faultkit_slb slb;
	static char out[4096];
	int rc;

	require_curl();
	start_slb(&slb, "reset");
	rc = run_curl(slb.port, false, out, sizeof(out));

	/* 56 (receive failed), or 7 when the reset came before curl saw its connect done */
	cr_assert(rc == 56 || rc == 7, "curl exited %d: %s", rc, out);
	cr_assert(strstr(out, "reset by peer"), "%s", out);
	faultkit_slb_stop_ok(&slb, IO_MS);
}

Test(no_backend, http_503_with_retry_after)
{
	static struct faultkit_slb slb;
	static char out[4096];

	require_curl();
	start_slb(&slb, "http-503");
	cr_assert_eq(run_curl(slb.port, true, out, sizeof(out)), 22, "curl -f: %s", out);
	cr_assert_eq(run_curl(slb.port, false, out, sizeof(out)), 0, "curl: %s", out);
	cr_assert(strstr(out, "HTTP/1.1 503 Service Unavailable\r\n"), "%s", out);
	cr_assert(strstr(out, "\r\nRetry-After: 1\r\n"), "%s", out);
	cr_assert(strstr(out, "\r\nConnection: close\r\n"), "%s", out);
	cr_assert(strstr(out, "no backend is available"), "%s", out);
	cr_assert_eq(faultkit_metric(slb.admin, "slb_worker_no_backend_503_total"), 2);
	faultkit_slb_stop_ok(&slb, IO_MS);
}
