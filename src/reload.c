/* reload: a changed configuration applied without a restart, or not at all. The new config
 * is parsed into a fresh struct while the running one keeps serving; it replaces the running
 * one only once it is valid whole, first on the health thread (backends, checks, heartbeat
 * settings), then on the workers (picker, timeouts, retries), and the old one is freed only
 * after both have let go of it. */
#include "reload.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/log.h"
#include "slb/control/health_reload.h"
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

static bool reload_field_zero(const char *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (p[i])
			return false;
	return true;
}

/* Whether next differs from the running config in size bytes at offset (none when size is 0). */
static bool reload_differs(const struct slb_config *next, size_t offset, size_t size)
{
	return memcmp((const char *)running + offset, (const char *)next + offset, size) != 0;
}

static void reload_restore(struct slb_config *next, size_t offset, size_t size)
{
	memcpy((char *)next + offset, (const char *)running + offset, size);
}

/* A flag whose change needs new sockets, threads or memory sized at start (the flag table's
 * reload column): next gets the running value back, with its count or has_ field, and an
 * operator who changed it is told when it takes effect. */
static void reload_keep_one(const struct config_field *f, struct slb_config *next)
{
	size_t count_size = f->count ? sizeof(unsigned) : 0, has_size = f->has ? sizeof(bool) : 0;

	if (!reload_differs(next, f->offset, f->size) && !reload_differs(next, f->count, count_size) &&
	    !reload_differs(next, f->has, has_size))
		return;
	if (f->reload == CONFIG_RELOAD_WAITS || !reload_field_zero((const char *)next + f->offset, f->size))
		slb_log(LOG_WARN, 0, "reload: %s changed: it needs new sockets or threads and takes effect at the next "
			"upgrade (slb --takeover) or restart; the running value stays", f->name);
	reload_restore(next, f->offset, f->size);
	reload_restore(next, f->count, count_size);
	reload_restore(next, f->has, has_size);
}

/* maglev accepts carry client addresses (worker.c), the other pickers do not. */
static void reload_keep_balance(struct service_config *next, const struct service_config *run)
{
	if ((run->balance == BALANCE_MAGLEV) == (next->balance == BALANCE_MAGLEV))
		return;
	slb_log(LOG_WARN, 0, "reload: service %s: balance %s -> %s changes how workers accept and takes effect at the "
		"next upgrade or restart; balance %s stays", run->name, balance_algo_name(run->balance),
		balance_algo_name(next->balance), balance_algo_name(run->balance));
	next->balance = run->balance;
}

/* Whether a service sends PROXY headers decides at start whether workers learn addresses. */
static void reload_keep_send_proxy(struct service_config *next, const struct service_config *run)
{
	if (next->send_proxy == run->send_proxy)
		return;
	slb_log(LOG_WARN, 0, "reload: service %s: send-proxy changed: it takes effect at the next upgrade or restart; "
		"the running value stays", run->name);
	next->send_proxy = run->send_proxy;
}

/* Workers build their name maps and hello buffers at start (conn_sni.c): the sni listeners
 * and each service's names and fallback stay as they were until the next upgrade. */
static void reload_keep_sni(struct slb_config *next, struct service_config *svc, const struct service_config *run)
{
	if (strcmp(svc->sni, run->sni) || svc->sni_fallback != run->sni_fallback)
		slb_log(LOG_WARN, 0, "reload: service %s: sni or sni-fallback changed: server names take effect at the "
			"next upgrade (slb --takeover) or restart; the running ones stay", run->name);
	memcpy(svc->sni, run->sni, sizeof(svc->sni));
	svc->sni_fallback = run->sni_fallback;
	memcpy(next->listen_sni, running->listen_sni, sizeof(next->listen_sni));
}

