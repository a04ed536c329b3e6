/* hbauth: the heartbeat key and the MAC that authenticates heartbeat lines (HMAC-SHA256 through
 * libsodium). slb's sessions verify with it and the heartbeat client signs with it; apart from
 * loading the key file, every function is pure. */
#ifndef SLB_HBAUTH_H
#define SLB_HBAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/heartbeat.h"

#define HBAUTH_KEY_MIN 32    /* bytes: the HMAC-SHA256 output size, so the key is never the weak part */
#define HBAUTH_KEY_MAX 4096  /* a larger file is a wrong path, not a key */
#define HBAUTH_NONCE_HEX 16  /* the nonce of "HELLO slb/1 nonce=<16 hex>" */

/* The key: the key file's bytes, less one trailing "\n" or "\r\n". */
struct hbauth_key {
	size_t len;                          /* HBAUTH_KEY_MIN..HBAUTH_KEY_MAX */
	unsigned char bytes[HBAUTH_KEY_MAX];
};

/* What one heartbeat connection remembers to refuse replays. */
struct hbauth_session {
	char nonce[HBAUTH_NONCE_HEX + 1]; /* lowercase hex, sent in HELLO */
	bool seq_seen;                    /* a line has verified on this connection */
	uint64_t last_seq;                /* its seq: the next one must be larger */
};

/* Initialises libsodium; call once before any other hbauth function (idempotent, thread-safe).
 * Returns 0, or -EIO when libsodium cannot start (no randomness source). */
int hbauth_init(void);

/* Reads the key from path. Refuses what is not a regular file, a file that group or others may
 * read or write (the key is a shared secret: chmod 600), and a key shorter than HBAUTH_KEY_MIN
 * or longer than HBAUTH_KEY_MAX bytes. Returns 0, or -errno (-EINVAL for a bad key, -EPERM for
 * bad permissions, or the open/read error) with a one-line reason naming path in err. On error
 * *key holds no key bytes. */
int hbauth_load_key(const char *path, struct hbauth_key *key, char *err, size_t errlen);

/* hbauth_load_key with the same rules for another secret file (the admin token): what names
 * it in err ("admin token": "admin token file PATH: ..."). */
int hbauth_load_secret(const char *what, const char *path, struct hbauth_key *key, char *err, size_t errlen);

/* Overwrites the key bytes (they are a secret), leaving len 0. */
void hbauth_wipe_key(struct hbauth_key *key);

/* Fills nonce with HBAUTH_NONCE_HEX random lowercase hex digits and a NUL. */
void hbauth_new_nonce(char nonce[HBAUTH_NONCE_HEX + 1]);

/* Writes into mac (HB_MAC_HEX lowercase hex digits and a NUL) the HMAC-SHA256, under key, of
 * "<nonce> <line[0..len)>": what heartbeat.h says a peer appends as " mac=<hex>". */
void hbauth_sign(const struct hbauth_key *key, const char *nonce, const char *line, size_t len,
		 char mac[HB_MAC_HEX + 1]);

/* Checks mac_hex (HB_MAC_HEX hex digits, either case) against the MAC of "<nonce> <line[0..len)>"
 * in constant time. Returns 0 when it matches, -EBADMSG otherwise (also for malformed hex). */
int hbauth_verify(const struct hbauth_key *key, const char *nonce, const char *line, size_t len,
		  const char *mac_hex);

/* The checks slb applies to every parsed line m (from line, as hb_parse_line saw it) when a key
 * is configured: seq and mac present, the MAC valid for s->nonce, and seq larger than any
 * that verified before on this connection. Only a line that passes advances s->last_seq, so a
 * forged line cannot push the window. Returns 0, or -EBADMSG with a fixed reason in err
 * ("missing mac", "bad mac", "seq not rising") that is safe to send back as "ERR <reason>". */
int hbauth_check_msg(const struct hbauth_key *key, struct hbauth_session *s, const char *line,
		     const struct hb_msg *m, char *err, size_t errlen);

#endif
