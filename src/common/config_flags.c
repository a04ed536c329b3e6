/* config_flags: slb's flags, defined once in flag_table[] (name, argument, parser, field,
 * default, help), with the value parsers the table names. It is the room that both the
 * command line (config.c) and the config file (config_file.c) read through, and it calls
 * neither. Defaults are applied by running each flag's own parser on its default text, so the
 * help output and the behaviour cannot disagree. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_flags.h"
#include "slb/common/config_sni.h"
#include "slb/common/log.h"
#include "slb/common/snapshot.h"

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

/* Whether f's value lives in struct service_config (the lists of listeners and backends live
 * in slb_config, each entry tagged with its service; the client rules in the service). */
static bool in_service(const struct flag *f)
{
	return f->per_service && (!f->count || f->list_in_service);
}

static unsigned *list_count(struct slb_config *cfg, unsigned svc, const struct flag *f)
{
	return (unsigned *)(f->list_in_service ? (char *)&cfg->services[svc] + f->count : (char *)cfg + f->count);
}

static void *field(struct slb_config *cfg, unsigned svc, const struct flag *f)
{
	return in_service(f) ? (char *)&cfg->services[svc] + f->offset : (char *)cfg + f->offset;
}

/* The reason alone: the caller names the flag or the file, line and key around it. */
static int flag_error(char *err, size_t errlen, const struct flag *f, const char *val, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

static int parse_uint(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	char why[64];

	if (parse_uint_text(val, f->min, f->max, field(cfg, svc, f)) == 0)
		return 0;
	snprintf(why, sizeof(why), "expected a whole number from %u to %u", f->min, f->max);
	return flag_error(err, errlen, f, val, why);
}

/* "3", "2.5", "8.25": a decimal with at most two places, in hundredths. */
static int hundredths_text(const char *val, unsigned *out)
{
	const char *dot = val ? strchr(val, '.') : NULL;
	size_t n = dot ? (size_t)(dot - val) : 0, places = dot ? strlen(dot + 1) : 0;
	unsigned whole;
	char head[12];

	if (!dot) {
		if (parse_uint_text(val, 0, UINT32_MAX / 100, &whole))
			return -EINVAL;
		*out = whole * 100;
		return 0;
	}
	if (n == 0 || n >= sizeof(head) || places < 1 || places > 2 || !isdigit((unsigned char)dot[1]) ||
	    (places == 2 && !isdigit((unsigned char)dot[2])))
		return -EINVAL;
	memcpy(head, val, n);
	head[n] = '\0';
	if (parse_uint_text(head, 0, UINT32_MAX / 100, &whole))
		return -EINVAL;
	*out = whole * 100 + (unsigned)(dot[1] - '0') * 10 + (places == 2 ? (unsigned)(dot[2] - '0') : 0);
	return 0;
}

static int parse_hundredths(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
			    char *err, size_t errlen)
{
	unsigned v;
	char why[80];

	if (hundredths_text(val, &v) == 0 && v >= f->min && v <= f->max) {
		*(unsigned *)field(cfg, svc, f) = v;
		return 0;
	}
	snprintf(why, sizeof(why), "expected a number from %u.%u to %u, with at most two decimals", f->min / 100,
		 f->min % 100 / 10, f->max / 100);
	return flag_error(err, errlen, f, val, why);
}

static int parse_address(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	char why[160];

	if (addr_parse(val, field(cfg, svc, f), why, sizeof(why)) == 0)
		return 0;
	return flag_error(err, errlen, f, val, why);
}

/* An optional address says it was given in its has_ field (f->has). */
static int parse_optional_address(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
				  char *err, size_t errlen)
{
	int ret = parse_address(cfg, svc, f, val, err, errlen);

	if (ret == 0)
		*(bool *)((char *)cfg + f->has) = true;
	return ret;
}

#define BACKEND_OPT_MAX 96 /* past the longest option, name=NAME, so that a long name is told so */

static int parse_proxy_version(const char *val, enum proxy_version *out)
{
	if (strcmp(val, "v1") == 0)
		*out = PROXY_V1;
	else if (strcmp(val, "v2") == 0)
		*out = PROXY_V2;
	else
		return -EINVAL;
	return 0;
}

static unsigned backend_option_bit(const char *opt)
{
	if (strncmp(opt, "weight=", 7) == 0)
		return 1;
	if (strncmp(opt, "heartbeat=", 10) == 0)
		return 2;
	if (strncmp(opt, "name=", 5) == 0)
		return 8;
	if (strcmp(opt, "backup") == 0)
		return 16;
	return strncmp(opt, "send-proxy=", 11) == 0 ? 4 : 0;
}

/* See config.h. */
const char *config_name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= CONFIG_NAME_MAX)
		return "a name is 1 to 63 characters";
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
		return "a name holds only letters, digits, '.', '_' and '-'";
	if (!isalnum((unsigned char)name[0]))
		return "a name starts with a letter or a digit";
	if (strspn(name, "0123456789") == len)
		return "a name of digits alone would read as a backend id";
	return NULL;
}

