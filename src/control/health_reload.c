/* health_reload: a new configuration applied on the health thread (SIGHUP, through
 * health_call). The caller has validated it whole; here every change that needs no new socket
 * is applied and logged once: static backends added, re-weighted, retired (their removal
 * begins; health's sweep ends it as it ends every removal), the table's parameters, and the
 * config the thread's modules read from then on (checks, heartbeat timeout and allow list). */
#include <stdio.h>
#include <string.h>

#include "hb_server.h"
#include "health_loop.h"
#include "slb/common/clock.h"
#include "slb/common/log.h"
#include "slb/control/health.h"
#include "slb/control/health_reload.h"

static const struct config_backend *reload_find(const struct slb_config *cfg, const struct slb_addr *a)
{
	for (unsigned i = 0; i < cfg->n_backends; i++)
		if (!cfg->backends[i].host[0] && addr_equal(&cfg->backends[i].addr, a))
			return &cfg->backends[i];
	return NULL;
}

static void reload_log_backend(const struct backend *b, const char *what)
{
	char text[ADDR_TEXT_MAX];

	slb_log(LOG_INFO, 0, "reload: backend %s %s", addr_format(&b->addr, text, sizeof(text)), what);
}

/* A static backend the new file no longer lists: its removal begins (it drains until its
 * connections end or --drain-timeout). A heartbeat entry is the backends' own business, never
 * the file's. */
static void reload_retire_missing(struct health_ctx *ctx, const struct slb_config *next)
{
	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		struct backend *b = table_get(ctx->table, id);

		/* added through the admin API: the operator's, until a restart or the file names it */
		if (!b || b->source != BE_SOURCE_STATIC || b->api_added || b->removing || reload_find(next, &b->addr))
			continue;
		if (b->origin[0])
			continue; /* a host name's address: health_dns_reload's */
		table_retire(ctx->table, b, ctx->now_ms);
		reload_log_backend(b, "removed: draining");
	}
}

/* A name is the operator's handle on a backend (slb-ctl drain web1), so a change is logged,
 * and so is a name that a backend added through the API bears too (the file cannot know it):
 * by name, the API then answers "ambiguous". */
static void reload_name(struct health_ctx *ctx, struct backend *b, const char *name)
{
	char what[2 * CONFIG_NAME_MAX + 24], old[CONFIG_NAME_MAX];
	unsigned bearers;

	snprintf(old, sizeof(old), "%s", b->name);
	if (!table_set_cfg_name(b, name))
		return;
	snprintf(what, sizeof(what), "name '%s' -> '%s'", old, b->name);
	reload_log_backend(b, what);
	/* names are unique within a service: another service's web1 is told apart by its route */
	if (table_find_name_in(ctx->table, b->name, (int)b->service, &bearers) && bearers > 1)
		slb_log(LOG_WARN, 0, "reload: %u backends bear the name '%s': give the id or the address to "
			"the admin API", bearers, b->name);
}

static void reload_update(struct health_ctx *ctx, struct backend *b, const struct config_backend *cb)
{
	char what[96];
	int n = snprintf(what, sizeof(what), "%s: weight %u -> %u",
			 b->removing == BE_REMOVAL_CONFIG ? "back in the configuration" : "changed", b->cfg_weight, cb->weight);

	if (b->hb_allowed != cb->heartbeat_allow)
		snprintf(what + n, sizeof(what) - (size_t)n, ", heartbeat=%s", cb->heartbeat_allow ? "allow" : "deny");
	if (b->session && !cb->heartbeat_allow)
		hb_server_detach(ctx, b, "heartbeat no longer allowed for this static backend");
	table_adopt_static(ctx->table, b);
	if (table_set_send_proxy(ctx->table, b, cb->send_proxy))
		reload_log_backend(b, "send-proxy changed");
	if (table_set_backup(ctx->table, b, cb->backup))
		reload_log_backend(b, cb->backup ? "now a backup" : "no longer a backup");
	if (table_set_service(ctx->table, b, cb->service))
		reload_log_backend(b, "moved to another service");
	if (table_configure_static(ctx->table, b, cb->weight, cb->heartbeat_allow, ctx->now_ms))
		reload_log_backend(b, what);
	reload_name(ctx, b, cb->name);
}

