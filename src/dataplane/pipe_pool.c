/* pipe_pool: lend empty pipes to splicing connections, keep at most cap open. */
#include "slb/dataplane/pipe_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int pipe_pool_init(struct pipe_pool *p, unsigned cap)
{
	p->n_free = 0;
	p->n_open = 0;
	p->cap = cap;
	p->free = cap ? calloc(cap, sizeof(*p->free)) : NULL;
	if (cap && !p->free)
		return -ENOMEM;
	return 0;
}

int pipe_pool_get(struct pipe_pool *p, struct pipe_pair *out)
{
	int fds[2];

	if (p->n_free) {
		*out = p->free[--p->n_free];
		return 0;
	}
	if (p->n_open >= p->cap)
		return -EAGAIN;
	/* O_NONBLOCK: a splice must never park an io-wq thread on a full or empty pipe. */
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		return -errno;
	p->n_open++;
	out->rd = fds[0];
	out->wr = fds[1];
	return 0;
}

void pipe_pool_put(struct pipe_pool *p, struct pipe_pair pp, int empty)
{
	if (empty && p->n_free < p->cap) {
		p->free[p->n_free++] = pp;
		return;
	}
	close(pp.rd);
	close(pp.wr);
	p->n_open--;
}

void pipe_pool_free(struct pipe_pool *p)
{
	while (p->n_free) {
		struct pipe_pair pp = p->free[--p->n_free];

		close(pp.rd);
		close(pp.wr);
	}
	p->n_open = 0;
	free(p->free);
	p->free = NULL;
}
