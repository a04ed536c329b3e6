/* admin_server: the admin endpoint on the health thread's loop: its listener and connections
 * (admin.c), the routes and the runtime API behind them (admin_api.c), and the server-sent
 * event subscribers (admin.c). The request parser and the renderers are in
 * slb/control/admin_http.h and slb/control/admin_render.h. */
#ifndef SLB_ADMIN_SERVER_H
#define SLB_ADMIN_SERVER_H

#include <sodium.h>
#include <stddef.h>

#include "health_loop.h"
#include "slb/control/admin_http.h"
#include "slb/control/admin_render.h"

#define ADMIN_CONNS_MAX 64          /* past it the oldest without a whole request is closed */
#define ADMIN_REQUEST_TIMEOUT_MS 3000 /* a request head must arrive within this of the accept */
#define ADMIN_TIMEOUT_MS 5000       /* and the response must then be sent within this */

#define ADMIN_STREAMS_MAX 8            /* /events/stream subscribers; more get 503 */
#define ADMIN_STREAM_BUF_MAX (256u << 10) /* a subscriber this far behind is dropped */
#define ADMIN_STREAM_SNDBUF (32 << 10)  /* a subscriber's kernel send buffer (Linux doubles it) */
#define ADMIN_STREAM_PING_MS 15000     /* a comment line, so a vanished subscriber is noticed */

/* The admin token (--admin-token-file): kept only as its BLAKE2b hash. A presented token is
 * hashed the same way and the hashes compared with sodium_memcmp, so neither the token's
 * bytes nor its length can be learnt from timing. */
struct admin_auth {
	bool on;                                      /* false: changes from loopback peers only */
	unsigned char hash[crypto_generichash_BYTES];
};

/* One answer, filled by admin_api_answer. */
struct admin_answer {
	int code;                  /* HTTP status */
	const char *ctype;
	const char *allow;         /* 405: the methods the path takes; NULL otherwise */
	const char *fixed;         /* a body that lives as long as the process (the dashboard), or NULL */
	size_t fixed_len;
	bool stream;               /* /events/stream: the connection becomes a subscriber */
	uint64_t since;            /* stream: replay the events after this one first */
	struct abuf body;          /* otherwise the body; the caller frees it */
};

/* Answers one whole request: req's head with body[0..len) after it, from peer. Changes go
 * to the backend table through its functions on this (the health) thread and are logged with
 * the peer. Returns with ans filled (ans->body is initialised here; the caller frees it). */
void admin_api_answer(struct health_ctx *ctx, const struct admin_auth *auth, const struct admin_request *req,
		      const char *body, size_t len, const struct slb_addr *peer, struct admin_answer *ans);

/* Loads --admin-token-file with the heartbeat key's rules (a regular file that only its
 * owner may access, at least 32 bytes) into auth. Returns 0, or -errno with err filled. */
int admin_auth_load(const char *path, struct admin_auth *auth, char *err, size_t errlen);

/* Binds cfg->admin (or takes fd >= 0, its listening socket inherited in a binary upgrade) and
 * adds it to the loop (an hl_listener: at most ADMIN_CONNS_MAX open, the oldest without a
 * whole request closed to make room for a newcomer); loads the token (--admin-token-file);
 * sets ctx->admin. Returns 0, or
 * -EADDRINUSE / -errno with err filled (nothing left open, fd closed). */
int admin_open(struct health_ctx *ctx, int fd, char *err, size_t errlen);

/* The listening socket (still the endpoint's), or -1 without --admin. */
int admin_listen_fd(const struct health_ctx *ctx);

/* Called every tick: closes connections past their deadline (ADMIN_REQUEST_TIMEOUT_MS for the
 * request, then ADMIN_TIMEOUT_MS to send the response), pings subscribers, and resumes a
 * paused listener. */
void admin_tick(struct health_ctx *ctx);

/* Sends e to every /events/stream subscriber; one whose backlog would pass
 * ADMIN_STREAM_BUF_MAX is dropped, never waited for. Does nothing without subscribers. */
void admin_publish_event(struct health_ctx *ctx, const struct slb_event *e);

/* A binary upgrade: the admin listening socket is shared with the new process until this one
 * closes it. admin_hand_over_start stops accepting on it (connections waiting in its queue
 * are the new process's to accept), while the connections already accepted go on until they
 * are answered; admin_requests_open counts those (event subscribers aside), and
 * admin_hand_over_cancel accepts again when the new process failed. Without --admin they do
 * nothing. Start and cancel return 0 or -errno (epoll). */
int admin_hand_over_start(struct health_ctx *ctx);
int admin_hand_over_cancel(struct health_ctx *ctx);
unsigned admin_requests_open(const struct health_ctx *ctx);

/* Closes every connection and the listener. */
void admin_close(struct health_ctx *ctx);

/* The dashboard page, embedded at build time from src/control/dashboard/index.html. */
extern const char admin_dashboard_html[];
extern const size_t admin_dashboard_html_len;

#endif
