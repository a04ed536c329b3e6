/* slb-agent: a heartbeat sidecar for a server that knows nothing of slb. It registers the
 * service with slb and reports state=up while a local check of the service passes and
 * state=down while it fails.
 *
 * The check runs every --interval on the same evloop as the heartbeat client. One result
 * decides the state (down after 1 failure, up after 1 success): slb applies its own rise and
 * fall to what we report, so smoothing here would only add delay. A change of state is sent
 * at once instead of waiting for the next heartbeat.
 *
 * With --drain-and-exit, SIGTERM starts a drain instead of an exit: the agent reports
 * state=drain, heartbeats every check period, and exits 0 as soon as slb answers "drained"
 * (no client connection left), so whatever stops the server next cuts nobody off. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cli.h"
#include "evloop.h"
#include "hb_group.h"
#include "slb/common/log.h"
#include "slb/common/heartbeat.h"
#include "svc_check.h"

#define AGENT_DEFAULT_CHECK_MS 1000

struct agent_config {
	struct slb_addr service;
	struct cli_addr_list lb;    /* slb instances, one session each */
	struct svc_check_spec check;
	unsigned interval_ms; /* check period; also the heartbeat period when given */
	unsigned weight;
	char name[HB_NAME_MAX];
	char service_name[HB_SERVICE_MAX]; /* "": slb's service "default" */
	const char *key_file;       /* --heartbeat-key-file; NULL: unsigned heartbeats */
	bool drain_and_exit;        /* SIGTERM drains first, and the agent exits once drained */
};

struct agent {
	struct agent_config cfg;
	struct evloop loop;
	struct svc_check *check;
	struct hb_group hb;         /* started after the first check result */
	struct ev_watch signals;
	struct ev_watch tick;       /* timerfd: start a check */
	unsigned check_ms;
	bool service_ok;
	bool draining;              /* SIGTERM came with --drain-and-exit: report drain until drained */
	bool keyed;                 /* key holds the --heartbeat-key-file key */
	struct hbauth_key key;
	char svc_text[ADDR_TEXT_MAX];
};

static int agent_parse_check(const struct cli_flag *flag, const char *arg, void *field, char *err,
			     size_t errlen)
{
	return svc_check_parse(arg, field, err, errlen);
}

#define OPT(field) offsetof(struct agent_config, field)
static const struct cli_flag agent_flags[] = {
	{ "service", "ADDR:PORT", cli_parse_addr, OPT(service), 0, 0,
	  "the service to check and register (required)" },
	{ "lb", "LB:PORT[,LB:PORT...]", cli_parse_addr_list, OPT(lb), 0, 0,
	  "each slb's heartbeat port, one session each (required)" },
	{ "check", "tcp|http:/PATH", agent_parse_check, OPT(check), 0, 0,
	  "tcp: connect succeeds; http:/PATH: GET answers 2xx (default tcp)" },
	{ "interval", "MS", cli_parse_uint, OPT(interval_ms), 10, 3600000,
	  "check period, and heartbeat period (default 1000 / what slb answers)" },
	{ "weight", "N", cli_parse_uint, OPT(weight), 1, 256,
	  "weight sent in REGISTER (default 1)" },
	{ "name", "NAME", cli_parse_name, OPT(name), 0, HB_NAME_MAX, "name sent in REGISTER" },
	{ "service-name", "SERVICE", cli_parse_name, OPT(service_name), 0, HB_SERVICE_MAX,
	  "the slb service to join (default: slb's service default)" },
	{ "heartbeat-key-file", "FILE", cli_parse_path, OPT(key_file), 0, 0,
	  "sign heartbeats with this key (same file as slb's, mode 600)" },
	{ "drain-and-exit", NULL, cli_parse_switch, OPT(drain_and_exit), 0, 0,
	  "on SIGTERM report state=drain and exit 0 once slb says no connection is left" },
};
#undef OPT

#define AGENT_SYNOPSIS "--service ADDR:PORT --lb LB:PORT[,LB:PORT...] [flags]"
#define AGENT_SUMMARY                                                                          \
	"Heartbeat sidecar: registers the service with slb and sends state=up while the local\n" \
	"check passes, state=down as soon as one check fails. The check must pass within\n"    \
	"9/10 of the interval. SIGTERM and SIGINT exit 0 (with --drain-and-exit, SIGTERM\n"  \
	"first drains; a second signal exits at once)."

/* Returns 0, 1 for --help (exit 0), or 2 after printing one line (exit 2). */
static int agent_parse_flags(struct agent_config *cfg, int argc, char **argv)
{
	size_t n = sizeof(agent_flags) / sizeof(agent_flags[0]);
	char err[256];
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->weight = 1;
	rc = cli_parse(agent_flags, n, cfg, argc, argv, err, sizeof(err));
	if (rc == CLI_HELP) {
		cli_usage(stdout, "slb-agent", AGENT_SYNOPSIS, AGENT_SUMMARY, agent_flags, n);
		return 1;
	}
	if (rc == 0 && cfg->service.ss.ss_family == AF_UNSPEC)
		snprintf(err, sizeof(err), "--service is required (try --help)");
	else if (rc == 0 && !cfg->lb.n)
		snprintf(err, sizeof(err), "--lb is required (try --help)");
	else if (rc == 0)
		return 0;
	fprintf(stderr, "slb-agent: %s\n", err);
	return 2;
}

static void agent_report(void *arg, enum hb_verb verb, enum hb_state *state, int *load)
{
	struct agent *a = arg;

	if (a->draining)
		*state = HB_STATE_DRAIN;
	else
		*state = a->service_ok ? HB_STATE_UP : HB_STATE_DOWN;
}

