/* Binary upgrade (issue 10): a new slb started with --takeover takes every listening socket
 * over from the running one through its --control-socket, and the old one drains and exits 0.
 * What the tests show: under continuous new connections and downloads, 10 successive upgrades
 * lose nothing (no refusal, no reset, no failed request, every byte right); idle keep-alive
 * connections stay with the old process until they close or its drain timeout ends;
 * heartbeat backends stay in rotation through the leases the old process hands over; and a
 * new process that fails before it says DRAIN leaves the old one serving as before. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "delay_server.h"
#include "faultkit.h"
#include "slb/common/handover.h"
#include "loadgen.h"
#include "testproc.h"

#define IO_MS 10000
#define SERVING "this process serves alone"
#define DRAINED "drained: every connection finished"
#define UPGRADES 10
#define DOWNLOADS 2
#define DOWNLOAD_BYTES (2ULL * 1024 * 1024)
#define DOWNLOAD_PATH "/bytes/2097152"
#define ARGS_MAX 40

static char sock_path[64];

static void suite_init(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/slb-test-upgrade-%d.sock", (int)getpid());
}

static void suite_fini(void)
{
	testproc_stop_all();
	unlink(sock_path);
}

TestSuite(upgrade, .init = suite_init, .fini = suite_fini, .timeout = 90);

/* The flags every generation of slb gets besides --listen and --admin. */
struct upgrade_flags {
	const char *workers;
	const char *const *extra; /* NULL-terminated */
};

static void start_first(struct faultkit_slb *s, const struct upgrade_flags *f)
{
	const char *args[ARGS_MAX];
	int n = 0;

	args[n++] = "--control-socket";
	args[n++] = sock_path;
	args[n++] = "--workers";
	args[n++] = f->workers;
	for (const char *const *e = f->extra; *e && n < ARGS_MAX - 1; e++)
		args[n++] = *e;
	args[n] = NULL;
	faultkit_slb_start_ok(s, 0, args);
}

/* Spawns slb --takeover on s's ports with f's flags. */
static struct testproc *spawn_next(const struct faultkit_slb *s, const struct upgrade_flags *f)
{
	static char listen[32], admin[32];
	const char *argv[ARGS_MAX] = { "slb", "--listen", listen, "--admin", admin, "--control-socket", sock_path,
				       "--takeover", sock_path, "--workers", f->workers };
	int n = 11;
	struct testproc *p;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", s->port);
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", s->admin);
	for (const char *const *e = f->extra; *e && n < ARGS_MAX - 1; e++)
		argv[n++] = *e;
	argv[n] = NULL;
	p = testproc_spawn(argv);
	cr_assert_not_null(p, "cannot spawn slb: %s", strerror(errno));
	return p;
}

/* Upgrades s's slb: the new process serves alone once it returns. */
static struct testproc *upgrade(struct faultkit_slb *s, const struct upgrade_flags *f)
{
	struct testproc *next = spawn_next(s, f);
	char why[TESTPROC_WHY_MAX];

	if (testproc_wait_output(next, SERVING, IO_MS)) {
		testproc_explain(next, why, sizeof(why));
		cr_assert_fail("the new slb did not take over: %s", why);
	}
	return next;
}

/* The old process exits 0 once its drain is over, having said why. */
static void expect_exit_after_drain(struct testproc *old, const char *line)
{
	char why[TESTPROC_WHY_MAX];

	if (testproc_wait(old, IO_MS)) {
		testproc_explain(old, why, sizeof(why));
		cr_assert_fail("the old slb is still running: %s", why);
	}
	testproc_explain(old, why, sizeof(why));
	cr_assert_eq(testproc_exit_code(old), 0, "the old slb exited %d: %s", testproc_exit_code(old), why);
	cr_assert_eq(faultkit_count_lines(old, line), 1, "the old slb did not log '%s': %s", line, why);
	cr_assert_eq(faultkit_count_lines(old, "took over: draining"), 1, "%s", why);
}

static void start_downloads(struct faultkit_reader *rd, unsigned port)
{
	for (int i = 0; i < DOWNLOADS; i++)
		cr_assert_eq(faultkit_reader_start(&rd[i], port, DOWNLOAD_PATH, 2048, IO_MS), 0);
	for (int i = 0; i < DOWNLOADS; i++) {
		for (int t = 0; t < 500 && atomic_load(&rd[i].got) < 64 * 1024; t++)
			usleep(10000);
		cr_assert_geq(atomic_load(&rd[i].got), 64 * 1024, "download %d never started", i);
	}
}

static void expect_downloads_whole(struct faultkit_reader *rd, unsigned round)
{
	for (int i = 0; i < DOWNLOADS; i++) {
		faultkit_reader_join(&rd[i]);
		cr_assert_eq(rd[i].rc, 0, "upgrade %u, download %d cut after %llu bytes: %s", round, i,
			     (unsigned long long)rd[i].r.body_len, strerror(-rd[i].rc));
		cr_assert_eq(rd[i].r.body_len, DOWNLOAD_BYTES);
		cr_assert_eq(rd[i].r.body_fnv, faultkit_pattern_fnv(DOWNLOAD_BYTES), "upgrade %u, download %d: bytes "
			     "changed", round, i);
	}
}

/* How the load went, by outcome. */
struct load_counts {
	unsigned total, ok, refused, reset, other;
};

static struct load_counts count_load(const struct loadgen *lg)
{
	struct load_counts c = { .total = lg->n_recs };

	for (unsigned i = 0; i < lg->n_recs; i++) {
		const struct loadgen_rec *r = &lg->recs[i];

		if (loadgen_ok(r))
			c.ok++;
		else if (r->rc == -ECONNREFUSED)
			c.refused++;
		else if (r->rc == -ECONNRESET || r->rc == -EPIPE)
			c.reset++;
		else
			c.other++;
	}
	return c;
}

static void start_load(struct loadgen *lg, unsigned port, unsigned threads)
{
	struct loadgen_opts o = { .port = port, .threads = threads, .max_reqs = 400000, .timeout_ms = 5000,
				  .gap_ms = 0, .max_run_ms = 60000 };

	cr_assert_eq(loadgen_start(lg, &o), 0);
}

