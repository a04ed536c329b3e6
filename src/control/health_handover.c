/* health_handover: the control plane's side of a binary upgrade. The running slb exports its
 * heartbeat and admin listening sockets and a lease per heartbeat backend in rotation; the new
 * one takes them in health_prepare, so those backends stay in rotation while they reconnect
 * (within one heartbeat interval) instead of being down until they do. A lease is written as
 * the REGISTER line the backend would send, so the heartbeat parser reads it back. */
#include "health_handover.h"

#include <errno.h>
#include <stdio.h>
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

/* Only heartbeat backends: a static one comes from the new process's own flags. */
static bool lease_wanted(const struct backend *b)
{
	return b->source == BE_SOURCE_HEARTBEAT && (b->session || b->leased) &&
	       (b->state == BE_STATE_UP || b->state == BE_STATE_DRAINING);
}

/* The REGISTER the backend sent, with its service when not the default one (so a lease of
 * the default service reads as before services). Fits HEALTH_LEASE_LEN at the longest. */
static void lease_format(const struct health_ctx *ctx, const struct backend *b, char *buf, size_t len)
{
	const char *svc = b->service && b->service < ctx->cfg->n_services ? ctx->cfg->services[b->service].name : "";
	char addr[ADDR_TEXT_MAX];

	snprintf(buf, len, "%s weight=%u%s%s%s%s state=%s load=%u", addr_format(&b->addr, addr, sizeof(addr)),
		 b->weight, b->name[0] ? " name=" : "", b->name, svc[0] ? " service=" : "", svc,
		 b->state == BE_STATE_UP ? "up" : "drain", b->load);
}

static int export_on_thread(struct health_ctx *ctx, void *arg)
{
	struct health_handover *out = arg;

	out->hb_fd = hb_server_listen_fd(ctx);
	out->admin_fd = admin_listen_fd(ctx);
	out->n_leases = 0;
	for (uint32_t id = 1; id < SNAP_MAX_BACKEND_ID; id++) {
		const struct backend *b = table_get_const(ctx->table, id);

		if (b && lease_wanted(b))
			lease_format(ctx, b, out->leases[out->n_leases++], HEALTH_LEASE_LEN);
	}
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

void health_import_leases(struct health_ctx *ctx, const struct health_handover *in)
{
	unsigned taken = 0;
	char why[96];

	if (!in || !in->n_leases)
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
