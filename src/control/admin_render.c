/* admin_render: the /status JSON and /metrics Prometheus text, as pure functions of the
 * backend table and the workers' counters. Per-backend counters are summed over workers by
 * backend id; only ids present in the table are shown (a removed id's counters stay behind
 * in the workers' arrays and are folded into its next owner's totals). */
#include "slb/control/admin_render.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/stats.h"

void abuf_init(struct abuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void abuf_free(struct abuf *b)
{
	free(b->p);
	abuf_init(b, b->max);
}

/* Makes room for need more bytes plus a NUL. */
static bool abuf_reserve(struct abuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 1024;
	char *p;

	if (b->len + need + 1 <= b->cap)
		return true;
	if (b->len + need + 1 > b->max)
		return false;
	while (cap < b->len + need + 1)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	p = realloc(b->p, cap);
	if (!p)
		return false;
	b->p = p;
	b->cap = cap;
	return true;
}

void abuf_printf(struct abuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !abuf_reserve(b, (size_t)n)) {
		b->overflow = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void abuf_append(struct abuf *b, const char *s, size_t n)
{
	if (b->overflow || n == 0)
		return;
	if (!abuf_reserve(b, n)) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A JSON string: quotes, backslashes and control bytes escaped; plain runs copied whole. */
void abuf_json_str(struct abuf *b, const char *s)
{
	abuf_append(b, "\"", 1);
	while (*s) {
		size_t run = strcspn(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
					"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");

		abuf_append(b, s, run);
		s += run;
		if (!*s)
			break;
		if (*s == '"' || *s == '\\')
			abuf_printf(b, "\\%c", *s);
		else
			abuf_printf(b, "\\u%04x", (unsigned char)*s);
		s++;
	}
	abuf_append(b, "\"", 1);
}

/* A Prometheus label value: backslash, quote and newline escaped, per the text format. */
static void abuf_label(struct abuf *b, const char *s)
{
	while (*s) {
		size_t run = strcspn(s, "\\\"\n");

		abuf_append(b, s, run);
		s += run;
		if (!*s)
			break;
		abuf_printf(b, "\\%c", *s == '\n' ? 'n' : *s);
		s++;
	}
}

struct be_sums {
	uint64_t up;
	uint64_t active;
	uint64_t conns;
	uint64_t failures;
	uint64_t replays;
	uint64_t to_backend;
	uint64_t to_client;
};

static void sum_backend(const struct admin_view *v, const struct backend *b, struct be_sums *s)
{
	memset(s, 0, sizeof(*s));
	s->up = b->state == BE_STATE_UP;
	for (unsigned i = 0; i < v->n_channels; i++) {
		const struct backend_stats *bs = &v->channels[i]->stats.be[b->id];

		s->active += stat_get(&bs->active);
		s->conns += stat_get(&bs->conns);
		s->failures += stat_get(&bs->connect_failures);
		s->replays += stat_get(&bs->replays);
		s->to_backend += stat_get(&bs->bytes_to_backend);
		s->to_client += stat_get(&bs->bytes_to_client);
	}
}

static void status_figures(struct abuf *out, struct worker_channel *const *ch, unsigned n, uint32_t id,
			   int64_t now_ms)
{
	struct gray_figure c = gray_backend_figure(ch, n, id, false, now_ms);
	struct gray_figure t = gray_backend_figure(ch, n, id, true, now_ms);

	abuf_printf(out, c.n ? "\"connect_ms\":%.1f" : "\"connect_ms\":null", (double)c.avg_us / 1000);
	abuf_printf(out, t.n ? ",\"ttfb_ms\":%.1f" : ",\"ttfb_ms\":null", (double)t.avg_us / 1000);
	abuf_printf(out, ",\"latency_samples\":%llu", (unsigned long long)t.n);
}

/* ?per_worker=1: which worker sees a backend slow (a worker whose CPU is starved shows high
 * figures for every backend; a slow backend shows them on every worker). */
static void status_worker_latency(struct abuf *out, const struct admin_view *v, const struct backend *b)
{
	abuf_printf(out, ",\"per_worker\":[");
	for (unsigned i = 0; i < v->n_channels; i++) {
		abuf_printf(out, "%s{\"worker\":%u,", i ? "," : "", i);
		status_figures(out, &v->channels[i], 1, b->id, v->now_ms);
		abuf_printf(out, "}");
	}
	abuf_printf(out, "]");
}

/* "connect_ms" and "ttfb_ms": null while no worker has a recent sample (LAT_STALE_MS). */
static void status_latency(struct abuf *out, const struct admin_view *v, const struct backend *b)
{
	double phi = gray_phi(v->gray, b->id, v->now_ms);

	abuf_printf(out, ",");
	status_figures(out, v->channels, v->n_channels, b->id, v->now_ms);
	if (v->per_worker)
		status_worker_latency(out, v, b);
	abuf_printf(out, b->session && phi >= 0 ? ",\"phi\":%.2f" : ",\"phi\":null", phi);
	abuf_printf(out, ",\"outlier_ejections\":%u", b->outlier_count);
	if (b->ejected_until_ms)
		abuf_printf(out, ",\"ejected_for_ms\":%lld", (long long)(b->ejected_until_ms - v->now_ms));
}

static int render_result(const struct abuf *out)
{
	return out->overflow ? -ENOSPC : 0;
}

static void json_ms_or_null(struct abuf *out, const char *key, bool known, int64_t ms)
{
	if (known)
		abuf_printf(out, ",\"%s\":%lld", key, (long long)ms);
	else
		abuf_printf(out, ",\"%s\":null", key);
}

/* The operator's settings and the drain's progress: how long the drain took once drained,
 * how long it has run so far before that. */
static void status_admin(struct abuf *out, const struct admin_view *v, const struct backend *b)
{
	bool draining = b->state == BE_STATE_DRAINING;
	int64_t drain_end = b->drained ? b->drained_ms : v->now_ms;

	abuf_printf(out, ",\"cfg_weight\":%u", b->source == BE_SOURCE_STATIC ? b->cfg_weight : b->weight);
	if (b->admin_weight >= 0)
		abuf_printf(out, ",\"admin_weight\":%d", b->admin_weight);
	else
		abuf_printf(out, ",\"admin_weight\":null");
	abuf_printf(out, ",\"removing\":%s,\"drained\":%s", b->removing ? "true" : "false",
		    draining && b->drained ? "true" : "false");
	json_ms_or_null(out, "drain_ms", draining, drain_end - b->drain_start_ms);
	/* the host name it was resolved from, "" for an address; here, not beside the name, so that
	 * the fields read side by side ("name","state") stay so */
	abuf_printf(out, ",\"origin\":");
	abuf_json_str(out, b->origin);
}

void admin_render_backend(struct abuf *out, const struct admin_view *v, const struct backend *b)
{
	char addr[ADDR_TEXT_MAX];
	struct be_sums s;
	unsigned eff;

	sum_backend(v, b, &s);
	abuf_printf(out, "{\"id\":%u,\"address\":\"%s\",\"name\":", b->id, addr_format(&b->addr, addr, sizeof(addr)));
	abuf_json_str(out, b->name);
	abuf_printf(out, ",\"state\":\"%s\",\"source\":\"%s\",\"weight\":%u,\"load\":%u", be_state_name(b->state),
		    be_source_label(b), table_weight(b), b->load);
	/* hundredths: a ramping weight-1 backend starts at 0.10 */
	eff = table_effective_weight(v->table, b, v->now_ms);
	abuf_printf(out, ",\"effective_weight\":%u.%02u", eff / SNAP_WEIGHT_UNIT, eff % SNAP_WEIGHT_UNIT);
	abuf_printf(out, ",\"active_conns\":%llu,\"total_conns\":%llu,\"failures\":%llu",
		    (unsigned long long)s.active, (unsigned long long)s.conns, (unsigned long long)s.failures);
	abuf_printf(out, ",\"replays\":%llu", (unsigned long long)s.replays);
	abuf_printf(out, ",\"bytes_to_backend\":%llu,\"bytes_to_client\":%llu", (unsigned long long)s.to_backend,
		    (unsigned long long)s.to_client);
	/* service names are [a-z0-9_-]: nothing to escape */
	abuf_printf(out, ",\"service\":\"%s\"", v->cfg ? config_service_name(v->cfg, b->service) : "default");
	abuf_printf(out, ",\"backup\":%s", b->backup ? "true" : "false");
	status_admin(out, v, b);
	status_latency(out, v, b);
	json_ms_or_null(out, "last_heartbeat_ms", b->last_hb_ms >= 0, v->now_ms - b->last_hb_ms);
	abuf_printf(out, ",\"reason\":");
	abuf_json_str(out, b->reason);
	abuf_printf(out, "}");
}

void admin_render_event(struct abuf *out, const struct slb_event *e)
{
	abuf_printf(out, "{\"seq\":%llu,\"time_ms\":%lld,\"id\":%u,\"address\":\"%s\",\"name\":",
		    (unsigned long long)e->seq, (long long)e->time_ms, e->backend_id, e->address);
	abuf_json_str(out, e->name);
	abuf_printf(out, ",\"service\":\"%s\"", e->service);
	abuf_printf(out, ",\"old\":\"%s\",\"new\":\"%s\",\"reason\":", e->old_state, e->new_state);
	abuf_json_str(out, e->reason);
	abuf_printf(out, "}");
}

int admin_render_events(struct abuf *out, const struct event_ring *r, uint64_t since)
{
	const char *sep = "\n";

	abuf_printf(out, "{\"last_seq\":%llu,\"events\":[", (unsigned long long)(r->next_seq - 1));
	for (const struct slb_event *e = events_after(r, since); e; e = events_after(r, e->seq)) {
		abuf_printf(out, "%s", sep);
		admin_render_event(out, e);
		sep = ",\n";
	}
	abuf_printf(out, "\n]}\n");
	return render_result(out);
}

/* Backends by state, in enum be_state order, and their sum. */
struct state_counts {
	uint32_t n[BE_STATE_ADMIN_DOWN + 1];
	uint32_t total;
};

static void summary_counts(struct abuf *out, const struct state_counts *c)
{
	abuf_printf(out, "\"backends\":%u,\"up\":%u,\"down\":%u,\"draining\":%u,\"admin_down\":%u", c->total,
		    c->n[BE_STATE_UP], c->n[BE_STATE_DOWN], c->n[BE_STATE_DRAINING], c->n[BE_STATE_ADMIN_DOWN]);
}

/* One walk of the table: 10,000 backends over 500 services cost one pass, not one per service. */
int admin_render_summary(struct abuf *out, const struct admin_view *v)
{
	unsigned n = v->cfg ? v->cfg->n_services : 1;
	struct state_counts *svc = calloc(n, sizeof(*svc));
	struct state_counts all = { 0 };

	if (!svc)
		return -ENOMEM;
	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(v->table, id);
		unsigned s;

		if (!b || (unsigned)b->state > BE_STATE_ADMIN_DOWN)
			continue;
		s = b->service < n ? b->service : 0;
		svc[s].n[b->state]++;
		svc[s].total++;
		all.n[b->state]++;
		all.total++;
	}
	abuf_printf(out, "{\"total\":{");
	summary_counts(out, &all);
	abuf_printf(out, "},\"services\":[");
	for (unsigned i = 0; i < n; i++) {
		/* service names are [a-z0-9_-]: nothing to escape */
		abuf_printf(out, "%s{\"name\":\"%s\",", i ? ",\n" : "\n", v->cfg ? config_service_name(v->cfg, i) : "default");
		summary_counts(out, &svc[i]);
		abuf_printf(out, "}");
	}
	abuf_printf(out, "\n]}\n");
	free(svc);
	return render_result(out);
}

static void status_worker(struct abuf *out, unsigned i, const struct worker_stats *ws)
{
	abuf_printf(out, "{\"id\":%u,\"active\":%llu,\"accepted\":%llu,\"rejected\":%llu,\"no_backend\":%llu", i,
		    (unsigned long long)stat_get(&ws->active), (unsigned long long)stat_get(&ws->accepted),
		    (unsigned long long)stat_get(&ws->rejected), (unsigned long long)stat_get(&ws->no_backend));
	abuf_printf(out, ",\"retries\":%llu,\"connect_failures\":%llu,\"loop_turns\":%llu",
		    (unsigned long long)stat_get(&ws->retries), (unsigned long long)stat_get(&ws->connect_failures),
		    (unsigned long long)stat_get(&ws->loop_turns));
	abuf_printf(out, ",\"replays\":%llu,\"no_backend_503\":%llu}", (unsigned long long)stat_get(&ws->replays),
		    (unsigned long long)stat_get(&ws->no_backend_503));
}

/* The per-client refusals of service svc (struct client_stats, in its field order), summed
 * over the workers. */
#define CLIENT_FIGURES 4
_Static_assert(sizeof(struct client_stats) == CLIENT_FIGURES * sizeof(stat_t), "client_stats: four counters");
static const char *const client_figures[CLIENT_FIGURES] = { "denied", "over_conns", "over_rate", "untracked" };

static void sum_clients(const struct admin_view *v, unsigned svc, uint64_t sum[CLIENT_FIGURES])
{
	for (unsigned k = 0; k < CLIENT_FIGURES; k++)
		sum[k] = 0;
	for (unsigned i = 0; i < v->n_channels; i++) {
		const stat_t *c = &v->channels[i]->stats.clients[svc].denied;

		for (unsigned k = 0; k < CLIENT_FIGURES; k++)
			sum[k] += stat_get(&c[k]);
	}
}

static unsigned view_services(const struct admin_view *v)
{
	return v->cfg ? v->cfg->n_services : 1;
}

/* See slb/control/admin_render.h. */
void admin_render_service_clients(struct abuf *out, const struct admin_view *v, unsigned svc)
{
	uint64_t sum[CLIENT_FIGURES];

	sum_clients(v, svc, sum);
	abuf_printf(out, ",\"clients\":{");
	for (unsigned k = 0; k < CLIENT_FIGURES; k++)
		abuf_printf(out, "%s\"%s\":%llu", k ? "," : "", client_figures[k], (unsigned long long)sum[k]);
	abuf_printf(out, "}");
}

/* Whether /status lists b: its service and state as v asks. */
static bool status_selects(const struct admin_view *v, const struct backend *b)
{
	return (v->service < 0 || b->service == (unsigned)v->service) &&
	       (!v->states || (v->states >> b->state) & 1);
}

/* The backends v selects after v->after, at most v->limit (0: all); then "next" when a limit
 * was asked: the last id listed while more would follow, else null. */
static void status_backends(struct abuf *out, const struct admin_view *v)
{
	const char *sep = "\n";
	uint32_t listed = 0, last = 0;
	bool more = false;

	abuf_printf(out, "{\"backends\":[");
	for (uint32_t id = v->after + 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(v->table, id);

		if (!b || !status_selects(v, b))
			continue;
		if (v->limit && listed == v->limit) {
			more = true;
			break;
		}
		abuf_printf(out, "%s", sep);
		admin_render_backend(out, v, b);
		sep = ",\n";
		last = id;
		listed++;
	}
	abuf_printf(out, "\n]");
	if (v->limit && more)
		abuf_printf(out, ",\"next\":%u", last);
	else if (v->limit)
		abuf_printf(out, ",\"next\":null");
}

int admin_render_status(struct abuf *out, const struct admin_view *v)
{
	status_backends(out, v);
	abuf_printf(out, ",\"workers\":[");
	for (unsigned i = 0; i < v->n_channels; i++) {
		abuf_printf(out, "%s", i ? ",\n" : "\n");
		status_worker(out, i, &v->channels[i]->stats);
	}
	abuf_printf(out, "\n]");
	admin_render_services(out, v);
	abuf_printf(out, "}\n");
	return render_result(out);
}

/* One metric family, or one more series of the family above when help is NULL. */
struct metric_def {
	const char *name;
	const char *type;
	const char *help;
	const char *label;  /* extra label, already escaped, or NULL */
	size_t off;         /* of the value in struct be_sums / struct worker_channel */
};

static const struct metric_def backend_metrics[] = {
	{ "slb_backend_up", "gauge", "1 when the backend is in rotation", NULL, offsetof(struct be_sums, up) },
	{ "slb_backend_active_connections", "gauge", "Open connections to the backend", NULL,
	  offsetof(struct be_sums, active) },
	{ "slb_backend_connections_total", "counter", "Connections established to the backend", NULL,
	  offsetof(struct be_sums, conns) },
	{ "slb_backend_connect_failures_total", "counter", "Failed connects to the backend", NULL,
	  offsetof(struct be_sums, failures) },
	{ "slb_backend_replays_total", "counter",
	  "Requests the backend dropped unanswered, sent to another backend (--retry-unanswered)", NULL,
	  offsetof(struct be_sums, replays) },
	{ "slb_backend_bytes_total", "counter", "Bytes relayed, by direction", "direction=\"to_backend\"",
	  offsetof(struct be_sums, to_backend) },
	{ "slb_backend_bytes_total", NULL, NULL, "direction=\"to_client\"", offsetof(struct be_sums, to_client) },
};

#define W(field) offsetof(struct worker_channel, field)
static const struct metric_def worker_metrics[] = {
	{ "slb_worker_accepted_total", "counter", "Client connections accepted", NULL, W(stats.accepted) },
	{ "slb_worker_active_connections", "gauge", "Client connections open", NULL, W(stats.active) },
	{ "slb_worker_rejected_total", "counter", "Clients refused at the connection limit", NULL, W(stats.rejected) },
	{ "slb_worker_no_backend_total", "counter", "Clients closed because no backend could be reached", NULL,
	  W(stats.no_backend) },
	{ "slb_worker_retries_total", "counter", "Connects retried on another backend", NULL, W(stats.retries) },
	{ "slb_worker_connect_failures_total", "counter", "Failed backend connects", NULL,
	  W(stats.connect_failures) },
	{ "slb_worker_idle_timeouts_total", "counter", "Connections closed for idleness", NULL,
	  W(stats.idle_timeouts) },
	{ "slb_worker_backend_resets_total", "counter", "Relayed connections reset by their backend", NULL,
	  W(stats.backend_resets) },
	{ "slb_worker_replays_total", "counter", "Requests sent again after a backend dropped them unanswered",
	  NULL, W(stats.replays) },
	{ "slb_worker_no_backend_503_total", "counter", "Clients answered 503 because no backend could take them",
	  NULL, W(stats.no_backend_503) },
	{ "slb_worker_bytes_total", "counter", "Bytes relayed, by direction", "direction=\"to_backend\"",
	  W(stats.bytes_in) },
	{ "slb_worker_bytes_total", NULL, NULL, "direction=\"to_client\"", W(stats.bytes_out) },
	{ "slb_worker_splice_transfers_total", "counter", "Transfers relayed with splice", NULL,
	  W(stats.splice_transfers) },
	{ "slb_worker_copy_transfers_total", "counter", "Transfers relayed by copy", NULL, W(stats.copy_transfers) },
	{ "slb_worker_loop_turns_total", "counter", "Event loop turns", NULL, W(stats.loop_turns) },
	{ "slb_worker_failq_dropped_total", "counter", "Connect reports dropped on a full ring", NULL,
	  W(failq.dropped) },
	{ "slb_worker_proxy_header_errors_total", "counter",
	  "Clients closed for a malformed or late PROXY header (--accept-proxy)", NULL, W(stats.proxy_errors) },
	{ "slb_worker_sni_errors_total", "counter",
	  "Clients of ADDR:PORT,sni listeners closed for a malformed or late TLS ClientHello", "reason=\"malformed\"",
	  W(stats.sni_errors) },
	{ "slb_worker_sni_errors_total", NULL, NULL, "reason=\"timeout\"", W(stats.sni_timeouts) },
	{ "slb_worker_sni_unrouted_total", "counter",
	  "Clients of ADDR:PORT,sni listeners closed: no service for their server name (or no TLS) and no "
	  "sni-fallback", NULL, W(stats.sni_unrouted) },
	{ "slb_access_log_lines_total", "counter", "Access log lines handed to the log thread", NULL,
	  W(stats.access_log_lines) },
	{ "slb_access_log_dropped_total", "counter", "Access log lines dropped because the log thread was behind",
	  NULL, W(stats.access_log_dropped) },
};
#undef W

static void metric_head(struct abuf *out, const struct metric_def *m)
{
	if (m->help)
		abuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
}

/* "name{backend="ADDR",name="NAME",service="SVC"": every per-backend series names the
 * backend's service, so that a dashboard sums or filters by it; the caller closes the braces. */
static void metrics_backend_labels(struct abuf *out, const struct admin_view *v, const char *name,
				   const struct backend *b)
{
	char addr[ADDR_TEXT_MAX];

	abuf_printf(out, "%s{backend=\"", name);
	abuf_label(out, addr_format(&b->addr, addr, sizeof(addr)));
	abuf_printf(out, "\",name=\"");
	abuf_label(out, b->name);
	/* service names are [a-z0-9_-]: nothing to escape */
	abuf_printf(out, "\",service=\"%s\"", v->cfg ? config_service_name(v->cfg, b->service) : "default");
}

static void metrics_backends(struct abuf *out, const struct admin_view *v, const struct metric_def *m)
{
	struct be_sums s;

	metric_head(out, m);
	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(v->table, id);

		if (!b)
			continue;
		sum_backend(v, b, &s);
		metrics_backend_labels(out, v, m->name, b);
		abuf_printf(out, "%s%s} %llu\n", m->label ? "," : "", m->label ? m->label : "",
			    (unsigned long long)*(const uint64_t *)((const char *)&s + m->off));
	}
}

static void metrics_workers(struct abuf *out, const struct admin_view *v, const struct metric_def *m)
{
	metric_head(out, m);
	for (unsigned i = 0; i < v->n_channels; i++) {
		const stat_t *c = (const stat_t *)((const char *)v->channels[i] + m->off);

		abuf_printf(out, "%s{worker=\"%u\"%s%s} %llu\n", m->name, i, m->label ? "," : "",
			    m->label ? m->label : "", (unsigned long long)stat_get(c));
	}
}

static void metrics_states(struct abuf *out, const struct admin_view *v)
{
	unsigned count[BE_STATE_ADMIN_DOWN + 1] = { 0 };

	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(v->table, id);

		if (b && (unsigned)b->state <= BE_STATE_ADMIN_DOWN)
			count[b->state]++;
	}
	abuf_printf(out, "# HELP slb_backends Backends in the table, by state\n# TYPE slb_backends gauge\n");
	for (unsigned st = 0; st <= BE_STATE_ADMIN_DOWN; st++)
		abuf_printf(out, "slb_backends{state=\"%s\"} %u\n", be_state_name((enum be_state)st), count[st]);
}