/* Stops the load and asserts that not one request failed. */
static void expect_no_failure(struct loadgen *lg, int64_t started_us, const char *what)
{
	struct load_counts c;
	char why[256] = "";
	double secs;

	loadgen_stop(lg);
	c = count_load(lg);
	secs = (double)(loadgen_now_us() - started_us) / 1e6;
	cr_log_info("%s: %u connections in %.1f s (%.0f/s): %u answered, %u refused, %u reset, %u other failures",
		    what, c.total, secs, c.total / secs, c.ok, c.refused, c.reset, c.other);
	fprintf(stderr, "test_upgrade: %s: %u connections in %.1f s (%.0f/s): %u answered, %u refused, %u reset, "
		"%u other failures\n", what, c.total, secs, c.total / secs, c.ok, c.refused, c.reset, c.other);
	loadgen_failures(lg, 0, INT64_MAX, why, sizeof(why));
	cr_assert_eq(c.ok, c.total, "%s: %u refused, %u reset, %u other failures; first: %s", what, c.refused,
		     c.reset, c.other, why);
	cr_assert_gt(c.total, 0);
}

/*
 * 10 successive upgrades while 4 client threads open new connections without pause (one GET
 * each, Connection: close) and 2 downloads of 2 MiB at 2 MiB/s run across each upgrade. The
 * number of workers changes every time (2, 3, 1, ...): a new process with fewer workers than
 * inherited sockets gives a worker several, one with more binds extra sockets that join the
 * SO_REUSEPORT group.
 * Client sees: every request answered (0 refused, 0 reset, 0 other failures); every download
 *   complete and byte-exact (served to its end by the old process while it drains).
 * slb logs: the old process "pid N took over: draining", then "drained: every connection
 *   finished"; it exits 0.
 */
Test(upgrade, ten_upgrades_under_load_lose_no_connection)
{
	static const char *const workers[] = { "2", "3", "1" };
	char be1[32], be2[32];
	const char *extra[] = { "--backend", be1, "--backend", be2, "--drain-timeout", "5000", NULL };
	struct upgrade_flags f = { .workers = workers[0], .extra = extra };
	struct faultkit_reader rd[DOWNLOADS];
	struct testproc *cur;
	struct faultkit_slb s;
	struct loadgen lg;
	int64_t t0;

	faultkit_backend_ok("b1", be1, sizeof(be1));
	faultkit_backend_ok("b2", be2, sizeof(be2));
	start_first(&s, &f);
	cur = s.proc;
	t0 = loadgen_now_us();
	start_load(&lg, s.port, 4);
	for (unsigned round = 1; round <= UPGRADES; round++) {
		struct testproc *old = cur;

		start_downloads(rd, s.port);
		f.workers = workers[round % 3];
		cur = upgrade(&s, &f);
		expect_exit_after_drain(old, DRAINED);
		expect_downloads_whole(rd, round);
	}
	expect_no_failure(&lg, t0, "10 upgrades");
	loadgen_free(&lg);
	s.proc = cur;
	faultkit_slb_stop_ok(&s, 5000);
}

/* next's log names old, the process it took over from, in both of its takeover lines. */
static void expect_names_old_pid(struct testproc *next, const struct testproc *old)
{
	char received[64], draining[64], why[TESTPROC_WHY_MAX];

	snprintf(received, sizeof(received), "runtime state from pid %d", (int)old->pid);
	snprintf(draining, sizeof(draining), "takeover: pid %d is draining", (int)old->pid);
	testproc_explain(next, why, sizeof(why));
	cr_assert_eq(faultkit_count_lines(next, received), 1, "the new slb does not say '%s': %s", received, why);
	cr_assert_eq(faultkit_count_lines(next, draining), 1, "the new slb does not say '%s': %s", draining, why);
}

/*
 * Two upgrades in a row (issue 20). The control socket's listener is inherited, so on the new
 * process's side SO_PEERCRED names the slb that first called listen(): after the second
 * upgrade that is the first process, long gone.
 * slb logs: each new process names the pid of the one it took over from, as that one says it.
 */
Test(upgrade, log_names_the_process_taken_over_from)
{
	char be[32];
	const char *extra[] = { "--backend", be, NULL };
	struct upgrade_flags f = { .workers = "1", .extra = extra };
	struct testproc *second, *third;
	struct faultkit_slb s;

	faultkit_backend_ok("b1", be, sizeof(be));
	start_first(&s, &f);
	second = upgrade(&s, &f);
	expect_exit_after_drain(s.proc, DRAINED);
	expect_names_old_pid(second, s.proc);
	third = upgrade(&s, &f);
	expect_exit_after_drain(second, DRAINED);
	expect_names_old_pid(third, second);
	s.proc = third;
	faultkit_slb_stop_ok(&s, 5000);
}

#define STATUS_POLLERS 2

/* An operator's tool polling GET /status without pause; counts what it got. */
struct status_poller {
	pthread_t thread;
	unsigned port;
	atomic_bool stop;
	unsigned answered, failed;
	char first_failure[160];   /* what the first failed poll got, and when */
};

static void *poll_status(void *arg)
{
	struct status_poller *p = arg;
	static _Thread_local struct testproc_http r;

	while (!atomic_load(&p->stop)) {
		int rc = testproc_http_get(p->port, "/status", &r, IO_MS);

		if (rc == 0 && r.status == 200) {
			p->answered++;
			continue;
		}
		if (!p->failed++)
			snprintf(p->first_failure, sizeof(p->first_failure), "poll %u: %s (status %d)",
				 p->answered + 1, rc ? strerror(-rc) : "answered", rc ? 0 : r.status);
	}
	return NULL;
}

/*
 * An operator polls GET /status without pause (2 threads) across 10 upgrades (issue 25). The
 * admin listening socket is shared by both processes during a takeover: the old one must stop
 * accepting on it and answer every request it accepted before the new one serves alone, so a
 * request is answered by one process or the other, never dropped.
 * Client sees: every poll answered 200, none cut (EOF, reset) or refused.
 */
