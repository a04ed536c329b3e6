/* main: flags -> config -> health thread (first snapshot) -> workers -> wait for a signal
 * -> drain -> exit. Exit status: 0 after a clean drain, 1 at run time, 2 for bad usage. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "slb/config.h"
#include "slb/health.h"
#include "slb/log.h"
#include "slb/snapshot.h"
#include "slb/worker.h"

#define EXIT_USAGE 2
#define FD_RESERVE 128      /* descriptors kept for listeners, rings, logs */
#define PIPE_FDS_PER_WORKER 512

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

/* Each connection costs one descriptor (its backend socket; the client socket is an io_uring
 * direct descriptor, see conn.h); pipes and the health thread are budgeted apart. */
static int resolve_limits(char *err, size_t errlen)
{
	unsigned long nofile = raise_nofile();
	unsigned long pipes = cfg.relay == RELAY_COPY ? 0 : (unsigned long)cfg.workers * PIPE_FDS_PER_WORKER;
	unsigned long reserve = FD_RESERVE + health_fd_reserve(&cfg) + pipes;
	unsigned long budget = nofile > reserve ? nofile - reserve : 0;

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

/* Blocks until SIGTERM or SIGINT; these are blocked in every thread, so only this one sees them. */
static int wait_for_signal(const sigset_t *set)
{
	int sig;

	while (sigwait(set, &sig) != 0)
		;
	return sig;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain(void)
{
	int64_t deadline = mono_ms() + cfg.drain_timeout_ms;
	unsigned long open;

	workers_stop_accepting();
	while ((open = workers_open_conns()) > 0 && mono_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000000 };

		nanosleep(&ts, NULL);
	}
	if (open)
		slb_log(LOG_WARN, 0, "drain timeout (%u ms): closing %lu connections still open", cfg.drain_timeout_ms,
			open);
	else
		slb_log(LOG_INFO, 0, "drained: every connection finished");
}

static int run(void)
{
	struct worker_channel *channels[CONFIG_MAX_WORKERS];
	char err[256];
	sigset_t set;
	int sig;

	if (resolve_limits(err, sizeof(err)) || workers_prepare(&cfg, err, sizeof(err)))
		goto out_err;
	for (unsigned i = 0; i < workers_count(); i++)
		channels[i] = workers_channel(i);
	if (health_start(&cfg, channels, workers_count(), err, sizeof(err)))
		goto out_err;
	if (workers_start(err, sizeof(err))) {
		health_stop();
		goto out_err;
	}
	log_start();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sig = wait_for_signal(&set);
	slb_log(LOG_INFO, 0, "%s received: draining for up to %u ms", strsignal(sig), cfg.drain_timeout_ms);
	drain();
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
	atomic_store(&log_threshold, cfg.log_level);
	if (cfg.workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		cfg.workers = n > 0 ? (unsigned)n : 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Block the stop signals before any thread exists, so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return run();
}
