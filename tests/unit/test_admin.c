/* Admin rendering without sockets: /status JSON and /metrics text from a table and fake
 * worker channels, counters summed over workers, escaping, and the size cap. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/log.h"
#include "slb/common/stats.h"
#include "slb/control/admin_render.h"

static const struct table_params params = { .svc[0] = { .rise = 2, .fall = 3, .eject_failures = 3 },
					    .heartbeat_timeout_ms = 3000, .expire_ms = 60000,
					    .outlier_base_ejection_ms = 30000 };

static struct backend_table *t;
static struct worker_channel *ch[2];
static struct abuf out;
static int session;

static void setup(void)
{
	atomic_store(&log_threshold, LOG_ERROR);
	t = table_create(&params);
	for (unsigned i = 0; i < 2; i++)
		ch[i] = calloc(1, sizeof(*ch[i]));
	cr_assert(t && ch[0] && ch[1]);
	abuf_init(&out, 1 << 20);
}

static void teardown(void)
{
	abuf_free(&out);
	free(ch[0]);
	free(ch[1]);
	table_destroy(t);
}

TestSuite(admin, .init = setup, .fini = teardown);

static struct backend *add_static(const char *text)
{
	struct slb_addr a;
	struct backend *b;

	cr_assert_eq(addr_parse(text, &a, NULL, 0), 0);
	cr_assert_eq(table_add_static(t, &a, 1, 0, &b), 0);
	return b;
}

static struct backend *add_heartbeat(const char *text, const char *name, int64_t now)
{
	struct hb_msg m = { .verb = HB_VERB_REGISTER, .weight = 5, .load = 30 };
	struct backend *b;

	cr_assert_eq(addr_parse(text, &m.addr, NULL, 0), 0);
	strcpy(m.name, name);
	cr_assert_eq(table_register(t, &m, &session, now, &b), 0);
	table_apply(t, b, BE_EV_HB_UP, "registered", now);
	return b;
}

static const struct admin_view *view(int64_t now)
{
	static struct admin_view v;

	v = (struct admin_view){ .table = t, .channels = ch, .n_channels = 2, .now_ms = now };
	return &v;
}

static void assert_has(const char *needle)
{
	cr_assert_not_null(strstr(out.p, needle), "missing %s in:\n%s", needle, out.p);
}

/* Brackets and braces balance outside strings, and the text ends in "}\n". */
static void assert_json_shape(const char *s)
{
	int depth = 0;
	bool in_str = false;

	for (; *s; s++) {
		if (in_str) {
			if (*s == '\\')
				s++;
			else if (*s == '"')
				in_str = false;
			continue;
		}
		if (*s == '"')
			in_str = true;
		else if (*s == '{' || *s == '[')
			depth++;
		else if (*s == '}' || *s == ']')
			cr_assert(--depth >= 0);
		else
			cr_assert((unsigned char)*s >= 0x20 || *s == '\n');
	}
	cr_assert_eq(depth, 0);
	cr_assert_not(in_str);
}

Test(admin, status_lists_backends_with_summed_counters)
{
	struct backend *a = add_static("127.0.0.1:9001");
	struct backend *b = add_heartbeat("127.0.0.1:9002", "web1", 1000);

	stat_add(&ch[0]->stats.be[a->id].active, 2);
	stat_add(&ch[1]->stats.be[a->id].active, 3);
	stat_add(&ch[0]->stats.be[a->id].conns, 10);
	stat_add(&ch[1]->stats.be[a->id].conns, 7);
	stat_add(&ch[1]->stats.be[a->id].connect_failures, 4);
	stat_add(&ch[0]->stats.accepted, 11);
	stat_add(&ch[1]->stats.active, 1);
	cr_assert_eq(admin_render_status(&out, view(1250)), 0);
	assert_json_shape(out.p);
	assert_has("{\"backends\":[");
	assert_has("{\"id\":1,\"address\":\"127.0.0.1:9001\",\"name\":\"\",\"state\":\"up\","
		   "\"source\":\"static\","
		   "\"weight\":1,\"load\":0,\"effective_weight\":1.00,\"active_conns\":5,\"total_conns\":17,\"failures\":4");
	assert_has("\"last_heartbeat_ms\":null,\"reason\":\"static backend\"}");
	assert_has("\"service\":\"default\",\"backup\":false,\"cfg_weight\":1,"); /* no config in the view: "default" */
	assert_has("{\"id\":2,\"address\":\"127.0.0.1:9002\",\"name\":\"web1\",\"state\":\"up\","
		   "\"source\":\"heartbeat\",\"weight\":5,\"load\":30,\"effective_weight\":5.00,\"active_conns\":0");
	assert_has("\"last_heartbeat_ms\":250,\"reason\":\"registered\"}");
	assert_has("\"workers\":[\n{\"id\":0,\"active\":0,\"accepted\":11");
	assert_has("{\"id\":1,\"active\":1,\"accepted\":0");
	(void)b;
}

