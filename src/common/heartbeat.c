/* heartbeat: the line parser of the push health protocol (grammar in heartbeat.h).
 * Pure and bounded: it reads only line[0..len), never allocates, and every error text is a
 * fixed string, so the health thread can echo it to an untrusted peer as "ERR <reason>". */
#include "slb/common/heartbeat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Keys a message may carry. One bit each, so duplicates and verb/key mismatches are a mask test. */
enum hb_key {
	HB_KEY_WEIGHT = 1u << 0,
	HB_KEY_NAME = 1u << 1,
	HB_KEY_STATE = 1u << 2,
	HB_KEY_LOAD = 1u << 3,
	HB_KEY_SEQ = 1u << 4,
	HB_KEY_MAC = 1u << 5,
	HB_KEY_SERVICE = 1u << 6,
	HB_KEY_ROLE = 1u << 7,
};

#define HB_KEYS_SIGNED (HB_KEY_SEQ | HB_KEY_MAC)

struct hb_verb_def {
	const char *word;
	enum hb_verb verb;
	unsigned keys;     /* keys allowed after the verb */
	bool needs_addr;   /* first argument is the backend's ADDR:PORT */
};

static const struct hb_verb_def verb_defs[] = {
	{ "REGISTER", HB_VERB_REGISTER,
	  HB_KEY_WEIGHT | HB_KEY_NAME | HB_KEY_SERVICE | HB_KEY_ROLE | HB_KEY_STATE | HB_KEY_LOAD | HB_KEYS_SIGNED,
	  true },
	{ "HEARTBEAT", HB_VERB_HEARTBEAT, HB_KEY_STATE | HB_KEY_LOAD | HB_KEYS_SIGNED, false },
	{ "BYE", HB_VERB_BYE, HB_KEYS_SIGNED, false },
};

static const char *const state_names[] = {
	[HB_STATE_UP] = "up",
	[HB_STATE_DRAIN] = "drain",
	[HB_STATE_DOWN] = "down",
};

/* A cursor over the line: tokens are separated by runs of spaces. */
struct hb_cursor {
	const char *p;
	const char *end;
};

