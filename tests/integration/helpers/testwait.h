/* testwait: how long a test waits for an event, in one place. A test keeps the product's
 * promise (e.g. "out within 100 ms of the close") as a figure it prints beside what it
 * measured, and waits for the event itself with a budget chosen so that only a wrong
 * behaviour runs it out (for example: below the heartbeat timeout that would take the backend
 * out the slow way), never a busy machine. Every budget goes through testwait_ms(), which
 * stretches it under a sanitizer, where everything runs several times slower. */
#ifndef SLB_TESTWAIT_H
#define SLB_TESTWAIT_H

/* The one scale factor: budgets are this many times longer when SLB_SANITIZER is set
 * (scripts/ci-extra.sh sets it for its ASan and TSan runs). */
#define TESTWAIT_SANITIZER_SCALE 5

/* TESTWAIT_SANITIZER_SCALE under a sanitizer, else 1. */
int testwait_scale(void);

/* ms times testwait_scale(): the budget to pass to a wait. */
int testwait_ms(int ms);

/* Prints "measured: WHAT took MS ms (promised within PROMISE_MS ms)" on stderr, and says when
 * it was slower than promised, so a run's output keeps the figures a benchmark would. */
void testwait_report(const char *what, double took_ms, int promise_ms);

/* Polls a connect to 127.0.0.1:port every 10 ms (closing any that succeeds) until one is
 * refused, for at most budget_ms (pass it through testwait_ms). Returns the milliseconds it
 * took, or -ETIMEDOUT. */
int testwait_connect_refused(unsigned port, int budget_ms);

#endif
