/* fakehb: a scripted stand-in for slb's heartbeat port (the protocol in slb/heartbeat.h), so
 * tests can drive and observe a heartbeat peer (slb-backend, slb-agent) line by line. */
#ifndef SLB_FAKEHB_H
#define SLB_FAKEHB_H

#include <stddef.h>

/* Accepts one peer on listen_fd, sends "HELLO slb/1 nonce=...", reads its REGISTER line into
 * reg (without "\n") and answers "OK registered id=ID interval=INTERVAL timeout=TIMEOUT".
 * Returns the session fd (the caller closes it), or -errno: -ETIMEDOUT when nothing
 * happened within wait_ms, -EPROTO when the first line is not a REGISTER. */
int fakehb_accept_register(int listen_fd, unsigned id, unsigned interval_ms, unsigned timeout_ms,
			   char *reg, size_t reglen, int wait_ms);

/* Reads the peer's next line into line. When it is a HEARTBEAT, answers "OK state=S
 * interval=INTERVAL" with S taken from the line (up when absent). Returns the line length,
 * or -errno as testproc_read_line (-EPIPE when the peer closed). */
int fakehb_read_line(int fd, unsigned interval_ms, char *line, size_t len, int timeout_ms);

/* Copies the value of "key=value" in line into buf. Returns buf, or NULL when absent. */
const char *fakehb_value(const char *line, const char *key, char *buf, size_t len);

#endif
