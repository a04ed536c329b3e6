/* slb-ctl: the terminal client of slb's admin endpoint (docs/admin-api.md): it shows the
 * backends as an aligned table and steers them, so that an operator never writes JSON by
 * hand. Every command is one request; its answer is printed, and an error answer is printed
 * as slb's message with exit status 1 (2 for bad usage). Colour only on a terminal, and not
 * with NO_COLOR set. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_http.h"
#include "ctl_print.h"

#define CTL_DEFAULT_ADMIN "127.0.0.1:9001"
#define CTL_TOKEN_MAX 512

static const char usage_text[] =
	"usage: slb-ctl [--admin ADDR:PORT] [--token-file FILE] [--service NAME] COMMAND [ARGS]\n"
	"\n"
	"Commands (BACKEND is an id, an address or a name as `status` shows it):\n"
	"  status [--state up|down|draining|admin_down]\n"
	"                               the backends, services and workers, as tables;\n"
	"                               only those in that state (repeatable)\n"	"  drain BACKEND                no new connections; open ones finish\n"
	"  enable BACKEND               back in rotation when its health allows\n"
	"  disable BACKEND              down until enabled, whatever its health says\n"
	"  weight BACKEND N             weight 0-256 (0 drains)\n"
	"  add ADDR:PORT [--weight N] [--check tcp|http:/PATH|none] [--name NAME]\n"
	"  remove BACKEND               drain, then remove once its connections are gone\n"
	"  events [--since N] [--follow]  the state changes slb remembers; --follow streams new ones\n"
	"\n"
	"--service NAME (before or after the command): status shows that service alone; a BACKEND is\n"
	"looked up in it, and add puts the new backend in it. Without it a BACKEND is looked up in\n"
	"every service (a name that several services have is refused: give --service), and add\n"
	"puts it in the service named default.\n"
	"--admin defaults to $SLB_ADMIN, else " CTL_DEFAULT_ADMIN "; --token-file to $SLB_ADMIN_TOKEN_FILE\n"
	"(needed when slb runs with --admin-token-file).\n";

struct ctl {
	struct ctl_target target;
	struct ctl_style style;
	char token[CTL_TOKEN_MAX];
	const char *service;  /* --service NAME, or NULL */
};

/* "/services/NAME" for --service (NAME percent-encoded), else "": what the backend routes
 * start with. */
static const char *ctl_service_prefix(const struct ctl *c, char *buf, size_t len)
{
	char seg[128];

	if (!c->service)
		return "";
	snprintf(buf, len, "/services/%s", ctl_http_encode(c->service, seg, sizeof(seg)));
	return buf;
}

static int ctl_usage(const char *why)
{
	if (why)
		fprintf(stderr, "slb-ctl: %s (try --help)\n", why);
	else
		fputs(usage_text, stdout);
	return why ? 2 : 0;
}

/* The token file's first line; slb keeps the same bytes (less one line ending). */
static int ctl_read_token(struct ctl *c, const char *path)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		fprintf(stderr, "slb-ctl: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	n = fread(c->token, 1, sizeof(c->token) - 1, f);
	fclose(f);
	c->token[n] = '\0';
	c->token[strcspn(c->token, "\r\n")] = '\0';
	c->target.token = c->token;
	return 0;
}

/* Prints slb's {"error": "..."} (or the raw body) and returns 1. */
static int ctl_print_error(const struct ctl_answer *a)
{
	json_t *root = json_loads(a->body, 0, NULL);
	const char *msg = json_string_value(json_object_get(root, "error"));

	fprintf(stderr, "slb-ctl: %d: %s\n", a->status, msg ? msg : a->body);
	json_decref(root);
	return 1;
}

