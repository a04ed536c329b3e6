/* slb-backend: a demo HTTP backend for slb. Serves "backend NAME" on every request, /health
 * and /bytes/N, and optionally heartbeats to slb (and crashes on purpose, for demos).
 *
 * Everything runs on one evloop: the HTTP server, the heartbeat client and a signalfd, so
 * heartbeats never wait on HTTP traffic and the reverse. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "evloop.h"
#include "hb_group.h"
#include "http_server.h"
#include "slb/common/log.h"
#include "slb/common/heartbeat.h"

#define CRASH_RANDOM -1 /* --crash-after random: pick 1..10 at startup */
#define CRASH_RANDOM_MAX 10

struct backend_config {
	struct slb_addr listen;
	char name[HB_NAME_MAX];
	struct cli_addr_list heartbeat; /* slb instances; n == 0: no heartbeats */
	struct slb_addr service;   /* --register; AF_UNSPEC: same as listen */
	unsigned interval_ms;      /* 0: the interval slb answers */
	unsigned weight;
	int crash_after;           /* heartbeats before crashing; 0 never, CRASH_RANDOM */
	bool fail_health;
	const char *key_file;      /* --heartbeat-key-file; NULL: unsigned heartbeats */
};

struct backend {
	struct backend_config cfg;
	struct evloop loop;
	struct http_server *http;
	struct hb_group hb;        /* one session per --heartbeat instance */
	struct ev_watch signals;
	struct hbauth_key key;     /* loaded from cfg.key_file */
};

static int backend_parse_crash(const struct cli_flag *flag, const char *arg, void *field, char *err,
			       size_t errlen)
{
	unsigned long n;

	if (strcmp(arg, "random") == 0) {
		*(int *)field = CRASH_RANDOM;
		return 0;
	}
	if (cli_parse_ulong(arg, 1, 1000000, &n)) {
		snprintf(err, errlen, "--%s: '%s' is not a number in 1..1000000 or random",
			 flag->name, arg);
		return -EINVAL;
	}
	*(int *)field = (int)n;
	return 0;
}

#define OPT(field) offsetof(struct backend_config, field)
static const struct cli_flag backend_flags[] = {
	{ "listen", "ADDR:PORT", cli_parse_addr, OPT(listen), 0, 0,
	  "serve HTTP here (required)" },
	{ "name", "NAME", cli_parse_name, OPT(name), 0, HB_NAME_MAX,
	  "name in every answer and in REGISTER (required)" },
	{ "heartbeat", "LB:PORT[,LB:PORT...]", cli_parse_addr_list, OPT(heartbeat), 0, 0,
	  "register with each slb's heartbeat port, one session each" },
	{ "interval", "MS", cli_parse_uint, OPT(interval_ms), 10, 3600000,
	  "heartbeat period (default: what slb answers, else 1000)" },
	{ "weight", "N", cli_parse_uint, OPT(weight), 1, 256,
	  "weight sent in REGISTER (default 1)" },
	{ "crash-after", "N|random", backend_parse_crash, OPT(crash_after), 0, 0,
	  "exit(1) abruptly after N heartbeats (random: 1..10), for demos" },
	{ "register", "ADDR:PORT", cli_parse_addr, OPT(service), 0, 0,
	  "address to announce in REGISTER (default: --listen)" },
	{ "fail-health", NULL, cli_parse_switch, OPT(fail_health), 0, 0,
	  "start with GET /health answering 503 (SIGUSR1 toggles it)" },
	{ "heartbeat-key-file", "FILE", cli_parse_path, OPT(key_file), 0, 0,
	  "sign heartbeats with this key (same file as slb's, mode 600)" },
};
#undef OPT

#define BACKEND_SYNOPSIS "--listen ADDR:PORT --name NAME [--heartbeat LB:PORT[,LB:PORT...]] [flags]"
#define BACKEND_SUMMARY                                                                       \
	"Demo HTTP/1.1 backend: answers every request with 200 \"backend NAME\", GET /health\n" \
	"with 200 \"ok\" (503 when failing), GET /bytes/N with N bytes. SIGUSR1 toggles the\n"  \
	"health failure; SIGTERM and SIGINT exit 0."

/* Returns 0, 1 for --help (exit 0), or 2 after printing one line (exit 2). */
static int backend_parse_flags(struct backend_config *cfg, int argc, char **argv)
{
	char err[256];
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->weight = 1;
	rc = cli_parse(backend_flags, sizeof(backend_flags) / sizeof(backend_flags[0]), cfg, argc,
		       argv, err, sizeof(err));
	if (rc == CLI_HELP) {
		cli_usage(stdout, "slb-backend", BACKEND_SYNOPSIS, BACKEND_SUMMARY, backend_flags,
			  sizeof(backend_flags) / sizeof(backend_flags[0]));
		return 1;
	}
	if (rc == 0 && cfg->listen.ss.ss_family == AF_UNSPEC)
		snprintf(err, sizeof(err), "--listen is required (try --help)");
	else if (rc == 0 && !cfg->name[0])
		snprintf(err, sizeof(err), "--name is required (try --help)");
	else if (rc == 0 && cfg->key_file && !cfg->heartbeat.n)
		snprintf(err, sizeof(err), "--heartbeat-key-file needs --heartbeat (try --help)");
	else if (rc == 0)
		return 0;
	fprintf(stderr, "slb-backend: %s\n", err);
	return 2;
}

