/* hbauth: heartbeat key loading, signing and verification; see hbauth.h.
 *
 * Why the multi-part HMAC API and not crypto_auth_hmacsha256()/_verify(): those take a key of
 * exactly crypto_auth_hmacsha256_KEYBYTES (32) bytes, while the key file may hold more (64 hex
 * characters is the usual way to write a 32-byte secret). _init() takes any length and applies
 * RFC 2104 to it (hash a key longer than the block first), which is what every other HMAC
 * implementation does with the raw file bytes, so a peer written in another language (Python's
 * hmac module, openssl dgst -hmac) computes the same MAC. The comparison is crypto_verify_32(),
 * the constant-time compare that _verify() uses itself. */
#include "slb/common/hbauth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HBAUTH_NONCE_BYTES (HBAUTH_NONCE_HEX / 2)

_Static_assert(HB_MAC_HEX == 2 * crypto_auth_hmacsha256_BYTES, "mac= carries one HMAC-SHA256 in hex");

int hbauth_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static int key_error(char *err, size_t errlen, int rc, const char *what, const char *path, const char *why)
{
	snprintf(err, errlen, "%s file %.200s: %s", what, path, why);
	return rc;
}

/* Reads at most len bytes to EOF. Returns the count (len means "maybe more") or -errno. */
static ssize_t read_up_to(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Group or other bits refuse the file outright rather than warn: a readable key lets any local
 * user register backends, and a warning at start-up is easy to miss. */
static int key_check_file(int fd, const char *what, const char *path, char *err, size_t errlen)
{
	char why[128];
	struct stat st;

	if (fstat(fd, &st) == -1)
		return key_error(err, errlen, -errno, what, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return key_error(err, errlen, -EINVAL, what, path, "not a regular file");
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(why, sizeof(why), "group or others may access it (mode %04o); chmod 600 it",
			 (unsigned)(st.st_mode & 07777));
		return key_error(err, errlen, -EPERM, what, path, why);
	}
	return 0;
}

int hbauth_load_secret(const char *what, const char *path, struct hbauth_key *key, char *err, size_t errlen)
{
	unsigned char buf[HBAUTH_KEY_MAX + 3]; /* room for "\r\n" and one byte that says "too long" */
	char why[160];
	ssize_t n;
	int fd, rc;

	key->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return key_error(err, errlen, -errno, what, path, strerror(errno));
	rc = key_check_file(fd, what, path, err, errlen);
	n = rc ? 0 : read_up_to(fd, buf, sizeof(buf));
	close(fd);
	if (rc)
		return rc;
	if (n < 0)
		return key_error(err, errlen, (int)n, what, path, strerror((int)-n));
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n < HBAUTH_KEY_MIN || n > HBAUTH_KEY_MAX) {
		if (n > HBAUTH_KEY_MAX)
			snprintf(why, sizeof(why), "longer than %d bytes", HBAUTH_KEY_MAX);
		else
			snprintf(why, sizeof(why), "%zd bytes, need at least %d; make a key with: "
				 "(umask 077; head -c 32 /dev/urandom | base64 >FILE)", n, HBAUTH_KEY_MIN);
		sodium_memzero(buf, sizeof(buf));
		return key_error(err, errlen, -EINVAL, what, path, why);
	}
	memcpy(key->bytes, buf, (size_t)n);
	key->len = (size_t)n;
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int hbauth_load_key(const char *path, struct hbauth_key *key, char *err, size_t errlen)
{
	return hbauth_load_secret("heartbeat key", path, key, err, errlen);
}

void hbauth_wipe_key(struct hbauth_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

void hbauth_new_nonce(char nonce[HBAUTH_NONCE_HEX + 1])
{
	unsigned char raw[HBAUTH_NONCE_BYTES];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(nonce, HBAUTH_NONCE_HEX + 1, raw, sizeof(raw));
}

static void hbauth_mac(const struct hbauth_key *key, const char *nonce, const char *line, size_t len,
		       unsigned char out[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key->bytes, key->len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)nonce, strlen(nonce));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)" ", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)line, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void hbauth_sign(const struct hbauth_key *key, const char *nonce, const char *line, size_t len,
		 char mac[HB_MAC_HEX + 1])
{
	unsigned char raw[crypto_auth_hmacsha256_BYTES];

	hbauth_mac(key, nonce, line, len, raw);
	sodium_bin2hex(mac, HB_MAC_HEX + 1, raw, sizeof(raw));
}

int hbauth_verify(const struct hbauth_key *key, const char *nonce, const char *line, size_t len,
		  const char *mac_hex)
{
	unsigned char want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
	size_t got_len = 0;
	const char *end = NULL;
	int rc;

	if (strnlen(mac_hex, HB_MAC_HEX + 1) != HB_MAC_HEX ||
	    sodium_hex2bin(got, sizeof(got), mac_hex, HB_MAC_HEX, NULL, &got_len, &end) != 0 ||
	    got_len != sizeof(got) || end != mac_hex + HB_MAC_HEX)
		return -EBADMSG;
	hbauth_mac(key, nonce, line, len, want);
	rc = crypto_verify_32(want, got) == 0 ? 0 : -EBADMSG;
	sodium_memzero(want, sizeof(want));
	return rc;
}

static int check_fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -EBADMSG;
}

/* The MAC is checked before seq: an unauthenticated line must not learn or move anything. */
int hbauth_check_msg(const struct hbauth_key *key, struct hbauth_session *s, const char *line,
		     const struct hb_msg *m, char *err, size_t errlen)
{
	if (!m->has_mac || !m->has_seq)
		return check_fail(err, errlen, "missing mac");
	if (hbauth_verify(key, s->nonce, line, m->signed_len, m->mac))
		return check_fail(err, errlen, "bad mac");
	if (s->seq_seen && m->seq <= s->last_seq)
		return check_fail(err, errlen, "seq not rising");
	s->seq_seen = true;
	s->last_seq = m->seq;
	return 0;
}
