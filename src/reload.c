/* reload: a changed configuration applied without a restart, or not at all. The new config
 * is parsed into a fresh struct while the running one keeps serving; its services are lined
 * up with the running ones by name (service_align), the sockets of its new listen addresses
 * are bound; only once all of that succeeded does it replace the running one, first on the
 * health thread (services' pools, backends, checks, heartbeat settings), then on the workers
 * (listeners, picker, timeouts, retries), and the old one is freed only after both have let
 * go of it. */
#include "reload.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/config_sni.h"
#include "slb/common/log.h"
#include "slb/common/service_align.h"
#include "slb/control/health_reload.h"
#include "slb/dataplane/worker.h"

static int saved_argc;
static char **saved_argv;
static const struct slb_config *running;
static struct slb_config *owned; /* running, when a reload allocated it; NULL for start-up's */
static struct service_align plan; /* what the reload under way does to the services */

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

/* maglev needs accepts that carry client addresses, which workers set up at start only when
 * a service used maglev then (worker.c); leaving maglev needs nothing. */
static void reload_keep_balance(struct service_config *next, const struct service_config *run)
{
	if (next->balance != BALANCE_MAGLEV || run->balance == BALANCE_MAGLEV || workers_hash_clients())
		return;
	slb_log(LOG_WARN, 0, "reload: service %s: balance %s -> %s changes how workers accept (no service used maglev "
		"at start) and takes effect at the next upgrade or restart; balance %s stays", run->name,
		balance_algo_name(run->balance), balance_algo_name(next->balance), balance_algo_name(run->balance));
	next->balance = run->balance;
}

/* A PROXY header needs the client's addresses, which workers learn only when something needed
 * them at start (workers_learn_clients). */
static void reload_keep_send_proxy(struct service_config *next, const struct service_config *run)
{
	if (next->send_proxy == run->send_proxy || next->send_proxy == PROXY_NONE || workers_learn_clients())
		return;
	slb_log(LOG_WARN, 0, "reload: service %s: send-proxy changed: the workers learn no client addresses (nothing "
		"needed them at start); it takes effect at the next upgrade or restart; the running value stays",
		run->name);
	next->send_proxy = run->send_proxy;
}

/* The client table exists only when a service had --client-* settings at start
 * (workers_limit_clients): without it, a kept service's new settings wait for an upgrade (a
 * new service with them is refused: workers_can_serve). With it, every change applies at once,
 * turning the last setting off included (the table then simply goes unused). */
static void reload_keep_client_limits(struct service_config *next)
{
	if (!service_limits_clients(next) || workers_limit_clients())
		return;
	slb_log(LOG_WARN, 0, "reload: service %s: client-* settings: the workers were started without any, so they keep "
		"no client table; they take effect at the next upgrade or restart", next->name);
	next->client_max_conns = 0;
	next->client_max_rate = 0;
	next->n_client_allow = 0;
	next->n_client_deny = 0;
}

/* The same for a backend's own send-proxy=: a worker that learns no client addresses has no
 * place to build the header from (it would read a table it never allocated). */
static void reload_keep_backend_proxy(struct slb_config *next)
{
	char text[ADDR_TEXT_MAX];

	if (workers_learn_clients())
		return;
	for (unsigned i = 0; i < next->n_backends; i++) {
		struct config_backend *b = &next->backends[i];

		if (b->send_proxy == PROXY_NONE)
			continue;
		slb_log(LOG_WARN, 0, "reload: backend %s: send-proxy=%s: the workers learn no client addresses (nothing "
			"needed them at start); it takes effect at the next upgrade or restart; none is sent until then",
			b->host[0] ? b->host : addr_format(&b->addr, text, sizeof(text)), proxy_version_name(b->send_proxy));
		b->send_proxy = PROXY_NONE;
	}
}

static void reload_keep_sockets(struct slb_config *next)
{
	struct config_field f;

	for (unsigned i = 0; i < config_flag_count(); i++)
		if (config_flag_field(i, &f) && f.reload != CONFIG_RELOAD_APPLIES)
			reload_keep_one(&f, next);
	/* not a flag: sized from RLIMIT_NOFILE at start, with the pipe pools */
	next->pipes_per_worker = running->pipes_per_worker;
	reload_keep_backend_proxy(next);
	for (unsigned k = 0; k < plan.n_kept; k++) {
		reload_keep_balance(&next->services[plan.kept[k]], &running->services[plan.kept[k]]);
		reload_keep_send_proxy(&next->services[plan.kept[k]], &running->services[plan.kept[k]]);
		reload_keep_client_limits(&next->services[plan.kept[k]]);
	}
}