/* 1,000+ concurrent connections need more than the usual soft limit of 1024 fds. */
static void backend_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		slb_log(LOG_WARN, errno, "cannot raise the file descriptor limit");
}

static int backend_pick_crash(int crash_after)
{
	struct timespec ts;

	if (crash_after != CRASH_RANDOM)
		return crash_after;
	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)(ts.tv_nsec ^ getpid()));
	return 1 + (int)(random() % CRASH_RANDOM_MAX);
}

/* Heartbeats report load as the open connection count, capped at 100 by hb_client. The
 * crash happens when the heartbeat after the Nth is due: N have been sent and answered. */
static void backend_report(void *arg, enum hb_verb verb, enum hb_state *state, int *load)
{
	struct backend *b = arg;

	*load = (int)http_server_conn_count(b->http);
	if (verb != HB_VERB_HEARTBEAT || b->cfg.crash_after <= 0)
		return;
	if (hb_group_heartbeats_sent(&b->hb) >= (uint64_t)b->cfg.crash_after) {
		fprintf(stderr, "slb-backend %s: crashing after %d heartbeats (demo)\n",
			b->cfg.name, b->cfg.crash_after);
		_exit(1);
	}
}

static void backend_on_signal(struct ev_watch *w, uint32_t events)
{
	struct backend *b = container_of(w, struct backend, signals);
	int sig;

	while ((sig = evloop_signal_read(w->fd))) {
		if (sig == SIGUSR1) {
			bool failing = http_server_toggle_health(b->http);

			slb_log(LOG_INFO, 0, "GET /health now answers %s (SIGUSR1)",
				failing ? "503" : "200");
			continue;
		}
		slb_log(LOG_INFO, 0, "%s: exiting", strsignal(sig));
		evloop_stop(&b->loop);
	}
}

static int backend_add_signals(struct backend *b)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	int fd = evloop_signal_open(sigs, sizeof(sigs) / sizeof(sigs[0]));
	int rc;

	if (fd < 0)
		return fd;
	rc = evloop_add(&b->loop, &b->signals, fd, EPOLLIN, backend_on_signal);
	if (rc)
		close(fd);
	return rc;
}

static int backend_start_heartbeat(struct backend *b)
{
	struct hb_client_config hc = {
		.service = b->cfg.service.ss.ss_family ? b->cfg.service : b->cfg.listen,
		.weight = b->cfg.weight,
		.interval_ms = b->cfg.interval_ms,
	};
	char err[256];
	int rc;

	if (!b->cfg.heartbeat.n)
		return 0;
	memcpy(hc.name, b->cfg.name, sizeof(hc.name));
	if (b->cfg.key_file) {
		rc = hb_client_load_key(b->cfg.key_file, &b->key, err, sizeof(err));
		if (rc) {
			slb_log(LOG_ERROR, 0, "%s", err);
			return rc;
		}
		hc.key = &b->key;
	}
	rc = hb_group_start(&b->hb, &b->loop, &b->cfg.heartbeat, &hc, backend_report, b);
	if (rc)
		slb_log(LOG_ERROR, rc, "cannot start the heartbeat client");
	return rc;
}

/* Sets everything up on b->loop. Returns 0, or -errno after logging why. */
static int backend_start(struct backend *b)
{
	char err[256], text[ADDR_TEXT_MAX];
	int rc;

	rc = evloop_init(&b->loop);
	if (rc) {
		slb_log(LOG_ERROR, rc, "cannot create the event loop");
		return rc;
	}
	rc = backend_add_signals(b);
	if (rc) {
		slb_log(LOG_ERROR, rc, "cannot set up signals");
		return rc;
	}
	rc = http_server_open(&b->http, &b->loop, &b->cfg.listen, b->cfg.name, b->cfg.fail_health,
			      err, sizeof(err));
	if (rc) {
		slb_log(LOG_ERROR, 0, "%s", err);
		return rc;
	}
	rc = backend_start_heartbeat(b);
	if (rc)
		return rc;
	slb_log(LOG_INFO, 0, "backend %s listening on %s%s", b->cfg.name,
		addr_format(&b->cfg.listen, text, sizeof(text)), b->hb.n ? ", heartbeating" : "");
	return 0;
}

int main(int argc, char **argv)
{
	static struct backend b;
	int rc;

	rc = backend_parse_flags(&b.cfg, argc, argv);
	if (rc)
		return rc == 1 ? 0 : 2;
	b.cfg.crash_after = backend_pick_crash(b.cfg.crash_after);
	log_set_thread_name(b.cfg.name);
	signal(SIGPIPE, SIG_IGN);
	backend_raise_nofile();
	if (backend_start(&b))
		return 1;
	rc = evloop_run(&b.loop);
	if (rc)
		slb_log(LOG_ERROR, rc, "event loop failed");
	hb_group_stop(&b.hb);
	http_server_close(b.http);
	evloop_close(&b.loop);
	return rc ? 1 : 0;
}
