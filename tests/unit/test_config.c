/* Flags and addresses: good inputs parse to what an operator meant, bad ones give one clear
 * line and never a silent default. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "slb/config.h"

static int parse_args(struct slb_config *cfg, char *err, size_t errlen, const char *const *args)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = "slb";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return config_parse(cfg, argc, argv, err, errlen);
}

#define PARSE(cfg, err, ...) parse_args(cfg, err, sizeof(err), (const char *const[]){ __VA_ARGS__, NULL })

Test(addr, parses_ipv4_and_formats_back)
{
	struct slb_addr a;
	char buf[ADDR_TEXT_MAX];

	cr_assert_eq(addr_parse("127.0.0.1:8080", &a, NULL, 0), 0);
	cr_assert_eq(a.ss.ss_family, AF_INET);
	cr_assert_eq(addr_port(&a), 8080);
	cr_assert_str_eq(addr_format(&a, buf, sizeof(buf)), "127.0.0.1:8080");
}

Test(addr, parses_bracketed_ipv6)
{
	struct slb_addr a;
	char buf[ADDR_TEXT_MAX];

	cr_assert_eq(addr_parse("[::1]:443", &a, NULL, 0), 0);
	cr_assert_eq(a.ss.ss_family, AF_INET6);
	cr_assert_str_eq(addr_format(&a, buf, sizeof(buf)), "[::1]:443");
}

Test(addr, localhost_and_star)
{
	struct slb_addr a, b;

	cr_assert_eq(addr_parse("localhost:80", &a, NULL, 0), 0);
	cr_assert_eq(addr_parse("127.0.0.1:80", &b, NULL, 0), 0);
	cr_assert(addr_equal(&a, &b));
	cr_assert_eq(addr_parse("*:80", &a, NULL, 0), 0);
	cr_assert_eq(((struct sockaddr_in *)&a.ss)->sin_addr.s_addr, htonl(INADDR_ANY));
}

struct bad_addr {
	char text[48];
	char why[48];
};

ParameterizedTestParameters(addr, rejects_bad)
{
	static struct bad_addr params[] = {
		{ "", "empty" },
		{ "127.0.0.1", "missing :PORT" },
		{ "127.0.0.1:", "bad port" },
		{ "127.0.0.1:0", "bad port" },
		{ "127.0.0.1:65536", "bad port" },
		{ "127.0.0.1:80x", "bad port" },
		{ "127.0.0.1:-1", "bad port" },
		{ "::1:80", "IPv6 address must be written" },
		{ "[::1:80", "IPv6 address must be written" },
		{ "[::g]:80", "bad IPv6" },
		{ "256.1.1.1:80", "bad IPv4" },
		{ "example.com:80", "bad IPv4" },
		{ ":80", "bad host" },
	};
	return cr_make_param_array(struct bad_addr, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct bad_addr *p, addr, rejects_bad)
{
	struct slb_addr a;
	char err[160] = "";

	cr_assert_eq(addr_parse(p->text, &a, err, sizeof(err)), -EINVAL, "accepted '%s'", p->text);
	cr_assert(strstr(err, p->why), "'%s': error '%s' lacks '%s'", p->text, err, p->why);
}

Test(config, defaults_are_documented_values)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:9001"), CONFIG_OK);
	cr_assert_eq(addr_port(&cfg.listen), 8080);
	cr_assert(cfg.pin);
	cr_assert_eq(cfg.relay, RELAY_AUTO);
	cr_assert_eq(cfg.balance, BALANCE_ROUNDROBIN);
	cr_assert_eq(cfg.connect_timeout_ms, 1000);
	cr_assert_eq(cfg.retries, 2);
	cr_assert_eq(cfg.n_backends, 1);
	cr_assert_eq(cfg.backends[0].weight, 1);
	cr_assert_eq(cfg.check, CHECK_NONE);
	cr_assert_not(cfg.has_admin);
}

Test(config, every_flag_sets_its_field)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--listen", "[::1]:9000", "--backend", "127.0.0.1:1,weight=5", "--backend",
			   "[::1]:2", "--workers", "3", "--no-pin", "--relay", "splice", "--balance", "leastconn",
			   "--connect-timeout", "250", "--idle-timeout", "0", "--retries", "4", "--max-conns", "100",
			   "--drain-timeout", "50", "--log-level", "debug", "--heartbeat-listen", "127.0.0.1:7000",
			   "--heartbeat-interval", "100", "--heartbeat-timeout", "300", "--check", "http:/health",
			   "--check-interval", "20", "--rise", "1", "--fall", "2", "--admin", "127.0.0.1:7001"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.listen.ss.ss_family, AF_INET6);
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(cfg.backends[0].weight, 5);
	cr_assert_eq(cfg.workers, 3);
	cr_assert_not(cfg.pin);
	cr_assert_eq(cfg.relay, RELAY_SPLICE);
	cr_assert_eq(cfg.balance, BALANCE_LEASTCONN);
	cr_assert_eq(cfg.connect_timeout_ms, 250);
	cr_assert_eq(cfg.idle_timeout_ms, 0);
	cr_assert_eq(cfg.retries, 4);
	cr_assert_eq(cfg.max_conns, 100);
	cr_assert_eq(cfg.drain_timeout_ms, 50);
	cr_assert_eq(cfg.log_level, 3);
	cr_assert(cfg.has_heartbeat_listen);
	cr_assert_eq(cfg.heartbeat_timeout_ms, 300);
	cr_assert_eq(cfg.check, CHECK_HTTP);
	cr_assert_str_eq(cfg.check_path, "/health");
	cr_assert_eq(cfg.rise, 1);
	cr_assert_eq(cfg.fall, 2);
	cr_assert(cfg.has_admin);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct bad_flags {
	char args[2][48];
	char why[64];
};

ParameterizedTestParameters(config, rejects_bad_flags)
{
	static struct bad_flags params[] = {
		{ { "--bogus" }, "unknown flag" },
		{ { "--workers" }, "needs an argument" },
		{ { "--workers", "-1" }, "whole number" },
		{ { "--workers", "two" }, "whole number" },
		{ { "--workers", "100000" }, "whole number" },
		{ { "--retries", "99" }, "whole number" },
		{ { "--connect-timeout", "0" }, "whole number" },
		{ { "--relay", "zerocopy" }, "expected splice, copy or auto" },
		{ { "--balance", "random" }, "expected roundrobin or leastconn" },
		{ { "--log-level", "loud" }, "expected error" },
		{ { "--backend", "127.0.0.1:1,weight=0" }, "weight must be" },
		{ { "--backend", "127.0.0.1:1,weight=300" }, "weight must be" },
		{ { "--backend", "127.0.0.1:1,wieght=3" }, "unknown backend option" },
		{ { "--backend", "nohost" }, "missing :PORT" },
		{ { "--check", "icmp" }, "expected tcp" },
		{ { "--check", "http:/a b" }, "printable" },
		{ { "--listen", "1.2.3.4:99999" }, "bad port" },
		{ { "stray" }, "unexpected argument" },
	};
	return cr_make_param_array(struct bad_flags, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct bad_flags *p, config, rejects_bad_flags)
{
	struct slb_config cfg;
	char err[256] = "";
	const char *args[3] = { p->args[0], p->args[1][0] ? p->args[1] : NULL, NULL };

	cr_assert_eq(parse_args(&cfg, err, sizeof(err), args), -EINVAL, "accepted %s", p->args[0]);
	cr_assert(strstr(err, p->why), "error '%s' lacks '%s'", err, p->why);
	cr_assert_null(strchr(err, '\n'), "error is one line");
}

Test(config, validate_needs_a_backend_or_heartbeat_port)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--listen", "127.0.0.1:8000"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no backends"));
	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0);
}

Test(config, validate_rejects_timeout_not_above_interval)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000", "--heartbeat-interval", "500",
			   "--heartbeat-timeout", "500"),
		     CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--heartbeat-timeout"));
}

Test(config, duplicate_backend_is_an_error)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--backend", "127.0.0.1:1"), -EINVAL);
	cr_assert(strstr(err, "twice"));
}

Test(config, help_and_version)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--help"), CONFIG_HELP);
	cr_assert_eq(PARSE(&cfg, err, "--version"), CONFIG_VERSION);
}

Test(config, usage_lists_every_flag_with_default)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static const char *const flags[] = { "--listen", "--backend", "--workers", "--pin", "--no-pin", "--relay",
					     "--balance", "--connect-timeout", "--idle-timeout", "--retries",
					     "--max-conns", "--drain-timeout", "--log-level", "--heartbeat-listen",
					     "--check", "--admin" };

	config_print_usage(f, "slb");
	fclose(f);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		cr_assert(strstr(text, flags[i]), "usage lacks %s", flags[i]);
	cr_assert(strstr(text, "[default: 1000]"));
	free(text);
}
