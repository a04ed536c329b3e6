/* config: slb's flags, defined once in flag_table[] (name, argument, parser, field, default,
 * help). Defaults are applied by running each flag's own parser on its default text, so the
 * help output and the behaviour cannot disagree. Validation of combinations is separate. */
#include "slb/common/config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/log.h"
#include "slb/common/snapshot.h"

struct flag;
typedef int (*flag_parser)(struct slb_config *cfg, const struct flag *f, const char *val, char *err,
			   size_t errlen);

struct flag {
	const char *name;
	const char *arg;      /* NULL: the flag takes no argument */
	flag_parser parse;
	size_t offset;        /* field in struct slb_config */
	unsigned min, max;    /* range for numbers; max is the buffer size for strings */
	const char *def;      /* parsed at start; NULL: no default */
	const char *def_help; /* how --help shows the default when def does not say it */
	const char *help;
};

static int parse_uint_text(const char *val, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!val || !*val || *val == '-' || *val == '+' || *val == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void *field(struct slb_config *cfg, const struct flag *f)
{
	return (char *)cfg + f->offset;
}

static int flag_error(char *err, size_t errlen, const struct flag *f, const char *val, const char *why)
{
	snprintf(err, errlen, "--%s '%.64s': %s", f->name, val ? val : "", why);
	return -EINVAL;
}

static int parse_uint(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	char why[64];

	if (parse_uint_text(val, f->min, f->max, field(cfg, f)) == 0)
		return 0;
	snprintf(why, sizeof(why), "expected a whole number from %u to %u", f->min, f->max);
	return flag_error(err, errlen, f, val, why);
}

static int parse_address(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	char why[160];

	if (addr_parse(val, field(cfg, f), why, sizeof(why)) == 0)
		return 0;
	return flag_error(err, errlen, f, val, why);
}

/* Optional addresses carry a has_ flag just before them in the struct. */
static int parse_optional_address(struct slb_config *cfg, const struct flag *f, const char *val, char *err,
				  size_t errlen)
{
	int ret = parse_address(cfg, f, val, err, errlen);

	if (ret == 0) {
		if (f->offset == offsetof(struct slb_config, heartbeat_listen))
			cfg->has_heartbeat_listen = true;
		else
			cfg->has_admin = true;
	}
	return ret;
}

#define BACKEND_OPT_MAX 32

/* One option after the address; seen collects the ones given so far (bit 0 weight, bit 1
 * heartbeat), so that "weight=2,weight=3" is an error rather than a silent last-wins. */
static int backend_option(const char *opt, struct config_backend *out, unsigned *seen, char *err, size_t errlen)
{
	unsigned bit = strncmp(opt, "weight=", 7) == 0 ? 1 : strncmp(opt, "heartbeat=", 10) == 0 ? 2 : 0;

	if (bit == 0) {
		snprintf(err, errlen, "unknown backend option '%.32s' (expected weight=N or heartbeat=allow)", opt);
		return -EINVAL;
	}
	if (*seen & bit) {
		snprintf(err, errlen, "backend option '%.32s' given twice", opt);
		return -EINVAL;
	}
	*seen |= bit;
	if (bit == 1 && parse_uint_text(opt + 7, 1, CONFIG_MAX_WEIGHT, &out->weight)) {
		snprintf(err, errlen, "weight must be a whole number from 1 to %d", CONFIG_MAX_WEIGHT);
		return -EINVAL;
	}
	if (bit == 2 && strcmp(opt + 10, "allow") && strcmp(opt + 10, "deny")) {
		snprintf(err, errlen, "heartbeat must be allow or deny");
		return -EINVAL;
	}
	if (bit == 2)
		out->heartbeat_allow = opt[10] == 'a';
	return 0;
}

int config_parse_backend(const char *text, struct config_backend *out, char *err, size_t errlen)
{
	const char *opt = strchr(text, ','), *problem;
	size_t addr_len = opt ? (size_t)(opt - text) : strlen(text);
	unsigned seen = 0;
	char why[160];

	memset(out, 0, sizeof(*out));
	if (addr_parse_n(text, addr_len, &out->addr, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	problem = addr_host_problem(&out->addr);
	if (problem) {
		snprintf(err, errlen, "%s", problem);
		return -EINVAL;
	}
	out->weight = 1;
	while (opt) {
		const char *next = strchr(opt + 1, ',');
		size_t len = next ? (size_t)(next - opt - 1) : strlen(opt + 1);
		char one[BACKEND_OPT_MAX];

		if (len >= sizeof(one)) {
			snprintf(err, errlen, "unknown backend option '%.32s'", opt + 1);
			return -EINVAL;
		}
		memcpy(one, opt + 1, len);
		one[len] = '\0';
		if (backend_option(one, out, &seen, err, errlen))
			return -EINVAL;
		opt = next;
	}
	return 0;
}

static int parse_backend(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	char why[200];

	if (cfg->n_backends >= CONFIG_MAX_STATIC_BACKENDS)
		return flag_error(err, errlen, f, val, "too many backends");
	if (config_parse_backend(val, &cfg->backends[cfg->n_backends], why, sizeof(why)))
		return flag_error(err, errlen, f, val, why);
	for (unsigned i = 0; i < cfg->n_backends; i++)
		if (addr_equal(&cfg->backends[i].addr, &cfg->backends[cfg->n_backends].addr))
			return flag_error(err, errlen, f, val, "backend given twice");
	cfg->n_backends++;
	return 0;
}

static int parse_allow(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	char why[160];

	if (cfg->n_heartbeat_allow >= CONFIG_MAX_HB_ALLOW)
		return flag_error(err, errlen, f, val, "too many networks (at most 32)");
	if (addr_parse_cidr(val, &cfg->heartbeat_allow[cfg->n_heartbeat_allow], why, sizeof(why)))
		return flag_error(err, errlen, f, val, why);
	cfg->n_heartbeat_allow++;
	return 0;
}

/* A path or a user name: one printable word that fits the field (f->max bytes with its NUL). */
static int parse_word(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	size_t len = strlen(val);

	if (len == 0 || len >= f->max)
		return flag_error(err, errlen, f, val, "empty or too long");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)val[i] < 0x20 || val[i] == 0x7f)
			return flag_error(err, errlen, f, val, "control characters are not allowed");
	memcpy(field(cfg, f), val, len + 1);
	return 0;
}

static int parse_choice(const char *val, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(val, names[i]) == 0)
			return i;
	return -1;
}