static void reload_keep_sockets(struct slb_config *next)
{
	struct config_field f;

	for (unsigned i = 0; i < config_flag_count(); i++)
		if (config_flag_field(i, &f) && f.reload != CONFIG_RELOAD_APPLIES)
			reload_keep_one(&f, next);
	/* not a flag: sized from RLIMIT_NOFILE at start, with the pipe pools */
	next->pipes_per_worker = running->pipes_per_worker;
	/* the listeners stay, and with them whose they are (the services are the same:
	 * reload_same_services) */
	memcpy(next->listen_service, running->listen_service, sizeof(next->listen_service));
	for (unsigned i = 0; i < next->n_services; i++) {
		reload_keep_balance(&next->services[i], &running->services[i]);
		reload_keep_send_proxy(&next->services[i], &running->services[i]);
		reload_keep_sni(next, &next->services[i], &running->services[i]);
	}
}

/* Services are added, removed or renamed at the next upgrade: workers size their pickers and
 * the snapshot its pools by them, and listeners would have to be bound. A reload that does
 * so is refused whole, so that no backend lands in a service that is not served. */
static void reload_same_services(const struct slb_config *next, struct config_errors *errs)
{
	bool same = next->n_services == running->n_services;

	for (unsigned i = 0; same && i < next->n_services; i++)
		same = strcmp(next->services[i].name, running->services[i].name) == 0;
	if (!same)
		config_errors_add(errs, "the services were added, removed, renamed or reordered: that takes an upgrade "
				  "(slb --takeover) or a restart");
}

/* The numbers a reload applies, logged "name old -> new" when they change. */
/* A per-service flag's field is the default service's (config_flag_field); service svc's
 * sits svc service_configs further. The others are named as before services: "retries". */
static unsigned reload_log_numbers_of(const struct slb_config *next, unsigned svc)
{
	struct config_field f;
	unsigned n = 0;

	for (unsigned i = 0; i < config_flag_count(); i++) {
		unsigned a, b;
		size_t at;

		if (!config_flag_field(i, &f) || f.reload != CONFIG_RELOAD_APPLIES || !f.scale ||
		    (svc && !f.per_service))
			continue;
		at = f.offset + (f.per_service ? svc * sizeof(struct service_config) : 0);
		memcpy(&a, (const char *)running + at, sizeof(a));
		memcpy(&b, (const char *)next + at, sizeof(b));
		if (a == b)
			continue;
		slb_log(LOG_INFO, 0, "reload: %s%s%s%s%s %u -> %u", svc ? "service " : "", svc ? next->services[svc].name : "",
			svc ? ": " : "", f.name, f.scale == 100 ? " (x100)" : "", a, b);
		n++;
	}
	return n;
}

static unsigned reload_log_numbers(const struct slb_config *next)
{
	unsigned n = 0;

	for (unsigned svc = 0; svc < next->n_services; svc++)
		n += reload_log_numbers_of(next, svc);
	return n;
}

static unsigned reload_log_choices(const struct slb_config *next)
{
	unsigned n = 0;

	if (running->services[0].balance != next->services[0].balance && ++n)
		slb_log(LOG_INFO, 0, "reload: balance %s -> %s", balance_algo_name(running->services[0].balance),
			balance_algo_name(next->services[0].balance));
	if ((running->services[0].check != next->services[0].check || strcmp(running->services[0].check_path, next->services[0].check_path)) && ++n)
		slb_log(LOG_INFO, 0, "reload: check changed (kind %d -> %d, path '%s' -> '%s')", running->services[0].check,
			next->services[0].check, running->services[0].check_path, next->services[0].check_path);
	if (running->log_level != next->log_level && ++n)
		slb_log(LOG_INFO, 0, "reload: log-level %s -> %s", log_level_name(running->log_level),
			log_level_name(next->log_level));
	if (running->outlier_detection != next->outlier_detection && ++n)
		slb_log(LOG_INFO, 0, "reload: outlier-detection %s", next->outlier_detection ? "on" : "off");
	if (running->services[0].hash_key != next->services[0].hash_key && ++n)
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
	if (ret == CONFIG_OK)
		reload_same_services(next, errs);
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
