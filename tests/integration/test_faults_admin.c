/* Fault injection on the health thread's listeners: slb out of descriptors while admin clients
 * connect, and a local process holding hundreds of idle admin connections. Each case says
 * what the client sees and what slb logs, and checks both. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"

#define IO_MS 10000
#define STOP_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(faults_admin, .fini = suite_fini, .timeout = 90);

#define NOFILE 128
#define ADMIN_WAITING 8   /* admin clients that connect while slb has no descriptor left */
#define WINDOW_MS 2000    /* how long slb stays out of descriptors with them waiting */

static const char status_get[] = "GET /status HTTP/1.0\r\n\r\n";

/* Opens NOFILE heartbeat sessions (slb accepts them until its descriptors run out; the rest
 * wait in the backlog) and waits until slb holds all NOFILE descriptors. */
static void exhaust_descriptors(const struct faultkit_slb *s, unsigned hb_port, int *held)
{
	int64_t deadline;
	int n = 0;

	for (int i = 0; i < NOFILE; i++) {
		held[i] = testproc_connect(hb_port, IO_MS);
		cr_assert_geq(held[i], 0, "heartbeat session %d: %s", i, strerror(-held[i]));
	}
	deadline = testproc_now_ms() + IO_MS;
	while (testproc_now_ms() < deadline && (n = faultkit_fd_count(s->proc->pid)) < NOFILE)
		usleep(20000);
	cr_assert_eq(n, NOFILE, "slb holds %d descriptors, not all %d", n, NOFILE);
}

/*
 * slb under a hard limit of 128 descriptors (prlimit), its heartbeat sessions holding every
 * one, while 8 admin clients connect and send GET /status.
 * Client sees: the admin clients wait (they sit in the backlog: nothing can be accepted);
 *   once the heartbeat sessions close, each gets its 200 answer, and new clients too.
 * slb logs: "heartbeat: accept failed, pausing for 100 ms (24: Too many open files)" and
 *   the same for "admin:", rate-limited; the health thread does not spin meanwhile: over the
 *   2 s window its CPU time stays under a tenth of it (a spinning thread takes all it is
 *   given; a paused listener costs a retry every 100 ms).
 */
Test(faults_admin, out_of_descriptors_admin_pauses_instead_of_spinning_then_serves)
{
	static int held[NOFILE];
	struct testproc_http r;
	struct faultkit_slb s;
	int admin[ADMIN_WAITING];
	long cpu0, cpu1;
	int64_t t0, t1;

	faultkit_slb_start_ok(&s, NOFILE, (const char *const[]){ "--workers", "1", "--relay", "copy",
								  "--heartbeat-listen", "127.0.0.1:{port2}", NULL });
	exhaust_descriptors(&s, s.port2, held);
	for (int i = 0; i < ADMIN_WAITING; i++) {
		admin[i] = testproc_connect(s.admin, IO_MS);
		cr_assert_geq(admin[i], 0, "admin client %d: %s", i, strerror(-admin[i]));
		cr_assert_eq(testproc_write_all(admin[i], status_get, sizeof(status_get) - 1, IO_MS), 0);
	}
	cr_assert_eq(testproc_wait_output(s.proc, "admin: accept failed, pausing for 100 ms (24: Too many open files)",
					  IO_MS), 0, "no pause logged for the admin listener");

	cpu0 = faultkit_thread_cpu_ms(s.proc->pid, "slb-health");
	t0 = testproc_now_ms();
	usleep(WINDOW_MS * 1000);
	cpu1 = faultkit_thread_cpu_ms(s.proc->pid, "slb-health");
	t1 = testproc_now_ms();
	cr_assert_geq(cpu0, 0, "no slb-health thread: %s", strerror((int)-cpu0));
	cr_log_info("health CPU %ld ms in %lld ms", cpu1 - cpu0, (long long)(t1 - t0));
	cr_assert_lt(cpu1 - cpu0, (t1 - t0) / 10, "the health thread used %ld ms of CPU in %lld ms out of descriptors",
		     cpu1 - cpu0, (long long)(t1 - t0));
	cr_assert_eq(faultkit_fd_count(s.proc->pid), NOFILE, "descriptors came free during the window");

	for (int i = 0; i < NOFILE; i++)
		close(held[i]);
	for (int i = 0; i < ADMIN_WAITING; i++) {
		cr_assert_eq(testproc_http_read(admin[i], &r, false, IO_MS), 0, "waiting admin client %d not answered", i);
		cr_assert_eq(r.status, 200, "waiting admin client %d: %s", i, r.head);
		close(admin[i]);
	}
	cr_assert_eq(testproc_http_get(s.admin, "/status", &r, IO_MS), 0);
	cr_assert_eq(r.status, 200);
	faultkit_slb_stop_ok(&s, STOP_MS);
}

#define IDLE_HELD 500
#define SCRAPES 5
#define SCRAPE_MS 1000

/*
 * A local process opens 500 connections to the admin port and sends nothing, holding them.
 * Client sees: GET /status is still answered 200 within a second, five times in a row: each
 *   newcomer takes the place of the oldest connection that has not sent a request, so the
 *   idle ones only push out each other (and each is closed after 3 s anyway).
 * slb logs: "admin: 64 connections open, closing the oldest without a request", at most 5
 *   lines a second.
 */
Test(faults_admin, idle_connections_do_not_lock_out_status)
{
	static int idle[IDLE_HELD];
	struct testproc_http r;
	struct faultkit_slb s;

	cr_assert_geq(faultkit_raise_nofile(), IDLE_HELD + 64, "the test needs %d descriptors", IDLE_HELD + 64);
	/* {port2}: a third fresh port, picked again with the others if slb loses one */
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--heartbeat-listen", "127.0.0.1:{port2}",
							     NULL });
	for (int i = 0; i < IDLE_HELD; i++) {
		idle[i] = testproc_connect(s.admin, IO_MS);
		cr_assert_geq(idle[i], 0, "idle connection %d: %s", i, strerror(-idle[i]));
	}
	for (int i = 0; i < SCRAPES; i++) {
		int rc = testproc_http_get(s.admin, "/status", &r, SCRAPE_MS);

		cr_assert_eq(rc, 0, "scrape %d with %d idle connections held: %s", i, IDLE_HELD, strerror(-rc));
		cr_assert_eq(r.status, 200, "scrape %d: %s", i, r.head);
	}
	cr_assert_gt(faultkit_count_lines(s.proc, "admin: 64 connections open, closing the oldest without a request"),
		     0);
	cr_assert_eq(faultkit_count_lines(s.proc, "refusing one more"), 0);
	for (int i = 0; i < IDLE_HELD; i++)
		close(idle[i]);
	faultkit_slb_stop_ok(&s, STOP_MS);
}
