/* libFuzzer harness for the admin endpoint: every input is the bytes an admin client sent
 * so far. Two stages:
 *  1. admin_parse_request. Beyond ASan and UBSan, it checks the contract admin.c relies on:
 *     the head length is within the input, the path, query and token lie inside the head, and
 *     a head found in a prefix is the same head once more bytes arrive (the server parses
 *     again after every read).
 *  2. A whole request (head and body) is answered by admin_api_answer against a small table,
 *     as loopback or not and with or without a token (the first byte's low bits): the answer
 *     must be a known status with a JSON body, and a refused request must leave the table as
 *     it was. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin_server.h"
#include "slb/common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool inside(const char *p, size_t len, const char *buf, size_t head)
{
	return !p || (p >= buf && p + len <= buf + head);
}

static void check_request(const char *buf, size_t size, int rc, const struct admin_request *r)
{
	check(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE || rc == -EFBIG || (rc > 0 && (size_t)rc <= size));
	check(rc != -EMSGSIZE || size >= ADMIN_REQ_MAX);
	if (rc <= 0) {
		check(r->path == NULL && r->path_len == 0 && r->query == NULL);
		return;
	}
	check(r->content_length <= ADMIN_REQ_BODY_MAX);
	check(inside(r->path, r->path_len, buf, (size_t)rc) && inside(r->query, r->query_len, buf, (size_t)rc));
	check(inside(r->auth, r->auth_len, buf, (size_t)rc));
	for (size_t i = 0; i < r->path_len; i++)
		check(r->path[i] != ' ' && r->path[i] != '?' && r->path[i] != '\r' && r->path[i] != '\n');
}

/* ---- stage 2: the routes ---- */

static struct worker_channel *channel;
static struct slb_config cfg;

static struct backend_table *fuzz_table(void)
{
	static const struct table_params p = { .n_services = 2,
					       .svc = { { .rise = 2, .fall = 3, .eject_failures = 3 }, { .rise = 2, .fall = 3 } },
					       .heartbeat_timeout_ms = 3000, .expire_ms = 60000 };
	static const char *const addrs[] = { "127.0.0.1:8001", "[::1]:8002" };
	static const char *const names[] = { "web1", "" }; /* a route may name a backend */
	struct backend_table *t = table_create(&p);
	struct slb_addr a;
	struct backend *b;

	check(t != NULL);
	for (unsigned i = 0; i < 2; i++) {
		check(addr_parse(addrs[i], &a, NULL, 0) == 0);
		check(table_add_static_named(t, &a, 1 + i, names[i], 0, &b) == 0);
		table_set_service(t, b, i); /* [::1]:8002 is api's: /services/NAME/... tells them apart */
	}
	return t;
}

/* What a refused request must not change: every entry's inputs and weight. */
static uint64_t table_digest(const struct backend_table *t)
{
	uint64_t h = table_count(t);

	for (uint32_t id = 1; id < snap_id_limit(); id++) {
		const struct backend *b = table_get_const(t, id);

		if (b)
			h = h * 1000003 + (uint64_t)(id * 31 + b->state * 7 + b->admin_down + 2u * b->admin_drain +
						     4u * b->removing) * 257 + (uint64_t)(b->admin_weight + 1);
	}
	return h;
}

static bool known_status(int code)
{
	static const int codes[] = { 200, 400, 401, 403, 404, 405, 409, 500, 503 }; /* 503: /ready, not ready */

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (code == codes[i])
			return true;
	return false;
}

static void check_answer(const struct admin_answer *a)
{
	check(known_status(a->code));
	check(a->code != 405 || a->allow != NULL);
	if (a->stream || a->fixed || strcmp(a->ctype, "application/json") != 0)
		return;
	json_t *root = json_loadb(a->body.p, a->body.len, 0, NULL);

	check(root != NULL);
	json_decref(root);
}

static void answer(const char *buf, size_t head, const struct admin_request *r, uint8_t mode)
{
	struct health_ctx ctx = { .cfg = &cfg, .channels = &channel, .n_channels = 1, .now_ms = 1000 };
	struct admin_auth auth = { .on = mode & 2 };
	struct slb_addr peer;
	struct admin_answer a;
	uint64_t before;

	check(addr_parse(mode & 1 ? "10.0.0.9:5555" : "127.0.0.1:5555", &peer, NULL, 0) == 0);
	ctx.table = fuzz_table();
	ctx.events = malloc(sizeof(*ctx.events));
	check(ctx.events != NULL);
	events_init(ctx.events);
	before = table_digest(ctx.table);
	admin_api_answer(&ctx, &auth, r, buf + head, r->content_length, &peer, &a);
	check_answer(&a);
	check(a.code == 200 || table_digest(ctx.table) == before);
	abuf_free(&a.body);
	free(ctx.events);
	table_destroy(ctx.table);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct admin_request r, whole;
	size_t cut = size ? data[0] % (size + 1) : 0;
	int rc, rc_whole;

	if (!channel) {
		channel = calloc(1, sizeof(*channel));
		check(channel != NULL);
		check(addr_parse("127.0.0.1:8080", &cfg.listen[0], NULL, 0) == 0);
		cfg.n_listen = 1;
		cfg.n_services = 2;
		strcpy(cfg.services[0].name, "default");
		strcpy(cfg.services[1].name, "api");
		atomic_store(&log_threshold, LOG_ERROR); /* a log line per change would drown the fuzzer's */
	}
	rc_whole = admin_parse_request(buf, size, &whole);
	check_request(buf, size, rc_whole, &whole);
	/* the same bytes in two reads: a prefix that held a head or a bad line decided it */
	rc = admin_parse_request(buf, cut, &r);
	check_request(buf, cut, rc, &r);
	if (rc > 0 || rc == -EINVAL) {
		check(rc == rc_whole && r.method == whole.method);
		check(r.path == whole.path && r.path_len == whole.path_len);
	}
	if (rc_whole > 0 && whole.method != ADMIN_METHOD_OTHER && size >= (size_t)rc_whole + whole.content_length)
		answer(buf, (size_t)rc_whole, &whole, size ? data[0] : 0);
	return 0;
}
