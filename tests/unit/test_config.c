/* Flags and addresses: good inputs parse to what an operator meant, bad ones give one clear
 * line and never a silent default. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/config.h"

static int parse_args(struct slb_config *cfg, char *err, size_t errlen, const char *const *args)
{
	char *argv[160];
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
	cr_assert_eq(cfg.n_listen, 1);
	cr_assert_eq(addr_port(&cfg.listen[0]), 8080);
	cr_assert(cfg.pin);
	cr_assert_eq(cfg.relay, RELAY_AUTO);
	cr_assert_eq(cfg.services[0].balance, BALANCE_ROUNDROBIN);
	cr_assert_eq(cfg.services[0].connect_timeout_ms, 2000);
	cr_assert_eq(cfg.services[0].retries, 2);
	cr_assert_eq(cfg.n_backends, 1);
	cr_assert_eq(cfg.backends[0].weight, 1);
	cr_assert_eq(cfg.services[0].check, CHECK_NONE);
	cr_assert_not(cfg.has_admin);
	cr_assert_eq(cfg.services[0].hash_key, HASH_KEY_SRC);
	cr_assert_eq(cfg.services[0].hash_seed, 0);
	cr_assert_eq(cfg.services[0].slow_start_ms, 0);
	cr_assert_eq(cfg.services[0].send_proxy, PROXY_NONE);
	cr_assert_not(cfg.accept_proxy);
	cr_assert_eq(cfg.proxy_timeout_ms, 3000);
	cr_assert_str_eq(cfg.access_log, "");
	cr_assert_eq(cfg.access_log_format, ACCESS_LOG_TEXT);
}

Test(config, picker_flags_set_their_fields)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--balance", "maglev", "--hash-key", "src-port",
			   "--hash-seed", "4294967295", "--slow-start", "5000"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.services[0].balance, BALANCE_MAGLEV);
	cr_assert_eq(cfg.services[0].hash_key, HASH_KEY_SRC_PORT);
	cr_assert_eq(cfg.services[0].hash_seed, 4294967295u);
	cr_assert_eq(cfg.services[0].slow_start_ms, 5000);
	cr_assert_str_eq(balance_algo_name(cfg.services[0].balance), "maglev");
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--balance", "p2c"), CONFIG_OK, "%s", err);
	cr_assert_str_eq(balance_algo_name(cfg.services[0].balance), "p2c");
}

Test(config, hash_key_follows_the_seed)
{
	struct service_config a = { .hash_seed = 1 }, b = { .hash_seed = 1 }, c = { .hash_seed = 2 };
	unsigned char ka[CONFIG_HASH_KEY_BYTES], kb[CONFIG_HASH_KEY_BYTES], kc[CONFIG_HASH_KEY_BYTES];

	config_hash_key(&a, ka);
	config_hash_key(&b, kb);
	config_hash_key(&c, kc);
	cr_assert_arr_eq(ka, kb, sizeof(ka));
	cr_assert_arr_neq(ka, kc, sizeof(ka));
}

Test(config, proxy_and_access_log_flags)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1,weight=5,send-proxy=v2", "--backend",
			   "127.0.0.1:2,send-proxy=v1,weight=3", "--backend", "127.0.0.1:3", "--send-proxy", "v1",
			   "--accept-proxy", "--proxy-timeout", "250", "--access-log", "-", "--access-log-format",
			   "json"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.backends[0].weight, 5);
	cr_assert_eq(cfg.backends[0].send_proxy, PROXY_V2);
	cr_assert_eq(cfg.backends[1].weight, 3);
	cr_assert_eq(cfg.backends[1].send_proxy, PROXY_V1);
	cr_assert_eq(cfg.backends[2].send_proxy, PROXY_NONE);
	cr_assert_eq(cfg.services[0].send_proxy, PROXY_V1);
	cr_assert(cfg.accept_proxy);
	cr_assert_eq(cfg.proxy_timeout_ms, 250);
	cr_assert_str_eq(cfg.access_log, "-");
	cr_assert_eq(cfg.access_log_format, ACCESS_LOG_JSON);
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
			   "--check-interval", "20", "--check-timeout", "10", "--rise", "1", "--fall", "2", "--admin", "127.0.0.1:7001"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.n_listen, 1);
	cr_assert_eq(cfg.listen[0].ss.ss_family, AF_INET6);
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(cfg.backends[0].weight, 5);
	cr_assert_eq(cfg.workers, 3);
	cr_assert_not(cfg.pin);
	cr_assert_eq(cfg.relay, RELAY_SPLICE);
	cr_assert_eq(cfg.services[0].balance, BALANCE_LEASTCONN);
	cr_assert_eq(cfg.services[0].connect_timeout_ms, 250);
	cr_assert_eq(cfg.services[0].idle_timeout_ms, 0);
	cr_assert_eq(cfg.services[0].retries, 4);
	cr_assert_eq(cfg.max_conns, 100);
	cr_assert_eq(cfg.drain_timeout_ms, 50);
	cr_assert_eq(cfg.log_level, 3);
	cr_assert(cfg.has_heartbeat_listen);
	cr_assert_eq(cfg.heartbeat_timeout_ms, 300);
	cr_assert_eq(cfg.services[0].check, CHECK_HTTP);
	cr_assert_str_eq(cfg.services[0].check_path, "/health");
	cr_assert_eq(cfg.services[0].rise, 1);
	cr_assert_eq(cfg.services[0].fall, 2);
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
		{ { "--balance", "random" }, "expected roundrobin, leastconn, p2c or maglev" },
		{ { "--hash-key", "dst" }, "expected src or src-port" },
		{ { "--retry-unanswered", "always" }, "expected off, http or any" },
		{ { "--no-backend", "503" }, "expected close, reset or http-503" },
		{ { "--hash-seed", "4294967296" }, "whole number" },
		{ { "--slow-start", "-5" }, "whole number" },
		{ { "--log-level", "loud" }, "expected error" },
		{ { "--backend", "127.0.0.1:1,weight=0" }, "weight must be" },
		{ { "--backend", "127.0.0.1:1,weight=300" }, "weight must be" },
		{ { "--backend", "127.0.0.1:1,wieght=3" }, "unknown backend option" },
		{ { "--backend", "127.0.0.1:1,backup=yes" }, "unknown backend option" },
		{ { "--backend", "127.0.0.1:1,backup,backup" }, "given twice" },
		{ { "--backend", "127.0.0.1:1,weight=2," }, "unknown backend option" },
		{ { "--backend", "127.0.0.1:1,weight=99999999999999999" }, "weight must be" },
		{ { "--backend", "127.0.0.1:1,send-proxy=v3" }, "send-proxy must be v1 or v2" },
		{ { "--backend", "127.0.0.1:1,send-proxy=" }, "send-proxy must be v1 or v2" },
		{ { "--backend", "127.0.0.1:1,send-proxy=v1xxxxxxxxxxxxxxxxxx" }, "send-proxy must be" },
		{ { "--send-proxy", "v3" }, "expected v1, v2 or off" },
		{ { "--proxy-timeout", "0" }, "whole number" },
		{ { "--access-log-format", "xml" }, "expected text or json" },
		{ { "--access-log=" }, "empty" },
		{ { "--backend", "nohost" }, "missing :PORT" },
		{ { "--backend", "0.0.0.0:80" }, "address is unspecified, not a single host" },
		{ { "--backend", "*:80" }, "address is unspecified, not a single host" },
		{ { "--backend", "[::]:80" }, "address is unspecified, not a single host" },
		{ { "--backend", "224.0.0.1:80" }, "address is multicast, not a single host" },
		{ { "--backend", "[ff02::1]:80,weight=2" }, "address is multicast, not a single host" },
		{ { "--backend", "255.255.255.255:80" }, "address is broadcast, not a single host" },
		{ { "--backend", "127.0.0.1:1,heartbeat=yes" }, "heartbeat must be allow or deny" },
		{ { "--backend", "127.0.0.1:1,heartbeat=" }, "heartbeat must be allow or deny" },
		{ { "--backend", "127.0.0.1:1,weight=2,weight=3" }, "given twice" },
		{ { "--backend", "127.0.0.1:1,heartbeat=allow,heartbeat=deny" }, "given twice" },
		{ { "--backend", "127.0.0.1:1," }, "unknown backend option" },
		{ { "--backend", "127.0.0.1:1,weight=2,x" }, "unknown backend option" },
		{ { "--check", "icmp" }, "expected tcp" },
		{ { "--check", "http:/a b" }, "printable" },
		{ { "--listen", "1.2.3.4:99999" }, "bad port" },
		{ { "stray" }, "unexpected argument" },
		{ { "--heartbeat-allow", "10.0.0.1/8" }, "host bits set" },
		{ { "--heartbeat-allow", "10.0.0.0/33" }, "bad prefix (0-32)" },
		{ { "--heartbeat-allow", "::/129" }, "bad prefix (0-128)" },
		{ { "--heartbeat-allow", "10.0.0.0/" }, "bad prefix" },
		{ { "--heartbeat-allow", "10.0.0.0/-8" }, "bad prefix" },
		{ { "--heartbeat-allow", "host.example/8" }, "bad IPv4 address" },
		{ { "--heartbeat-allow", "fe80::g/64" }, "bad IPv6 address" },
		{ { "--client-deny", "10.0.0.1/8" }, "host bits set" },
		{ { "--client-allow", "::/129" }, "bad prefix (0-128)" },
		{ { "--client-allow", "nonsense" }, "bad IPv4 address" },
		{ { "--client-ipv6-prefix", "0" }, "whole number from 1 to 128" },
		{ { "--client-ipv6-prefix", "129" }, "whole number from 1 to 128" },
		{ { "--client-max-conns", "-1" }, "whole number" },
		{ { "--client-max-rate", "1000001" }, "whole number" },
		{ { "--outlier-factor", "1" }, "expected a number from 1.1 to 100" },
		{ { "--outlier-factor", "3.141" }, "at most two decimals" },
		{ { "--outlier-factor", "3." }, "at most two decimals" },
		{ { "--outlier-factor", ".5" }, "at most two decimals" },
		{ { "--outlier-factor", "3.-1" }, "at most two decimals" },
		{ { "--outlier-max-ejected-percent", "101" }, "whole number" },
		{ { "--outlier-base-ejection", "999" }, "whole number" },
		{ { "--heartbeat-phi", "0.5" }, "expected a number from 1.0 to 100" },
		{ { "--heartbeat-max-backends", "0" }, "whole number" },
		{ { "--heartbeat-max-backends", "70000" }, "whole number" },
		{ { "--heartbeat-key-file=" }, "empty" },
		{ { "--user=" }, "empty" },
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

/* A backend's name=, accepted ("" in why) or refused with that reason. */
struct backend_name_case {
	char text[100];
	char name[64];
	char why[64];
};

