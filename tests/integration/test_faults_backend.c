/* Fault injection, backend side: a backend that accepts and never answers, one that answers
 * late and slowly, one that resets in the middle of an answer. Each case says what the
 * client sees and what slb logs, and checks both. The backends that misbehave run in this
 * process (rogue.h); the well-behaved one is a real slb-backend. SIGKILL and SIGSTOP of a
 * backend under load are test_failover.c's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultkit.h"
#include "rogue.h"
#include "testproc.h"

#define IO_MS 10000
#define STOP_MS 5000

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(faults_backend, .fini = suite_fini, .timeout = 60);

static const char *const relay_modes[] = { "auto", "copy", "splice" };
#define N_MODES (sizeof(relay_modes) / sizeof(relay_modes[0]))

static void backend_arg(char *buf, size_t len, unsigned port)
{
	snprintf(buf, len, "127.0.0.1:%u", port);
}

/*
 * A backend that accepts, reads the request and never answers.
 * Client sees: no byte of an answer; slb closes its connection (EOF) once it has been idle
 *   for --idle-timeout (1000 ms), not sooner and within a sweep period later. Clients that
 *   round robin sends to the healthy backend meanwhile get their answers at once.
 * slb logs: nothing (an idle close is routine, not a warning); slb_worker_idle_timeouts_total
 *   counts each one, and the silent backend's leg is closed too.
 */
Test(faults_backend, silent_backend_closed_at_idle_timeout_others_unaffected)
{
	struct rogue silent;
	struct faultkit_reader rd[6];
	struct faultkit_slb s;
	char a[32], b[32];
	unsigned good_port, answered = 0, closed = 0;
	int64_t t0;

	cr_assert_eq(rogue_start(&silent, &(struct rogue_opts){ .mode = ROGUE_SILENT }), 0);
	cr_assert_not_null(faultkit_backend_start("good", "127.0.0.1", &good_port));
	backend_arg(a, sizeof(a), silent.port);
	backend_arg(b, sizeof(b), good_port);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--idle-timeout", "1000", "--backend", a,
					     "--backend", b, NULL });
	t0 = testproc_now_ms();
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(faultkit_reader_start(&rd[i], s.port, "/", 0, 5000), 0);
	for (unsigned i = 0; i < 6; i++) {
		int64_t took;

		faultkit_reader_join(&rd[i]);
		took = rd[i].end_ms - t0;
		if (rd[i].rc == 0) {
			cr_expect_eq(rd[i].r.status, 200);
			cr_expect_lt(took, 900, "client %u on the healthy backend waited %lld ms", i, (long long)took);
			answered++;
		} else {
			cr_expect_eq(rd[i].rc, -EPIPE, "client %u: %s (want EOF)", i, strerror(-rd[i].rc));
			cr_expect_geq(took, 950, "client %u closed after %lld ms, before the idle timeout", i,
				      (long long)took);
			cr_expect_lt(took, 1000 + 1500, "client %u closed after %lld ms", i, (long long)took);
			closed++;
		}
	}
	cr_assert_eq(answered, 3, "answered %u of 6 (round robin over 2 backends)", answered);
	cr_assert_eq(closed, 3);
	cr_assert_eq(atomic_load(&silent.requests), 3, "the silent backend got %u requests",
		     atomic_load(&silent.requests));
	cr_assert_eq(faultkit_metric(s.admin, "slb_worker_idle_timeouts_total"), 3);
	for (int i = 0; i < 100 && atomic_load(&silent.peer_closed) < 3; i++)
		usleep(10000);
	cr_assert_eq(atomic_load(&silent.peer_closed), 3, "slb left the silent backend's legs open");
	cr_assert_eq(faultkit_count_lines(s.proc, " warn "), 0, "an idle close is not a warning");
	faultkit_slb_stop_ok(&s, STOP_MS);
	rogue_stop(&silent);
}

/*
 * A slow backend: answers 1.5 s after the request, then sends a 256 KiB body in 8 pieces
 * 400 ms apart (4.3 s in all, longer than the 3 s --idle-timeout, but never silent that long).
 * Client sees: the whole answer, byte for byte, after at least the backend's delay; in every
 *   relay mode (three slb processes side by side).
 * slb logs: nothing; no idle timeout is counted (bytes moved at least every 1.5 s).
 */