/* One request; on 200 hands the parsed body to show. Returns the exit status. */
static int ctl_call(struct ctl *c, const char *method, const char *path, const char *body,
		    void (*show)(const struct ctl_style *st, json_t *root))
{
	struct ctl_answer a;
	json_error_t jerr;
	char err[256];
	json_t *root;
	int rc;

	if (ctl_http_call(&c->target, method, path, body, &a, err, sizeof(err))) {
		fprintf(stderr, "slb-ctl: %s\n", err);
		return 1;
	}
	rc = a.status == 200 ? 0 : ctl_print_error(&a);
	root = rc ? NULL : json_loads(a.body, 0, &jerr);
	if (!rc && !root) {
		fprintf(stderr, "slb-ctl: slb's answer is not JSON: %s\n", jerr.text);
		rc = 1;
	}
	if (root)
		show(&c->style, root);
	json_decref(root);
	free(a.body);
	return rc;
}

static int ctl_backend_action(struct ctl *c, const char *method, const char *backend, const char *action,
			      const char *body)
{
	char seg[256], svc[160], path[480];

	snprintf(path, sizeof(path), "%s/backends/%s%s", ctl_service_prefix(c, svc, sizeof(svc)),
		 ctl_http_encode(backend, seg, sizeof(seg)), action);
	return ctl_call(c, method, path, body, ctl_print_backend);
}

static int ctl_weight(struct ctl *c, int argc, char **argv)
{
	char *end;
	long w;

	if (argc != 2)
		return ctl_usage("weight takes BACKEND N");
	w = strtol(argv[1], &end, 10);
	if (*end || !argv[1][0] || w < 0 || w > 256)
		return ctl_usage("the weight is a whole number from 0 to 256");
	return ctl_backend_action(c, "PUT", argv[0], "/weight", argv[1]);
}

/* add ADDR [--weight N] [--check KIND] [--name NAME]: the JSON is built here, by jansson. */
static int ctl_add(struct ctl *c, int argc, char **argv)
{
	char svc[160], path[192];
	json_t *o;
	char *body;
	int rc;

	if (argc < 1 || argc % 2 == 0)
		return ctl_usage("add takes ADDR:PORT [--weight N] [--check KIND] [--name NAME]");
	o = json_pack("{s:s}", "address", argv[0]);
	for (int i = 1; o && i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--weight") == 0)
			json_object_set_new(o, "weight", json_integer(strtol(argv[i + 1], NULL, 10)));
		else if (strcmp(argv[i], "--check") == 0 || strcmp(argv[i], "--name") == 0)
			json_object_set_new(o, argv[i] + 2, json_string(argv[i + 1]));
		else {
			json_decref(o);
			return ctl_usage("add takes --weight, --check and --name");
		}
	}
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return ctl_usage("the address, check and name must be UTF-8 text");
	snprintf(path, sizeof(path), "%s/backends", ctl_service_prefix(c, svc, sizeof(svc)));
	rc = ctl_call(c, "POST", path, body, ctl_print_backend);
	free(body);
	return rc;
}

static void ctl_on_event(const char *json, void *arg)
{
	json_t *e = json_loads(json, 0, NULL);

	if (e)
		ctl_print_event(arg, e);
	json_decref(e);
	fflush(stdout);
}

/* events [--since N] [--follow]: the list, then with --follow the stream from its end. */
static int ctl_events(struct ctl *c, int argc, char **argv)
{
	char path[64], err[256];
	unsigned long long since = 0;
	bool follow = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--follow") == 0)
			follow = true;
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			since = strtoull(argv[++i], NULL, 10);
		else
			return ctl_usage("events takes --since N and --follow");
	}
	snprintf(path, sizeof(path), "/events?since=%llu", since);
	if (!follow)
		return ctl_call(c, "GET", path, NULL, ctl_print_events);
	snprintf(path, sizeof(path), "/events/stream?since=%llu", since);
	if (ctl_http_stream(&c->target, path, ctl_on_event, &c->style, err, sizeof(err))) {
		fprintf(stderr, "slb-ctl: %s\n", err);
		return 1;
	}
	return 0;
}

/* A word of [a-z0-9_-], 1..63 bytes: a service name or a state, safe in a query unescaped. */
static bool ctl_query_word(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n > 0 && n < 64 && s[n] == '\0';
}

