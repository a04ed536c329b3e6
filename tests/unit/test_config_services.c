/* Services in the config file: '[service NAME]' sections hold the per-service keys, the flat
 * keys and the flags are the service "default", and every mistake is named with its line. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_text.h"
#include "slb/common/config.h"

TestSuite(config_services, .fini = config_text_cleanup);

static unsigned listen_count(const struct slb_config *cfg, unsigned svc)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_listen; i++)
		n += cfg->listen_service[i] == svc;
	return n;
}

/* The client rules are lists of each service: a section's replace nothing of default's. */
Test(config_services, client_rules_are_per_service)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	int api;

	cr_assert_eq(config_text_load("backend = 127.0.0.1:9000\n"
			  "client-deny = 10.0.0.0/8\n"
			  "[service api]\n"
			  "listen = 127.0.0.1:18443\n"
			  "backend = 127.0.0.1:9001\n"
			  "client-allow = 192.168.0.0/16\n"
			  "client-allow = 2001:db8::/32\n"
			  "client-max-rate = 50\n"
			  "client-ipv6-prefix = 56\n",
			  &cfg, &errs),
		     0, "%s", errs.msg[0]);
	api = config_service_find(&cfg, "api");
	cr_assert_geq(api, 0);
	cr_expect_eq(cfg.services[0].n_client_deny, 1);
	cr_expect_eq(cfg.services[0].n_client_allow, 0);
	cr_expect_eq(cfg.services[0].client_max_rate, 0);
	cr_expect_eq(cfg.services[api].n_client_allow, 2);
	cr_expect_eq(cfg.services[api].n_client_deny, 0);
	cr_expect_eq(cfg.services[api].client_max_rate, 50);
	cr_expect_eq(cfg.services[api].client_ipv6_prefix, 56);
	cr_expect_eq(cfg.services[0].client_ipv6_prefix, 64);
}

Test(config_services, sections_set_their_own_keys)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	int api, web;

	cr_assert_eq(config_text_load("workers = 2\n"
			  "[service web]\n"
			  "listen = 127.0.0.1:8001\n"
			  "backend = 127.0.0.1:9001\n"
			  "balance = leastconn\n"
			  "retries = 0\n"
			  "[service api]\n"
			  "listen = 127.0.0.1:8002\n"
			  "listen = 127.0.0.1:8003\n"
			  "backend = 127.0.0.1:9002,weight=2\n"
			  "check = http:/up\n"
			  "connect-timeout = 500\n"
			  "send-proxy = v2\n",
			  &cfg, &errs),
		     0, "%s", errs.msg[0]);
	web = config_service_find(&cfg, "web");
	api = config_service_find(&cfg, "api");
	cr_assert_eq(cfg.n_services, 3);
	cr_assert(web == 1 && api == 2);
	cr_assert_eq(cfg.workers, 2);
	cr_assert_eq(cfg.services[web].balance, BALANCE_LEASTCONN);
	cr_assert_eq(cfg.services[web].retries, 0);
	cr_assert_eq(cfg.services[api].balance, BALANCE_ROUNDROBIN, "a key left out keeps slb's default");
	cr_assert_eq(cfg.services[api].retries, 2);
	cr_assert_eq(cfg.services[api].check, CHECK_HTTP);
	cr_assert_str_eq(cfg.services[api].check_path, "/up");
	cr_assert_eq(cfg.services[api].connect_timeout_ms, 500);
	cr_assert_eq(cfg.services[api].send_proxy, PROXY_V2);
	cr_assert_eq(cfg.services[0].send_proxy, PROXY_NONE);
	cr_assert_eq(listen_count(&cfg, 0), 0, "no flat backend: the default service is not served");
	cr_assert_not(config_service_served(&cfg, 0));
	cr_assert_eq(listen_count(&cfg, (unsigned)web), 1);
	cr_assert_eq(listen_count(&cfg, (unsigned)api), 2);
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(cfg.backends[0].service, (unsigned)web);
	cr_assert_eq(cfg.backends[1].service, (unsigned)api);
}