Test(upgrade, status_polled_across_ten_upgrades_always_answers)
{
	char be[32];
	const char *extra[] = { "--backend", be, NULL };
	struct upgrade_flags f = { .workers = "1", .extra = extra };
	struct status_poller pl[STATUS_POLLERS] = { 0 };
	struct faultkit_slb s;
	unsigned answered = 0;

	faultkit_backend_ok("b1", be, sizeof(be));
	start_first(&s, &f);
	for (int i = 0; i < STATUS_POLLERS; i++) {
		pl[i].port = s.admin;
		cr_assert_eq(pthread_create(&pl[i].thread, NULL, poll_status, &pl[i]), 0);
	}
	for (unsigned round = 1; round <= UPGRADES; round++) {
		struct testproc *old = s.proc;

		s.proc = upgrade(&s, &f);
		expect_exit_after_drain(old, DRAINED);
	}
	for (int i = 0; i < STATUS_POLLERS; i++) {
		atomic_store(&pl[i].stop, true);
		pthread_join(pl[i].thread, NULL);
		cr_assert_eq(pl[i].failed, 0, "poller %d: %u of %u polls not answered; first: %s", i, pl[i].failed,
			     pl[i].failed + pl[i].answered, pl[i].first_failure);
		answered += pl[i].answered;
	}
	cr_log_info("/status across %d upgrades: %u polls, all answered", UPGRADES, answered);
	cr_assert_gt(answered, 0);
	faultkit_slb_stop_ok(&s, 5000);
}

/* A keep-alive request on fd: answered whole. */
static void expect_answer_on(int fd, const char *when)
{
	struct testproc_http r;

	cr_assert_eq(faultkit_send_get(fd, "/", false, IO_MS), 0, "%s: send", when);
	cr_assert_eq(testproc_http_read(fd, &r, false, IO_MS), 0, "%s: no answer", when);
	cr_assert_eq(r.status, 200, "%s: status %d", when, r.status);
}

#define IDLE_CONNS 4

/*
 * 4 keep-alive connections, each answered once, then idle across an upgrade
 * (--drain-timeout 1500 on the old process).
 * Client sees: each connection still answered after the upgrade (by the old process: a
 *   connection never moves), and new connections answered by the new one. Two of them close;
 *   the other two stay idle and see EOF when the old process's drain timeout ends.
 * slb logs: the old process "drain timeout (1500 ms): closing 2 connections still open", and
 *   exits 0 (not before the drain timeout).
 */
Test(upgrade, idle_keep_alive_connections_stay_with_the_old_process)
{
	char be[32], why[256];
	const char *extra[] = { "--backend", be, "--drain-timeout", "1500", NULL };
	struct upgrade_flags f = { .workers = "2", .extra = extra };
	struct faultkit_slb s;
	struct testproc *old, *cur;
	int fds[IDLE_CONNS];
	int64_t t_up;

	faultkit_backend_ok("b1", be, sizeof(be));
	start_first(&s, &f);
	old = s.proc;
	for (int i = 0; i < IDLE_CONNS; i++) {
		fds[i] = testproc_connect(s.port, IO_MS);
		cr_assert_geq(fds[i], 0);
		expect_answer_on(fds[i], "before the upgrade");
	}
	cur = upgrade(&s, &f);
	t_up = testproc_now_ms();
	for (int i = 0; i < IDLE_CONNS; i++)
		expect_answer_on(fds[i], "after the upgrade");
	cr_assert_eq(faultkit_parallel_gets(s.port, "/", 20, 2, IO_MS, why, sizeof(why)), 20, "%s", why);
	cr_assert(testproc_running(old), "the old slb left before its connections closed");
	close(fds[0]);
	close(fds[1]);
	for (int i = 2; i < IDLE_CONNS; i++)
		cr_assert_eq(testproc_wait_eof(fds[i], IO_MS), 0, "idle connection %d never closed", i);
	cr_assert_geq(testproc_now_ms() - t_up, 1500 - 100, "the idle connections were cut before the drain timeout");
	expect_exit_after_drain(old, "drain timeout (1500 ms): closing 2 connections still open");
	close(fds[2]);
	close(fds[3]);
	s.proc = cur;
	faultkit_slb_stop_ok(&s, 5000);
}

/* Starts slb-backend NAME with a heartbeat to 127.0.0.1:hb_port; its address into addr. */
static struct testproc *start_hb_backend(const char *name, unsigned hb_port, char *addr, size_t len)
{
	static char listen[2][32], lb[2][32];
	static int k;
	const char *argv[] = { "slb-backend", "--listen", listen[k], "--name", name, "--heartbeat", lb[k], NULL };
	int port = testproc_free_port();
	struct testproc *p;

	cr_assert_gt(port, 0);
	snprintf(listen[k], sizeof(listen[k]), "127.0.0.1:%d", port);
	snprintf(lb[k], sizeof(lb[k]), "127.0.0.1:%u", hb_port);
	snprintf(addr, len, "127.0.0.1:%d", port);
	p = testproc_spawn(argv);
	k = (k + 1) % 2;
	cr_assert_not_null(p);
	return p;
}

/* The first /status the new process answers has backend addr up: its lease, not a new
 * registration. Polls until one is answered (IO_MS); says what each read got. */
static void expect_up_at_first_answer(unsigned admin, const char *addr, const char *name)
{
	int64_t end = testproc_now_ms() + IO_MS;
	char state[16] = "";
	int rc;

	while ((rc = faultkit_status_field(admin, addr, "state", state, sizeof(state))) != 0 && rc != -ENOENT &&
	       testproc_now_ms() < end)
		usleep(10000);
	cr_assert_eq(rc, 0, "reading %s's state in the new process's /status: %s", name,
		     rc == -ENOENT ? "not listed" : strerror(-rc));
	cr_assert_str_eq(state, "up", "the new process has %s '%s' at its first answer", name, state);
}

/* Backend p registered a second time (with the new process) after the upgrade at t_up. */
static void expect_registered_again(struct testproc *p, const char *name, int64_t t_up)
{
	int64_t end = testproc_now_ms() + IO_MS;
	unsigned n;

	while ((n = faultkit_count_lines(p, "registered as id=")) < 2 && testproc_now_ms() < end)
		usleep(10000);
	cr_assert_eq(n, 2, "%s registered %u times, not twice: once before the upgrade, once after", name, n);
	cr_log_info("%s registered again %.0f ms after the upgrade", name, (double)(loadgen_now_us() - t_up) / 1000);
}