ParameterizedTestParameters(config, backend_names)
{
	static struct backend_name_case params[] = {
		{ "127.0.0.1:1,name=web1", "web1", "" },
		{ "127.0.0.1:1,weight=2,name=a.b_c-d,send-proxy=v1", "a.b_c-d", "" },
		{ "127.0.0.1:1,name=9lives", "9lives", "" },
		{ "127.0.0.1:1,name=x", "x", "" },
		{ "127.0.0.1:1,name=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk",
		  "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", "" },
		{ "127.0.0.1:1,name=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", "",
		  "1 to 63 characters" },
		{ "127.0.0.1:1,name=", "", "1 to 63 characters" },
		{ "127.0.0.1:1,name=web 1", "", "only letters, digits" },
		{ "127.0.0.1:1,name=web/1", "", "only letters, digits" },
		{ "127.0.0.1:1,name=web:1", "", "only letters, digits" },
		{ "127.0.0.1:1,name=w\"b", "", "only letters, digits" },
		{ "127.0.0.1:1,name=w\xc3\xa9" "b", "", "only letters, digits" },
		{ "127.0.0.1:1,name=-web", "", "starts with a letter or a digit" },
		{ "127.0.0.1:1,name=.", "", "starts with a letter or a digit" },
		{ "127.0.0.1:1,name=..", "", "starts with a letter or a digit" },
		{ "127.0.0.1:1,name=42", "", "digits alone" },
		{ "127.0.0.1:1,name=a,name=b", "", "given twice" },
		{ "127.0.0.1:1,nam=a", "", "unknown backend option" },
	};
	return cr_make_param_array(struct backend_name_case, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct backend_name_case *p, config, backend_names)
{
	struct slb_config cfg;
	char err[256] = "";
	const char *args[3] = { "--backend", p->text, NULL };
	int rc = parse_args(&cfg, err, sizeof(err), args);

	if (!p->why[0]) {
		cr_assert_eq(rc, CONFIG_OK, "%s: %s", p->text, err);
		cr_assert_str_eq(cfg.backends[0].name, p->name);
		return;
	}
	cr_assert_eq(rc, -EINVAL, "accepted %s", p->text);
	cr_assert(strstr(err, p->why), "error '%s' lacks '%s'", err, p->why);
}

Test(config, a_name_is_unique_among_the_backends)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1,name=web1", "--backend", "127.0.0.1:2,name=web2",
			   "--backend", "127.0.0.1:3", "--backend", "127.0.0.1:4"),
		     CONFIG_OK, "%s", err);
	cr_assert_str_eq(cfg.backends[2].name, "");
	cr_assert_eq(config_backend_named(cfg.backends, cfg.n_backends, "web2"), &cfg.backends[1]);
	cr_assert_null(config_backend_named(cfg.backends, cfg.n_backends, ""));
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1,name=web1", "--backend", "127.0.0.1:2,name=web1"),
		     -EINVAL);
	cr_assert(strstr(err, "name given to another backend"), "%s", err);
}

