/* failq: a single-producer single-consumer ring from one worker to the health thread,
 * carrying connect failures and successes per backend. Never blocks; a full ring drops. */
#ifndef SLB_FAILQ_H
#define SLB_FAILQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define FAILQ_SIZE 1024 /* power of two */

enum failq_kind {
	FAILQ_NONE = 0,
	FAILQ_CONNECT_OK,      /* a connect succeeded: resets the consecutive-failure count */
	FAILQ_CONNECT_REFUSED,
	FAILQ_CONNECT_TIMEOUT,
	FAILQ_CONNECT_ERROR,   /* any other connect error (unreachable, reset) */
	FAILQ_RESET,           /* established connection reset by the backend */
	FAILQ_LOOP,            /* the connect reached slb's own listener: the backend is slb */
};

struct failq_event {
	uint32_t backend_id;
	uint32_t kind; /* enum failq_kind */
};

struct failq {
	_Alignas(64) _Atomic uint32_t head; /* written by the producer */
	_Alignas(64) _Atomic uint32_t tail; /* written by the consumer */
	_Alignas(64) _Atomic uint64_t dropped;
	struct failq_event ev[FAILQ_SIZE];
};

/* Producer (worker) side. Returns false when the ring is full (the event is counted dropped). */
bool failq_push(struct failq *q, uint32_t backend_id, enum failq_kind kind);

/* Consumer (health) side. Returns true and fills *out, or false when empty. */
bool failq_pop(struct failq *q, struct failq_event *out);

const char *failq_kind_name(enum failq_kind kind);

#endif