/* An address the table knows from a heartbeat becomes static: the file wins, and a session
 * that the file does not allow is closed. */
static int reload_adopt(struct health_ctx *ctx, struct backend *b, const struct config_backend *cb)
{
	table_adopt_static(ctx->table, b);
	reload_update(ctx, b, cb);
	table_apply(ctx->table, b, BE_EV_NONE, "now a static backend", ctx->now_ms);
	return 0;
}

static int reload_add(struct health_ctx *ctx, const struct config_backend *cb)
{
	char what[64];
	struct backend *b;
	int rc = table_add_static_named(ctx->table, &cb->addr, cb->weight, cb->name, ctx->now_ms, &b);

	if (rc) {
		char text[ADDR_TEXT_MAX];

		slb_log(LOG_ERROR, 0, "reload: backend %s not added: the table is full",
			addr_format(&cb->addr, text, sizeof(text)));
		return rc;
	}
	table_configure_static(ctx->table, b, cb->weight, cb->heartbeat_allow, ctx->now_ms);
	table_set_send_proxy(ctx->table, b, cb->send_proxy);
	table_set_backup(ctx->table, b, cb->backup);
	table_set_service(ctx->table, b, cb->service);
	snprintf(what, sizeof(what), "added, weight %u", cb->weight);
	reload_log_backend(b, what);
	return 0;
}

static void reload_backends(struct health_ctx *ctx, const struct slb_config *next)
{
	reload_retire_missing(ctx, next);
	for (unsigned i = 0; i < next->n_backends; i++) {
		const struct config_backend *cb = &next->backends[i];
		struct backend *b = cb->host[0] ? NULL : table_find(ctx->table, &cb->addr);

		if (cb->host[0])
			continue; /* health_dns_reload's */
		if (!b)
			reload_add(ctx, cb);
		else if (b->source != BE_SOURCE_STATIC)
			reload_adopt(ctx, b, cb);
		else
			reload_update(ctx, b, cb);
	}
}

/* Whether next retires service svc, served until now (ctx->cfg is the running config). */
static bool reload_retires(const struct health_ctx *ctx, const struct slb_config *next, unsigned svc)
{
	return next->services[svc].retired && svc < ctx->cfg->n_services && !ctx->cfg->services[svc].retired;
}

/* A removed service's backends leave with it through the one removal (BE_REMOVAL_CONFIG):
 * the static ones reload_retire_missing has begun, the heartbeat ones begin here (their
 * sessions stay; a REGISTER into the service is refused from now on). */
static void reload_retire_service(struct health_ctx *ctx, const struct slb_config *next, unsigned svc)
{
	unsigned n = 0;

	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		struct backend *b = table_get(ctx->table, id);

		if (!b || b->service != svc)
			continue;
		table_retire(ctx->table, b, ctx->now_ms);
		n++;
	}
	slb_log(LOG_INFO, 0, "reload: service %s removed: %u backend%s draining", next->services[svc].name, n,
		n == 1 ? "" : "s");
}

static int reload_apply(struct health_ctx *ctx, void *arg)
{
	const struct slb_config *next = arg;
	struct table_params p;

	ctx->now_ms = clock_now_ms();
	health_table_params(next, &p);
	table_set_params(ctx->table, &p);
	reload_backends(ctx, next);
	for (unsigned svc = 0; svc < next->n_services; svc++)
		if (reload_retires(ctx, next, svc))
			reload_retire_service(ctx, next, svc);
	health_dns_reload(ctx, next);
	ctx->cfg = next;
	table_mark_urgent(ctx->table); /* published at the end of this turn: health_reconfigure */
	return 0;
}

/* Runs a turn after reload_apply's, whose end published what reload_apply changed. */
static int reload_published(struct health_ctx *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	return 0;
}

/* See health_reload.h. */
int health_reconfigure(const struct slb_config *next)
{
	int ret = health_call(reload_apply, (void *)next);

	return ret ? ret : health_call(reload_published, NULL);
}

static int reload_count_service(struct health_ctx *ctx, void *arg)
{
	unsigned svc = *(const unsigned *)arg, n = 0;

	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get(ctx->table, id);

		n += b && b->service == svc;
	}
	return (int)n;
}

/* See health_reload.h. */
bool health_service_idle(unsigned svc)
{
	return health_call(reload_count_service, &svc) == 0;
}