/*
 * Two backends in rotation only by heartbeat (no static backend), requests without pause,
 * one upgrade (heartbeat interval 1000 ms, timeout 3000 ms).
 * What carries the load: the leases. The old process hands each heartbeat backend over as a
 *   lease, so the new one has both up from its first moment, before they reconnect.
 * Client sees: every request answered, by both backends after the upgrade.
 * Backends: the old process closes their sessions once the new one holds the leases; each
 *   registers again with the new process (their reconnect backoff starts at 100 ms).
 * /status: the new process's first answer has both up (polled until one is answered).
 */
Test(upgrade, heartbeat_backends_stay_in_rotation)
{
	const char *extra[] = { "--heartbeat-listen", "127.0.0.1:{port2}", "--drain-timeout", "3000", NULL };
	const char *next_extra[] = { "--heartbeat-listen", NULL, "--drain-timeout", "3000", NULL };
	struct upgrade_flags f = { .workers = "2", .extra = extra };
	char a1[32], a2[32], hb[32];
	struct testproc *b1, *b2, *cur;
	struct faultkit_slb s;
	struct loadgen lg;
	int64_t t0, t_up;

	start_first(&s, &f);
	b1 = start_hb_backend("hb1", s.port2, a1, sizeof(a1));
	b2 = start_hb_backend("hb2", s.port2, a2, sizeof(a2));
	cr_assert_geq(faultkit_wait_state(s.admin, a1, "up", IO_MS), 0);
	cr_assert_geq(faultkit_wait_state(s.admin, a2, "up", IO_MS), 0);
	t0 = loadgen_now_us();
	start_load(&lg, s.port, 2);
	usleep(300000);
	snprintf(hb, sizeof(hb), "127.0.0.1:%u", s.port2);
	next_extra[1] = hb;
	f.extra = next_extra;
	cur = upgrade(&s, &f);
	t_up = loadgen_now_us();
	expect_up_at_first_answer(s.admin, a1, "hb1");
	expect_up_at_first_answer(s.admin, a2, "hb2");
	expect_registered_again(b1, "hb1", t_up);
	expect_registered_again(b2, "hb2", t_up);
	usleep(500000);
	expect_no_failure(&lg, t0, "heartbeat backends across an upgrade");
	cr_assert_gt(loadgen_answered(&lg, "hb1", t_up, INT64_MAX), 0, "hb1 served nothing after the upgrade");
	cr_assert_gt(loadgen_answered(&lg, "hb2", t_up, INT64_MAX), 0, "hb2 served nothing after the upgrade");
	loadgen_free(&lg);
	expect_exit_after_drain(s.proc, DRAINED);
	s.proc = cur;
	faultkit_slb_stop_ok(&s, 5000);
}

/*
 * A new process that fails after it received the sockets and before DRAIN (here: its
 * heartbeat key file does not exist), while requests run without pause; then a good upgrade.
 * Client sees: every request answered throughout; the old process's /status answers again
 *   (it stopped accepting admin connections when it sent the sockets).
 * slb logs: the new process exits 1 with its error; the old one "takeover by pid N failed: it
 *   closed the control connection before DRAIN; still serving", and a later upgrade works.
 */
Test(upgrade, failed_new_process_leaves_the_old_one_serving)
{
	char be[32], why[TESTPROC_WHY_MAX];
	const char *extra[] = { "--backend", be, NULL };
	const char *bad_extra[] = { "--backend", be, "--heartbeat-listen", "127.0.0.1:1", "--heartbeat-key-file",
				    "/nonexistent/slb.key", NULL };
	struct upgrade_flags f = { .workers = "2", .extra = extra }, bad = { .workers = "2", .extra = bad_extra };
	struct testproc *next;
	struct faultkit_slb s;
	struct loadgen lg;
	char body[256];
	int64_t t0;
	int rc;

	faultkit_backend_ok("b1", be, sizeof(be));
	start_first(&s, &f);
	t0 = loadgen_now_us();
	start_load(&lg, s.port, 2);
	next = spawn_next(&s, &bad);
	cr_assert_eq(testproc_wait(next, IO_MS), 0);
	testproc_explain(next, why, sizeof(why));
	cr_assert_eq(testproc_exit_code(next), 1, "%s", why);
	cr_assert_eq(testproc_wait_output(s.proc, "closed the control connection before DRAIN; still serving", IO_MS),
		     0);
	cr_assert(testproc_running(s.proc));
	rc = faultkit_http_body(s.admin, "/status", body, sizeof(body), IO_MS);
	cr_assert_eq(rc, 200, "the old slb's /status after the failed upgrade: %s", rc < 0 ? strerror(-rc) : body);
	expect_no_failure(&lg, t0, "a failed upgrade");
	loadgen_free(&lg);
	next = upgrade(&s, &f);
	expect_exit_after_drain(s.proc, DRAINED);
	s.proc = next;
	faultkit_slb_stop_ok(&s, 5000);
}

/* ---- the operator's runtime state ---- */

/* method path (body may be NULL) on the admin port: answered 200. */
static void admin_call(unsigned admin, const char *method, const char *path, const char *body)
{
	struct testproc_http r;
	int rc = testproc_http_request(admin, method, path, NULL, body, &r, IO_MS);

	cr_assert_eq(rc, 0, "%s %s: %s", method, path, strerror(-rc));
	cr_assert_eq(r.status, 200, "%s %s: %d %s", method, path, r.status, r.body);
}

static void expect_status_field(unsigned admin, const char *addr, const char *field, const char *want)
{
	char got[64] = "";
	int rc = faultkit_status_field(admin, addr, field, got, sizeof(got));

	cr_assert_eq(rc, 0, "%s of %s in the new process's /status: %s", field, addr, strerror(-rc));
	cr_assert_str_eq(got, want, "%s of %s in the new process: %s", field, addr, got);
}

#define RUNTIME_GETS 60

#define RUNTIME_BACKENDS 5

/* Who answers RUNTIME_GETS requests: counts by backend name web1..web5 into served[0..4]. */
static void count_served(unsigned port, unsigned served[RUNTIME_BACKENDS])
{
	char body[256], who[64];

	memset(served, 0, RUNTIME_BACKENDS * sizeof(served[0]));
	for (int i = 0; i < RUNTIME_GETS; i++) {
		cr_assert_eq(faultkit_http_body(port, "/", body, sizeof(body), IO_MS), 200, "request %d", i);
		cr_assert_not_null(faultkit_backend_name(body, who, sizeof(who)), "%s", body);
		cr_assert(strncmp(who, "web", 3) == 0 && who[3] >= '1' && who[3] < '1' + RUNTIME_BACKENDS, "%s", who);
		served[who[3] - '1']++;
	}
}

