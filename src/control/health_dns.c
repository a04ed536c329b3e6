/* health_dns: backends by host name on the health thread. The resolver thread (resolver.h)
 * does the blocking lookups; here its answers become table changes: an address that joins a
 * name's answer is added as a static backend whose origin is the name, one that leaves it
 * drains through the one removal (BE_REMOVAL_DNS), and a failed lookup changes nothing (the
 * last good addresses stay). Each address is then an entry like any other, probed and ejected
 * on its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "health_loop.h"
#include "slb/common/log.h"
#include "slb/control/resolver.h"

#define DNS_TAKE_BATCH 8 /* answers taken from the mailbox at a time */

struct health_dns {
	struct hl_handler h;          /* the eventfd the resolver thread writes after each answer */
	struct resolver *resolver;
	unsigned n;                   /* names in sets */
	struct dns_set *sets;         /* one per --backend host name, [CONFIG_MAX_STATIC_BACKENDS] */
	struct resolver_name names[CONFIG_MAX_STATIC_BACKENDS]; /* what the resolver was last given */
	struct resolver_answer batch[DNS_TAKE_BATCH];
};

/* The --backend of cfg that names host:port, or NULL. */
static const struct config_backend *dns_config(const struct slb_config *cfg, const char *host, uint16_t port)
{
	for (unsigned i = 0; i < cfg->n_backends; i++)
		if (cfg->backends[i].host[0] && cfg->backends[i].port == port &&
		    strcasecmp(cfg->backends[i].host, host) == 0)
			return &cfg->backends[i];
	return NULL;
}

static struct dns_set *dns_find_set(struct dns_set *sets, unsigned n, const char *host, uint16_t port)
{
	for (unsigned i = 0; i < n; i++)
		if (sets[i].port == port && strcasecmp(sets[i].host, host) == 0)
			return &sets[i];
	return NULL;
}

/* Whether b came from host:port's answer. */
static bool dns_owns(const struct backend *b, const char *host, uint16_t port)
{
	return b && b->origin[0] && addr_port(&b->addr) == port && strcasecmp(b->origin, host) == 0;
}

static void dns_log(const char *host, const struct slb_addr *a, const char *what)
{
	char text[ADDR_TEXT_MAX];

	slb_log(LOG_INFO, 0, "dns: %s: %s %s", host, addr_format(a, text, sizeof(text)), what);
}

/* An address joined the answer: a new backend, or one of this name's that was draining
 * because it had left (or because a reload had dropped the name) taken back. An address some
 * other --backend or a heartbeat already has stays theirs. */
static void dns_add(struct health_ctx *ctx, const struct config_backend *cb, const struct slb_addr *a)
{
	struct backend *b = table_find(ctx->table, a);

	if (dns_owns(b, cb->host, cb->port)) {
		if (b->removing)
			table_apply(ctx->table, b, BE_EV_RESTORE, NULL, ctx->now_ms);
		return;
	}
	if (b) {
		dns_log(cb->host, a, "is a backend already: left as it is");
		return;
	}
	if (table_add_resolved(ctx->table, a, cb->weight, cb->host, ctx->now_ms, &b)) {
		slb_log(LOG_ERROR, 0, "dns: %s: the backend table is full: an address is left out", cb->host);
		return;
	}
	table_configure_static(ctx->table, b, cb->weight, cb->heartbeat_allow, ctx->now_ms);
	table_set_send_proxy(ctx->table, b, cb->send_proxy);
	table_set_backup(ctx->table, b, cb->backup);
	table_set_service(ctx->table, b, cb->service);
	dns_log(cb->host, a, "added");
}

/* An address left the answer: it drains like a removed backend (health's sweep ends it). */
static void dns_gone(struct health_ctx *ctx, const struct config_backend *cb, const struct slb_addr *a)
{
	struct backend *b = table_find(ctx->table, a);

	if (!dns_owns(b, cb->host, cb->port) || b->removing)
		return;
	table_apply(ctx->table, b, BE_EV_DNS_GONE, NULL, ctx->now_ms);
	dns_log(cb->host, a, "left the answer: draining");
}

/* Once per change between answering and failing, not once per lookup. */
static void dns_log_failure(const struct dns_set *s, const struct resolver_answer *a)
{
	if (!a->error)
		slb_log(LOG_INFO, 0, "dns: %s resolves again", s->host);
	else if (!s->answered)
		slb_log(LOG_WARN, 0, "dns: %s does not resolve (%s): no backend from it until it does", s->host, a->err);
	else
		slb_log(LOG_WARN, 0, "dns: %s: lookup failed (%s): keeping its %u addresses", s->host, a->err, s->n);
}

static void dns_apply(struct health_ctx *ctx, const struct resolver_answer *a)
{
	struct dns_set *s = dns_find_set(ctx->dns->sets, ctx->dns->n, a->host, a->port);
	const struct config_backend *cb = dns_config(ctx->cfg, a->host, a->port);
	struct dns_diff d;

	if (!s || !cb)
		return; /* a name a reload dropped, answered before the resolver heard of it */
	if (dns_set_update(s, a, &d))
		dns_log_failure(s, a);
	if (a->truncated && d.n_added)
		slb_log(LOG_WARN, 0, "dns: %s has more than %d addresses: the rest are left out", s->host,
			RESOLVER_MAX_ADDRS);
	for (unsigned i = 0; i < d.n_added; i++)
		dns_add(ctx, cb, &d.added[i]);
	for (unsigned i = 0; i < d.n_gone; i++)
		dns_gone(ctx, cb, &d.gone[i]);
	if (d.n_added + d.n_gone)
		table_mark_urgent(ctx->table); /* an address is in /status: it takes clients as well */
}

