/* admin_api: the admin endpoint's routes: the documents (dashboard, /status, /metrics,
 * /events) and the runtime API that steers backends (drain, enable, disable, weight, add,
 * remove). It runs on the health thread, so a change is a call into the backend table like
 * any heartbeat or probe result: the table derives the state, logs the transition with the
 * peer's address, and health publishes. Request bodies are JSON, parsed by jansson with
 * duplicate keys refused; every bad input is answered with a message and changes nothing.
 * The routes and their status codes are documented in docs/admin-api.md. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_server.h"
#include "slb/common/log.h"
#include "slb/common/snapshot.h"
#include "slb/common/hbauth.h"

#define API_SEGMENT_MAX 96 /* a decoded {addr} longer than this names no backend */

struct api_call {
	struct health_ctx *ctx;
	const struct admin_request *req;
	const char *body;
	size_t body_len;
	const struct slb_addr *peer;
	char who[ADDR_TEXT_MAX + 8];  /* "from 127.0.0.1": folded into the table's reasons */
	struct backend *b;            /* the {addr} of a /backends/{addr} route */
	struct admin_answer *ans;
	int svc;                      /* /services/NAME/...: NAME's index; -1: a route of before services */
};

typedef void (*api_fn)(struct api_call *c);

static void api_answer_json(struct api_call *c, int code)
{
	c->ans->code = code;
	c->ans->ctype = "application/json";
}

/* {"error":"..."} with that status; nothing was changed. */
static void api_error(struct api_call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void api_error(struct api_call *c, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	abuf_free(&c->ans->body);
	abuf_printf(&c->ans->body, "{\"error\":");
	abuf_json_str(&c->ans->body, msg);
	abuf_printf(&c->ans->body, "}\n");
	api_answer_json(c, code);
}

static struct admin_view api_view(const struct api_call *c)
{
	return (struct admin_view){ .table = c->ctx->table, .channels = c->ctx->channels,
				    .n_channels = c->ctx->n_channels, .now_ms = c->ctx->now_ms, .gray = c->ctx->gray,
				    .cfg = c->ctx->cfg, .service = -1 };
}

/* 200 with the backend as /status shows it, after a change. */
static void api_backend_answer(struct api_call *c, struct backend *b)
{
	struct admin_view v = api_view(c);

	hl_note_active(c->ctx, b);
	admin_render_backend(&c->ans->body, &v, b);
	abuf_printf(&c->ans->body, "\n");
	api_answer_json(c, 200);
}

static void api_rendered(struct api_call *c, int rc, const char *ctype)
{
	if (rc) {
		slb_log_limited(LOG_WARN, rc, "admin: response over %u bytes", ADMIN_BODY_MAX);
		api_error(c, 500, "response too large");
		return;
	}
	c->ans->code = 200;
	c->ans->ctype = ctype;
}

/* The state named by len bytes at p (be_state_name's words), or -1. */
static int api_state_of(const char *p, size_t len)
{
	for (int s = BE_STATE_DOWN; s <= BE_STATE_ADMIN_DOWN; s++)
		if (strlen(be_state_name(s)) == len && memcmp(be_state_name(s), p, len) == 0)
			return s;
	return -1;
}

/* A whole number of 1 to 9 digits in len bytes at p into *out. Returns 0 or 400. */
static int api_uint_of(const char *p, size_t len, uint32_t *out)
{
	uint32_t n = 0;

	if (len == 0 || len > 9)
		return 400;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 400;
		n = n * 10 + (uint32_t)(p[i] - '0');
	}
	*out = n;
	return 0;
}

/* The paging and state parameters of /status (state=, limit=N, after=ID) into v. Returns 0,
 * 400, or 1 when p is none of them. */
