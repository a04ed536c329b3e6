/* slb -c FILE with real processes on loopback: --check-config prints "configuration OK" or
 * every error and exits 0 or 2 without starting anything, a running slb takes its settings
 * from the file with the command line overriding it, and the systemd unit's reload commands
 * check the file beside the running slb and only then signal it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "echo_server.h"
#include "testproc.h"

#define IO_MS 10000

static char conf[64], key[64], sock[64];
static struct echo_server echo;

static void suite_fini(void)
{
	testproc_stop_all();
	echo_server_stop(&echo);
	if (conf[0])
		unlink(conf);
	if (key[0])
		unlink(key);
	if (sock[0])
		unlink(sock);
}

TestSuite(config_file, .fini = suite_fini, .timeout = 60);

static void write_file(char *path, size_t len, const char *text, mode_t mode)
{
	int fd;

	snprintf(path, len, "/tmp/slb-itest-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

static unsigned free_port_ok(void)
{
	int p = testproc_free_port();

	cr_assert_gt(p, 0);
	return (unsigned)p;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(config_file, check_config_good_file_says_ok_and_starts_nothing)
{
	unsigned lport = free_port_ok(), aport = free_port_ok();
	char text[512], out[4096];
	int code;

	snprintf(text, sizeof(text),
		 "# a good file\nlisten = 127.0.0.1:%u\nbackend = 127.0.0.1:7000\nadmin = 127.0.0.1:%u\nworkers = 1\n"
		 "pin = no\n",
		 lport, aport);
	write_file(conf, sizeof(conf), text, 0644);
	code = testproc_run((const char *const[]){ "slb", "--check-config", "-c", conf, NULL }, IO_MS, out,
			    sizeof(out));
	cr_assert_eq(code, 0, "exit %d: %s", code, out);
	cr_assert_str_eq(out, "configuration OK\n");
	cr_assert_lt(testproc_connect(lport, 500), 0, "something listens on the checked port");
	cr_assert_lt(testproc_connect(aport, 500), 0, "something listens on the checked admin port");
}

Test(config_file, check_config_prints_every_error_and_exits_2)
{
	char out[8192];
	int code;

	write_file(conf, sizeof(conf),
		   "listen = 127.0.0.1:1:2\n"
		   "backend = 127.0.0.1:7000\n"
		   "workers = many\n"
		   "# fine\n"
		   "wrokers = 2\n"
		   "backend = 127.0.0.1:7000\n"
		   "check-interval = 500\n",
		   0644);
	code = testproc_run((const char *const[]){ "slb", "--check-config", "--config", conf, "--retries", "9",
						    NULL },
			    IO_MS, out, sizeof(out));
	cr_assert_eq(code, 2, "exit %d: %s", code, out);
	cr_assert_eq(count_lines(out), 5, "not one line per error:\n%s", out);
	cr_assert(strstr(out, ":1: listen = '127.0.0.1:1:2'"), "%s", out);
	cr_assert(strstr(out, ":3: workers = 'many': expected a whole number"), "%s", out);
	cr_assert(strstr(out, ":5: 'wrokers': unknown key"), "%s", out);
	cr_assert(strstr(out, ":6: backend = '127.0.0.1:7000': backend given twice"), "%s", out);
	cr_assert(strstr(out, "slb: --retries '9': expected a whole number from 0 to 7"), "%s", out);
	cr_assert_null(strstr(out, "configuration OK"), "%s", out);
}

Test(config_file, check_config_checks_ports_and_key_file)
{
	unsigned port, hb = free_port_ok();
	int busy = testproc_listen(&port);
	char text[512], out[8192];
	int code;

	cr_assert_geq(busy, 0);
	write_file(key, sizeof(key), "0123456789abcdef0123456789abcdef0123\n", 0644);
	snprintf(text, sizeof(text),
		 "listen = 127.0.0.1:%u\nheartbeat-listen = 127.0.0.1:%u\nheartbeat-key-file = %s\n", port, hb, key);
	write_file(conf, sizeof(conf), text, 0644);
	code = testproc_run((const char *const[]){ "slb", "--check-config", "-c", conf, NULL }, IO_MS, out,
			    sizeof(out));
	close(busy);
	cr_assert_eq(code, 2, "exit %d: %s", code, out);
	cr_assert_eq(count_lines(out), 2, "not one line per error:\n%s", out);
	cr_assert(strstr(out, "cannot listen on 127.0.0.1:"), "%s", out);
	cr_assert(strstr(out, "in use"), "%s", out);
	cr_assert(strstr(out, "chmod 600"), "%s", out);
}

Test(config_file, slb_runs_from_the_file_and_flags_override_it)
{
	unsigned file_port = free_port_ok(), flag_port = free_port_ok();
	char text[512], listen[32], out[4096];
	struct testproc *slb;
	int fd;

	cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	snprintf(text, sizeof(text), "listen = 127.0.0.1:%u\nbackend = 127.0.0.1:%u\nworkers = 2\nrelay = copy\n",
		 file_port, echo.port);
	write_file(conf, sizeof(conf), text, 0644);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", flag_port);
	slb = testproc_spawn((const char *const[]){ "slb", "-c", conf, "--listen", listen, "--workers", "1", NULL });
	cr_assert_not_null(slb);
	if (testproc_wait_output(slb, "listening on", IO_MS) != 0) {
		testproc_output(slb, out, sizeof(out));
		cr_assert_fail("slb did not come up:\n%s", out);
	}
	testproc_output(slb, out, sizeof(out));
	cr_assert(strstr(out, "1 workers"), "--workers 1 did not override the file:\n%s", out);
	cr_assert(strstr(out, "relay copy"), "the file's relay was lost:\n%s", out);
	fd = testproc_connect(flag_port, IO_MS);
	cr_assert_geq(fd, 0, "the command line's --listen does not serve");
	cr_assert_eq(testproc_write_all(fd, "ping", 4, IO_MS), 0);
	cr_assert_eq(testproc_read_full(fd, text, 4, IO_MS), 4);
	cr_assert_eq(memcmp(text, "ping", 4), 0);
	close(fd);
	cr_assert_lt(testproc_connect(file_port, 500), 0, "the file's listen was kept, not replaced");
	cr_assert_eq(testproc_stop(slb, IO_MS), 0, "slb exit code %d", testproc_exit_code(slb));
}

#define UNIT_LINES_MAX 4
#define UNIT_LINE_MAX 512

/* Replaces every `from` in line (UNIT_LINE_MAX bytes) by `to`. */
static void replace_all(char *line, const char *from, const char *to)
{
	char out[UNIT_LINE_MAX], *hit, *p = line;
	size_t len = 0;

	while ((hit = strstr(p, from))) {
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%.*s%s", (int)(hit - p), p, to);
		p = hit + strlen(from);
	}
	snprintf(out + len, sizeof(out) - len, "%s", p);
	cr_assert_lt(strlen(out), sizeof(out) - 1, "unit line too long: %s", out);
	strcpy(line, out);
}