static bool reload_service_idle(unsigned svc, void *arg)
{
	(void)arg;
	return health_service_idle(svc);
}

/* Services by name (service_align: kept ones keep their index, removed ones stay retired while
 * they drain), and each service this reload adds checked against what the workers can serve. */
static void reload_align(struct slb_config *next, struct config_errors *errs)
{
	char err[CONFIG_ERROR_LEN];

	if (service_align(running, next, reload_service_idle, NULL, &plan, err, sizeof(err))) {
		config_errors_add(errs, "%s", err);
		return;
	}
	for (unsigned k = 0; k < plan.n_added; k++)
		if (workers_can_serve(next, plan.added[k], err, sizeof(err)))
			config_errors_add(errs, "%s", err);
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

/* A service this reload adds has no running numbers to compare with: reload_log_services. */
static unsigned reload_log_numbers(const struct slb_config *next)
{
	unsigned n = 0;

	for (unsigned k = 0; k < plan.n_kept; k++)
		n += reload_log_numbers_of(next, plan.kept[k]);
	return n;
}

/* "A, B": the listen addresses of service svc in cfg that other (may be NULL) lacks. */
static unsigned reload_listeners_of(const struct slb_config *cfg, unsigned svc, const struct slb_config *other,
				    char *buf, size_t len)
{
	unsigned n = 0;
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < cfg->n_listen && at < len; i++) {
		char text[ADDR_TEXT_MAX];

		if (cfg->listen_service[i] != svc || (other && config_listen_find(other, &cfg->listen[i]) >= 0))
			continue;
		at += (size_t)snprintf(buf + at, len - at, "%s%s", n++ ? ", " : "", addr_format(&cfg->listen[i], text,
											     sizeof(text)));
	}
	return n;
}

/* Listen addresses that stay but change service, and those that go: one line each. */
static unsigned reload_log_moves(const struct slb_config *next)
{
	char text[ADDR_TEXT_MAX];
	unsigned n = 0;

	for (unsigned i = 0; i < running->n_listen; i++) {
		int j = config_listen_find(next, &running->listen[i]);
		unsigned from = running->listen_service[i];

		addr_format(&running->listen[i], text, sizeof(text));
		if (j < 0 && ++n)
			slb_log(LOG_INFO, 0, "reload: %s (service %s) closed: no new connections, open ones drain", text,
				running->services[from].name);
		else if (j >= 0 && next->listen_service[j] != from && ++n)
			slb_log(LOG_INFO, 0, "reload: %s moves from service %s to service %s", text,
				running->services[from].name, next->services[next->listen_service[j]].name);
	}
	return n;
}

/* Services added (with their listeners), listeners a kept service gains, and moves and
 * closes; a removed service's line, with its backends, is health's (health_reload.c). */
static unsigned reload_log_services(const struct slb_config *next)
{
	char addrs[512];
	unsigned n = plan.n_added;

	for (unsigned k = 0; k < plan.n_added; k++) {
		reload_listeners_of(next, plan.added[k], NULL, addrs, sizeof(addrs));
		slb_log(LOG_INFO, 0, "reload: service %s added, listening on %s", next->services[plan.added[k]].name,
			addrs);
	}
	for (unsigned k = 0; k < plan.n_kept; k++)
		if (reload_listeners_of(next, plan.kept[k], running, addrs, sizeof(addrs)) && ++n)
			slb_log(LOG_INFO, 0, "reload: service %s now also listens on %s", next->services[plan.kept[k]].name,
				addrs);
	return n + reload_log_moves(next);
}

/* A kept service's choices (not numbers), "reload: service api: balance rr -> p2c"; the
 * default service's lines read as before services ("reload: balance rr -> p2c"). */
