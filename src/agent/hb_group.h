/* hb_group: one heartbeat session per slb instance, for a backend behind several instances
 * (docs/scale-out.md). Each session is its own hb_client on the caller's one evloop, with
 * its own socket, timer and backoff, so an instance that is down or slow to answer delays
 * nothing sent to the others. */
#ifndef SLB_AGENT_HB_GROUP_H
#define SLB_AGENT_HB_GROUP_H

#include <stdint.h>

#include "cli.h"
#include "hb_client.h"

struct hb_group {
	unsigned n;                          /* sessions started; 0 before hb_group_start */
	struct hb_client *c[CLI_ADDRS_MAX];  /* one per instance, in the order of the list */
};

/* Starts one hb_client per address of lbs, each with cfg (whose lb is ignored) and the same
 * report callback. Returns 0, or -errno from hb_client_start with no session left running. */
int hb_group_start(struct hb_group *g, struct evloop *loop, const struct cli_addr_list *lbs,
		   const struct hb_client_config *cfg, hb_client_report_fn report, void *arg);

/* hb_client_send_now on every session. */
void hb_group_send_now(struct hb_group *g);

/* True when some session is registered. */
bool hb_group_registered(const struct hb_group *g);

/* True when every registered session's last answer said drained (and at least one is
 * registered): no instance holds a connection to this backend any more. */
bool hb_group_drained(const struct hb_group *g);

/* The most HEARTBEATs any one session has sent: the heartbeat periods that have passed
 * with at least one instance listening. */
uint64_t hb_group_heartbeats_sent(const struct hb_group *g);

/* Says BYE on every registered session, closes all; g is empty afterwards. */
void hb_group_stop(struct hb_group *g);

#endif