/* The lines of etc/slb.service.in that start with setting ("ExecReload="), without it, as the
 * installed unit has them but for this build's slb, the test's config file and control
 * socket, and pid for $MAINPID. Returns how many. */
static unsigned unit_commands(const char *setting, pid_t pid, char lines[][UNIT_LINE_MAX])
{
	FILE *f = fopen(SLB_SOURCE_DIR "/etc/slb.service.in", "r");
	char line[UNIT_LINE_MAX], bin[256], mainpid[16];
	unsigned n = 0;

	cr_assert_not_null(f, "cannot read etc/slb.service.in");
	snprintf(mainpid, sizeof(mainpid), "%d", (int)pid);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, setting, strlen(setting)) != 0)
			continue;
		cr_assert_lt(n, UNIT_LINES_MAX);
		line[strcspn(line, "\n")] = '\0';
		snprintf(lines[n], UNIT_LINE_MAX, "%s", line + strlen(setting));
		replace_all(lines[n], "@CMAKE_INSTALL_FULL_SBINDIR@/slb", testproc_bin("slb", bin, sizeof(bin)));
		replace_all(lines[n], "@CMAKE_INSTALL_FULL_SYSCONFDIR@/slb/slb.conf", conf);
		replace_all(lines[n], "/run/slb/control.sock", sock);
		replace_all(lines[n], "$MAINPID", mainpid);
		cr_assert_null(strchr(lines[n], '@'), "a path the test does not know: %s", lines[n]);
		n++;
	}
	fclose(f);
	return n;
}

/* Runs one unit command line (words split at spaces; the unit quotes nothing). Returns its
 * exit code; out gets its output. */
static int run_command(char *line, char *out, size_t len)
{
	const char *argv[TESTPROC_ARGS_MAX];
	char *save = NULL;
	int n = 0;

	for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		cr_assert_lt(n, TESTPROC_ARGS_MAX - 1);
		argv[n++] = w;
	}
	argv[n] = NULL;
	return testproc_run(argv, IO_MS, out, len);
}

/* As systemd runs ExecReload: each line in turn, stopping at the first that fails. Returns
 * the last exit code; out gets the last line's output. */
static int run_reload(pid_t pid, char *out, size_t len)
{
	char lines[UNIT_LINES_MAX][UNIT_LINE_MAX];
	unsigned n = unit_commands("ExecReload=", pid, lines);
	int code = -1;

	cr_assert_geq(n, 2, "the unit has no check before its signal");
	for (unsigned i = 0; i < n; i++) {
		code = run_command(lines[i], out, len);
		if (code != 0)
			break;
	}
	return code;
}

static unsigned count_in(const struct testproc *p, const char *needle)
{
	static char out[65536];
	unsigned n = 0;

	testproc_output(p, out, sizeof(out));
	for (const char *at = strstr(out, needle); at; at = strstr(at + 1, needle))
		n++;
	return n;
}

