/* health_handover: the running slb's side of a binary upgrade. It exports its heartbeat and
 * admin listening sockets, a lease per heartbeat backend in rotation and a STATE line per
 * backend the operator changed; the new process takes them in with health_import.c, so those
 * backends stay in rotation while they reconnect (within one heartbeat interval) instead of
 * being down until they do. A lease is written as the REGISTER line the backend would send, so
 * the heartbeat parser reads it back. */
#include "slb/control/health_handover.h"
#include "slb/control/health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_server.h"
#include "hb_server.h"
#include "slb/common/clock.h"
#include "slb/common/log.h"
#include "slb/control/backend_table.h"
#include "slb/common/heartbeat.h"

#define HANDOVER_ADMIN_WAIT_MS 2000 /* longest wait for the admin requests accepted to be answered */
#define HANDOVER_ADMIN_POLL_MS 5

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
 * line. Its service goes with it when not the default one (so a lease of the default service
 * reads as before services); the longest fits HEALTH_LEASE_LEN. */
static void lease_format(const struct health_ctx *ctx, const struct backend *b, char *buf, size_t len)
{
	const char *svc = b->service ? config_service_name(ctx->cfg, b->service) : "";
	char addr[ADDR_TEXT_MAX];

	snprintf(buf, len, "%s weight=%u%s%s%s%s state=%s load=%u", addr_format(&b->addr, addr, sizeof(addr)),
		 b->weight, b->name[0] ? " name=" : "", b->name, svc[0] ? " service=" : "", svc,
		 b->reported == HB_STATE_UP ? "up" : "drain", b->load);
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

	for (unsigned i = 0; i < ctx->cfg->n_backends && out->n_states < snap_id_limit(); i++)
		if (!ctx->cfg->backends[i].host[0] && !table_find(ctx->table, &ctx->cfg->backends[i].addr))
			snprintf(out->states[out->n_states++], HEALTH_STATE_LEN, "%s removed",
				 addr_format(&ctx->cfg->backends[i].addr, addr, sizeof(addr)));
}

static int export_on_thread(struct health_ctx *ctx, void *arg)
{
	struct health_handover *out = arg;

	out->hb_fd = hb_server_listen_fd(ctx);
	out->admin_fd = admin_listen_fd(ctx);
	out->n_leases = out->n_states = 0;
	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(ctx->table, id);

		if (b && lease_wanted(b, ctx->now_ms))
			lease_format(ctx, b, out->leases[out->n_leases++], HEALTH_LEASE_LEN);
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
