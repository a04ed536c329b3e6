/* reload: SIGHUP. Like main, it is the only code besides main.c that talks to both planes. */
#ifndef SLB_RELOAD_H
#define SLB_RELOAD_H

#include "slb/common/config.h"

/* Remembers how slb was started (argv is re-read on each reload: defaults, the config file,
 * then the command line, as at start) and the running configuration, which both planes
 * already use. Call once, before the first reload_run. */
void reload_init(int argc, char **argv, const struct slb_config *running);

/* The configuration in force: the one from start-up until a reload succeeds. */
const struct slb_config *reload_current(void);

/* Re-reads and validates the whole configuration. Any error: one log line per error, then
 * "reload rejected", and nothing changes. Otherwise settings that need new sockets or threads
 * keep their running values (each change logged as waiting for the next upgrade), every
 * other change is logged once and applied to the health thread and then to the workers.
 * Returns 0 (applied, or nothing changed), -EINVAL (rejected) or -errno. */
int reload_run(void);

#endif
