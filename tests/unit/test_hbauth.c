/* Heartbeat MACs: known vectors computed outside slb, refusal of a wrong key, a tampered line
 * or MAC, a replayed or falling seq, and the key file rules (length, newline, permissions).
 *
 * The expected MACs were computed independently with Python's hmac module, e.g.
 *   python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef0123456789abcdef",
 *               b"0011223344556677 REGISTER 127.0.0.1:8080 seq=1", hashlib.sha256).hexdigest())'
 * and one is RFC 4231 test case 6 (a 131-byte key, hashed first), split into nonce and line. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slb/common/hbauth.h"
#include "slb/common/heartbeat.h"

#define KEY32 "0123456789abcdef0123456789abcdef"
#define NONCE "0011223344556677"

static struct hbauth_key key;

static void setup(void)
{
	cr_assert_eq(hbauth_init(), 0);
	memset(&key, 0, sizeof(key));
	key.len = strlen(KEY32);
	memcpy(key.bytes, KEY32, key.len);
}

TestSuite(hbauth, .init = setup);

struct vector {
	char key[160];
	size_t key_len;
	char nonce[24];
	char line[128];
	char mac[HB_MAC_HEX + 1];
};

ParameterizedTestParameters(hbauth, sign_matches_independent_vectors)
{
	static struct vector v[] = {
		{ KEY32, 32, NONCE, "REGISTER 127.0.0.1:8080 seq=1",
		  "b090015c9c057384e9bdc1164b5dea3498c930a84e62546bfdc88ab2a24039ed" },
		{ KEY32, 32, NONCE, "HEARTBEAT state=up load=5 seq=2",
		  "29aab2f1b8caf4983b4f1124ef1c62f88aab21f4101fad35331b9e82e25e7e81" },
		{ KEY32, 32, NONCE, "BYE seq=3", "f38463bd554aa95a13c6dcf03c4950cd29a42550672c13c6a39741aae53f361f" },
		/* 74 bytes: longer than SHA-256's 64-byte block, so HMAC hashes the key first */
		{ "slb-heartbeat-key-0123456789abcdef-longer-than-a-sha256-block-of-64-bytes!", 74, "fedcba9876543210",
		  "HEARTBEAT seq=18446744073709551615",
		  "8e4077f1bea24a93a1add8f733bd4513b8429b7388b2e9c4cd203583c1cfbd6a" },
		/* RFC 4231 4.7: key = 131 x 0xaa, data "Test Using Larger Than Block-Size Key - Hash Key First" */
		{ "", 131, "Test", "Using Larger Than Block-Size Key - Hash Key First",
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	};
	return cr_make_param_array(struct vector, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct vector *v, hbauth, sign_matches_independent_vectors)
{
	static struct hbauth_key k;
	char mac[HB_MAC_HEX + 1];

	cr_assert_eq(hbauth_init(), 0);
	k.len = v->key_len;
	if (v->key[0])
		memcpy(k.bytes, v->key, v->key_len);
	else
		memset(k.bytes, 0xaa, v->key_len);
	hbauth_sign(&k, v->nonce, v->line, strlen(v->line), mac);
	cr_assert_str_eq(mac, v->mac, "MAC of \"%s %s\"", v->nonce, v->line);
	cr_assert_eq(hbauth_verify(&k, v->nonce, v->line, strlen(v->line), v->mac), 0);
}

Test(hbauth, verify_accepts_uppercase_hex)
{
	cr_assert_eq(hbauth_verify(&key, NONCE, "BYE seq=3", 9,
				   "F38463BD554AA95A13C6DCF03C4950CD29A42550672C13C6A39741AAE53F361F"),
		     0);
}

Test(hbauth, verify_refuses_wrong_key_tampered_line_and_bad_mac)
{
	static const char good[] = "f38463bd554aa95a13c6dcf03c4950cd29a42550672c13c6a39741aae53f361f";
	static struct hbauth_key other;
	char bad[HB_MAC_HEX + 1];

	memcpy(&other, &key, sizeof(other));
	other.bytes[31] ^= 1;
	cr_assert_eq(hbauth_verify(&key, NONCE, "BYE seq=3", 9, good), 0);
	cr_assert_eq(hbauth_verify(&other, NONCE, "BYE seq=3", 9, good), -EBADMSG, "wrong key");
	cr_assert_eq(hbauth_verify(&key, NONCE, "BYE seq=4", 9, good), -EBADMSG, "tampered line");
	cr_assert_eq(hbauth_verify(&key, "0011223344556678", "BYE seq=3", 9, good), -EBADMSG, "other nonce");
	memcpy(bad, good, sizeof(bad));
	bad[0] = 'e';
	cr_assert_eq(hbauth_verify(&key, NONCE, "BYE seq=3", 9, bad), -EBADMSG, "tampered mac");
	bad[0] = 'g';
	cr_assert_eq(hbauth_verify(&key, NONCE, "BYE seq=3", 9, bad), -EBADMSG, "not hex");
	cr_assert_eq(hbauth_verify(&key, NONCE, "BYE seq=3", 9, good + 1), -EBADMSG, "63 digits");
	cr_assert_eq(hbauth_verify(&key, NONCE, "BYE seq=3", 9, ""), -EBADMSG, "empty");
}

