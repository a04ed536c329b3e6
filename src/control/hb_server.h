/* hb_server: the heartbeat listener and its sessions on the health thread's loop: the
 * allow-list at accept, line framing, MAC and replay checks when a key is configured,
 * replies, REGISTER/HEARTBEAT/BYE turned into backend table events. */
#ifndef SLB_HB_SERVER_H
#define SLB_HB_SERVER_H

#include <stddef.h>

#include "health_loop.h"

#define HB_SESSIONS_MAX 4096          /* at least this many sessions; further connections are
                                       * closed at accept (hb_sessions_max) */
#define HB_UNREGISTERED_IDLE_MS 10000 /* a session must REGISTER within this */
#define HB_SILENT_CLOSE_MS 60000      /* a registered session silent this long past its
                                       * heartbeat timeout is closed */

/* Sessions the heartbeat listener keeps open at once: one per backend that may register
 * plus 64 for the ones reconnecting or refused, at least HB_SESSIONS_MAX. */
unsigned hb_sessions_max(const struct slb_config *cfg);

/* Loads cfg->heartbeat_key_file when given (warns when not: anyone who can reach the port can
 * register a backend), binds cfg->heartbeat_listen (or takes fd >= 0, its listening socket
 * inherited in a binary upgrade) and adds it to the loop; sets ctx->hb. Returns 0, or
 * -EADDRINUSE / -errno with err filled, a bad key file included (nothing left open, fd
 * closed). */
int hb_server_open(struct health_ctx *ctx, int fd, char *err, size_t errlen);

/* The listening socket (still the server's), or -1 without a heartbeat server. */
int hb_server_listen_fd(const struct health_ctx *ctx);

/* Binary upgrade, once the new slb holds the leases and the listening socket: every heartbeat
 * backend with a session keeps its state as a lease (BE_EV_LEASE: its peer reconnects to the
 * new process), a static one goes back to its flags; then every session and the listener
 * are closed, as hb_server_close. */
void hb_server_hand_over(struct health_ctx *ctx);

/* Sends the replies queued in this loop turn. Called once the turn's table changes are
 * published, so a backend told "OK registered" is already in the workers' snapshot: a client
 * that connects the moment the backend hears it is routed to it. */
void hb_server_send_replies(struct health_ctx *ctx);

/* Called every tick: closes sessions idle past their limit, resumes a paused listener. */
void hb_server_tick(struct health_ctx *ctx);

/* Closes every session (no table events: the thread is stopping) and the listener. */
void hb_server_close(struct health_ctx *ctx);

/* Open sessions, for admin and tests. */
unsigned hb_server_sessions(const struct health_ctx *ctx);

/* Closes b's heartbeat session (if any) without the close counting as the backend's own: b
 * is detached first, so its state follows the caller's next event, not BE_EV_HB_CLOSED. */
void hb_server_detach(struct health_ctx *ctx, struct backend *b, const char *why);

#endif
