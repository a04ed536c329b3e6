/* Backends by host name (issue 21), with real processes and the resolver's test seam: names
 * come from a hosts file named by SLB_TEST_HOSTS_FILE (docs/testing.md), rewritten to change
 * an answer. A name's address serves traffic and /status and the access log show its origin; a name that does
 * not resolve starts slb with a log line and no backend, and joins once it resolves; a changed
 * answer adds an address and drains the one that left (cause dns in /events); a failed lookup
 * keeps the last addresses; a reload re-weights a name's addresses, and drains them once the
 * file drops the name. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"

#define IO_MS 5000
#define WAIT_MS 20000 /* budget for an answer to show; the interval is 100 ms */

static char hosts_path[64], log_path[64], conf_path[64];
static struct faultkit_slb slb;

static void setup(void)
{
	snprintf(hosts_path, sizeof(hosts_path), "/tmp/slb-test-dns-%d.hosts", getpid());
	setenv("SLB_TEST_HOSTS_FILE", hosts_path, 1); /* slb inherits it */
}

static void teardown(void)
{
	testproc_stop_all();
	unlink(hosts_path);
	unlink(log_path);
	unlink(conf_path);
}

TestSuite(backend_dns, .init = setup, .fini = teardown, .timeout = 120);

/* Replaces the file whole (rename), so the resolver never reads half of it. */
static void write_hosts(const char *text)
{
	char tmp[80];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", hosts_path);
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(rename(tmp, hosts_path), 0);
}

static void start_slb(const char *backend)
{
	const char *const args[] = { "--backend", backend, "--resolve-interval", "100", "--access-log", log_path, NULL };

	snprintf(log_path, sizeof(log_path), "/tmp/slb-test-dns-%d.log", getpid());
	faultkit_slb_start_ok(&slb, 0, args);
}

/* Polls the access log until a line holds needle. */
static void wait_access_log(const char *needle)
{
	static char text[8192];
	int64_t end = testproc_now_ms() + WAIT_MS;

	do {
		FILE *f = fopen(log_path, "r");
		size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

		if (f)
			fclose(f);
		text[n] = '\0';
		if (strstr(text, needle))
			return;
		usleep(20000);
	} while (testproc_now_ms() < end);
	cr_assert_fail("the access log never held %s; it has:\n%s", needle, text);
}

/* Polls GET path on the admin port until its body holds needle. */
static void wait_admin_body(const char *path, const char *needle)
{
	static char body[16384];
	int64_t end = testproc_now_ms() + WAIT_MS;

	do {
		if (faultkit_http_body(slb.admin, path, body, sizeof(body), IO_MS) == 200 && strstr(body, needle))
			return;
		usleep(20000);
	} while (testproc_now_ms() < end);
	cr_assert_fail("GET %s never held %s; last:\n%s", path, needle, body);
}

static void wait_line(const char *needle)
{
	char tail[2048];

	if (testproc_wait_output(slb.proc, needle, WAIT_MS) == 0)
		return;
	testproc_tail(slb.proc, 12, tail, sizeof(tail));
	cr_assert_fail("no '%s' from slb; it said:\n%s", needle, tail);
}

/* Starts backend b0 on 127.0.0.1 (its "ADDR:PORT" into be), the hosts file with hosts, and slb
 * with --backend host:PORT of b0's port. Returns that port. */
static unsigned start_named(const char *hosts, const char *host, char *be, size_t len)
{
	char backend[64];
	unsigned port;

	faultkit_backend_ok("b0", be, len);
	port = (unsigned)atoi(strchr(be, ':') + 1);
	write_hosts(hosts);
	snprintf(backend, sizeof(backend), "%s:%u", host, port);
	start_slb(backend);
	return port;
}

/* Waits for the event of addr going from old to new, its reason starting with reason. */
static void wait_event(const char *addr, const char *old, const char *new, const char *reason)
{
	char want[256];

	snprintf(want, sizeof(want), "\"address\":\"%s\",\"name\":\"\",\"service\":\"default\",\"old\":\"%s\","
		 "\"new\":\"%s\",\"reason\":\"%s", addr, old, new, reason);
	wait_admin_body("/events?since=0", want);
}

Test(backend_dns, a_names_address_serves_and_shows_its_origin)
{
	char be[32], body[256], origin[64];
	int rc;

	start_named("127.0.0.1 web.test\n", "web.test", be, sizeof(be));
	cr_assert_geq(faultkit_wait_state(slb.admin, be, "up", WAIT_MS), 0, "%s never up", be);
	cr_assert_eq(faultkit_status_field(slb.admin, be, "origin", origin, sizeof(origin)), 0);
	cr_assert_str_eq(origin, "web.test");
	rc = faultkit_http_body(slb.port, "/", body, sizeof(body), IO_MS);
	cr_assert_eq(rc, 200, "no answer through slb: %d %s", rc, body);
	cr_assert(strstr(body, "b0"), "%s", body);
	wait_access_log("backend_name=web.test ");
	faultkit_slb_stop_ok(&slb, 10000);
}