static const char *const relay_names[] = { "auto", "splice", "copy" };
static const char *const balance_names[] = { "roundrobin", "leastconn" };

static int parse_relay(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	int v = parse_choice(val, relay_names, 3);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected splice, copy or auto");
	cfg->relay = (enum relay_mode)v;
	return 0;
}

static int parse_balance(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	int v = parse_choice(val, balance_names, 2);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected roundrobin or leastconn");
	cfg->balance = (enum balance_algo)v;
	return 0;
}

static int parse_log_level(struct slb_config *cfg, const struct flag *f, const char *val, char *err,
			   size_t errlen)
{
	int v = log_level_parse(val);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected error, warn, info or debug");
	cfg->log_level = v;
	return 0;
}

int config_parse_check(const char *val, enum check_kind *kind, char path[CONFIG_PATH_MAX], const char **why)
{
	size_t len = strlen(val);

	*why = NULL;
	if (strcmp(val, "none") == 0 || strcmp(val, "tcp") == 0) {
		*kind = val[0] == 'n' ? CHECK_NONE : CHECK_TCP;
		return 0;
	}
	if (len < 6 || memcmp(val, "http:/", 6) != 0)
		*why = "expected tcp, http:/PATH or none";
	else if (len - 5 >= CONFIG_PATH_MAX)
		*why = "path too long";
	for (const char *p = val + 5; !*why && *p; p++)
		if (*p <= ' ' || *p >= 127)
			*why = "path must be printable ASCII without spaces";
	if (*why)
		return -EINVAL;
	*kind = CHECK_HTTP;
	strcpy(path, val + 5);
	return 0;
}

static int parse_check(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	const char *why;

	if (config_parse_check(val, &cfg->check, cfg->check_path, &why))
		return flag_error(err, errlen, f, val, why);
	return 0;
}

static int set_true(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	*(bool *)field(cfg, f) = true;
	return 0;
}