/*
 * What the operator set at run time survives an upgrade (issue 20): web1 disabled, web2 at
 * weight 5, web3 (a --backend) removed, web4 added (weight 1) and web5 drained through the
 * admin API; then an upgrade with the same flags (web1, web2, web3, web5).
 * /status of the new process: web1 admin_down, web2 admin_weight 5, web3 absent, web4 there
 *   (source admin, weight 1), web5 draining.
 * Client sees: of 60 requests to the new process, none to web1, web3 or web5, web2 more than
 *   web4, and web4 some.
 */
Test(upgrade, runtime_state_survives_an_upgrade)
{
	char a[RUNTIME_BACKENDS][32], body[128], path[64], name[8], got[16];
	const char *extra[] = { "--backend", a[0], "--backend", a[1], "--backend", a[2], "--backend", a[4], NULL };
	struct upgrade_flags f = { .workers = "1", .extra = extra };
	struct faultkit_slb s;
	struct testproc *next;
	unsigned served[RUNTIME_BACKENDS];

	for (int i = 0; i < RUNTIME_BACKENDS; i++) {
		snprintf(name, sizeof(name), "web%d", i + 1);
		faultkit_backend_ok(name, a[i], sizeof(a[i]));
	}
	start_first(&s, &f);
	snprintf(path, sizeof(path), "/backends/%s/disable", a[0]);
	admin_call(s.admin, "POST", path, NULL);
	snprintf(path, sizeof(path), "/backends/%s/weight", a[1]);
	admin_call(s.admin, "PUT", path, "5");
	snprintf(path, sizeof(path), "/backends/%s", a[2]);
	admin_call(s.admin, "DELETE", path, NULL);
	snprintf(body, sizeof(body), "{\"address\":\"%s\",\"weight\":1,\"name\":\"web4\"}", a[3]);
	admin_call(s.admin, "POST", "/backends", body);
	snprintf(path, sizeof(path), "/backends/%s/drain", a[4]);
	admin_call(s.admin, "POST", path, NULL);
	next = upgrade(&s, &f);
	expect_exit_after_drain(s.proc, DRAINED);
	s.proc = next;
	expect_status_field(s.admin, a[0], "state", "admin_down");
	expect_status_field(s.admin, a[1], "admin_weight", "5");
	cr_assert_eq(faultkit_status_field(s.admin, a[2], "state", got, sizeof(got)), -ENOENT,
		     "web3, removed by the API, is back in the new process: %s", got);
	expect_status_field(s.admin, a[3], "source", "admin");
	expect_status_field(s.admin, a[3], "weight", "1");
	expect_status_field(s.admin, a[4], "state", "draining");
	count_served(s.port, served);
	cr_log_info("after the upgrade: web1 %u, web2 %u, web3 %u, web4 %u, web5 %u", served[0], served[1], served[2],
		    served[3], served[4]);
	cr_assert_eq(served[0], 0, "web1, disabled, served %u", served[0]);
	cr_assert_eq(served[2], 0, "web3, removed, served %u", served[2]);
	cr_assert_eq(served[4], 0, "web5, drained, served %u", served[4]);
	cr_assert_gt(served[3], 0, "web4, added, served nothing");
	cr_assert_gt(served[1], served[3], "web2 at weight 5 served %u, web4 at 1 served %u", served[1], served[3]);
	faultkit_slb_stop_ok(&s, 5000);
}

/*
 * A heartbeat backend the operator disabled stays disabled across an upgrade (issue 20): hb1
 * and hb2 register by heartbeat, hb1 is disabled through the admin API, then an upgrade.
 * /status of the new process: hb1 admin_down, before and after it registers again there.
 * Client sees: 20 requests to the new process, all answered by hb2.
 */
Test(upgrade, a_disabled_heartbeat_backend_stays_disabled)
{
	const char *extra[] = { "--heartbeat-listen", "127.0.0.1:{port2}", NULL };
	const char *next_extra[] = { "--heartbeat-listen", NULL, NULL };
	struct upgrade_flags f = { .workers = "1", .extra = extra };
	char a1[32], a2[32], hb[32], path[64], body[256], who[64];
	struct testproc *b1, *next;
	struct faultkit_slb s;

	start_first(&s, &f);
	b1 = start_hb_backend("hb1", s.port2, a1, sizeof(a1));
	start_hb_backend("hb2", s.port2, a2, sizeof(a2));
	cr_assert_geq(faultkit_wait_state(s.admin, a1, "up", IO_MS), 0);
	cr_assert_geq(faultkit_wait_state(s.admin, a2, "up", IO_MS), 0);
	snprintf(path, sizeof(path), "/backends/%s/disable", a1);
	admin_call(s.admin, "POST", path, NULL);
	snprintf(hb, sizeof(hb), "127.0.0.1:%u", s.port2);
	next_extra[1] = hb;
	f.extra = next_extra;
	next = upgrade(&s, &f);
	expect_exit_after_drain(s.proc, DRAINED);
	s.proc = next;
	expect_status_field(s.admin, a1, "state", "admin_down");
	expect_registered_again(b1, "hb1", loadgen_now_us());
	expect_status_field(s.admin, a1, "state", "admin_down");
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(faultkit_http_body(s.port, "/", body, sizeof(body), IO_MS), 200, "request %d", i);
		cr_assert_str_eq(faultkit_backend_name(body, who, sizeof(who)), "hb2", "request %d", i);
	}
	faultkit_slb_stop_ok(&s, 5000);
}

#define OUTLIER_SLOW_MS 300

/*
 * An outlier ejection survives an upgrade with the time it had left (issue 20): fast1, fast2
 * and slow3 (answers 300 ms late) behind slb with --outlier-detection and a 60 s ejection;
 * load until slow3 is ejected, then an upgrade with the same flags and no load.
 * /status of the new process: slow3 down, "outlier before the upgrade".
 * Client sees: 20 requests to the new process, none answered by slow3.
 */
