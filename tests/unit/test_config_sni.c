/* Routing by TLS server name in the config file (issue 21): services that each listen on an
 * address with ",sni" share it as a listener group, sni= and sni-fallback say where each
 * client goes, and every inconsistent combination is refused with a line that names it. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_text.h"
#include "slb/common/config.h"
#include "slb/common/config_sni.h"
#include "slb/common/service_align.h"
#include "slb/common/sni_map.h"

TestSuite(config_sni, .fini = config_text_cleanup);

#define TWO_SERVICES                                   \
	"[service api]\n"                              \
	"listen = 127.0.0.1:8443,sni\n"                \
	"sni = api.example.com, *.API.example.com\n"   \
	"backend = 10.0.0.1:443\n"                     \
	"[service web]\n"                              \
	"listen = 127.0.0.1:8443,sni\n"                \
	"sni = www.example.com\n"                      \
	"sni-fallback = yes\n"                         \
	"backend = 10.0.0.2:443\n"

Test(config_sni, services_share_an_sni_address_as_one_listener)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	struct sni_map *map;
	char err[200];
	int api, web;

	cr_assert_eq(config_text_load(TWO_SERVICES, &cfg, &errs), 0, "%s", errs.msg[0]);
	api = config_service_find(&cfg, "api");
	web = config_service_find(&cfg, "web");
	cr_assert_eq(cfg.n_listen, 1, "one socket for the group");
	cr_assert_eq(cfg.listen_sni[0], (1ull << api) | (1ull << web));
	cr_assert(config_service_served(&cfg, (unsigned)web));
	cr_assert(config_sni_any(&cfg));
	cr_assert_eq(config_sni_build(&cfg, 0, &map, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sni_map_lookup(map, "api.example.com", 15), api);
	cr_assert_eq(sni_map_lookup(map, "x.api.example.com", 17), api);
	cr_assert_eq(sni_map_lookup(map, "WWW.example.com", 15), web);
	cr_assert_eq(sni_map_lookup(map, "other.org", 9), web, "unknown names go to the fallback");
	cr_assert_eq(sni_map_lookup(map, "", 0), web, "no name goes to the fallback");
	sni_map_free(map);
}

Test(config_sni, a_group_without_fallback_closes_the_unknown)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	struct sni_map *map;
	char err[200];

	cr_assert_eq(config_text_load("[service a]\nlisten = 127.0.0.1:8443,sni\nsni = a.test\nbackend = 10.0.0.1:1\n"
			  "[service b]\nlisten = 127.0.0.1:8443,sni\nsni = b.test\nbackend = 10.0.0.2:1\n",
			  &cfg, &errs), 0, "%s", errs.msg[0]);
	cr_assert_eq(config_sni_build(&cfg, 0, &map, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sni_map_lookup(map, "c.test", 6), -ENOENT);
	sni_map_free(map);
}

/* Arrays, not pointers: Criterion hands a parameter to a test process of its own. */
struct bad_case {
	char text[400];
	char says[80];
};

static struct bad_case bad_cases[] = {
	{ "[service a]\nlisten = 127.0.0.1:8443\nsni = a.test\nbackend = 10.0.0.1:1\n",
	  "service a: sni = ... needs a listen = ADDR:PORT,sni" },
	{ "[service a]\nlisten = 127.0.0.1:8443\nsni-fallback = yes\nbackend = 10.0.0.1:1\n",
	  "service a: sni-fallback needs a listen = ADDR:PORT,sni" },
	{ "[service a]\nlisten = 127.0.0.1:8443,sni\nsni-fallback = yes\nbackend = 10.0.0.1:1\n"
	  "[service b]\nlisten = 127.0.0.1:8443,sni\nsni-fallback = yes\nbackend = 10.0.0.2:1\n",
	  "services a and b are both sni-fallback" },
	{ "[service a]\nlisten = 127.0.0.1:8443,sni\nsni = x.test\nbackend = 10.0.0.1:1\n"
	  "[service b]\nlisten = 127.0.0.1:8443,sni\nsni = X.TEST\nbackend = 10.0.0.2:1\n",
	  "is in both service a and service b" },
	{ "[service a]\nlisten = 127.0.0.1:8443,sni\nbackend = 10.0.0.1:1\n",
	  "has neither sni = NAME,... nor sni-fallback = yes" },
	{ "[service a]\nlisten = 127.0.0.1:8443,sni\nsni = a.test\nbackend = 10.0.0.1:1\n"
	  "[service b]\nlisten = 127.0.0.1:8443\nbackend = 10.0.0.2:1\n",
	  "services share an address only when each listens on it with ,sni" },
	{ "[service a]\nlisten = 127.0.0.1:8443,tls\nbackend = 10.0.0.1:1\n", "unknown listen option 'tls'" },
	{ "[service a]\nlisten = 127.0.0.1:8443,sni\nsni = a..test\nbackend = 10.0.0.1:1\n", "a..test" },
	{ "[service a]\nlisten = 127.0.0.1:8443,sni\nsni = *\nbackend = 10.0.0.1:1\n", "'*'" },
	{ "[service a]\nlisten = 127.0.0.1:8443,sni\nlisten = 127.0.0.1:8443,sni\nsni = a.test\n"
	  "backend = 10.0.0.1:1\n", "address given twice" },
};

