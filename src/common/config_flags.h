/* config_flags: the flag table as config.c (the command line), config_file.c (the config
 * file) and config_validate.c share it, so a flag and its key are one entry and cannot
 * disagree. The table and its value parsers call none of those files. Private to src/common. */
#ifndef SLB_CONFIG_FLAGS_H
#define SLB_CONFIG_FLAGS_H

#include <stddef.h>
#include <stdint.h>

#include "slb/common/config.h"

struct flag;
/* Parses val into cfg: a per-service flag into service svc (cfg->services[svc] or the lists'
 * entries tagged svc), any other flag into cfg itself (svc is then 0). */
typedef int (*flag_parser)(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val,
			   char *err, size_t errlen);

struct flag {
	const char *name;     /* the long flag, and the key in a config file */
	char short_name;      /* 0: none */
	const char *arg;      /* NULL: no argument on the command line, yes/no in a file */
	flag_parser parse;    /* NULL: handled by config_parse_args itself (help, version) */
	size_t offset, size;  /* field in struct slb_config, or in struct service_config if per_service */
	size_t count;         /* repeatable flags: their count's field; 0: single-valued */
	bool list_in_service; /* repeatable and per_service, list and count in struct service_config */
	size_t has;           /* optional addresses: their has_ field, set when given; 0: none */
	enum config_reload reload; /* what a reload does with a new value */
	unsigned min, max;    /* range for numbers; max is the buffer size for strings */
	const char *def;      /* parsed at start; NULL: no default */
	const char *def_help; /* how --help shows the default when def does not say it */
	const char *help;
	bool cli_only;        /* not a key of the config file */
	bool per_service;     /* a key of [service NAME] sections; as a flat key or flag, default's */
};

/* The parser of the sni key (config_sni.c): a comma-separated list of server names, each
 * checked by sni_name_check, kept as written in service svc. */
int config_sni_parse_names(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, char *err,
			   size_t errlen);

#define CONFIG_FLAGS_MAX 64 /* one bit each in slb_config.given */

/* The i-th flag of the table, in --help's order, or NULL past the last. */
const struct flag *config_flag_at(unsigned i);

/* The flag named name (without "--"), or NULL. */
const struct flag *config_flag_find(const char *name);

/* f's index in the table: its bit in slb_config.given and in a source's "seen" mask. */
unsigned config_flag_index(const struct flag *f);

/* Zeroes cfg and applies every default, by running each flag's parser on its default text;
 * cfg then has one service, "default", without listeners (config_finish_services). */
void config_defaults(struct slb_config *cfg);

/* Adds a service named name (config_service_name_ok) with every per-service default. Returns
 * its index, -EEXIST when cfg has one of that name, or -ENOSPC past CONFIG_MAX_SERVICES. */
int config_add_service(struct slb_config *cfg, const char *name);

/* After every source: the default service listens on --listen's default when nothing else
 * would be served (no [service NAME] section) or it has static backends but no listener. */
void config_finish_services(struct slb_config *cfg);

/* One occurrence of f in one source (the command line, or one config file), for service svc
 * (0 for a flag that is not per_service), whose earlier occurrences in that source and service
 * are the bits of *seen. The first occurrence of a repeatable flag replaces what that service
 * had (its default, or the list an earlier source gave). A second occurrence of a
 * single-valued flag, or of another flag that sets the same field (pin, no-pin), is refused.
 * val is NULL for a flag without argument on the command line. Returns 0, -EINVAL with the
 * parser's reason (no flag name) in err, or -EEXIST with the earlier flag's name in err. */
int config_flag_apply(struct slb_config *cfg, unsigned svc, const struct flag *f, const char *val, uint64_t *seen,
		      char *err, size_t errlen);

#endif