Test(upgrade, an_outlier_ejection_survives_an_upgrade)
{
	static struct delay_server srv[3];
	static const char *const names[] = { "fast1", "fast2", "slow3" };
	char be[3][32], reason[128];
	const char *extra[] = { "--backend", be[0], "--backend", be[1], "--backend", be[2], "--outlier-detection",
				"--outlier-base-ejection", "60000", "--drain-timeout", "2000", NULL };
	struct upgrade_flags f = { .workers = "2", .extra = extra };
	struct faultkit_slb s;
	struct testproc *next;
	struct loadgen lg;
	unsigned slow_before;
	int took;

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(delay_server_start(&srv[i], names[i], i == 2 ? OUTLIER_SLOW_MS : 0), 0);
		snprintf(be[i], sizeof(be[i]), "127.0.0.1:%u", srv[i].port);
	}
	start_first(&s, &f);
	start_load(&lg, s.port, 8);
	took = faultkit_wait_state(s.admin, be[2], "down", IO_MS);
	loadgen_stop(&lg);
	loadgen_free(&lg);
	cr_assert_geq(took, 0, "slow3 was never ejected");
	next = upgrade(&s, &f);
	expect_exit_after_drain(s.proc, DRAINED);
	s.proc = next;
	expect_status_field(s.admin, be[2], "state", "down");
	cr_assert_eq(faultkit_status_field(s.admin, be[2], "reason", reason, sizeof(reason)), 0);
	cr_assert(strstr(reason, "outlier before the upgrade"), "slow3's reason in the new process: %s", reason);
	slow_before = atomic_load(&srv[2].answered);
	for (int i = 0; i < 20; i++) {
		char body[256];

		cr_assert_eq(faultkit_http_body(s.port, "/", body, sizeof(body), IO_MS), 200, "request %d", i);
	}
	cr_assert_eq(atomic_load(&srv[2].answered), slow_before, "slow3, ejected, answered after the upgrade");
	faultkit_slb_stop_ok(&s, 5000);
	for (int i = 0; i < 3; i++)
		delay_server_stop(&srv[i]);
}

/* ---- bad input on the control socket ---- */

/* What a peer that is not a well-behaved slb does on the control socket. */
struct bad_peer {
	const char *hello;        /* first message; NULL: "TAKEOVER slb/1", then read up to END */
	bool hello_fd;            /* the first message carries a descriptor */
	const char *after_end;    /* sent once END came (hello NULL) */
	const char *logged;       /* the old process's reason */
};

/* Reads the old process's messages up to END, closing the descriptors. */
static void read_until_end(int c)
{
	char line[HANDOVER_LINE_MAX];
	int fd, n;

	while ((n = handover_recv(c, line, sizeof(line), &fd, IO_MS)) >= 0) {
		if (fd >= 0)
			close(fd);
		if (strncmp(line, "END", 3) == 0)
			return;
	}
	cr_assert_fail("no END from the old slb: %s", strerror(-n));
}

/* Plays b against the control socket; the old slb must log b's reason and serve on, its admin
 * listener included. */
static void play_bad_peer(struct faultkit_slb *s, const struct bad_peer *b)
{
	char err[160], want[200], why[TESTPROC_WHY_MAX], body[256];
	int c = handover_connect(sock_path, err, sizeof(err)), rc;

	cr_assert_geq(c, 0, "%s", err);
	cr_assert_eq(handover_send(c, b->hello ? b->hello : "TAKEOVER slb/1", b->hello_fd ? c : -1), 0);
	if (!b->hello) {
		read_until_end(c);
		cr_assert_eq(handover_send(c, b->after_end, -1), 0);
	}
	snprintf(want, sizeof(want), "failed: %s; still serving", b->logged);
	rc = testproc_wait_output(s->proc, want, IO_MS);
	testproc_explain(s->proc, why, sizeof(why));
	cr_assert_eq(rc, 0, "the old slb did not log '%s': %s", want, why);
	close(c);
	rc = faultkit_http_body(s->admin, "/status", body, sizeof(body), IO_MS);
	cr_assert_eq(rc, 200, "/status after '%s': %s", b->logged, rc < 0 ? strerror(-rc) : body);
}

/*
 * A peer on the control socket that sends what slb never sends, under load: each bad message
 * in turn (issue 25), then a good upgrade.
 * slb logs: the old process, "takeover by pid N failed: <reason>; still serving" for each.
 * Client sees: every request answered throughout; /status answered after each; the good
 *   upgrade then takes over and the old process drains and exits 0.
 */
Test(upgrade, a_bad_peer_on_the_control_socket_leaves_the_old_process_serving)
{
	static const struct bad_peer peers[] = {
		{ "HELLO slb/1", false, NULL, "unknown verb 'HELLO'" },
		{ "TAKEOVER slb/2", false, NULL, "it speaks 'slb/2', this slb slb/1" },
		{ "TAKEOVER", false, NULL, "TAKEOVER needs an argument" },
		{ "TAKEOVER slb/1", true, NULL, "TAKEOVER carries no descriptor" },
		{ "DRAIN", false, NULL, "DRAIN where TAKEOVER was due" },
		{ "TAKEOVER slb/1\n", false, NULL, "a message that is not one text line with at most one descriptor" },
		{ NULL, false, "DRAIN now", "DRAIN takes no argument" },
		{ NULL, false, "OK 1", "OK where DRAIN was due" },
		{ NULL, false, "LISTEN 127.0.0.1:1", "LISTEN needs a descriptor" },
	};
	char be[32];
	const char *extra[] = { "--backend", be, NULL };
	struct upgrade_flags f = { .workers = "1", .extra = extra };
	struct faultkit_slb s;
	struct testproc *next;
	struct loadgen lg;
	int64_t t0;

	faultkit_backend_ok("b1", be, sizeof(be));
	start_first(&s, &f);
	t0 = loadgen_now_us();
	start_load(&lg, s.port, 2);
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
		play_bad_peer(&s, &peers[i]);
	expect_no_failure(&lg, t0, "bad peers on the control socket");
	loadgen_free(&lg);
	next = upgrade(&s, &f);
	expect_exit_after_drain(s.proc, DRAINED);
	s.proc = next;
	faultkit_slb_stop_ok(&s, 5000);
}

/* Accepts slb --takeover on lfd as a fake old slb and reads its request, then sends lines
 * (each with a descriptor when it starts with '+'). Returns the connection. */
