/* main: config file and flags -> config (--check-config: check, print, exit) -> --user looked
 * up -> io_uring check -> bind every port (listeners, heartbeat, admin) and read the heartbeat
 * key -> drop privileges (--user) -> health thread (first snapshot) -> workers -> wait for a
 * signal -> drain -> exit.
 * Exit status: 0 after a clean drain (or a good --check-config), 1 at run time, 2 for bad usage. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "slb/common/clock.h"
#include "slb/common/config.h"
#include "slb/common/log.h"
#include "slb/common/privs.h"
#include "slb/common/snapshot.h"
#include "slb/control/health.h"
#include "slb/dataplane/uring.h"
#include "slb/dataplane/worker.h"
#include "reload.h"

#define EXIT_USAGE 2
#define FD_RESERVE 128      /* descriptors kept for listeners, rings, logs */
#define PIPES_PER_WORKER_MAX 256

static struct slb_config cfg;
static struct privs_user user; /* --user, looked up before anything is bound */
static struct config_errors errs; /* every usage error, printed together */

/* Raises the soft descriptor limit to the hard one; returns the limit now in force. */
static unsigned long raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/* Descriptors are the budget that matters (RLIMIT_NOFILE, raised to its hard limit). Each
 * connection costs one (its backend socket; the client socket is an io_uring direct
 * descriptor, see conn.h), a splicing connection one more (its client's regular twin) plus
 * a pooled pipe (two). Listeners, rings and the health thread take a reserve. Under a low
 * limit every share shrinks instead of refusing to start, so slb still serves what fits. */
static int resolve_limits(char *err, size_t errlen)
{
	unsigned long nofile = raise_nofile();
	unsigned long pipes_per_worker = 0, reserve, budget, health = health_fd_reserve(&cfg);

	if (cfg.relay != RELAY_COPY) {
		pipes_per_worker = nofile / 16 / cfg.workers;
		if (pipes_per_worker > PIPES_PER_WORKER_MAX)
			pipes_per_worker = PIPES_PER_WORKER_MAX;
	}
	/* two descriptors per pipe, one per splicing client's twin; a listener per address per worker */
	reserve = pipes_per_worker * 3 * cfg.workers + (unsigned long)cfg.n_listen * cfg.workers;
	reserve += FD_RESERVE < nofile / 8 ? FD_RESERVE : nofile / 8;
	reserve += health < nofile / 4 ? health : nofile / 4;
	budget = nofile > reserve ? nofile - reserve : 0;
	cfg.pipes_per_worker = (unsigned)pipes_per_worker;
	if (cfg.max_conns == 0)
		cfg.max_conns = (unsigned)budget;
	if (cfg.max_conns < cfg.workers) {
		snprintf(err, errlen, "descriptor limit %lu leaves room for %lu connections, fewer than one per worker "
			 "(raise ulimit -n or lower --workers)", nofile, budget);
		return -EMFILE;
	}
	if (cfg.max_conns > budget)
		slb_log(LOG_WARN, 0, "--max-conns %u needs about %lu descriptors but the limit is %lu: "
			"connections past that will be refused", cfg.max_conns, cfg.max_conns + reserve, nofile);
	return 0;
}

static void print_errors(void)
{
	for (unsigned i = 0; i < errs.n && i < CONFIG_ERRORS_MAX; i++)
		fprintf(stderr, "slb: %s\n", errs.msg[i]);
	if (errs.n > CONFIG_ERRORS_MAX)
		fprintf(stderr, "slb: and %u more errors\n", errs.n - CONFIG_ERRORS_MAX);
}

/* --check-config: what starting would refuse, and nothing started. The user, the key file and
 * the ports are checked only once the configuration itself is right: a half-parsed one could
 * send those checks after an address nobody wrote. */
static int check_config(void)
{
	char err[256];

	if (errs.n == 0) {
		if (cfg.user[0] && privs_lookup_user(cfg.user, &user, err, sizeof(err)))
			config_errors_add(&errs, "%s", err);
		workers_check_ports(&cfg, &errs);
		health_check_config(&cfg, &errs);
	}
	if (errs.n) {
		print_errors();
		return EXIT_USAGE;
	}
	printf("configuration OK\n");
	return 0;
}

static int parse_flags(int argc, char **argv)
{
	int ret = config_parse_args(&cfg, argc, argv, &errs);

	if (ret == CONFIG_HELP) {
		config_print_usage(stdout, "slb");
		return 0;
	}
	if (ret == CONFIG_VERSION) {
		printf("slb %s\n", SLB_VERSION);
		return 0;
	}
	if (ret == 0)
		config_validate_all(&cfg, &errs);
	if (cfg.check_only)
		return check_config();
	if (errs.n) {
		print_errors();
		return EXIT_USAGE;
	}
	return -1; /* go on */
}

/* An unknown user is a typo on the command line (exit 2); an unreadable user database is not. */
static int lookup_user(void)
{
	char err[256];
	int ret;

	if (!cfg.user[0])
		return -1;
	ret = privs_lookup_user(cfg.user, &user, err, sizeof(err));
	if (ret == 0)
		return -1;
	fprintf(stderr, "slb: %s\n", err);
	return ret == -ENOENT ? EXIT_USAGE : 1;
}

/* More workers than CPUs share them, and each connection got slower on the machine tried:
 * 4 workers on 2 CPUs served 5,082 req/s where 2 served 7,159. Allowed, but said once. */
