/* The config file (-c FILE): its keys are the flags, each error names the file, the line and
 * the key, duplicates are refused where a flag does not repeat, and the command line overrides
 * the file. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slb/common/config.h"

static char path[64];

static void cleanup(void)
{
	if (path[0])
		unlink(path);
}

TestSuite(config_file, .fini = cleanup);

/* Writes text to a fresh file whose path is in path. */
static const char *write_conf(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/slb-test-conf-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void expect_error(const struct config_errors *errs, unsigned i, const char *want)
{
	cr_assert_lt(i, errs->n, "error %u missing (want '%s')", i, want);
	cr_assert(strstr(errs->msg[i], want), "error %u '%s' lacks '%s'", i, errs->msg[i], want);
}

Test(config_file, good_file_sets_every_kind_of_key)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	const char *p = write_conf("\xef\xbb\xbf# a comment\n"
				   "; another\n"
				   "\n"
				   "listen = 127.0.0.1:8001\n"
				   "  listen=[::1]:8002\r\n"
				   "backend = 127.0.0.1:9001 ; the first\n"
				   "backend = 127.0.0.1:9002,weight=3,name=web2\n"
				   "workers = 3\n"
				   "pin = no\n"
				   "admin = 0.0.0.0:9100\n"
				   "admin-public = yes\n"
				   "check = http:/health\n"
				   "check-interval = 500\n"
				   "check-timeout = 400\n"
				   "heartbeat-listen = 127.0.0.1:7000\n"
				   "heartbeat-allow = 10.0.0.0/8\n"
				   "heartbeat-allow = ::1/128\n"
				   "user = nobody\n");

	cr_assert_eq(config_load(p, &cfg, &errs), 0, "%s", errs.msg[0]);
	cr_assert_eq(errs.n, 0);
	cr_assert_str_eq(cfg.config_file, p);
	cr_assert_eq(cfg.n_listen, 2, "the file's listens replace the default");
	cr_assert_eq(addr_port(&cfg.listen[1]), 8002);
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(cfg.backends[1].weight, 3);
	cr_assert_str_eq(cfg.backends[1].name, "web2");
	cr_assert_eq(cfg.workers, 3);
	cr_assert_not(cfg.pin);
	cr_assert(cfg.has_admin && cfg.admin_public);
	cr_assert_eq(cfg.services[0].check, CHECK_HTTP);
	cr_assert_str_eq(cfg.services[0].check_path, "/health");
	cr_assert_eq(cfg.services[0].check_timeout_ms, 400);
	cr_assert_eq(cfg.n_heartbeat_allow, 2);
	cr_assert_str_eq(cfg.user, "nobody");
	cr_assert_eq(cfg.drain_timeout_ms, 10000, "a key not in the file keeps its default");
	cr_assert_eq(config_validate_all(&cfg, &errs), 0, "%s", errs.msg[0]);
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct bad_line {
	char line[256];
	char why[96];
};

ParameterizedTestParameters(config_file, bad_line_names_file_line_and_key)
{
	static struct bad_line params[] = {
		{ "wrokers = 2", "'wrokers': unknown key" },
		{ "workers = two", "workers = 'two': expected a whole number from 0 to 256" },
		{ "workers = 2 # two", "workers = '2 # two': expected a whole number" },
		{ "workers =", "workers = '': expected a whole number" },
		{ "backend = 10.0.0.1", "backend = '10.0.0.1': missing :PORT" },
		{ "backend = 10.0.0.1:80,wieght=2", "backend = '10.0.0.1:80,wieght=2': unknown backend option" },
		{ "listen = 1.2.3.4:99999", "listen = '1.2.3.4:99999': bad port" },
		{ "backend = 10.0.0.1:80,name=-x", "backend = '10.0.0.1:80,name=-x': bad name '-x': a name starts with" },
		{ "relay = zerocopy", "relay = 'zerocopy': expected splice, copy or auto" },
		{ "pin = maybe", "pin = 'maybe': expected yes or no" },
		{ "just words", "'just words': a '=' is missing (expected 'key = value')" },
		{ "backend 127.0.0.1:8080", "'backend 127.0.0.1:8080': a '=' is missing (expected 'key = value')" },
		{ "  workers 2 \r", "'workers 2': a '=' is missing" },
		{ "[main]", "'[main]': the only section is '[service NAME]'" },
		{ "help = yes", "help: only on the command line" },
		{ "config = other.conf", "config: only on the command line" },
		{ "check-config = yes", "check-config: only on the command line" },
		{ "= 3", "'': unknown key" },
		{ "backend = 10.0.0.1:80\nbackend = 10.0.0.1:80", "backend given twice" },
		{ "user = 0123456789012345678901234567890123456789012345678901234567890123456789",
		  "user = '0123456789012345678901234567890123456789012345678901234567890123': empty or too long" },
		{ "check = http:/01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
		  "line longer than 199 characters" },
	};
	return cr_make_param_array(struct bad_line, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct bad_line *p, config_file, bad_line_names_file_line_and_key)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	char text[512], where[96];
	unsigned line = strchr(p->line, '\n') ? 4 : 3;

	snprintf(text, sizeof(text), "# two lines\nbackend = 127.0.0.1:1\n%s\nworkers_ok_after = no\n", p->line);
	/* the last line is bad too, so every case also shows that parsing goes on after an error */
	write_conf(text);
	cr_assert_eq(config_load(path, &cfg, &errs), -EINVAL, "accepted '%s'", p->line);
	snprintf(where, sizeof(where), "%s:%u: ", path, line);
	cr_assert_eq(strncmp(errs.msg[0], where, strlen(where)), 0, "'%s' does not start with '%s'", errs.msg[0],
		     where);
	expect_error(&errs, 0, p->why);
	cr_assert_eq(errs.n, 2, "%u errors, the first '%s'", errs.n, errs.msg[0]);
	expect_error(&errs, 1, "'workers_ok_after': unknown key");
	for (unsigned i = 0; i < errs.n; i++)
		cr_assert_null(strchr(errs.msg[i], '\n'), "error %u is more than one line", i);
}

Test(config_file, single_valued_key_twice_is_an_error_repeatable_keys_repeat)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	write_conf("workers = 2\nbackend = 127.0.0.1:1\nbackend = 127.0.0.1:2\nworkers = 2\npin = yes\nno-pin = yes\n"
		   "listen = 127.0.0.1:3\nlisten = 127.0.0.1:4\nheartbeat-allow = 10.0.0.0/8\n"
		   "heartbeat-allow = 10.1.0.0/16\n");
	cr_assert_eq(config_load(path, &cfg, &errs), -EINVAL);
	cr_assert_eq(errs.n, 2, "%u errors, the first '%s'", errs.n, errs.msg[0]);
	expect_error(&errs, 0, ":4: workers: given twice (first on line 1; only listen, backend, heartbeat-allow");
	expect_error(&errs, 1, ":6: no-pin: contradicts pin on line 5");
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(cfg.n_listen, 2);
	cr_assert_eq(cfg.n_heartbeat_allow, 2);
}