struct one_dash {
	char args[2][32];
	char why[96];
};

ParameterizedTestParameters(config, long_flag_with_one_dash_is_one_error)
{
	static struct one_dash params[] = {
		{ { "-listen", "127.0.0.1:1" }, "unknown flag '-listen': long flags start with two dashes (--listen)" },
		{ { "-listen=127.0.0.1:1" }, "unknown flag '-listen=127.0.0.1:1': long flags start with two dashes" },
		{ { "-admin-public" }, "unknown flag '-admin-public': long flags start with two dashes" },
		{ { "-check-config" }, "unknown flag '-check-config': long flags start with two dashes" },
		{ { "-config", "slb.conf" }, "unknown flag '-config': long flags start with two dashes (--config)" },
		{ { "-xyz" }, "unknown flag '-xyz' (see --help)" },
		{ { "-x" }, "unknown flag '-x' (see --help)" },
	};
	return cr_make_param_array(struct one_dash, params, sizeof(params) / sizeof(params[0]));
}

/* Issue 20: "-listen" was read as the short flags -l -i -s -t -e -n, one error each. The flags
 * after it are still read, none taken as its value. */
ParameterizedTest(struct one_dash *p, config, long_flag_with_one_dash_is_one_error)
{
	char *argv[8] = { "slb", p->args[0] };
	int argc = 2;
	static struct slb_config cfg;
	static struct config_errors errs;

	if (p->args[1][0])
		argv[argc++] = p->args[1];
	argv[argc++] = "--workers";
	argv[argc++] = "3";
	cr_assert_eq(config_parse_args(&cfg, argc, argv, &errs), -EINVAL);
	cr_assert_eq(errs.n, 1, "%u errors, the first '%s', the second '%s'", errs.n, errs.msg[0], errs.msg[1]);
	cr_assert(strstr(errs.msg[0], p->why), "'%s' lacks '%s'", errs.msg[0], p->why);
	cr_assert_eq(cfg.workers, 3, "the flag after it was not read");
}

/* --no-bind is the reload's check (etc/slb.service.in): it means nothing to a running slb. */
Test(config, no_bind_needs_check_config)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--check-config", "--no-bind"), CONFIG_OK);
	cr_assert(cfg.check_only && cfg.check_no_bind);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--no-bind"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--no-bind needs --check-config"), "%s", err);
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

Test(config, backend_options_in_any_order)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1,heartbeat=allow,weight=4", "--backend",
			   "127.0.0.1:2,weight=2", "--backend", "127.0.0.1:3,heartbeat=deny"),
		     CONFIG_OK, "%s", err);
	cr_assert(cfg.backends[0].heartbeat_allow);
	cr_assert_eq(cfg.backends[0].weight, 4);
	cr_assert_not(cfg.backends[1].heartbeat_allow, "off by default");
	cr_assert_eq(cfg.backends[1].weight, 2);
	cr_assert_not(cfg.backends[2].heartbeat_allow);
	cr_assert_eq(cfg.backends[2].weight, 1);
}

/* A backend that is one of slb's own addresses; "" in why: a valid configuration. */
struct own_flags {
	char args[4][32];
	char why[64];
};

