/* testskip: a skipped test that says why and is counted. Criterion reports a skipped test as
 * passed to ctest (its main exits 0), so a skip is also written, one line, to the file named by
 * SLB_SKIP_LOG (tests/CMakeLists.txt sets it for ctest): scripts/skips.sh counts those lines
 * by reason after a run, and with CI=true fails the run on a reason that is not in
 * tests/ci-allowed-skips (CI has root, nginx, haproxy, bird2, nft and a high descriptor
 * limit, so a test that needs them must run there). */
#ifndef SLB_TESTSKIP_H
#define SLB_TESTSKIP_H

/* The reasons, as they appear in the log; a new one is a new line here. */
#define TESTSKIP_ROOT "needs-root"           /* namespaces, dropping privileges */
#define TESTSKIP_NETNS "no-netns"            /* root, but the kernel would not make namespaces */
#define TESTSKIP_PROGRAM "missing-program"   /* nginx, haproxy, bird2, nft, curl */
#define TESTSKIP_NOFILE "low-nofile"         /* the hard descriptor limit is too low */
#define TESTSKIP_ARCH "unsupported-arch"     /* no seccomp constant for this CPU */

/* Prints "SKIP reason: message", appends "reason<TAB>suite/test<TAB>message" to $SLB_SKIP_LOG
 * when it is set, and skips the running Criterion test (does not return). */
_Noreturn void testskip(const char *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
