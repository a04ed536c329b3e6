/* slb -c FILE with real processes on loopback: --check-config prints "configuration OK" or
 * every error and exits 0 or 2 without starting anything, and a running slb takes its
 * settings from the file with the command line overriding it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "echo_server.h"
#include "testproc.h"

#define IO_MS 10000

static char conf[64], key[64];
static struct echo_server echo;

static void suite_fini(void)
{
	testproc_stop_all();
	echo_server_stop(&echo);
	if (conf[0])
		unlink(conf);
	if (key[0])
		unlink(key);
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
