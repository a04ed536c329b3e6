/* evloop: epoll plus timerfd for slb-agent and slb-backend; see evloop.h. */
#include "evloop.h"

#include <errno.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "slb/common/clock.h"

#define EVLOOP_BATCH 256

/* See evloop.h. */
int evloop_init(struct evloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd == -1)
		return -errno;
	return 0;
}

/* See evloop.h. */
void evloop_close(struct evloop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

/* See evloop.h. */
int evloop_add(struct evloop *loop, struct ev_watch *w, int fd, uint32_t events, ev_watch_fn fn)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -errno;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	return 0;
}

/* See evloop.h. */
int evloop_modify(struct evloop *loop, struct ev_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (w->events == events)
		return 0;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) == -1)
		return -errno;
	w->events = events;
	return 0;
}

/* See evloop.h. */
void evloop_del(struct evloop *loop, struct ev_watch *w)
{
	if (w->fd < 0)
		return;
	/* Can only fail if the fd was already closed, which drops it from epoll anyway. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->fd = -1;
	w->events = 0;
}

/* See evloop.h. */
int evloop_run(struct evloop *loop)
{
	struct epoll_event evs[EVLOOP_BATCH];

	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, evs, EVLOOP_BATCH, -1);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct ev_watch *w = evs[i].data.ptr;

			w->fn(w, evs[i].events);
		}
		if (loop->turn_end)
			loop->turn_end(loop->turn_end_arg);
	}
	return 0;
}

/* See evloop.h. */
void evloop_stop(struct evloop *loop)
{
	loop->stop = true;
}

/* See evloop.h. */
int evloop_timer_open(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	return fd == -1 ? -errno : fd;
}

static struct timespec ms_to_timespec(unsigned ms)
{
	return (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
}

/* See evloop.h. */
int evloop_timer_arm(int fd, unsigned first_ms, unsigned period_ms)
{
	struct itimerspec its = {
		.it_value = ms_to_timespec(first_ms),
		.it_interval = ms_to_timespec(period_ms),
	};

	if (timerfd_settime(fd, 0, &its, NULL) == -1)
		return -errno;
	return 0;
}

/* See evloop.h. */
uint64_t evloop_timer_ack(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return 0;
	return n;
}

/* See evloop.h. */
int evloop_signal_open(const int *signals, size_t n)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd == -1 ? -errno : fd;
}

/* See evloop.h. */
int evloop_signal_read(int fd)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/* See evloop.h. */
int64_t evloop_now_ms(void)
{
	return clock_now_ms();
}
