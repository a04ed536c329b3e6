/* Reload on SIGHUP, with real processes: the configuration file changes 20 times under load
 * (a fresh connection per request, and large downloads), and nothing a client does fails;
 * /status follows the file after each reload; a removed backend's open downloads finish and
 * it leaves /status only then; a broken file changes nothing; settings that need new sockets
 * wait for an upgrade. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "loadgen.h"
#include "testproc.h"

#define BACKENDS 4
#define RELOADS 20
#define IO_MS 10000
#define DOWNLOADS 2
#define BODY (8ULL * 1024 * 1024)

static char conf_path[64];
static char be_addr[BACKENDS][32];
static struct faultkit_slb slb;

static void setup(void)
{
	faultkit_raise_nofile();
	snprintf(conf_path, sizeof(conf_path), "/tmp/slb-test-reload-%d.conf", getpid());
}

static void teardown(void)
{
	testproc_stop_all();
	unlink(conf_path);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 120);

/* One version of the file: backend i is in it with weight w[i] unless w[i] is 0. */
static void write_conf(const unsigned *w, const char *extra)
{
	FILE *f = fopen(conf_path, "w");

	cr_assert_not_null(f);
	fprintf(f, "# written by test_reload\nworkers = 2\nretries = 2\n");
	for (int i = 0; i < BACKENDS; i++)
		if (w[i])
			fprintf(f, "backend = %s,weight=%u\n", be_addr[i], w[i]);
	fprintf(f, "%s", extra ? extra : "");
	cr_assert_eq(fclose(f), 0);
}

static void start_all(const unsigned *w)
{
	static const char *const args[] = { "-c", conf_path, NULL };

	for (int i = 0; i < BACKENDS; i++) {
		char name[8];

		snprintf(name, sizeof(name), "b%d", i);
		faultkit_backend_ok(name, be_addr[i], sizeof(be_addr[i]));
	}
	write_conf(w, NULL);
	faultkit_slb_start_ok(&slb, 0, args);
}

/* Sends SIGHUP and waits for the n-th line holding outcome ("reload: done", "reload rejected"). */
static void reload(unsigned n, const char *outcome)
{
	faultkit_reload_ok(slb.proc, n, outcome);
}

/* /status has every backend of the file up with its weight, and no other one in rotation. */
static void expect_status(const unsigned *w)
{
	for (int i = 0; i < BACKENDS; i++) {
		char state[32] = "", weight[16] = "";
		int rc = faultkit_status_field(slb.admin, be_addr[i], "state", state, sizeof(state));

		if (!w[i]) {
			cr_assert(rc == -ENOENT || strcmp(state, "draining") == 0,
				  "%s is not in the file but /status says %s", be_addr[i], state);
			continue;
		}
		cr_assert_eq(rc, 0, "%s is in the file but not in /status", be_addr[i]);
		cr_assert_str_eq(state, "up", "%s", be_addr[i]);
		cr_assert_eq(faultkit_status_field(slb.admin, be_addr[i], "weight", weight, sizeof(weight)), 0);
		cr_assert_eq((unsigned)atoi(weight), w[i], "%s weight %s, the file says %u", be_addr[i], weight, w[i]);
	}
}

/* The backend sets the 20 reloads go through: every one adds, removes or re-weights. */
static void version_weights(unsigned v, unsigned *w)
{
	for (int i = 0; i < BACKENDS; i++)
		w[i] = ((v + (unsigned)i) % 3 == 0) ? 0 : 1 + (v * 7 + (unsigned)i) % 4;
	w[v % BACKENDS] = 1 + v % 5; /* never an empty file */
}

/*
 * The downloads start while b0 is the only backend, so they are all on b0; the first reload
 * removes b0. They must finish byte-exact (b0 shows "draining" meanwhile, then leaves
 * /status), while 20 reloads change the other backends and a client keeps opening a fresh
 * connection per request: no request fails.
 */
