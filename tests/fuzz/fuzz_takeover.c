/* libFuzzer harness for the takeover protocol's messages as a peer could send them
 * (handover_recv, then handover_parse). An input is a conversation: messages separated by
 * '\n', each sent as one SEQPACKET message; one that starts with '+' carries a descriptor (the
 * '+' is not sent), one that starts with '*' two. Beyond ASan and UBSan, it checks what
 * takeover.c relies on: every message is either refused (-EPROTO, a short printable reason,
 * its descriptors closed) or parsed into a known verb whose descriptor and argument are those
 * the grammar gives it; and no descriptor is left open after the conversation. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/common/handover.h"

#define MSGS_MAX 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* Sends buf[0..len) with nfds descriptors (copies of a pipe end). */
static void send_raw(int sock, const uint8_t *buf, size_t len, int fd, int nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	int fds[2] = { fd, fd };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	check(sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len);
}

static void check_why(const char *why, size_t cap)
{
	size_t n = strnlen(why, cap);

	check(n > 0 && n < cap);
	for (size_t i = 0; i < n; i++)
		check(why[i] >= 0x20 && why[i] < 0x7f);
}

/* A parsed message agrees with the grammar: the verb's name starts the line, the argument is
 * the rest of it, and the same line with the descriptor the other way round is refused. */
static void check_msg(const char *line, int n, bool has_fd, const struct handover_msg *m)
{
	const char *name = handover_verb_name(m->verb);
	struct handover_msg again;
	char why[96];

	check(strcmp(name, "NONE") != 0);
	check(strncmp(line, name, strlen(name)) == 0);
	check(m->arg == line + n || (line[strlen(name)] == ' ' && m->arg == line + strlen(name) + 1));
	check(handover_parse(line, !has_fd, &again, why, sizeof(why)) == -EPROTO);
	check(m->pid >= 0);
	check(m->pid == 0 || m->verb == HANDOVER_END || m->verb == HANDOVER_OK);
	check(m->verb != HANDOVER_OK || m->pid > 0);
}

/* Receives and parses one message; closes what it carried. */
static void receive_one(int sock)
{
	char line[HANDOVER_LINE_MAX], why[96];
	struct handover_msg m;
	int fd, n = handover_recv(sock, line, sizeof(line), &fd, 0), rc;

	check(n >= 0 || n == -EPROTO || n == -ECONNRESET);
	if (n < 0) {
		check(fd == -1);
		return;
	}
	memset(why, 0, sizeof(why));
	rc = handover_parse(line, fd >= 0, &m, why, sizeof(why));
	check(rc == 0 || rc == -EPROTO);
	if (rc == 0)
		check_msg(line, n, fd >= 0, &m);
	else
		check_why(why, sizeof(why));
	if (fd >= 0)
		close(fd);
}

/* The lowest free descriptor: the same before and after, or something leaked. */
static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	check(fd >= 0);
	close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int pair[2], p[2], before = lowest_free_fd(), sent = 0;
	size_t start = 0;

	check(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
	check(pipe2(p, O_CLOEXEC) == 0);
	for (size_t i = 0; i <= size && sent < MSGS_MAX; i++) {
		const uint8_t *msg = data + start;
		size_t len = i - start;
		int nfds = 0;

		if (i < size && data[i] != '\n')
			continue;
		start = i + 1;
		if (len && (msg[0] == '+' || msg[0] == '*')) {
			nfds = msg[0] == '+' ? 1 : 2;
			msg++, len--;
		}
		if (!len && !nfds)
			continue; /* an empty message reads as the peer's close */
		send_raw(pair[0], msg, len, p[1], nfds);
		receive_one(pair[1]);
		sent++;
	}
	close(pair[0]);
	close(pair[1]);
	close(p[0]);
	close(p[1]);
	check(lowest_free_fd() == before);
	return 0;
}
