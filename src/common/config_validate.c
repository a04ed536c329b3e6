/* config_validate: what no single flag can check, on a parsed struct slb_config: at least one
 * backend or a heartbeat port, timeouts that fit together, flag families used only with the
 * flag that enables them, addresses that differ, an admin endpoint on loopback, and no backend
 * that is slb itself. It reads the flag table only to name the flags it complains about. */
#include "slb/common/config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "config_flags.h"
#include "slb/common/snapshot.h"
#include "slb/common/config_sni.h"

const char *config_served_by(const struct slb_config *cfg, const struct slb_addr *a, addr_local_fn is_local)
{
	if (addr_find_served(a, cfg->listen, cfg->n_listen, is_local) >= 0)
		return "address is slb's own listener";
	if (cfg->has_admin && addr_find_served(a, &cfg->admin, 1, is_local) >= 0)
		return "address is slb's own admin endpoint";
	if (cfg->has_heartbeat_listen && addr_find_served(a, &cfg->heartbeat_listen, 1, is_local) >= 0)
		return "address is slb's own heartbeat port";
	return NULL;
}

/* A backend that is one of slb's own ports makes every client connection open another one to
 * slb itself, until descriptors run out: refuse it before anything is bound. */
static void check_backends(const struct slb_config *cfg, struct config_errors *errs)
{
	for (unsigned i = 0; i < cfg->n_backends; i++) {
		const char *why = cfg->backends[i].host[0] ? NULL /* its addresses: health_dns.c */
							   : config_served_by(cfg, &cfg->backends[i].addr, addr_is_local);
		char text[ADDR_TEXT_MAX];

		if (why)
			config_errors_add(errs, "--backend %s: %s",
					  addr_format(&cfg->backends[i].addr, text, sizeof(text)), why);
	}
}

static bool listen_has(const struct slb_config *cfg, const struct slb_addr *a)
{
	return config_listen_find(cfg, a) >= 0;
}

static bool flag_given(const struct slb_config *cfg, const char *name)
{
	const struct flag *f = config_flag_find(name);

	return f && (cfg->given >> config_flag_index(f) & 1);
}

/* The first flag given whose name starts with prefix, other than the one at offset `master`
 * (--heartbeat-listen, --outlier-detection) without which the others mean nothing. */
static const char *family_flag_given(const struct slb_config *cfg, const char *prefix, size_t master)
{
	for (unsigned i = 0; i < config_flag_count(); i++) {
		const struct flag *f = config_flag_at(i);

		if ((cfg->given >> i & 1) && strncmp(f->name, prefix, strlen(prefix)) == 0 && f->offset != master)
			return f->name;
	}
	return NULL;
}

static void check_outlier(const struct slb_config *cfg, struct config_errors *errs)
{
	const char *flag = family_flag_given(cfg, "outlier-", offsetof(struct slb_config, outlier_detection));

	if (!cfg->outlier_detection && flag)
		config_errors_add(errs, "--%s needs --outlier-detection", flag);
}

static bool service_has_backend(const struct slb_config *cfg, unsigned svc)
{
	for (unsigned i = 0; i < cfg->n_backends; i++)
		if (cfg->backends[i].service == svc)
			return true;
	return false;
}

/* A service of a section needs a listener; the default one has --listen's default unless
 * another service took it (config_finish_services). */
static void check_service_sources(const struct slb_config *cfg, unsigned svc, struct config_errors *errs)
{
	const char *name = cfg->services[svc].name;
	bool backends = service_has_backend(cfg, svc);

	if (!config_service_served(cfg, svc) && (svc || backends))
		config_errors_add(errs, "service %s: no listen address", name);
	if (svc && !backends && !cfg->has_heartbeat_listen)
		config_errors_add(errs, "service %s: no backends: give it backend = ADDR:PORT or give "
				  "heartbeat-listen", name);
}

static void check_sources(const struct slb_config *cfg, struct config_errors *errs)
{
	if (cfg->n_services == 1 && cfg->n_backends == 0 && !cfg->has_heartbeat_listen)
		config_errors_add(errs, "no backends: give --backend ADDR:PORT or --heartbeat-listen ADDR:PORT");
	for (unsigned i = 0; i < cfg->n_services; i++)
		check_service_sources(cfg, i, errs);
}

static void check_timeouts(const struct slb_config *cfg, struct config_errors *errs)
{
	if (cfg->has_heartbeat_listen && cfg->heartbeat_timeout_ms <= cfg->heartbeat_interval_ms)
		config_errors_add(errs, "--heartbeat-timeout (%u ms) must be longer than --heartbeat-interval (%u ms)",
				  cfg->heartbeat_timeout_ms, cfg->heartbeat_interval_ms);
	for (unsigned i = 0; i < cfg->n_services; i++) {
		const struct service_config *s = &cfg->services[i];

		if (s->check_timeout_ms >= s->check_interval_ms)
			config_errors_add(errs, "%s%s%s--check-timeout (%s%u ms) must be shorter than --check-interval "
					  "(%u ms)", i ? "service " : "", i ? s->name : "", i ? ": " : "",
					  flag_given(cfg, "check-timeout") ? "" : "default ", s->check_timeout_ms,
					  s->check_interval_ms);
	}
}