static int fail(char *err, size_t errlen, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

/* Returns the next token (len 0 at the end of the line). */
static size_t cursor_next(struct hb_cursor *c, const char **tok)
{
	const char *start;

	while (c->p < c->end && *c->p == ' ')
		c->p++;
	start = c->p;
	while (c->p < c->end && *c->p != ' ')
		c->p++;
	*tok = start;
	return (size_t)(c->p - start);
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* Decimal without sign, leading '+' or overflow; at most 20 digits fit a uint64_t. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int parse_range(const char *s, size_t len, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (parse_u64(s, len, out) || *out < lo || *out > hi)
		return -EINVAL;
	return 0;
}

static int parse_state(const char *s, size_t len, enum hb_state *out)
{
	for (unsigned i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (tok_is(s, len, state_names[i])) {
			*out = (enum hb_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Names end up in log lines, JSON and Prometheus labels: printable ASCII without the two
 * characters those formats would have to escape keeps every consumer trivially safe. */
int hb_parse_name(const char *s, size_t len, char *out)
{
	if (len == 0 || len >= HB_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int parse_mac(const char *s, size_t len, char *out)
{
	if (len != HB_MAC_HEX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return -EINVAL;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* A service name as the config file writes it (config_service_name_ok): whether slb has such
 * a service is hb_server's to say. */
static int parse_service(const char *s, size_t len, char *out)
{
	if (len == 0 || len >= HB_SERVICE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", s[i]))
			return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* A backend address must be one slb can connect to: a single unicast host. Returns NULL or
 * the fixed reason (the kind of address, when it parses but is no host). */
static const char *parse_backend_addr(const char *s, size_t len, struct slb_addr *out)
{
	if (addr_parse_n(s, len, out, NULL, 0))
		return "bad address";
	return addr_host_problem(out);
}

static unsigned key_of(const char *k, size_t klen)
{
	static const struct {
		const char *word;
		unsigned bit;
	} keys[] = {
		{ "weight", HB_KEY_WEIGHT }, { "name", HB_KEY_NAME }, { "state", HB_KEY_STATE },
		{ "load", HB_KEY_LOAD },     { "seq", HB_KEY_SEQ },   { "mac", HB_KEY_MAC },
		{ "service", HB_KEY_SERVICE }, { "role", HB_KEY_ROLE },
	};

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (tok_is(k, klen, keys[i].word))
			return keys[i].bit;
	return 0;
}

/* Stores one key's value. Returns NULL or the fixed reason it was refused. */
static const char *store_value(unsigned key, const char *v, size_t vlen, struct hb_msg *out)
{
	uint64_t n;

	switch (key) {
	case HB_KEY_WEIGHT:
		if (parse_range(v, vlen, 1, 256, &n))
			return "bad weight (1-256)";
		out->weight = (unsigned)n;
		return NULL;
	case HB_KEY_LOAD:
		if (parse_range(v, vlen, 0, 100, &n))
			return "bad load (0-100)";
		out->load = (int)n;
		return NULL;
	case HB_KEY_STATE:
		out->has_state = true;
		return parse_state(v, vlen, &out->state) ? "bad state (up, drain or down)" : NULL;
	case HB_KEY_NAME:
		return hb_parse_name(v, vlen, out->name) ? "bad name" : NULL;
	case HB_KEY_SERVICE:
		return parse_service(v, vlen, out->service) ? "bad service (1-32 of a-z 0-9 _ -)" : NULL;
	case HB_KEY_ROLE:
		if (!tok_is(v, vlen, "backup") && !tok_is(v, vlen, "primary"))
			return "bad role (primary or backup)";
		out->backup = v[0] == 'b';
		return NULL;
	case HB_KEY_SEQ:
		out->has_seq = true;
		return parse_u64(v, vlen, &out->seq) ? "bad seq" : NULL;
	case HB_KEY_MAC:
		out->has_mac = true;
		return parse_mac(v, vlen, out->mac) ? "bad mac" : NULL;
	}
	return "unknown key";
}

/* Parses the "key=value" tokens after the verb (and address). */
static const char *parse_keys(struct hb_cursor *c, const struct hb_verb_def *def, const char *line,
			      struct hb_msg *out)
{
	unsigned seen = 0;
	const char *tok, *eq, *why;
	size_t len;

	while ((len = cursor_next(c, &tok)) != 0) {
		unsigned key;

		if (seen & HB_KEY_MAC)
			return "mac must come last";
		eq = memchr(tok, '=', len);
		if (!eq)
			return "expected key=value";
		key = key_of(tok, (size_t)(eq - tok));
		if (!key)
			return "unknown key";
		if (!(def->keys & key))
			return "key not allowed here";
		if (seen & key)
			return "duplicate key";
		seen |= key;
		why = store_value(key, eq + 1, len - (size_t)(eq + 1 - tok), out);
		if (why)
			return why;
		if (key == HB_KEY_MAC)
			out->signed_len = (size_t)(tok - 1 - line);
	}
	if ((seen & HB_KEY_MAC) && !(seen & HB_KEY_SEQ))
		return "mac needs seq";
	return NULL;
}

/* Refuses control bytes, DEL and anything non-ASCII before a single token is looked at. */
static bool line_is_printable(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return false;
	return true;
}

int hb_parse_line(const char *line, size_t len, struct hb_msg *out, char *err, size_t errlen)
{
	const struct hb_verb_def *def = NULL;
	struct hb_cursor c;
	const char *tok, *why;
	size_t tlen;

	memset(out, 0, sizeof(*out));
	out->load = -1;
	if (len && line[len - 1] == '\r')
		len--;
	/* The line and its "\n" must fit the session's HB_LINE_MAX-byte buffer. */
	if (len >= HB_LINE_MAX)
		return fail(err, errlen, "line too long");
	if (!line_is_printable(line, len))
		return fail(err, errlen, "bad character");
	c.p = line;
	c.end = line + len;
	tlen = cursor_next(&c, &tok);
	if (tlen == 0)
		return fail(err, errlen, "empty line");
	for (unsigned i = 0; i < sizeof(verb_defs) / sizeof(verb_defs[0]); i++)
		if (tok_is(tok, tlen, verb_defs[i].word))
			def = &verb_defs[i];
	if (!def)
		return fail(err, errlen, "unknown verb");
	out->verb = def->verb;
	if (def->needs_addr) {
		tlen = cursor_next(&c, &tok);
		if (tlen == 0)
			return fail(err, errlen, "missing address");
		why = parse_backend_addr(tok, tlen, &out->addr);
		if (why)
			return fail(err, errlen, why);
	}
	why = parse_keys(&c, def, line, out);
	if (why)
		return fail(err, errlen, why);
	if (!out->has_mac)
		out->signed_len = len;
	return 0;
}

const char *hb_state_name(enum hb_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

const char *hb_verb_name(enum hb_verb v)
{
	for (unsigned i = 0; i < sizeof(verb_defs) / sizeof(verb_defs[0]); i++)
		if (verb_defs[i].verb == v)
			return verb_defs[i].word;
	return "NONE";
}

/* See heartbeat.h. */
int hb_parse_legacy(const char *line, size_t len, unsigned *port)
{
	static const char prefix[] = "heartbeat:";
	const size_t plen = sizeof(prefix) - 1;
	unsigned v = 0;

	if (len <= plen || len > plen + 5 || memcmp(line, prefix, plen) || line[plen] == '0')
		return -EINVAL;
	for (size_t i = plen; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(line[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}