/* "OK state=drain ... conns=N drained": the last connection is gone, through every slb
 * instance the agent is registered with. */
static void agent_on_reply(void *arg, const char *line)
{
	struct agent *a = arg;

	if (!a->draining || !hb_group_drained(&a->hb))
		return;
	slb_log(LOG_INFO, 0, "slb says %s is drained: exiting", a->svc_text);
	evloop_stop(&a->loop);
}

static int agent_start_heartbeat(struct agent *a)
{
	struct hb_client_config hc = {
		.service = a->cfg.service,
		.weight = a->cfg.weight,
		.interval_ms = a->cfg.interval_ms,
		.key = a->keyed ? &a->key : NULL,
		.on_reply = agent_on_reply,
	};

	memcpy(hc.name, a->cfg.name, sizeof(hc.name));
	memcpy(hc.service_name, a->cfg.service_name, sizeof(hc.service_name));
	return hb_group_start(&a->hb, &a->loop, &a->cfg.lb, &hc, agent_report, a);
}

/* The first result starts the heartbeat client, so REGISTER already carries a real state. */
static void agent_on_check(void *arg, bool ok, const char *why)
{
	struct agent *a = arg;
	bool changed = ok != a->service_ok;
	int rc;

	a->service_ok = ok;
	if (!a->hb.n) {
		slb_log(LOG_INFO, 0, "service %s is %s (%s)", a->svc_text, ok ? "up" : "down", why);
		rc = agent_start_heartbeat(a);
		if (rc) {
			slb_log(LOG_ERROR, rc, "cannot start the heartbeat client");
			evloop_stop(&a->loop);
		}
		return;
	}
	if (!changed)
		return;
	slb_log(ok ? LOG_INFO : LOG_WARN, 0, "service %s is now %s (%s)", a->svc_text,
		ok ? "up" : "down", why);
	hb_group_send_now(&a->hb);
}

static void agent_on_tick(struct ev_watch *w, uint32_t events)
{
	struct agent *a = container_of(w, struct agent, tick);

	if (!evloop_timer_ack(w->fd))
		return;
	if (a->draining)
		hb_group_send_now(&a->hb); /* ask for the count every period, not every heartbeat */
	/* -EBUSY: the previous check is still out; its result counts for this period. */
	svc_check_start(a->check, a->check_ms * 9 / 10);
}

static void agent_on_signal(struct ev_watch *w, uint32_t events)
{
	struct agent *a = container_of(w, struct agent, signals);
	int sig;

	while ((sig = evloop_signal_read(w->fd))) {
		if (sig == SIGTERM && a->cfg.drain_and_exit && !a->draining && hb_group_registered(&a->hb)) {
			slb_log(LOG_INFO, 0, "%s: draining %s, exiting once slb says no connection is left",
				strsignal(sig), a->svc_text);
			a->draining = true;
			hb_group_send_now(&a->hb);
			continue;
		}
		slb_log(LOG_INFO, 0, "%s: exiting", strsignal(sig));
		evloop_stop(&a->loop);
	}
}

/* Adds fd to the loop, or closes it. Returns 0 or -errno. */
static int agent_watch(struct agent *a, struct ev_watch *w, int fd, ev_watch_fn fn)
{
	int rc;

	if (fd < 0)
		return fd;
	rc = evloop_add(&a->loop, w, fd, EPOLLIN, fn);
	if (rc)
		close(fd);
	return rc;
}

/* Sets everything up and starts the first check. Returns 0, or -errno after logging why. */
static int agent_start(struct agent *a)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	char err[256];
	int rc;

	/* The key is loaded before the first check: a bad key file stops the agent at once,
	 * not after the service first answers. */
	if (a->cfg.key_file) {
		rc = hb_client_load_key(a->cfg.key_file, &a->key, err, sizeof(err));
		if (rc) {
			slb_log(LOG_ERROR, 0, "%s", err);
			return rc;
		}
		a->keyed = true;
	}
	a->check_ms = a->cfg.interval_ms ? a->cfg.interval_ms : AGENT_DEFAULT_CHECK_MS;
	addr_format(&a->cfg.service, a->svc_text, sizeof(a->svc_text));
	rc = evloop_init(&a->loop);
	if (!rc)
		rc = agent_watch(a, &a->signals, evloop_signal_open(sigs, 2), agent_on_signal);
	if (!rc)
		rc = agent_watch(a, &a->tick, evloop_timer_open(), agent_on_tick);
	if (!rc)
		rc = evloop_timer_arm(a->tick.fd, a->check_ms, a->check_ms);
	if (!rc)
		rc = svc_check_create(&a->check, &a->loop, &a->cfg.check, &a->cfg.service,
				      agent_on_check, a);
	if (!rc)
		rc = svc_check_start(a->check, a->check_ms * 9 / 10);
	if (rc)
		slb_log(LOG_ERROR, rc, "cannot start");
	return rc;
}

int main(int argc, char **argv)
{
	static struct agent a;
	int rc;

	rc = agent_parse_flags(&a.cfg, argc, argv);
	if (rc)
		return rc == 1 ? 0 : 2;
	log_set_thread_name("agent");
	signal(SIGPIPE, SIG_IGN);
	if (agent_start(&a))
		return 1;
	rc = evloop_run(&a.loop);
	if (rc)
		slb_log(LOG_ERROR, rc, "event loop failed");
	hb_group_stop(&a.hb);
	svc_check_destroy(a.check);
	evloop_close(&a.loop);
	return rc ? 1 : 0;
}
