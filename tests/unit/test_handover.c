/* handover: lines and descriptors cross the control socket together; malformed messages are
 * refused with their descriptors closed; the socket file is private and a live one is never
 * taken from a running slb. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slb/common/handover.h"

static int pair[2];

static void pair_open(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
}

static void pair_close(void)
{
	close(pair[0]);
	close(pair[1]);
}

TestSuite(handover, .init = pair_open, .fini = pair_close);

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

Test(handover, line_and_descriptor_arrive_together)
{
	char line[HANDOVER_LINE_MAX];
	int p[2], fd;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(handover_send(pair[0], "LISTEN 127.0.0.1:80", p[1]), 0);
	cr_assert_eq(handover_send(pair[0], "END", -1), 0);
	cr_assert_eq(handover_recv(pair[1], line, sizeof(line), &fd, 1000), 19);
	cr_assert_str_eq(line, "LISTEN 127.0.0.1:80");
	cr_assert_geq(fd, 0);
	cr_assert_neq(fd, p[1], "a received descriptor is a new one");
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(write(fd, "x", 1), 1, "it is the same pipe");
	cr_assert_eq(read(p[0], line, 1), 1);
	close(fd);
	cr_assert_eq(handover_recv(pair[1], line, sizeof(line), &fd, 1000), 3);
	cr_assert_str_eq(line, "END");
	cr_assert_eq(fd, -1);
	close(p[0]);
	close(p[1]);
}

Test(handover, send_refuses_empty_and_oversized_lines)
{
	char big[HANDOVER_LINE_MAX + 1];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(handover_send(pair[0], big, -1), -EMSGSIZE);
	cr_assert_eq(handover_send(pair[0], "", -1), -EMSGSIZE);
}

/* A peer that is not slb: raw messages with what handover_send never sends. */
static void send_raw(const void *buf, size_t len, const int *fds, size_t nfds)
{
	char ctl[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(ctl, 0, sizeof(ctl));
	if (nfds) {
		struct cmsghdr *cm;

		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	cr_assert_eq(sendmsg(pair[0], &msg, 0), (ssize_t)len, "sendmsg: %s", strerror(errno));
}

static int fds_open_now(void)
{
	int n = 0;

	for (int fd = 0; fd < 256; fd++)
		n += fd_is_open(fd);
	return n;
}

struct bad_msg {
	char text[16]; /* inline: Criterion's workers may not share the parent's addresses */
	size_t len;
	int nfds;
};

ParameterizedTestParameters(handover, malformed_messages_are_refused_and_their_fds_closed)
{
	static struct bad_msg msgs[] = {
		{ "LISTEN a", 8, 2 },        /* two descriptors */
		{ "LISTEN\na", 8, 1 },       /* two lines */
		{ "LISTEN\0a", 8, 1 },       /* a NUL inside */
		{ "", 0, 1 },                /* a descriptor and no line */
	};

	return cr_make_param_array(struct bad_msg, msgs, sizeof(msgs) / sizeof(msgs[0]));
}

ParameterizedTest(struct bad_msg *m, handover, malformed_messages_are_refused_and_their_fds_closed)
{
	char line[HANDOVER_LINE_MAX];
	int p[2], fd = 7, before;

	cr_assert_eq(pipe(p), 0);
	before = fds_open_now();
	send_raw(m->text, m->len, p, (size_t)m->nfds);
	cr_assert_eq(handover_recv(pair[1], line, sizeof(line), &fd, 1000), -EPROTO);
	cr_assert_eq(fd, -1);
	cr_assert_eq(fds_open_now(), before, "every descriptor that came with it is closed");
}

Test(handover, an_oversized_message_is_refused)
{
	char big[2 * HANDOVER_LINE_MAX], line[HANDOVER_LINE_MAX];
	int fd;

	memset(big, 'a', sizeof(big));
	send_raw(big, sizeof(big), NULL, 0);
	cr_assert_eq(handover_recv(pair[1], line, sizeof(line), &fd, 1000), -EPROTO);
}

Test(handover, recv_times_out_and_sees_the_peer_close)
{
	char line[HANDOVER_LINE_MAX];
	int fd;

	cr_assert_eq(handover_recv(pair[1], line, sizeof(line), &fd, 20), -ETIMEDOUT);
	close(pair[0]);
	pair[0] = -1;
	cr_assert_eq(handover_recv(pair[1], line, sizeof(line), &fd, 1000), -ECONNRESET);
}

static void socket_path(char *out, size_t len)
{
	snprintf(out, len, "/tmp/slb-test-handover-%d.sock", getpid());
	unlink(out);
}

Test(handover, control_socket_is_private_and_accepts_its_own_user)
{
	char path[108], err[160], line[HANDOVER_LINE_MAX];
	struct stat st;
	int lfd, c, s, fd;

	socket_path(path, sizeof(path));
	lfd = handover_listen(path, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(handover_accept(lfd), -EAGAIN);
	c = handover_connect(path, err, sizeof(err));
	cr_assert_geq(c, 0, "%s", err);
	s = handover_accept(lfd);
	cr_assert_geq(s, 0);
	cr_assert_eq(handover_send(c, "TAKEOVER slb/1", -1), 0);
	cr_assert_eq(handover_recv(s, line, sizeof(line), &fd, 1000), 14);
	close(c);
	close(s);
	close(lfd);
	unlink(path);
}

Test(handover, a_live_control_socket_is_never_taken_a_stale_one_is)
{
	char path[108], err[160];
	int lfd, again;

	socket_path(path, sizeof(path));
	lfd = handover_listen(path, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_eq(handover_listen(path, err, sizeof(err)), -EADDRINUSE);
	cr_assert(strstr(err, "another slb"), "%s", err);
	close(lfd); /* the file stays: what a killed slb leaves behind */
	again = handover_listen(path, err, sizeof(err));
	cr_assert_geq(again, 0, "%s", err);
	close(again);
	unlink(path);
}

Test(handover, connect_names_the_path_when_nobody_listens)
{
	char path[108], err[160];

	socket_path(path, sizeof(path));
	cr_assert_lt(handover_connect(path, err, sizeof(err)), 0);
	cr_assert(strstr(err, path), "%s", err);
}

/* ---- the grammar: every malformed line refused with its reason ---- */

struct bad_line {
	char line[40];  /* inline: Criterion's workers may not share the parent's addresses */
	bool fd;        /* received with a descriptor */
	char why[48];   /* the reason says this */
};

ParameterizedTestParameters(handover, every_malformed_line_is_refused_with_its_reason)
{
	static struct bad_line lines[] = {
		{ "HELLO slb/1", false, "unknown verb 'HELLO'" },
		{ "takeover slb/1", false, "unknown verb 'takeover'" },  /* verbs are upper case */
		{ " TAKEOVER slb/1", false, "unknown verb ''" },
		{ "LISTENX 127.0.0.1:80", true, "unknown verb 'LISTENX'" },
		{ "END\t1", false, "unknown verb 'END?1'" },               /* said printable */
		{ "TAKEOVER", false, "TAKEOVER needs an argument" },
		{ "TAKEOVER ", false, "TAKEOVER needs an argument" },
		{ "TAKEOVER slb/1", true, "TAKEOVER carries no descriptor" },
		{ "LISTEN 127.0.0.1:80", false, "LISTEN needs a descriptor" },
		{ "LISTEN", true, "LISTEN needs an argument" },
		{ "HEARTBEAT 127.0.0.1:9000", false, "HEARTBEAT needs a descriptor" },
		{ "ADMIN", true, "ADMIN needs an argument" },
		{ "CONTROL /run/slb.sock", false, "CONTROL needs a descriptor" },
		{ "LEASE", false, "LEASE needs an argument" },
		{ "STATE", false, "STATE needs an argument" },
		{ "STATE 10.0.0.1:80", true, "STATE carries no descriptor" },
		{ "LEASE 127.0.0.1:80 weight=1", true, "LEASE carries no descriptor" },
		{ "LEASE a\x01", false, "LEASE with a byte that is not printable ASCII" },
		{ "LEASE \xc3\xa9", false, "LEASE with a byte that is not printable ASCII" },
		{ "END 0", false, "END needs a pid (a number > 0), not '0'" },
		{ "END -5", false, "END needs a pid" },
		{ "END 12x", false, "END needs a pid" },
		{ "END 99999999999", false, "END needs a pid" },
		{ "END 2147483648", false, "END needs a pid" },
		{ "END ", false, "END needs an argument" },
		{ "END 12", true, "END carries no descriptor" },
		{ "DRAIN now", false, "DRAIN takes no argument" },
		{ "DRAIN ", false, "DRAIN takes no argument" },
		{ "DRAIN", true, "DRAIN carries no descriptor" },
		{ "OK", false, "OK needs an argument" },
		{ "OK pid", false, "OK needs a pid" },
		{ "STOPPED 1", false, "STOPPED takes no argument" },
		{ "ERR", false, "ERR needs an argument" },
	};

	return cr_make_param_array(struct bad_line, lines, sizeof(lines) / sizeof(lines[0]));
}

ParameterizedTest(struct bad_line *b, handover, every_malformed_line_is_refused_with_its_reason)
{
	struct handover_msg m;
	char why[96] = "";

	cr_assert_eq(handover_parse(b->line, b->fd, &m, why, sizeof(why)), -EPROTO, "'%s' parsed", b->line);
	cr_assert(strstr(why, b->why), "'%s': the reason is '%s', not '%s'", b->line, why, b->why);
}

struct good_line {
	char line[40];
	bool fd;
	enum handover_verb verb;
	char arg[32];
	pid_t pid;
};

ParameterizedTestParameters(handover, each_verb_parses_with_its_argument)
{
	static struct good_line lines[] = {
		{ "TAKEOVER slb/1", false, HANDOVER_TAKEOVER, "slb/1", 0 },
		{ "LISTEN [::1]:80", true, HANDOVER_LISTEN, "[::1]:80", 0 },
		{ "HEARTBEAT 127.0.0.1:9000", true, HANDOVER_HEARTBEAT, "127.0.0.1:9000", 0 },
		{ "ADMIN 127.0.0.1:9001", true, HANDOVER_ADMIN, "127.0.0.1:9001", 0 },
		{ "CONTROL /run/slb/c.sock", true, HANDOVER_CONTROL, "/run/slb/c.sock", 0 },
		{ "LEASE 10.0.0.1:80 weight=2", false, HANDOVER_LEASE, "10.0.0.1:80 weight=2", 0 },
		{ "STATE 10.0.0.1:80 disabled", false, HANDOVER_STATE, "10.0.0.1:80 disabled", 0 },
		{ "END", false, HANDOVER_END, "", 0 },             /* an older slb */
		{ "END 4242", false, HANDOVER_END, "4242", 4242 },
		{ "DRAIN", false, HANDOVER_DRAIN, "", 0 },
		{ "OK 2147483647", false, HANDOVER_OK, "2147483647", 2147483647 },
		{ "STOPPED", false, HANDOVER_STOPPED, "", 0 },
		{ "ERR another takeover", false, HANDOVER_ERR, "another takeover", 0 },
	};

	return cr_make_param_array(struct good_line, lines, sizeof(lines) / sizeof(lines[0]));
}

ParameterizedTest(struct good_line *g, handover, each_verb_parses_with_its_argument)
{
	struct handover_msg m;
	char why[96] = "";

	cr_assert_eq(handover_parse(g->line, g->fd, &m, why, sizeof(why)), 0, "'%s': %s", g->line, why);
	cr_assert_eq(m.verb, g->verb);
	cr_assert_str_eq(m.arg, g->arg);
	cr_assert_eq(m.pid, g->pid);
	cr_assert_eq(strncmp(g->line, handover_verb_name(m.verb), strlen(handover_verb_name(m.verb))), 0);
}
