/* evloop: the single-threaded epoll loop of slb-agent and slb-backend: fd watches with callbacks,
 * timerfd timers, one end-of-turn hook and a stop flag; it knows nothing of HTTP or heartbeats. */
#ifndef SLB_AGENT_EVLOOP_H
#define SLB_AGENT_EVLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The struct that embeds member at ptr: how a callback gets from its ev_watch to its owner. */
#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

struct ev_watch;

/* events: the epoll bits that fired. Treat them as a hint: a handler must cope with a
 * spurious wakeup (read/write simply return EAGAIN), because a watch reused within one
 * turn can see an event meant for its previous fd. */
typedef void (*ev_watch_fn)(struct ev_watch *w, uint32_t events);
typedef void (*ev_turn_fn)(void *arg);

struct ev_watch {
	int fd;          /* -1 while not added */
	uint32_t events; /* interest currently registered with epoll */
	ev_watch_fn fn;
};

struct evloop {
	int epfd;
	bool stop;          /* checked once per turn, set by evloop_stop */
	ev_turn_fn turn_end; /* runs after each batch: the place to free what handlers closed */
	void *turn_end_arg;
};

/* Creates the epoll instance. Returns 0 or -errno. */
int evloop_init(struct evloop *loop);

/* Closes the epoll instance; watches still added are forgotten, their fds stay open. */
void evloop_close(struct evloop *loop);

/* Starts watching fd for events (level-triggered) and calls fn from evloop_run.
 * The caller keeps owning both w and fd; w must stay valid until evloop_del.
 * Returns 0 or -errno. */
int evloop_add(struct evloop *loop, struct ev_watch *w, int fd, uint32_t events, ev_watch_fn fn);

/* Changes the interest of an added watch; a no-op when it is unchanged. Returns 0 or -errno. */
int evloop_modify(struct evloop *loop, struct ev_watch *w, uint32_t events);

/* Stops watching (before the caller closes the fd) and sets w->fd to -1. Safe on a watch
 * that was never added. */
void evloop_del(struct evloop *loop, struct ev_watch *w);

/* Dispatches events until evloop_stop is called. Returns 0, or -errno when epoll_wait fails
 * for a reason other than EINTR. */
int evloop_run(struct evloop *loop);

/* Makes evloop_run return after the current turn. */
void evloop_stop(struct evloop *loop);

/* Opens a non-blocking monotonic timerfd. Returns the fd or -errno. */
int evloop_timer_open(void);

/* Arms a timerfd to fire first after first_ms (0 disarms), then every period_ms (0: once).
 * Returns 0 or -errno. */
int evloop_timer_arm(int fd, unsigned first_ms, unsigned period_ms);

/* Consumes the expirations of a fired timerfd. Returns how many, 0 on a spurious wakeup. */
uint64_t evloop_timer_ack(int fd);

/* Blocks the n signals (so they only arrive through the fd; call before starting threads)
 * and opens a non-blocking signalfd for them. Returns the fd or -errno. */
int evloop_signal_open(const int *signals, size_t n);

/* Reads one pending signal from a signalfd. Returns its number, or 0 when none is pending. */
int evloop_signal_read(int fd);

/* Monotonic clock in milliseconds. */
int64_t evloop_now_ms(void);

#endif
