/* reload: a changed configuration applied without a restart, or not at all. The new config
 * is parsed into a fresh struct while the running one keeps serving; it replaces the running
 * one only once it is valid whole, first on the health thread (backends, checks, heartbeat
 * settings), then on the workers (picker, timeouts, retries), and the old one is freed only
 * after both have let go of it. */
#include "reload.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/log.h"
#include "slb/control/health.h"
#include "slb/dataplane/worker.h"

static int saved_argc;
static char **saved_argv;
static const struct slb_config *running;
static struct slb_config *owned; /* running, when a reload allocated it; NULL for start-up's */

/* See reload.h. */
void reload_init(int argc, char **argv, const struct slb_config *cfg)
{
	saved_argc = argc;
	saved_argv = argv;
	running = cfg;
}

/* See reload.h. */
const struct slb_config *reload_current(void)
{
	return running;
}

static void reload_log_errors(const struct config_errors *errs)
{
	for (unsigned i = 0; i < errs->n && i < CONFIG_ERRORS_MAX; i++)
		slb_log(LOG_ERROR, 0, "reload: %s", errs->msg[i]);
	if (errs->n > CONFIG_ERRORS_MAX)
		slb_log(LOG_ERROR, 0, "reload: and %u more errors", errs->n - CONFIG_ERRORS_MAX);
	slb_log(LOG_ERROR, 0, "reload rejected: the running configuration stays in force");
}

/* Settings whose change needs new sockets, threads or memory sized at start: next gets the
 * running value back, and an operator who changed one is told when it takes effect. */
struct kept_field {
	const char *name;
	size_t offset, size;
	bool resolved; /* the running value was derived from 0 at start: only a given value differs */
};

#define KEPT(n, f, r) { n, offsetof(struct slb_config, f), sizeof(((struct slb_config *)0)->f), r }

static const struct kept_field kept_fields[] = {
	KEPT("listen", listen, false),
	KEPT("listen", n_listen, false),
	KEPT("workers", workers, true),
	KEPT("pin", pin, false),
	KEPT("relay", relay, false),
	KEPT("max-conns", max_conns, true),
	KEPT("heartbeat-listen", has_heartbeat_listen, false),
	KEPT("heartbeat-listen", heartbeat_listen, false),
	KEPT("heartbeat-key-file", heartbeat_key_file, false),
	KEPT("admin", has_admin, false),
	KEPT("admin", admin, false),
	KEPT("admin-public", admin_public, false),
	KEPT("user", user, false),
	KEPT("pipes", pipes_per_worker, true),
	/* client identity tables and the log thread are set up at start */
	KEPT("send-proxy", send_proxy, false),
	KEPT("accept-proxy", accept_proxy, false),
	KEPT("access-log", access_log, false),
	KEPT("access-log-format", access_log_format, false),
};

static bool reload_field_zero(const char *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (p[i])
			return false;
	return true;
}

static void reload_keep_one(const struct kept_field *k, struct slb_config *next, const char **last_logged)
{
	const char *old = (const char *)running + k->offset;
	char *new = (char *)next + k->offset;

	if (memcmp(old, new, k->size) == 0)
		return;
	if ((!k->resolved || !reload_field_zero(new, k->size)) && *last_logged != k->name &&
	    strcmp(k->name, "pipes") != 0) {
		slb_log(LOG_WARN, 0, "reload: %s changed: it needs new sockets or threads and takes effect at the next "
			"upgrade (slb --takeover) or restart; the running value stays", k->name);
		*last_logged = k->name;
	}
	memcpy(new, old, k->size);
}

/* maglev accepts carry client addresses (worker.c), the other pickers do not. */
static void reload_keep_balance(struct slb_config *next)
{
	if ((running->balance == BALANCE_MAGLEV) == (next->balance == BALANCE_MAGLEV))
		return;
	slb_log(LOG_WARN, 0, "reload: balance %s -> %s changes how workers accept and takes effect at the next "
		"upgrade or restart; balance %s stays", balance_algo_name(running->balance),
		balance_algo_name(next->balance), balance_algo_name(running->balance));
	next->balance = running->balance;
}

static void reload_keep_sockets(struct slb_config *next)
{
	const char *last = NULL;

	for (size_t i = 0; i < sizeof(kept_fields) / sizeof(kept_fields[0]); i++)
		reload_keep_one(&kept_fields[i], next, &last);
	reload_keep_balance(next);
}

/* The settings applied live, logged "name old -> new" when they change. */
struct live_field {
	const char *name;
	size_t offset;
};

#define LIVE(n, f) { n, offsetof(struct slb_config, f) }

