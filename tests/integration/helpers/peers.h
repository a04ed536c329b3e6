/* peers: real third-party programs as peers of slb in integration tests: nginx as a backend
 * that speaks the PROXY protocol, HAProxy as a balancer in front of slb that sends it. Each
 * runs in the foreground as one process, with its own config in a temp dir, on a loopback
 * port picked for it (started again on a fresh port when one was taken), and is stopped by
 * PID with the other children (testproc_stop_all). */
#ifndef SLB_PEERS_H
#define SLB_PEERS_H

#include <stdbool.h>
#include <stddef.h>

#include "testproc.h"

/* True when program name is installed (in PATH, /usr/sbin or /sbin). */
bool peers_have(const char *name);

/* A fresh directory under /tmp for one peer's config and logs (removed by the caller, or left
 * for a post-mortem). Returns 0 or -errno. */
int peers_tmpdir(char *dir, size_t len);

/* nginx in dir as an HTTP backend on 127.0.0.1:*port and [::1]:*port (ipv6) whose listeners
 * expect the PROXY protocol (v1 or v2, nginx tells them apart); it answers every request with
 * "$proxy_protocol_addr $proxy_protocol_port\n" and logs the same line to dir/access.log.
 * Returns the process or NULL (the reason is logged). */
struct testproc *peers_nginx_proxy_backend(const char *dir, bool ipv6, unsigned *port);

/* HAProxy in dir, TCP mode, on 127.0.0.1:*port, forwarding to 127.0.0.1:to_port with
 * server option send_opt ("send-proxy" or "send-proxy-v2"). Returns the process or NULL. */
struct testproc *peers_haproxy_front(const char *dir, unsigned to_port, const char *send_opt, unsigned *port);

/* Connects from src_ip (port picked by the kernel, returned in *src_port) to ip:port, sends
 * "GET / HTTP/1.0" and reads the answer's body into buf (NUL-terminated, without its final
 * newline). Returns the HTTP status or -errno. */
int peers_get_from(const char *src_ip, const char *ip, unsigned port, unsigned *src_port, char *buf, size_t len);

/* Copies file path whole into buf (NUL-terminated, truncated). Returns bytes read or -errno. */
long peers_read_file(const char *path, char *buf, size_t len);

#endif
