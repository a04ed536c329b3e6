/* svc_check: the local check slb-agent runs against the service it speaks for (a TCP connect,
 * or an HTTP GET that must answer 2xx), asynchronous on the evloop, one at a time. */
#ifndef SLB_AGENT_SVC_CHECK_H
#define SLB_AGENT_SVC_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "evloop.h"
#include "slb/common/addr.h"

#define SVC_CHECK_PATH_MAX 128

enum svc_check_kind {
	SVC_CHECK_TCP = 0, /* passes when connect() completes */
	SVC_CHECK_HTTP,    /* passes when "GET path" gets a 2xx (slb/common/http_check.h) */
};

struct svc_check_spec {
	enum svc_check_kind kind;
	char path[SVC_CHECK_PATH_MAX]; /* SVC_CHECK_HTTP only; starts with '/' */
};

/* Called once per svc_check_start, always from the loop (never inside svc_check_start).
 * why is a short reason ("HTTP 503", "connect: Connection refused"), valid during the call. */
typedef void (*svc_check_done_fn)(void *arg, bool ok, const char *why);

struct svc_check;

/* Parses "tcp" or "http:/PATH" into out. Returns 0, or -EINVAL with a one-line reason in err. */
int svc_check_parse(const char *text, struct svc_check_spec *out, char *err, size_t errlen);

/* Prepares checks of target on loop; spec and target are copied. Returns 0 and the check in
 * *out (freed by svc_check_destroy), or -errno. */
int svc_check_create(struct svc_check **out, struct evloop *loop, const struct svc_check_spec *spec,
		     const struct slb_addr *target, svc_check_done_fn done, void *arg);

/* Starts one check that fails unless it passes within timeout_ms. Returns 0 (done will be
 * called), or -EBUSY while the previous check has not reported yet. */
int svc_check_start(struct svc_check *ck, unsigned timeout_ms);

/* Abandons a running check without calling done, and frees ck. */
void svc_check_destroy(struct svc_check *ck);

#endif