static int set_false(struct slb_config *cfg, const struct flag *f, const char *val, char *err, size_t errlen)
{
	*(bool *)field(cfg, f) = false;
	return 0;
}

#define F(member) offsetof(struct slb_config, member)
#define DAY_MS 86400000u

static const struct flag flag_table[] = {
	{ "listen", "ADDR:PORT", parse_address, F(listen), 0, 0, "*:8080", NULL,
	  "address clients connect to (IPv4, [IPv6]:PORT, localhost or *)" },
	{ "backend", "ADDR:PORT[,weight=N][,heartbeat=allow]", parse_backend, 0, 0, 0, NULL, "none",
	  "a static backend; repeat for more (weight 1-256, default 1; heartbeat=allow lets a heartbeat "
	  "session attach to it)" },
	{ "workers", "N", parse_uint, F(workers), 0, CONFIG_MAX_WORKERS, "0", "online CPUs",
	  "worker threads, each with its own listener and io_uring (0: one per online CPU)" },
	{ "pin", NULL, set_true, F(pin), 0, 0, "", "on", "pin worker i to CPU i mod online CPUs" },
	{ "no-pin", NULL, set_false, F(pin), 0, 0, NULL, NULL, "let the scheduler place workers" },
	{ "relay", "MODE", parse_relay, 0, 0, 0, "auto", NULL,
	  "splice (kernel pipes), copy (buffers) or auto (copy, then splice for bulk transfers)" },
	{ "balance", "ALGO", parse_balance, 0, 0, 0, "roundrobin", NULL, "roundrobin (weighted) or leastconn" },
	/* 2000, not 1000: Linux retransmits a lost SYN after 1 s, and a 1 s timeout cancelled
	 * exactly the connects that the retransmission was about to complete (5% loss then
	 * ejected healthy backends: tests/integration/test_faults_network.c). */
	{ "connect-timeout", "MS", parse_uint, F(connect_timeout_ms), 1, DAY_MS, "2000", NULL,
	  "give up a backend connect after MS and try the next backend" },
	{ "idle-timeout", "MS", parse_uint, F(idle_timeout_ms), 0, DAY_MS, "60000", NULL,
	  "close a connection with no bytes either way for MS (0: never)" },
	{ "retries", "N", parse_uint, F(retries), 0, CONFIG_MAX_RETRIES, "2", NULL,
	  "further backends tried after a failed connect" },
	{ "max-conns", "N", parse_uint, F(max_conns), 0, 1000000, "0", "from ulimit -n",
	  "open client connections over all workers; more are refused" },
	{ "drain-timeout", "MS", parse_uint, F(drain_timeout_ms), 0, DAY_MS, "10000", NULL,
	  "on SIGTERM/SIGINT, stop accepting and let open connections finish for up to MS" },
	{ "log-level", "LEVEL", parse_log_level, 0, 0, 0, "info", NULL, "error, warn, info or debug" },
	{ "heartbeat-listen", "ADDR:PORT", parse_optional_address, F(heartbeat_listen), 0, 0, NULL, "off",
	  "port where backends register and send heartbeats (protocol in docs/heartbeat-protocol.md)" },
	{ "heartbeat-interval", "MS", parse_uint, F(heartbeat_interval_ms), 10, DAY_MS, "1000", NULL,
	  "heartbeat interval slb asks backends for" },
	{ "heartbeat-timeout", "MS", parse_uint, F(heartbeat_timeout_ms), 20, DAY_MS, "3000", NULL,
	  "a backend silent for MS is taken out of rotation" },
	{ "heartbeat-key-file", "FILE", parse_word, F(heartbeat_key_file), 0, CONFIG_FILE_MAX, NULL, "none",
	  "shared key (>= 32 bytes, mode 600): heartbeat lines must carry seq= and an HMAC-SHA256 mac=" },
	{ "heartbeat-allow", "CIDR", parse_allow, 0, 0, 0, NULL, "any peer",
	  "only peers in this network may connect to the heartbeat port; repeat for more" },
	{ "heartbeat-max-backends", "N", parse_uint, F(heartbeat_max_backends), 1, SNAP_MAX_BACKEND_ID - 1, "256",
	  NULL, "backends that may register by heartbeat; further REGISTERs get ERR too many backends" },
	{ "check", "KIND", parse_check, 0, 0, 0, "none", NULL,
	  "active check of static backends: tcp, http:/PATH (expects 2xx) or none" },
	{ "check-interval", "MS", parse_uint, F(check_interval_ms), 10, DAY_MS, "2000", NULL,
	  "time between two checks of one backend" },
	{ "check-timeout", "MS", parse_uint, F(check_timeout_ms), 10, DAY_MS, "1000", NULL,
	  "a check not answered within MS has failed" },
	{ "rise", "N", parse_uint, F(rise), 1, 100, "2", NULL, "consecutive passed checks to bring a backend up" },
	{ "fall", "N", parse_uint, F(fall), 1, 100, "3", NULL, "consecutive failed checks to take a backend down" },
	{ "eject-failures", "N", parse_uint, F(eject_failures), 1, 1000, "3", NULL,
	  "consecutive failed connects (seen by workers) that eject a backend" },
	{ "admin", "ADDR:PORT", parse_optional_address, F(admin), 0, 0, NULL, "off",
	  "admin endpoint: dashboard, /status, /metrics, /events and the runtime API (docs/admin-api.md); "
	  "loopback unless --admin-public" },
	{ "admin-public", NULL, set_true, F(admin_public), 0, 0, NULL, NULL,
	  "allow --admin on an address other hosts can reach (reads need no token)" },
	{ "admin-token-file", "FILE", parse_word, F(admin_token_file), 0, CONFIG_FILE_MAX, NULL, "none",
	  "token (>= 32 bytes, mode 600): changes need \"Authorization: Bearer TOKEN\" (without it, only "
	  "loopback peers may change anything)" },
	{ "user", "NAME", parse_word, F(user), 0, CONFIG_USER_MAX, NULL, "none",
	  "after binding every port, drop root privileges to this user (and its group)" },
	{ "help", NULL, NULL, 0, 0, 0, NULL, NULL, "show this help and exit" },
	{ "version", NULL, NULL, 0, 0, 0, NULL, NULL, "show the version and exit" },
};