static int api_status_page_param(const char *p, size_t len, struct admin_view *v)
{
	if (len > 6 && memcmp(p, "state=", 6) == 0) {
		int s = api_state_of(p + 6, len - 6);

		if (s < 0)
			return 400;
		v->states |= 1u << s; /* state=down&state=draining: either */
		return 0;
	}
	if (len > 6 && memcmp(p, "limit=", 6) == 0)
		return api_uint_of(p + 6, len - 6, &v->limit) || v->limit == 0 ? 400 : 0;
	if (len > 6 && memcmp(p, "after=", 6) == 0)
		return api_uint_of(p + 6, len - 6, &v->after);
	return 1;
}

/* One parameter of /status's query ("per_worker=1", "service=NAME", "state=STATE",
 * "limit=N", "after=ID"; len bytes at p) into v. Returns 0, 400 or 404. */
static int api_status_param(struct api_call *c, const char *p, size_t len, struct admin_view *v)
{
	char name[CONFIG_SERVICE_NAME_MAX];
	int rc;

	if (len == 12 && memcmp(p, "per_worker=1", 12) == 0) {
		v->per_worker = true;
		return 0;
	}
	rc = api_status_page_param(p, len, v);
	if (rc != 1)
		return rc;
	if (len < 8 || memcmp(p, "service=", 8) != 0)
		return 400;
	if (len - 8 >= sizeof(name))
		return 404;
	memcpy(name, p + 8, len - 8);
	name[len - 8] = '\0';
	v->service = config_service_find(c->ctx->cfg, name);
	return v->service < 0 ? 404 : 0;
}

static void api_status(struct api_call *c)
{
	struct admin_view v = api_view(c);
	const char *p = c->req->query;
	const char *end = p ? p + c->req->query_len : NULL; /* no query: NULL, and no arithmetic on it */
	int rc = 0;

	while (p && p < end && rc == 0) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t len = amp ? (size_t)(amp - p) : (size_t)(end - p);

		rc = api_status_param(c, p, len, &v);
		p += len + 1;
	}
	if (rc) {
		api_error(c, rc, rc == 404 ? "unknown service"
					   : "expected no query, or any of per_worker=1, service=NAME, "
					     "state=up|down|draining|admin_down, limit=N (N >= 1), after=ID, joined by &");
		return;
	}
	api_rendered(c, admin_render_status(&c->ans->body, &v), "application/json");
}

/* GET /status/summary: counts per service and state; takes no query. */
static void api_summary(struct api_call *c)
{
	struct admin_view v = api_view(c);

	if (c->req->query && c->req->query_len) {
		api_error(c, 400, "/status/summary takes no query");
		return;
	}
	api_rendered(c, admin_render_summary(&c->ans->body, &v), "application/json");
}

static void api_metrics(struct api_call *c)
{
	struct admin_view v = api_view(c);

	api_rendered(c, admin_render_metrics(&c->ans->body, &v), "text/plain; version=0.0.4; charset=utf-8");
}

/* An instance that just started has not seen every heartbeat backend yet: each reconnects
 * within its backoff (at most 2 s in slb-backend and slb-agent), and --heartbeat-timeout is
 * the silence slb already reads as "gone". Until then its Maglev table would lack backends
 * that the other instances have, and clients routed to it would move: so it waits. */
static enum admin_ready api_ready_reason(const struct health_ctx *ctx, uint32_t n_live)
{
	if (ctx->draining)
		return READY_DRAINING;
	if (ctx->cfg->has_heartbeat_listen && ctx->now_ms - ctx->started_ms < (int64_t)ctx->cfg->heartbeat_timeout_ms)
		return READY_STARTING;
	return n_live ? READY_YES : READY_NO_BACKEND;
}

/* GET /ready, for a route announcer. The live count is the published snapshot's, what workers
 * pick from; the health thread publishes every snapshot and frees the old ones, so its own
 * read needs no grace. */
static void api_ready(struct api_call *c)
{
	/* live in any service: a service with none is the /status page's to show */
	uint32_t n_live = snapshot_live(snapshot_current());

	c->ans->code = admin_render_ready(&c->ans->body, api_ready_reason(c->ctx, n_live), n_live);
	c->ans->ctype = "text/plain";
}