ParameterizedTestParameters(config, validate_refuses_slb_own_addresses)
{
	static struct own_flags params[] = {
		{ { "--listen", "127.0.0.1:18500", "--backend", "127.0.0.1:18500" },
		  "--backend 127.0.0.1:18500: address is slb's own listener" },
		{ { "--listen", "*:18500", "--backend", "127.0.0.2:18500" }, "address is slb's own listener" },
		{ { "--listen", "0.0.0.0:18500", "--backend", "[::ffff:127.0.0.1]:18500" },
		  "address is slb's own listener" },
		{ { "--listen", "[::]:18500", "--backend", "127.0.0.1:18500" }, "address is slb's own listener" },
		{ { "--admin", "127.0.0.1:7001", "--backend", "127.0.0.1:7001" }, "address is slb's own admin endpoint" },
		{ { "--heartbeat-listen", "127.0.0.1:7000", "--backend", "127.0.0.1:7000" },
		  "address is slb's own heartbeat port" },
		{ { "--listen", "*:18500", "--backend", "192.0.2.1:18500" }, "" },
		{ { "--listen", "127.0.0.1:18500", "--backend", "127.0.0.2:18500" }, "" },
		{ { "--listen", "0.0.0.0:18500", "--backend", "[::1]:18500" }, "" },
	};
	return cr_make_param_array(struct own_flags, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct own_flags *p, config, validate_refuses_slb_own_addresses)
{
	struct slb_config cfg;
	char err[256] = "";

	cr_assert_eq(PARSE(&cfg, err, p->args[0], p->args[1], p->args[2], p->args[3]), CONFIG_OK, "%s", err);
	if (!p->why[0]) {
		cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
		return;
	}
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "accepted %s %s", p->args[1], p->args[3]);
	cr_assert(strstr(err, p->why), "error '%s' lacks '%s'", err, p->why);
	cr_assert_null(strchr(err, '\n'), "error is one line");
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

Test(config, listen_repeats_and_replaces_the_default)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--listen", "127.0.0.1:8001", "--backend", "127.0.0.1:1", "--listen",
			   "[::1]:8002"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.n_listen, 2, "the default *:8080 is replaced, not kept");
	cr_assert_eq(addr_port(&cfg.listen[0]), 8001);
	cr_assert_eq(cfg.listen[1].ss.ss_family, AF_INET6);
	cr_assert_eq(addr_port(&cfg.listen[1]), 8002);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config, listen_at_most_1024)
{
	static char addrs[CONFIG_MAX_LISTEN + 1][32];
	static char *argv[2 * (CONFIG_MAX_LISTEN + 1) + 2];
	static struct slb_config cfg;
	char err[256];
	int n = 0;

	argv[n++] = "slb";
	for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", 9000 + i);
		argv[n++] = "--listen";
		argv[n++] = addrs[i];
	}
	cr_assert_eq(config_parse(&cfg, n - 2, argv, err, sizeof(err)), CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.n_listen, CONFIG_MAX_LISTEN);
	cr_assert_eq(config_parse(&cfg, n, argv, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--listen '127.0.0.1:10024': too many addresses (at most 1024 over all services)"), "%s",
		  err);
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct twice {
	char args[4][32];
	char why[80];
};

ParameterizedTestParameters(config, single_valued_flag_twice_is_an_error)
{
	static struct twice params[] = {
		{ { "--workers", "2", "--workers", "3" }, "--workers given twice" },
		{ { "--workers", "2", "--workers", "2" }, "--workers given twice" },
		{ { "--admin", "127.0.0.1:1", "--admin", "127.0.0.1:2" }, "--admin given twice" },
		{ { "--balance", "leastconn", "--balance", "roundrobin" }, "--balance given twice" },
		{ { "--log-level", "info", "--log-level", "debug" }, "--log-level given twice" },
		{ { "--check", "tcp", "--check", "none" }, "--check given twice" },
		{ { "--user", "a", "--user", "b" }, "--user given twice" },
		{ { "--heartbeat-listen", "127.0.0.1:1", "--heartbeat-listen", "127.0.0.1:2" },
		  "--heartbeat-listen given twice" },
		{ { "--pin", "--pin" }, "--pin given twice" },
		{ { "--pin", "--no-pin" }, "--no-pin contradicts --pin given before" },
		{ { "--no-pin", "--pin" }, "--pin contradicts --no-pin given before" },
		{ { "--admin-public", "--admin-public" }, "--admin-public given twice" },
		{ { "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:1" }, "--listen '127.0.0.1:1': address given twice" },
		{ { "--listen", "127.0.0.1:1", "--listen", "localhost:1" }, "address given twice" },
		{ { "--backend", "127.0.0.1:1", "--backend", "127.0.0.1:1,weight=2" }, "backend given twice" },
	};
	return cr_make_param_array(struct twice, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct twice *p, config, single_valued_flag_twice_is_an_error)
{
	struct slb_config cfg;
	char err[256] = "";
	const char *args[5] = { NULL };

	for (int i = 0, n = 0; i < 4; i++)
		if (p->args[i][0])
			args[n++] = p->args[i];
	cr_assert_eq(parse_args(&cfg, err, sizeof(err), args), -EINVAL, "accepted %s twice", p->args[0]);
	cr_assert(strstr(err, p->why), "error '%s' lacks '%s'", err, p->why);
}

Test(config, repeatable_flags_repeat)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", "--backend", "127.0.0.1:3",
			   "--backend", "127.0.0.1:4", "--heartbeat-allow", "10.0.0.0/8", "--heartbeat-allow",
			   "10.0.0.0/16"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.n_listen, 2);
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(cfg.n_heartbeat_allow, 2);
}

Test(config, client_rules_repeat_up_to_32)
{
	static struct slb_config cfg;
	const char *args[2 * 34 + 3] = { "--backend", "127.0.0.1:1" };
	static char nets[33][24];
	char err[256] = "";
	unsigned n = 2;

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--client-allow", "10.0.0.0/8", "--client-allow",
			   "::1", "--client-deny", "10.1.0.0/16", "--client-max-conns", "10"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.services[0].n_client_allow, 2);
	cr_assert_eq(cfg.services[0].n_client_deny, 1);
	cr_assert_eq(cfg.services[0].client_allow[1].prefix, 128);
	cr_assert_eq(cfg.services[0].client_ipv6_prefix, 64, "the default");
	cr_assert(service_limits_clients(&cfg.services[0]));
	for (unsigned i = 0; i < 33; i++) {
		snprintf(nets[i], sizeof(nets[i]), "10.0.%u.0/24", i);
		args[n++] = "--client-deny";
		args[n++] = nets[i];
	}
	cr_assert_eq(parse_args(&cfg, err, sizeof(err), args), -EINVAL);
	cr_assert(strstr(err, "too many networks (at most 32 per service)"), "%s", err);
}

Test(config, validate_check_timeout_must_be_below_interval)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--check-interval", "500", "--check-timeout", "500"),
		     CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--check-timeout (500 ms) must be shorter than --check-interval (500 ms)"), "%s", err);
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--check-timeout", "3000"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "3000 ms against the default 2000 ms");
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--check-interval", "500", "--check-timeout", "499"),
		     CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

