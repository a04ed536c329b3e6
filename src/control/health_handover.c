/* health_handover: the control plane's side of a binary upgrade. The running slb exports its
 * heartbeat and admin listening sockets and a lease per heartbeat backend in rotation; the new
 * one takes them in health_prepare, so those backends stay in rotation while they reconnect
 * (within one heartbeat interval) instead of being down until they do. A lease is written as
 * the REGISTER line the backend would send, so the heartbeat parser reads it back. */
#include "health_handover.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_server.h"
#include "slb/control/backend_table_restore.h"
#include "hb_server.h"
#include "slb/common/clock.h"
#include "slb/common/log.h"
#include "slb/control/backend_table.h"
#include "slb/common/heartbeat.h"

#define HANDOVER_ADMIN_WAIT_MS 2000 /* longest wait for the admin requests accepted to be answered */
#define HANDOVER_ADMIN_POLL_MS 5
#define STATE_DETAIL "before the upgrade" /* in the reason of each change replayed */

/* Only heartbeat backends: a static one comes from the new process's own flags. A backend in
 * rotation or draining, and one the operator disabled or health ejected while it says it is
 * up or draining (its STATE line disables or ejects it there). Not one down by its own word,
 * its timeout or its probes: the new process judges that afresh. */
static bool lease_wanted(const struct backend *b, int64_t now_ms)
{
	return b->source == BE_SOURCE_HEARTBEAT && (b->session || b->leased) && b->reported != HB_STATE_DOWN &&
	       (b->state != BE_STATE_DOWN || b->ejected_until_ms > now_ms);
}

/* The backend's own word (up or drain): what the operator or health set goes in its STATE
 * line. */
static void lease_format(const struct backend *b, char *buf, size_t len)
{
	char addr[ADDR_TEXT_MAX];

	snprintf(buf, len, "%s weight=%u%s%s state=%s load=%u", addr_format(&b->addr, addr, sizeof(addr)),
		 b->weight, b->name[0] ? " name=" : "", b->name, b->reported == HB_STATE_UP ? "up" : "drain", b->load);
}

/* ---- the operator's runtime state ----
 *
 * One STATE line per backend the operator changed at run time (or health ejected), its
 * address first, then what holds, in this order:
 *
 *   ADDR [added=W] [name=NAME] [disabled] [drained] [weight=N] [removed] [ejected=MS/COUNT]
 *        [check=none|tcp|http:/PATH]
 *
 * added: put in by the API, with its weight, name and own check; removed: taken out by the
 * API (a static backend of the flags, or one being removed); ejected: an outlier ejection, the
 * milliseconds it has left and its repeat count. The new process replays each through the
 * table's own events, as the API would. HEALTH_STATE_LEN holds the longest line (an IPv6
 * address, the longest name and check path). */

static bool state_wanted(const struct backend *b, int64_t now_ms)
{
	return b->api_added || b->admin_down || b->admin_drain || b->admin_weight >= 0 ||
	       b->removing == BE_REMOVAL_API || b->ejected_until_ms > now_ms;
}

/* Appends to buf (len bytes, *off of them used). */
static void state_put(char *buf, size_t len, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void state_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	*off += n > 0 ? (size_t)n : 0;
}

static void state_put_check(const struct backend *b, char *buf, size_t len, size_t *off)
{
	static const char *const kinds[] = { [CHECK_NONE] = "none", [CHECK_TCP] = "tcp", [CHECK_HTTP] = "http:" };

	if (!b->api_added || !b->own_check)
		return;
	state_put(buf, len, off, " check=%s%s", kinds[b->check], b->check == CHECK_HTTP ? b->check_path : "");
}

static void state_format(const struct backend *b, int64_t now_ms, char *buf, size_t len)
{
	char addr[ADDR_TEXT_MAX];
	size_t off = 0;

	state_put(buf, len, &off, "%s", addr_format(&b->addr, addr, sizeof(addr)));
	if (b->api_added)
		state_put(buf, len, &off, " added=%u", b->cfg_weight);
	if (b->api_added && b->name[0])
		state_put(buf, len, &off, " name=%s", b->name);
	if (b->admin_down)
		state_put(buf, len, &off, " disabled");
	if (b->admin_drain)
		state_put(buf, len, &off, " drained");
	if (b->admin_weight >= 0)
		state_put(buf, len, &off, " weight=%d", b->admin_weight);
	if (b->removing == BE_REMOVAL_API)
		state_put(buf, len, &off, " removed");
	if (b->ejected_until_ms > now_ms)
		state_put(buf, len, &off, " ejected=%lld/%u", (long long)(b->ejected_until_ms - now_ms),
			  b->outlier_count);
	state_put_check(b, buf, len, &off);
}