static void api_dashboard(struct api_call *c)
{
	c->ans->code = 200;
	c->ans->ctype = "text/html; charset=utf-8";
	c->ans->fixed = admin_dashboard_html;
	c->ans->fixed_len = admin_dashboard_html_len;
}

/* "since=N" in the query, the only parameter there is. Returns 0 (with *since left alone
 * when the query does not give it), or -EINVAL. */
static int api_query_since(const struct admin_request *req, uint64_t *since)
{
	char text[24];
	char *end;

	if (!req->query || req->query_len == 0)
		return 0;
	if (req->query_len < 7 || req->query_len - 6 >= sizeof(text) || memcmp(req->query, "since=", 6) != 0)
		return -EINVAL;
	memcpy(text, req->query + 6, req->query_len - 6);
	text[req->query_len - 6] = '\0';
	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	*since = strtoull(text, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static void api_events(struct api_call *c)
{
	uint64_t since = 0;

	if (api_query_since(c->req, &since)) {
		api_error(c, 400, "expected ?since=N, N a whole number");
		return;
	}
	api_rendered(c, admin_render_events(&c->ans->body, c->ctx->events, since), "application/json");
}

/* Without ?since= a subscriber gets only what happens from now on. */
static void api_stream(struct api_call *c)
{
	c->ans->since = c->ctx->events->next_seq - 1;
	if (api_query_since(c->req, &c->ans->since)) {
		api_error(c, 400, "expected ?since=N, N a whole number");
		return;
	}
	c->ans->code = 200;
	c->ans->stream = true;
	c->ans->ctype = "text/event-stream";
}

static void api_show(struct api_call *c)
{
	api_backend_answer(c, c->b);
}

/* Logs a change about to be made, and has it published in this loop turn: the answer goes
 * out after the publish (see admin.c conn_answer), so once the operator reads 200 the workers
 * route by it (a weight, which alone would wait for the next tick, included). */
static void api_log_change(const struct api_call *c, const char *what)
{
	char addr[ADDR_TEXT_MAX], peer[ADDR_TEXT_MAX];

	table_mark_urgent(c->ctx->table);

	slb_log(LOG_INFO, 0, "admin: %s backend %s (id %u) asked by %s", what, addr_format(&c->b->addr, addr, sizeof(addr)),
		c->b->id, addr_format(c->peer, peer, sizeof(peer)));
}

static void api_apply(struct api_call *c, enum be_event ev)
{
	api_log_change(c, be_event_name(ev) + 6); /* "admin drain" -> "drain" */
	table_apply(c->ctx->table, c->b, ev, c->who, c->ctx->now_ms);
	api_backend_answer(c, c->b);
}

static void api_drain(struct api_call *c)
{
	api_apply(c, BE_EV_ADMIN_DRAIN);
}

static void api_disable(struct api_call *c)
{
	api_apply(c, BE_EV_ADMIN_DISABLE);
}

static void api_enable(struct api_call *c)
{
	if (c->b->removing) {
		api_error(c, 409, "backend %u is being removed; add it again once it is gone", c->b->id);
		return;
	}
	/* "this backend is fine": an outlier ejection and its history end too */
	table_clear_outlier(c->ctx->table, c->b, c->ctx->now_ms);
	api_apply(c, BE_EV_ADMIN_ENABLE);
}

/* A backend whose heartbeat session lives belongs to that session's process: removed, it
 * would register again at its next REGISTER, so the conflict is reported instead. */
static void api_remove(struct api_call *c)
{
	if (c->b->session) {
		api_error(c, 409,
			  "backend %u has a live heartbeat session and would register again: stop its agent (BYE) or "
			  "disable it; a heartbeat backend leaves the table 60 s after its session ends",
			  c->b->id);
		return;
	}
	api_apply(c, BE_EV_ADMIN_REMOVE);
}

/* The body of PUT .../weight: a bare number, or {"weight": N}. Returns the weight, or -1. */
static int api_weight_of(json_t *root)
{
	json_t *w = root;

	if (json_is_object(root)) {
		if (json_object_size(root) != 1)
			return -1;
		w = json_object_get(root, "weight");
	}
	if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > CONFIG_MAX_WEIGHT)
		return -1;
	return (int)json_integer_value(w);
}

/* Parses the body as JSON (any value at the top, duplicate keys refused). Returns the value
 * (the caller decrefs it), or NULL after answering 400. */
static json_t *api_body_json(struct api_call *c)
{
	json_error_t jerr;
	json_t *root;

	if (c->body_len == 0) {
		api_error(c, 400, "a JSON body is needed");
		return NULL;
	}
	root = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root)
		api_error(c, 400, "bad JSON at byte %d: %s", jerr.position, jerr.text);
	return root;
}

