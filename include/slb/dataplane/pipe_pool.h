/* pipe_pool: a worker's pipes for splice. A connection holds a pipe only while bytes sit in
 * it; empty pipes come back here, so descriptors scale with transfers in flight, not with
 * open connections. Single-threaded (one pool per worker). */
#ifndef SLB_PIPE_POOL_H
#define SLB_PIPE_POOL_H

#include <stdint.h>

struct pipe_pair {
	int rd, wr;
};

struct pipe_pool {
	struct pipe_pair *free; /* stack of empty pipes */
	unsigned n_free;
	unsigned n_open;        /* pipes created and not closed, free or lent */
	unsigned cap;           /* most pipes this pool will hold open */
};

/* Returns 0 or -ENOMEM. cap 0 disables splicing (every get fails). */
int pipe_pool_init(struct pipe_pool *p, unsigned cap);

/* Lends an empty pipe: from the stack, or a new one while under cap.
 * Returns 0, -EAGAIN at cap, or -errno from pipe2 (EMFILE...). */
int pipe_pool_get(struct pipe_pool *p, struct pipe_pair *out);

/* Takes back a pipe. empty=false (bytes left after an abort) closes it instead of reusing it. */
void pipe_pool_put(struct pipe_pool *p, struct pipe_pair pp, int empty);

void pipe_pool_free(struct pipe_pool *p);

#endif
