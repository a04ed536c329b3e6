/* config_sni: the combinations of the sni keys (slb/common/config_sni.h), and the name map
 * of a listener group built from them. Off the hot path: it may allocate and explain. */
#include "slb/common/config_sni.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_flags.h"
#include "slb/common/sni_map.h"


#define SNI_RULES_MAX 512 /* names over one group's services: CONFIG_SNI_MAX / 2 per service at most */

int config_sni_listen_option(const char *text, size_t *len, bool *sni, char *err, size_t errlen)
{
	const char *comma = memchr(text, ',', *len);

	*sni = false;
	if (!comma)
		return 0;
	if ((size_t)(text + *len - comma) != 4 || strncmp(comma, ",sni", 4)) {
		snprintf(err, errlen, "unknown listen option '%.32s' (the only one is ,sni: route by TLS server name)",
			 comma + 1);
		return -EINVAL;
	}
	*len = (size_t)(comma - text);
	*sni = true;
	return 0;
}

/* Calls fn on each name of a list ("a.example.com, *.b.example.com"), blanks around commas
 * skipped; stops at the first non-zero answer and returns it. */
static int sni_each_name(const char *list, int (*fn)(const char *name, void *arg), void *arg)
{
	char name[CONFIG_SNI_MAX];

	while (*list) {
		size_t skip = strspn(list, " \t"), n;
		int ret;

		list += skip;
		n = strcspn(list, ",");
		while (n && (list[n - 1] == ' ' || list[n - 1] == '\t'))
			n--;
		memcpy(name, list, n);
		name[n] = '\0';
		ret = fn(name, arg);
		if (ret)
			return ret;
		list += strcspn(list, ",");
		if (*list == ',')
			list++;
	}
	return 0;
}

struct sni_check_arg {
	char *err;
	size_t errlen;
};

static int sni_check_one(const char *name, void *arg)
{
	struct sni_check_arg *a = arg;

	return sni_name_check(name, a->err, a->errlen);
}

/* See config_flags.h. */
int config_sni_parse_names(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err,
			   size_t errlen)
{
	struct sni_check_arg a = { err, errlen };
	size_t len = strlen(val);

	if (len == 0 || len >= CONFIG_SNI_MAX) {
		snprintf(err, errlen, "a list of 1 to %d characters of server names, comma-separated", CONFIG_SNI_MAX - 1);
		return -EINVAL;
	}
	if (sni_each_name(val, sni_check_one, &a))
		return -EINVAL;
	memcpy(cfg->services[svc].sni, val, len + 1);
	return 0;
}

bool config_sni_any(const struct slb_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (cfg->listen_sni[i])
			return true;
	return false;
}

/* Whether service svc is a member of any listener group. */
static bool sni_member(const struct slb_config *cfg, unsigned svc)
{
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (config_listen_sni_has(cfg, i, svc))
			return true;
	return false;
}

static void sni_check_service(const struct slb_config *cfg, unsigned svc, struct config_errors *errs)
{
	const struct service_config *s = &cfg->services[svc];

	if (sni_member(cfg, svc)) {
		if (!s->sni[0] && !s->sni_fallback)
			config_errors_add(errs, "service %s: listens by TLS server name (listen = ADDR:PORT,sni) but has "
					  "neither sni = NAME,... nor sni-fallback = yes", s->name);
		return;
	}
	if (s->sni[0])
		config_errors_add(errs, "service %s: sni = ... needs a listen = ADDR:PORT,sni in the service", s->name);
	if (s->sni_fallback)
		config_errors_add(errs, "service %s: sni-fallback needs a listen = ADDR:PORT,sni in the service", s->name);
}

