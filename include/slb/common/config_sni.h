/* config_sni: routing by TLS server name in the configuration: `listen = ADDR:PORT,sni` in
 * several services makes one listener group (one socket, whose clients go to the service that
 * names their ClientHello's server name), `sni = NAME,...` says which names go to a service
 * and `sni-fallback = yes` which member of a group takes the rest (no server name, a name
 * nobody claims, a client that is not speaking TLS). The parsing lives in config_flags.c's
 * table (parse_listen, config_sni_parse_names); this module checks the combinations and
 * builds the name map a worker reads (slb/common/sni_map.h). */
#ifndef SLB_CONFIG_SNI_H
#define SLB_CONFIG_SNI_H

#include <stdbool.h>
#include <stddef.h>

#include "slb/common/config.h"

struct sni_map;

/* Strips a trailing ",sni" from text[0..*len) (the listen value), setting *sni. Returns 0, or
 * -EINVAL with err filled for another option after a comma. */
int config_sni_listen_option(const char *text, size_t *len, bool *sni, char *err, size_t errlen);

/* Checks what no single key can: a service with sni= or sni-fallback = yes has an sni
 * listener; every member of a group has names or is its fallback; at most one fallback per
 * group; a name claimed by two services of one group (in any case) is refused. Adds one line
 * per problem to errs; returns 0 or -EINVAL. */
int config_sni_validate(const struct slb_config *cfg, struct config_errors *errs);

/* Builds the map of the group of cfg->listen[i] (cfg->listen_sni[i] != 0): every member's
 * names to its service index, and its fallback member (or none). Returns 0 with *out set (the
 * caller frees it with sni_map_free), -EINVAL with err filled for names validation refuses, or
 * -ENOMEM. */
int config_sni_build(const struct slb_config *cfg, unsigned i, struct sni_map **out, char *err, size_t errlen);

/* Whether a and b route by server name alike: the same ,sni addresses, each with the same
 * member services (by name), each member with the same sni list (as written) and fallback.
 * Indices may differ (a reload aligns services by name). */
bool config_sni_same(const struct slb_config *a, const struct slb_config *b);

/* Whether any listener of cfg routes by server name. */
bool config_sni_any(const struct slb_config *cfg);

#endif