static int parse_with_file(struct slb_config *cfg, struct config_errors *errs, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = "slb";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return config_parse_args(cfg, argc, argv, errs);
}

Test(config_file, command_line_overrides_the_file)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	write_conf("workers = 2\nlisten = 127.0.0.1:8001\nbackend = 127.0.0.1:9001\nbackend = 127.0.0.1:9002\n"
		   "relay = copy\npin = no\n");
	cr_assert_eq(parse_with_file(&cfg, &errs,
				     (const char *const[]){ "--workers", "3", "-c", path, "--backend", "127.0.0.1:9003",
							    "--pin", NULL }),
		     CONFIG_OK, "%s", errs.msg[0]);
	cr_assert_eq(cfg.workers, 3, "a flag replaces a single-valued key, wherever it stands");
	cr_assert(cfg.pin);
	cr_assert_eq(cfg.n_backends, 1, "a repeatable flag replaces the file's whole list");
	cr_assert_eq(addr_port(&cfg.backends[0].addr), 9003);
	cr_assert_eq(cfg.n_listen, 1, "a key the command line does not give stays as the file says");
	cr_assert_eq(addr_port(&cfg.listen[0]), 8001);
	cr_assert_eq(cfg.relay, RELAY_COPY);
	cr_assert_str_eq(cfg.config_file, path);
	cr_assert_not(cfg.check_only);
}

Test(config_file, command_line_still_refuses_its_own_duplicates)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	write_conf("workers = 2\n");
	cr_assert_eq(parse_with_file(&cfg, &errs,
				     (const char *const[]){ "--config", path, "--workers", "3", "--workers", "4", "-c",
							    path, NULL }),
		     -EINVAL);
	cr_assert_eq(errs.n, 2, "%s", errs.msg[0]);
	expect_error(&errs, 0, "--workers given twice");
	expect_error(&errs, 1, "--config given twice");
}