struct hb_flag {
	char args[2][32];
};

ParameterizedTestParameters(config, validate_heartbeat_flags_need_heartbeat_listen)
{
	static struct hb_flag params[] = {
		{ { "--heartbeat-interval", "100" } },     { { "--heartbeat-timeout", "5000" } },
		{ { "--heartbeat-key-file", "/k" } },      { { "--heartbeat-allow", "10.0.0.0/8" } },
		{ { "--heartbeat-max-backends", "3" } },   { { "--heartbeat-interval", "1000" } }, /* the default */
		{ { "--heartbeat-phi", "8" } },
	};
	return cr_make_param_array(struct hb_flag, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct hb_flag *p, config, validate_heartbeat_flags_need_heartbeat_listen)
{
	struct slb_config cfg;
	char err[256], want[80];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", p->args[0], p->args[1]), CONFIG_OK, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "%s accepted", p->args[0]);
	snprintf(want, sizeof(want), "%s needs --heartbeat-listen", p->args[0]);
	cr_assert(strstr(err, want), "error '%s' lacks '%s'", err, want);
	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000", p->args[0], p->args[1]), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

struct decimal_case {
	char arg[16];
	unsigned want;
};

ParameterizedTestParameters(config, decimals_are_hundredths)
{
	static struct decimal_case params[] = { { "3", 300 }, { "2.5", 250 }, { "8.25", 825 }, { "1.1", 110 },
						{ "100", 10000 }, { "3.05", 305 } };

	return cr_make_param_array(struct decimal_case, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct decimal_case *p, config, decimals_are_hundredths)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--outlier-detection", "--outlier-factor", p->arg),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.outlier_factor_pct, p->want);
}

Test(config, outlier_flags_need_outlier_detection_and_have_defaults)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1"), CONFIG_OK, "%s", err);
	cr_assert_not(cfg.outlier_detection);
	cr_assert_eq(cfg.outlier_factor_pct, 300);
	cr_assert_eq(cfg.outlier_min_requests, 20);
	cr_assert_eq(cfg.outlier_max_ejected_pct, 50);
	cr_assert_eq(cfg.outlier_base_ejection_ms, 30000);
	cr_assert_eq(cfg.heartbeat_phi_x100, 0);
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--outlier-min-requests", "5"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--outlier-min-requests needs --outlier-detection"), "%s", err);
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--outlier-detection", "--outlier-min-requests",
			   "5"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config, validate_every_listen_differs_from_heartbeat_and_admin)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", "--heartbeat-listen",
			   "127.0.0.1:2"),
		     CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--heartbeat-listen must differ from every --listen"), "%s", err);
	cr_assert_eq(PARSE(&cfg, err, "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", "--backend", "127.0.0.1:3",
			   "--admin", "127.0.0.1:2"),
		     CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--admin must differ"), "%s", err);
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
					     "--check", "--admin", "--hash-key", "--hash-seed", "--slow-start", "--ready-grace" };

	config_print_usage(f, "slb");
	fclose(f);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		cr_assert(strstr(text, flags[i]), "usage lacks %s", flags[i]);
	cr_assert(strstr(text, "[default: 1000]"));
	cr_assert(strstr(text, "(0: from ulimit -n)"), "--max-conns 0 is not explained");
	free(text);
}

static char *usage_text(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	config_print_usage(f, "slb");
	fclose(f);
	return text;
}

/* The usage with every run of blanks and newlines folded into one space, as a reader joins
 * wrapped lines and the columns. */
static void unwrap(char *text)
{
	char *w = text;

	for (const char *r = text; *r; r++) {
		bool blank = *r == ' ' || *r == '\n';

		if (!blank || w == text || w[-1] != ' ')
			*w++ = blank ? ' ' : *r;
	}
	*w = '\0';
}

/* Issue 20: --backend's argument was cut at 63 characters ("...send-proxy=v1 a static backend"). */
Test(config, usage_wraps_long_lines_and_cuts_nothing)
{
	char *text = usage_text(), *line, *save = NULL;
	static const char *const whole[] = {
		"  --backend ADDR:PORT[,OPTION...]  ",
		"a static backend (ADDR may be a host name, resolved every --resolve-interval); repeat for more. "
		"Options: weight=N (1-256, default 1); heartbeat=allow (a heartbeat "
		"session may attach to it); send-proxy=v1|v2 (this backend gets a PROXY header); name=NAME (1-63 of "
		"A-Z a-z 0-9 . _ -, unique; the admin API and slb-ctl take it for the address); backup (takes traffic "
		"only while no other backend of its service is up) [default: none]",
		"--outlier-max-ejected-percent P never eject more than P% of the backends as outliers, whatever the "
		"figures say [default: 50]",
		"--slow-start MS a backend that comes up takes a share ramping from ~10% of its weight to all of it over "
		"MS; maglev ignores the ramp (it would move clients between backends) [default: 0 (off)]",
	};

	cr_assert(strstr(text, whole[0]), "--backend's argument is cut or shares its line:\n%s", text);
	unwrap(text);
	for (size_t i = 1; i < sizeof(whole) / sizeof(whole[0]); i++)
		cr_assert(strstr(text, whole[i]), "usage lacks '%s'", whole[i]);
	free(text);
	text = usage_text();
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		cr_assert(strlen(line) <= 80 || !strchr(line + strspn(line, " "), ' '),
			  "line of %zu characters: '%s'", strlen(line), line);
	free(text);
}

/* The flag table's fields as a reload reads them (src/reload.c): inside the struct, a number is
 * an unsigned, a has_ field a bool, and no two flags claim the same bytes. */
