/* sni_map: one open-addressed hash table holding both kinds of rule, keyed by lowercase text:
 * an exact name by itself ("api.example.com"), a wildcard by its suffix from the dot
 * (".example.com"). The two never collide, since only suffix keys start with a dot. The hash
 * runs over a key from its last byte to its first, so one right-to-left pass over a looked-up
 * name yields the hash of every suffix: a lookup costs one pass plus one probe per dot, and
 * a hostile 255-byte name of single-letter labels costs no more than that. */
#include "slb/common/sni_map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX 63
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

struct sni_slot {
	uint64_t hash;    /* of the key, right to left */
	uint32_t off;     /* the key in the map's pool */
	uint16_t len;     /* 0: empty slot */
	int32_t service;
};

struct sni_map {
	size_t mask;            /* slots - 1; slots a power of two, at most half full */
	size_t count;           /* keys in the table */
	int fallback;           /* -1: none */
	struct sni_slot *slots; /* in the same allocation as the map */
	char *pool;             /* the keys, lowercase, back to back */
};

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static uint64_t hash_step(uint64_t h, unsigned char c)
{
	return (h ^ lower(c)) * FNV_PRIME;
}

static uint64_t hash_key(const char *s, size_t len)
{
	uint64_t h = FNV_OFFSET;

	while (len > 0)
		h = hash_step(h, (unsigned char)s[--len]);
	return h;
}

/* ---- checking a configured name ---- */

static bool label_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* The labels of a domain (the part after "*." for a wildcard): 1-63 allowed bytes each. */
static const char *domain_problem(const char *d)
{
	size_t label = 0;

	for (const char *p = d;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0)
				return "has an empty label (a leading, trailing or double dot)";
			if (*p == '\0')
				return NULL;
			label = 0;
		} else if (*p == '*') {
			return "has a '*' that is not the whole first label (write *.example.com)";
		} else if (!label_char_ok((unsigned char)*p)) {
			return "has a character other than letters, digits, '-', '_' and '.'";
		} else if (++label > LABEL_MAX) {
			return "has a label over 63 characters";
		}
	}
}

static const char *name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "is empty";
	if (len > SNI_NAME_MAX)
		return "is over 253 characters";
	if (strcmp(name, "*") == 0 || strcmp(name, "*.") == 0)
		return "is a wildcard without a domain (write *.example.com)";
	if (name[0] == '*' && name[1] == '.')
		return domain_problem(name + 2);
	return domain_problem(name);
}

int sni_name_check(const char *name, char *err, size_t errlen)
{
	const char *why = name_problem(name);

	if (!why)
		return 0;
	snprintf(err, errlen, "sni name '%.*s' %s", SNI_NAME_MAX + 2, name, why);
	return -EINVAL;
}

/* ---- the table ---- */

/* The key of a checked name: a wildcard drops its '*', keeping the dot. */
static const char *rule_key(const char *name, size_t *len)
{
	size_t n = strlen(name);

	if (name[0] == '*') {
		*len = n - 1;
		return name + 1;
	}
	*len = n;
	return name;
}

static bool key_equal(const struct sni_map *m, const struct sni_slot *s, const char *key, size_t len)
{
	const char *k = m->pool + s->off;

	if (s->len != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (k[i] != (char)lower((unsigned char)key[i]))
			return false;
	return true;
}

/* The slot holding key (hash h), or the empty slot where it would go. */
static struct sni_slot *map_probe(const struct sni_map *m, uint64_t h, const char *key, size_t len)
{
	for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
		struct sni_slot *s = &m->slots[i];

		if (s->len == 0 || (s->hash == h && key_equal(m, s, key, len)))
			return s;
	}
}

static void service_label(const struct sni_rule *r, char *buf, size_t len)
{
	if (r->service_name)
		snprintf(buf, len, "service %s", r->service_name);
	else
		snprintf(buf, len, "service %d", r->service);
}

/* Adds one checked rule; *pool_used grows by its key. A key already there for the same
 * service is left as is; for another service it is refused, naming both. */