/* Per-client refusals are per service, summed over the workers, in /status and /metrics. */
Test(admin, client_refusals_summed_per_service)
{
	static struct slb_config cfg;
	struct admin_view v = *view(0);

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_services = 1;
	snprintf(cfg.services[0].name, sizeof(cfg.services[0].name), "default");
	v.cfg = &cfg;
	v.service = -1;
	stat_add(&ch[0]->stats.clients[0].over_conns, 30);
	stat_add(&ch[1]->stats.clients[0].over_conns, 10);
	stat_add(&ch[1]->stats.clients[0].denied, 2);
	stat_add(&ch[0]->stats.clients[0].untracked, 1);
	cr_assert_eq(admin_render_status(&out, &v), 0);
	assert_json_shape(out.p);
	assert_has("{\"name\":\"default\",\"state\":\"unserved\",\"listen\":[],");
	assert_has("\"listen\":[],\"clients\":{\"denied\":2,\"over_conns\":40,\"over_rate\":0,\"untracked\":1},");
	abuf_free(&out); /* empty again, same cap */
	cr_assert_eq(admin_render_metrics(&out, &v), 0);
	assert_has("slb_client_refused_total{service=\"default\",reason=\"max_conns\"} 40\n");
	assert_has("slb_client_refused_total{service=\"default\",reason=\"denied\"} 2\n");
	assert_has("slb_client_untracked_total{service=\"default\"} 1\n");
}

Test(admin, status_shows_state_and_reason_of_down_backends)
{
	struct backend *b = add_heartbeat("127.0.0.1:9002", "web1", 0);

	table_apply(t, b, BE_EV_HB_CLOSED, NULL, 5);
	cr_assert_eq(admin_render_status(&out, view(10)), 0);
	assert_has("\"state\":\"down\"");
	assert_has("\"reason\":\"heartbeat connection closed\"");
}

/* Issue 21: /status lists the services with their state and listen addresses; a service a
 * reload removed stays listed as removed while its backends drain. */
Test(admin, status_lists_the_services)
{
	static struct slb_config cfg;
	struct admin_view v = *view(0);
	char err[128];

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_services = 3;
	snprintf(cfg.services[0].name, sizeof(cfg.services[0].name), "default");
	snprintf(cfg.services[1].name, sizeof(cfg.services[1].name), "api");
	snprintf(cfg.services[2].name, sizeof(cfg.services[2].name), "old");
	cfg.services[2].retired = true;
	cr_assert_eq(addr_parse("127.0.0.1:9443", &cfg.listen[0], err, sizeof(err)), 0);
	cr_assert_eq(addr_parse("127.0.0.1:9444", &cfg.listen[1], err, sizeof(err)), 0);
	cfg.listen_service[0] = cfg.listen_service[1] = 1;
	cfg.n_listen = 2;
	v.cfg = &cfg;
	v.service = -1;
	cr_assert_eq(admin_render_status(&out, &v), 0);
	assert_json_shape(out.p);
#define NO_REFUSALS ",\"clients\":{\"denied\":0,\"over_conns\":0,\"over_rate\":0,\"untracked\":0}"
	assert_has("\"services\":[\n{\"name\":\"default\",\"state\":\"unserved\",\"listen\":[],");
	assert_has("},\n{\"name\":\"api\",\"state\":\"serving\",\"listen\":[\"127.0.0.1:9443\",\"127.0.0.1:9444\"],");
	assert_has("},\n{\"name\":\"old\",\"state\":\"removed\",\"listen\":[],");
	assert_has("\"listen\":[]" NO_REFUSALS ",\"algorithm\":");
	assert_has("\"admin_down\":0}\n]}\n");
	abuf_free(&out);
	v.service = 1;
	cr_assert_eq(admin_render_status(&out, &v), 0);
	cr_assert_null(strstr(out.p, "\"name\":\"old\""), "?service=api lists only api:\n%s", out.p);
	assert_has("{\"name\":\"api\",\"state\":\"serving\"");
}