static int fake_old_start(int lfd, const char *const *lines)
{
	char line[HANDOVER_LINE_MAX];
	int c = -1, fd, p[2];

	for (int t = 0; t < IO_MS / 10 && (c = handover_accept(lfd)) == -EAGAIN; t++)
		usleep(10000);
	cr_assert_geq(c, 0, "slb --takeover never connected: %s", strerror(-c));
	cr_assert_geq(handover_recv(c, line, sizeof(line), &fd, IO_MS), 0);
	cr_assert_str_eq(line, "TAKEOVER slb/1");
	cr_assert_eq(pipe(p), 0);
	for (; *lines; lines++)
		cr_assert_eq(handover_send(c, *lines + (**lines == '+'), **lines == '+' ? p[0] : -1), 0);
	close(p[0]);
	close(p[1]);
	return c;
}

/* A fake old slb whose lines the new process refuses: it hangs up. */
static void fake_old_slb(int lfd, const char *const *lines)
{
	char line[HANDOVER_LINE_MAX];
	int fd, c = fake_old_start(lfd, lines);

	cr_assert_eq(handover_recv(c, line, sizeof(line), &fd, IO_MS), -ECONNRESET, "the new slb sent '%s'", line);
	close(c);
}

/* A fake old slb that sends lines then END, and answers DRAIN as slb does. */
static void fake_old_slb_whole(int lfd, const char *const *lines)
{
	char line[HANDOVER_LINE_MAX];
	int fd, c = fake_old_start(lfd, lines);

	cr_assert_eq(handover_send(c, "END 7", -1), 0);
	cr_assert_geq(handover_recv(c, line, sizeof(line), &fd, IO_MS), 0);
	cr_assert_str_eq(line, "DRAIN");
	cr_assert_eq(handover_send(c, "OK 7", -1), 0);
	cr_assert_eq(handover_send(c, "STOPPED", -1), 0);
	close(c);
}

/*
 * A new process whose old one (here the test, on a control socket of its own) sends what slb
 * never sends: each bad message in turn.
 * slb logs: "cannot take over from PATH: the running slb sent a bad message: <reason>" ("the
 *   running slb refused: <its reason>" for ERR), and exits 1.
 */
Test(upgrade, a_bad_message_to_the_new_process_is_a_clear_error)
{
	static const char *const cases[][4] = {
		{ "LISTEN 127.0.0.1:1", NULL, "LISTEN needs a descriptor" },
		{ "+END 7", NULL, "END carries no descriptor" },
		{ "END 0", NULL, "END needs a pid (a number > 0), not '0'" },
		{ "+ADMIN 127.0.0.1:2", "+ADMIN 127.0.0.1:2", "a second ADMIN" },
		{ "OK 7", NULL, "OK before END" },
		{ "ERR another takeover is in progress", NULL, "another takeover is in progress" },
		{ "+listen 127.0.0.1:1", NULL, "unknown verb 'listen'" },
	};
	char path[64], err[160], out[4096], want[256];
	const char *argv[] = { "slb", "--listen", "127.0.0.1:1", "--admin", "127.0.0.1:2", "--backend", "127.0.0.2:80",
			       "--takeover", path, NULL };

	snprintf(path, sizeof(path), "/tmp/slb-test-fake-old-%d.sock", (int)getpid());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *lines[3] = { cases[i][0], cases[i][1], NULL };
		int lfd = handover_listen(path, err, sizeof(err));
		struct testproc *p;

		cr_assert_geq(lfd, 0, "%s", err);
		p = testproc_spawn(argv);
		cr_assert_not_null(p);
		fake_old_slb(lfd, lines);
		cr_assert_eq(testproc_wait(p, IO_MS), 0);
		testproc_output(p, out, sizeof(out));
		cr_assert_eq(testproc_exit_code(p), 1, "%s", out);
		snprintf(want, sizeof(want), "cannot take over from %s: the running slb %s: %s", path,
			 strncmp(cases[i][0], "ERR", 3) ? "sent a bad message" : "refused", cases[i][2]);
		cr_assert_not_null(strstr(out, want), "want '%s' in: %s", want, out);
		close(lfd);
		unlink(path);
	}
}

/* A STATE line and what the new process makes of it: a /status field of addr, or the reason
 * it logs for refusing the line. */
struct state_case {
	char line[96];
	char addr[32];
	const char *field, *want; /* NULL field: refused with the reason want */
};

/* "STATE " and line, an A or B at its start standing for the address a or b. */
static void state_text(const char *line, const char *a, const char *b, char *out, size_t len)
{
	const char *addr = line[0] == 'A' ? a : line[0] == 'B' ? b : NULL;

	snprintf(out, len, "STATE %.40s%.100s", addr ? addr : "", addr ? line + 1 : line);
}

/*
 * The runtime state lines of the old process (here the test, as a fake old slb), good and bad,
 * at a new slb with --backend A and B and active checks off.
 * /status: each good line's effect (A disabled; B at weight 7 and ejected; C added by the API
 *   with its name and own check).
 * slb logs: for each bad one, "runtime state '<line>' not restored: <reason>"; it serves on.
 */