/* The gray-failure gauges: seconds, as Prometheus likes them; a backend without a fresh figure
 * (or without a heartbeat rhythm, for phi) has no sample rather than a made-up 0. */
static void metrics_gauge_head(struct abuf *out, const char *name, const char *help)
{
	abuf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void metrics_gauge(struct abuf *out, const struct admin_view *v, const char *name, const struct backend *b,
			  double value)
{
	metrics_backend_labels(out, v, name, b);
	abuf_printf(out, "} %.6f\n", value);
}

static void metrics_latency(struct abuf *out, const struct admin_view *v, unsigned kind)
{
	static const char *const names[] = { "slb_backend_connect_seconds", "slb_backend_ttfb_seconds",
					     "slb_backend_phi" };
	static const char *const helps[] = { "Connect time, moving average over workers",
					     "Time to first response byte, moving average over workers",
					     "Heartbeat suspicion (phi accrual) of the backend's session" };

	metrics_gauge_head(out, names[kind], helps[kind]);
	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(v->table, id);
		struct gray_figure f;
		double phi;

		if (!b)
			continue;
		if (kind == 2) {
			phi = gray_phi(v->gray, id, v->now_ms);
			if (b->session && phi >= 0)
				metrics_gauge(out, v, names[kind], b, phi);
			continue;
		}
		f = gray_backend_figure(v->channels, v->n_channels, id, kind == 1, v->now_ms);
		if (f.n)
			metrics_gauge(out, v, names[kind], b, (double)f.avg_us / 1e6);
	}
}

