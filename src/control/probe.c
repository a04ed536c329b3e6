/* probe: one in-flight check at most per backend id, each a heap object on the health loop.
 * A probe remembers the address it was started for: if the id was freed and reused while it
 * ran, its result belongs to nobody and is dropped. */
#include "probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/common/http_check.h"
#include "slb/common/log.h"

#define PROBE_REQ_MAX (CONFIG_PATH_MAX + ADDR_TEXT_MAX + 96)
#define PROBE_RESP_MAX 128 /* enough for any status line we accept */
#define PROBE_DETAIL_MAX 48

enum probe_kind {
	PROBE_TCP = 0,
	PROBE_HTTP,
};

enum probe_phase {
	PROBE_CONNECTING = 0,
	PROBE_SENDING,
	PROBE_READING,
};

struct probe {
	struct hl_handler h;
	uint32_t be_id;
	struct slb_addr addr;        /* the backend's address when the probe started */
	enum probe_kind kind;
	enum probe_phase phase;
	bool in_loop;                /* h.fd is registered with epoll */
	int64_t deadline_ms;
	size_t req_len, req_off, resp_len;
	char req[PROBE_REQ_MAX];
	char resp[PROBE_RESP_MAX];
};

struct probe_set {
	/* By backend id, up to the highest any instance may have: calloc takes this much from
	 * mmap, and only the pages of ids below snap_id_limit() are ever touched. */
	struct probe *running[SNAP_ID_MAX + 1]; /* by backend id */
	int64_t due_ms[SNAP_ID_MAX + 1];        /* next start; 0: at the first tick */
};

/* Short lowercase texts for the reasons operators see most, like the workers' reports. */
static const char *probe_errtext(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return "connection refused";
	case ECONNRESET:
		return "connection reset";
	case ETIMEDOUT:
		return "timeout";
	case EHOSTUNREACH:
		return "host unreachable";
	case ENETUNREACH:
		return "network unreachable";
	}
	return strerror(e);
}

static void probe_free(struct hl_handler *h)
{
	free(h); /* h is the first member of struct probe */
}

/* Reports the result to the backend still at that id and address, and retires the probe. */
static void probe_finish(struct health_ctx *ctx, struct probe *p, bool ok, const char *detail)
{
	struct backend *b = table_get(ctx->table, p->be_id);

	ctx->probes->running[p->be_id] = NULL;
	if (b && addr_equal(&b->addr, &p->addr)) {
		if (!ok)
			slb_log(LOG_DEBUG, 0, "probe of backend id %u failed: %s", p->be_id, detail);
		table_apply(ctx->table, b, ok ? BE_EV_PROBE_OK : BE_EV_PROBE_FAIL, detail, ctx->now_ms);
	}
	if (p->in_loop) {
		hl_retire(ctx, &p->h);
		return;
	}
	close(p->h.fd);
	free(p);
}

/* Judges the answer by http_check's rule once a full line (or EOF) is in. */
static bool probe_status_ok(const struct probe *p, char *detail, size_t len)
{
	int status = http_check_status(p->resp, p->resp_len);

	if (!status) {
		snprintf(detail, len, "no HTTP status line");
		return false;
	}
	snprintf(detail, len, "HTTP status %d", status);
	return http_check_passes(status);
}

static void probe_read(struct health_ctx *ctx, struct probe *p)
{
	char detail[PROBE_DETAIL_MAX];
	ssize_t n;

	n = read(p->h.fd, p->resp + p->resp_len, sizeof(p->resp) - p->resp_len);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n == -1) {
		probe_finish(ctx, p, false, probe_errtext(errno));
		return;
	}
	p->resp_len += (size_t)n;
	if (n > 0 && p->resp_len < sizeof(p->resp) && !memchr(p->resp, '\n', p->resp_len))
		return;
	probe_finish(ctx, p, probe_status_ok(p, detail, sizeof(detail)), detail);
}

static void probe_send(struct health_ctx *ctx, struct probe *p)
{
	long n = hl_send(p->h.fd, p->req + p->req_off, p->req_len - p->req_off);

	if (n < 0) {
		probe_finish(ctx, p, false, probe_errtext((int)-n));
		return;
	}
	p->req_off += (size_t)n;
	if (p->req_off < p->req_len) {
		p->phase = PROBE_SENDING;
		hl_mod(ctx, &p->h, EPOLLOUT);
		return;
	}
	p->phase = PROBE_READING;
	hl_mod(ctx, &p->h, EPOLLIN | EPOLLRDHUP);
}