static void dns_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	struct health_dns *d = ctx->dns;
	uint64_t v;
	unsigned n;

	(void)events;
	if (read(h->fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		slb_log_limited(LOG_WARN, errno, "dns: eventfd read");
	do {
		n = resolver_take(d->resolver, d->batch, DNS_TAKE_BATCH);
		for (unsigned i = 0; i < n; i++)
			dns_apply(ctx, &d->batch[i]);
	} while (n == DNS_TAKE_BATCH);
}

/* cfg's host names become the sets (one a name keeps carries its last good answer over) and
 * the resolver's names, looked up again at once. */
static int dns_set_names(struct health_dns *d, const struct slb_config *cfg)
{
	struct dns_set *sets = calloc(CONFIG_MAX_STATIC_BACKENDS, sizeof(*sets));
	unsigned n = 0;

	if (!sets)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->n_backends; i++) {
		const struct config_backend *cb = &cfg->backends[i];
		struct dns_set *old = cb->host[0] ? dns_find_set(d->sets, d->n, cb->host, cb->port) : NULL;

		if (!cb->host[0])
			continue;
		if (old)
			sets[n] = *old;
		snprintf(sets[n].host, sizeof(sets[n].host), "%s", cb->host);
		sets[n].port = cb->port;
		d->names[n] = (struct resolver_name){ .port = cb->port };
		snprintf(d->names[n].host, sizeof(d->names[n].host), "%s", cb->host);
		n++;
	}
	free(d->sets);
	d->sets = sets;
	d->n = n;
	resolver_set_names(d->resolver, d->names, n, cfg->resolve_interval_ms);
	return 0;
}

static unsigned dns_count_hosts(const struct slb_config *cfg)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_backends; i++)
		n += cfg->backends[i].host[0] != '\0';
	return n;
}

static int dns_start(struct health_ctx *ctx, const struct slb_config *cfg)
{
	struct health_dns *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->h.on_event = dns_on_event;
	d->h.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->h.fd == -1) {
		rc = -errno;
		free(d);
		return rc;
	}
	ctx->dns = d;
	rc = hl_add(ctx, &d->h, EPOLLIN);
	if (!rc)
		rc = resolver_start(cfg->resolve_interval_ms, d->h.fd, &d->resolver);
	return rc;
}

/* See health_loop.h. */
int health_dns_open(struct health_ctx *ctx, const struct slb_config *cfg, char *err, size_t errlen)
{
	unsigned n = dns_count_hosts(cfg);
	int rc;

	if (!n)
		return 0;
	rc = dns_start(ctx, cfg);
	if (!rc)
		rc = dns_set_names(ctx->dns, cfg);
	if (rc) {
		snprintf(err, errlen, "dns: cannot start the resolver: %s", strerror(-rc));
		health_dns_close(ctx); /* a reload may try again; nothing half made may stay */
		return rc;
	}
	slb_log(LOG_INFO, 0, "dns: %u backend host names, looked up every %u ms", n, cfg->resolve_interval_ms);
	return 0;
}

/* A reload dropped b's host name (drain, as for a dropped --backend), or keeps it (the
 * --backend line's settings, for an address not on its way out). */
static void dns_reload_entry(struct health_ctx *ctx, struct backend *b, const struct slb_config *next)
{
	const struct config_backend *cb = dns_config(next, b->origin, addr_port(&b->addr));

	if (!cb && !b->removing) {
		table_retire(ctx->table, b, ctx->now_ms);
		dns_log(b->origin, &b->addr, "removed with its host name: draining");
	} else if (cb && !b->removing) {
		table_configure_static(ctx->table, b, cb->weight, cb->heartbeat_allow, ctx->now_ms);
		table_set_send_proxy(ctx->table, b, cb->send_proxy);
		table_set_backup(ctx->table, b, cb->backup);
		table_set_service(ctx->table, b, cb->service);
	}
}

/* See health_loop.h. */
int health_dns_reload(struct health_ctx *ctx, const struct slb_config *next)
{
	char err[128];
	int rc;

	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		struct backend *b = table_get(ctx->table, id);

		if (b && b->origin[0])
			dns_reload_entry(ctx, b, next);
	}
	if (!ctx->dns)
		rc = health_dns_open(ctx, next, err, sizeof(err));
	else
		rc = dns_set_names(ctx->dns, next);
	if (rc)
		slb_log(LOG_ERROR, -rc, "reload: backend host names are not looked up");
	return rc;
}

/* See health_loop.h. */
void health_dns_close(struct health_ctx *ctx)
{
	struct health_dns *d = ctx->dns;

	if (!d)
		return;
	resolver_stop(d->resolver); /* first: it writes d->h.fd */
	epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, d->h.fd, NULL); /* an event already queued must not reach d */
	close(d->h.fd);
	free(d->sets);
	free(d);
	ctx->dns = NULL;
}
