/* Heartbeat line parser: tables of valid, malformed and oversized lines. Every line is parsed
 * from the very end of a page followed by an inaccessible page, so reading one byte past len
 * crashes the test instead of passing by luck. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "slb/common/heartbeat.h"

#define MAC64 "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

/* Copies len bytes to the end of a readable page followed by a PROT_NONE page and parses them. */
static int parse_guarded(const char *line, size_t len, struct hb_msg *m, char *err, size_t errlen)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	int rc;

	cr_assert(len <= (size_t)page);
	map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert(mprotect(map + page, (size_t)page, PROT_NONE) == 0);
	memcpy(map + page - len, line, len);
	rc = hb_parse_line(map + page - len, len, m, err, errlen);
	munmap(map, (size_t)page * 2);
	return rc;
}

/* ---- valid lines ---- */

/* Criterion runs each case in a re-executed process, where pointers into the parent's
 * image are meaningless under ASLR: the case structs hold their text inline. */
struct valid_case {
	char line[160];
	enum hb_verb verb;
	char addr[48];         /* as addr_format prints it, or "" */
	unsigned weight;
	char name[HB_NAME_MAX];
	int state;             /* -1: not given */
	int load;
	long long seq;         /* -1: not given, -2: UINT64_MAX */
	bool has_mac;
	long signed_len;       /* -1: the whole line */
	char service[HB_SERVICE_MAX]; /* "" when not given */
};