Test(reload, twenty_reloads_under_load_lose_nothing)
{
	unsigned only_b0[BACKENDS] = { 1, 0, 0, 0 }, w[BACKENDS];
	struct loadgen_opts o = { .threads = 2, .max_reqs = 200000, .timeout_ms = 5000, .gap_ms = 1,
				  .max_run_ms = 60000 };
	struct faultkit_reader rd[DOWNLOADS];
	struct loadgen lg;
	char why[256] = "";

	start_all(only_b0);
	faultkit_downloads_start(rd, DOWNLOADS, slb.port, BODY, 2 * 1024, 20000, 256 * 1024);
	o.port = slb.port;
	cr_assert_eq(loadgen_start(&lg, &o), 0);
	for (unsigned v = 1; v <= RELOADS; v++) {
		version_weights(v, w);
		w[0] = 0;
		write_conf(w, v % 2 ? "check = tcp\ncheck-interval = 200\ncheck-timeout = 150\n" : NULL);
		reload(v, "reload: done");
		expect_status(w);
		if (v == 1) {
			char state[32];

			cr_assert_eq(faultkit_status_field(slb.admin, be_addr[0], "state", state, sizeof(state)), 0,
				     "b0 left /status while its downloads were open");
			cr_assert_str_eq(state, "draining");
		}
		usleep(150000);
	}
	faultkit_downloads_expect_whole(rd, DOWNLOADS, BODY, "reloads");
	for (int t = 0; t < 200 && faultkit_status_field(slb.admin, be_addr[0], "state", why, sizeof(why)) == 0; t++)
		usleep(10000);
	cr_assert_eq(faultkit_status_field(slb.admin, be_addr[0], "state", why, sizeof(why)), -ENOENT,
		     "b0 still in /status after its last connection ended");
	loadgen_stop(&lg);
	cr_assert_gt(loadgen_answered(&lg, NULL, 0, INT64_MAX), 200, "too little load to mean anything");
	cr_assert_eq(loadgen_failures(&lg, 0, INT64_MAX, why, sizeof(why)), 0, "failed requests: %s", why);
	loadgen_free(&lg);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload rejected"), 0);
	faultkit_slb_stop_ok(&slb, 5000);
}

/*
 * A file with a bad address, an unknown key and a line that is no key = value: SIGHUP logs
 * each with the file and line, then "reload rejected"; /status and the traffic go on as
 * before. Fixing the file makes the next SIGHUP apply.
 */
Test(reload, broken_file_changes_nothing)
{
	unsigned w[BACKENDS] = { 1, 2, 0, 0 }, fixed[BACKENDS] = { 0, 2, 3, 0 };
	char body[256], line[96];

	start_all(w);
	write_conf(fixed, "backend = 10.0.0.1\nno-such-key = 1\nthis line is not a setting\n");
	reload(1, "reload rejected");
	for (int n = 0; n < 3; n++) {
		snprintf(line, sizeof(line), "%s:%d", conf_path, 6 + n);
		cr_assert_eq(faultkit_count_lines(slb.proc, line), 1, "no error names %s", line);
	}
	expect_status(w);
	cr_assert_eq(faultkit_http_body(slb.port, "/", body, sizeof(body), IO_MS), 200);
	write_conf(fixed, NULL);
	reload(1, "reload: done");
	expect_status(fixed);
	/* not faultkit_slb_stop_ok: the rejected reload rightly logged errors */
	cr_assert_eq(testproc_stop(slb.proc, 5000), 0);
	cr_assert_eq(testproc_exit_code(slb.proc), 0);
}

/*
 * relay needs pipes sized at start: a reload keeps the running mode and says it waits for an
 * upgrade; the rest of the file is applied.
 */
Test(reload, socket_settings_wait_for_an_upgrade)
{
	unsigned w[BACKENDS] = { 1, 0, 0, 0 }, next[BACKENDS] = { 1, 1, 0, 0 };
	char body[256];

	start_all(w);
	write_conf(next, "relay = copy\nconnect-timeout = 700\n");
	reload(1, "reload: done");
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: relay changed"), 1);
	cr_assert_eq(faultkit_count_lines(slb.proc, "takes effect at the next upgrade"), 1);
	cr_assert_eq(faultkit_count_lines(slb.proc, "reload: connect-timeout 2000 -> 700"), 1);
	expect_status(next);
	cr_assert_eq(faultkit_http_body(slb.port, "/", body, sizeof(body), IO_MS), 200);
	faultkit_slb_stop_ok(&slb, 5000);
}

/* Whether GET /events lists addr leaving the table (an event whose new state is "none"), with
 * the reason that says why; polled, since the removal waits for every worker to settle. */