static void api_weight(struct api_call *c)
{
	json_t *root = api_body_json(c);
	int w;

	if (!root)
		return;
	w = api_weight_of(root);
	json_decref(root);
	if (w < 0) {
		api_error(c, 400, "expected a whole number from 0 to %d, or {\"weight\":N} (0 drains)", CONFIG_MAX_WEIGHT);
		return;
	}
	api_log_change(c, "set the weight of");
	table_set_admin_weight(c->ctx->table, c->b, (unsigned)w, c->who, c->ctx->now_ms);
	api_backend_answer(c, c->b);
}

/* A backend to add is read from {"address": "...", "weight": N, "check": "...", "name": "..."}
 * into a struct table_admin_add. */
static const char *api_new_address(struct health_ctx *ctx, json_t *v, struct table_admin_add *nb)
{
	const char *problem;

	if (!json_is_string(v) || addr_parse(json_string_value(v), &nb->addr, NULL, 0))
		return "\"address\" must be \"IPv4:PORT\" or \"[IPv6]:PORT\"";
	problem = addr_host_problem(&nb->addr);
	if (!problem)
		problem = config_served_by(ctx->cfg, &nb->addr, addr_is_local);
	return problem;
}

static const char *api_new_field(struct health_ctx *ctx, const char *key, json_t *v, struct table_admin_add *nb)
{
	const char *why = NULL;

	if (strcmp(key, "address") == 0)
		return api_new_address(ctx, v, nb);
	if (strcmp(key, "weight") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > CONFIG_MAX_WEIGHT)
			return "\"weight\" must be a whole number from 1 to 256";
		nb->weight = (unsigned)json_integer_value(v);
	} else if (strcmp(key, "check") == 0) {
		if (!json_is_string(v) || config_parse_check(json_string_value(v), &nb->check, nb->check_path, &why))
			return why ? why : "\"check\" must be \"tcp\", \"http:/PATH\" or \"none\"";
		nb->own_check = true;
	} else if (strcmp(key, "name") == 0) {
		if (!json_is_string(v) || hb_parse_name(json_string_value(v), json_string_length(v), nb->name))
			return "\"name\" must be 1-63 printable ASCII characters without spaces, quotes or backslashes";
	} else {
		return "unknown key (address, weight, check, name)";
	}
	return NULL;
}

/* Returns NULL with nb filled (but for nb->checking, the service's to decide), or why the
 * body is refused. */
static const char *api_new_backend_parse(struct health_ctx *ctx, json_t *root, struct table_admin_add *nb)
{
	const char *key, *why;
	json_t *v;

	memset(nb, 0, sizeof(*nb));
	nb->weight = 1;
	if (!json_is_object(root) || !json_object_get(root, "address"))
		return "expected {\"address\": \"ADDR:PORT\", \"weight\": N, \"check\": \"tcp\", \"name\": \"NAME\"}";
	json_object_foreach(root, key, v) {
		why = api_new_field(ctx, key, v, nb);
		if (why)
			return why;
	}
	return NULL;
}

/* Names are unique among the backends the operator gives (the flags and this API) within a
 * service, so that the name steers exactly one; a heartbeat backend's name is its process's to
 * choose. An address is one backend of one service: the table finds a backend by it. */