#define N_FLAGS (sizeof(flag_table) / sizeof(flag_table[0]))

static int apply_defaults(struct slb_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct flag *f = &flag_table[i];

		if (f->def && f->parse(cfg, f, f->def, err, errlen))
			return -EINVAL;
	}
	return 0;
}

static void build_options(struct option *opts)
{
	for (size_t i = 0; i < N_FLAGS; i++) {
		opts[i].name = flag_table[i].name;
		opts[i].has_arg = flag_table[i].arg ? required_argument : no_argument;
		opts[i].flag = NULL;
		opts[i].val = 0x100 + (int)i;
	}
	memset(&opts[N_FLAGS], 0, sizeof(opts[N_FLAGS]));
}

int config_parse(struct slb_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct option opts[N_FLAGS + 1];
	int c;

	if (apply_defaults(cfg, err, errlen))
		return -EINVAL;
	build_options(opts);
	/* 0, not 1: glibc then also forgets where it was inside a cluster of short options
	 * ("-ab"), which would otherwise point into the previous call's argv. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		const struct flag *f;

		if (c == '?') {
			/* inside a cluster like -xy, getopt has not moved optind past it yet */
			if (optopt && optopt < 0x100)
				snprintf(err, errlen, "unknown flag '-%c' (see --help)", optopt);
			else
				snprintf(err, errlen, "unknown flag '%.64s' (see --help)", argv[optind - 1]);
			return -EINVAL;
		}
		if (c == ':') {
			snprintf(err, errlen, "flag '%.64s' needs an argument (see --help)", argv[optind - 1]);
			return -EINVAL;
		}
		f = &flag_table[c - 0x100];
		if (strcmp(f->name, "help") == 0)
			return CONFIG_HELP;
		if (strcmp(f->name, "version") == 0)
			return CONFIG_VERSION;
		if (f->parse(cfg, f, optarg, err, errlen))
			return -EINVAL;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%.64s' (flags start with --)", argv[optind]);
		return -EINVAL;
	}
	return CONFIG_OK;
}

