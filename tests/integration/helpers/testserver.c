/* testserver: the threaded core of the in-process test servers; see testserver.h. */
#include "testserver.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define POLL_STOP_MS 50 /* how often the thread looks at the stop flag when idle */
#define EVENTS_MAX 64

/* See testserver.h. */
int testserver_listen(unsigned *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* See testserver.h. */
int testserver_watch(struct testserver *ts, int fd, uint32_t events, void *conn)
{
	struct epoll_event ev = { .events = events, .data.ptr = conn };

	return epoll_ctl(ts->ep, EPOLL_CTL_ADD, fd, &ev) == -1 ? -errno : 0;
}

/* See testserver.h. */
int testserver_rewatch(struct testserver *ts, int fd, uint32_t events, void *conn)
{
	struct epoll_event ev = { .events = events, .data.ptr = conn };

	return epoll_ctl(ts->ep, EPOLL_CTL_MOD, fd, &ev) == -1 ? -errno : 0;
}

/* See testserver.h. */
void testserver_close(struct testserver *ts, int fd)
{
	epoll_ctl(ts->ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static void accept_all(struct testserver *ts)
{
	int fd;

	while ((fd = accept4(ts->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		ts->ops->accepted(ts, fd);
}

static void *server_thread(void *arg)
{
	struct testserver *ts = arg;
	struct epoll_event evs[EVENTS_MAX];
	int timeout = POLL_STOP_MS;

	while (!atomic_load(&ts->stop)) {
		int n = epoll_wait(ts->ep, evs, EVENTS_MAX, timeout);

		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				accept_all(ts);
			else
				ts->ops->event(ts, evs[i].data.ptr, evs[i].events);
		}
		timeout = ts->ops->idle ? ts->ops->idle(ts) : POLL_STOP_MS;
		if (timeout < 0 || timeout > POLL_STOP_MS)
			timeout = POLL_STOP_MS;
	}
	if (ts->ops->stopped)
		ts->ops->stopped(ts);
	return NULL;
}

/* See testserver.h. */
int testserver_start(struct testserver *ts, const struct testserver_ops *ops, void *ctx)
{
	int rc;

	*ts = (struct testserver){ .ops = ops, .ctx = ctx };
	ts->listen_fd = testserver_listen(&ts->port);
	if (ts->listen_fd < 0)
		return ts->listen_fd;
	ts->ep = epoll_create1(EPOLL_CLOEXEC);
	if (ts->ep == -1) {
		rc = -errno;
		goto out_close_listen;
	}
	rc = testserver_watch(ts, ts->listen_fd, EPOLLIN, NULL);
	if (rc)
		goto out_close_ep;
	rc = -pthread_create(&ts->thread, NULL, server_thread, ts);
	if (rc)
		goto out_close_ep;
	ts->running = true;
	return 0;

out_close_ep:
	close(ts->ep);
out_close_listen:
	close(ts->listen_fd);
	return rc;
}

/* See testserver.h. */
void testserver_stop(struct testserver *ts)
{
	if (!ts->running)
		return;
	ts->running = false;
	atomic_store(&ts->stop, 1);
	pthread_join(ts->thread, NULL);
	close(ts->ep);
	close(ts->listen_fd);
}
