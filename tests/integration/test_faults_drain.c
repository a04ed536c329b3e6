/* Fault injection, shutdown under load: SIGTERM while clients are downloading slowly
 * through slb. Every open connection either finishes or is closed cleanly at
 * --drain-timeout; nothing is cut before it. Each case says what the client sees and what
 * slb logs, and checks both. The backend is a real slb-backend process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"
#include "testwait.h"

#define IO_MS 30000
#define MIB (1024 * 1024)
#define CLIENTS 8
#define BODY (8ULL * MIB)

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(faults_drain, .fini = suite_fini, .timeout = 60);

static void start(struct faultkit_slb *s, const char *drain_ms)
{
	char be[32];

	faultkit_backend_ok("b1", be, sizeof(be));
	faultkit_slb_start_ok(s, 0,
			      (const char *const[]){ "--workers", "2", "--drain-timeout", drain_ms, "--backend", be, NULL });
}

/*
 * SIGTERM while 8 clients download 8 MiB at 3 MiB/s each (about 2.7 s), --drain-timeout 5000.
 * Client sees: every download completes, byte for byte, after the signal; a new client is
 *   refused (the listeners are closed at once).
 * slb logs: "Terminated received: draining for up to 5000 ms", then "drained: every
 *   connection finished" (no "drain timeout" line); it exits 0 once the last one is done,
 *   within the drain timeout.
 */
Test(faults_drain, sigterm_lets_slow_downloads_finish)
{
	struct faultkit_reader rd[CLIENTS];
	struct faultkit_slb s;
	int64_t t_sig, last_end = 0;
	int late;

	start(&s, "5000");
	faultkit_downloads_start(rd, CLIENTS, s.port, BODY, 3 * 1024, IO_MS, 256 * 1024);
	cr_assert_eq(testproc_signal(s.proc, SIGTERM), 0);
	t_sig = testproc_now_ms();
	cr_assert_eq(testproc_wait_output(s.proc, "draining for up to 5000 ms", 2000), 0);
	/* Workers close their listeners at their next loop turn (within 100 ms); a client that
	 * raced in before that is served or reset with the backlog. */
	late = testwait_connect_refused(s.port, testwait_ms(2000));
	cr_assert_geq(late, 0, "new clients still accepted %d ms into the drain", testwait_ms(2000));
	testwait_report("listeners closed after SIGTERM", late, 100);
	faultkit_downloads_expect_whole(rd, CLIENTS, BODY, "drain");
	for (int i = 0; i < CLIENTS; i++) {
		cr_assert_gt(rd[i].end_ms, t_sig, "download %d ended before the signal: too fast to test", i);
		if (rd[i].end_ms > last_end)
			last_end = rd[i].end_ms;
	}
	cr_assert_lt(last_end - t_sig, 5000, "the downloads outlasted the drain timeout: slow the test down");
	cr_assert_eq(testproc_wait(s.proc, 5000), 0, "slb still running after its drain timeout");
	cr_assert_lt(testproc_now_ms() - t_sig, 5000 + 1500, "slb exited late");
	cr_assert_eq(faultkit_count_lines(s.proc, "drained: every connection finished"), 1);
	cr_assert_eq(faultkit_count_lines(s.proc, "drain timeout"), 0);
	faultkit_slb_stop_ok(&s, 1000);
}

/*
 * SIGTERM while 8 clients download 8 MiB at 256 KiB/s each (32 s), --drain-timeout 1500.
 * Client sees: bytes keep flowing until the drain timeout, then a reset (ECONNRESET; before
 *   Linux 6.7 a clean EOF) after a correct but short body: cut at the deadline, not before it,
 *   never left hanging.
 * slb logs: "drain timeout (1500 ms): closing 8 connections still open", and exits 0 at the
 *   deadline (not before it, and within 1.5 s after it).
 */
Test(faults_drain, drain_timeout_closes_slow_downloads_cleanly)
{
	struct faultkit_reader rd[CLIENTS];
	struct faultkit_slb s;
	uint64_t at_signal[CLIENTS];
	int64_t t_sig, exited;

	start(&s, "1500");
	faultkit_downloads_start(rd, CLIENTS, s.port, BODY, 256, IO_MS, 256 * 1024);
	cr_assert_eq(testproc_signal(s.proc, SIGTERM), 0);
	t_sig = testproc_now_ms();
	for (int i = 0; i < CLIENTS; i++)
		at_signal[i] = atomic_load(&rd[i].got);
	cr_assert_eq(testproc_wait(s.proc, 5000), 0, "slb still running after its drain timeout");
	exited = testproc_now_ms() - t_sig;
	cr_assert_geq(exited, 1500 - 50, "slb exited %lld ms after SIGTERM, before its drain timeout",
		      (long long)exited);
	cr_assert_lt(exited, 1500 + 1500, "slb exited %lld ms after SIGTERM", (long long)exited);
	/* slb is gone: read what its sockets still hold at full speed, then the reset. */
	for (int i = 0; i < CLIENTS; i++)
		atomic_store(&rd[i].rate_kib, 0);
	for (int i = 0; i < CLIENTS; i++) {
		int64_t cut = 0;

		faultkit_reader_join(&rd[i]);
		cut = rd[i].end_ms - t_sig;
		cr_assert_eq(rd[i].rc, faultkit_cut_errno(s.proc), "download %d: %s (want a reset at the drain timeout)",
			     i, rd[i].rc ? strerror(-rd[i].rc) : "finished");
		cr_assert_lt(rd[i].r.body_len, BODY);
		cr_assert_gt(rd[i].r.body_len, at_signal[i], "download %d got nothing after the signal", i);
		cr_assert_eq(rd[i].r.body_fnv, faultkit_pattern_fnv(rd[i].r.body_len), "download %d: bytes changed",
			     i);
		/* The reset comes after the bytes slb had sent before it closed. */
		cr_assert_geq(cut, 1500 - 100, "download %d cut %lld ms after SIGTERM, before the drain timeout", i,
			      (long long)cut);
		cr_assert_lt(cut, IO_MS - 1000, "download %d never closed", i);
	}
	cr_assert_eq(faultkit_count_lines(s.proc, "drain timeout (1500 ms): closing 8 connections still open"), 1);
	faultkit_slb_stop_ok(&s, 1000);
}