static void resolve_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned cpus = n > 0 ? (unsigned)n : 1;

	if (cfg.workers == 0)
		cfg.workers = cpus;
	else if (cfg.workers > cpus)
		slb_log(LOG_WARN, 0, "--workers %u is more than the %u online CPUs: workers will share CPUs, "
			"which lowers throughput per connection", cfg.workers, cpus);
}

static void log_start(void)
{
	char listen[CONFIG_MAX_LISTEN * (ADDR_TEXT_MAX + 2)], text[ADDR_TEXT_MAX];
	size_t len = 0;

	listen[0] = '\0';
	for (unsigned i = 0; i < cfg.n_listen; i++)
		len += (size_t)snprintf(listen + len, sizeof(listen) - len, "%s%s", i ? ", " : "",
					addr_format(&cfg.listen[i], text, sizeof(text)));
	slb_log(LOG_INFO, 0, "slb %s listening on %s: %u workers (%s), relay %s, balance %s, %u static backends, "
		"max %u connections", SLB_VERSION, listen, cfg.workers, cfg.pin ? "pinned" : "unpinned",
		relay_mode_name(cfg.relay), balance_algo_name(cfg.balance), cfg.n_backends, cfg.max_conns);
}

/* The signals main waits for. They are blocked in every thread, so only main's sigwait sees
 * them: SIGTERM and SIGINT stop slb, SIGHUP is the operator's reload request. */
static void main_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Operators send SIGHUP to reload, as with nginx or HAProxy (its default action would kill
 * slb and every connection with it). A rejected reload changes nothing and is logged. */
static void on_sighup(void)
{
	reload_run();
}

/* Handles the signals that do not stop slb until one does. Returns that one. */
static int wait_for_stop(const sigset_t *set)
{
	for (;;) {
		int sig;

		while (sigwait(set, &sig) != 0)
			;
		if (sig != SIGHUP)
			return sig;
		on_sighup();
	}
}

/* Route announcers poll GET /ready (docs/scale-out.md): it answers 503 from here on while slb
 * still accepts for --ready-grace, so the routers withdraw this instance before its listeners
 * close and no new connection is refused. Without --admin nothing can read /ready, so there
 * is nothing to wait for. A second SIGTERM or SIGINT cuts the grace short; a SIGHUP in it is
 * dropped (slb is going away). */
static void drain_ready_grace(const sigset_t *set)
{
	const struct slb_config *c = reload_current();
	int64_t end = clock_now_ms() + c->ready_grace_ms, left;

	if (health_set_draining() || !c->has_admin || !c->ready_grace_ms)
		return;
	slb_log(LOG_INFO, 0, "ready grace: still accepting for %u ms while routes are withdrawn", c->ready_grace_ms);
	while ((left = end - clock_now_ms()) > 0) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
		int sig = sigtimedwait(set, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			slb_log(LOG_INFO, 0, "%s received: ready grace cut short", strsignal(sig));
			return;
		}
	}
}

static void drain(const sigset_t *set)
{
	unsigned timeout_ms = reload_current()->drain_timeout_ms;
	int64_t deadline;
	unsigned long open;

	drain_ready_grace(set);
	deadline = clock_now_ms() + timeout_ms;
	workers_stop_accepting();
	while ((open = workers_open_conns()) > 0 && clock_now_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000000 };

		nanosleep(&ts, NULL);
	}
	if (open)
		slb_log(LOG_WARN, 0, "drain timeout (%u ms): closing %lu connections still open", timeout_ms, open);
	else
		slb_log(LOG_INFO, 0, "drained: every connection finished");
}

/* Everything that may need root happens first: binding every port and reading the heartbeat
 * key. Privileges go next, and only then does any thread start, so the drop holds for the
 * whole process without relying on glibc's set*id broadcast to other threads. io_uring is
 * checked before anything is bound, so a kernel or sandbox without it costs one line. */
static int start(char *err, size_t errlen)
{
	struct worker_channel *channels[CONFIG_MAX_WORKERS];

	if (uring_check_available(err, errlen) || resolve_limits(err, errlen))
		return -1;
	if (workers_prepare(&cfg, err, errlen))
		return -1;
	for (unsigned i = 0; i < workers_count(); i++)
		channels[i] = workers_channel(i);
	if (health_prepare(&cfg, channels, workers_count(), err, errlen))
		return -1;
	if ((cfg.user[0] && privs_drop(&user, err, errlen)) || health_start(err, errlen) ||
	    workers_start(err, errlen)) {
		health_stop();
		return -1;
	}
	return 0;
}

static int run(void)
{
	char err[256];
	sigset_t set;
	int sig;

	if (start(err, sizeof(err)))
		goto out_err;
	log_start();
	main_signal_set(&set);
	sig = wait_for_stop(&set);
	slb_log(LOG_INFO, 0, "%s received: draining for up to %u ms", strsignal(sig),
		reload_current()->drain_timeout_ms);
	drain(&set);
	workers_stop_and_join();
	health_stop();
	workers_free();
	snapshot_teardown();
	slb_log(LOG_INFO, 0, "stopped");
	return 0;

out_err:
	fprintf(stderr, "slb: %s\n", err);
	workers_free();
	return 1;
}

int main(int argc, char **argv)
{
	sigset_t set;
	int ret = parse_flags(argc, argv);

	if (ret >= 0)
		return ret;
	ret = lookup_user();
	if (ret >= 0)
		return ret;
	atomic_store(&log_threshold, cfg.log_level);
	resolve_workers();
	reload_init(argc, argv, &cfg);
	signal(SIGPIPE, SIG_IGN);
	/* Block main's signals before any thread exists, so every thread inherits the mask. */
	main_signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return run();
}