/* See config.h. */
const struct config_backend *config_backend_named(const struct config_backend *list, unsigned n, const char *name)
{
	for (unsigned i = 0; name[0] && i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	return NULL;
}

static int backend_name_option(const char *val, struct config_backend *out, char *err, size_t errlen)
{
	const char *problem = config_name_problem(val);

	if (problem) {
		snprintf(err, errlen, "bad name '%.64s': %s", val, problem);
		return -EINVAL;
	}
	memcpy(out->name, val, strlen(val) + 1); /* config_name_problem checked that it fits */
	return 0;
}

/* One option after the address; seen collects the ones given so far (bit 0 weight, bit 1
 * heartbeat, bit 2 send-proxy, bit 3 name, bit 4 backup), so that "weight=2,weight=3" is an error rather than a silent
 * last-wins. */
static int backend_option(const char *opt, struct config_backend *out, unsigned *seen, char *err, size_t errlen)
{
	unsigned bit = backend_option_bit(opt);

	if (bit == 0) {
		snprintf(err, errlen, "unknown backend option '%.32s' (expected weight=N, heartbeat=allow, "
			 "send-proxy=v1|v2, name=NAME or backup)", opt);
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
	if (bit == 4 && parse_proxy_version(opt + 11, &out->send_proxy)) {
		snprintf(err, errlen, "send-proxy must be v1 or v2");
		return -EINVAL;
	}
	if (bit == 8)
		return backend_name_option(opt + 5, out, err, errlen);
	if (bit == 16)
		out->backup = true;
	if (bit == 2)
		out->heartbeat_allow = opt[10] == 'a';
	return 0;
}

/* Every address of a host name is a backend of its own, and a name is one backend's handle:
 * those backends are known by their host name (their origin) instead. */
static int backend_host_options(const struct config_backend *out, char *err, size_t errlen)
{
	if (!out->host[0] || !out->name[0])
		return 0;
	snprintf(err, errlen, "name= would be shared by every address of '%.64s': its backends go by it", out->host);
	return -EINVAL;
}

int config_parse_backend(const char *text, struct config_backend *out, char *err, size_t errlen)
{
	const char *opt = strchr(text, ','), *problem;
	size_t addr_len = opt ? (size_t)(opt - text) : strlen(text);
	unsigned seen = 0;
	char why[160];

	memset(out, 0, sizeof(*out));
	if (config_parse_backend_addr(text, addr_len, out, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	problem = out->host[0] ? NULL : addr_host_problem(&out->addr);
	if (problem) {
		snprintf(err, errlen, "%s", problem);
		return -EINVAL;
	}
	out->weight = 1;
	out->send_proxy = PROXY_NONE;
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
	return backend_host_options(out, err, errlen);
}

static bool backend_named_in(const struct slb_config *cfg, unsigned svc, const char *name)
{
	for (unsigned i = 0; name[0] && i < cfg->n_backends; i++)
		if (cfg->backends[i].service == svc && strcmp(cfg->backends[i].name, name) == 0)
			return true;
	return false;
}

static int parse_backend(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	struct config_backend *b = &cfg->backends[cfg->n_backends];
	char why[200];

	if (cfg->n_backends >= CONFIG_MAX_STATIC_BACKENDS)
		return flag_error(err, errlen, f, val, "too many backends");
	if (config_parse_backend(val, b, why, sizeof(why)))
		return flag_error(err, errlen, f, val, why);
	b->service = svc;
	/* one address (or host name and port) is one backend of one service: the table, the
	 * heartbeat and the API find a backend by its address */
	for (unsigned i = 0; i < cfg->n_backends; i++) {
		if (!config_backend_same(&cfg->backends[i], b))
			continue;
		if (cfg->backends[i].service == svc)
			return flag_error(err, errlen, f, val, "backend given twice");
		snprintf(why, sizeof(why), "backend of service %s already", cfg->services[cfg->backends[i].service].name);
		return flag_error(err, errlen, f, val, why);
	}
	/* names are unique within a service: the admin API takes a name for an address, and
	 * /services/NAME/backends/{name} tells two services' names apart */
	if (backend_named_in(cfg, svc, b->name))
		return flag_error(err, errlen, f, val, "name given to another backend of this service");
	cfg->n_backends++;
	return 0;
}

/* An address that two services both listen on by server name is one listener of their group:
 * the entry stays one (one socket), and each service is a bit of listen_sni. */
static int listen_join(struct slb_config *cfg, unsigned svc, unsigned i, bool sni, const struct flag *f,
		       const char *val, char *err, size_t errlen)
{
	char why[160];

	if (cfg->listen_service[i] == svc || config_listen_sni_has(cfg, i, svc))
		return flag_error(err, errlen, f, val, "address given twice");
	if (sni && cfg->listen_sni[i]) {
		cfg->listen_sni[i] |= 1ull << svc;
		return 0;
	}
	snprintf(why, sizeof(why), "address used by service %s already%s", cfg->services[cfg->listen_service[i]].name,
		 sni || cfg->listen_sni[i] ? " (services share an address only when each listens on it with ,sni)" : "");
	return flag_error(err, errlen, f, val, why);
}

static int parse_listen(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	struct slb_addr *a = &cfg->listen[cfg->n_listen];
	size_t len = strlen(val);
	char why[160];
	bool sni;

	if (cfg->n_listen >= CONFIG_MAX_LISTEN)
		return flag_error(err, errlen, f, val, "too many addresses (at most 1024 over all services)");
	if (config_sni_listen_option(val, &len, &sni, why, sizeof(why)) || addr_parse_n(val, len, a, why, sizeof(why)))
		return flag_error(err, errlen, f, val, why);
	if (sni && svc >= 64) /* listen_sni holds a listener group's services as 64 bits */
		return flag_error(err, errlen, f, val, "a ,sni listener's services must be among the first 64");
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (addr_equal(&cfg->listen[i], a))
			return listen_join(cfg, svc, i, sni, f, val, err, errlen);
	cfg->listen_sni[cfg->n_listen] = sni ? 1ull << svc : 0;
	cfg->listen_service[cfg->n_listen++] = (uint16_t)svc;
	return 0;
}

static int parse_allow(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	char why[160];

	if (cfg->n_heartbeat_allow >= CONFIG_MAX_HB_ALLOW)
		return flag_error(err, errlen, f, val, "too many networks (at most 32)");
	if (addr_parse_cidr(val, &cfg->heartbeat_allow[cfg->n_heartbeat_allow], why, sizeof(why)))
		return flag_error(err, errlen, f, val, why);
	cfg->n_heartbeat_allow++;
	return 0;
}

/* --client-allow, --client-deny: one more network in service svc's list. */
static int parse_client_cidr(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
			     char *err, size_t errlen)
{
	unsigned *n = list_count(cfg, svc, f);
	struct slb_cidr *list = field(cfg, svc, f);
	char why[160];

	if (*n >= CONFIG_MAX_CLIENT_CIDRS)
		return flag_error(err, errlen, f, val, "too many networks (at most 32 per service)");
	if (addr_parse_cidr(val, &list[*n], why, sizeof(why)))
		return flag_error(err, errlen, f, val, why);
	(*n)++;
	return 0;
}

/* A path or a user name: one printable word that fits the field (f->max bytes with its NUL). */
static int parse_word(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	size_t len = strlen(val);

	if (len == 0 || len >= f->max)
		return flag_error(err, errlen, f, val, "empty or too long");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)val[i] < 0x20 || val[i] == 0x7f)
			return flag_error(err, errlen, f, val, "control characters are not allowed");
	memcpy(field(cfg, svc, f), val, len + 1);
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
static const char *const balance_names[] = { "roundrobin", "leastconn", "p2c", "maglev" };
static const char *const hash_key_names[] = { "src", "src-port" };
#define N_BALANCE (sizeof(balance_names) / sizeof(balance_names[0]))

static int parse_relay(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	int v = parse_choice(val, relay_names, 3);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected splice, copy or auto");
	cfg->relay = (enum relay_mode)v;
	return 0;
}

static int parse_balance(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	int v = parse_choice(val, balance_names, N_BALANCE);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected roundrobin, leastconn, p2c or maglev");
	cfg->services[svc].balance = (enum balance_algo)v;
	return 0;
}

static int parse_hash_key(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	int v = parse_choice(val, hash_key_names, 2);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected src or src-port");
	cfg->services[svc].hash_key = (enum hash_key)v;
	return 0;
}

static const char *const retry_unanswered_names[] = { "off", "http", "any" };
static const char *const no_backend_names[] = { "close", "reset", "http-503" };

static int parse_retry_unanswered(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
				  char *err, size_t errlen)
{
	int v = parse_choice(val, retry_unanswered_names, 3);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected off, http or any");
	cfg->services[svc].retry_unanswered = (enum retry_unanswered)v;
	return 0;
}

static int parse_no_backend(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
			    char *err, size_t errlen)
{
	int v = parse_choice(val, no_backend_names, 3);

	if (v < 0)
		return flag_error(err, errlen, f, val, "expected close, reset or http-503");
	cfg->services[svc].no_backend = (enum no_backend_action)v;
	return 0;
}

static int parse_log_level(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
			   char *err, size_t errlen)
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

static int parse_check(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	struct service_config *s = &cfg->services[svc];
	const char *why;

	if (config_parse_check(val, &s->check, s->check_path, &why))
		return flag_error(err, errlen, f, val, why);
	return 0;
}

static int parse_send_proxy(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
			    char *err, size_t errlen)
{
	if (strcmp(val, "off") == 0) {
		cfg->services[svc].send_proxy = PROXY_NONE;
		return 0;
	}
	if (parse_proxy_version(val, &cfg->services[svc].send_proxy))
		return flag_error(err, errlen, f, val, "expected v1, v2 or off");
	return 0;
}

static int parse_access_log_format(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
				   char *err, size_t errlen)
{
	if (strcmp(val, "text") == 0)
		cfg->access_log_format = ACCESS_LOG_TEXT;
	else if (strcmp(val, "json") == 0)
		cfg->access_log_format = ACCESS_LOG_JSON;
	else
		return flag_error(err, errlen, f, val, "expected text or json");
	return 0;
}

/* A flag without argument: on the command line (val NULL) it does what its name says; in a
 * config file its value says whether it does (pin = no is --no-pin). */
static int set_bool(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, bool on,
		    char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	bool v = true;

	if (val) {
		if (parse_choice(val, yes, 4) >= 0)
			v = true;
		else if (parse_choice(val, no, 4) >= 0)
			v = false;
		else
			return flag_error(err, errlen, f, val, "expected yes or no (or true/false, on/off, 1/0)");
	}
	*(bool *)field(cfg, svc, f) = v ? on : !on;
	return 0;
}

static int set_true(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	return set_bool(cfg, svc, f, val, true, err, errlen);
}

static int set_false(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err, size_t errlen)
{
	return set_bool(cfg, svc, f, val, false, err, errlen);
}

#define F(member) offsetof(struct slb_config, member)
#define FIELD(member) .offset = F(member), .size = sizeof(((struct slb_config *)0)->member)
/* a key of [service NAME] sections, kept in struct service_config */
#define SERVICE_FIELD(member)                                                                              \
	.offset = offsetof(struct service_config, member), .size = sizeof(((struct service_config *)0)->member), \
	.per_service = true
#define DAY_MS 86400000u
/* a repeatable key of [service NAME] sections whose list is in struct service_config */
#define SERVICE_LIST(member, n)                                                                              \
	SERVICE_FIELD(member), .count = offsetof(struct service_config, n), .list_in_service = true

static const struct flag flag_table[] = {
	{ .name = "listen", .arg = "ADDR:PORT", .parse = parse_listen, FIELD(listen), .count = F(n_listen),
	  .def_help = "*:8080", .per_service = true,
	  .help = "address clients connect to (IPv4, [IPv6]:PORT, localhost or *); repeat for more (at most 1024 in all); "
		  "a reload binds new ones and closes removed ones. ADDR:PORT,sni routes by the TLS server name "
		  "instead: services that each listen on it with ,sni share it, and each client goes to the one "
		  "whose --sni names its ClientHello's server name" },
	{ .name = "sni", .arg = "NAME[,NAME...]", .parse = config_sni_parse_names, SERVICE_FIELD(sni),
	  .max = CONFIG_SNI_MAX, .def_help = "none", .reload = CONFIG_RELOAD_WAITS,
	  .help = "TLS server names that this service's ADDR:PORT,sni listeners send here: exact names and "
		  "*.domain wildcards, any case, the longest match wins (TLS passthrough: slb does not decrypt)" },
	{ .name = "sni-fallback", .parse = set_true, SERVICE_FIELD(sni_fallback), .reload = CONFIG_RELOAD_WAITS,
	  .help = "this service takes its ADDR:PORT,sni listeners' clients that send no server name, one no "
		  "service names, or no TLS at all (at most one per address; without one they are closed)" },
	{ .name = "backend", .arg = "ADDR:PORT[,OPTION...]", .parse = parse_backend,
	  FIELD(backends), .count = F(n_backends), .def_help = "none", .per_service = true,
	  .help = "a static backend (ADDR may be a host name, resolved every --resolve-interval); repeat for more. "
		  "Options: weight=N (1-256, default 1); heartbeat=allow (a "
		  "heartbeat session may attach to it); send-proxy=v1|v2 (this backend gets a PROXY header); "
		  "name=NAME (1-63 of A-Z a-z 0-9 . _ -, unique; the admin API and slb-ctl take it for the "
		  "address); backup (takes traffic only while no other backend of its service is up)" },
	{ .name = "workers", .arg = "N", .parse = parse_uint, FIELD(workers), .max = CONFIG_MAX_WORKERS,
	  .def = "0", .def_help = "online CPUs",
	  .reload = CONFIG_RELOAD_WAITS_DERIVED,
	  .help = "worker threads, each with its own listeners and io_uring (0: one per online CPU)" },
	{ .name = "pin", .parse = set_true, FIELD(pin), .def = "yes", .def_help = "on",
	  .reload = CONFIG_RELOAD_WAITS,
	  .help = "pin worker i to CPU i mod online CPUs" },
	{ .name = "no-pin", .parse = set_false, FIELD(pin), .reload = CONFIG_RELOAD_WAITS,
	  .help = "let the scheduler place workers" },
	{ .name = "relay", .arg = "MODE", .parse = parse_relay, FIELD(relay), .def = "auto",
	  .reload = CONFIG_RELOAD_WAITS,
	  .help = "splice (kernel pipes), copy (buffers) or auto (copy, then splice for bulk transfers)" },
	{ .name = "balance", .arg = "ALGO", .parse = parse_balance, SERVICE_FIELD(balance), .def = "roundrobin",
	  .help = "roundrobin (weighted), leastconn (per worker), p2c (power of two choices over all workers' "
		  "connections and reported load) or maglev (consistent hash of the client address)" },
	{ .name = "hash-key", .arg = "KEY", .parse = parse_hash_key, SERVICE_FIELD(hash_key), .def = "src",
	  .help = "what maglev hashes: src (client IP) or src-port (client IP and port)" },
	{ .name = "hash-seed", .arg = "N", .parse = parse_uint, SERVICE_FIELD(hash_seed), .max = UINT32_MAX,
	  .def = "0", .help = "maglev hash seed: slb instances with the same backends, flags and seed pick the "
			      "same backend for a client" },
	{ .name = "slow-start", .arg = "MS", .parse = parse_uint, SERVICE_FIELD(slow_start_ms), .max = DAY_MS,
	  .def = "0", .def_help = "0 (off)",
	  .help = "a backend that comes up takes a share ramping from ~10% of its weight to all of it over MS; "
		  "maglev ignores the ramp (it would move clients between backends)" },
	/* 2000, not 1000: Linux retransmits a lost SYN after 1 s, and a 1 s timeout cancelled
	 * exactly the connects that the retransmission was about to complete (5% loss then
	 * ejected healthy backends: tests/integration/test_faults_network.c). */
	{ .name = "connect-timeout", .arg = "MS", .parse = parse_uint, SERVICE_FIELD(connect_timeout_ms), .min = 1,
	  .max = DAY_MS, .def = "2000", .help = "give up a backend connect after MS and try the next backend" },
	{ .name = "idle-timeout", .arg = "MS", .parse = parse_uint, SERVICE_FIELD(idle_timeout_ms), .max = DAY_MS,
	  .def = "60000", .help = "close a connection with no bytes either way for MS (0: never)" },
	/* 10 s: a DNS change (a host replaced, a pool scaled) reaches slb within seconds, as with
	 * nginx's resolver valid= and HAProxy's hold valid, while one lookup per name per 10 s is
	 * nothing to a resolver; an address that leaves the answer drains, so nothing breaks
	 * faster for resolving more often. */
	{ .name = "resolve-interval", .arg = "MS", .parse = parse_uint, FIELD(resolve_interval_ms), .min = 100,
	  .max = DAY_MS, .def = "10000",
	  .help = "look up --backend host names again every MS (each A and AAAA record is a backend; one that "
		  "leaves the answer drains; a failed lookup keeps the last addresses)" },
	{ .name = "retries", .arg = "N", .parse = parse_uint, SERVICE_FIELD(retries), .max = CONFIG_MAX_RETRIES,
	  .def = "2", .help = "further backends tried after a failed connect, or for a replayed request" },
	{ .name = "retry-unanswered", .arg = "MODE", .parse = parse_retry_unanswered,
	  SERVICE_FIELD(retry_unanswered), .def = "off",
	  .help = "when a backend closes or resets a connection before sending a byte and slb still holds all "
		  "the client sent (one buffer), send it to another backend (up to --retries): http (one whole "
		  "GET, HEAD, OPTIONS, TRACE, PUT or DELETE request without a body), any (whatever it was) or off "
		  "(docs/faults.md: the backend may have acted on it)" },
	{ .name = "no-backend", .arg = "ACTION", .parse = parse_no_backend, SERVICE_FIELD(no_backend),
	  .def = "close",
	  .help = "what a client that no backend can take gets: close (a FIN: an empty reply), reset (a RST) "
		  "or http-503 (HTTP/1.1 503 Service Unavailable with Retry-After, then a FIN)" },
	{ .name = "max-conns", .arg = "N", .parse = parse_uint, FIELD(max_conns), .max = 1000000, .def = "0",
	  .def_help = "from ulimit -n",
	  .reload = CONFIG_RELOAD_WAITS_DERIVED,
	  .help = "open client connections over all workers; more are refused (0: from ulimit -n)" },
	{ .name = "client-max-conns", .arg = "N", .parse = parse_uint, SERVICE_FIELD(client_max_conns),
	  .max = 1000000, .def = "0", .def_help = "0 (no limit)",
	  .help = "open connections per client address (IPv6: per --client-ipv6-prefix network) over all workers; "
		  "a client past it is reset before any backend is contacted" },
	{ .name = "client-max-rate", .arg = "N", .parse = parse_uint, SERVICE_FIELD(client_max_rate),
	  .max = 1000000, .def = "0", .def_help = "0 (no limit)",
	  .help = "new connections per second per client address, a token bucket holding N/10 (at least 1); a "
		  "client past it is reset before any backend is contacted" },
	{ .name = "client-ipv6-prefix", .arg = "LEN", .parse = parse_uint, SERVICE_FIELD(client_ipv6_prefix),
	  .min = 1, .max = 128, .def = "64",
	  .help = "IPv6 clients in one /LEN network count as one client for --client-max-conns and "
		  "--client-max-rate" },
	{ .name = "client-allow", .arg = "CIDR", .parse = parse_client_cidr,
	  SERVICE_LIST(client_allow, n_client_allow), .def_help = "any client",
	  .help = "let clients of this network in; once one is given, a client no rule names is reset. The "
		  "longest prefix of --client-allow and --client-deny wins (deny on a tie); repeat for more" },
	{ .name = "client-deny", .arg = "CIDR", .parse = parse_client_cidr,
	  SERVICE_LIST(client_deny, n_client_deny), .def_help = "none",
	  .help = "reset clients of this network before any backend is contacted (unless a longer "
		  "--client-allow names them); repeat for more" },
	{ .name = "drain-timeout", .arg = "MS", .parse = parse_uint, FIELD(drain_timeout_ms), .max = DAY_MS,
	  .def = "10000", .help = "on SIGTERM/SIGINT, or once a new slb took over, stop accepting and let open "
				  "connections finish for up to MS" },
	{ .name = "send-proxy", .arg = "VERSION", .parse = parse_send_proxy, SERVICE_FIELD(send_proxy), .def = "off",
	  /* applies when the workers learn client addresses; else reload.c keeps it */
	  .help = "send every backend a PROXY protocol header (v1 text, v2 binary) with the client's address; "
		  "per backend: --backend ADDR:PORT,send-proxy=v1|v2" },
	{ .name = "accept-proxy", .parse = set_true, FIELD(accept_proxy),
	  .reload = CONFIG_RELOAD_WAITS,
	  .help = "clients start with a PROXY v1 or v2 header (slb behind another L4 balancer); its address is "
		  "the client's for balancing, logs and --send-proxy" },
	{ .name = "proxy-timeout", .arg = "MS", .parse = parse_uint, FIELD(proxy_timeout_ms), .min = 1,
	  .max = DAY_MS, .def = "3000", .help = "with --accept-proxy, close a client whose PROXY header is not whole "
						"within MS" },
	{ .name = "sni-timeout", .arg = "MS", .parse = parse_uint, FIELD(sni_timeout_ms), .min = 1, .max = DAY_MS,
	  .def = "5000", .help = "close a client of an ADDR:PORT,sni listener whose TLS ClientHello is not whole "
				 "within MS (counted in slb_worker_sni_errors_total)" },
	{ .name = "access-log", .arg = "FILE", .parse = parse_word, FIELD(access_log), .max = CONFIG_FILE_MAX,
	  .def_help = "off", .reload = CONFIG_RELOAD_WAITS,
	  .help = "one line per finished client connection, to FILE (- for stdout); SIGUSR1 reopens it" },
	{ .name = "access-log-format", .arg = "FORMAT", .parse = parse_access_log_format,
	  FIELD(access_log_format), .def = "text", .reload = CONFIG_RELOAD_WAITS,
	  .help = "text (key=value) or json (one object per line)" },
	/* 2000: a route announcer polling /ready every 200-500 ms plus a BGP withdrawal and the
	 * router's FIB update take well under a second; twice that is margin. Behind a resilient
	 * ECMP group the router keeps a draining instance's busy buckets, so there it is set to
	 * the whole drain, tens of seconds (docs/scale-out.md). */
	{ .name = "ready-grace", .arg = "MS", .parse = parse_uint, FIELD(ready_grace_ms), .max = DAY_MS,
	  .def = "2000", .help = "on SIGTERM/SIGINT with --admin, answer GET /ready 503 and keep accepting for MS "
				"before the drain, so routers withdraw this instance first (a second signal cuts it short; "
				"behind a resilient ECMP group this is the drain: docs/scale-out.md)" },
	{ .name = "log-level", .arg = "LEVEL", .parse = parse_log_level, FIELD(log_level), .def = "info",
	  .help = "error, warn, info or debug" },
	{ .name = "heartbeat-listen", .arg = "ADDR:PORT", .parse = parse_optional_address,
	  FIELD(heartbeat_listen), .def_help = "off",
	  .has = F(has_heartbeat_listen), .reload = CONFIG_RELOAD_WAITS,
	  .help = "port where backends register and send heartbeats (protocol in docs/heartbeat-protocol.md)" },
	{ .name = "heartbeat-interval", .arg = "MS", .parse = parse_uint, FIELD(heartbeat_interval_ms),
	  .min = 10, .max = DAY_MS, .def = "1000", .help = "heartbeat interval slb asks backends for" },
	{ .name = "heartbeat-timeout", .arg = "MS", .parse = parse_uint, FIELD(heartbeat_timeout_ms),
	  .min = 20, .max = DAY_MS, .def = "3000", .help = "a backend silent for MS is taken out of rotation" },
	{ .name = "legacy-heartbeat-timeout", .arg = "MS", .parse = parse_uint,
	  FIELD(legacy_heartbeat_timeout_ms), .min = 20, .max = DAY_MS, .def = "25000",
	  .help = "a backend of the original SmartLoadBalancer dialect (\"heartbeat:<port>\" lines, every 10 s) "
		  "silent for MS is taken out of rotation" },
	{ .name = "heartbeat-key-file", .arg = "FILE", .parse = parse_word, FIELD(heartbeat_key_file),
	  .max = CONFIG_FILE_MAX, .def_help = "none",
	  .reload = CONFIG_RELOAD_WAITS,
	  .help = "shared key (>= 32 bytes, mode 600): heartbeat lines must carry seq= and an HMAC-SHA256 mac=" },
	{ .name = "heartbeat-allow", .arg = "CIDR", .parse = parse_allow, FIELD(heartbeat_allow),
	  .count = F(n_heartbeat_allow), .def_help = "any peer",
	  .help = "only peers in this network may connect to the heartbeat port; repeat for more" },
	{ .name = "heartbeat-phi", .arg = "N", .parse = parse_hundredths, FIELD(heartbeat_phi_x100),
	  .min = 100, .max = 10000, .def_help = "off",
	  .help = "take a backend out once its heartbeat is so late that phi (-log10 of the chance that it "
		  "still comes, from its own recent intervals) passes N, before --heartbeat-timeout" },
	{ .name = "heartbeat-max-backends", .arg = "N", .parse = parse_uint, FIELD(heartbeat_max_backends),
	  .min = 1, .max = SNAP_ID_MAX, .def = "256",
	  .help = "backends that may register by heartbeat; further REGISTERs get ERR too many backends" },
	{ .name = "max-backends", .arg = "N", .parse = parse_uint, FIELD(max_backends),
	  .max = SNAP_ID_MAX, .def = "0",
	  .def_help = "static + heartbeat, >= 1023",
	  .reload = CONFIG_RELOAD_WAITS_DERIVED,
	  .help = "backends the table holds at once, of every kind: sizes the backend table, the ids, "
		  "the snapshot and the upgrade's leases at start (about 1.2 KiB of memory each)" },
	{ .name = "check", .arg = "KIND", .parse = parse_check, SERVICE_FIELD(check), .def = "none",
	  .help = "active check of static backends: tcp, http:/PATH (expects 2xx) or none" },
	{ .name = "check-interval", .arg = "MS", .parse = parse_uint, SERVICE_FIELD(check_interval_ms), .min = 10,
	  .max = DAY_MS, .def = "2000", .help = "time between two checks of one backend" },
	{ .name = "check-timeout", .arg = "MS", .parse = parse_uint, SERVICE_FIELD(check_timeout_ms), .min = 10,
	  .max = DAY_MS, .def = "1000",
	  .help = "a check not answered within MS has failed (shorter than --check-interval)" },
	{ .name = "rise", .arg = "N", .parse = parse_uint, SERVICE_FIELD(rise), .min = 1, .max = 100, .def = "2",
	  .help = "consecutive passed checks to bring a backend up" },
	{ .name = "fall", .arg = "N", .parse = parse_uint, SERVICE_FIELD(fall), .min = 1, .max = 100, .def = "3",
	  .help = "consecutive failed checks to take a backend down" },
	{ .name = "eject-failures", .arg = "N", .parse = parse_uint, SERVICE_FIELD(eject_failures), .min = 1,
	  .max = 1000, .def = "3", .help = "consecutive failed connects (seen by workers) that eject a backend" },
	{ .name = "outlier-detection", .parse = set_true, FIELD(outlier_detection),
	  .help = "eject a backend whose time to first byte or connect time is far above the other backends' "
		  "(docs/gray-failures.md)" },
	{ .name = "outlier-factor", .arg = "F", .parse = parse_hundredths, FIELD(outlier_factor_pct),
	  .min = 110, .max = 10000, .def = "3",
	  .help = "an outlier is slower than F times the lower median of the other live backends (both floored at 5 ms)" },
	{ .name = "outlier-min-requests", .arg = "N", .parse = parse_uint, FIELD(outlier_min_requests),
	  .min = 1, .max = 100000, .def = "20", .help = "recent requests a backend's figures need before they count" },
	{ .name = "outlier-max-ejected-percent", .arg = "P", .parse = parse_uint,
	  FIELD(outlier_max_ejected_pct), .max = 100, .def = "50",
	  .help = "never eject more than P% of the backends as outliers, whatever the figures say" },
	{ .name = "outlier-base-ejection", .arg = "MS", .parse = parse_uint, FIELD(outlier_base_ejection_ms),
	  .min = 1000, .max = DAY_MS, .def = "30000",
	  .help = "an outlier is out for MS, doubled each time it is ejected again within an hour (at most "
		  "300000 or MS); it comes back through --slow-start" },
	{ .name = "admin", .arg = "ADDR:PORT", .parse = parse_optional_address, FIELD(admin),
	  .def_help = "off",
	  .has = F(has_admin), .reload = CONFIG_RELOAD_WAITS,
	  .help = "admin endpoint: dashboard, /status, /metrics, /events and the runtime API, per service under "
		  "/services/NAME/backends/... (docs/admin-api.md); loopback unless --admin-public" },
	{ .name = "admin-public", .parse = set_true, FIELD(admin_public),
	  .reload = CONFIG_RELOAD_WAITS,
	  .help = "allow --admin on an address other hosts can reach (reads need no token)" },
	{ .name = "admin-token-file", .arg = "FILE", .parse = parse_word, FIELD(admin_token_file),
	  .max = CONFIG_FILE_MAX, .def_help = "none", .reload = CONFIG_RELOAD_WAITS,
	  .help = "token (>= 32 bytes, mode 600): changes need \"Authorization: Bearer TOKEN\" (without it, only "
		  "loopback peers may change anything)" },
	{ .name = "user", .arg = "NAME", .parse = parse_word, FIELD(user), .max = CONFIG_USER_MAX,
	  .def_help = "none", .reload = CONFIG_RELOAD_WAITS,
	  .help = "after binding every port, drop root privileges to this user (and its group)" },
	{ .name = "control-socket", .arg = "PATH", .parse = parse_word, FIELD(control_socket),
	  .max = CONFIG_SOCKET_MAX, .def_help = "off", .reload = CONFIG_RELOAD_WAITS,
	  .help = "unix socket (mode 600) through which a new slb started with --takeover PATH takes the "
		  "listening sockets over (binary upgrade)" },
	{ .name = "takeover", .arg = "PATH", .parse = parse_word, FIELD(takeover), .max = CONFIG_SOCKET_MAX,
	  .def_help = "off", .cli_only = true,
	  .help = "take the listening sockets over from the slb whose --control-socket is PATH, then tell it "
		  "to drain" },
	{ .name = "config", .short_name = 'c', .arg = "FILE", .parse = parse_word, FIELD(config_file),
	  .max = CONFIG_FILE_MAX, .def_help = "none", .cli_only = true,
	  .help = "read flags from FILE: 'key = value' lines whose keys are these flags' long names "
		  "(etc/slb.conf); flags given here override its keys" },
	{ .name = "check-config", .parse = set_true, FIELD(check_only), .cli_only = true,
	  .help = "check the flags and the config file (addresses, ranges, user, key file, ports), print "
		  "'configuration OK' or every error, exit 0 or 2; starts nothing" },
	{ .name = "no-bind", .parse = set_true, FIELD(check_no_bind), .cli_only = true,
	  .help = "with --check-config: check everything but whether the ports can be bound, which a running "
		  "slb holds (what systemctl reload runs before its SIGHUP: a reload binds nothing)" },
	{ .name = "help", .cli_only = true, .help = "show this help and exit" },
	{ .name = "version", .cli_only = true, .help = "show the version and exit" },
};

#define N_FLAGS (sizeof(flag_table) / sizeof(flag_table[0]))
_Static_assert(N_FLAGS <= CONFIG_FLAGS_MAX, "struct slb_config.given has one bit per flag");

const struct flag *config_flag_find(const char *name)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		if (strcmp(flag_table[i].name, name) == 0)
			return &flag_table[i];
	return NULL;
}

unsigned config_flag_index(const struct flag *f)
{
	return (unsigned)(f - flag_table);
}

unsigned config_flag_count(void)
{
	return N_FLAGS;
}

const struct flag *config_flag_at(unsigned i)
{
	return i < N_FLAGS ? &flag_table[i] : NULL;
}

static bool same_field(const struct flag *a, const struct flag *b)
{
	return a->offset == b->offset && in_service(a) == in_service(b);
}

/* The first flag of the table that sets f's field (pin for no-pin). */
static const struct flag *flag_field_owner(const struct flag *f)
{
	const struct flag *o = flag_table;

	while (!same_field(o, f) || !o->parse)
		o++;
	return o;
}

bool config_flag_field(unsigned i, struct config_field *out)
{
	const struct flag *f = config_flag_at(i);

	memset(out, 0, sizeof(*out));
	if (!f)
		return false;
	out->name = f->name;
	out->cli_only = f->cli_only;
	out->per_service = f->per_service;
	if (!f->parse || flag_field_owner(f) != f)
		return false;
	out->reload = f->reload;
	/* a per-service key's field here is the default service's: what the flags set */
	out->offset = in_service(f) ? offsetof(struct slb_config, services) + f->offset : f->offset;
	out->size = f->size;
	out->count = f->list_in_service ? offsetof(struct slb_config, services) + f->count : f->count;
	out->has = f->has;
	out->scale = f->parse == parse_uint ? 1 : f->parse == parse_hundredths ? 100 : 0;
	return true;
}

void config_errors_add(struct config_errors *e, const char *fmt, ...)
{
	va_list ap;

	if (e->n < CONFIG_ERRORS_MAX) {
		va_start(ap, fmt);
		vsnprintf(e->msg[e->n], sizeof(e->msg[e->n]), fmt, ap);
		va_end(ap);
	}
	e->n++;
}

/* Removes service svc's entries from the list of f (listen, backend), keeping the order of
 * the others'. */
/* Whether listen[i] stays once service svc leaves it: another service of its group still
 * listens there, and takes it over if it was svc's. */
static bool listen_leave(struct slb_config *cfg, unsigned i, unsigned svc)
{
	uint64_t rest = svc < 64 ? cfg->listen_sni[i] & ~(1ull << svc) : cfg->listen_sni[i];

	if (cfg->listen_service[i] != svc && !config_listen_sni_has(cfg, i, svc))
		return true;
	cfg->listen_sni[i] = rest;
	if (cfg->listen_service[i] == svc && rest)
		cfg->listen_service[i] = (unsigned char)__builtin_ctzll(rest);
	return rest != 0;
}

/* Removes service svc's entries from the list of f (listen, backend), keeping the order of
 * the others'. */
static void list_drop_service(struct slb_config *cfg, const struct flag *f, unsigned svc)
{
	unsigned *n = (unsigned *)((char *)cfg + f->count), kept = 0;
	bool listen = f->parse == parse_listen;

	for (unsigned i = 0; i < *n; i++) {
		if (listen ? !listen_leave(cfg, i, svc) : cfg->backends[i].service == svc)
			continue;
		if (listen) {
			cfg->listen[kept] = cfg->listen[i];
			cfg->listen_service[kept] = cfg->listen_service[i];
			cfg->listen_sni[kept] = cfg->listen_sni[i];
		} else {
			cfg->backends[kept] = cfg->backends[i];
		}
		kept++;
	}
	*n = kept;
}

static void list_reset(struct slb_config *cfg, const struct flag *f, unsigned svc)
{
	if (f->per_service && !f->list_in_service)
		list_drop_service(cfg, f, svc);
	else
		*list_count(cfg, svc, f) = 0;
}

int config_flag_apply(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, uint64_t *seen,
		      char *err, size_t errlen)
{
	unsigned i = config_flag_index(f);

	for (size_t j = 0; j < N_FLAGS && !f->count; j++) {
		if ((*seen >> j & 1) && same_field(&flag_table[j], f)) {
			snprintf(err, errlen, "%s", flag_table[j].name);
			return -EEXIST;
		}
	}
	if (f->count && !(*seen >> i & 1))
		list_reset(cfg, f, svc);
	*seen |= 1ull << i;
	cfg->given |= 1ull << i;
	return f->parse(cfg, svc, f, val, err, errlen);
}

/* Applies the defaults of the flags that are (per_service) or are not per-service keys. A
 * default that does not parse is a bug in the table above, caught by the unit tests. */
static void apply_defaults(struct slb_config *cfg, unsigned svc, bool per_service)
{
	char err[160];

	for (size_t i = 0; i < N_FLAGS; i++) {
		const struct flag *f = &flag_table[i];

		if (!f->def || f->per_service != per_service)
			continue;
		if (f->parse(cfg, svc, f, f->def, err, sizeof(err))) {
			fprintf(stderr, "slb: the default of --%s does not parse: %s\n", f->name, err);
			abort();
		}
	}
}

void config_defaults(struct slb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	apply_defaults(cfg, 0, false);
	config_add_service(cfg, "default");
}

int config_add_service(struct slb_config *cfg, const char *name)
{
	unsigned i = cfg->n_services;

	if (config_service_find(cfg, name) >= 0)
		return -EEXIST;
	if (i >= CONFIG_MAX_SERVICES)
		return -ENOSPC;
	snprintf(cfg->services[i].name, sizeof(cfg->services[i].name), "%s", name);
	cfg->n_services++;
	apply_defaults(cfg, i, true);
	return (int)i;
}

int config_service_find(const struct slb_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_services; i++)
		if (strcmp(cfg->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

int config_listen_find(const struct slb_config *cfg, const struct slb_addr *a)
{
	for (unsigned i = 0; i < cfg->n_listen; i++)
		if (addr_equal(&cfg->listen[i], a))
			return (int)i;
	return -1;
}

const char *config_service_name(const struct slb_config *cfg, unsigned i)
{
	return i < cfg->n_services ? cfg->services[i].name : "default";
}

bool config_service_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= CONFIG_SERVICE_NAME_MAX)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool service_has(const struct slb_config *cfg, unsigned svc, bool listen)
{
	unsigned n = listen ? cfg->n_listen : cfg->n_backends;

	for (unsigned i = 0; i < n; i++)
		if ((listen ? cfg->listen_service[i] : cfg->backends[i].service) == svc ||
		    (listen && config_listen_sni_has(cfg, i, svc)))
			return true;
	return false;
}

bool config_service_served(const struct slb_config *cfg, unsigned i)
{
	return service_has(cfg, i, true);
}

/* --listen's default is applied last, and only to a default service that is wanted: without
 * sections it is the whole of slb, as before services; beside them only if it has backends. */
void config_finish_services(struct slb_config *cfg)
{
	const struct flag *f = config_flag_find("listen");
	char err[160];

	if (service_has(cfg, 0, true) || (cfg->n_services > 1 && !service_has(cfg, 0, false)))
		return;
	/* taken by another service: validation then names the default service as one without a
	 * listener */
	(void)parse_listen(cfg, 0, f, "*:8080", err, sizeof(err));
}

const char *relay_mode_name(enum relay_mode m)
{
	return (unsigned)m < 3 ? relay_names[m] : "?";
}

const char *balance_algo_name(enum balance_algo b)
{
	return (unsigned)b < N_BALANCE ? balance_names[b] : "?";
}
