/* health_gray: the health thread's side of gray failures. Every GRAY_EVAL_MS it reads each
 * worker's latency averages per backend (relaxed loads of lines only their worker writes),
 * combines them, asks gray_judge for verdicts, ejects outliers through the backend table (one
 * logged transition each, with the figures as the reason) and keeps p2c's latency factors,
 * which reach the workers with the next snapshot. */
#include <stdio.h>

#include "health_loop.h"
#include "slb/common/log.h"

#define GRAY_EVAL_MS 100 /* 10 verdicts a second: an outlier is out well within the 3 s asked */

/* The table's entries as candidates, in id order. Returns how many. */
static unsigned gray_collect(struct health_ctx *ctx, struct gray_candidate *cand)
{
	unsigned n = 0;

	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(ctx->table, id);

		if (!b)
			continue;
		cand[n].id = id;
		cand[n].live = b->state == BE_STATE_UP;
		cand[n].ejected = b->ejected_until_ms != 0;
		cand[n].ttfb = gray_backend_figure(ctx->channels, ctx->n_channels, id, true, ctx->now_ms);
		cand[n].connect = gray_backend_figure(ctx->channels, ctx->n_channels, id, false, ctx->now_ms);
		n++;
	}
	return n;
}

static void gray_params_of(const struct slb_config *cfg, struct gray_params *p)
{
	p->detect = cfg->outlier_detection;
	p->factor_pct = cfg->outlier_factor_pct;
	p->min_requests = cfg->outlier_min_requests;
	p->max_ejected_pct = cfg->outlier_max_ejected_pct;
}

/* An outlier the cap keeps in is worth a line, but not one per verdict. */
static void gray_log_capped(const struct gray_candidate *c, const struct slb_config *cfg)
{
	slb_log_limited(LOG_WARN, 0, "backend id %u is an %s, but stays in: --outlier-max-ejected-percent %u "
			"reached", c->id, c->reason, cfg->outlier_max_ejected_pct);
}

/* Whether a service picks with p2c, the one picker that reads the latency factor. */
static bool health_gray_p2c(const struct slb_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].balance == BALANCE_P2C)
			return true;
	return false;
}

bool health_gray_tick(struct health_ctx *ctx)
{
	struct gray_board *g = ctx->gray;
	struct gray_params p;
	bool changed = false;
	unsigned n;

	if (!g || ctx->now_ms < g->next_eval_ms)
		return false;
	g->next_eval_ms = ctx->now_ms + GRAY_EVAL_MS;
	gray_params_of(ctx->cfg, &p);
	n = gray_collect(ctx, g->cand);
	gray_judge(g->cand, n, &p);
	for (unsigned i = 0; i < n; i++) {
		struct gray_candidate *c = &g->cand[i];
		struct backend *b = table_get(ctx->table, c->id);

		if (c->outlier)
			table_apply(ctx->table, b, BE_EV_OUTLIER, c->reason, ctx->now_ms);
		else if (c->capped)
			gray_log_capped(c, ctx->cfg);
		changed |= g->be[c->id].lat_pct != c->lat_pct;
		g->be[c->id].lat_pct = c->lat_pct;
	}
	/* only p2c reads the factor: other pickers need no snapshot for it */
	return changed && health_gray_p2c(ctx->cfg);
}

void health_gray_fill(const struct health_ctx *ctx, struct snapshot *snap)
{
	for (uint32_t k = 0; ctx->gray && k < snap->n_pools; k++) {
		struct snap_pool *s = snap->pool[k];

		for (uint32_t i = 0; i < s->n; i++)
			if (ctx->gray->be[s->be[i].id].lat_pct)
				s->be[i].lat_pct = ctx->gray->be[s->be[i].id].lat_pct;
	}
}
