/* rogue: in-process TCP servers on 127.0.0.1 that misbehave the way real backends do (accept
 * and never answer, answer late or in slow pieces, reset in the middle of an answer), and a
 * relay that delays every byte by a fixed time, for latency between slb and a backend (this
 * kernel has no tc netem).
 *
 * Each accepts on a testserver thread and serves every connection on threads of its own, with
 * blocking-free sockets, and polls at most 50 ms at a time,
 * so stop() returns promptly whatever the peers do. Answers carry slb-backend's /bytes
 * pattern, so a client can check them with faultkit_pattern_fnv(). */
#ifndef SLB_ROGUE_H
#define SLB_ROGUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "testserver.h"

#define ROGUE_CONNS_MAX 256

enum rogue_mode {
	ROGUE_SILENT = 0, /* read requests, never answer, never close */
	ROGUE_SLOW,       /* answer after delay_ms, the body in pieces gap_ms apart, then close */
	ROGUE_RESET,      /* send the head and reset_after body bytes, then reset (RST) */
	ROGUE_DROP,       /* read the request head, then reset (RST) without a byte back */
};

struct rogue_opts {
	enum rogue_mode mode;
	unsigned delay_ms;   /* SLOW: wait before the head */
	size_t body_len;     /* Content-Length of the answer */
	size_t reset_after;  /* RESET: body bytes sent before the reset */
	unsigned pieces;     /* SLOW: body written in this many pieces (0 or 1: one write) */
	unsigned gap_ms;     /* SLOW: pause between two pieces */
};

struct rogue {
	struct rogue_opts o;
	struct testserver srv;      /* the listener and its accepting thread */
	unsigned port;
	_Atomic unsigned accepted;
	_Atomic unsigned requests;  /* request heads read */
	_Atomic unsigned answered;  /* SLOW: answers sent whole; RESET: answers cut by the reset;
				     * DROP: requests dropped */
	_Atomic unsigned peer_closed; /* connections the peer (slb) closed */
	_Atomic int stop;
	_Atomic unsigned n_conns;
	pthread_t conn_tid[ROGUE_CONNS_MAX];
};

/* Listens on 127.0.0.1 on a free port and serves from a thread. Returns 0 or -errno. */
int rogue_start(struct rogue *r, const struct rogue_opts *o);

/* Stops the threads (closing every connection) and the listener. */
void rogue_stop(struct rogue *r);

/* A TCP relay 127.0.0.1:port -> 127.0.0.1:target_port that holds every chunk of bytes for
 * delay_ms before passing it on, in both directions. Half-closes pass through once the
 * bytes before them are delivered; an error on either side shuts both down. */
struct delay_relay {
	unsigned port;
	unsigned target_port;
	unsigned delay_ms;
	struct testserver srv;      /* the listener and its accepting thread */
	_Atomic unsigned accepted;
	_Atomic int stop;
	_Atomic unsigned n_threads;
	pthread_t tids[2 * ROGUE_CONNS_MAX];
};

/* Starts the relay on a free port. Returns 0 or -errno. */
int delay_relay_start(struct delay_relay *d, unsigned target_port, unsigned delay_ms);

/* Stops every thread and closes every socket. */
void delay_relay_stop(struct delay_relay *d);

#endif