Test(admin, empty_table_is_valid_json)
{
	cr_assert_eq(admin_render_status(&out, view(0)), 0);
	assert_json_shape(out.p);
	assert_has("{\"backends\":[\n],\"workers\":[");
}

Test(admin, strings_are_escaped)
{
	struct backend *b = add_static("127.0.0.1:9001");

	/* The parser never lets these through; the renderers must still cope. */
	strcpy(b->name, "a\"b\\c\nd");
	strcpy(b->reason, "tab\there");
	cr_assert_eq(admin_render_status(&out, view(0)), 0);
	assert_json_shape(out.p);
	assert_has("\"name\":\"a\\\"b\\\\c\\u000ad\"");
	assert_has("\"reason\":\"tab\\u0009here\"");
	abuf_free(&out);
	cr_assert_eq(admin_render_metrics(&out, view(0)), 0);
	assert_has("slb_backend_up{backend=\"127.0.0.1:9001\",name=\"a\\\"b\\\\c\\nd\",service=\"default\"} 1");
}

Test(admin, metrics_have_help_type_and_series)
{
	struct backend *a = add_static("127.0.0.1:9001");

	add_heartbeat("[::1]:9002", "web1", 0);
	stat_add(&ch[0]->stats.be[a->id].bytes_to_backend, 100);
	stat_add(&ch[1]->stats.be[a->id].bytes_to_backend, 23);
	stat_add(&ch[1]->stats.be[a->id].bytes_to_client, 9);
	stat_add(&ch[0]->stats.be[a->id].active, 6);
	stat_add(&ch[1]->stats.bytes_out, 77);
	cr_assert_eq(admin_render_metrics(&out, view(0)), 0);
	assert_has("# HELP slb_backend_up ");
	assert_has("# TYPE slb_backend_up gauge\n");
	assert_has("slb_backend_up{backend=\"127.0.0.1:9001\",name=\"\",service=\"default\"} 1\n");
	assert_has("slb_backend_up{backend=\"[::1]:9002\",name=\"web1\",service=\"default\"} 1\n");
	assert_has("# TYPE slb_backend_active_connections gauge\n");
	assert_has("slb_backend_active_connections{backend=\"127.0.0.1:9001\",name=\"\",service=\"default\"} 6\n");
	assert_has("# TYPE slb_backend_connections_total counter\n");
	assert_has("# TYPE slb_backend_connect_failures_total counter\n");
	assert_has("slb_backend_bytes_total{backend=\"127.0.0.1:9001\",name=\"\",service=\"default\",direction=\"to_backend\"} 123\n");
	assert_has("slb_backend_bytes_total{backend=\"127.0.0.1:9001\",name=\"\",service=\"default\",direction=\"to_client\"} 9\n");
	assert_has("slb_worker_bytes_total{worker=\"1\",direction=\"to_client\"} 77\n");
	assert_has("# TYPE slb_worker_accepted_total counter\n");
	assert_has("slb_worker_accepted_total{worker=\"0\"} 0\n");
	assert_has("slb_backends{state=\"up\"} 2\n");
	assert_has("slb_backends{state=\"draining\"} 0\n");
}