static void write_service_conf(const unsigned *ports, const char *more)
{
	char text[512];
	FILE *f;

	snprintf(text, sizeof(text),
		 "listen = 127.0.0.1:%u\nbackend = 127.0.0.1:%u\nadmin = 127.0.0.1:%u\n"
		 "heartbeat-listen = 127.0.0.1:%u\nworkers = 1\n%s",
		 ports[0], echo.port, ports[1], ports[2], more);
	if (!conf[0]) {
		write_file(conf, sizeof(conf), text, 0644);
		return;
	}
	/* in place: the running slb re-reads the path it was started with */
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	cr_assert_geq(fputs(text, f), 0);
	cr_assert_eq(fclose(f), 0);
}

/* slb as the unit's ExecStart runs it (with its config file and control socket), then the
 * words of more (a line of its own, or NULL); waits until it serves. */
static struct testproc *start_from_unit(const unsigned *ports, const char *more)
{
	static char start[UNIT_LINES_MAX][UNIT_LINE_MAX], extra[UNIT_LINE_MAX];
	const char *argv[TESTPROC_ARGS_MAX];
	struct testproc *slb;
	char *save = NULL, out[8192];
	int n = 0;

	if (!echo.port)
		cr_assert_eq(echo_server_start(&echo, ECHO_MODE_ECHO, 0), 0);
	if (!sock[0]) {
		snprintf(sock, sizeof(sock), "/tmp/slb-itest-%d.sock", (int)getpid());
		write_service_conf(ports, "");
	}
	cr_assert_eq(unit_commands("ExecStart=", 0, start), 1);
	snprintf(extra, sizeof(extra), "%s", more ? more : "");
	for (char *w = strtok_r(start[0], " ", &save); w; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	for (char *w = strtok_r(extra, " ", &save); w; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	slb = testproc_spawn(argv);
	cr_assert_not_null(slb);
	if (testproc_wait_output(slb, "listening on", IO_MS) != 0) {
		testproc_output(slb, out, sizeof(out));
		cr_assert_fail("slb did not come up:\n%s", out);
	}
	return slb;
}

/*
 * Issue 20: `systemctl reload slb` always failed: its check bound every port, which the running
 * slb holds ("Address already in use", exit 2), so the SIGHUP was never sent. The unit's own
 * ExecStart and ExecReload lines, beside the running slb:
 * Operator sees: a changed file passes the check and is applied ("reload: connect-timeout
 *   2000 -> 500"); a broken one fails the check with its error, and slb is not signalled.
 */
Test(config_file, systemd_reload_checks_beside_the_running_slb_then_signals)
{
	unsigned ports[3] = { free_port_ok(), free_port_ok(), free_port_ok() };
	char out[8192];
	struct testproc *slb = start_from_unit(ports, NULL);
	int code;

	write_service_conf(ports, "connect-timeout = 500\n");
	code = run_reload(slb->pid, out, sizeof(out));
	cr_assert_eq(code, 0, "reload failed beside the running slb (exit %d):\n%s", code, out);
	cr_assert_eq(testproc_wait_output(slb, "reload: connect-timeout 2000 -> 500", IO_MS), 0,
		     "the SIGHUP did not reload");
	cr_assert_eq(testproc_wait_output(slb, "reload: done", IO_MS), 0);

	write_service_conf(ports, "connect-timeout = 500\nretries = many\n");
	code = run_reload(slb->pid, out, sizeof(out));
	cr_assert_eq(code, 2, "a broken file passed the check (exit %d):\n%s", code, out);
	cr_assert(strstr(out, "retries = 'many': expected a whole number"), "%s", out);
	cr_assert_eq(count_in(slb, "SIGHUP"), 1, "slb was signalled for a broken file");
	cr_assert(testproc_running(slb), "slb stopped");
	cr_assert_eq(testproc_stop(slb, IO_MS), 0, "slb exit code %d", testproc_exit_code(slb));
}

/*
 * A binary upgrade beside the unit's slb, as docs/operating.md runs it: the same ExecStart line
 * plus --takeover. Issue 20: the new process's log line read "no heartbeat and the admin
 * listener".
 * Operator sees: "takeover: received 1 listening sockets, the heartbeat listener, the admin
 *   listener, 0 heartbeat leases and 0 backends' runtime state from pid OLD"; the old slb drains
 *   and exits 0.
 */
Test(config_file, upgrade_of_the_units_slb_names_what_it_received)
{
	unsigned ports[3] = { free_port_ok(), free_port_ok(), free_port_ok() };
	struct testproc *old = start_from_unit(ports, NULL), *new;
	char takeover[128], want[192], out[8192];

	snprintf(takeover, sizeof(takeover), "--takeover %s", sock);
	new = start_from_unit(ports, takeover);
	snprintf(want, sizeof(want), "takeover: received 1 listening sockets, the heartbeat listener, the admin listener, "
		 "0 heartbeat leases and 0 backends' runtime state from pid %d", (int)old->pid);
	testproc_output(new, out, sizeof(out));
	cr_assert(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_assert_eq(testproc_wait(old, IO_MS), 0, "the old slb did not drain");
	cr_assert_eq(testproc_exit_code(old), 0);
	cr_assert_eq(testproc_stop(new, IO_MS), 0, "slb exit code %d", testproc_exit_code(new));
}
