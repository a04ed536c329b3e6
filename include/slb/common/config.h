/* config: the command line and the config file of slb, parsed from one flag table into a
 * plain struct and validated in a separate pass. No threads; the only things touched are the
 * config file and validation's bind test of a backend that may be one of slb's own wildcard
 * ports; every error is one line. */
#ifndef SLB_CONFIG_H
#define SLB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "slb/common/addr.h"
#include "slb/common/proxy_proto.h"

#define CONFIG_MAX_STATIC_BACKENDS 1024 /* --backend entries (a host name is one, up to 32 backends) */
#define CONFIG_MAX_BACKENDS_DEFAULT 1023 /* --max-backends when not given, at the least: the
                                         * health thread's tick walks every id, so the idle
                                         * cost grows with it (slb's limit before it grew) */
#define CONFIG_HOST_ADDRS 32        /* addresses one host name may resolve to (RESOLVER_MAX_ADDRS) */
#define CONFIG_MAX_WEIGHT 256
#define CONFIG_MAX_WORKERS 256
#define CONFIG_PATH_MAX 128
#define CONFIG_MAX_RETRIES 7 /* a connection tries at most 8 backends */
#define CONFIG_MAX_HB_ALLOW 32
#define CONFIG_MAX_CLIENT_CIDRS 32  /* --client-allow, and --client-deny, per service */
#define CONFIG_FILE_MAX 1024
#define CONFIG_USER_MAX 64
#define CONFIG_MAX_LISTEN 1024      /* over all services */
#define CONFIG_MAX_SERVICES 500     /* [service NAME] sections plus default (SNAP_MAX_POOLS) */
#define CONFIG_SERVICE_NAME_MAX 33  /* 1-32 of [a-z0-9_-] and the NUL */
#define CONFIG_SOCKET_MAX 108 /* a unix socket path with its NUL (sun_path) */
#define CONFIG_NAME_MAX 64    /* a backend's name with its NUL: as a heartbeat name (HB_NAME_MAX) */
#define CONFIG_HOST_MAX 254   /* a DNS name with its NUL (RFC 1035: 253 characters written out) */
#define CONFIG_SNI_MAX 1024   /* a service's sni = list, as written, with its NUL */

enum relay_mode {
	RELAY_AUTO = 0, /* copy for small exchanges, splice once a transfer fills a buffer */
	RELAY_SPLICE,
	RELAY_COPY,
};

enum balance_algo {
	BALANCE_ROUNDROBIN = 0,
	BALANCE_LEASTCONN,
	BALANCE_P2C,       /* power of two choices: global connections per weight, blended with load */
	BALANCE_MAGLEV,    /* Maglev consistent hashing of the client address */
};

enum hash_key {
	HASH_KEY_SRC = 0,  /* the client's IP address */
	HASH_KEY_SRC_PORT, /* the client's IP address and port */
};

enum check_kind {
	CHECK_NONE = 0, /* static backends are trusted until connects fail */
	CHECK_TCP,
	CHECK_HTTP,
};

/* --retry-unanswered: which requests a backend dropped before answering are sent again. */
enum retry_unanswered {
	RETRY_UNANSWERED_OFF = 0,
	RETRY_UNANSWERED_HTTP, /* one whole idempotent HTTP/1.x request head without a body */
	RETRY_UNANSWERED_ANY,  /* whatever the client sent, if it fit in one buffer */
};

/* --no-backend: what a client that no backend can take gets. */
enum no_backend_action {
	NO_BACKEND_CLOSE = 0, /* a FIN (what slb always did: curl says "empty reply", exit 52) */
	NO_BACKEND_RESET,     /* a RST */
	NO_BACKEND_HTTP_503,  /* an HTTP 503 answer with Retry-After, then a FIN */
};

enum access_log_format {
	ACCESS_LOG_TEXT = 0,
	ACCESS_LOG_JSON,
};

struct config_backend {
	struct slb_addr addr;  /* a single unicast host */
	unsigned weight;       /* 1..CONFIG_MAX_WEIGHT */
	bool heartbeat_allow;  /* heartbeat=allow: a heartbeat session may attach to it */
	bool backup;           /* backup: takes traffic only while no other backend of its service is up */
	enum proxy_version send_proxy; /* PROXY header this backend gets; PROXY_NONE: its service's */
	char name[CONFIG_NAME_MAX];    /* name=: "" when none; config_name_problem says what it may be */
	char host[CONFIG_HOST_MAX];    /* a host name to resolve ("": addr is the backend); addr is then unset */
	uint16_t port;                 /* with host: the port of every address it resolves to */
	unsigned service;      /* index in slb_config.services */
};

/* What a service decides for itself: the keys of a [service NAME] section, which the flag
 * table marks per_service. The flat keys and the command-line flags fill services[0], the
 * service named "default". A service's listeners and static backends are the entries of
 * slb_config.listen and .backends that carry its index. */
struct service_config {
	char name[CONFIG_SERVICE_NAME_MAX];
	enum balance_algo balance;
	enum hash_key hash_key;    /* what maglev hashes */
	unsigned hash_seed;        /* keys maglev's SipHash: same seed and backends, same picks */
	unsigned slow_start_ms;    /* a backend that comes up ramps from ~10% of its weight; 0: off */
	unsigned connect_timeout_ms;
	unsigned idle_timeout_ms;  /* 0: never */
	unsigned retries;          /* further backends tried after a failed connect (or a replay) */
	enum retry_unanswered retry_unanswered; /* replay what a backend dropped unanswered */
	enum no_backend_action no_backend;      /* what a client nobody can take gets */
	enum proxy_version send_proxy;  /* PROXY header every backend gets (PROXY_NONE: none) */
	enum check_kind check;
	char check_path[CONFIG_PATH_MAX]; /* for CHECK_HTTP, starts with '/' */
	unsigned check_interval_ms;
	unsigned check_timeout_ms;
	unsigned rise;                  /* consecutive successes to come up */
	unsigned fall;                  /* consecutive failures to go down */
	unsigned eject_failures;        /* consecutive connect failures seen by workers */
	char sni[CONFIG_SNI_MAX];       /* server names routed here from its sni listeners, comma-separated; "" none */
	bool sni_fallback;              /* its sni listeners' clients with no, an unknown or no TLS name come here */
	/* per-client limits (src/dataplane/client_limits.c); 0: no limit */
	unsigned client_max_conns;      /* open connections per client address, over all workers */
	unsigned client_max_rate;       /* new connections per second per client address */
	unsigned client_ipv6_prefix;    /* IPv6 clients are counted per /N (an IPv4 client per /32) */
	struct slb_cidr client_allow[CONFIG_MAX_CLIENT_CIDRS]; /* client_acl.h: longest prefix wins */
	unsigned n_client_allow;        /* 0: a client no rule names is let in; else it is reset */
	struct slb_cidr client_deny[CONFIG_MAX_CLIENT_CIDRS];
	unsigned n_client_deny;
	bool retired;                   /* removed by a reload: no listener and no backend, kept at
					 * its index while its connections drain (service_align.h) */
};

/* Whether service s limits its clients at all (any per-client limit, allow or deny rule):
 * then workers learn each client's address at accept. */
static inline bool service_limits_clients(const struct service_config *s)
{
	return s->client_max_conns || s->client_max_rate || s->n_client_allow || s->n_client_deny;
}

struct slb_config {
	struct slb_addr listen[CONFIG_MAX_LISTEN]; /* where clients connect, no two equal */
	unsigned n_listen;         /* 1..CONFIG_MAX_LISTEN once parsed */
	uint16_t listen_service[CONFIG_MAX_LISTEN]; /* listen[i]'s index in services */
	uint64_t listen_sni[CONFIG_MAX_LISTEN]; /* 0: listen[i] routes by port alone; else it routes by
						 * TLS server name ("ADDR:PORT,sni") among the services of
						 * these bits (a listener group), listen_service[i] among them */
	struct service_config services[CONFIG_MAX_SERVICES]; /* [0]: "default" */
	unsigned n_services;       /* 1 + the [service NAME] sections */
	struct config_backend backends[CONFIG_MAX_STATIC_BACKENDS];
	unsigned n_backends;
	unsigned workers;          /* 0 on input means one per online CPU */
	bool pin;                  /* worker i on CPU i mod online CPUs */
	enum relay_mode relay;
	unsigned resolve_interval_ms; /* backend host names are looked up again this often */
	unsigned max_conns;        /* whole process; 0 on input means derived from RLIMIT_NOFILE */
	unsigned pipes_per_worker; /* not a flag: derived from RLIMIT_NOFILE at start (0: no splicing) */
	unsigned drain_timeout_ms;
	unsigned ready_grace_ms;   /* SIGTERM: /ready answers 503 this long before accepting stops */
	int log_level;
	bool accept_proxy;              /* clients start with a PROXY header (slb behind a balancer) */
	unsigned proxy_timeout_ms;      /* for that header to arrive whole */
	unsigned sni_timeout_ms;        /* for a client of an sni listener to send its whole ClientHello */
	char access_log[CONFIG_FILE_MAX]; /* "": off; "-": stdout */
	enum access_log_format access_log_format;

	/* health (heartbeats, checks, admin) */
	bool has_heartbeat_listen;
	struct slb_addr heartbeat_listen;
	unsigned heartbeat_interval_ms; /* what slb asks backends to send */
	unsigned heartbeat_timeout_ms;  /* silence after which a backend is down */
	unsigned legacy_heartbeat_timeout_ms; /* the same for a "heartbeat:<port>" peer */
	char heartbeat_key_file[CONFIG_FILE_MAX]; /* "": heartbeat lines are not authenticated */
	struct slb_cidr heartbeat_allow[CONFIG_MAX_HB_ALLOW]; /* peers that may connect */
	unsigned n_heartbeat_allow;     /* 0: any peer may connect */
	unsigned heartbeat_max_backends; /* heartbeat entries in the table, closed ones included */
	unsigned max_backends;     /* --max-backends: ids in the table; 0: config_max_backends derives it */
	bool outlier_detection;         /* eject backends much slower than the others (gray.h) */
	unsigned outlier_factor_pct;    /* --outlier-factor x 100: slower than this x the median */
	unsigned outlier_min_requests;  /* samples a figure needs before it is judged */
	unsigned outlier_max_ejected_pct; /* never more of the fleet ejected as outliers */
	unsigned outlier_base_ejection_ms; /* first ejection; doubled for repeat offenders */
	unsigned heartbeat_phi_x100;    /* --heartbeat-phi x 100: suspicion that takes a backend out; 0: off */
	bool has_admin;
	struct slb_addr admin;
	bool admin_public;              /* --admin may be an address other hosts can reach */
	char admin_token_file[CONFIG_FILE_MAX]; /* "": only loopback peers may change anything */
	char user[CONFIG_USER_MAX];     /* "": keep running as the user that started slb */
	char control_socket[CONFIG_SOCKET_MAX]; /* "": no control socket (no binary upgrade from here) */
	char takeover[CONFIG_SOCKET_MAX]; /* "": bind the ports; else take them over from the slb there */

	char config_file[CONFIG_FILE_MAX]; /* --config: "" when none */
	bool check_only;                /* --check-config: check everything, print the verdict, start nothing */
	bool check_no_bind;             /* --no-bind: --check-config leaves the ports to the running slb */
	uint64_t given;                 /* bit i: the i-th flag was given (not left at its default) */
};

/* Whether service svc is in the ,sni listener group of cfg->listen[i]: listen_sni holds the
 * group as 64 bits, so only the first 64 services can be members (parse_listen refuses the
 * others), and a shift by svc >= 64 is never made. */
static inline bool config_listen_sni_has(const struct slb_config *cfg, unsigned i, unsigned svc)
{
	return svc < 64 && (cfg->listen_sni[i] >> svc & 1);
}

/* Whether any service of cfg limits its clients (service_limits_clients): then workers share
 * a client table and accepts carry addresses, from the start on. */
static inline bool config_limits_clients(const struct slb_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_services; i++)
		if (service_limits_clients(&cfg->services[i]))
			return true;
	return false;
}