Test(config, flag_fields_are_whole_and_apart)
{
	static unsigned char owner[sizeof(struct slb_config)];
	struct config_field f;
	unsigned fields = 0, waits = 0;

	for (unsigned i = 0; i < config_flag_count(); i++) {
		if (!config_flag_field(i, &f)) {
			cr_assert_not_null(f.name);
			continue;
		}
		fields++;
		waits += f.reload != CONFIG_RELOAD_APPLIES;
		cr_assert_gt(f.size, 0, "--%s", f.name);
		cr_assert_leq(f.offset + f.size, sizeof(struct slb_config), "--%s", f.name);
		cr_assert(!f.scale || f.size == sizeof(unsigned), "--%s is a number but not an unsigned", f.name);
		cr_assert(!f.has || f.has + sizeof(bool) <= sizeof(struct slb_config), "--%s", f.name);
		for (size_t b = f.offset; b < f.offset + f.size; b++) {
			cr_assert_eq(owner[b], 0, "--%s overlaps flag %u", f.name, owner[b] - 1u);
			owner[b] = (unsigned char)(i + 1);
		}
	}
	cr_assert_null((config_flag_field(config_flag_count(), &f), f.name));
	cr_assert_eq(fields, config_flag_count() - 3, "all but help, version and no-pin have a field");
	cr_assert_gt(waits, 0);
}

static struct config_field field_of(const char *name)
{
	struct config_field f;

	for (unsigned i = 0; i < config_flag_count(); i++)
		if (config_flag_field(i, &f) && strcmp(f.name, name) == 0)
			return f;
	cr_assert_fail("no field for --%s", name);
	return f;
}

Test(config, reload_column_says_what_waits_for_an_upgrade)
{
	/* issue 21: a reload binds new addresses and closes removed ones (reload.c) */
	cr_assert_eq(field_of("listen").reload, CONFIG_RELOAD_APPLIES);
	cr_assert_eq(field_of("heartbeat-listen").reload, CONFIG_RELOAD_WAITS);
	cr_assert_eq(field_of("listen").count, offsetof(struct slb_config, n_listen));
	cr_assert_eq(field_of("workers").reload, CONFIG_RELOAD_WAITS_DERIVED);
	cr_assert_eq(field_of("admin").has, offsetof(struct slb_config, has_admin));
	cr_assert_eq(field_of("heartbeat-listen").has, offsetof(struct slb_config, has_heartbeat_listen));
	cr_assert_eq(field_of("connect-timeout").reload, CONFIG_RELOAD_APPLIES);
	cr_assert_eq(field_of("connect-timeout").scale, 1);
	cr_assert_eq(field_of("outlier-factor").scale, 100);
	cr_assert_eq(field_of("balance").scale, 0);
}

Test(config, security_flags_set_their_fields)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000", "--heartbeat-key-file", "/etc/slb/hb.key",
			   "--heartbeat-allow", "127.0.0.0/8", "--heartbeat-allow", "::1/128", "--heartbeat-allow",
			   "10.1.2.3", "--heartbeat-max-backends", "3", "--admin", "0.0.0.0:7001", "--admin-public",
			   "--user", "nobody"),
		     CONFIG_OK, "%s", err);
	cr_assert_str_eq(cfg.heartbeat_key_file, "/etc/slb/hb.key");
	cr_assert_eq(cfg.n_heartbeat_allow, 3);
	cr_assert_eq(cfg.heartbeat_allow[0].prefix, 8);
	cr_assert_eq(cfg.heartbeat_allow[1].family, AF_INET6);
	cr_assert_eq(cfg.heartbeat_allow[2].prefix, 32, "a bare address is one host");
	cr_assert_eq(cfg.heartbeat_max_backends, 3);
	cr_assert(cfg.admin_public);
	cr_assert_str_eq(cfg.user, "nobody");
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config, security_defaults)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000"), CONFIG_OK);
	cr_assert_str_eq(cfg.heartbeat_key_file, "");
	cr_assert_eq(cfg.n_heartbeat_allow, 0);
	cr_assert_eq(cfg.heartbeat_max_backends, 256);
	cr_assert_not(cfg.admin_public);
	cr_assert_str_eq(cfg.user, "");
}

Test(config, validate_admin_must_be_loopback_unless_public)
{
	static const char *const local[] = { "127.0.0.1:7001", "127.9.9.9:7001", "[::1]:7001", "localhost:7001" };
	static const char *const remote[] = { "0.0.0.0:7001", "*:7001", "192.0.2.1:7001", "[::]:7001" };
	struct slb_config cfg;
	char err[256];

	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--admin", local[i]), CONFIG_OK);
		cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s: %s", local[i], err);
	}
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--admin", remote[i]), CONFIG_OK);
		cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL, "%s accepted", remote[i]);
		cr_assert(strstr(err, "--admin-public"), "%s", err);
		cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--admin", remote[i], "--admin-public"),
			     CONFIG_OK);
		cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s: %s", remote[i], err);
	}
}

Test(config, validate_heartbeat_security_needs_heartbeat_port)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--heartbeat-key-file", "/k"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--heartbeat-key-file needs --heartbeat-listen"), "%s", err);
	cr_assert_eq(PARSE(&cfg, err, "--backend", "127.0.0.1:1", "--heartbeat-allow", "127.0.0.1"), CONFIG_OK);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
}

static bool in(const char *addr, const char *cidr)
{
	struct slb_addr a;
	struct slb_cidr c;

	cr_assert_eq(addr_parse(addr, &a, NULL, 0), 0, "%s", addr);
	cr_assert_eq(addr_parse_cidr(cidr, &c, NULL, 0), 0, "%s", cidr);
	return addr_in_cidr(&a, &c);
}