static const struct live_field live_fields[] = {
	LIVE("connect-timeout", connect_timeout_ms), LIVE("idle-timeout", idle_timeout_ms),
	LIVE("retries", retries), LIVE("drain-timeout", drain_timeout_ms), LIVE("ready-grace", ready_grace_ms),
	LIVE("heartbeat-interval", heartbeat_interval_ms), LIVE("heartbeat-timeout", heartbeat_timeout_ms),
	LIVE("heartbeat-max-backends", heartbeat_max_backends), LIVE("check-interval", check_interval_ms),
	LIVE("check-timeout", check_timeout_ms), LIVE("rise", rise), LIVE("fall", fall),
	LIVE("eject-failures", eject_failures), LIVE("slow-start", slow_start_ms), LIVE("hash-seed", hash_seed),
	LIVE("proxy-timeout", proxy_timeout_ms), LIVE("legacy-heartbeat-timeout", legacy_heartbeat_timeout_ms),
	LIVE("outlier-factor (x100)", outlier_factor_pct), LIVE("outlier-min-requests", outlier_min_requests),
	LIVE("outlier-max-ejected-percent", outlier_max_ejected_pct),
	LIVE("outlier-base-ejection", outlier_base_ejection_ms), LIVE("heartbeat-phi (x100)", heartbeat_phi_x100),
};

static unsigned reload_log_numbers(const struct slb_config *next)
{
	unsigned n = 0;

	for (size_t i = 0; i < sizeof(live_fields) / sizeof(live_fields[0]); i++) {
		unsigned a, b;

		memcpy(&a, (const char *)running + live_fields[i].offset, sizeof(a));
		memcpy(&b, (const char *)next + live_fields[i].offset, sizeof(b));
		if (a == b)
			continue;
		slb_log(LOG_INFO, 0, "reload: %s %u -> %u", live_fields[i].name, a, b);
		n++;
	}
	return n;
}

static unsigned reload_log_choices(const struct slb_config *next)
{
	unsigned n = 0;

	if (running->balance != next->balance && ++n)
		slb_log(LOG_INFO, 0, "reload: balance %s -> %s", balance_algo_name(running->balance),
			balance_algo_name(next->balance));
	if ((running->check != next->check || strcmp(running->check_path, next->check_path)) && ++n)
		slb_log(LOG_INFO, 0, "reload: check changed (kind %d -> %d, path '%s' -> '%s')", running->check,
			next->check, running->check_path, next->check_path);
	if (running->log_level != next->log_level && ++n)
		slb_log(LOG_INFO, 0, "reload: log-level %s -> %s", log_level_name(running->log_level),
			log_level_name(next->log_level));
	if (running->outlier_detection != next->outlier_detection && ++n)
		slb_log(LOG_INFO, 0, "reload: outlier-detection %s", next->outlier_detection ? "on" : "off");
	if (running->hash_key != next->hash_key && ++n)
		slb_log(LOG_INFO, 0, "reload: hash-key changed");
	if ((running->n_heartbeat_allow != next->n_heartbeat_allow ||
	     memcmp(running->heartbeat_allow, next->heartbeat_allow,
		    sizeof(next->heartbeat_allow[0]) * next->n_heartbeat_allow)) && ++n)
		slb_log(LOG_INFO, 0, "reload: heartbeat-allow now has %u networks", next->n_heartbeat_allow);
	return n;
}

/* Parses and validates into next; on any error logs them all and returns -EINVAL. */
static int reload_read(struct slb_config *next)
{
	struct config_errors *errs = calloc(1, sizeof(*errs));
	int ret;

	if (!errs)
		return -ENOMEM;
	ret = config_parse_args(next, saved_argc, saved_argv, errs);
	if (ret == CONFIG_OK)
		config_validate_all(next, errs);
	ret = errs->n ? -EINVAL : 0;
	if (ret)
		reload_log_errors(errs);
	free(errs);
	return ret;
}

/* Both planes switch; the previous config is freed once neither can still read it. */
static int reload_switch(struct slb_config *next)
{
	int ret = health_reconfigure(next);

	if (ret) {
		slb_log(LOG_ERROR, -ret, "reload: the health thread did not take the new configuration");
		return ret;
	}
	if (workers_reconfigure(next)) {
		/* a worker may still read the old one: keep it rather than free it under it */
		slb_log(LOG_ERROR, 0, "reload: a worker did not switch within 2 s; keeping the previous configuration "
			"in memory");
		owned = NULL;
	}
	atomic_store(&log_threshold, next->log_level);
	free(owned);
	owned = next;
	running = next;
	return 0;
}

/* See reload.h. */
int reload_run(void)
{
	struct slb_config *next = calloc(1, sizeof(*next));
	unsigned changes;
	int ret;

	if (!next)
		return -ENOMEM;
	slb_log(LOG_INFO, 0, "SIGHUP: reloading %s", running->config_file[0] ? running->config_file : "the flags");
	ret = reload_read(next);
	if (ret) {
		free(next);
		return ret;
	}
	reload_keep_sockets(next);
	changes = reload_log_numbers(next) + reload_log_choices(next);
	ret = reload_switch(next);
	if (ret) {
		free(next);
		return ret;
	}
	slb_log(LOG_INFO, 0, "reload: done (%u settings changed; backend changes are logged above)", changes);
	return 0;
}
