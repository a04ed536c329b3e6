/* slb-ctl, the terminal client, against a real slb: the table an operator reads, each
 * command's answer, errors as slb's message with exit status 1 (2 for bad usage), the token
 * file, and events --follow printing a change as it happens. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"

#define IO_MS 5000
#define OUT_MAX 16384

static void suite_fini(void)
{
	testproc_stop_all();
}

TestSuite(slb_ctl, .fini = suite_fini, .timeout = 60);

static char admin[32];

/* Runs slb-ctl --admin ADMIN args... and returns its exit code, its output in out. */
static int ctl(char *out, const char *const *args)
{
	const char *argv[16] = { "slb-ctl", "--admin", admin };
	unsigned n = 3;
	struct testproc *p;

	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	p = testproc_spawn(argv);
	cr_assert_not_null(p, "spawn slb-ctl: %s", strerror(errno));
	cr_assert_eq(testproc_wait(p, IO_MS), 0, "slb-ctl did not finish");
	testproc_output(p, out, OUT_MAX);
	return testproc_exit_code(p);
}

#define CTL(out, ...) ctl(out, (const char *const[]){ __VA_ARGS__, NULL })

static void start(struct faultkit_slb *s, char *a1, char *a2, const char *token_file)
{
	const char *args[12] = { "--workers", "1", "--backend", a1, "--backend", a2, NULL };

	faultkit_backend_ok("web1", a1, 64);
	faultkit_backend_ok("web2", a2, 64);
	if (token_file) {
		args[6] = "--admin-token-file";
		args[7] = token_file;
	}
	faultkit_slb_start_ok(s, 0, args);
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", s->admin);
}

/*
 * status (also of one state), drain, weight, add, remove and events, as an operator types them.
 * Operator sees: a header "ID  NAME  ADDRESS  STATE ..." with the rows' columns lined up
 *   under it and no colour codes (not a terminal); each change's new state; an unknown
 *   backend as "404: unknown backend" with exit 1; a bad weight refused with exit 2.
 */
Test(slb_ctl, commands_print_aligned_tables_and_errors)
{
	static char out[OUT_MAX];
	char a1[64], a2[64], a3[64];
	struct faultkit_slb s;
	const char *row;

	start(&s, a1, a2, NULL);
	cr_assert_eq(CTL(out, "status"), 0, "%s", out);
	cr_assert(strncmp(out, "ID  NAME  ADDRESS", 17) == 0, "%s", out);
	row = strstr(out, "\n1 ");
	cr_assert_not_null(row, "%s", out);
	cr_assert_eq(strstr(row + 1, a1) - (row + 1), strstr(out, "ADDRESS") - out, "columns not aligned:\n%s", out);
	cr_assert_null(strchr(out, '\033'), "colour codes on a pipe");
	cr_assert_eq(CTL(out, "drain", a1), 0, "%s", out);
	cr_assert_not_null(strstr(out, "draining"), "%s", out);
	cr_assert_eq(CTL(out, "status", "--state", "draining", "--service", "default"), 0, "%s", out);
	cr_assert(strstr(out, a1) && !strstr(out, a2), "only the draining one:\n%s", out);
	cr_assert_eq(CTL(out, "status", "--state", "sleepy"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "400: expected no query, or any of"), "%s", out);
	cr_assert_eq(CTL(out, "status", "--state"), 2, "%s", out);
	cr_assert_eq(CTL(out, "weight", "2", "0"), 0, "%s", out);
	cr_assert_eq(CTL(out, "weight", "2", "300"), 2, "%s", out);
	cr_assert_eq(CTL(out, "disable", "99"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "404: unknown backend"), "%s", out);
	faultkit_backend_ok("web3", a3, sizeof(a3));
	cr_assert_eq(CTL(out, "add", a3, "--weight", "2", "--name", "web3"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "web3"), "%s", out);
	cr_assert_eq(CTL(out, "remove", "3"), 0, "%s", out);
	cr_assert_eq(CTL(out, "events"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "admin drain from 127.0.0.1"), "%s", out);
	cr_assert_eq(CTL(out, "frobnicate"), 2, "%s", out);
	faultkit_slb_stop_ok(&s, IO_MS);
}

/*
 * The README's own example: slb-ctl drain web1, for a backend named on the command line.
 * Operator sees: the backend's row draining; an unknown name "404: unknown backend", exit 1.
 */
Test(slb_ctl, drain_by_name)
{
	static char out[OUT_MAX];
	char a1[64], n1[80];
	struct faultkit_slb s;

	faultkit_backend_ok("b1", a1, sizeof(a1));
	snprintf(n1, sizeof(n1), "%s,name=web1", a1);
	faultkit_slb_start_ok(&s, 0, (const char *const[]){ "--workers", "1", "--backend", n1, NULL });
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", s.admin);
	cr_assert_eq(CTL(out, "drain", "web1"), 0, "%s", out);
	cr_assert(strstr(out, "web1") && strstr(out, a1) && strstr(out, "draining"), "%s", out);
	cr_assert_eq(CTL(out, "enable", "web1"), 0, "%s", out);
	cr_assert_not_null(strstr(out, " up "), "%s", out);
	cr_assert_eq(CTL(out, "drain", "web2"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "404: unknown backend"), "%s", out);
	faultkit_slb_stop_ok(&s, IO_MS);
}

