/* hb_client: the peer side of slb's heartbeat protocol (see slb/common/heartbeat.h): connect,
 * REGISTER, a HEARTBEAT every interval, reconnect with backoff, every line signed when given a
 * key; slb-agent's, and slb-backend registers through it too. */
#ifndef SLB_AGENT_HB_CLIENT_H
#define SLB_AGENT_HB_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "evloop.h"
#include "slb/common/addr.h"
#include "slb/common/hbauth.h"
#include "slb/common/heartbeat.h"

#define HB_CLIENT_BACKOFF_MIN_MS 100  /* first reconnect delay, doubled per failure */
#define HB_CLIENT_BACKOFF_MAX_MS 2000
#define HB_CLIENT_DEFAULT_INTERVAL_MS 1000 /* when neither the user nor slb gives one */

/* Called with each "OK ..." reply to a HEARTBEAT (NUL-terminated, without "\n"), for example
 * "OK state=drain interval=1000 conns=0 drained". Same rules as the report function. */
typedef void (*hb_client_reply_fn)(void *arg, const char *line);

struct hb_client_config {
	struct slb_addr lb;      /* slb's heartbeat port */
	struct slb_addr service; /* the address announced in REGISTER */
	char name[HB_NAME_MAX];  /* "" sends no name= */
	char service_name[HB_SERVICE_MAX]; /* slb's service to join; "" sends no service= */
	unsigned weight;         /* 0 sends no weight= */
	unsigned interval_ms;    /* 0: the interval slb answers in OK registered */
	const struct hbauth_key *key; /* NULL: lines go unsigned; else signs every line (see
				       * slb/common/heartbeat.h); the caller keeps it alive and unchanged
				       * until hb_client_stop */
	hb_client_reply_fn on_reply;  /* NULL: replies are only counted as signs of life */
};

/* Asked right before each REGISTER (verb HB_VERB_REGISTER) and HEARTBEAT for what to report.
 * *state starts at HB_STATE_UP and *load at -1 (left out of the line). It runs inside the
 * event loop: it must not block, and must not call hb_client_stop. It may _exit. */
typedef void (*hb_client_report_fn)(void *arg, enum hb_verb verb, enum hb_state *state, int *load);


struct hb_client;

/* Starts libsodium and loads the key file for hb_client_config.key (see hbauth_load_key).
 * Returns 0, or -errno with a one-line reason in err. */
int hb_client_load_key(const char *path, struct hbauth_key *key, char *err, size_t errlen);

/* Starts connecting to cfg->lb at once and keeps a registration alive from then on, all
 * inside loop. cfg is copied. Returns 0 and the client in *out (freed by hb_client_stop),
 * or -errno (-ENOMEM, or a timerfd/epoll failure). Connection failures are never returned:
 * they are logged and retried with backoff. */
int hb_client_start(struct hb_client **out, struct evloop *loop, const struct hb_client_config *cfg,
		    hb_client_report_fn report, void *arg);

/* Sends a HEARTBEAT now, off schedule, when registered (e.g. on a state change); does nothing
 * otherwise, since the next REGISTER asks report() anyway. */
void hb_client_send_now(struct hb_client *c);

/* True between slb's "OK registered" and the loss of that connection. */
bool hb_client_registered(const struct hb_client *c);

/* True when slb's last answer on this session said " drained" (a draining backend with no
 * connection left through this instance). */
bool hb_client_drained(const struct hb_client *c);

/* HEARTBEAT lines handed to the kernel so far, over all connections. */
uint64_t hb_client_heartbeats_sent(const struct hb_client *c);

/* Says BYE when registered (best effort, without blocking), closes and frees c. */
void hb_client_stop(struct hb_client *c);

#endif