/* slb_client_refused_total{service,reason} and slb_client_untracked_total{service}. */
static void metrics_clients(struct abuf *out, const struct admin_view *v)
{
	static const char *const reasons[] = { "denied", "max_conns", "max_rate" };
	uint64_t sum[CLIENT_FIGURES];

	abuf_printf(out, "# HELP slb_client_refused_total Clients reset by their service's --client-* rules, by "
			 "reason\n# TYPE slb_client_refused_total counter\n");
	for (unsigned svc = 0; svc < view_services(v); svc++) {
		sum_clients(v, svc, sum);
		for (unsigned k = 0; k < 3; k++)
			abuf_printf(out, "slb_client_refused_total{service=\"%s\",reason=\"%s\"} %llu\n",
				    v->cfg ? config_service_name(v->cfg, svc) : "default", reasons[k],
				    (unsigned long long)sum[k]);
	}
	abuf_printf(out, "# HELP slb_client_untracked_total Clients let in uncounted: the client table was full "
			 "around them\n# TYPE slb_client_untracked_total counter\n");
	for (unsigned svc = 0; svc < view_services(v); svc++) {
		sum_clients(v, svc, sum);
		abuf_printf(out, "slb_client_untracked_total{service=\"%s\"} %llu\n",
			    v->cfg ? config_service_name(v->cfg, svc) : "default", (unsigned long long)sum[3]);
	}
}

int admin_render_metrics(struct abuf *out, const struct admin_view *v)
{
	metrics_states(out, v);
	admin_render_service_metrics(out, v);
	for (unsigned kind = 0; kind < 3; kind++)
		metrics_latency(out, v, kind);
	for (size_t i = 0; i < sizeof(backend_metrics) / sizeof(backend_metrics[0]); i++)
		metrics_backends(out, v, &backend_metrics[i]);
	for (size_t i = 0; i < sizeof(worker_metrics) / sizeof(worker_metrics[0]); i++)
		metrics_workers(out, v, &worker_metrics[i]);
	metrics_clients(out, v);
	return render_result(out);
}

/* See slb/control/admin.h. */
int admin_render_ready(struct abuf *out, enum admin_ready why, uint32_t n_live)
{
	static const char *const reasons[] = { [READY_DRAINING] = "draining", [READY_STARTING] = "starting",
					       [READY_NO_BACKEND] = "no live backend" };

	if (why != READY_YES) {
		abuf_printf(out, "not ready: %s\n", reasons[why]);
		return 503;
	}
	abuf_printf(out, "ready: %u live backend%s\n", n_live, n_live == 1 ? "" : "s");
	return 200;
}
