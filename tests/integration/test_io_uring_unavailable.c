/* slb where io_uring is refused, as kernel.io_uring_disabled=2 (EPERM), a container's seccomp
 * profile (EPERM) or a kernel built without it (ENOSYS) refuse it: one clear line, exit 1,
 * nothing bound. The refusal comes from a seccomp filter on io_uring_setup that this test
 * process installs on itself and slb inherits, so the machine's sysctl is never touched.
 * In a file of its own: the filter stays on the test process once installed. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testproc.h"
#include "testskip.h"

#define IO_MS 5000

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

TestSuite(io_uring_unavailable, .fini = testproc_stop_all, .timeout = 30);

/* Makes io_uring_setup fail with err in this process and every child it spawns from now on. */
static void deny_io_uring_setup(int err)
{
#ifdef TEST_AUDIT_ARCH
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, "no_new_privs: %s", strerror(errno));
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0, "seccomp: %s", strerror(errno));
#else
	testskip(TESTSKIP_ARCH, "no seccomp architecture constant for this CPU");
#endif
}

ParameterizedTestParameters(io_uring_unavailable, one_clear_line_and_exit_1)
{
	static int errs[] = { EPERM, ENOSYS };

	return cr_make_param_array(int, errs, sizeof(errs) / sizeof(errs[0]));
}

ParameterizedTest(int *err, io_uring_unavailable, one_clear_line_and_exit_1)
{
	char want[160], out[4096];
	struct testproc_start st = {
		.argv = (const char *const[]){ "slb", "--listen", "127.0.0.1:{port0}", "--heartbeat-listen",
					       "127.0.0.1:{port1}", "--workers", "2", NULL },
		.n_ports = 2,
		.timeout_ms = IO_MS,
	};
	int code;

	deny_io_uring_setup(*err);
	code = testproc_run_on_ports(&st, out, sizeof(out));
	cr_assert_neq(code, -ETIMEDOUT, "slb kept running without io_uring");
	cr_assert_eq(code, 1, "output: %s", out);
	/* exactly this line: a listener bound first would have said something too, or failed */
	snprintf(want, sizeof(want),
		 "slb: io_uring is unavailable (%s): slb needs it (check kernel.io_uring_disabled and seccomp)\n",
		 strerror(*err));
	cr_assert_str_eq(out, want, "exactly one line");
}
