/* hb_group: a heartbeat session per slb instance; see hb_group.h. */
#include "hb_group.h"

/* See hb_group.h. */
int hb_group_start(struct hb_group *g, struct evloop *loop, const struct cli_addr_list *lbs,
		   const struct hb_client_config *cfg, hb_client_report_fn report, void *arg)
{
	struct hb_client_config one = *cfg;

	g->n = 0;
	for (unsigned i = 0; i < lbs->n; i++) {
		int rc;

		one.lb = lbs->a[i];
		rc = hb_client_start(&g->c[i], loop, &one, report, arg);
		if (rc) {
			hb_group_stop(g);
			return rc;
		}
		g->n = i + 1;
	}
	return 0;
}

/* See hb_group.h. */
void hb_group_send_now(struct hb_group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		hb_client_send_now(g->c[i]);
}

/* See hb_group.h. */
bool hb_group_registered(const struct hb_group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		if (hb_client_registered(g->c[i]))
			return true;
	return false;
}

/* See hb_group.h. */
bool hb_group_drained(const struct hb_group *g)
{
	bool any = false;

	for (unsigned i = 0; i < g->n; i++) {
		if (!hb_client_registered(g->c[i]))
			continue;
		if (!hb_client_drained(g->c[i]))
			return false;
		any = true;
	}
	return any;
}

/* See hb_group.h. */
uint64_t hb_group_heartbeats_sent(const struct hb_group *g)
{
	uint64_t most = 0;

	for (unsigned i = 0; i < g->n; i++) {
		uint64_t sent = hb_client_heartbeats_sent(g->c[i]);

		if (sent > most)
			most = sent;
	}
	return most;
}

/* See hb_group.h. */
void hb_group_stop(struct hb_group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		hb_client_stop(g->c[i]);
	g->n = 0;
}