Test(upgrade, runtime_state_lines_are_checked_one_by_one)
{
	static struct state_case cases[] = {
		{ "A disabled", "A", "state", "admin_down" },
		{ "B weight=7 ejected=50000/2", "B", "admin_weight", "7" },
		{ "B", "B", "state", "down" },        /* an address alone changes nothing */
		{ "127.0.0.3:9 added=3 name=web9 check=http:/health", "127.0.0.3:9", "name", "web9" },
		{ "127.0.0.3:9", "127.0.0.3:9", "source", "admin" }, /* the one just added */
		{ "nonsense disabled", "", NULL, "it does not start with an address" },
		{ "A frozen", "", NULL, "'frozen' is not a word it takes" },
		{ "A weight=300", "", NULL, "'weight=300' is not a word it takes" },
		{ "A ejected=0/1", "", NULL, "'ejected=0/1' is not a word it takes" },
		{ "A ejected=100", "", NULL, "'ejected=100' is not a word it takes" },
		{ "A added=0", "", NULL, "'added=0' is not a word it takes" },
		{ "A check=ftp", "", NULL, "'check=ftp' is not a word it takes" },
		{ "127.0.0.9:1 disabled", "", NULL, "no such backend in this process" },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	char path[64], err[160], a[32], b[32], listen[32], admin[32], want[256], why[TESTPROC_WHY_MAX];
	const char *lines[sizeof(cases) / sizeof(cases[0]) + 1];
	const char *argv[] = { "slb", "--listen", listen, "--admin", admin, "--backend", a, "--backend", b,
			       "--takeover", path, NULL };
	static char texts[sizeof(cases) / sizeof(cases[0])][256];
	unsigned admin_port = (unsigned)testproc_free_port();
	struct testproc *p;
	int lfd;

	snprintf(a, sizeof(a), "127.0.0.1:%d", testproc_free_port());
	snprintf(b, sizeof(b), "127.0.0.2:%d", testproc_free_port());
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", testproc_free_port());
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", admin_port);
	for (size_t i = 0; i < n; i++) {
		state_text(cases[i].line, a, b, texts[i], sizeof(texts[i]));
		lines[i] = texts[i];
	}
	lines[n] = NULL;
	snprintf(path, sizeof(path), "/tmp/slb-test-fake-old-%d.sock", (int)getpid());
	lfd = handover_listen(path, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	p = testproc_spawn(argv);
	cr_assert_not_null(p);
	fake_old_slb_whole(lfd, lines);
	close(lfd);
	unlink(path);
	testproc_explain(p, why, sizeof(why));
	cr_assert_eq(testproc_wait_output(p, SERVING, IO_MS), 0, "%s", why);
	for (size_t i = 0; i < n; i++) {
		const char *addr = cases[i].addr[0] == 'A' && !cases[i].addr[1] ? a :
				   cases[i].addr[0] == 'B' && !cases[i].addr[1] ? b : cases[i].addr;

		testproc_explain(p, why, sizeof(why));
		if (cases[i].field) {
			char got[64] = "";
			int rc = faultkit_status_field(admin_port, addr, cases[i].field, got, sizeof(got));

			cr_assert(rc == 0 && strcmp(got, cases[i].want) == 0, "'%s': %s of %s is '%s' (%s), not '%s': %s",
				  lines[i], cases[i].field, addr, got, strerror(-rc), cases[i].want, why);
			continue;
		}
		snprintf(want, sizeof(want), "runtime state '%.80s' not restored: %s", lines[i] + 6, cases[i].want);
		cr_assert_eq(faultkit_count_lines(p, want), 1, "no '%s' in: %s", want, why);
	}
	cr_assert_eq(testproc_stop(p, IO_MS), 0);
}

Test(upgrade, takeover_without_a_running_slb_is_a_clear_error)
{
	char out[2048];
	const char *argv[] = { "slb", "--listen", "127.0.0.1:1", "--backend", "127.0.0.2:80", "--takeover",
			       "/nonexistent/slb-control.sock", NULL };

	cr_assert_eq(testproc_run(argv, IO_MS, out, sizeof(out)), 1, "%s", out);
	cr_assert_not_null(strstr(out, "slb: cannot take over: control socket /nonexistent/slb-control.sock: connect: "
				       "No such file or directory"), "%s", out);
}

/* --check-config with --takeover beside the running slb: its ports are in use, by design. */
Test(upgrade, check_config_with_takeover_accepts_ports_in_use)
{
	char be[32], listen[32], admin[32], out[2048];
	const char *extra[] = { "--backend", be, NULL };
	struct upgrade_flags f = { .workers = "1", .extra = extra };
	const char *argv[] = { "slb", "--check-config", "--listen", listen, "--admin", admin, "--backend", be,
			       "--takeover", sock_path, NULL };
	struct faultkit_slb s;

	faultkit_backend_ok("b1", be, sizeof(be));
	start_first(&s, &f);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", s.port);
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", s.admin);
	cr_assert_eq(testproc_run(argv, IO_MS, out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(strstr(out, "configuration OK"), "%s", out);
	argv[8] = "--log-level"; /* the same without --takeover: the ports are taken */
	argv[9] = "info";
	cr_assert_eq(testproc_run(argv, IO_MS, out, sizeof(out)), 2, "%s", out);
	cr_assert_not_null(strstr(out, "in use"), "%s", out);
	faultkit_slb_stop_ok(&s, 5000);
}

/* A datagram socket standing in for systemd's notification socket; its path into path. */
static int fake_notify_socket(char *path, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_MS / 1000 };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(path, len, "/tmp/slb-test-notify-%d.sock", (int)getpid());
	unlink(path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0, "%s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void expect_notification(int fd, const char *want)
{
	char msg[256];
	ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);

	cr_assert_gt(n, 0, "no notification (want %s)", want);
	msg[n] = '\0';
	cr_assert_str_eq(msg, want);
}

/*
 * systemd's view (Type=notify, NotifyAccess=all): the first process says READY=1; the new
 * process of an upgrade says MAINPID=<its pid> and READY=1 in one message, so systemd follows
 * it; the old one says nothing more (not STOPPING=1: the service goes on); the new one says
 * STOPPING=1 when SIGTERM drains it.
 */
Test(upgrade, systemd_follows_the_new_main_pid)
{
	char be[32], path[64], want[64];
	const char *extra[] = { "--backend", be, NULL };
	struct upgrade_flags f = { .workers = "1", .extra = extra };
	struct timeval quick = { .tv_usec = 300000 };
	struct faultkit_slb s;
	struct testproc *next;
	int fd = fake_notify_socket(path, sizeof(path));
	char msg[64];

	faultkit_backend_ok("b1", be, sizeof(be));
	setenv("NOTIFY_SOCKET", path, 1);
	start_first(&s, &f);
	expect_notification(fd, "READY=1");
	next = upgrade(&s, &f);
	snprintf(want, sizeof(want), "MAINPID=%d\nREADY=1", (int)next->pid);
	expect_notification(fd, want);
	expect_exit_after_drain(s.proc, DRAINED);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &quick, sizeof(quick));
	cr_assert_lt(recv(fd, msg, sizeof(msg), 0), 0, "the old process notified systemd after the takeover");
	s.proc = next;
	faultkit_slb_stop_ok(&s, 5000);
	expect_notification(fd, "STOPPING=1");
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	unlink(path);
}
