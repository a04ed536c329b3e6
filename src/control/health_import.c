/* health_import: the new slb's side of a binary upgrade, run while health_prepare builds the
 * table: the leases and the runtime state the running slb exported (health_handover.c) are
 * replayed through the table's own events, so what an operator set survives the upgrade. */
#include "health_import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/heartbeat.h"
#include "slb/common/log.h"
#include "slb/control/backend_table.h"
#include "slb/control/backend_table_restore.h"

#define STATE_DETAIL "before the upgrade" /* in the reason of each change replayed */

/* One lease: parsed as the REGISTER it stands for. Returns 0 or -errno with why filled. */
static int import_one(struct health_ctx *ctx, const char *text, char *why, size_t len)
{
	char line[HEALTH_LEASE_LEN + 16];
	const struct backend *known;
	struct backend *b;
	struct hb_msg m;
	int n = snprintf(line, sizeof(line), "REGISTER %s", text), svc;

	if (hb_parse_line(line, (size_t)n, &m, why, len))
		return -EINVAL;
	svc = config_service_find(ctx->cfg, m.service[0] ? m.service : "default");
	if (svc < 0 || !config_service_served(ctx->cfg, (unsigned)svc)) {
		snprintf(why, len, "no service %s here", m.service[0] ? m.service : "default");
		return -ENOENT;
	}
	known = table_find(ctx->table, &m.addr);
	if (known && known->source == BE_SOURCE_STATIC) {
		snprintf(why, len, "a static backend now");
		return -EEXIST;
	}
	if (table_take_lease(ctx->table, &m, ctx->now_ms, &b)) {
		snprintf(why, len, "table full, or a state other than up or drain");
		return -ENOSPC;
	}
	table_set_service(ctx->table, b, (unsigned)svc);
	return 0;
}

static void health_import_leases(struct health_ctx *ctx, const struct health_handover *in)
{
	unsigned taken = 0;
	char why[96];

	if (!in->n_leases)
		return;
	if (!ctx->cfg->has_heartbeat_listen) {
		slb_log(LOG_WARN, 0, "health: dropping %u heartbeat backends handed over: no --heartbeat-listen now",
			in->n_leases);
		return;
	}
	for (unsigned i = 0; i < in->n_leases; i++) {
		if (import_one(ctx, in->leases[i], why, sizeof(why)) == 0)
			taken++;
		else
			slb_log(LOG_WARN, 0, "health: lease '%.80s' refused: %s", in->leases[i], why);
	}
	slb_log(LOG_INFO, 0, "health: took %u heartbeat backends over from the previous process; each stays in "
		"rotation until it registers here or %u ms pass", taken, ctx->cfg->heartbeat_timeout_ms);
}

/* One STATE line, parsed. */
struct runtime_state {
	struct slb_addr addr;
	int added;                 /* the API's weight, -1: not added by the API */
	char name[HB_NAME_MAX];
	bool own_check;
	enum check_kind check;
	char check_path[CONFIG_PATH_MAX];
	bool disabled, drained, removed;
	int weight;                /* the operator's weight, -1: none */
	long long ejected_ms;      /* > 0: ejected for this long still */
	unsigned outliers;
};

/* A decimal number from 0 to max, the whole of text. */
static int state_number(const char *text, long long max, long long *out)
{
	char *end;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoll(text, &end, 10);
	return errno || *end || *out > max ? -EINVAL : 0;
}

static int state_ejection(const char *text, struct runtime_state *st)
{
	char ms[24];
	const char *slash = strchr(text, '/');
	long long count;

	if (!slash || (size_t)(slash - text) >= sizeof(ms))
		return -EINVAL;
	snprintf(ms, sizeof(ms), "%.*s", (int)(slash - text), text);
	if (state_number(ms, 365LL * 86400 * 1000, &st->ejected_ms) || st->ejected_ms == 0 ||
	    state_number(slash + 1, 64, &count) || count == 0)
		return -EINVAL;
	st->outliers = (unsigned)count;
	return 0;
}

