/* access_log: one line per finished client connection (--access-log). A worker formats the
 * line itself and copies it into its own single-producer ring; one log thread drains every
 * ring into the file. A worker never makes a system call for the log and never waits: a line
 * that finds its ring full is dropped and counted (slb_access_log_dropped_total). */
#ifndef SLB_ACCESS_LOG_H
#define SLB_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slb/common/addr.h"
#include "slb/common/config.h"

#define ACCESS_LOG_LINE_MAX 1280 /* 512 and, from an sni listener, sni= and alpn= */

/* Why a connection ended: a fixed vocabulary, printed by access_log_end_name and documented
 * in docs/balancing.md#access-log. The first cause seen wins. */
enum access_log_end {
	END_NONE = 0,        /* still open */
	END_CLIENT_CLOSED,   /* the client's FIN came first (then the backend's, or slb closed) */
	END_BACKEND_CLOSED,  /* the backend's FIN came first */
	END_CLIENT_RESET,    /* reading from the client failed (a reset, mostly) */
	END_BACKEND_RESET,   /* the backend reset an established connection */
	END_IDLE_TIMEOUT,    /* no byte either way for --idle-timeout */
	END_CONNECT_FAILED,  /* no backend left to try, or every connect failed */
	END_MAX_CONNS,       /* refused at --max-conns */
	END_DRAIN_TIMEOUT,   /* still open when the drain after SIGTERM ran out */
	END_PROXY_INVALID,   /* --accept-proxy: the header was malformed, or the client left first */
	END_PROXY_TIMEOUT,   /* --accept-proxy: no whole header within --proxy-timeout */
	END_SNI_INVALID,     /* an sni listener's client sent a malformed TLS ClientHello */
	END_SNI_TIMEOUT,     /* no whole ClientHello within --sni-timeout */
	END_SNI_UNROUTED,    /* no service for its server name (or for no TLS) and no sni-fallback */
	END_ERROR,           /* a local failure: no socket, a send to a peer failed */
	END_CLIENT_DENIED,   /* reset: --client-allow / --client-deny keep this client out */
	END_CLIENT_LIMIT,    /* reset: past --client-max-conns or --client-max-rate */
	END_MAX,
};

#define TLS_TEXT_MAX 320 /* sni= and alpn= values, escaped and cut to fit, at most (with the NUL) */

struct access_log_entry {
	int64_t end_unix_ms;            /* wall clock */
	unsigned worker;
	const struct slb_addr *client;  /* NULL: unknown (refused before it was asked) */
	const struct slb_addr *listener; /* NULL: unknown */
	const char *service;            /* its service's name ([a-z0-9_-], no escaping needed); NULL: unknown */
	const struct slb_addr *backend; /* NULL: none was connected */
	const char *backend_name;       /* its name; NULL or "": none (printable, no space, '"' or '\\') */
	unsigned attempts;              /* backend connects started */
	uint64_t bytes_up;              /* client -> backend */
	uint64_t bytes_down;            /* backend -> client */
	int64_t duration_ms;
	int64_t connect_ms;             /* accept to backend connected; < 0: never */
	enum access_log_end end;
	bool tls;                       /* from an sni listener: the line carries sni= and alpn= */
	const char *sni;                /* the ClientHello's server name, escaped; NULL or "": none */
	const char *alpn;               /* its ALPN list (tls_hello_alpn_text); NULL or "": none */
};

/* "client_closed", "backend_reset", ...; "?" outside the vocabulary. */
const char *access_log_end_name(enum access_log_end end);

/* Formats e as one line, "\n" included, into buf (ACCESS_LOG_LINE_MAX bytes suffice).
 * Returns its length, or 0 when it does not fit. Pure. */
size_t access_log_format(char *buf, size_t len, enum access_log_format fmt, const struct access_log_entry *e);

struct access_log_ring;

/* Opens cfg->access_log ("-": stdout) for appending and allocates n_rings rings (one per
 * worker). Call once, before workers start. Returns 0 (also when the log is off) or -errno
 * with err filled. */
int access_log_open(const struct slb_config *cfg, unsigned n_rings, char *err, size_t errlen);

/* Ring i (a worker's), or NULL when the log is off. Valid until access_log_close. */
struct access_log_ring *access_log_ring(unsigned i);

/* Worker side: copies line[0..len) into r whole, or not at all. Never blocks. Returns false
 * when the ring had no room (the caller counts the drop). */
bool access_log_push(struct access_log_ring *r, const char *line, size_t len);

/* Starts the log thread (nothing when the log is off). Returns 0 or -errno with err filled. */
int access_log_start(char *err, size_t errlen);

/* Asks the log thread to reopen the file (SIGUSR1, after logrotate moved it). Async-safe in
 * the sense that it only sets a flag; the thread reopens on its next turn. */
void access_log_request_reopen(void);

/* Stops the log thread after it wrote out what the rings hold, closes the file, frees the
 * rings. Call after the workers have stopped. Idempotent. */
void access_log_close(void);

#endif