Test(config_services, flat_keys_are_the_default_service)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	cr_assert_eq(config_text_load("backend = 127.0.0.1:9001\n"
			  "balance = p2c\n"
			  "[service api]\n"
			  "listen = 127.0.0.1:8002\n"
			  "backend = 127.0.0.1:9002\n",
			  &cfg, &errs),
		     0, "%s", errs.msg[0]);
	cr_assert_str_eq(cfg.services[0].name, "default");
	cr_assert_eq(cfg.services[0].balance, BALANCE_P2C);
	cr_assert_eq(cfg.services[1].balance, BALANCE_ROUNDROBIN, "a service does not inherit default's keys");
	cr_assert_eq(listen_count(&cfg, 0), 1, "default keeps --listen's default *:8080");
	cr_assert_eq(addr_port(&cfg.listen[cfg.listen_service[0] == 0 ? 0 : 1]), 8080);
}

Test(config_services, service_default_section_is_the_flat_keys)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	cr_assert_eq(config_text_load("[service default]\nlisten = 127.0.0.1:8001\nbackend = 127.0.0.1:9001\nrise = 5\n", &cfg,
			  &errs),
		     0, "%s", errs.msg[0]);
	cr_assert_eq(cfg.n_services, 1);
	cr_assert_eq(cfg.services[0].rise, 5);
	cr_assert_eq(listen_count(&cfg, 0), 1);
}

Test(config_services, command_line_replaces_only_defaults_lists)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	char *argv[] = { "slb", "-c", (char *)config_text_write("backend = 127.0.0.1:9001\n"
							  "[service api]\n"
							  "listen = 127.0.0.1:8002\n"
							  "backend = 127.0.0.1:9002\n"),
			 "--backend", "127.0.0.1:9003", "--listen", "127.0.0.1:8009", "--retries", "5", NULL };

	cr_assert_eq(config_parse_args(&cfg, 9, argv, &errs), CONFIG_OK, "%s", errs.msg[0]);
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(addr_port(&cfg.backends[0].addr), 9002, "api's backend stays");
	cr_assert_eq(cfg.backends[0].service, 1);
	cr_assert_eq(addr_port(&cfg.backends[1].addr), 9003);
	cr_assert_eq(cfg.backends[1].service, 0);
	cr_assert_eq(cfg.n_listen, 2);
	cr_assert_eq(listen_count(&cfg, 0), 1);
	cr_assert_eq(cfg.services[0].retries, 5);
	cr_assert_eq(cfg.services[1].retries, 2, "a flag is the default service's");
}

Test(config_services, five_hundred_services_and_no_more)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	static char text[65536];
	size_t n = 0;

	for (unsigned i = 1; i <= CONFIG_MAX_SERVICES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "[service s%u]\nlisten = 127.0.0.1:%u\nbackend = 127.0.0.2:%u\n", i, 8000 + i,
				      9000 + i);
	cr_assert_eq(config_text_load(text, &cfg, &errs), 1, "%u errors, the first '%s'", errs.n, errs.msg[0]);
	cr_assert(strstr(errs.msg[0], ":1498: service s500: too many services (at most 500)"), "%s", errs.msg[0]);
	cr_assert_eq(cfg.n_services, CONFIG_MAX_SERVICES);
}

/* Arrays, not pointers: Criterion runs each case in a fresh process image. */
struct bad_service {
	char text[256];
	char why[128];
};