static void api_add_backend(struct api_call *c, struct table_admin_add *nb)
{
	unsigned svc = c->svc < 0 ? 0 : (unsigned)c->svc, named;
	struct backend *b = table_find(c->ctx->table, &nb->addr);
	int rc;

	if (b) {
		api_error(c, 409, "backend %u already has that address (in service %s)", b->id,
			  config_service_name(c->ctx->cfg, b->service));
		return;
	}
	b = table_find_name_in(c->ctx->table, nb->name, (int)svc, &named);
	if (b) {
		api_error(c, 409, "backend %u already has the name '%s' in service %s", b->id, nb->name,
			  config_service_name(c->ctx->cfg, svc));
		return;
	}
	nb->checking = (nb->own_check ? nb->check : c->ctx->cfg->services[svc].check) != CHECK_NONE;
	nb->service = svc;
	rc = table_add_admin_backend(c->ctx->table, nb, c->who, c->ctx->now_ms, &b);
	if (rc) {
		api_error(c, 409, "the backend table is full");
		return;
	}
	c->b = b;
	api_log_change(c, "added");
	api_backend_answer(c, b);
}

static void api_add(struct api_call *c)
{
	struct table_admin_add nb;
	json_t *root = api_body_json(c);
	const char *why;

	if (!root)
		return;
	why = api_new_backend_parse(c->ctx, root, &nb);
	json_decref(root);
	if (why) {
		api_error(c, 400, "%s", why);
		return;
	}
	api_add_backend(c, &nb);
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len) into out (NUL-terminated). Returns 0, or -EINVAL for a bad
 * escape, a NUL, or a text that does not fit. */
static int api_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++, n++) {
		int hi = 0, lo = 0;

		if (n + 1 >= outlen)
			return -EINVAL;
		out[n] = s[i];
		if (s[i] != '%')
			continue;
		if (i + 2 >= len)
			return -EINVAL;
		hi = hex_digit(s[i + 1]);
		lo = hex_digit(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi | lo) == 0)
			return -EINVAL;
		out[n] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[n] = '\0';
	return 0;
}

#define API_UNKNOWN "unknown backend: give its id, its address or its name as /status shows it"

/* A name: unique among the backends the operator gave within a service, but a heartbeat
 * backend registers under any name, so an ambiguous one is refused rather than guessed: 409
 * on a route without a service when the bearers are in several services (the service's own
 * route tells them apart), 400 when they share one. Answers the error when it finds none or
 * several. */
static struct backend *api_find_name(struct api_call *c, const char *name)
{
	unsigned n, in_first;
	struct backend *b = table_find_name_in(c->ctx->table, name, c->svc, &n);

	if (!b) {
		api_error(c, 404, API_UNKNOWN);
		return NULL;
	}
	if (n == 1)
		return b;
	table_find_name_in(c->ctx->table, name, (int)b->service, &in_first);
	if (in_first < n)
		api_error(c, 409, "ambiguous name '%s': backends of several services bear it; use "
			  "/services/NAME/backends/%s", name, name);
	else
		api_error(c, 400, "ambiguous name '%s': %u backends bear it; give the id or the address", name, n);
	return NULL;
}

/* {addr}: the id as /status shows it, the address (IPv6 in brackets, maybe percent-encoded),
 * or the name (a name holds no ':', so it never reads as an address). NULL when it names no
 * backend, with the error answered. */
static struct backend *api_find_backend(struct api_call *c, const char *seg, size_t len)
{
	char text[API_SEGMENT_MAX];
	struct backend *b = NULL;
	struct slb_addr a;
	size_t digits;

