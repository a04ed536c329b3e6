/* delay_server: an in-process HTTP backend that answers every request "backend NAME" (what
 * loadgen records) after delay_ms, which a test may change while it runs: the slow but
 * alive backend of the gray-failure tests. One epoll thread (testserver); connections wait for their
 * answer in a fixed table, never in a thread of their own. */
#ifndef SLB_TEST_DELAY_SERVER_H
#define SLB_TEST_DELAY_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "testserver.h"

#define DELAY_SERVER_CONNS 256 /* open at once; past it a newcomer is closed */

struct delay_conn {
	int fd;                   /* -1: free */
	int64_t due_ms;           /* 0 while the request is read; then when to answer */
	size_t got;               /* request bytes so far */
	char req[1024];
};

struct delay_server {
	struct testserver srv;    /* the listener and thread */
	unsigned port;            /* where it listens on 127.0.0.1 */
	char name[32];
	_Atomic int delay_ms;     /* for requests whose head arrives from now on */
	_Atomic unsigned answered;
	struct delay_conn conns[DELAY_SERVER_CONNS];
};

/* Listens on 127.0.0.1 on a free port and serves from a thread. Returns 0 or -errno. */
int delay_server_start(struct delay_server *s, const char *name, int delay_ms);

/* Stops the thread and closes everything; does nothing for a server that is not running. */
void delay_server_stop(struct delay_server *s);

#endif