/* A static backend of the flags that is not in the table any more was removed by the API: the
 * new process, started with the same flags, would put it back. */
static void export_removed_static(struct health_ctx *ctx, struct health_handover *out)
{
	char addr[ADDR_TEXT_MAX];

	for (unsigned i = 0; i < ctx->cfg->n_backends && out->n_states < SNAP_MAX_BACKEND_ID; i++)
		if (!table_find(ctx->table, &ctx->cfg->backends[i].addr))
			snprintf(out->states[out->n_states++], HEALTH_STATE_LEN, "%s removed",
				 addr_format(&ctx->cfg->backends[i].addr, addr, sizeof(addr)));
}

static int export_on_thread(struct health_ctx *ctx, void *arg)
{
	struct health_handover *out = arg;

	out->hb_fd = hb_server_listen_fd(ctx);
	out->admin_fd = admin_listen_fd(ctx);
	out->n_leases = out->n_states = 0;
	for (uint32_t id = 1; id < SNAP_MAX_BACKEND_ID; id++) {
		const struct backend *b = table_get_const(ctx->table, id);

		if (b && lease_wanted(b, ctx->now_ms))
			lease_format(b, out->leases[out->n_leases++], HEALTH_LEASE_LEN);
		if (b && state_wanted(b, ctx->now_ms))
			state_format(b, ctx->now_ms, out->states[out->n_states++], HEALTH_STATE_LEN);
	}
	export_removed_static(ctx, out);
	return 0;
}

static int admin_stop_on_thread(struct health_ctx *ctx, void *arg)
{
	(void)arg;
	return admin_hand_over_start(ctx);
}

static int admin_count_on_thread(struct health_ctx *ctx, void *arg)
{
	*(unsigned *)arg = admin_requests_open(ctx);
	return 0;
}

/* The admin requests accepted before the stop are answered here: the new process's first
 * /status must not race a request this process took and would drop at health_hand_over. A
 * client that connected and says nothing holds the upgrade back HANDOVER_ADMIN_WAIT_MS at
 * most (the new process waits TAKEOVER_WAIT_MS for our first message); what is left then is
 * still answered until the drain starts. */
static void admin_finish_requests(void)
{
	int64_t end = clock_now_ms() + HANDOVER_ADMIN_WAIT_MS;
	struct timespec pause = { 0, HANDOVER_ADMIN_POLL_MS * 1000000L };
	unsigned open = 0;

	while (health_call(admin_count_on_thread, &open) == 0 && open && clock_now_ms() < end)
		nanosleep(&pause, NULL);
	if (open)
		slb_log(LOG_WARN, 0, "admin: %u requests unanswered after %d ms; handing over anyway, they are closed "
			"once the new process serves", open, HANDOVER_ADMIN_WAIT_MS);
}

int health_export(struct health_handover *out)
{
	int ret = health_call(admin_stop_on_thread, NULL);

	if (ret)
		return ret;
	admin_finish_requests();
	return health_call(export_on_thread, out);
}

static int admin_resume_on_thread(struct health_ctx *ctx, void *arg)
{
	(void)arg;
	return admin_hand_over_cancel(ctx);
}

int health_export_cancel(void)
{
	return health_call(admin_resume_on_thread, NULL);
}

static int hand_over_on_thread(struct health_ctx *ctx, void *arg)
{
	hb_server_hand_over(ctx);
	admin_close(ctx);
	return 0;
}

int health_hand_over(void)
{
	return health_call(hand_over_on_thread, NULL);
}

/* One lease: parsed as the REGISTER it stands for. Returns 0 or -errno with why filled. */
static int import_one(struct health_ctx *ctx, const char *text, char *why, size_t len)
{
	char line[HEALTH_LEASE_LEN + 16];
	const struct backend *known;
	struct backend *b;
	struct hb_msg m;
	int n = snprintf(line, sizeof(line), "REGISTER %s", text);

	if (hb_parse_line(line, (size_t)n, &m, why, len))
		return -EINVAL;
	known = table_find(ctx->table, &m.addr);
	if (known && known->source == BE_SOURCE_STATIC) {
		snprintf(why, len, "a static backend now");
		return -EEXIST;
	}
	if (table_take_lease(ctx->table, &m, ctx->now_ms, &b)) {
		snprintf(why, len, "table full, or a state other than up or drain");
		return -ENOSPC;
	}
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