ParameterizedTestParameters(heartbeat, valid_lines)
{
	static struct valid_case cases[] = {
		{ "REGISTER 127.0.0.1:9001", HB_VERB_REGISTER, "127.0.0.1:9001", 0, "", -1, -1, -1, false, -1, "" },
		{ "REGISTER 127.0.0.1:9001 name=api1 service=api", HB_VERB_REGISTER, "127.0.0.1:9001", 0, "api1", -1, -1,
		  -1, false, -1, "api" },
		{ "REGISTER 127.0.0.1:9001 service=a_b-0123456789012345678901234567", HB_VERB_REGISTER, "127.0.0.1:9001", 0,
		  "", -1, -1, -1, false, -1, "a_b-0123456789012345678901234567" },
		{ "REGISTER 127.0.0.1:9001 weight=5 name=web1 state=drain load=42", HB_VERB_REGISTER,
		  "127.0.0.1:9001", 5, "web1", HB_STATE_DRAIN, 42, -1, false, -1, "" },
		{ "REGISTER [::1]:80 weight=256", HB_VERB_REGISTER, "[::1]:80", 256, "", -1, -1, -1, false, -1, "" },
		{ "REGISTER localhost:8080 weight=1 state=down", HB_VERB_REGISTER, "127.0.0.1:8080", 1, "",
		  HB_STATE_DOWN, -1, -1, false, -1, "" },
		{ "REGISTER 10.1.2.3:1 name=a.b-c_d:1/x@y", HB_VERB_REGISTER, "10.1.2.3:1", 0, "a.b-c_d:1/x@y", -1, -1,
		  -1, false, -1, "" },
		{ "HEARTBEAT", HB_VERB_HEARTBEAT, "", 0, "", -1, -1, -1, false, -1, "" },
		{ "HEARTBEAT state=up load=0", HB_VERB_HEARTBEAT, "", 0, "", HB_STATE_UP, 0, -1, false, -1, "" },
		{ "HEARTBEAT load=100\r", HB_VERB_HEARTBEAT, "", 0, "", -1, 100, -1, false, -1, "" },
		{ "  HEARTBEAT   state=down   ", HB_VERB_HEARTBEAT, "", 0, "", HB_STATE_DOWN, -1, -1, false, -1, "" },
		{ "BYE", HB_VERB_BYE, "", 0, "", -1, -1, -1, false, -1, "" },
		{ "BYE seq=18446744073709551615", HB_VERB_BYE, "", 0, "", -1, -1, -2, false, -1, "" },
		{ "HEARTBEAT state=up seq=7 mac=" MAC64, HB_VERB_HEARTBEAT, "", 0, "", HB_STATE_UP, -1, 7, true,
		  (long)strlen("HEARTBEAT state=up seq=7"), "" },
		{ "REGISTER 127.0.0.1:1 seq=0 mac=" MAC64, HB_VERB_REGISTER, "127.0.0.1:1", 0, "", -1, -1, 0, true,
		  (long)strlen("REGISTER 127.0.0.1:1 seq=0"), "" },
	};

	return cr_make_param_array(struct valid_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct valid_case *c, heartbeat, valid_lines)
{
	char err[64] = "", addr[ADDR_TEXT_MAX];
	size_t len = strlen(c->line);
	struct hb_msg m;

	cr_assert_eq(parse_guarded(c->line, len, &m, err, sizeof(err)), 0, "%s: %s", c->line, err);
	cr_assert_eq(m.verb, c->verb, "%s", c->line);
	if (c->addr[0])
		cr_assert_str_eq(addr_format(&m.addr, addr, sizeof(addr)), c->addr);
	cr_assert_eq(m.weight, c->weight, "%s", c->line);
	cr_assert_str_eq(m.name, c->name);
	cr_assert_eq(m.has_state, c->state >= 0, "%s", c->line);
	if (c->state >= 0)
		cr_assert_eq((int)m.state, c->state, "%s", c->line);
	cr_assert_eq(m.load, c->load, "%s", c->line);
	cr_assert_eq(m.has_seq, c->seq != -1, "%s", c->line);
	if (c->seq != -1)
		cr_assert_eq(m.seq, c->seq == -2 ? UINT64_MAX : (uint64_t)c->seq);
	cr_assert_eq(m.has_mac, c->has_mac);
	if (c->has_mac)
		cr_assert_str_eq(m.mac, MAC64);
	if (c->signed_len >= 0)
		cr_assert_eq(m.signed_len, (size_t)c->signed_len, "%s", c->line);
	cr_assert_str_eq(m.service, c->service, "%s", c->line);
}

/* ---- malformed lines: each gets one fixed reason ---- */

struct bad_case {
	char line[160];
	size_t len;            /* 0: strlen(line) */
	char why[48];
};

ParameterizedTestParameters(heartbeat, malformed_lines)
{
	static struct bad_case cases[] = {
		{ "", 0, "empty line" },
		{ "    ", 0, "empty line" },
		{ "\r", 0, "empty line" },
		{ "HELLO slb/1", 0, "unknown verb" },
		{ "register 127.0.0.1:1", 0, "unknown verb" },
		{ "HEARTBEATS", 0, "unknown verb" },
		{ "REGISTER", 0, "missing address" },
		{ "REGISTER   ", 0, "missing address" },
		{ "REGISTER web1", 0, "bad address" },
		{ "REGISTER 127.0.0.1", 0, "bad address" },
		{ "REGISTER 127.0.0.1:0", 0, "bad address" },
		{ "REGISTER 127.0.0.1:65536", 0, "bad address" },
		{ "REGISTER *:80", 0, "address is unspecified, not a single host" },
		{ "REGISTER 0.0.0.0:80", 0, "address is unspecified, not a single host" },
		{ "REGISTER [::]:80", 0, "address is unspecified, not a single host" },
		{ "REGISTER [::ffff:0.0.0.0]:80", 0, "address is unspecified, not a single host" },
		{ "REGISTER 224.0.0.1:80", 0, "address is multicast, not a single host" },
		{ "REGISTER 239.255.255.250:1900", 0, "address is multicast, not a single host" },
		{ "REGISTER [ff02::1]:80", 0, "address is multicast, not a single host" },
		{ "REGISTER [::ffff:224.0.0.1]:80", 0, "address is multicast, not a single host" },
		{ "REGISTER 255.255.255.255:80", 0, "address is broadcast, not a single host" },
		{ "REGISTER [::ffff:255.255.255.255]:80", 0, "address is broadcast, not a single host" },
		{ "REGISTER example.com:80", 0, "bad address" },
		{ "REGISTER 127.0.0.1:1 weight=0", 0, "bad weight (1-256)" },
		{ "REGISTER 127.0.0.1:1 service=", 0, "bad service (1-32 of a-z 0-9 _ -)" },
		{ "REGISTER 127.0.0.1:1 service=Api", 0, "bad service (1-32 of a-z 0-9 _ -)" },
		{ "REGISTER 127.0.0.1:1 service=a.b", 0, "bad service (1-32 of a-z 0-9 _ -)" },
		{ "REGISTER 127.0.0.1:1 service=012345678901234567890123456789012", 0, "bad service (1-32 of a-z 0-9 _ -)" },
		{ "REGISTER 127.0.0.1:1 service=a service=b", 0, "duplicate key" },
		{ "HEARTBEAT service=api", 0, "key not allowed here" },
		{ "REGISTER 127.0.0.1:1 role=standby", 0, "bad role (primary or backup)" },
		{ "REGISTER 127.0.0.1:1 role=", 0, "bad role (primary or backup)" },
		{ "HEARTBEAT role=backup", 0, "key not allowed here" },
		{ "REGISTER 127.0.0.1:1 weight=257", 0, "bad weight (1-256)" },
		{ "REGISTER 127.0.0.1:1 weight=-1", 0, "bad weight (1-256)" },
		{ "REGISTER 127.0.0.1:1 weight=+5", 0, "bad weight (1-256)" },
		{ "REGISTER 127.0.0.1:1 weight=", 0, "bad weight (1-256)" },
		{ "REGISTER 127.0.0.1:1 weight=1x", 0, "bad weight (1-256)" },
		{ "REGISTER 127.0.0.1:1 weight=99999999999999999999999", 0, "bad weight (1-256)" },
		{ "HEARTBEAT load=101", 0, "bad load (0-100)" },
		{ "HEARTBEAT load=-1", 0, "bad load (0-100)" },
		{ "HEARTBEAT load=0x10", 0, "bad load (0-100)" },
		{ "HEARTBEAT state=maybe", 0, "bad state (up, drain or down)" },
		{ "HEARTBEAT state=UP", 0, "bad state (up, drain or down)" },
		{ "HEARTBEAT state=", 0, "bad state (up, drain or down)" },
		{ "REGISTER 127.0.0.1:1 name=", 0, "bad name" },
		{ "REGISTER 127.0.0.1:1 name=a\"b", 0, "bad name" },
		{ "REGISTER 127.0.0.1:1 name=a\\b", 0, "bad name" },
		{ "REGISTER 127.0.0.1:1 name=0123456789012345678901234567890123456789012345678901234567890123", 0,
		  "bad name" },
		{ "REGISTER 127.0.0.1:1 ZQX=1", 0, "unknown key" },
		{ "REGISTER 127.0.0.1:1 =1", 0, "unknown key" },
		{ "REGISTER 127.0.0.1:1 weight", 0, "expected key=value" },
		{ "HEARTBEAT up", 0, "expected key=value" },
		{ "REGISTER 127.0.0.1:1 weight=1 weight=2", 0, "duplicate key" },
		{ "HEARTBEAT load=1 state=up load=2", 0, "duplicate key" },
		{ "HEARTBEAT weight=3", 0, "key not allowed here" },
		{ "HEARTBEAT name=x", 0, "key not allowed here" },
		{ "BYE load=1", 0, "key not allowed here" },
		{ "BYE state=down", 0, "key not allowed here" },
		{ "HEARTBEAT\tstate=up", 0, "bad character" },
		{ "HEARTBEAT state=up\x7f", 0, "bad character" },
		{ "HEARTBEAT name=caf\xc3\xa9", 0, "bad character" },
		{ "HEARTBEAT\0 state=up", 19, "bad character" },
		{ "HEARTBEAT\r\r", 0, "bad character" },
		{ "HEARTBEAT\n", 0, "bad character" },
		{ "HEARTBEAT mac=" MAC64 " seq=1", 0, "mac must come last" },
		{ "HEARTBEAT mac=" MAC64, 0, "mac needs seq" },
		{ "HEARTBEAT seq=1 mac=abc", 0, "bad mac" },
		{ "HEARTBEAT seq=1 mac=" MAC64 "0", 0, "bad mac" },
		{ "HEARTBEAT seq=1 mac=g123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef", 0, "bad mac" },
		{ "HEARTBEAT seq=x", 0, "bad seq" },
		{ "HEARTBEAT seq=18446744073709551616", 0, "bad seq" },
		{ "HEARTBEAT seq=", 0, "bad seq" },
	};

	return cr_make_param_array(struct bad_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, heartbeat, malformed_lines)
{
	size_t len = c->len ? c->len : strlen(c->line);
	char err[64] = "";
	struct hb_msg m;

	cr_assert_eq(parse_guarded(c->line, len, &m, err, sizeof(err)), -EINVAL, "accepted: %s", c->line);
	cr_assert_str_eq(err, c->why, "line: %s", c->line);
}

/* ---- sizes ---- */

struct size_case {
	size_t pad;            /* spaces after "HEARTBEAT" */
	bool cr;               /* a trailing "\r" */
	bool ok;
};

ParameterizedTestParameters(heartbeat, line_sizes)
{
	static struct size_case cases[] = {
		{ HB_LINE_MAX - 1 - 9, false, true },  /* 511 bytes: fits with its "\n" */
		{ HB_LINE_MAX - 1 - 9, true, true },   /* 511 + "\r": the "\r" is not content */
		{ HB_LINE_MAX - 9, false, false },     /* 512 bytes */
		{ HB_LINE_MAX - 9, true, false },
		{ 4000, false, false },
	};

	return cr_make_param_array(struct size_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *c, heartbeat, line_sizes)
{
	char line[4200], err[64] = "";
	size_t len = 9 + c->pad;
	struct hb_msg m;
	int rc;

	memcpy(line, "HEARTBEAT", 9);
	memset(line + 9, ' ', c->pad);
	if (c->cr)
		line[len++] = '\r';
	rc = parse_guarded(line, len, &m, err, sizeof(err));
	if (c->ok) {
		cr_assert_eq(rc, 0, "len %zu: %s", len, err);
		cr_assert_eq(m.verb, HB_VERB_HEARTBEAT);
	} else {
		cr_assert_eq(rc, -EINVAL, "len %zu accepted", len);
		cr_assert_str_eq(err, "line too long");
	}
}

Test(heartbeat, reads_only_len_bytes)
{
	const char *text = "HEARTBEAT state=upXXXX";
	struct hb_msg m;

	cr_assert_eq(parse_guarded(text, strlen("HEARTBEAT state=up"), &m, NULL, 0), 0);
	cr_assert_eq(m.state, HB_STATE_UP);
	cr_assert_eq(parse_guarded("REGISTER 127.0.0.1:90019", 23, &m, NULL, 0), 0);
	cr_assert_eq(addr_port(&m.addr), 9001);
}

Test(heartbeat, error_text_is_truncated_and_terminated)
{
	char err[5];
	struct hb_msg m;

	memset(err, 'x', sizeof(err));
	cr_assert_eq(hb_parse_line("NOPE", 4, &m, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unkn");
	cr_assert_eq(hb_parse_line("NOPE", 4, &m, NULL, 0), -EINVAL);
}

Test(heartbeat, names_of_states_and_verbs)
{
	cr_assert_str_eq(hb_state_name(HB_STATE_UP), "up");
	cr_assert_str_eq(hb_state_name(HB_STATE_DRAIN), "drain");
	cr_assert_str_eq(hb_state_name(HB_STATE_DOWN), "down");
	cr_assert_str_eq(hb_verb_name(HB_VERB_REGISTER), "REGISTER");
	cr_assert_str_eq(hb_verb_name(HB_VERB_BYE), "BYE");
	cr_assert_str_eq(hb_verb_name(HB_VERB_NONE), "NONE");
}

/* The original SmartLoadBalancer's dialect: "heartbeat:<port>", nothing else. */
struct legacy_case {
	char line[24];
	int port; /* -1: refused */
};

ParameterizedTestParameters(heartbeat, legacy_lines)
{
	static struct legacy_case cases[] = {
		{ "heartbeat:8080", 8080 }, { "heartbeat:1", 1 },        { "heartbeat:65535", 65535 },
		{ "heartbeat:", -1 },       { "heartbeat:0", -1 },       { "heartbeat:65536", -1 },
		{ "heartbeat:080", -1 },    { "heartbeat: 80", -1 },     { "Heartbeat:80", -1 },
		{ "heartbeat:80x", -1 },    { "heartbeat:123456", -1 },  { "heartbeat:-1", -1 },
		{ "HEARTBEAT state=up", -1 }, { "heartbeat", -1 },
	};

	return cr_make_param_array(struct legacy_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct legacy_case *c, heartbeat, legacy_lines)
{
	unsigned port = 0;
	int rc = hb_parse_legacy(c->line, strlen(c->line), &port);

	if (c->port < 0) {
		cr_assert_eq(rc, -EINVAL, "'%s' accepted as port %u", c->line, port);
		return;
	}
	cr_assert_eq(rc, 0, "'%s' refused", c->line);
	cr_assert_eq(port, (unsigned)c->port);
}

/* Issue 23: role=backup makes a registered backend a backup; primary, or no role, does not. */
Test(heartbeat, register_role)
{
	static const char *const lines[] = { "REGISTER 127.0.0.1:1 role=backup", "REGISTER 127.0.0.1:1 role=primary",
					     "REGISTER 127.0.0.1:1" };
	struct hb_msg m;
	char err[64];

	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(hb_parse_line(lines[i], strlen(lines[i]), &m, err, sizeof(err)), 0, "%s: %s", lines[i], err);
		cr_assert_eq(m.backup, i == 0, "%s", lines[i]);
	}
}