/* status [--state STATE]... (--service NAME was taken out of the arguments before): slb checks
 * both (404 for an unknown service, 400 for an unknown state). */
static int ctl_status(struct ctl *c, int argc, char **argv)
{
	char seg[128], path[256] = "/status";
	size_t len = strlen(path);

	if (c->service)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "?service=%s",
					ctl_http_encode(c->service, seg, sizeof(seg)));
	for (int i = 0; i < argc; i += 2) {
		if (strcmp(argv[i], "--state") != 0 || i + 1 == argc || !ctl_query_word(argv[i + 1]) ||
		    len + 64 >= sizeof(path))
			return ctl_usage("status takes --service NAME and --state up|down|draining|admin_down");
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%cstate=%s", len == 7 ? '?' : '&', argv[i + 1]);
	}
	return ctl_call(c, "GET", path, NULL, ctl_print_status);
}

/* Takes "--service NAME" out of a command's arguments (argv[1..argc)), wherever it stands, so
 * that "slb-ctl drain web1 --service api" reads as "slb-ctl --service api drain web1".
 * Returns the arguments left, or -1 for a --service without its NAME. */
static int ctl_take_service(struct ctl *c, int argc, char **argv)
{
	int n = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--service") != 0) {
			argv[n++] = argv[i];
			continue;
		}
		if (i + 1 >= argc)
			return -1;
		c->service = argv[++i];
	}
	return n;
}

static int ctl_run(struct ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0];

	argc = ctl_take_service(c, argc, argv);
	if (argc < 0)
		return ctl_usage("--service takes a NAME");
	if (c->service && !c->service[0])
		return ctl_usage("--service takes a NAME");
	if (strcmp(cmd, "status") == 0)
		return ctl_status(c, argc - 1, argv + 1);
	if (strcmp(cmd, "weight") == 0)
		return ctl_weight(c, argc - 1, argv + 1);
	if (strcmp(cmd, "add") == 0)
		return ctl_add(c, argc - 1, argv + 1);
	if (strcmp(cmd, "events") == 0)
		return c->service ? ctl_usage("events shows every service: no --service") : ctl_events(c, argc - 1, argv + 1);
	if (argc != 2)
		return ctl_usage("unknown command, or a BACKEND missing");
	if (strcmp(cmd, "remove") == 0)
		return ctl_backend_action(c, "DELETE", argv[1], "", NULL);
	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0) {
		char action[16];

		snprintf(action, sizeof(action), "/%s", cmd);
		return ctl_backend_action(c, "POST", argv[1], action, NULL);
	}
	return ctl_usage("unknown command");
}

/* Global flags come before the command. Returns the index of the command, or -exit status. */
static int ctl_parse_globals(struct ctl *c, int argc, char **argv)
{
	const char *admin = getenv("SLB_ADMIN"), *token = getenv("SLB_ADMIN_TOKEN_FILE");
	char why[160];
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return -ctl_usage(NULL);
		if (i + 1 >= argc)
			return -ctl_usage("a flag lacks its value");
		if (strcmp(argv[i], "--admin") == 0)
			admin = argv[i + 1];
		else if (strcmp(argv[i], "--token-file") == 0)
			token = argv[i + 1];
		else if (strcmp(argv[i], "--service") == 0)
			c->service = argv[i + 1];
		else
			return -ctl_usage("unknown flag");
	}
	if (addr_parse(admin ? admin : CTL_DEFAULT_ADMIN, &c->target.admin, why, sizeof(why))) {
		fprintf(stderr, "slb-ctl: --admin: %s\n", why);
		return -2;
	}
	if (token && token[0] && ctl_read_token(c, token))
		return -2;
	return i < argc ? i : -ctl_usage("no command");
}

int main(int argc, char **argv)
{
	static struct ctl c;
	int first = ctl_parse_globals(&c, argc, argv);

	if (first <= 0)
		return -first;
	ctl_style_init(&c.style, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
	return ctl_run(&c, argc - first, argv + first);
}