static unsigned reload_log_service_choices(const struct slb_config *next, unsigned svc)
{
	const struct service_config *a = &running->services[svc], *b = &next->services[svc];
	char who[CONFIG_SERVICE_NAME_MAX + 16] = "";
	unsigned n = 0;

	if (svc)
		snprintf(who, sizeof(who), "service %s: ", b->name);
	if (a->balance != b->balance && ++n)
		slb_log(LOG_INFO, 0, "reload: %sbalance %s -> %s", who, balance_algo_name(a->balance),
			balance_algo_name(b->balance));
	if ((a->check != b->check || strcmp(a->check_path, b->check_path)) && ++n)
		slb_log(LOG_INFO, 0, "reload: %scheck changed (kind %d -> %d, path '%s' -> '%s')", who, a->check, b->check,
			a->check_path, b->check_path);
	if (a->hash_key != b->hash_key && ++n)
		slb_log(LOG_INFO, 0, "reload: %shash-key changed", who);
	if (a->send_proxy != b->send_proxy && ++n)
		slb_log(LOG_INFO, 0, "reload: %ssend-proxy %s -> %s", who, proxy_version_name(a->send_proxy),
			proxy_version_name(b->send_proxy));
	return n;
}

static unsigned reload_log_choices(const struct slb_config *next)
{
	unsigned n = 0;

	for (unsigned k = 0; k < plan.n_kept; k++)
		n += reload_log_service_choices(next, plan.kept[k]);
	if (running->log_level != next->log_level && ++n)
		slb_log(LOG_INFO, 0, "reload: log-level %s -> %s", log_level_name(running->log_level),
			log_level_name(next->log_level));
	if (running->outlier_detection != next->outlier_detection && ++n)
		slb_log(LOG_INFO, 0, "reload: outlier-detection %s", next->outlier_detection ? "on" : "off");
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
	/* workers build the name maps and hello buffers at start (conn_sni.c) */
	if (ret == CONFIG_OK && !errs->n && !config_sni_same(running, next))
		config_errors_add(errs, "the ,sni listeners, sni names or sni-fallback changed: they take an upgrade "
				  "(slb --takeover) or a restart");
	if (ret == CONFIG_OK && !errs->n)
		reload_align(next, errs);
	ret = errs->n ? -EINVAL : 0;
	if (ret)
		reload_log_errors(errs);
	free(errs);
	return ret;
}

/* Both planes switch; the previous config is freed once neither can still read it, and the
 * new listeners' sockets (bound) are the workers' once they switched. */
static int reload_switch(struct slb_config *next, struct workers_inherit *bound)
{
	int ret = health_reconfigure(next);

	if (ret) {
		slb_log(LOG_ERROR, -ret, "reload: the health thread did not take the new configuration");
		return ret;
	}
	if (workers_reconfigure(next, bound)) {
		/* a worker may still read the old one, or take a socket: keep them rather than free
		 * them under it */
		slb_log(LOG_ERROR, 0, "reload: a worker did not switch within 2 s; keeping the previous configuration "
			"in memory");
		owned = NULL;
	} else {
		free(bound);
	}
	atomic_store(&log_threshold, next->log_level);
	free(owned);
	owned = next;
	running = next;
	return 0;
}

/* Every new listen address bound, one socket per worker, before anything changes: a port in
 * use rejects the reload whole. Returns the sockets, or NULL (logged). */
static struct workers_inherit *reload_bind(const struct slb_config *next)
{
	struct workers_inherit *bound = calloc(1, sizeof(*bound));
	char err[CONFIG_ERROR_LEN];
	int ret;

	if (!bound) {
		slb_log(LOG_ERROR, ENOMEM, "reload rejected: the running configuration stays in force");
		return NULL;
	}
	ret = workers_bind_new(running, next, workers_count(), bound, err, sizeof(err));
	if (!ret)
		return bound;
	slb_log(LOG_ERROR, 0, "reload: %s", err);
	slb_log(LOG_ERROR, 0, "reload rejected: the running configuration stays in force");
	free(bound);
	return NULL;
}

/* See reload.h. */
int reload_run(void)
{
	struct slb_config *next = calloc(1, sizeof(*next));
	struct workers_inherit *bound;
	unsigned changes;
	int ret;

	if (!next)
		return -ENOMEM;
	slb_log(LOG_INFO, 0, "SIGHUP: reloading %s", running->config_file[0] ? running->config_file : "the flags");
	ret = reload_read(next);
	if (ret)
		goto out_free_next;
	reload_keep_sockets(next);
	bound = reload_bind(next);
	ret = bound ? 0 : -EADDRINUSE;
	if (ret)
		goto out_free_next;
	changes = reload_log_numbers(next) + reload_log_choices(next) + reload_log_services(next);
	ret = reload_switch(next, bound);
	if (ret) {
		workers_close_bound(bound);
		free(bound);
		goto out_free_next;
	}
	slb_log(LOG_INFO, 0, "reload: done (%u settings changed; backend changes are logged above)", changes);
	return 0;
out_free_next:
	free(next);
	return ret;
}