Test(addr, cidr_matching)
{
	struct slb_addr mapped;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&mapped.ss;
	struct slb_cidr c;
	char buf[ADDR_TEXT_MAX];

	cr_assert(in("127.0.0.1:1", "127.0.0.0/8"));
	cr_assert(in("127.255.0.9:1", "127.0.0.0/8"));
	cr_assert_not(in("128.0.0.1:1", "127.0.0.0/8"));
	cr_assert(in("127.0.0.1:1", "127.0.0.1"));
	cr_assert_not(in("127.0.0.2:1", "127.0.0.1/32"));
	cr_assert(in("10.20.30.40:1", "10.20.16.0/20"));
	cr_assert_not(in("10.20.48.1:1", "10.20.16.0/20"));
	cr_assert(in("192.0.2.1:1", "0.0.0.0/0"));
	cr_assert_not(in("[::1]:1", "0.0.0.0/0"), "families never mix");
	cr_assert(in("[::1]:1", "::1/128"));
	cr_assert_not(in("[::2]:1", "::1/128"));
	cr_assert(in("[2001:db8::5]:1", "2001:db8::/33"));
	cr_assert_not(in("[2001:db8:8000::5]:1", "2001:db8::/33"));
	cr_assert(in("[fe80::1]:1", "::/0"));
	/* what a dual-stack listener reports for an IPv4 peer */
	memset(&mapped, 0, sizeof(mapped));
	sin6->sin6_family = AF_INET6;
	cr_assert_eq(inet_pton(AF_INET6, "::ffff:127.0.0.2", &sin6->sin6_addr), 1);
	mapped.len = sizeof(*sin6);
	cr_assert_eq(addr_parse_cidr("127.0.0.0/8", &c, NULL, 0), 0);
	cr_assert(addr_in_cidr(&mapped, &c));
	cr_assert(addr_is_loopback(&mapped));
	cr_assert_str_eq(addr_format_cidr(&c, buf, sizeof(buf)), "127.0.0.0/8");
	cr_assert_eq(addr_parse_cidr("::ffff:127.0.0.0/104", &c, NULL, 0), 0);
	cr_assert(addr_in_cidr(&mapped, &c), "a mapped network holds mapped peers");
	cr_assert_eq(addr_parse_cidr("::ffff:127.0.0.2", &c, NULL, 0), 0);
	cr_assert(addr_in_cidr(&mapped, &c), "a mapped host holds itself");
	cr_assert_not(in("127.0.0.2:1", "::ffff:127.0.0.2"), "a plain IPv4 peer is not an IPv6 address");
}

/* ---- the flag lists outside the table: --help, the man page, docs/operating.md ---- */

#define NAMES_MAX 96
#define NAME_LEN 48

struct names {
	unsigned n;
	char name[NAMES_MAX][NAME_LEN];
};

static void names_add(struct names *ns, const char *name, size_t len)
{
	for (unsigned i = 0; i < ns->n; i++)
		if (strlen(ns->name[i]) == len && memcmp(ns->name[i], name, len) == 0)
			return;
	cr_assert_lt(ns->n, NAMES_MAX);
	cr_assert_lt(len, NAME_LEN);
	memcpy(ns->name[ns->n], name, len);
	ns->name[ns->n++][len] = '\0';
}

/* Every "--name" in text[0..len), in order, each once. */
static void names_in(struct names *ns, const char *text, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		size_t n = 0;

		if (text[i] != '-' || text[i + 1] != '-' || (i && text[i - 1] == '-'))
			continue;
		/* digits too: --client-ipv6-prefix */
		while (i + 2 + n < len && (islower((unsigned char)text[i + 2 + n]) ||
					   isdigit((unsigned char)text[i + 2 + n]) || text[i + 2 + n] == '-'))
			n++;
		if (n && islower((unsigned char)text[i + 2]))
			names_add(ns, text + i + 2, n);
	}
}

static void table_names(struct names *ns)
{
	struct config_field f;

	memset(ns, 0, sizeof(*ns));
	for (unsigned i = 0; i < config_flag_count(); i++) {
		config_flag_field(i, &f);
		names_add(ns, f.name, strlen(f.name));
	}
}

static char *read_doc(const char *name)
{
	char path[512], *text = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", SLB_SOURCE_DIR, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot read %s", path);
	cr_assert_gt(getdelim(&text, &len, '\0', f), 0);
	fclose(f);
	return text;
}

/* Each line of text that starts with start (after the line holding from, up to the next line
 * starting with end) gives its names up to the first occurrence of stop on it (the whole line
 * for NULL). */
static void names_of_lines(struct names *ns, const char *text, const char *from, const char *end,
			   const char *start, const char *stop)
{
	const char *p = from ? strstr(text, from) : text;

	cr_assert_not_null(p, "no '%s'", from);
	p += from ? strlen(from) : 0; /* from its line's end on */
	memset(ns, 0, sizeof(*ns));
	for (p = strchr(p, '\n'); p && *++p; p = strchr(p, '\n')) {
		const char *eol = strchrnul(p, '\n'), *cut;

		if (end && strncmp(p, end, strlen(end)) == 0)
			break;
		if (strncmp(p, start, strlen(start)) != 0)
			continue;
		cut = stop ? strstr(p + strlen(start), stop) : NULL;
		names_in(ns, p, (size_t)((cut && cut < eol ? cut : eol) - p));
	}
}

static void expect_same_names(const struct names *want, const struct names *got, const char *where, bool order)
{
	for (unsigned i = 0; i < want->n; i++) {
		bool found = false;

		for (unsigned j = 0; j < got->n && !found; j++)
			found = strcmp(want->name[i], got->name[j]) == 0;
		cr_assert(found, "%s lacks --%s", where, want->name[i]);
		if (order)
			cr_assert_str_eq(got->name[i], want->name[i], "%s: --%s where the table has --%s", where,
					 got->name[i], want->name[i]);
	}
	cr_assert_eq(got->n, want->n, "%s lists %u flags, the table %u (one that slb lacks: --%s)", where, got->n,
		     want->n, got->n > want->n ? got->name[want->n] : "");
}

/* The cell after the n-th unescaped '|' of a table row (a "\\|" is part of a cell). */
static const char *row_cell(const char *row, unsigned n, size_t *len)
{
	const char *p = row;

	for (unsigned i = 0; i < n; i++) {
		p = strchr(p + 1, '|');
		while (p && p[-1] == '\\')
			p = strchr(p + 1, '|');
		cr_assert_not_null(p, "row without %u cells: %.80s", n, row);
	}
	p += strspn(p + 1, " ") + 1;
	*len = strcspn(p, "|");
	while (*len && p[*len - 1] == ' ')
		(*len)--;
	return p;
}

/* What operating.md's "on reload" column says of a flag: "-" on the command line only, else
 * "at once" or "next upgrade" from the table's reload column. */