Test(hbauth, nonce_is_16_lowercase_hex_and_fresh)
{
	char a[HBAUTH_NONCE_HEX + 1], b[HBAUTH_NONCE_HEX + 1];

	hbauth_new_nonce(a);
	hbauth_new_nonce(b);
	cr_assert_eq(strlen(a), 16);
	cr_assert_eq(strspn(a, "0123456789abcdef"), 16, "%s", a);
	cr_assert_str_neq(a, b, "two nonces in a row");
}

/* Signs "VERB ... seq=N" as a peer would and parses the result as slb does. */
static void signed_msg(const char *unsigned_line, const struct hbauth_key *k, const char *nonce, char *line,
		       size_t len, struct hb_msg *m)
{
	char mac[HB_MAC_HEX + 1], err[64];

	hbauth_sign(k, nonce, unsigned_line, strlen(unsigned_line), mac);
	snprintf(line, len, "%s mac=%s", unsigned_line, mac);
	cr_assert_eq(hb_parse_line(line, strlen(line), m, err, sizeof(err)), 0, "%s: %s", line, err);
}

static int check(struct hbauth_session *s, const char *line, const struct hb_msg *m, char *why)
{
	return hbauth_check_msg(&key, s, line, m, why, 64);
}

Test(hbauth, check_accepts_rising_seq_and_refuses_replay)
{
	struct hbauth_session s = { .nonce = NONCE };
	char line[HB_LINE_MAX], why[64];
	struct hb_msg m;

	signed_msg("REGISTER 127.0.0.1:8080 seq=1", &key, NONCE, line, sizeof(line), &m);
	cr_assert_eq(check(&s, line, &m, why), 0, "%s", why);
	cr_assert_eq(check(&s, line, &m, why), -EBADMSG, "the same line again");
	cr_assert_str_eq(why, "seq not rising");
	signed_msg("HEARTBEAT seq=5", &key, NONCE, line, sizeof(line), &m);
	cr_assert_eq(check(&s, line, &m, why), 0, "%s", why);
	signed_msg("HEARTBEAT seq=3", &key, NONCE, line, sizeof(line), &m);
	cr_assert_eq(check(&s, line, &m, why), -EBADMSG, "a lower seq, validly signed");
	cr_assert_str_eq(why, "seq not rising");
	signed_msg("BYE seq=6", &key, NONCE, line, sizeof(line), &m);
	cr_assert_eq(check(&s, line, &m, why), 0, "%s", why);
}

Test(hbauth, forged_line_does_not_move_seq)
{
	static struct hbauth_key wrong;
	struct hbauth_session s = { .nonce = NONCE };
	char line[HB_LINE_MAX], why[64];
	struct hb_msg m;

	memcpy(&wrong, &key, sizeof(wrong));
	wrong.bytes[0] ^= 0x20;
	signed_msg("HEARTBEAT seq=1000", &wrong, NONCE, line, sizeof(line), &m);
	cr_assert_eq(check(&s, line, &m, why), -EBADMSG);
	cr_assert_str_eq(why, "bad mac");
	cr_assert_not(s.seq_seen);
	signed_msg("HEARTBEAT seq=2", &key, NONCE, line, sizeof(line), &m);
	cr_assert_eq(check(&s, line, &m, why), 0, "a forged seq=1000 must not raise the bar: %s", why);
}

Test(hbauth, line_from_another_connection_is_refused)
{
	struct hbauth_session s = { .nonce = "8899aabbccddeeff" };
	char line[HB_LINE_MAX], why[64];
	struct hb_msg m;

	signed_msg("REGISTER 127.0.0.1:8080 seq=1", &key, NONCE, line, sizeof(line), &m);
	cr_assert_eq(check(&s, line, &m, why), -EBADMSG);
	cr_assert_str_eq(why, "bad mac");
}