ParameterizedTestParameters(config_sni, bad_combinations_are_named)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(struct bad_case *bc, config_sni, bad_combinations_are_named)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	bool found = false;

	cr_assert_gt(config_text_load(bc->text, &cfg, &errs), 0, "accepted: %s", bc->text);
	for (unsigned i = 0; i < errs.n && i < CONFIG_ERRORS_MAX && !found; i++)
		found = strstr(errs.msg[i], bc->says) != NULL;
	cr_assert(found, "no error says '%s'; first: %s", bc->says, errs.msg[0]);
}

Test(config_sni, sni_timeout_has_a_default_and_a_range)
{
	static struct slb_config cfg;
	char err[200];
	char *ok[] = { "slb", "--backend", "10.0.0.1:1", "--sni-timeout", "250" };
	char *bad[] = { "slb", "--backend", "10.0.0.1:1", "--sni-timeout", "0" };
	char *none[] = { "slb", "--backend", "10.0.0.1:1" };

	cr_assert_eq(config_parse(&cfg, 3, none, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.sni_timeout_ms, 5000);
	cr_assert_eq(config_parse(&cfg, 5, ok, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.sni_timeout_ms, 250);
	cr_assert_neq(config_parse(&cfg, 5, bad, err, sizeof(err)), 0);
}

/* The command line's --listen replaces the default service's list: a group that default
 * shared with another service keeps its socket for that one. */
Test(config_sni, leaving_a_group_keeps_it_for_the_others)
{
	static struct slb_config cfg;
	static struct config_errors errs;
	char *argv[] = { "slb", "-c", NULL, "--listen", "127.0.0.1:9000" };
	int api;

	config_text_write("listen = 127.0.0.1:8443,sni\nsni-fallback = yes\nbackend = 10.0.0.9:1\n"
		   "[service api]\nlisten = 127.0.0.1:8443,sni\nsni = api.test\nbackend = 10.0.0.1:1\n");
	argv[2] = config_text_path;
	memset(&errs, 0, sizeof(errs));
	cr_assert_eq(config_parse_args(&cfg, 5, argv, &errs), 0, "%s", errs.msg[0]);
	api = config_service_find(&cfg, "api");
	cr_assert_eq(cfg.n_listen, 2);
	cr_assert_eq(cfg.listen_service[0], api, "the group's socket passed to api");
	cr_assert_eq(cfg.listen_sni[0], 1ull << api);
	cr_assert_eq(cfg.listen_service[1], 0);
	cr_assert_eq(cfg.listen_sni[1], 0);
}

/* A reload compares the sni settings by name (config_sni_same refuses a change), and lines the
 * services up with the running ones: the group's bits follow their services' new indices. */
Test(config_sni, a_reload_sees_changes_by_name_and_aligns_the_groups)
{
	static struct slb_config run, next;
	static struct config_errors errs;
	struct service_align plan;
	char err[200];

	cr_assert_eq(config_text_load(TWO_SERVICES "[service other]\nlisten = 127.0.0.1:9000\nbackend = 10.0.0.4:1\n", &run, &errs), 0,
		     "%s", errs.msg[0]);
	/* other first: api and web come at other indices from the file, and go back to run's */
	cr_assert_eq(config_text_load("[service other]\nlisten = 127.0.0.1:9000\nbackend = 10.0.0.4:1\n" TWO_SERVICES, &next, &errs),
		     0, "%s", errs.msg[0]);
	cr_assert_neq(next.listen_sni[1], run.listen_sni[0], "the file order moved the members");
	cr_assert(config_sni_same(&run, &next), "the same services in another order are the same");
	cr_assert_eq(service_align(&run, &next, NULL, NULL, &plan, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(next.listen_sni[1], run.listen_sni[0], "the group's members follow their indices");
	cr_assert_eq(config_text_load(TWO_SERVICES "[service more]\nlisten = 127.0.0.1:8443,sni\nsni = more.test\n"
			  "backend = 10.0.0.3:1\n", &next, &errs), 0, "%s", errs.msg[0]);
	cr_assert_not(config_sni_same(&run, &next), "a member added");
	cr_assert_eq(config_text_load("[service api]\nlisten = 127.0.0.1:8443,sni\nsni = api.example.com\nbackend = 10.0.0.1:443\n"
			  "[service web]\nlisten = 127.0.0.1:8443,sni\nsni = www.example.com\nsni-fallback = yes\n"
			  "backend = 10.0.0.2:443\n", &next, &errs), 0, "%s", errs.msg[0]);
	cr_assert_not(config_sni_same(&run, &next), "a name removed");
}