Test(faults_backend, slow_backend_answer_relayed_whole)
{
	const struct rogue_opts o = { .mode = ROGUE_SLOW, .delay_ms = 1500, .body_len = 256 << 10, .pieces = 8,
				      .gap_ms = 400 };
	struct faultkit_reader rd[N_MODES];
	struct faultkit_slb s[N_MODES];
	struct rogue slow;
	char a[32];
	int64_t t0;

	cr_assert_eq(rogue_start(&slow, &o), 0);
	backend_arg(a, sizeof(a), slow.port);
	for (unsigned m = 0; m < N_MODES; m++)
		faultkit_slb_start_ok(&s[m], 0, (const char *const[]){ "--workers", "2", "--idle-timeout", "3000", "--relay",
							relay_modes[m], "--backend", a, NULL });
	t0 = testproc_now_ms();
	for (unsigned m = 0; m < N_MODES; m++)
		cr_assert_eq(faultkit_reader_start(&rd[m], s[m].port, "/", 0, IO_MS), 0);
	for (unsigned m = 0; m < N_MODES; m++) {
		faultkit_reader_join(&rd[m]);
		cr_assert_eq(rd[m].rc, 0, "relay %s: %s after %llu body bytes", relay_modes[m], strerror(-rd[m].rc),
			     (unsigned long long)rd[m].r.body_len);
		cr_assert_eq(rd[m].r.body_len, o.body_len, "relay %s", relay_modes[m]);
		cr_assert_eq(rd[m].r.body_fnv, faultkit_pattern_fnv(o.body_len), "relay %s: bytes changed",
			     relay_modes[m]);
		cr_assert_geq(rd[m].end_ms - t0, 1500 + 7 * 400, "relay %s: answered too early", relay_modes[m]);
		cr_assert_eq(faultkit_metric(s[m].admin, "slb_worker_idle_timeouts_total"), 0);
		cr_assert_eq(faultkit_count_lines(s[m].proc, " warn "), 0, "relay %s", relay_modes[m]);
		faultkit_slb_stop_ok(&s[m], STOP_MS);
	}
	cr_assert_eq(atomic_load(&slow.answered), N_MODES);
	rogue_stop(&slow);
}

/*
 * A backend that sends the head and 100 KiB of a 1 MiB answer, then resets the connection.
 * Client sees: a correct prefix of the body, then a reset (ECONNRESET), as HAProxy and nginx
 *   give, well before its own timeout, never a hang; so even a protocol without length
 *   framing learns of the cut (before Linux 6.7, a clean EOF: slb says so at start-up).
 *   Requests that round robin sends to the healthy backend, before and after, succeed.
 * slb logs: nothing; a reset after a successful connect is not a connect failure, so the
 *   resetting backend is not ejected (it stays "up" in /status and keeps its share).
 */
Test(faults_backend, backend_reset_mid_response_closes_client)
{
	const struct rogue_opts o = { .mode = ROGUE_RESET, .body_len = 1 << 20, .reset_after = 100 << 10 };
	struct faultkit_slb s[N_MODES];
	struct rogue reset;
	char a[32], b[32], state[16];
	unsigned good_port, cut = 0, ok = 0;

	cr_assert_eq(rogue_start(&reset, &o), 0);
	cr_assert_not_null(faultkit_backend_start("good", "127.0.0.1", &good_port));
	backend_arg(a, sizeof(a), reset.port);
	backend_arg(b, sizeof(b), good_port);
	for (unsigned m = 0; m < N_MODES; m++)
		faultkit_slb_start_ok(&s[m], 0, (const char *const[]){ "--workers", "1", "--relay", relay_modes[m], "--backend", a,
							"--backend", b, NULL });
	for (unsigned m = 0; m < N_MODES; m++) {
		for (unsigned i = 0; i < 6; i++) {
			struct testproc_http r;
			int64_t t = testproc_now_ms();
			int rc = testproc_http_get(s[m].port, "/", &r, IO_MS);
			char name[32];

			cr_assert_lt(testproc_now_ms() - t, 2000, "relay %s: request %u hung", relay_modes[m], i);
			if (rc == 0) {
				cr_assert_str_eq(faultkit_backend_name(r.body, name, sizeof(name)), "good");
				ok++;
				continue;
			}
			cr_assert_eq(rc, faultkit_cut_errno(s[m].proc), "relay %s, request %u: %s (want a reset mid-body)",
				     relay_modes[m], i, strerror(-rc));
			cr_assert_eq(r.status, 200);
			cr_assert_lt(r.body_len, o.body_len);
			cr_assert_eq(r.body_fnv, faultkit_pattern_fnv(r.body_len), "relay %s: the prefix is wrong",
				     relay_modes[m]);
			cut++;
		}
		cr_assert_eq(faultkit_status_field(s[m].admin, a, "state", state, sizeof(state)), 0);
		cr_assert_str_eq(state, "up", "relay %s: a reset ejected the backend", relay_modes[m]);
		cr_assert_eq(faultkit_count_lines(s[m].proc, " warn "), 0, "relay %s", relay_modes[m]);
		faultkit_slb_stop_ok(&s[m], STOP_MS);
	}
	cr_assert_eq(ok, 3 * N_MODES, "round robin: half the requests reach the healthy backend");
	cr_assert_eq(cut, 3 * N_MODES);
	rogue_stop(&reset);
}