Test(hbauth, tampered_field_is_refused)
{
	struct hbauth_session s = { .nonce = NONCE };
	char line[HB_LINE_MAX], why[64], err[64];
	struct hb_msg m;
	char *w;

	signed_msg("REGISTER 127.0.0.1:8080 weight=2 seq=1", &key, NONCE, line, sizeof(line), &m);
	w = strstr(line, "weight=2");
	cr_assert_not_null(w);
	w[7] = '9';
	cr_assert_eq(hb_parse_line(line, strlen(line), &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(check(&s, line, &m, why), -EBADMSG);
	cr_assert_str_eq(why, "bad mac");
}

Test(hbauth, unsigned_lines_are_refused)
{
	static const char *const lines[] = { "HEARTBEAT", "HEARTBEAT seq=4", "BYE" };
	struct hbauth_session s = { .nonce = NONCE };
	char why[64], err[64];
	struct hb_msg m;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		cr_assert_eq(hb_parse_line(lines[i], strlen(lines[i]), &m, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(check(&s, lines[i], &m, why), -EBADMSG, "%s", lines[i]);
		cr_assert_str_eq(why, "missing mac", "%s", lines[i]);
	}
}

/* ---- key files ---- */

static char dir[64];

static const char *key_file(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[128];
	int fd;

	if (!dir[0])
		cr_assert_not_null(mkdtemp(strcpy(dir, "/tmp/slb-hbauth-XXXXXX")));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void remove_dir(void)
{
	char cmd[96];

	if (dir[0] && strncmp(dir, "/tmp/slb-hbauth-", 16) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		cr_expect_eq(system(cmd), 0);
	}
}

TestSuite(hbauth_key, .fini = remove_dir);

Test(hbauth_key, trailing_newline_is_not_part_of_the_key)
{
	static struct hbauth_key a, b, c;
	char err[256];

	cr_assert_eq(hbauth_load_key(key_file("a", KEY32, 32, 0600), &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(hbauth_load_key(key_file("b", KEY32 "\n", 33, 0600), &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(hbauth_load_key(key_file("c", KEY32 "\r\n", 34, 0400), &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a.len, 32);
	cr_assert_eq(b.len, 32);
	cr_assert_eq(c.len, 32);
	cr_assert_eq(memcmp(a.bytes, KEY32, 32), 0);
	cr_assert_eq(memcmp(b.bytes, KEY32, 32), 0);
	cr_assert_eq(memcmp(c.bytes, KEY32, 32), 0);
}

Test(hbauth_key, short_key_is_a_clear_error)
{
	static struct hbauth_key k;
	char err[256];

	cr_assert_eq(hbauth_load_key(key_file("short", "0123456789abcdef0123456789abcde\n", 32, 0600), &k, err,
				     sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "31 bytes, need at least 32"), "%s", err);
	cr_assert_eq(k.len, 0);
	cr_assert_eq(hbauth_load_key(key_file("empty", "", 0, 0600), &k, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "0 bytes"), "%s", err);
}

Test(hbauth_key, huge_file_is_refused)
{
	static char big[HBAUTH_KEY_MAX + 10];
	static struct hbauth_key k;
	char err[256];

	memset(big, 'k', sizeof(big));
	cr_assert_eq(hbauth_load_key(key_file("big", big, sizeof(big), 0600), &k, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "longer than"), "%s", err);
	cr_assert_eq(hbauth_load_key(key_file("max", big, HBAUTH_KEY_MAX, 0600), &k, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(k.len, HBAUTH_KEY_MAX);
}

Test(hbauth_key, group_or_world_access_is_refused)
{
	static const mode_t modes[] = { 0644, 0640, 0604, 0620, 0602 };
	static struct hbauth_key k;
	char err[256];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		cr_assert_eq(hbauth_load_key(key_file("open", KEY32, 32, modes[i]), &k, err, sizeof(err)), -EPERM,
			     "mode %o", modes[i]);
		cr_assert_not_null(strstr(err, "chmod 600"), "%s", err);
	}
}

Test(hbauth_key, missing_file_and_directory_are_errors)
{
	static struct hbauth_key k;
	char err[256];

	key_file("x", "", 0, 0600);
	cr_assert_eq(hbauth_load_key("/nonexistent/slb.key", &k, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "/nonexistent/slb.key"), "%s", err);
	chmod(dir, 0700);
	cr_assert_eq(hbauth_load_key(dir, &k, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
}

Test(hbauth_key, wipe_clears_the_bytes)
{
	static struct hbauth_key k;
	static const unsigned char zero[HBAUTH_KEY_MAX];
	char err[256];

	cr_assert_eq(hbauth_load_key(key_file("w", KEY32, 32, 0600), &k, err, sizeof(err)), 0, "%s", err);
	hbauth_wipe_key(&k);
	cr_assert_eq(k.len, 0);
	cr_assert_eq(memcmp(k.bytes, zero, sizeof(zero)), 0);
}
