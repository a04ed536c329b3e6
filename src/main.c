/* main: config file and flags -> config (--check-config: check, print, exit) -> --user looked
 * up -> io_uring check -> bind every port (listeners, heartbeat, admin, control socket), or
 * take them over from the running slb (--takeover), and read the heartbeat key -> drop
 * privileges (--user) -> health thread (first snapshot) -> workers -> tell the old slb to
 * drain (--takeover) -> wait for a signal or a takeover -> drain -> exit.
 * Exit status: 0 after a clean drain (or a good --check-config), 1 at run time, 2 for bad usage. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
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
#include "reload.h"
#include "takeover.h"

#define EXIT_USAGE 2
#define FD_RESERVE 128      /* descriptors kept for listeners, rings, logs */
#define PIPES_PER_WORKER_MAX 256

static struct slb_config cfg;
static struct privs_user user; /* --user, looked up before anything is bound */
static struct config_errors errs; /* every usage error, printed together */
static struct takeover_in inherited = { .sock = -1, .control_fd = -1 }; /* --takeover: what the old slb sent */
static struct takeover_server control = { .listen_fd = -1, .peer = -1 }; /* --control-socket */

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
 * send those checks after an address nobody wrote. The ports are left alone with --takeover
 * or --no-bind: a running slb holds them, and neither an upgrade nor a reload binds them. */
static int check_config(void)
{
	char err[256];

	if (errs.n == 0) {
		if (cfg.user[0] && privs_lookup_user(cfg.user, &user, err, sizeof(err)))
			config_errors_add(&errs, "%s", err);
		if (!cfg.takeover[0] && !cfg.check_no_bind)
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
	slb_log(LOG_INFO, 0, "slb %s listening on %s: %u workers (%s), relay %s, %u services (default's balance %s), "
		"%u static backends, max %u connections", SLB_VERSION, listen, cfg.workers, cfg.pin ? "pinned" : "unpinned",
		relay_mode_name(cfg.relay), cfg.n_services, balance_algo_name(cfg.services[0].balance), cfg.n_backends,
		cfg.max_conns);
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

/* Operators send SIGHUP to reload, as with nginx or HAProxy (its default action would kill
 * slb and every connection with it). A rejected reload changes nothing and is logged. */
static void on_sighup(void)
{
	/* systemd (Type=notify) shows the unit reloading until READY=1 again */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)clock_now_ms() * 1000ULL);
	reload_run();
	sd_notify(0, "READY=1");
}

/* The next signal from fd, or 0 when none is pending. */
static int read_signal(int fd)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/* Handles the signals that do not stop slb, and the control socket (--control-socket), until
 * a signal stops slb or a new slb has taken over. Returns that signal, or 0 for a takeover. */
static int wait_for_stop(int sigfd)
{
	for (;;) {
		struct pollfd p[3] = { { .fd = sigfd, .events = POLLIN } };
		int fds[2];
		unsigned n = takeover_server_fds(&control, fds);
		int sig;

		for (unsigned i = 0; i < n; i++)
			p[1 + i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(p, 1 + n, -1) == -1)
			continue; /* EINTR */
		while ((sig = read_signal(sigfd)) == SIGHUP || sig == SIGUSR1) {
			if (sig == SIGHUP)
				on_sighup();
			else
				access_log_request_reopen();
		}
		if (sig)
			return sig;
		if (n && takeover_server_on_ready(&control))
			return 0;
	}
}

/* Route announcers poll GET /ready (docs/scale-out.md): it answers 503 from here on while slb
 * still accepts for --ready-grace, so the routers withdraw this instance before its listeners
 * close and no new connection is refused. Without --admin nothing can read /ready, so there
 * is nothing to wait for. A second SIGTERM or SIGINT cuts the grace short; a SIGHUP in it is
 * dropped (slb is going away). */
static void drain_ready_grace(int sigfd)
{
	const struct slb_config *c = reload_current();
	int64_t end = clock_now_ms() + c->ready_grace_ms, left;

	if (health_set_draining() || !c->has_admin || !c->ready_grace_ms)
		return;
	slb_log(LOG_INFO, 0, "ready grace: still accepting for %u ms while routes are withdrawn", c->ready_grace_ms);
	while ((left = end - clock_now_ms()) > 0) {
		struct pollfd p = { .fd = sigfd, .events = POLLIN };
		int sig;

		if (poll(&p, 1, (int)left) <= 0)
			continue;
		sig = read_signal(sigfd);
		if (sig == SIGTERM || sig == SIGINT) {
			slb_log(LOG_INFO, 0, "%s received: ready grace cut short", strsignal(sig));
			return;
		}
	}
}

/* grace: a signal stops slb, so route announcers are told first (/ready 503); after a
 * takeover the routes stay, since the new process serves the same address. */