ParameterizedTestParameters(config_services, every_mistake_is_named)
{
	static struct bad_service params[] = {
		{ "[service]\n", ":2: '[service]': the only section is '[service NAME]'" },
		{ "[services api]\n", ":2: '[services api]': the only section is '[service NAME]'" },
		{ "[service api] x\n", ":2: '[service api] x': the only section is '[service NAME]'" },
		{ "[service Api]\n", ":2: '[service Api]': a name of 1-32 characters" },
		{ "[service a.b]\n", ":2: '[service a.b]': a name of 1-32 characters" },
		{ "[service a b]\n", ":2: '[service a b]': a name of 1-32 characters" },
		{ "[service 012345678901234567890123456789012]\n", "a name of 1-32 characters" },
		{ "[service api]\nlisten = 127.0.0.1:8002\nbackend = 127.0.0.1:9002\n[service api]\n",
		  ":5: service api: section given twice (first on line 2)" },
		{ "[service api]\nworkers = 2\n", ":3: workers: a process-wide key, not a service's" },
		{ "[service api]\nadmin = 127.0.0.1:9100\n", ":3: admin: a process-wide key" },
		{ "[service default]\nlog-level = debug\n", ":3: log-level: a process-wide key" },
		{ "[service api]\nlisten = 127.0.0.1:8002\nbalance = fast\n", ":4: balance = 'fast': expected roundrobin" },
		{ "[service api]\nlisten = 127.0.0.1:8002\nrise = 1\nrise = 2\n",
		  ":5: rise: given twice (first on line 4;" },
		{ "[service api]\nlisten = 127.0.0.1:8002\nbackend = 127.0.0.1:9002\n[service web]\n"
		  "listen = 127.0.0.1:8002\n",
		  ":6: listen = '127.0.0.1:8002': address used by service api already" },
		{ "[service api]\nlisten = 127.0.0.1:8002\nbackend = 127.0.0.1:1\n",
		  ":4: backend = '127.0.0.1:1': backend of service default already" },
		{ "[service api]\nbackend = 127.0.0.1:9002\n", "service api: no listen address" },
		{ "[service api]\nlisten = 127.0.0.1:8002\n", "service api: no backends" },
		{ "[service api]\nlisten = 127.0.0.1:8002\nbackend = 127.0.0.1:9002\ncheck-timeout = 3000\n",
		  "service api: --check-timeout (3000 ms) must be shorter than --check-interval (2000 ms)" },
	};
	return cr_make_param_array(struct bad_service, params, sizeof(params) / sizeof(params[0]));
}

/* Each case follows a good flat backend, so line 2 is the case's first; a broken header's
 * keys are skipped, not reported as keys of another service. */
ParameterizedTest(struct bad_service *p, config_services, every_mistake_is_named)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	char text[512];

	snprintf(text, sizeof(text), "backend = 127.0.0.1:1\n%s", p->text);
	cr_assert_geq(config_text_load(text, &cfg, &errs), 1, "accepted '%s'", p->text);
	cr_assert(strstr(errs.msg[0], p->why), "'%s' lacks '%s'", errs.msg[0], p->why);
	cr_assert_null(strchr(errs.msg[0], '\n'));
}

Test(config_services, every_error_at_once)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	cr_assert_eq(config_text_load("backend = 127.0.0.1:1\n"
			  "[service Bad]\n"
			  "workers = 2\n"
			  "[service api]\n"
			  "workers = 3\n"
			  "listen = 127.0.0.1:8080\n"
			  "retries = many\n",
			  &cfg, &errs),
		     3, "%u errors, the first '%s'", errs.n, errs.msg[0]);
	cr_assert(strstr(errs.msg[0], ":2: '[service Bad]'"), "%s", errs.msg[0]);
	cr_assert(strstr(errs.msg[1], ":5: workers: a process-wide key"), "%s", errs.msg[1]);
	cr_assert(strstr(errs.msg[2], ":7: retries = 'many'"), "%s", errs.msg[2]);
}

/* A backend's name steers it in the admin API, and /services/NAME/backends/{name} tells two
 * services apart: a name is unique within a service, and two services may both have a web1. */
Test(config_services, backend_names_are_unique_within_a_service)
{
	static struct slb_config cfg;
	static struct config_errors errs;

	cr_assert_eq(config_text_load("[service web]\nlisten = 127.0.0.1:8001\nbackend = 127.0.0.1:9001,name=web1\n"
			  "[service api]\nlisten = 127.0.0.1:8002\nbackend = 127.0.0.1:9002,name=web1\n",
			  &cfg, &errs),
		     0, "%s", errs.msg[0]);
	cr_assert_str_eq(cfg.backends[0].name, "web1");
	cr_assert_str_eq(cfg.backends[1].name, "web1");
	cr_assert_neq(cfg.backends[0].service, cfg.backends[1].service);
	cr_assert_gt(config_text_load("[service web]\nlisten = 127.0.0.1:8001\nbackend = 127.0.0.1:9001,name=web1\n"
			  "backend = 127.0.0.1:9002,name=web1\n",
			  &cfg, &errs),
		     0);
	cr_assert(strstr(errs.msg[0], "name given to another backend of this service"), "%s", errs.msg[0]);
}
