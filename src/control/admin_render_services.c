/* admin_render_services: what the admin endpoint says about each service as a whole: the
 * "services" array of /status and the slb_service_backends gauge of /metrics. Both come from
 * one pass over the table that counts each service's backends by state, so their cost grows
 * with the backends, not with backends x services. */
#include <string.h>

#include "slb/control/admin_render.h"

#define N_STATES (BE_STATE_ADMIN_DOWN + 1)

/* The services the view names: the configuration's, or "default" alone without one. */
static unsigned view_services(const struct admin_view *v)
{
	return v->cfg ? v->cfg->n_services : 1;
}

/* count[s][state]: the backends of service s in that state. A backend whose service index
 * the configuration does not have (none should) is counted nowhere. */
static void count_states(const struct admin_view *v, unsigned count[][N_STATES])
{
	unsigned n = view_services(v);

	memset(count, 0, sizeof(unsigned) * N_STATES * n);
	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(v->table, id);

		if (b && b->service < n && (unsigned)b->state < N_STATES)
			count[b->service][b->state]++;
	}
}

static void service_listen(struct abuf *out, const struct slb_config *cfg, unsigned svc)
{
	char addr[ADDR_TEXT_MAX];
	const char *sep = "";

	abuf_printf(out, ",\"listen\":[");
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		if (cfg->listen_service[i] != svc)
			continue;
		abuf_printf(out, "%s\"%s\"", sep, addr_format(&cfg->listen[i], addr, sizeof(addr)));
		sep = ",";
	}
	abuf_printf(out, "]");
}

/* One service: {"name","state","listen","clients" (what its --client-* settings refused),
 * "algorithm","live","total", and a count per state}.
 * state: serving (it has a listener), unserved (none: the default service beside sections),
 * or removed (by a reload; its backends drain, and it is listed until an upgrade or restart).
 * "live" is what the workers pick from (state up); total counts every backend in the table,
 * draining and down ones included. */
static void service_object(struct abuf *out, const struct admin_view *v, unsigned svc, const unsigned *count)
{
	const struct slb_config *cfg = v->cfg;
	const struct service_config *sc = &cfg->services[svc];
	unsigned total = 0;

	for (unsigned st = 0; st < N_STATES; st++)
		total += count[st];
	/* service names are [a-z0-9_-]: nothing to escape */
	abuf_printf(out, "{\"name\":\"%s\",\"state\":\"%s\"", sc->name,
		    sc->retired ? "removed" : config_service_served(cfg, svc) ? "serving" : "unserved");
	service_listen(out, cfg, svc);
	admin_render_service_clients(out, v, svc);
	abuf_printf(out, ",\"algorithm\":\"%s\",\"live\":%u,\"total\":%u", balance_algo_name(sc->balance),
		    count[BE_STATE_UP], total);
	for (unsigned st = 0; st < N_STATES; st++)
		abuf_printf(out, ",\"%s\":%u", be_state_name((enum be_state)st), count[st]);
	abuf_printf(out, "}");
}

/* See slb/control/admin_render.h. */
void admin_render_services(struct abuf *out, const struct admin_view *v)
{
	unsigned count[CONFIG_MAX_SERVICES][N_STATES];
	const char *sep = "\n";

	if (!v->cfg)
		return;
	count_states(v, count);
	abuf_printf(out, ",\"services\":[");
	for (unsigned s = 0; s < v->cfg->n_services; s++) {
		if (v->service >= 0 && s != (unsigned)v->service)
			continue;
		abuf_printf(out, "%s", sep);
		service_object(out, v, s, count[s]);
		sep = ",\n";
	}
	abuf_printf(out, "\n]");
}

/* See slb/control/admin_render.h. */
void admin_render_service_metrics(struct abuf *out, const struct admin_view *v)
{
	unsigned count[CONFIG_MAX_SERVICES][N_STATES];

	count_states(v, count);
	abuf_printf(out, "# HELP slb_service_backends Backends of each service, by state (live: state up)\n"
			 "# TYPE slb_service_backends gauge\n");
	for (unsigned s = 0; s < view_services(v); s++) {
		const char *name = v->cfg ? config_service_name(v->cfg, s) : "default";

		for (unsigned st = 0; st < N_STATES; st++)
			abuf_printf(out, "slb_service_backends{service=\"%s\",state=\"%s\"} %u\n", name,
				    be_state_name((enum be_state)st), count[s][st]);
	}
}