static bool events_list_removal(const char *addr, const char *why)
{
	char needle[64];
	struct testproc_http r;

	snprintf(needle, sizeof(needle), "\"address\":\"%s\"", addr);
	for (int t = 0; t < 500; t++, usleep(10000)) {
		cr_assert_eq(testproc_http_get(slb.admin, "/events?since=0", &r, IO_MS), 0);
		for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n"))
			if (strstr(line, needle) && strstr(line, "\"new\":\"none\"") && strstr(line, why))
				return true;
	}
	return false;
}

/*
 * A reload drops b1, which no connection uses.
 * Operator sees: b1 leaves /status, and GET /events lists it going from draining to none with
 *   the reason "removed from the configuration", as an API removal is listed.
 */
Test(reload, removal_is_listed_in_events)
{
	unsigned w[BACKENDS] = { 1, 1, 0, 0 }, next[BACKENDS] = { 1, 0, 0, 0 };
	char state[32];

	start_all(w);
	write_conf(next, NULL);
	reload(1, "reload: done");
	for (int t = 0; t < 500 && faultkit_status_field(slb.admin, be_addr[1], "state", state, sizeof(state)) == 0; t++)
		usleep(10000);
	cr_assert_eq(faultkit_status_field(slb.admin, be_addr[1], "state", state, sizeof(state)), -ENOENT,
		     "b1 still in /status after the reload dropped it");
	cr_assert(events_list_removal(be_addr[1], "removed from the configuration"),
		  "GET /events does not list the removal of %s", be_addr[1]);
	faultkit_slb_stop_ok(&slb, 5000);
}

/*
 * A reload renames a static backend, then to a name a backend added through the API bears,
 * then a file gives one name to two backends.
 * Operator sees: "reload: backend ADDR name 'old-name' -> 'new-name'" and /status with the new
 *   name; a warning that 2 backends bear 'api-name'; the last file is rejected ("name given to
 *   another backend") and the name stays.
 */
Test(reload, a_reload_renames_a_backend_and_refuses_a_name_twice)
{
	unsigned w[BACKENDS] = { 1, 0, 0, 0 };
	char extra[256], name[64], body[128];
	struct testproc_http r;

	start_all(w);
	snprintf(extra, sizeof(extra), "backend = %s,name=old-name\n", be_addr[2]);
	write_conf(w, extra);
	reload(1, "reload: done");
	cr_assert_eq(faultkit_status_field(slb.admin, be_addr[2], "name", name, sizeof(name)), 0);
	cr_assert_str_eq(name, "old-name");
	snprintf(extra, sizeof(extra), "backend = %s,name=new-name\n", be_addr[2]);
	write_conf(w, extra);
	reload(2, "reload: done");
	cr_assert_eq(faultkit_count_lines(slb.proc, "name 'old-name' -> 'new-name'"), 1);
	cr_assert_eq(faultkit_status_field(slb.admin, be_addr[2], "name", name, sizeof(name)), 0);
	cr_assert_str_eq(name, "new-name");
	snprintf(body, sizeof(body), "{\"address\":\"%s\",\"name\":\"api-name\"}", be_addr[3]);
	cr_assert_eq(testproc_http_request(slb.admin, "POST", "/backends", NULL, body, &r, IO_MS), 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	snprintf(extra, sizeof(extra), "backend = %s,name=api-name\n", be_addr[2]);
	write_conf(w, extra);
	reload(3, "reload: done");
	cr_assert_eq(faultkit_count_lines(slb.proc, "2 backends bear the name 'api-name'"), 1);
	snprintf(extra, sizeof(extra), "backend = %s,name=new-name\nbackend = %s,name=new-name\n", be_addr[2],
		 be_addr[3]);
	write_conf(w, extra);
	reload(1, "reload rejected");
	cr_assert_eq(faultkit_count_lines(slb.proc, "name given to another backend"), 1);
	cr_assert_eq(faultkit_status_field(slb.admin, be_addr[2], "name", name, sizeof(name)), 0);
	cr_assert_str_eq(name, "api-name");
	/* not faultkit_slb_stop_ok: the rejected reload rightly logged errors */
	cr_assert_eq(testproc_stop(slb.proc, 5000), 0);
	cr_assert_eq(testproc_exit_code(slb.proc), 0);
}