Test(admin, each_family_has_one_help_line)
{
	const char *first;

	add_static("127.0.0.1:9001");
	add_static("127.0.0.1:9002");
	cr_assert_eq(admin_render_metrics(&out, view(0)), 0);
	first = strstr(out.p, "# HELP slb_backend_bytes_total ");
	cr_assert_not_null(first);
	cr_assert_null(strstr(first + 1, "# HELP slb_backend_bytes_total "));
	first = strstr(out.p, "# TYPE slb_worker_bytes_total ");
	cr_assert_not_null(first);
	cr_assert_null(strstr(first + 1, "# TYPE slb_worker_bytes_total "));
}

Test(admin, metrics_lines_are_well_formed)
{
	add_static("127.0.0.1:9001");
	cr_assert_eq(admin_render_metrics(&out, view(0)), 0);
	cr_assert_eq(out.p[out.len - 1], '\n');
	for (char *line = out.p; *line;) {
		char *nl = strchr(line, '\n');

		cr_assert_not_null(nl);
		if (line[0] != '#') {
			char *sp = memrchr(line, ' ', (size_t)(nl - line));

			cr_assert_not_null(sp, "%.*s", (int)(nl - line), line);
			cr_assert(strspn(sp + 1, "0123456789") == (size_t)(nl - sp - 1), "%.*s", (int)(nl - line), line);
			cr_assert(strncmp(line, "slb_", 4) == 0);
		}
		line = nl + 1;
	}
}

Test(admin, overflowing_the_cap_is_an_error)
{
	struct abuf small;

	add_static("127.0.0.1:9001");
	abuf_init(&small, 64);
	cr_assert_eq(admin_render_status(&small, view(0)), -ENOSPC);
	cr_assert(small.len < 64);
	abuf_free(&small);
	abuf_init(&small, 64);
	cr_assert_eq(admin_render_metrics(&small, view(0)), -ENOSPC);
	abuf_free(&small);
}

Test(admin, abuf_grows_up_to_its_cap)
{
	struct abuf b;

	abuf_init(&b, 3000);
	for (int i = 0; i < 250; i++)
		abuf_printf(&b, "%08d,", i);
	cr_assert_not(b.overflow);
	cr_assert_eq(b.len, 2250);
	cr_assert_eq(strlen(b.p), 2250);
	for (int i = 0; i < 100; i++)
		abuf_printf(&b, "%08d,", i);
	cr_assert(b.overflow);
	cr_assert(b.len <= 3000);
	abuf_free(&b);
}

Test(admin, status_shows_the_slow_start_ramp)
{
	struct table_params p = params;

	p.svc[0].slow_start_ms = 1000;
	table_destroy(t);
	t = table_create(&p);
	cr_assert(t);
	add_heartbeat("127.0.0.1:9002", "web1", 1000);
	cr_assert_eq(admin_render_status(&out, view(1500)), 0);
	/* weight 5 at half the ramp: 5 x (10% + 90% / 2) */
	assert_has("\"weight\":5,\"load\":30,\"effective_weight\":2.75,");
}

Test(admin, status_shows_what_the_operator_set_and_the_drain)
{
	struct backend *b = add_static("127.0.0.1:9001");

	stat_add(&ch[1]->stats.be[b->id].active, 2);
	table_set_admin_weight(t, b, 4, "from 127.0.0.1", 100);
	table_apply(t, b, BE_EV_ADMIN_DRAIN, "from 127.0.0.1", 200);
	cr_assert_eq(admin_render_status(&out, view(1200)), 0);
	assert_json_shape(out.p);
	assert_has("\"state\":\"draining\",\"source\":\"static\",\"weight\":4");
	assert_has("\"cfg_weight\":1,\"admin_weight\":4,\"removing\":false,\"drained\":false,\"drain_ms\":1000");
	assert_has("\"reason\":\"admin drain from 127.0.0.1\"");
	abuf_free(&out);
	table_note_active(t, b, 0, 1500);
	cr_assert_eq(admin_render_status(&out, view(3000)), 0);
	assert_has("\"drained\":true,\"drain_ms\":1300");
}

