/* echo_server: in-process TCP servers on loopback for relay tests: an echo server that
 * passes half-closes on, and a "talk first" server (each one testserver thread) that sends, half-closes, then counts. */
#ifndef SLB_TEST_ECHO_SERVER_H
#define SLB_TEST_ECHO_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "testserver.h"

enum echo_mode {
	ECHO_MODE_ECHO = 0,    /* echo every byte; after EOF and a flush, shutdown(SHUT_WR) */
	ECHO_MODE_TALK_FIRST,  /* send talk_bytes, shutdown(SHUT_WR), then read and count until EOF */
};

struct echo_server {
	struct testserver srv;       /* the listener and thread */
	unsigned port;               /* where it listens on 127.0.0.1 */
	enum echo_mode mode;
	size_t talk_bytes;
	_Atomic uint64_t received;   /* bytes read over all connections */
	_Atomic uint64_t received_fnv; /* FNV-1a 64 of those bytes in the order read (one
					* connection's stream when only one was open) */
	_Atomic unsigned accepted;
	_Atomic unsigned eof_seen;   /* connections whose client half-closed */
};

/* Listens on 127.0.0.1 on a free port and serves from a thread. Returns 0 or -errno. */
int echo_server_start(struct echo_server *s, enum echo_mode mode, size_t talk_bytes);

/* Stops the thread and closes the listener; does nothing for a server that is not running (a
 * zeroed one included), so a suite's .fini may call it whatever the test did. */
void echo_server_stop(struct echo_server *s);

/* A non-blocking listener on 127.0.0.1 on a free port (stored in *port): testserver_listen.
 * Returns its fd or -errno. */
int echo_listen_loopback(unsigned *port);

/* FNV-1a 64 (testproc_fnv) of the first n bytes a ECHO_MODE_TALK_FIRST connection sends. */
uint64_t echo_talk_fnv(size_t n);

/* A port on 127.0.0.1 where nothing listens (connects are refused). */
unsigned refused_port(void);

#endif