static const char *reload_word(const char *name)
{
	struct config_field f;

	for (unsigned i = 0; i < config_flag_count(); i++) {
		bool has_field = config_flag_field(i, &f);

		if (strcmp(f.name, name) != 0)
			continue;
		if (f.cli_only)
			return "-";
		if (!has_field)
			return NULL; /* no-pin: pin's field, pin's row */
		return f.reload == CONFIG_RELOAD_APPLIES ? "at once" : "next upgrade";
	}
	cr_assert_fail("no flag --%s", name);
	return NULL;
}

/* Calls check for each flag named in a row of docs/operating.md's flag table, with the row's
 * cell col; returns the rows that named a flag. */
typedef void (*column_check_fn)(const char *name, const char *said, size_t said_len, unsigned *tally);

static unsigned operating_column(unsigned col, column_check_fn check, unsigned *tally)
{
	char *text = read_doc("docs/operating.md"), *p = strstr(text, "\n| flag | default | on reload | per service |");
	unsigned rows = 0;

	cr_assert_not_null(p, "docs/operating.md has no flag table with 'on reload' and 'per service' columns");
	p = strchr(p + 1, '\n'); /* the |---| line */
	for (p = strchr(p + 1, '\n'); p && strncmp(p, "\n| ", 3) == 0; p = strchr(p + 1, '\n')) {
		static struct names ns;
		size_t flags_len, said_len;
		const char *flags = row_cell(p + 1, 0, &flags_len), *said = row_cell(p + 1, col, &said_len);

		memset(&ns, 0, sizeof(ns));
		names_in(&ns, flags, flags_len);
		for (unsigned i = 0; i < ns.n; i++)
			check(ns.name[i], said, said_len, tally);
		rows += ns.n > 0;
	}
	free(text);
	return rows;
}

static void check_reload_cell(const char *name, const char *said, size_t said_len, unsigned *tally)
{
	const char *want = reload_word(name);

	(void)tally;
	cr_assert(!want || (said_len >= strlen(want) && strncmp(said, want, strlen(want)) == 0),
		  "--%s: operating.md says '%.*s' on reload, the table '%s'", name, (int)said_len, said, want);
}

/* Issue 19: reload.c's lists of what a reload keeps became the table's reload column, and
 * docs/operating.md's "on reload" column is its copy. */
Test(config, operating_on_reload_column_is_the_tables)
{
	unsigned rows = operating_column(2, check_reload_cell, NULL);

	cr_assert_gt(rows, 40, "only %u rows read", rows);
}

/* What operating.md's "per service" column says of a flag: "yes" for a key of [service NAME]
 * sections, else "-". */
static const char *per_service_word(const char *name)
{
	struct config_field f;

	for (unsigned i = 0; i < config_flag_count(); i++) {
		config_flag_field(i, &f);
		if (strcmp(f.name, name) == 0)
			return f.per_service ? "yes" : "-";
	}
	cr_assert_fail("no flag --%s", name);
	return NULL;
}

static void check_per_service_cell(const char *name, const char *said, size_t said_len, unsigned *yes)
{
	const char *want = per_service_word(name);

	cr_assert(said_len == strlen(want) && strncmp(said, want, said_len) == 0,
		  "--%s: operating.md says '%.*s' per service, the table '%s'", name, (int)said_len, said, want);
	*yes += strcmp(want, "yes") == 0;
}

/* Issue 21: the table's per_service column is the one list of a service's keys; operating.md's
 * "per service" column is its copy. */
Test(config, operating_per_service_column_is_the_tables)
{
	unsigned yes = 0, rows = operating_column(3, check_per_service_cell, &yes);

	cr_assert_gt(rows, 40, "only %u rows read", rows);
	cr_assert_eq(yes, 25, "%u per-service flags", yes);
}

/* Issue 19: the flags are listed in four places (the table, --help, the man page and
 * docs/operating.md); the three copies list exactly the table's flags, --help and
 * docs/operating.md in its order. */
Test(config, help_man_page_and_operating_list_the_tables_flags)
{
	static struct names table, got;
	char *text = usage_text();

	table_names(&table);
	names_of_lines(&got, text, NULL, "\nIn a config file", "  -", "  ");
	expect_same_names(&table, &got, "--help", true);
	free(text);
	text = read_doc("docs/operating.md");
	names_of_lines(&got, text, "\n## Flags", "#", "| `-", " |");
	expect_same_names(&table, &got, "docs/operating.md's flag table", true);
	free(text);
	text = read_doc("docs/slb.8.scd");
	names_of_lines(&got, text, "\n# OPTIONS", "# ", "*-", NULL);
	expect_same_names(&table, &got, "docs/slb.8.scd's OPTIONS", false);
	free(text);
}

/* --max-backends sizes the id space: derived from what the flags may hold when not given (at
 * least 1023, a host name counting 32), taken as given when it holds that, refused below it. */
Test(config, max_backends_is_derived_or_must_hold_the_flags)
{
	struct slb_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--backend", "10.0.0.1:80"), CONFIG_OK, "%s", err);
	cr_assert_eq(config_max_backends(&cfg), CONFIG_MAX_BACKENDS_DEFAULT);
	cr_assert_eq(PARSE(&cfg, err, "--backend", "10.0.0.1:80", "--backend", "db.example:80", "--heartbeat-listen",
			   "127.0.0.1:7000", "--heartbeat-max-backends", "10000"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_max_backends(&cfg), 10000 + 1 + CONFIG_HOST_ADDRS);
	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000", "--heartbeat-max-backends", "65535",
			   "--backend", "10.0.0.1:80"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "more than the 65535 one slb can"), "%s", err);
	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000", "--max-backends", "20000",
			   "--heartbeat-max-backends", "10000"),
		     CONFIG_OK, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_max_backends(&cfg), 20000);
	cr_assert_eq(PARSE(&cfg, err, "--heartbeat-listen", "127.0.0.1:7000", "--max-backends", "100"), CONFIG_OK,
		     "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "--max-backends 100 is below the 256 backends"), "%s", err);
	cr_assert_neq(PARSE(&cfg, err, "--max-backends", "65536"), CONFIG_OK);
}
