/* admin_server: the admin endpoint's listener and connections on the health thread's loop
 * (the request parser and the renderers it serves are in slb/control/admin.h). */
#ifndef SLB_ADMIN_SERVER_H
#define SLB_ADMIN_SERVER_H

#include <stddef.h>

#include "health_loop.h"

/* Binds cfg->admin (or takes fd >= 0, its listening socket inherited in a binary upgrade) and
 * adds it to the loop (an hl_listener: at most ADMIN_CONNS_MAX open, the oldest without a
 * whole request closed to make room for a newcomer); sets ctx->admin. Returns 0, or
 * -EADDRINUSE / -errno with err filled (nothing left open, fd closed). */
int admin_open(struct health_ctx *ctx, int fd, char *err, size_t errlen);

/* The listening socket (still the endpoint's), or -1 without --admin. */
int admin_listen_fd(const struct health_ctx *ctx);

/* Called every tick: closes connections past their deadline (ADMIN_REQUEST_TIMEOUT_MS for the
 * request head, then ADMIN_TIMEOUT_MS to send the response) and resumes a paused listener. */
void admin_tick(struct health_ctx *ctx);

/* Closes every connection and the listener. */
void admin_close(struct health_ctx *ctx);

#endif