static void check_heartbeat(const struct slb_config *cfg, struct config_errors *errs)
{
	const char *hb_flag = family_flag_given(cfg, "heartbeat-", offsetof(struct slb_config, heartbeat_listen));

	if (!hb_flag)
		hb_flag = family_flag_given(cfg, "legacy-heartbeat-", offsetof(struct slb_config, heartbeat_listen));

	if (cfg->has_heartbeat_listen && listen_has(cfg, &cfg->heartbeat_listen))
		config_errors_add(errs, "--heartbeat-listen must differ from every --listen");
	if (!cfg->has_heartbeat_listen && hb_flag)
		config_errors_add(errs, "--%s needs --heartbeat-listen", hb_flag);
}

static void check_admin(const struct slb_config *cfg, struct config_errors *errs)
{
	char text[ADDR_TEXT_MAX];

	if (!cfg->has_admin && cfg->admin_token_file[0])
		config_errors_add(errs, "--admin-token-file needs --admin");
	if (!cfg->has_admin)
		return;
	if (!cfg->admin_public && !addr_is_loopback(&cfg->admin))
		config_errors_add(errs, "--admin %s is not a loopback address and the admin endpoint's reads have no "
				  "authentication: use 127.0.0.1:PORT, or add --admin-public to expose it anyway",
				  addr_format(&cfg->admin, text, sizeof(text)));
	if (listen_has(cfg, &cfg->admin) || (cfg->has_heartbeat_listen && addr_equal(&cfg->admin, &cfg->heartbeat_listen)))
		config_errors_add(errs, "--admin must differ from every --listen and --heartbeat-listen");
}

/* Entries the configuration needs at once in the table. */
static unsigned long config_backends_needed(const struct slb_config *cfg)
{
	unsigned long n = cfg->has_heartbeat_listen ? cfg->heartbeat_max_backends : 0;

	for (unsigned i = 0; i < cfg->n_backends; i++)
		n += cfg->backends[i].host[0] ? CONFIG_HOST_ADDRS : 1;
	return n;
}

unsigned config_max_backends(const struct slb_config *cfg)
{
	unsigned long n = config_backends_needed(cfg);

	if (cfg->max_backends)
		return cfg->max_backends;
	if (n < CONFIG_MAX_BACKENDS_DEFAULT)
		n = CONFIG_MAX_BACKENDS_DEFAULT;
	return n < SNAP_ID_MAX ? (unsigned)n : SNAP_ID_MAX;
}

/* A given --max-backends must hold every static backend and every heartbeat registration the
 * flags allow; a host name counts as the CONFIG_HOST_ADDRS it may resolve to. */
static void check_max_backends(const struct slb_config *cfg, struct config_errors *errs)
{
	unsigned long n = config_backends_needed(cfg);

	if (cfg->max_backends && n > cfg->max_backends)
		config_errors_add(errs, "--max-backends %u is below the %lu backends the configuration may hold (static "
				  "ones, %u per host name, and --heartbeat-max-backends with a heartbeat port)",
				  cfg->max_backends, n, CONFIG_HOST_ADDRS);
	else if (!cfg->max_backends && n > SNAP_ID_MAX)
		config_errors_add(errs, "the configuration may hold %lu backends (static ones, %u per host name, and "
				  "--heartbeat-max-backends with a heartbeat port): more than the %u one slb can",
				  n, CONFIG_HOST_ADDRS, SNAP_ID_MAX);
}

static void check_modes(const struct slb_config *cfg, struct config_errors *errs)
{
	if (cfg->check_no_bind && !cfg->check_only)
		config_errors_add(errs, "--no-bind needs --check-config (slb itself always binds its ports)");
}

int config_validate_all(const struct slb_config *cfg, struct config_errors *errs)
{
	unsigned before = errs->n;

	check_modes(cfg, errs);
	check_sources(cfg, errs);
	check_outlier(cfg, errs);
	check_timeouts(cfg, errs);
	check_heartbeat(cfg, errs);
	check_admin(cfg, errs);
	check_backends(cfg, errs);
	check_max_backends(cfg, errs);
	config_sni_validate(cfg, errs);
	return errs->n > before ? -EINVAL : 0;
}

int config_validate(const struct slb_config *cfg, char *err, size_t errlen)
{
	struct config_errors errs = { 0 };
	int ret = config_validate_all(cfg, &errs);

	if (ret)
		snprintf(err, errlen, "%s", errs.msg[0]);
	return ret;
}