/* The connect finished (or failed): a TCP check is done, an HTTP check sends its request. */
static void probe_connected(struct health_ctx *ctx, struct probe *p)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(p->h.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	if (soerr) {
		probe_finish(ctx, p, false, probe_errtext(soerr));
		return;
	}
	if (p->kind == PROBE_TCP) {
		probe_finish(ctx, p, true, NULL);
		return;
	}
	probe_send(ctx, p);
}

static void probe_on_event(struct health_ctx *ctx, struct hl_handler *h, uint32_t events)
{
	struct probe *p = (struct probe *)h;

	if (p->phase == PROBE_CONNECTING)
		probe_connected(ctx, p);
	else if (p->phase == PROBE_SENDING)
		probe_send(ctx, p);
	else
		probe_read(ctx, p);
}

/* The check settings of b's service (a reload keeps the number of services). */
static const struct service_config *probe_service(const struct health_ctx *ctx, const struct backend *b)
{
	return &ctx->cfg->services[b->service < ctx->cfg->n_services ? b->service : 0];
}

static void probe_build_request(struct probe *p, const struct service_config *sc)
{
	p->req_len = http_check_request(p->req, sizeof(p->req), sc->check_path, &p->addr, "slb-check");
}

static void probe_start(struct health_ctx *ctx, struct backend *b)
{
	const struct service_config *sc = probe_service(ctx, b);
	struct probe *p = calloc(1, sizeof(*p));

	if (!p) {
		slb_log_limited(LOG_WARN, ENOMEM, "probe: cannot start a check");
		return;
	}
	p->h.on_event = probe_on_event;
	p->h.free = probe_free;
	p->be_id = b->id;
	p->addr = b->addr;
	p->kind = b->source == BE_SOURCE_STATIC && sc->check == CHECK_HTTP ? PROBE_HTTP : PROBE_TCP;
	p->deadline_ms = ctx->now_ms + sc->check_timeout_ms;
	if (p->kind == PROBE_HTTP)
		probe_build_request(p, sc);
	p->h.fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->h.fd == -1) {
		/* Our descriptors ran out, not the backend: no verdict, try again next interval. */
		slb_log_limited(LOG_WARN, errno, "probe: socket");
		free(p);
		return;
	}
	ctx->probes->running[b->id] = p;
	if (connect(p->h.fd, (const struct sockaddr *)&b->addr.ss, b->addr.len) == 0) {
		probe_connected(ctx, p);
		return;
	}
	if (errno != EINPROGRESS) {
		probe_finish(ctx, p, false, probe_errtext(errno));
		return;
	}
	if (hl_add(ctx, &p->h, EPOLLOUT)) {
		probe_finish(ctx, p, false, "epoll");
		return;
	}
	p->in_loop = true;
}

int probe_init(struct health_ctx *ctx)
{
	ctx->probes = calloc(1, sizeof(*ctx->probes));
	return ctx->probes ? 0 : -ENOMEM;
}

void probe_tick(struct health_ctx *ctx)
{
	struct probe_set *set = ctx->probes;

	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		struct probe *p = set->running[id];
		const struct service_config *sc;
		struct backend *b;

		if (p && ctx->now_ms >= p->deadline_ms)
			probe_finish(ctx, p, false, "timeout");
		b = table_get(ctx->table, id);
		if (!b)
			continue;
		sc = probe_service(ctx, b);
		if (!table_wants_probe(b, sc->check != CHECK_NONE)) {
			/* The first probe after an ejection comes one interval later, not at once. */
			set->due_ms[id] = ctx->now_ms + sc->check_interval_ms;
			continue;
		}
		if (set->running[id] || ctx->now_ms < set->due_ms[id])
			continue;
		set->due_ms[id] = ctx->now_ms + sc->check_interval_ms;
		probe_start(ctx, b);
	}
}

void probe_fini(struct health_ctx *ctx)
{
	struct probe_set *set = ctx->probes;

	if (!set)
		return;
	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		struct probe *p = set->running[id];

		if (!p)
			continue;
		close(p->h.fd);
		free(p);
	}
	free(set);
	ctx->probes = NULL;
}
