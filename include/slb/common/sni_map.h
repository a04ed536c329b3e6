/* sni_map: which service a TLS server name goes to. Built once from the configuration's
 * `sni = ...` lists (off the hot path, where it may allocate and explain a refusal), then
 * read by workers with no allocation, no lock and no write. Lives in common because the
 * configuration's validation checks names with it (the config engineer's pass) and the data
 * plane reads it.
 *
 * Names. An exact name (api.example.com) matches itself. A wildcard has one leading `*.`
 * label (*.api.example.com) and matches any name that ends in .api.example.com with at least
 * one label before it (x.api.example.com, and y.x.api.example.com too, as nginx's
 * server_name *.example.org does), never api.example.com itself. Matching ignores ASCII case.
 * The longest match wins: an exact name over any wildcard, *.api.example.com over
 * *.example.com; a name nothing matches goes to the fallback, if there is one. */
#ifndef SLB_SNI_MAP_H
#define SLB_SNI_MAP_H

#include <stddef.h>

#define SNI_NAME_MAX 253 /* a DNS name in text, without the trailing dot */

struct sni_map;

struct sni_rule {
	const char *name;         /* as configured: exact, or "*." and a domain */
	int service;              /* what a match returns, >= 0 */
	const char *service_name; /* for error messages; NULL: the number is shown */
};

/* Checks one configured name: not empty, at most SNI_NAME_MAX characters, labels of 1 to 63
 * letters, digits, '-' or '_' separated by single dots (no leading, trailing or double dot),
 * and '*' only as a whole first label followed by a domain ("*.", "*", "a.*.b" and "*a.b" are
 * refused). Returns 0, or -EINVAL with a one-line reason in err (errlen bytes, NUL-terminated)
 * that quotes the name. */
int sni_name_check(const char *name, char *err, size_t errlen);

/* Builds the map of n rules; fallback is the service for a name nothing matches (>= 0), or -1
 * for none. A name given twice, in any case, to one service counts once; to two services it
 * is refused. Returns 0 with *out set (the caller frees it with sni_map_free; it holds copies
 * of the names, so rules may go), -EINVAL with the first bad rule explained in err as
 * sni_name_check does, or -ENOMEM. On error *out is NULL. */
int sni_map_build(const struct sni_rule *rules, size_t n, int fallback, struct sni_map **out, char *err,
		  size_t errlen);

/* The service for the server name name[0..len) (need not be NUL-terminated, any case), read
 * without allocating or writing: the longest matching rule's service, else the fallback.
 * Returns that service (>= 0), or -ENOENT when nothing matches and there is no fallback. A
 * len of 0 (a client that sent no server name) gets the fallback too. It costs one pass over
 * the name plus one table probe per dot. */
int sni_map_lookup(const struct sni_map *map, const char *name, size_t len);

/* The number of distinct names in the map. */
size_t sni_map_size(const struct sni_map *map);

/* Frees a map from sni_map_build; NULL is ignored. No lookup may run on it any more. */
void sni_map_free(struct sni_map *map);

#endif