#define CONFIG_ERRORS_MAX 32
#define CONFIG_ERROR_LEN 256

/* Every error that parsing or checking found, one line each, in the order found. */
struct config_errors {
	unsigned n;                                     /* found; only the first CONFIG_ERRORS_MAX kept */
	char msg[CONFIG_ERRORS_MAX][CONFIG_ERROR_LEN];
};

/* Adds one error line (printf format, no newline). Never fails: past CONFIG_ERRORS_MAX it only
 * counts. */
void config_errors_add(struct config_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum config_result {
	CONFIG_OK = 0,
	CONFIG_HELP,    /* --help was given: print usage, exit 0 */
	CONFIG_VERSION, /* --version was given */
};

/* Fills cfg with defaults, then the keys of the config file named by --config (-c) if argv
 * has one, then the other flags in argv. A flag replaces what the file gave its key: the
 * value of a single-valued one, the whole list of a repeatable one (listen, backend,
 * heartbeat-allow, client-allow, client-deny). Returns CONFIG_OK, CONFIG_HELP, CONFIG_VERSION (those two before reading
 * anything), or -EINVAL with every error added to errs (exit status 2). Does not validate
 * combinations: see config_validate_all. */
int config_parse_args(struct slb_config *cfg, int argc, char **argv, struct config_errors *errs);

/* config_parse_args with the first error in err. */
int config_parse(struct slb_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Fills cfg with defaults, then the keys of the config file at path ("key = value" lines, the
 * keys being the long flag names; see config_print_usage), and records path in
 * cfg->config_file. Reads nothing but path and touches nothing but *cfg and *errs, so a reload
 * can load into a fresh struct and validate it while the running one stays as it is. Returns
 * 0, or -EINVAL (bad lines) or -errno (path unreadable) with every error, each naming the
 * file, line and key, added to errs; cfg then holds what did parse. Does not validate
 * combinations: see config_validate_all. */
int config_load(const char *path, struct slb_config *cfg, struct config_errors *errs);

/* config_load from an open stream (not closed); name is what errors call the file. */
int config_load_stream(FILE *f, const char *name, struct slb_config *cfg, struct config_errors *errs);

/* Checks what no single flag can: at least one backend or a heartbeat port, timeouts that
 * make sense together, heartbeat flags only with a heartbeat port, listen, heartbeat and
 * admin addresses that differ, an admin address on loopback unless --admin-public, and no
 * backend that is one of slb's own addresses (config_served_by; a wildcard one is tested
 * with addr_is_local, one socket and bind per such backend). Returns 0 or -EINVAL with every
 * failed check added to errs. */
int config_validate_all(const struct slb_config *cfg, struct config_errors *errs);

/* Backends the table has room for at once (static, every address of a DNS name, registered by
 * heartbeat): --max-backends when given, else the static entries with CONFIG_HOST_ADDRS for a
 * host name, plus --heartbeat-max-backends with a heartbeat port, at least
 * CONFIG_MAX_BACKENDS_DEFAULT and at most SNAP_ID_MAX. Sizes the id space (snap_id_limit). */
unsigned config_max_backends(const struct slb_config *cfg);

/* config_validate_all with the first error in err. */
int config_validate(const struct slb_config *cfg, char *err, size_t errlen);

/* Whether a is an address slb itself serves with cfg: its listener, admin endpoint or
 * heartbeat port, equal or reached through a wildcard one (is_local decides whether a is
 * assigned to this host; see addr_find_served). Returns NULL, or the fixed reason
 * "address is slb's own listener" (admin endpoint, heartbeat port), fit to send to a peer. */
const char *config_served_by(const struct slb_config *cfg, const struct slb_addr *a, addr_local_fn is_local);

/* Parses "ADDR:PORT[,weight=N][,heartbeat=allow|deny][,send-proxy=v1|v2][,name=NAME]" (options in any
 * order, each at most once). Refuses an address that is not a single unicast host, naming its
 * kind, and a name that config_name_problem refuses. Returns 0 or -EINVAL with err filled; out
 * is fully written either way. */
int config_parse_backend(const char *text, struct config_backend *out, char *err, size_t errlen);

/* The address part of a --backend, text[0..len): a literal one (addr_parse_n) into out->addr,
 * or a host name ("web.internal:8080": RFC 1123 labels, at least one letter, not localhost)
 * into out->host and out->port, left for the resolver. Returns 0 or -EINVAL with err filled. */
int config_parse_backend_addr(const char *text, size_t len, struct config_backend *out, char *err, size_t errlen);

/* Whether a and b are the same --backend: the same host name (any case) and port, or the same
 * literal address. */
bool config_backend_same(const struct config_backend *a, const struct config_backend *b);

/* Why name cannot name a static backend, or NULL when it can: 1 to CONFIG_NAME_MAX - 1 of
 * [A-Za-z0-9._-], starting with a letter or a digit (no "-x" that reads as a flag, no "." or
 * ".." that a URL path would fold), and not digits alone (the runtime API reads those as an
 * id). Such a name needs no escaping in a URL, a log line, JSON or a Prometheus label. */
const char *config_name_problem(const char *name);

/* The backend of list[0..n) named name, or NULL (also for ""). Names are unique within one
 * list; parse_backend refuses a second one within a service (two services may share a name). */
const struct config_backend *config_backend_named(const struct config_backend *list, unsigned n, const char *name);

/* Parses a check as --check takes it: "tcp", "http:/PATH" (printable ASCII, shorter than
 * CONFIG_PATH_MAX) or "none". Returns 0 with *kind (and path for http) set, or -EINVAL with
 * *why a fixed reason and nothing changed. */
int config_parse_check(const char *val, enum check_kind *kind, char path[CONFIG_PATH_MAX], const char **why);

/* What a reload (SIGHUP) does with a flag's new value: a column of the flag table, so the
 * flags that wait for an upgrade are named in one place. */
enum config_reload {
	CONFIG_RELOAD_APPLIES = 0,   /* in force at once */
	CONFIG_RELOAD_WAITS,         /* needs new sockets, threads or memory sized at start: the
				      * running value stays until the next upgrade or restart */
	CONFIG_RELOAD_WAITS_DERIVED, /* waits, and 0 stands for a value derived at start
				      * (workers, max-conns): only a value other than 0 is a change */
};

/* Where a flag keeps its value in struct slb_config, as a reload compares and keeps it. */
struct config_field {
	const char *name;          /* the long flag, without "--" */
	enum config_reload reload;
	size_t offset, size;       /* the value */
	size_t count;              /* a repeatable flag's count (an unsigned); 0: none */
	size_t has;                /* an optional address's "given" bool; 0: none */
	unsigned scale;            /* a number: 1 whole, 100 held in hundredths; 0: not a number */
	bool cli_only;             /* not a key of the config file; a reload reads it again as given */
	bool per_service;          /* a key of [service NAME] sections; offset is then the default's */
};

/* How many flags there are: --help's lines, the config file's keys and the command-line-only
 * flags, each once. */
unsigned config_flag_count(void);

/* The i-th flag's name and field, in --help's order (i < config_flag_count()). Returns true
 * with out filled, or false with only out->name and out->cli_only filled for a flag without a
 * field of its own (help, version, and no-pin, which sets pin's), and for i past the last (name
 * NULL). */
bool config_flag_field(unsigned i, struct config_field *out);

/* Prints every flag with its argument, default and help, from the same table, and how the
 * flags are written as keys of a config file. */
void config_print_usage(FILE *out, const char *prog);

/* The index of the service named name in cfg->services, or -1. */
int config_service_find(const struct slb_config *cfg, const char *name);

/* The index of listen address a in cfg->listen (equal, not through a wildcard), or -1. */
int config_listen_find(const struct slb_config *cfg, const struct slb_addr *a);

/* The name of service i, or "default" for an index cfg does not have. */
const char *config_service_name(const struct slb_config *cfg, unsigned i);

/* Whether name is a service name: 1-32 characters of [a-z0-9_-]. */
bool config_service_name_ok(const char *name);

/* Whether service i has a listener, so that it is served (the default service has none when
 * a file gives only [service NAME] sections and no flat backend or listen). */
bool config_service_served(const struct slb_config *cfg, unsigned i);

const char *relay_mode_name(enum relay_mode m);
const char *balance_algo_name(enum balance_algo b);

#define CONFIG_HASH_KEY_BYTES 16 /* crypto_shorthash_KEYBYTES (SipHash-2-4) */

/* The SipHash key that --hash-seed stands for. Both planes derive it here (health hashes the
 * backends' addresses, workers the clients'), so the same seed always means the same key.
 * The fixed tail only keeps seed 0 from being an all-zero key. */
static inline void config_hash_key(const struct service_config *svc, unsigned char key[CONFIG_HASH_KEY_BYTES])
{
	static const unsigned char tail[8] = { 's', 'l', 'b', '-', 'h', 'a', 's', 'h' };

	for (unsigned i = 0; i < 8; i++)
		key[i] = (unsigned char)((unsigned long long)svc->hash_seed >> (8 * i));
	for (unsigned i = 0; i < 8; i++)
		key[8 + i] = tail[i];
}

#endif
