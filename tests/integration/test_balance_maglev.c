/* Maglev end to end: a client address keeps its backend across connections (new source
 * ports), and two slb instances with the same backends and --hash-seed, given the backends in
 * another order, send each client to the same backend. Clients connect from 127.0.0.2-33 (all
 * of 127/8 is loopback on Linux) so they hash apart. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faultkit.h"
#include "testproc.h"

#define IO_MS 5000
#define N_CLIENTS 32

TestSuite(balance_maglev, .fini = testproc_stop_all, .timeout = 120);

/* Connects to 127.0.0.1:port from 127.0.0.<host>. Returns the fd or -errno. */
static int connect_from(unsigned host, unsigned port)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = IO_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -errno;
	src.sin_addr.s_addr = htonl(0x7f000000u | host);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* The name of the backend that answered GET / from 127.0.0.<host> through slb on port. */
static void backend_for(unsigned host, unsigned port, char *name, size_t len)
{
	char buf[4096], *body;
	ssize_t n;
	int fd = connect_from(host, port);

	cr_assert_geq(fd, 0, "connect from 127.0.0.%u: %s", host, strerror(-fd));
	cr_assert_eq(faultkit_send_get(fd, "/", true, IO_MS), 0);
	n = testproc_read_full(fd, buf, sizeof(buf) - 1, IO_MS);
	close(fd);
	cr_assert_gt(n, 0, "no answer for 127.0.0.%u", host);
	buf[n] = '\0';
	body = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(body, "no head in: %s", buf);
	faultkit_backend_name(body + 4, name, len);
	cr_assert(name[0], "no backend name in: %s", buf);
}

Test(balance_maglev, same_client_same_backend_on_every_instance)
{
	static struct faultkit_slb a, b;
	char be[3][32], first[32], again[32], other[32];
	unsigned distinct = 0;
	char seen[3][32] = { "", "", "" };

	faultkit_backend_ok("m1", be[0], sizeof(be[0]));
	faultkit_backend_ok("m2", be[1], sizeof(be[1]));
	faultkit_backend_ok("m3", be[2], sizeof(be[2]));
	faultkit_slb_start_ok(&a, 0, (const char *const[]){ "--workers", "2", "--balance", "maglev", "--hash-seed",
							  "9", "--backend", be[0], "--backend", be[1], "--backend",
							  be[2], NULL });
	faultkit_slb_start_ok(&b, 0, (const char *const[]){ "--workers", "1", "--balance", "maglev", "--hash-seed",
							  "9", "--backend", be[2], "--backend", be[0], "--backend",
							  be[1], NULL });
	for (unsigned host = 2; host < 2 + N_CLIENTS; host++) {
		backend_for(host, a.port, first, sizeof(first));
		backend_for(host, a.port, again, sizeof(again));
		backend_for(host, b.port, other, sizeof(other));
		cr_assert_str_eq(first, again, "127.0.0.%u moved between connections", host);
		cr_assert_str_eq(first, other, "127.0.0.%u: the instances disagree", host);
		for (unsigned k = 0; k < 3; k++) {
			if (strcmp(seen[k], first) == 0)
				break;
			if (!seen[k][0]) {
				snprintf(seen[k], sizeof(seen[k]), "%s", first);
				distinct++;
				break;
			}
		}
	}
	cr_assert_geq(distinct, 2, "%u clients all hashed to one backend", N_CLIENTS);
	faultkit_slb_stop_ok(&a, IO_MS);
	faultkit_slb_stop_ok(&b, IO_MS);
}