Test(admin, events_render_as_json_after_since)
{
	static struct event_ring r;
	struct backend *b = add_static("127.0.0.1:9001");

	events_init(&r);
	events_push(&r, b, "default", "up", "draining", "admin drain from \"x\"", 5);
	events_push(&r, b, "default", "draining", "none", "removed", 6);
	cr_assert_eq(admin_render_events(&out, &r, 1), 0);
	assert_json_shape(out.p);
	assert_has("{\"last_seq\":2,\"events\":[\n{\"seq\":2,\"time_ms\":6,\"id\":1,\"address\":\"127.0.0.1:9001\"");
	assert_has("\"old\":\"draining\",\"new\":\"none\",\"reason\":\"removed\"}");
	cr_assert_null(strstr(out.p, "\"seq\":1"));
	abuf_free(&out);
	cr_assert_eq(admin_render_events(&out, &r, 0), 0);
	assert_has("\"reason\":\"admin drain from \\\"x\\\"\"");
}

Test(admin, ready_is_200_only_when_nothing_says_no)
{
	static const struct {
		enum admin_ready why;
		uint32_t live;
		int code;
		const char *text;
	} cases[] = {
		{ READY_YES, 3, 200, "ready: 3 live backends\n" },
		{ READY_YES, 1, 200, "ready: 1 live backend\n" },
		{ READY_NO_BACKEND, 0, 503, "not ready: no live backend\n" },
		{ READY_DRAINING, 3, 503, "not ready: draining\n" },
		{ READY_STARTING, 2, 503, "not ready: starting\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct abuf buf;

		abuf_init(&buf, 256);
		cr_expect_eq(admin_render_ready(&buf, cases[i].why, cases[i].live), cases[i].code, "case %zu", i);
		cr_expect_str_eq(buf.p, cases[i].text, "case %zu", i);
		abuf_free(&buf);
	}
}

/* Each worker's average weighs in with its samples (up to GRAY_WEIGHT_MAX); a stale one not
 * at all; an ejected backend says for how long. */
Test(admin, status_shows_latency_over_workers_and_the_ejection)
{
	struct backend *a = add_static("127.0.0.1:9001");
	struct backend *b = add_static("127.0.0.1:9002");

	for (int i = 0; i < 20; i++) {
		lat_ewma_add(&ch[0]->stats.be[a->id].ttfb, 2, 1000);
		lat_ewma_add(&ch[1]->stats.be[a->id].ttfb, 4, 1000);
		lat_ewma_add(&ch[0]->stats.be[a->id].connect, 1, 1000);
		lat_ewma_add(&ch[1]->stats.be[b->id].ttfb, 300, 100); /* stale at 1500 */
	}
	cr_assert_eq(table_apply(t, b, BE_EV_OUTLIER, "outlier, ttfb 300 ms vs median 3 ms", 1000), 1);
	cr_assert_eq(admin_render_status(&out, view(1500)), 0);
	assert_json_shape(out.p);
	assert_has("\"connect_ms\":1.0,\"ttfb_ms\":3.0,\"latency_samples\":40,\"phi\":null,\"outlier_ejections\":0,");
	assert_has("\"connect_ms\":null,\"ttfb_ms\":null,\"latency_samples\":0,\"phi\":null,\"outlier_ejections\":1,"
		   "\"ejected_for_ms\":29500,");
	assert_has("\"reason\":\"outlier, ttfb 300 ms vs median 3 ms, out for 30000 ms\"}");
	abuf_free(&out);
	cr_assert_eq(admin_render_metrics(&out, view(1500)), 0);
	assert_has("# TYPE slb_backend_ttfb_seconds gauge\n"
		   "slb_backend_ttfb_seconds{backend=\"127.0.0.1:9001\",name=\"\",service=\"default\"} 0.003000\n# HELP");
	assert_has("slb_backend_connect_seconds{backend=\"127.0.0.1:9001\",name=\"\",service=\"default\"} 0.001000\n# HELP");
}

/* ?per_worker=1 adds each worker's own figures: here worker 1 sees the backend slow, worker 0
 * has no recent sample. */
Test(admin, status_per_worker_shows_each_workers_latency)
{
	struct backend *a = add_static("127.0.0.1:9001");
	struct admin_view v = *view(1500);

	for (int i = 0; i < 5; i++) {
		lat_ewma_add(&ch[1]->stats.be[a->id].ttfb, 40, 1000);
		lat_ewma_add(&ch[1]->stats.be[a->id].connect, 2, 1000);
	}
	cr_assert_eq(admin_render_status(&out, &v), 0);
	cr_assert_null(strstr(out.p, "per_worker"), "only on request:\n%s", out.p);
	abuf_free(&out);
	v.per_worker = true;
	cr_assert_eq(admin_render_status(&out, &v), 0);
	assert_json_shape(out.p);
	assert_has("\"connect_ms\":2.0,\"ttfb_ms\":40.0,\"latency_samples\":5,\"per_worker\":["
		   "{\"worker\":0,\"connect_ms\":null,\"ttfb_ms\":null,\"latency_samples\":0},"
		   "{\"worker\":1,\"connect_ms\":2.0,\"ttfb_ms\":40.0,\"latency_samples\":5}],\"phi\":null");
}

/* Two services: each backend's series names its service, the per-service gauge counts each
 * service's backends by state, and /status's "services" array gives each service's addresses,
 * algorithm and live/total counts (only the asked one with ?service=). */
static struct slb_config two_cfg;

static const struct admin_view *two_services(void)
{
	static const struct table_params p2 = { .n_services = 2, .svc = { { .rise = 2, .fall = 3 }, { .rise = 2, .fall = 3 } },
						.heartbeat_timeout_ms = 3000, .expire_ms = 60000 };
	struct backend *b;
	struct slb_addr a;

	table_destroy(t);
	t = table_create(&p2);
	cr_assert_not_null(t);
	memset(&two_cfg, 0, sizeof(two_cfg));
	two_cfg.n_services = 2;
	strcpy(two_cfg.services[0].name, "default");
	strcpy(two_cfg.services[1].name, "api");
	two_cfg.services[1].balance = BALANCE_P2C;
	two_cfg.n_listen = 2;
	cr_assert_eq(addr_parse("127.0.0.1:80", &two_cfg.listen[0], NULL, 0), 0);
	cr_assert_eq(addr_parse("127.0.0.1:8443", &two_cfg.listen[1], NULL, 0), 0);
	two_cfg.listen_service[1] = 1;
	add_static("127.0.0.1:9001");
	for (unsigned i = 0; i < 3; i++) {
		char text[32];

		snprintf(text, sizeof(text), "127.0.0.1:%u", 9101 + i);
		cr_assert_eq(addr_parse(text, &a, NULL, 0), 0);
		cr_assert_eq(table_add_static_named(t, &a, 1, i ? "" : "api1", 0, &b), 0);
		cr_assert(table_set_service(t, b, 1));
		if (i == 2)
			table_apply(t, b, BE_EV_ADMIN_DISABLE, NULL, 0);
	}
	static struct admin_view v;
	v = (struct admin_view){ .table = t, .channels = ch, .n_channels = 2, .cfg = &two_cfg, .service = -1 };
	return &v;
}

Test(admin, metrics_name_each_backends_service_and_count_per_service)
{
	cr_assert_eq(admin_render_metrics(&out, two_services()), 0);
	assert_has("slb_backend_up{backend=\"127.0.0.1:9001\",name=\"\",service=\"default\"} 1\n");
	assert_has("slb_backend_up{backend=\"127.0.0.1:9101\",name=\"api1\",service=\"api\"} 1\n");
	assert_has("slb_backend_bytes_total{backend=\"127.0.0.1:9102\",name=\"\",service=\"api\",direction=\"to_client\"} 0\n");
	assert_has("# TYPE slb_service_backends gauge\n");
	assert_has("slb_service_backends{service=\"default\",state=\"up\"} 1\n");
	assert_has("slb_service_backends{service=\"api\",state=\"up\"} 2\n");
	assert_has("slb_service_backends{service=\"api\",state=\"admin_down\"} 1\n");
	assert_has("slb_service_backends{service=\"api\",state=\"draining\"} 0\n");
	assert_has("slb_backends{state=\"up\"} 3\n");
}

Test(admin, status_lists_each_service_with_its_counts)
{
	struct admin_view *v = (struct admin_view *)two_services();

	cr_assert_eq(admin_render_status(&out, v), 0);
	assert_json_shape(out.p);
	assert_has("\"services\":[\n{\"name\":\"default\",\"state\":\"serving\",\"listen\":[\"127.0.0.1:80\"],");
	assert_has("},\"algorithm\":\"roundrobin\",\"live\":1,\"total\":1,\"down\":0,\"up\":1,\"draining\":0,"
		   "\"admin_down\":0},\n");
	assert_has("{\"name\":\"api\",\"state\":\"serving\",\"listen\":[\"127.0.0.1:8443\"],");
	assert_has("},\"algorithm\":\"p2c\",\"live\":2,\"total\":3,\"down\":0,\"up\":2,\"draining\":0,"
		   "\"admin_down\":1}\n]}\n");
	abuf_free(&out);
	v->service = 1;
	cr_assert_eq(admin_render_status(&out, v), 0);
	assert_json_shape(out.p);
	assert_has("\"services\":[\n{\"name\":\"api\"");
	cr_assert_null(strstr(out.p, "\"name\":\"default\""), "%s", out.p);
	cr_assert_null(strstr(out.p, "127.0.0.1:9001"), "%s", out.p);
}

/* /status in pages: limit=2 lists two backends and the id to go on after; the last page says
 * next null. state= keeps the backends in that state (either of two when given twice). */
Test(admin, status_pages_and_filters_by_state)
{
	struct admin_view v = *view(0);
	struct backend *b[5];

	for (unsigned i = 0; i < 5; i++) {
		char text[32];

		snprintf(text, sizeof(text), "127.0.0.1:%u", 9001 + i);
		b[i] = add_static(text);
	}
	table_apply(t, b[1], BE_EV_ADMIN_DISABLE, NULL, 0);
	table_apply(t, b[3], BE_EV_ADMIN_DISABLE, NULL, 0);
	v.limit = 2;
	cr_assert_eq(admin_render_status(&out, &v), 0);
	assert_json_shape(out.p);
	assert_has("\"id\":1,\"address\"");
	assert_has("\"id\":2,\"address\"");
	cr_assert_null(strstr(out.p, "\"id\":3,\"address\""), "%s", out.p);
	assert_has("\n],\"next\":2,\"workers\":[");
	abuf_free(&out);
	v.after = 4;
	cr_assert_eq(admin_render_status(&out, &v), 0);
	assert_has("\"id\":5,\"address\"");
	cr_assert_null(strstr(out.p, "\"id\":4,\"address\""), "%s", out.p);
	assert_has("\n],\"next\":null,");
	abuf_free(&out);
	v = *view(0);
	v.states = 1u << BE_STATE_ADMIN_DOWN;
	cr_assert_eq(admin_render_status(&out, &v), 0);
	assert_has("\"id\":2,\"address\"");
	assert_has("\"id\":4,\"address\"");
	cr_assert_null(strstr(out.p, "\"id\":1,\"address\""), "%s", out.p);
	cr_assert_null(strstr(out.p, "\"next\""), "no limit, no next: %s", out.p);
}

/* /status/summary counts each service's backends by state, and all of them. */
Test(admin, summary_counts_by_service_and_state)
{
	struct backend *a = add_static("127.0.0.1:9001");

	add_static("127.0.0.1:9002");
	add_heartbeat("127.0.0.1:9003", "w3", 0);
	table_apply(t, a, BE_EV_ADMIN_DRAIN, NULL, 0);
	cr_assert_eq(admin_render_summary(&out, view(0)), 0);
	assert_json_shape(out.p);
	assert_has("{\"total\":{\"backends\":3,\"up\":2,\"down\":0,\"draining\":1,\"admin_down\":0},");
	assert_has("\"services\":[\n{\"name\":\"default\",\"backends\":3,\"up\":2,");
}