	if (api_decode(seg, len, text, sizeof(text)))
		goto out_unknown;
	digits = strspn(text, "0123456789");
	if (digits && !text[digits] && digits < 6)
		b = table_get(c->ctx->table, (uint32_t)strtoul(text, NULL, 10));
	else if (addr_parse(text, &a, NULL, 0) == 0)
		b = table_find(c->ctx->table, &a);
	else
		return api_find_name(c, text);
	if (b && c->svc >= 0 && b->service != (unsigned)c->svc)
		b = NULL; /* another service's: this one has no such backend */
	if (b)
		return b;
out_unknown:
	api_error(c, 404, API_UNKNOWN);
	return NULL;
}

/* A path is prefix alone (suffix NULL), or prefix, one {addr} segment, then suffix. */
struct route {
	const char *prefix;
	const char *suffix;
	enum admin_method method;
	bool changes;         /* needs the token, or a loopback peer without one */
	api_fn fn;
	const char *allow;    /* every method this path takes, for a 405 */
};

static const struct route routes[] = {
	{ "/", NULL, ADMIN_METHOD_GET, false, api_dashboard, "GET" },
	{ "/status", NULL, ADMIN_METHOD_GET, false, api_status, "GET" },
	{ "/status/summary", NULL, ADMIN_METHOD_GET, false, api_summary, "GET" },
	{ "/metrics", NULL, ADMIN_METHOD_GET, false, api_metrics, "GET" },
	{ "/ready", NULL, ADMIN_METHOD_GET, false, api_ready, "GET" },
	{ "/events", NULL, ADMIN_METHOD_GET, false, api_events, "GET" },
	{ "/events/stream", NULL, ADMIN_METHOD_GET, false, api_stream, "GET" },
	{ "/backends", NULL, ADMIN_METHOD_POST, true, api_add, "POST" },
	{ "/backends/", "", ADMIN_METHOD_GET, false, api_show, "GET, DELETE" },
	{ "/backends/", "", ADMIN_METHOD_DELETE, true, api_remove, "GET, DELETE" },
	{ "/backends/", "/drain", ADMIN_METHOD_POST, true, api_drain, "POST" },
	{ "/backends/", "/enable", ADMIN_METHOD_POST, true, api_enable, "POST" },
	{ "/backends/", "/disable", ADMIN_METHOD_POST, true, api_disable, "POST" },
	{ "/backends/", "/weight", ADMIN_METHOD_PUT, true, api_weight, "PUT" },
};

/* Whether path matches r; for a route with a segment, sets *seg and *seg_len. */
static bool route_matches(const struct route *r, const char *path, size_t len, const char **seg, size_t *seg_len)
{
	size_t plen = strlen(r->prefix), rest;
	const char *slash;

	if (!r->suffix)
		return len == plen && memcmp(path, r->prefix, plen) == 0;
	if (len <= plen || memcmp(path, r->prefix, plen) != 0)
		return false;
	*seg = path + plen;
	slash = memchr(*seg, '/', len - plen);
	*seg_len = slash ? (size_t)(slash - *seg) : len - plen;
	rest = len - plen - *seg_len;
	return *seg_len > 0 && rest == strlen(r->suffix) && memcmp(*seg + *seg_len, r->suffix, rest) == 0;
}

/* The route for path[0..len), or NULL after answering 404 (no such path) or 405 (not that
 * method). Under /services/NAME only the /backends routes are found. */
static const struct route *api_route(struct api_call *c, const char *path, size_t len, const char **seg,
				     size_t *seg_len)
{
	const struct route *path_match = NULL;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (c->svc >= 0 && strncmp(routes[i].prefix, "/backends", 9) != 0)
			continue;
		if (!route_matches(&routes[i], path, len, seg, seg_len))
			continue;
		if (routes[i].method == c->req->method)
			return &routes[i];
		path_match = &routes[i];
	}
	if (!path_match) {
		api_error(c, 404, "no such path");
		return NULL;
	}
	api_error(c, 405, "this path takes %s", path_match->allow);
	c->ans->allow = path_match->allow;
	return NULL;
}

/* Changes need the token when there is one, else a loopback peer. Returns 0, or the status
 * after answering it. A token on a read is not looked at: reads stay open. */
