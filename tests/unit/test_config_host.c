/* --backend with a host name: kept for the resolver (host and port), checked as a DNS name,
 * refused with name= (every address would bear it); a literal address parses as before. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "slb/common/config.h"

struct host_case { /* arrays, not pointers: criterion copies the cases into each test */
	char text[64];
	char host[32]; /* "" for a literal address or an error */
	unsigned port;
	char why[32];  /* "" when it parses */
};

ParameterizedTestParameters(config_host, backend_hosts)
{
	static struct host_case cases[] = {
		{ "web.internal:8080", "web.internal", 8080, "" },
		{ "web.example.com.:80,weight=3", "web.example.com.", 80, "" },
		{ "a_b-c.d:1", "a_b-c.d", 1, "" },
		{ "ip6-localhost:9", "ip6-localhost", 9, "" },
		{ "localhost:80", "", 80, "" },          /* 127.0.0.1 as before: no lookup */
		{ "127.0.0.1:80", "", 80, "" },
		{ "256.1.1.1:80", "", 0, "bad IPv4" },   /* a mistyped address is no name */
		{ "web.internal:0", "", 0, "bad port" },
		{ "web.internal:65536", "", 0, "bad port" },
		{ "web.internal", "", 0, "missing :PORT" },
		{ "-web.internal:80", "", 0, "starts with '-'" },
		{ "web-.internal:80", "", 0, "ends with '-'" },
		{ "web..internal:80", "", 0, "empty" },
		{ "web/x:80", "", 0, "only letters" },
		{ "web.internal:80,name=web1", "", 0, "shared by every address" },
	};
	return cr_make_param_array(struct host_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct host_case *p, config_host, backend_hosts)
{
	struct config_backend b;
	char err[200] = "";
	int rc = config_parse_backend(p->text, &b, err, sizeof(err));

	if (p->why[0]) {
		cr_assert_eq(rc, -EINVAL, "%s parsed", p->text);
		cr_assert(strstr(err, p->why), "%s: '%s' lacks '%s'", p->text, err, p->why);
		return;
	}
	cr_assert_eq(rc, 0, "%s: %s", p->text, err);
	cr_assert_str_eq(b.host, p->host);
	cr_assert_eq(p->host[0] ? b.port : addr_port(&b.addr), p->port);
}

Test(config_host, label_and_name_lengths)
{
	struct config_backend b;
	char text[400], err[200];

	memset(text, 'a', 64);
	snprintf(text + 64, sizeof(text) - 64, ".x:80");
	cr_assert_eq(config_parse_backend(text, &b, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "at most 63"), "%s", err);
	for (int i = 0; i < 130; i++)
		memcpy(text + 2 * i, "a.", 2);
	snprintf(text + 260, sizeof(text) - 260, ":80");
	cr_assert_eq(config_parse_backend(text, &b, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "1 to 253"), "%s", err);
}

Test(config_host, same_host_twice_is_refused_in_any_case)
{
	struct slb_config cfg;
	char err[256];
	char *argv[] = { "slb", "--backend", "Web.Internal:80", "--backend", "web.internal:80", NULL };
	char *ok[] = { "slb", "--backend", "web.internal:80", "--backend", "web.internal:81", NULL };

	cr_assert_eq(config_parse(&cfg, 5, argv, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "given twice"), "%s", err);
	cr_assert_eq(config_parse(&cfg, 5, ok, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.n_backends, 2);
	cr_assert_eq(cfg.resolve_interval_ms, 10000);
}

Test(config_host, a_config_file_takes_a_host_and_the_interval)
{
	struct slb_config cfg;
	struct config_errors errs = { 0 };
	const char text[] = "backend = web.internal:8080,weight=2\nresolve-interval = 500\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");

	cr_assert_eq(config_load_stream(f, "t.conf", &cfg, &errs), 0, "%s", errs.msg[0]);
	fclose(f);
	cr_assert_str_eq(cfg.backends[0].host, "web.internal");
	cr_assert_eq(cfg.backends[0].port, 8080);
	cr_assert_eq(cfg.backends[0].weight, 2);
	cr_assert_eq(cfg.resolve_interval_ms, 500);
	cr_assert_eq(config_validate_all(&cfg, &errs), 0, "%s", errs.msg[0]);
}
