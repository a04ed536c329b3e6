/* testserver: the threaded core of the in-process test servers (echo_server, delay_server,
 * rogue and its delay_relay): a non-blocking listener on a free port of 127.0.0.1, one epoll
 * thread that accepts every newcomer and hands it, and each event on a connection it watches,
 * to the server's own handlers, and a stop that joins the thread. A server keeps only its
 * behaviour: what to do with a new connection, with an event on one, and (optionally) when it
 * next wants to run without one. */
#ifndef SLB_TEST_TESTSERVER_H
#define SLB_TEST_TESTSERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct testserver;

/* Called on the server's thread, one at a time. */
struct testserver_ops {
	/* A new non-blocking connection: watch it (testserver_watch) or close it. */
	void (*accepted)(struct testserver *ts, int fd);
	/* epoll events on a connection watched with conn (never NULL). NULL for a server that
	 * watches none: one that hands each connection to a thread of its own (rogue). */
	void (*event)(struct testserver *ts, void *conn, uint32_t events);
	/* After each turn of the loop: the ms until it wants to run again without an event
	 * (-1: only on events). NULL: the thread looks at the stop flag every 50 ms. */
	int (*idle)(struct testserver *ts);
	/* Once the loop ended, before the thread exits (may be NULL): close what is left open. */
	void (*stopped)(struct testserver *ts);
};

struct testserver {
	unsigned port;                    /* where it listens on 127.0.0.1 */
	void *ctx;                        /* the server's own state, for its handlers */
	const struct testserver_ops *ops;
	int listen_fd;
	int ep;                           /* the thread's epoll */
	_Atomic int stop;
	pthread_t thread;
	bool running;                     /* started and not yet stopped */
};

/* Listens on a free port of 127.0.0.1 and starts the thread. Returns 0 or -errno (nothing is
 * left open then). */
int testserver_start(struct testserver *ts, const struct testserver_ops *ops, void *ctx);

/* Stops the thread (ops->stopped runs on it) and closes the listener; does nothing for a
 * server that is not running (a zeroed one included), so a suite's .fini may call it whatever
 * the test did. */
void testserver_stop(struct testserver *ts);

/* Adds fd to the thread's epoll with events, reported to ops->event with conn. Returns 0 or
 * -errno. */
int testserver_watch(struct testserver *ts, int fd, uint32_t events, void *conn);

/* Changes the events fd is watched for. Returns 0 or -errno. */
int testserver_rewatch(struct testserver *ts, int fd, uint32_t events, void *conn);

/* Stops watching fd and closes it. */
void testserver_close(struct testserver *ts, int fd);

/* A non-blocking listener on 127.0.0.1 on a free port (stored in *port). Returns its fd or
 * -errno. */
int testserver_listen(unsigned *port);

#endif