static void sni_check_group(const struct slb_config *cfg, unsigned i, struct config_errors *errs)
{
	char addr[ADDR_TEXT_MAX], err[CONFIG_ERROR_LEN - 64];
	struct sni_map *map = NULL;
	int first = -1;

	for (unsigned s = 0; s < cfg->n_services; s++) {
		if (!config_listen_sni_has(cfg, i, s) || !cfg->services[s].sni_fallback)
			continue;
		if (first >= 0)
			config_errors_add(errs, "listen %s,sni: services %s and %s are both sni-fallback (at most one "
					  "per address)", addr_format(&cfg->listen[i], addr, sizeof(addr)),
					  cfg->services[first].name, cfg->services[s].name);
		else
			first = (int)s;
	}
	if (config_sni_build(cfg, i, &map, err, sizeof(err)) == -EINVAL)
		config_errors_add(errs, "listen %s,sni: %s", addr_format(&cfg->listen[i], addr, sizeof(addr)), err);
	sni_map_free(map);
}

int config_sni_validate(const struct slb_config *cfg, struct config_errors *errs)
{
	unsigned before = errs->n;

	for (unsigned s = 0; s < cfg->n_services; s++)
		sni_check_service(cfg, s, errs);
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (cfg->listen_sni[i])
			sni_check_group(cfg, i, errs);
	return errs->n == before ? 0 : -EINVAL;
}

struct sni_rules {
	struct sni_rule rule[SNI_RULES_MAX];
	size_t n;
	char names[CONFIG_MAX_SERVICES * CONFIG_SNI_MAX]; /* the names, NUL-separated */
	size_t used;
	int service;
	const char *service_name;
};

static int sni_add_rule(const char *name, void *arg)
{
	struct sni_rules *r = arg;
	size_t len = strlen(name) + 1;

	if (r->n >= SNI_RULES_MAX || r->used + len > sizeof(r->names))
		return -E2BIG;
	memcpy(r->names + r->used, name, len);
	r->rule[r->n++] = (struct sni_rule){ r->names + r->used, r->service, r->service_name };
	r->used += len;
	return 0;
}

int config_sni_build(const struct slb_config *cfg, unsigned i, struct sni_map **out, char *err, size_t errlen)
{
	struct sni_rules *r = calloc(1, sizeof(*r));
	int fallback = -1, ret = 0;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	for (unsigned s = 0; s < cfg->n_services && !ret; s++) {
		if (!config_listen_sni_has(cfg, i, s))
			continue;
		if (cfg->services[s].sni_fallback && fallback < 0)
			fallback = (int)s;
		r->service = (int)s;
		r->service_name = cfg->services[s].name;
		ret = sni_each_name(cfg->services[s].sni, sni_add_rule, r);
	}
	if (ret) {
		snprintf(err, errlen, "too many server names on one address (at most %d)", SNI_RULES_MAX);
		ret = -EINVAL;
	} else {
		ret = sni_map_build(r->rule, r->n, fallback, out, err, errlen);
	}
	free(r);
	return ret;
}

static int sni_listen_find(const struct slb_config *cfg, const struct slb_addr *a)
{
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (cfg->listen_sni[i] && addr_equal(&cfg->listen[i], a))
			return (int)i;
	return -1;
}

/* Whether every member of a's group at ia has its twin, by name and settings, in b's at ib. */
static bool sni_members_in(const struct slb_config *a, unsigned ia, const struct slb_config *b, unsigned ib)
{
	for (unsigned s = 0; s < a->n_services; s++) {
		const struct service_config *x = &a->services[s];
		int t;

		if (!config_listen_sni_has(a, ia, s))
			continue;
		t = config_service_find(b, x->name);
		if (t < 0 || !config_listen_sni_has(b, ib, (unsigned)t) || strcmp(x->sni, b->services[t].sni) ||
		    x->sni_fallback != b->services[t].sni_fallback)
			return false;
	}
	return true;
}

static bool sni_groups_in(const struct slb_config *a, const struct slb_config *b)
{
	for (unsigned i = 0; i < a->n_listen; i++) {
		int j = a->listen_sni[i] ? sni_listen_find(b, &a->listen[i]) : 0;

		if (a->listen_sni[i] && (j < 0 || !sni_members_in(a, i, b, (unsigned)j)))
			return false;
	}
	return true;
}

bool config_sni_same(const struct slb_config *a, const struct slb_config *b)
{
	return sni_groups_in(a, b) && sni_groups_in(b, a);
}