/* One word after the address. */
static int state_word(const char *w, struct runtime_state *st)
{
	const char *why;
	long long n;

	if (strncmp(w, "added=", 6) == 0 && !state_number(w + 6, CONFIG_MAX_WEIGHT, &n) && n > 0)
		st->added = (int)n;
	else if (strncmp(w, "name=", 5) == 0 && !hb_parse_name(w + 5, strlen(w + 5), st->name))
		;
	else if (strcmp(w, "disabled") == 0)
		st->disabled = true;
	else if (strcmp(w, "drained") == 0)
		st->drained = true;
	else if (strcmp(w, "removed") == 0)
		st->removed = true;
	else if (strncmp(w, "weight=", 7) == 0 && !state_number(w + 7, CONFIG_MAX_WEIGHT, &n))
		st->weight = (int)n;
	else if (strncmp(w, "ejected=", 8) == 0 && !state_ejection(w + 8, st))
		;
	else if (strncmp(w, "check=", 6) == 0 && !config_parse_check(w + 6, &st->check, st->check_path, &why))
		st->own_check = true;
	else
		return -EINVAL;
	return 0;
}

/* text into st. Returns 0, or -EINVAL with why filled. */
static int state_parse(const char *text, struct runtime_state *st, char *why, size_t len)
{
	char copy[HEALTH_STATE_LEN], *save, *w;

	*st = (struct runtime_state){ .added = -1, .weight = -1 };
	snprintf(copy, sizeof(copy), "%s", text);
	w = strtok_r(copy, " ", &save);
	if (!w || addr_parse(w, &st->addr, NULL, 0)) {
		snprintf(why, len, "it does not start with an address");
		return -EINVAL;
	}
	while ((w = strtok_r(NULL, " ", &save))) {
		if (state_word(w, st)) {
			snprintf(why, len, "'%.40s' is not a word it takes", w);
			return -EINVAL;
		}
	}
	return 0;
}

/* An API removal: the backend goes now (this process has no connection to it yet). */
static void state_remove(struct health_ctx *ctx, struct backend *b)
{
	if (!b)
		return;
	table_apply(ctx->table, b, BE_EV_ADMIN_REMOVE, STATE_DETAIL, ctx->now_ms);
	table_remove(ctx->table, b, "removed by admin " STATE_DETAIL, ctx->now_ms);
}

/* An API addition, with its name and own check as the API set them. Up from the start, not
 * checking: it was in rotation in the old process a moment ago, as a --backend is. */
static int state_add(struct health_ctx *ctx, const struct runtime_state *st, struct backend **b)
{
	struct table_admin_add a = { .addr = st->addr, .weight = (unsigned)st->added, .own_check = st->own_check,
				     .check = st->check };

	memcpy(a.name, st->name, sizeof(a.name));
	memcpy(a.check_path, st->check_path, sizeof(a.check_path));
	return table_add_admin_backend(ctx->table, &a, STATE_DETAIL, ctx->now_ms, b);
}

/* Replays st through the table's events, as the operator's calls did in the old process.
 * Returns 0, or -errno with why filled. */
static int state_apply(struct health_ctx *ctx, const struct runtime_state *st, char *why, size_t len)
{
	struct backend *b = table_find(ctx->table, &st->addr);

	if (st->removed) {
		state_remove(ctx, b);
		return 0;
	}
	if (!b && st->added > 0 && state_add(ctx, st, &b)) {
		snprintf(why, len, "the table is full");
		return -ENOSPC;
	}
	if (!b) {
		snprintf(why, len, "no such backend in this process");
		return -ENOENT;
	}
	if (st->disabled)
		table_apply(ctx->table, b, BE_EV_ADMIN_DISABLE, STATE_DETAIL, ctx->now_ms);
	if (st->drained)
		table_apply(ctx->table, b, BE_EV_ADMIN_DRAIN, STATE_DETAIL, ctx->now_ms);
	if (st->weight >= 0)
		table_set_admin_weight(ctx->table, b, (unsigned)st->weight, STATE_DETAIL, ctx->now_ms);
	if (st->ejected_ms > 0)
		table_restore_ejection(ctx->table, b, st->ejected_ms, st->outliers, "outlier " STATE_DETAIL,
				       ctx->now_ms);
	return 0;
}

static void health_import_states(struct health_ctx *ctx, const struct health_handover *in)
{
	struct runtime_state st;
	unsigned taken = 0;
	char why[96];

	for (unsigned i = 0; i < in->n_states; i++) {
		if (state_parse(in->states[i], &st, why, sizeof(why)) == 0 && state_apply(ctx, &st, why, sizeof(why)) == 0)
			taken++;
		else
			slb_log(LOG_WARN, 0, "health: runtime state '%.80s' not restored: %s", in->states[i], why);
	}
	if (in->n_states)
		slb_log(LOG_INFO, 0, "health: restored what the operator set on %u backends before the upgrade", taken);
}

void health_import_handover(struct health_ctx *ctx, const struct health_handover *in)
{
	if (!in)
		return;
	health_import_leases(ctx, in);
	health_import_states(ctx, in);
}