static int api_authorize(struct api_call *c, const struct admin_auth *auth)
{
	unsigned char h[crypto_generichash_BYTES];
	const struct admin_request *r = c->req;

	if (!auth->on) {
		if (addr_is_loopback(c->peer))
			return 0;
		api_error(c, 403, "changes are allowed from loopback only unless slb runs with --admin-token-file");
		return 403;
	}
	if (!r->auth || r->auth_len < 8 || strncasecmp(r->auth, "Bearer ", 7) != 0) {
		api_error(c, 401, "this change needs \"Authorization: Bearer TOKEN\"");
		return 401;
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)r->auth + 7, r->auth_len - 7, NULL, 0);
	if (sodium_memcmp(h, auth->hash, sizeof(h)) == 0)
		return 0;
	slb_log_limited(LOG_WARN, 0, "admin: wrong token from %s", c->who + 5);
	api_error(c, 401, "wrong token");
	return 401;
}

/* "from 127.0.0.1": the peer's host, without its port. */
static void api_who(struct api_call *c)
{
	char text[ADDR_TEXT_MAX];
	char *colon;

	addr_format(c->peer, text, sizeof(text));
	colon = strrchr(text, ':');
	if (colon)
		*colon = '\0';
	snprintf(c->who, sizeof(c->who), "from %s", text);
}

#define API_SERVICES "/services/"

/* /services/NAME/REST: sets c->svc to NAME's index and *path, *len to REST ("/backends...").
 * Returns 0 (also for a path of before services, left as it is), or -ENOENT after answering
 * 404 for a service slb does not have. */
static int api_service_prefix(struct api_call *c, const char **path, size_t *len)
{
	const size_t plen = sizeof(API_SERVICES) - 1;
	char name[CONFIG_SERVICE_NAME_MAX];
	const char *slash;
	size_t n;

	if (*len <= plen || memcmp(*path, API_SERVICES, plen) != 0)
		return 0;
	slash = memchr(*path + plen, '/', *len - plen);
	n = slash ? (size_t)(slash - (*path + plen)) : *len - plen;
	if (n > 0 && n < sizeof(name)) {
		memcpy(name, *path + plen, n);
		name[n] = '\0';
		c->svc = config_service_find(c->ctx->cfg, name);
	}
	if (c->svc < 0) {
		api_error(c, 404, "unknown service: /services/NAME/backends/... takes a service /status lists");
		return -ENOENT;
	}
	*len -= plen + n;
	*path += plen + n;
	return 0;
}

void admin_api_answer(struct health_ctx *ctx, const struct admin_auth *auth, const struct admin_request *req,
		      const char *body, size_t len, const struct slb_addr *peer, struct admin_answer *ans)
{
	struct api_call c = { ctx, req, body, len, peer, "", NULL, ans, -1 };
	const char *path = req->path, *seg = NULL;
	size_t path_len = req->path_len, seg_len = 0;
	const struct route *r;

	memset(ans, 0, sizeof(*ans));
	abuf_init(&ans->body, ADMIN_BODY_MAX);
	api_who(&c);
	if (api_service_prefix(&c, &path, &path_len))
		return;
	r = api_route(&c, path, path_len, &seg, &seg_len);
	if (!r || (r->changes && api_authorize(&c, auth)))
		return;
	if (r->suffix) {
		c.b = api_find_backend(&c, seg, seg_len);
		if (!c.b)
			return;
	}
	r->fn(&c);
}

int admin_auth_load(const char *path, struct admin_auth *auth, char *err, size_t errlen)
{
	struct hbauth_key key;
	int rc;

	memset(auth, 0, sizeof(*auth));
	rc = hbauth_init();
	if (!rc)
		rc = hbauth_load_secret("admin token", path, &key, err, errlen);
	if (rc)
		return rc;
	crypto_generichash(auth->hash, sizeof(auth->hash), key.bytes, key.len, NULL, 0);
	hbauth_wipe_key(&key);
	auth->on = true;
	return 0;
}