/*
 * slb with --admin-token-file: slb-ctl without --token-file is refused with slb's message,
 * with it the change is done.
 */
Test(slb_ctl, token_file_authorizes_changes)
{
	static char out[OUT_MAX];
	char a1[64], a2[64], path[64];
	struct faultkit_slb s;
	int fd;

	snprintf(path, sizeof(path), "/tmp/slb-ctl-token-%d", getpid());
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "ctl-token-0123456789abcdef0123456789\n", 37), 37);
	close(fd);
	start(&s, a1, a2, path);
	cr_assert_eq(CTL(out, "drain", "1"), 1, "%s", out);
	cr_assert_not_null(strstr(out, "401"), "%s", out);
	cr_assert_eq(CTL(out, "--token-file", path, "drain", "1"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "draining"), "%s", out);
	faultkit_slb_stop_ok(&s, IO_MS);
	unlink(path);
}

/* events --follow prints a change within 2 s of it happening, then keeps waiting. */
Test(slb_ctl, events_follow_prints_changes_as_they_happen)
{
	static char out[OUT_MAX];
	char a1[64], a2[64];
	struct faultkit_slb s;
	struct testproc *follow;

	start(&s, a1, a2, NULL);
	follow = testproc_spawn((const char *const[]){ "slb-ctl", "--admin", admin, "events", "--follow", NULL });
	cr_assert_not_null(follow);
	/* the stream replays the start-up events first: once one is printed, it is connected */
	cr_assert_eq(testproc_wait_output(follow, "static backend", IO_MS), 0, "slb-ctl events --follow printed nothing");
	cr_assert_eq(CTL(out, "disable", "2"), 0, "%s", out);
	cr_assert_eq(testproc_wait_output(follow, "admin disable from 127.0.0.1", 2000), 0);
	cr_assert(testproc_running(follow));
	testproc_stop(follow, IO_MS);
	faultkit_slb_stop_ok(&s, IO_MS);
}

/* The cell of the column headed head (on the first line) in the row that starts with "id ",
 * or "" when there is no such row or it ends before that column. */
static void column_cell(const char *out, const char *head, const char *id, char *cell, size_t len)
{
	char start[16];
	const char *at = strstr(out, head), *row;
	size_t n = 0;

	snprintf(start, sizeof(start), "\n%s ", id);
	row = strstr(out, start);
	cell[0] = '\0';
	if (!at || !row)
		return;
	for (row++; n < (size_t)(at - out); n++)
		if (row[n] == '\n' || !row[n])
			return;
	row += n;
	for (n = 0; row[n] && row[n] != ' ' && row[n] != '\n' && n + 1 < len; n++)
		cell[n] = row[n];
	cell[n] = '\0';
}

/*
 * WEIGHT shows the weight in use, which /status sends as a decimal (effective_weight 1.00).
 * Operator sees: 1 and 3 for the static backends at their configured weights, and a fraction
 * below 1 for a backend of weight 5 that has just registered and ramps up over --slow-start.
 */
Test(slb_ctl, status_shows_whole_and_ramping_weights)
{
	static char out[OUT_MAX];
	char a1[64], a2[64], a3[64], reg[96], reply[128], cell[32];
	const char *args[] = { "--workers", "1", "--backend", a1, "--backend", a2,
			       "--heartbeat-listen", "127.0.0.1:{port2}", "--heartbeat-timeout", "60000",
			       "--slow-start", "600000", NULL };
	struct faultkit_slb s;
	int fd;

	faultkit_backend_ok("web1", a1, sizeof(a1));
	faultkit_backend_ok("web2", a2, sizeof(a2) - 9);
	strcat(a2, ",weight=3");
	faultkit_backend_ok("web3", a3, sizeof(a3));
	faultkit_slb_start_ok(&s, 0, args);
	snprintf(admin, sizeof(admin), "127.0.0.1:%u", s.admin);
	fd = testproc_connect(s.port2, IO_MS);
	cr_assert_geq(fd, 0, "heartbeat connect: %s", strerror(-fd));
	cr_assert_gt(testproc_read_line(fd, reply, sizeof(reply), IO_MS), 0); /* HELLO slb/1 nonce=... */
	snprintf(reg, sizeof(reg), "REGISTER %s name=web3 weight=5\n", a3);
	cr_assert_eq(testproc_write_all(fd, reg, strlen(reg), IO_MS), 0);
	cr_assert_gt(testproc_read_line(fd, reply, sizeof(reply), IO_MS), 0);
	cr_assert_eq(strncmp(reply, "OK registered", 13), 0, "%s", reply);
	cr_assert_eq(CTL(out, "status"), 0, "%s", out);
	column_cell(out, "WEIGHT", "1", cell, sizeof(cell));
	cr_assert_str_eq(cell, "1", "%s", out);
	column_cell(out, "WEIGHT", "2", cell, sizeof(cell));
	cr_assert_str_eq(cell, "3", "%s", out);
	column_cell(out, "WEIGHT", "3", cell, sizeof(cell));
	cr_assert(strncmp(cell, "0.", 2) == 0 && atof(cell) > 0 && atof(cell) < 1,
		  "a weight-5 backend ramping from a tenth shows '%s':\n%s", cell, out);
	close(fd);
	faultkit_slb_stop_ok(&s, IO_MS);
}
