/* main: flags -> config -> io_uring check -> bind every port (listeners, heartbeat, admin)
 * and read the heartbeat key -> drop privileges (--user) -> health thread (first snapshot)
 * -> workers -> wait for a signal -> drain -> exit.
 * Exit status: 0 after a clean drain, 1 at run time, 2 for bad usage. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "slb/common/access_log.h"
#include "slb/common/clock.h"
#include "slb/common/config.h"
#include "slb/common/log.h"
#include "slb/common/privs.h"
#include "slb/common/snapshot.h"
#include "slb/control/health.h"
#include "slb/dataplane/uring.h"
#include "slb/dataplane/worker.h"

#define EXIT_USAGE 2
#define FD_RESERVE 128      /* descriptors kept for listeners, rings, logs */
#define PIPES_PER_WORKER_MAX 256

static struct slb_config cfg;

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
	/* two descriptors per pipe, one per splicing client's twin */
	reserve = pipes_per_worker * 3 * cfg.workers;
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

static int parse_flags(int argc, char **argv)
{
	char err[256];
	int ret = config_parse(&cfg, argc, argv, err, sizeof(err));

	if (ret == CONFIG_HELP) {
		config_print_usage(stdout, "slb");
		return 0;
	}
	if (ret == CONFIG_VERSION) {
		printf("slb %s\n", SLB_VERSION);
		return 0;
	}
	if (ret == 0)
		ret = config_validate(&cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "slb: %s\n", err);
		return EXIT_USAGE;
	}
	return -1; /* go on */
}

static void log_start(void)
{
	char listen[ADDR_TEXT_MAX];

	slb_log(LOG_INFO, 0, "slb %s listening on %s: %u workers (%s), relay %s, balance %s, %u static backends, "
		"max %u connections", SLB_VERSION, addr_format(&cfg.listen, listen, sizeof(listen)), cfg.workers,
		cfg.pin ? "pinned" : "unpinned", relay_mode_name(cfg.relay), balance_algo_name(cfg.balance),
		cfg.n_backends, cfg.max_conns);
}

/* The signals main waits for. They are blocked in every thread, so only main's sigwait sees
 * them: SIGTERM and SIGINT stop slb, SIGHUP is the operator's reload request, SIGUSR1 reopens
 * the access log (logrotate's habit). */
static void main_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

/* Operators send SIGHUP to reload, as with nginx or HAProxy; its default action would kill
 * slb and every connection with it. A reload hooks in here. */
static void on_sighup(void)
{
	slb_log(LOG_WARN, 0, "SIGHUP: reload not supported yet, ignoring");
}

/* Handles the signals that do not stop slb until one does. Returns that one. */
static int wait_for_stop(const sigset_t *set)
{
	for (;;) {
		int sig;

		while (sigwait(set, &sig) != 0)
			;
		if (sig == SIGUSR1)
			access_log_request_reopen();
		else if (sig == SIGHUP)
			on_sighup();
		else
			return sig;
	}
}

static void drain(void)
{
	int64_t deadline = clock_now_ms() + cfg.drain_timeout_ms;
	unsigned long open;

	workers_stop_accepting();
	while ((open = workers_open_conns()) > 0 && clock_now_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000000 };

		nanosleep(&ts, NULL);
	}
	if (open)
		slb_log(LOG_WARN, 0, "drain timeout (%u ms): closing %lu connections still open", cfg.drain_timeout_ms,
			open);
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
	struct privs_user user;

	if (uring_check_available(err, errlen) || resolve_limits(err, errlen))
		return -1;
	if (cfg.user[0] && privs_lookup_user(cfg.user, &user, err, errlen))
		return -1;
	if (workers_prepare(&cfg, err, errlen) || access_log_open(&cfg, workers_count(), err, errlen))
		return -1;
	for (unsigned i = 0; i < workers_count(); i++)
		channels[i] = workers_channel(i);
	if (health_prepare(&cfg, channels, workers_count(), err, errlen))
		return -1;
	if ((cfg.user[0] && privs_drop(&user, err, errlen)) || health_start(err, errlen) ||
	    access_log_start(err, errlen) || workers_start(err, errlen)) {
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
	slb_log(LOG_INFO, 0, "%s received: draining for up to %u ms", strsignal(sig), cfg.drain_timeout_ms);
	drain();
	workers_stop_and_join();
	access_log_close();
	health_stop();
	workers_free();
	snapshot_teardown();
	slb_log(LOG_INFO, 0, "stopped");
	return 0;

out_err:
	fprintf(stderr, "slb: %s\n", err);
	access_log_close();
	workers_free();
	return 1;
}

int main(int argc, char **argv)
{
	sigset_t set;
	int ret = parse_flags(argc, argv);

	if (ret >= 0)
		return ret;
	atomic_store(&log_threshold, cfg.log_level);
	if (cfg.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		cfg.workers = n > 0 ? (unsigned)n : 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Block main's signals before any thread exists, so every thread inherits the mask. */
	main_signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return run();
}
