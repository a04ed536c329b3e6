/* config: the command line of slb, parsed from one flag table into a plain struct and
 * validated in a separate pass. No threads; the only socket is validation's bind test of a
 * backend that may be one of slb's own wildcard ports; every error is one line. */
#ifndef SLB_CONFIG_H
#define SLB_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "slb/common/addr.h"

#define CONFIG_MAX_STATIC_BACKENDS 256
#define CONFIG_MAX_WEIGHT 256
#define CONFIG_MAX_WORKERS 256
#define CONFIG_PATH_MAX 128
#define CONFIG_MAX_RETRIES 7 /* a connection tries at most 8 backends */
#define CONFIG_MAX_HB_ALLOW 32
#define CONFIG_FILE_MAX 1024
#define CONFIG_USER_MAX 64

enum relay_mode {
	RELAY_AUTO = 0, /* copy for small exchanges, splice once a transfer fills a buffer */
	RELAY_SPLICE,
	RELAY_COPY,
};

enum balance_algo {
	BALANCE_ROUNDROBIN = 0,
	BALANCE_LEASTCONN,
};

enum check_kind {
	CHECK_NONE = 0, /* static backends are trusted until connects fail */
	CHECK_TCP,
	CHECK_HTTP,
};

struct config_backend {
	struct slb_addr addr;  /* a single unicast host */
	unsigned weight;       /* 1..CONFIG_MAX_WEIGHT */
	bool heartbeat_allow;  /* heartbeat=allow: a heartbeat session may attach to it */
};

struct slb_config {
	struct slb_addr listen;
	struct config_backend backends[CONFIG_MAX_STATIC_BACKENDS];
	unsigned n_backends;
	unsigned workers;          /* 0 on input means one per online CPU */
	bool pin;                  /* worker i on CPU i mod online CPUs */
	enum relay_mode relay;
	enum balance_algo balance;
	unsigned connect_timeout_ms;
	unsigned idle_timeout_ms;  /* 0: never */
	unsigned retries;          /* further backends tried after a failed connect */
	unsigned max_conns;        /* whole process; 0 on input means derived from RLIMIT_NOFILE */
	unsigned pipes_per_worker; /* not a flag: derived from RLIMIT_NOFILE at start (0: no splicing) */
	unsigned drain_timeout_ms;
	int log_level;

	/* health (heartbeats, checks, admin) */
	bool has_heartbeat_listen;
	struct slb_addr heartbeat_listen;
	unsigned heartbeat_interval_ms; /* what slb asks backends to send */
	unsigned heartbeat_timeout_ms;  /* silence after which a backend is down */
	char heartbeat_key_file[CONFIG_FILE_MAX]; /* "": heartbeat lines are not authenticated */
	struct slb_cidr heartbeat_allow[CONFIG_MAX_HB_ALLOW]; /* peers that may connect */
	unsigned n_heartbeat_allow;     /* 0: any peer may connect */
	unsigned heartbeat_max_backends; /* heartbeat entries in the table, closed ones included */
	enum check_kind check;
	char check_path[CONFIG_PATH_MAX]; /* for CHECK_HTTP, starts with '/' */
	unsigned check_interval_ms;
	unsigned check_timeout_ms;
	unsigned rise;                  /* consecutive successes to come up */
	unsigned fall;                  /* consecutive failures to go down */
	unsigned eject_failures;        /* consecutive connect failures seen by workers */
	bool has_admin;
	struct slb_addr admin;
	bool admin_public;              /* --admin may be an address other hosts can reach */
	char admin_token_file[CONFIG_FILE_MAX]; /* "": only loopback peers may change anything */
	char user[CONFIG_USER_MAX];     /* "": keep running as the user that started slb */
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_HELP,    /* --help was given: print usage, exit 0 */
	CONFIG_VERSION, /* --version was given */
};

/* Fills cfg with defaults, then the flags in argv. Returns CONFIG_OK, CONFIG_HELP,
 * CONFIG_VERSION, or -EINVAL with a one-line reason in err (exit status 2).
 * Does not validate combinations: see config_validate. */
int config_parse(struct slb_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Checks what no single flag can: at least one backend or a heartbeat port, timeouts that
 * make sense together, heartbeat security flags only with a heartbeat port, an admin
 * address on loopback unless --admin-public, and no backend that is one of slb's own
 * addresses (config_served_by; a wildcard one is tested with addr_is_local, one socket and
 * bind per such backend). Returns 0 or -EINVAL with err filled. */
int config_validate(const struct slb_config *cfg, char *err, size_t errlen);

/* Whether a is an address slb itself serves with cfg: its listener, admin endpoint or
 * heartbeat port, equal or reached through a wildcard one (is_local decides whether a is
 * assigned to this host; see addr_find_served). Returns NULL, or the fixed reason
 * "address is slb's own listener" (admin endpoint, heartbeat port), fit to send to a peer. */
const char *config_served_by(const struct slb_config *cfg, const struct slb_addr *a, addr_local_fn is_local);

/* Parses "ADDR:PORT[,weight=N][,heartbeat=allow|deny]" (options in any order, each at most
 * once). Refuses an address that is not a single unicast host, naming its kind. Returns 0 or
 * -EINVAL with err filled; out is fully written either way. */
int config_parse_backend(const char *text, struct config_backend *out, char *err, size_t errlen);

/* Parses a check as --check takes it: "tcp", "http:/PATH" (printable ASCII, shorter than
 * CONFIG_PATH_MAX) or "none". Returns 0 with *kind (and path for http) set, or -EINVAL with
 * *why a fixed reason and nothing changed. */
int config_parse_check(const char *val, enum check_kind *kind, char path[CONFIG_PATH_MAX], const char **why);

/* Prints every flag with its argument, default and help, from the same table. */
void config_print_usage(FILE *out, const char *prog);

const char *relay_mode_name(enum relay_mode m);
const char *balance_algo_name(enum balance_algo b);

#endif