Test(config_file, file_and_command_line_errors_are_all_reported)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	write_conf("workers = x\nbalance = random\n");
	cr_assert_eq(parse_with_file(&cfg, &errs,
				     (const char *const[]){ "-c", path, "--bogus", "--retries", "99", "--check-config",
							    NULL }),
		     -EINVAL);
	cr_assert_eq(errs.n, 4, "%u errors", errs.n);
	expect_error(&errs, 0, ":1: workers = 'x'");
	expect_error(&errs, 1, ":2: balance = 'random'");
	expect_error(&errs, 2, "unknown flag '--bogus'");
	expect_error(&errs, 3, "--retries '99'");
	cr_assert(cfg.check_only);
}

Test(config_file, missing_file_is_one_error_naming_it)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	cr_assert_eq(parse_with_file(&cfg, &errs, (const char *const[]){ "-c", "/nonexistent/slb.conf", NULL }),
		     -EINVAL);
	cr_assert_eq(errs.n, 1);
	expect_error(&errs, 0, "/nonexistent/slb.conf: cannot open the config file: No such file or directory");
	cr_assert_eq(config_load("/tmp", &cfg, &errs), -EINVAL, "a directory is not a config file");
	expect_error(&errs, 1, "/tmp: not a regular file");
	cr_assert_eq(config_load("/dev/zero", &cfg, &errs), -EINVAL, "an endless line must not be read");
	expect_error(&errs, 2, "/dev/zero: not a regular file");
}

Test(config_file, load_twice_gives_the_same_config)
{
	static struct slb_config a, b;
	static struct config_errors errs;

	write_conf("listen = 127.0.0.1:8001\nbackend = 127.0.0.1:9001,weight=4\nworkers = 5\n");
	cr_assert_eq(config_load(path, &a, &errs), 0);
	cr_assert_eq(config_load(path, &b, &errs), 0, "a reload into a fresh struct must not see the first load");
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
}

Test(config_file, example_file_is_valid)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	cr_assert_eq(config_load(SLB_SOURCE_DIR "/etc/slb.conf", &cfg, &errs), 0, "%s", errs.msg[0]);
	cr_assert_eq(config_validate_all(&cfg, &errs), 0, "%s", errs.msg[0]);
	cr_assert_eq(cfg.n_listen, 2);
	cr_assert_eq(cfg.n_backends, 3);
	cr_assert_str_eq(cfg.backends[2].name, "web3");
}

/* Issue 21: the example's commented services, uncommented, are two more valid services. */
Test(config_file, example_services_are_valid_uncommented)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	static char text[16384];
	FILE *f = fopen(SLB_SOURCE_DIR "/etc/slb.conf", "r");
	char line[512];
	bool in_example = false;
	size_t n = 0;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		in_example |= strncmp(line, "#[service ", 10) == 0;
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", in_example && line[0] == '#' ? line + 1 : line);
	}
	fclose(f);
	cr_assert(in_example, "etc/slb.conf has no commented [service NAME] example");
	write_conf(text);
	cr_assert_eq(config_load(path, &cfg, &errs), 0, "%s", errs.msg[0]);
	cr_assert_eq(config_validate_all(&cfg, &errs), 0, "%s", errs.msg[0]);
	cr_assert_eq(cfg.n_services, 5);
	cr_assert_eq(cfg.services[config_service_find(&cfg, "api")].balance, BALANCE_LEASTCONN);
	cr_assert_eq(cfg.n_backends, 8);
	cr_assert(cfg.services[config_service_find(&cfg, "tls-www")].sni_fallback);
}

/* Issue 20: a comment line over 199 characters was refused as too long; nothing of a comment
 * is read, so it may be of any length. */
Test(config_file, long_comment_lines_are_comments)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	char text[2048], *p = text;
	static const char *const starts[] = { "#", ";", "   #" };

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		p += sprintf(p, "%s", starts[i]);
		memset(p, 'x', 500);
		p += 500;
		*p++ = '\n';
	}
	sprintf(p, "workers = 3\n");
	write_conf(text);
	cr_assert_eq(config_load(path, &cfg, &errs), 0, "%s", errs.msg[0]);
	cr_assert_eq(cfg.workers, 3);
}
