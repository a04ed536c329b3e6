/* sni_map: the configured names a build refuses, each with the reason it gives; then one map
 * of exact names and nested wildcards looked up by a table of server names (case, longest
 * match, the fallback, names a wildcard must not catch), and a map without a fallback. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "slb/common/sni_map.h"

struct name_case {
	char name[300];
	char why[64]; /* a part of the refusal; "" for a name accepted */
};

ParameterizedTestParameters(sni_map, name_checks)
{
	static struct name_case cases[] = {
		{ "api.example.com", "" },
		{ "*.example.com", "" },
		{ "localhost", "" },
		{ "xn--bcher-kva.example", "" },
		{ "Under_Score-1.EXAMPLE", "" },
		{ "", "is empty" },
		{ "*", "without a domain" },
		{ "*.", "without a domain" },
		{ ".example.com", "empty label" },
		{ "example.com.", "empty label" },
		{ "a..example.com", "empty label" },
		{ "*..example.com", "empty label" },
		{ "a.*.example.com", "not the whole first label" },
		{ "*a.example.com", "not the whole first label" },
		{ "**.example.com", "not the whole first label" },
		{ "*.*.example.com", "not the whole first label" },
		{ "a b.example", "a character other than" },
		{ "a:443", "a character other than" },
		{ "0123456789012345678901234567890123456789012345678901234567890123.example", "label over 63" },
	};

	return cr_make_param_array(struct name_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct name_case *c, sni_map, name_checks)
{
	char err[512] = "";
	int rc = sni_name_check(c->name, err, sizeof(err));

	if (c->why[0] == '\0') {
		cr_assert_eq(rc, 0, "'%s' refused: %s", c->name, err);
		return;
	}
	cr_assert_eq(rc, -EINVAL, "'%s' accepted", c->name);
	cr_assert(strstr(err, c->why) && strstr(err, c->name), "'%s': %s", c->name, err);
}

/* A name of n bytes: labels of 9 letters and a dot. */
static void long_name(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = i % 10 == 9 ? '.' : 'a';
	buf[n] = '\0';
}

Test(sni_map, a_name_over_253_characters_is_refused)
{
	char name[300], err[512];

	long_name(name, 253);
	cr_assert_eq(sni_name_check(name, err, sizeof(err)), 0, "%s", err);
	long_name(name, 254);
	cr_assert_eq(sni_name_check(name, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "over 253"), "%s", err);
}

enum { API = 0, WEB = 1, ADMIN = 2, DEEP = 3, FALLBACK = 7 };

static const struct sni_rule rules[] = {
	{ "api.example.com", API, "api" },
	{ "*.api.example.com", API, "api" },
	{ "*.example.com", WEB, "web" },
	{ "www.example.com", WEB, "web" },
	{ "WWW.Example.COM", WEB, "web" }, /* the same name twice in one service counts once */
	{ "admin.internal", ADMIN, "admin" },
	{ "*.eu.api.example.com", DEEP, "deep" },
	{ "example.org", ADMIN, "admin" },
};

static struct sni_map *build(int fallback)
{
	struct sni_map *m;
	char err[256] = "";

	cr_assert_eq(sni_map_build(rules, sizeof(rules) / sizeof(rules[0]), fallback, &m, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(sni_map_size(m), 7);
	return m;
}

struct lookup_case {
	char name[300];
	int want;
};

ParameterizedTestParameters(sni_map, lookups)
{
	static struct lookup_case cases[] = {
		{ "api.example.com", API },
		{ "API.EXAMPLE.COM", API },
		{ "v1.api.example.com", API },          /* *.api.example.com beats *.example.com */
		{ "a.b.api.example.com", API },         /* a wildcard covers deeper names too */
		{ "x.eu.api.example.com", DEEP },       /* the longest wildcard wins */
		{ "eu.api.example.com", API },          /* not *.eu...: it needs a label before */
		{ "www.example.com", WEB },
		{ "shop.example.com", WEB },
		{ "example.com", FALLBACK },            /* *.example.com never matches example.com */
		{ ".example.com", FALLBACK },           /* an empty first label is no label */
		{ "admin.internal", ADMIN },
		{ "x.admin.internal", FALLBACK },       /* an exact name is not a wildcard */
		{ "admin.internal.", FALLBACK },
		{ "example.org", ADMIN },
		{ "example.org.evil.com", FALLBACK },
		{ "evilexample.com", FALLBACK },        /* a suffix without the dot is no match */
		{ "", FALLBACK },                       /* no server name */
		{ "com", FALLBACK },
		{ ".", FALLBACK },
		{ "..", FALLBACK },
	};

	return cr_make_param_array(struct lookup_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct lookup_case *c, sni_map, lookups)
{
	struct sni_map *m = build(FALLBACK);
	int got = sni_map_lookup(m, c->name, strlen(c->name));

	cr_assert_eq(got, c->want, "'%s': got %d, want %d", c->name, got, c->want);
	sni_map_free(m);
}

Test(sni_map, lookup_reads_only_len_bytes)
{
	struct sni_map *m = build(FALLBACK);

	cr_assert_eq(sni_map_lookup(m, "api.example.comXYZ", 15), API);
	cr_assert_eq(sni_map_lookup(m, "shop.example.com", 4), FALLBACK);
	sni_map_free(m);
}

Test(sni_map, without_a_fallback_no_match_is_enoent)
{
	struct sni_map *m = build(-1);

	cr_assert_eq(sni_map_lookup(m, "nothing.test", 12), -ENOENT);
	cr_assert_eq(sni_map_lookup(m, "", 0), -ENOENT);
	cr_assert_eq(sni_map_lookup(m, "x.example.com", 13), WEB);
	sni_map_free(m);
}

Test(sni_map, a_255_byte_name_of_one_letter_labels_still_finds_its_wildcard)
{
	struct sni_map *m = build(FALLBACK);
	char name[256];

	for (int i = 0; i < 255 - 16; i++)
		name[i] = i % 2 ? '.' : 'a';
	memcpy(name + 255 - 16, ".api.example.com", 16);
	cr_assert_eq(sni_map_lookup(m, name, 255), API);
	name[255 - 16] = 'x'; /* "...a.ax" + "api.example.com": now under *.example.com */
	cr_assert_eq(sni_map_lookup(m, name, 255), WEB);
	sni_map_free(m);
}

struct build_case {
	char name[3][32];    /* "" ends the rules */
	char service[3][8];  /* "" for a rule without a service name */
	char why[96];
};

ParameterizedTestParameters(sni_map, build_refusals)
{
	static struct build_case cases[] = {
		{ { "a.example", "A.EXAMPLE" }, { "api", "web" },
		  "'A.EXAMPLE' is in both service api and service web" },
		{ { "*.example", "x.test", "*.Example" }, { "" }, "'*.Example' is in both service 0 and service 2" },
		{ { "a.example", "*." }, { "" }, "'*.' is a wildcard without a domain" },
		{ { "a..b" }, { "" }, "'a..b' has an empty label" },
	};

	return cr_make_param_array(struct build_case, cases, sizeof(cases) / sizeof(cases[0]));
}

/* The cases hold their text inline (Criterion runs each in a fresh process); the rules are
 * made here, service i for rule i. */
ParameterizedTest(struct build_case *c, sni_map, build_refusals)
{
	struct sni_map *m = (struct sni_map *)1;
	struct sni_rule r[3];
	char err[256] = "";
	size_t n = 0;

	for (; n < 3 && c->name[n][0]; n++)
		r[n] = (struct sni_rule){ c->name[n], (int)n, c->service[n][0] ? c->service[n] : NULL };
	cr_assert_eq(sni_map_build(r, n, -1, &m, err, sizeof(err)), -EINVAL);
	cr_assert_null(m);
	cr_assert(strstr(err, c->why), "got: %s", err);
}

Test(sni_map, a_negative_service_is_refused)
{
	struct sni_rule r = { "a.example", -2, NULL };
	struct sni_map *m;
	char err[128];

	cr_assert_eq(sni_map_build(&r, 1, -1, &m, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "service -2 is not a service"), "%s", err);
}

Test(sni_map, many_names_all_found)
{
	static char names[2000][32];
	static struct sni_rule many[2000];
	struct sni_map *m;
	char err[256];

	for (int i = 0; i < 2000; i++) {
		snprintf(names[i], sizeof(names[i]), i % 2 ? "*.s%d.example" : "h%d.example", i);
		many[i] = (struct sni_rule){ names[i], i, NULL };
	}
	cr_assert_eq(sni_map_build(many, 2000, -1, &m, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 2000; i++) {
		char q[40];

		snprintf(q, sizeof(q), i % 2 ? "x.S%d.example" : "H%d.EXAMPLE", i);
		cr_assert_eq(sni_map_lookup(m, q, strlen(q)), i, "%s", q);
	}
	cr_assert_eq(sni_map_lookup(m, "s1.example", 10), -ENOENT);
	sni_map_free(m);
}