Test(backend_dns, a_name_that_does_not_resolve_starts_empty_and_joins_later)
{
	char be[32];

	start_named("127.0.0.9 someone.else\n", "nonexistent.invalid", be, sizeof(be));
	wait_line("dns: nonexistent.invalid does not resolve");
	wait_admin_body("/status", "{\"backends\":[\n]");
	write_hosts("127.0.0.1 nonexistent.invalid\n");
	cr_assert_geq(faultkit_wait_state(slb.admin, be, "up", WAIT_MS), 0, "%s never joined", be);
	wait_line("dns: nonexistent.invalid resolves again");
	faultkit_slb_stop_ok(&slb, 10000);
}

Test(backend_dns, a_changed_answer_adds_one_address_and_drains_the_other)
{
	char be[32], be2[32], text[128];
	unsigned port = start_named("127.0.0.1 web.test\n", "web.test", be, sizeof(be));

	snprintf(be2, sizeof(be2), "127.0.0.2:%u", port);
	cr_assert_geq(faultkit_wait_state(slb.admin, be, "up", WAIT_MS), 0);
	write_hosts("127.0.0.2 web.test\n");
	wait_event(be2, "none", "up", "resolved from web.test");
	wait_event(be, "up", "draining", "removed from the DNS answer");
	wait_event(be, "draining", "none", "removed from the DNS answer");
	cr_assert_eq(faultkit_status_field(slb.admin, be, "state", text, sizeof(text)), -ENOENT, "%s still in /status",
		     be);
	cr_assert_eq(faultkit_status_field(slb.admin, be2, "origin", text, sizeof(text)), 0);
	cr_assert_str_eq(text, "web.test");
	faultkit_slb_stop_ok(&slb, 10000);
}

Test(backend_dns, a_failed_lookup_keeps_the_last_addresses)
{
	char be[32], state[32];

	start_named("127.0.0.1 web.test\n", "web.test", be, sizeof(be));
	cr_assert_geq(faultkit_wait_state(slb.admin, be, "up", WAIT_MS), 0);
	unlink(hosts_path); /* every lookup fails from now on */
	wait_line("dns: web.test: lookup failed");
	cr_assert_eq(faultkit_status_field(slb.admin, be, "state", state, sizeof(state)), 0);
	cr_assert_str_eq(state, "up");
	write_hosts("127.0.0.1 web.test\n");
	wait_line("dns: web.test resolves again");
	faultkit_slb_stop_ok(&slb, 10000);
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Sends SIGHUP and waits for the n-th "reload: done" line. */
static void reload(unsigned n)
{
	cr_assert_eq(testproc_signal(slb.proc, SIGHUP), 0);
	for (int64_t end = testproc_now_ms() + WAIT_MS; faultkit_count_lines(slb.proc, "reload: done") < n;) {
		cr_assert(testproc_now_ms() < end, "no 'reload: done' after SIGHUP %u", n);
		usleep(10000);
	}
}

Test(backend_dns, a_reload_keeps_a_names_addresses_by_origin_and_drops_them_with_it)
{
	char be[32], other[32], text[256], weight[16];
	const char *const args[] = { "-c", conf_path, NULL };
	unsigned port;

	faultkit_backend_ok("b0", be, sizeof(be));
	faultkit_backend_ok("b1", other, sizeof(other));
	port = (unsigned)atoi(strchr(be, ':') + 1);
	snprintf(conf_path, sizeof(conf_path), "/tmp/slb-test-dns-%d.conf", getpid());
	write_hosts("127.0.0.1 web.test\n");
	snprintf(text, sizeof(text), "resolve-interval = 100\nbackend = web.test:%u\nbackend = %s\n", port, other);
	write_conf(text);
	faultkit_slb_start_ok(&slb, 0, args);
	cr_assert_geq(faultkit_wait_state(slb.admin, be, "up", WAIT_MS), 0);
	snprintf(text, sizeof(text), "resolve-interval = 100\nbackend = web.test:%u,weight=3\nbackend = %s\n", port,
		 other);
	write_conf(text);
	reload(1);
	cr_assert_eq(faultkit_status_field(slb.admin, be, "weight", weight, sizeof(weight)), 0);
	cr_assert_str_eq(weight, "3", "the file's new weight is not the address's");
	snprintf(text, sizeof(text), "resolve-interval = 100\nbackend = %s\n", other);
	write_conf(text);
	reload(2);
	wait_event(be, "draining", "none", "removed from the configuration");
	cr_assert_eq(faultkit_wait_state(slb.admin, other, "up", WAIT_MS) >= 0, true, "the literal backend went");
	faultkit_slb_stop_ok(&slb, 10000);
}