static int map_insert(struct sni_map *m, const struct sni_rule *rules, size_t i, size_t *pool_used, char *err,
		      size_t errlen)
{
	size_t len;
	const char *key = rule_key(rules[i].name, &len);
	uint64_t h = hash_key(key, len);
	struct sni_slot *s = map_probe(m, h, key, len);
	char a[96], b[96];

	if (s->len != 0 && s->service == rules[i].service)
		return 0;
	if (s->len != 0) {
		/* the rule that put the key there is the first earlier one of that service */
		size_t j = 0;

		while (rules[j].service != s->service)
			j++;
		service_label(&rules[j], a, sizeof(a));
		service_label(&rules[i], b, sizeof(b));
		snprintf(err, errlen, "sni name '%s' is in both %s and %s", rules[i].name, a, b);
		return -EINVAL;
	}
	for (size_t k = 0; k < len; k++)
		m->pool[*pool_used + k] = (char)lower((unsigned char)key[k]);
	*s = (struct sni_slot){ .hash = h, .off = (uint32_t)*pool_used, .len = (uint16_t)len,
				.service = rules[i].service };
	*pool_used += len;
	m->count++;
	return 0;
}

/* One allocation: the map, its slots (at least twice the rules, a power of two) and a pool
 * big enough for every key. */
static struct sni_map *map_alloc(const struct sni_rule *rules, size_t n)
{
	size_t slots = 8, pool = 0;
	struct sni_map *m;

	for (size_t i = 0; i < n; i++)
		pool += strlen(rules[i].name);

	while (slots < 2 * n)
		slots *= 2;
	m = calloc(1, sizeof(*m) + slots * sizeof(struct sni_slot) + pool);
	if (!m)
		return NULL;
	m->mask = slots - 1;
	m->slots = (struct sni_slot *)(m + 1);
	m->pool = (char *)(m->slots + slots);
	return m;
}

int sni_map_build(const struct sni_rule *rules, size_t n, int fallback, struct sni_map **out, char *err,
		  size_t errlen)
{
	struct sni_map *m;
	size_t used = 0;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if ((rc = sni_name_check(rules[i].name, err, errlen)))
			return rc;
		if (rules[i].service < 0) { /* a lookup's answer: negative means no match */
			snprintf(err, errlen, "sni name '%s': service %d is not a service", rules[i].name,
				 rules[i].service);
			return -EINVAL;
		}
	}
	m = map_alloc(rules, n);
	if (!m) {
		snprintf(err, errlen, "sni names: out of memory");
		return -ENOMEM;
	}
	m->fallback = fallback < 0 ? -1 : fallback;
	for (size_t i = 0; i < n; i++) {
		if ((rc = map_insert(m, rules, i, &used, err, errlen))) {
			free(m);
			return rc;
		}
	}
	*out = m;
	return 0;
}

/* ---- lookup ---- */

/* The service of key name[from..len) with hash h, or -1. */
static int map_find(const struct sni_map *m, uint64_t h, const char *name, size_t from, size_t len)
{
	const struct sni_slot *s = map_probe(m, h, name + from, len - from);

	return s->len != 0 ? s->service : -1;
}

int sni_map_lookup(const struct sni_map *map, const char *name, size_t len)
{
	uint64_t h = FNV_OFFSET;
	int best = -1;

	for (size_t i = len; i-- > 0;) {
		h = hash_step(h, (unsigned char)name[i]);
		/* a suffix from a dot with a label before it: the longest found last wins */
		if (name[i] == '.' && i > 0) {
			int svc = map_find(map, h, name, i, len);

			best = svc >= 0 ? svc : best;
		}
	}
	/* an exact key never starts with a dot: a name that does is no exact match */
	if (len > 0 && name[0] != '.') {
		int svc = map_find(map, h, name, 0, len);

		best = svc >= 0 ? svc : best;
	}
	if (best >= 0)
		return best;
	return map->fallback >= 0 ? map->fallback : -ENOENT;
}

size_t sni_map_size(const struct sni_map *map)
{
	return map->count;
}

void sni_map_free(struct sni_map *map)
{
	free(map);
}