static void drain(int sigfd, bool grace)
{
	unsigned timeout_ms = reload_current()->drain_timeout_ms;
	int64_t deadline;
	unsigned long open = 0;

	if (grace)
		drain_ready_grace(sigfd);
	deadline = clock_now_ms() + timeout_ms;
	workers_stop_accepting();
	/* Until every accept has ended, a connection may still come: it is served, so wait. */
	while ((workers_accepting() || (open = workers_open_conns()) > 0) && clock_now_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000000 };

		if (!workers_accepting())
			takeover_server_accepts_off(&control); /* once; a new process (if any) re-arms */
		nanosleep(&ts, NULL);
	}
	if (!workers_accepting())
		takeover_server_accepts_off(&control);
	if (open)
		slb_log(LOG_WARN, 0, "drain timeout (%u ms): closing %lu connections still open", timeout_ms, open);
	else
		slb_log(LOG_INFO, 0, "drained: every connection finished");
}

/* Everything that may need root happens first: binding every port and reading the heartbeat
 * key. Privileges go next, and only then does any thread start, so the drop holds for the
 * whole process without relying on glibc's set*id broadcast to other threads. io_uring is
 * checked before anything is bound, so a kernel or sandbox without it costs one line. */
/* With --takeover, every socket comes from the running slb instead of a bind (the ports are
 * its until it drains); the control socket is bound, or taken over too, before privileges go,
 * since its directory (/run/slb under systemd) is root's. */
static int start(char *err, size_t errlen)
{
	struct worker_channel *channels[CONFIG_MAX_WORKERS];
	bool takeover = cfg.takeover[0];

	if (uring_check_available(err, errlen) || resolve_limits(err, errlen))
		return -1;
	if (takeover && takeover_receive(&cfg, &inherited, err, errlen))
		return -1;
	if (workers_prepare(&cfg, takeover ? &inherited.listen : NULL, err, errlen) ||
	    access_log_open(&cfg, workers_count(), err, errlen))
		return -1;
	for (unsigned i = 0; i < workers_count(); i++)
		channels[i] = workers_channel(i);
	if (health_prepare(&cfg, channels, workers_count(), takeover ? &inherited.health : NULL, err, errlen))
		return -1;
	if (cfg.control_socket[0] && takeover_server_open(&control, &cfg, inherited.control_fd, err, errlen))
		goto out_stop_health;
	inherited.control_fd = -1;
	if ((cfg.user[0] && privs_drop(&user, err, errlen)) || health_start(err, errlen) ||
	    access_log_start(err, errlen) || workers_start(err, errlen))
		goto out_stop_health;
	return 0;

out_stop_health:
	health_stop();
	return -1;
}

/* The old slb drains only once this one serves; should it not confirm, both serve, which
 * loses nothing. systemd follows the new main PID (NotifyAccess=all in the unit). */
static void finish_takeover(void)
{
	char err[256];

	if (takeover_finish(&inherited, err, sizeof(err)))
		slb_log(LOG_WARN, 0, "%s", err);
	/* whatever the old process said: a connection it left unseen in a shared queue is found */
	workers_rearm_accepts();
	sd_notifyf(0, "MAINPID=%lu\nREADY=1", (unsigned long)getpid());
}

static int open_signalfd(void)
{
	sigset_t set;

	main_signal_set(&set);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void stop(void)
{
	workers_stop_and_join();
	access_log_close();
	health_stop();
	workers_free();
	snapshot_teardown();
	takeover_server_close(&control);
	slb_log(LOG_INFO, 0, "stopped");
}

static int run(void)
{
	int sigfd = open_signalfd(), sig;
	char err[256];

	if (sigfd == -1) {
		snprintf(err, sizeof(err), "signalfd: %s", strerror(errno));
		goto out_err;
	}
	if (start(err, sizeof(err)))
		goto out_err;
	log_start();
	if (cfg.takeover[0])
		finish_takeover();
	else
		sd_notify(0, "READY=1");
	sig = wait_for_stop(sigfd);
	if (sig) {
		sd_notify(0, "STOPPING=1");
		slb_log(LOG_INFO, 0, "%s received: draining for up to %u ms", strsignal(sig),
			reload_current()->drain_timeout_ms);
	} else {
		/* not STOPPING=1: the service goes on, in the new process */
		slb_log(LOG_INFO, 0, "pid %d took over: draining for up to %u ms", (int)control.peer_pid,
			reload_current()->drain_timeout_ms);
		health_hand_over();
	}
	drain(sigfd, sig != 0);
	stop();
	return 0;

out_err:
	fprintf(stderr, "slb: %s\n", err);
	takeover_in_close(&inherited);
	takeover_server_close(&control);
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
	ret = lookup_user();
	if (ret >= 0)
		return ret;
	atomic_store(&log_threshold, cfg.log_level);
	resolve_workers();
	snap_id_limit_set(config_max_backends(&cfg) + 1); /* validated: 1..SNAP_ID_MAX */
	reload_init(argc, argv, &cfg);
	signal(SIGPIPE, SIG_IGN);
	/* Block main's signals before any thread exists, so every thread inherits the mask. */
	main_signal_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return run();
}