/* When --listen becomes repeatable, the listener line below takes (cfg->listen, cfg->n_listen). */
const char *config_served_by(const struct slb_config *cfg, const struct slb_addr *a, addr_local_fn is_local)
{
	if (addr_find_served(a, &cfg->listen, 1, is_local) >= 0)
		return "address is slb's own listener";
	if (cfg->has_admin && addr_find_served(a, &cfg->admin, 1, is_local) >= 0)
		return "address is slb's own admin endpoint";
	if (cfg->has_heartbeat_listen && addr_find_served(a, &cfg->heartbeat_listen, 1, is_local) >= 0)
		return "address is slb's own heartbeat port";
	return NULL;
}

/* A backend that is one of slb's own ports makes every client connection open another one to
 * slb itself, until descriptors run out: refuse it before anything is bound. */
static int validate_backends(const struct slb_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->n_backends; i++) {
		const char *why = config_served_by(cfg, &cfg->backends[i].addr, addr_is_local);
		char text[ADDR_TEXT_MAX];

		if (why) {
			snprintf(err, errlen, "--backend %s: %s",
				 addr_format(&cfg->backends[i].addr, text, sizeof(text)), why);
			return -EINVAL;
		}
	}
	return 0;
}

int config_validate(const struct slb_config *cfg, char *err, size_t errlen)
{
	if (cfg->n_backends == 0 && !cfg->has_heartbeat_listen) {
		snprintf(err, errlen, "no backends: give --backend ADDR:PORT or --heartbeat-listen ADDR:PORT");
		return -EINVAL;
	}
	if (cfg->has_heartbeat_listen && cfg->heartbeat_timeout_ms <= cfg->heartbeat_interval_ms) {
		snprintf(err, errlen, "--heartbeat-timeout (%u ms) must be longer than --heartbeat-interval (%u ms)",
			 cfg->heartbeat_timeout_ms, cfg->heartbeat_interval_ms);
		return -EINVAL;
	}
	if (cfg->has_heartbeat_listen && addr_equal(&cfg->heartbeat_listen, &cfg->listen)) {
		snprintf(err, errlen, "--heartbeat-listen must differ from --listen");
		return -EINVAL;
	}
	if (!cfg->has_heartbeat_listen && (cfg->heartbeat_key_file[0] || cfg->n_heartbeat_allow)) {
		snprintf(err, errlen, "--heartbeat-key-file and --heartbeat-allow need --heartbeat-listen");
		return -EINVAL;
	}
	if (cfg->has_admin && !cfg->admin_public && !addr_is_loopback(&cfg->admin)) {
		char text[ADDR_TEXT_MAX];

		snprintf(err, errlen, "--admin %s is not a loopback address and the admin endpoint's reads have no "
			 "authentication: use 127.0.0.1:PORT, or add --admin-public to expose it anyway",
			 addr_format(&cfg->admin, text, sizeof(text)));
		return -EINVAL;
	}
	if (!cfg->has_admin && cfg->admin_token_file[0]) {
		snprintf(err, errlen, "--admin-token-file needs --admin");
		return -EINVAL;
	}
	if (cfg->has_admin && (addr_equal(&cfg->admin, &cfg->listen) ||
			       (cfg->has_heartbeat_listen && addr_equal(&cfg->admin, &cfg->heartbeat_listen)))) {
		snprintf(err, errlen, "--admin must differ from --listen and --heartbeat-listen");
		return -EINVAL;
	}
	return validate_backends(cfg, err, errlen);
}

void config_print_usage(FILE *out, const char *prog)
{
	fprintf(out, "usage: %s --listen ADDR:PORT --backend ADDR:PORT [--backend ...] [flags]\n\n"
		     "slb %s: a Layer-4 load balancer that knows which backends are alive.\n\nflags:\n",
		prog, SLB_VERSION);
	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct flag *f = &flag_table[i];
		char lhs[64];
		const char *def = f->def_help ? f->def_help : f->def;

		snprintf(lhs, sizeof(lhs), "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
		fprintf(out, "  %-32s %s", lhs, f->help);
		if (def && *def)
			fprintf(out, " [default: %s]", def);
		fputc('\n', out);
	}
}

const char *relay_mode_name(enum relay_mode m)
{
	return (unsigned)m < 3 ? relay_names[m] : "?";
}

const char *balance_algo_name(enum balance_algo b)
{
	return (unsigned)b < 2 ? balance_names[b] : "?";
}
