/* Heartbeat security on a real slb: with --heartbeat-key-file only peers holding the key
 * register (slb-backend and slb-agent sign with the same file), a wrong key, a missing MAC and
 * a replayed line get ERR and a warning, --heartbeat-allow closes other sources at accept,
 * --heartbeat-max-backends caps registrations, and --user drops root after binding while slb
 * keeps serving. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "healthtest.h"
#include "slb/common/hbauth.h"
#include "testproc.h"
#include "testskip.h"

#define IO_MS 5000

static char dir[64];
static char key_path[96], wrong_path[96];
static struct hbauth_key key;
static struct healthtest_slb slb;

static void write_key(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Two keys in a fresh 0700 directory; key holds the first, as slb will read it. */
static void suite_init(void)
{
	char err[256];

	cr_assert_eq(hbauth_init(), 0);
	cr_assert_not_null(mkdtemp(strcpy(dir, "/tmp/slb-hbauth-XXXXXX")));
	snprintf(key_path, sizeof(key_path), "%s/hb.key", dir);
	snprintf(wrong_path, sizeof(wrong_path), "%s/wrong.key", dir);
	write_key(key_path, "q6Jb3mN0x1sVvRk9ZtU2c8Yd4Hf7Lp5WgAeTiCoM1rE=\n");
	write_key(wrong_path, "q6Jb3mN0x1sVvRk9ZtU2c8Yd4Hf7Lp5WgAeTiCoM1rF=\n");
	cr_assert_eq(hbauth_load_key(key_path, &key, err, sizeof(err)), 0, "%s", err);
}

static void suite_fini(void)
{
	testproc_stop_all();
	unlink(key_path);
	unlink(wrong_path);
	rmdir(dir);
}

TestSuite(heartbeat_auth, .init = suite_init, .fini = suite_fini, .timeout = 60);

static void start_keyed(void)
{
	const char *const extra[] = { "--heartbeat-key-file", key_path, NULL };

	healthtest_start_ok(&slb, extra);
}

/* text plus " mac=<HMAC of nonce and text>", as a keyed peer sends it. */
static const char *sign(const char *nonce, const char *text)
{
	static char line[HB_LINE_MAX];
	char mac[HB_MAC_HEX + 1];

	hbauth_sign(&key, nonce, text, strlen(text), mac);
	snprintf(line, sizeof(line), "%s mac=%s", text, mac);
	return line;
}

static void expect_output(struct testproc *p, const char *needle)
{
	char out[8192];
	int rc = testproc_wait_output(p, needle, IO_MS);

	testproc_output(p, out, sizeof(out));
	cr_assert_eq(rc, 0, "%s never printed \"%s\":\n%s", p->name, needle, out);
}

/* Starts slb-backend NAME on a free port, heartbeating to slb with key_file (NULL: none). */
static struct testproc *start_backend(const char *name, const char *key_file, unsigned *port)
{
	struct testproc *p = healthtest_backend(&slb, name, key_file, port);

	cr_assert_eq(testproc_wait_port(p, *port, IO_MS), 0, "slb-backend %s did not listen", name);
	return p;
}

/* /status shows the table at once, while workers see a new backend at the next snapshot (at
 * most one 10 ms health tick later): the first request may wait for that. */
static void expect_traffic_to(const char *name)
{
	static struct testproc_http r;
	int64_t deadline = testproc_now_ms() + IO_MS;
	char want[64];

	snprintf(want, sizeof(want), "backend %s", name);
	while (testproc_http_get(slb.listen, "/", &r, IO_MS) != 0 && testproc_now_ms() < deadline)
		usleep(5000);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(testproc_http_get(slb.listen, "/", &r, IO_MS), 0, "request %d failed", i);
		cr_assert_eq(r.status, 200);
		cr_assert_not_null(strstr(r.body, want), "request %d answered by: %s", i, r.body);
	}
}

Test(heartbeat_auth, backend_with_the_key_registers_gets_traffic_and_says_bye)
{
	struct testproc *b;
	unsigned port;

	start_keyed();
	expect_output(slb.proc, "must be signed with the key");
	b = start_backend("k1", key_path, &port);
	healthtest_expect_state(&slb, port, "up", "registered");
	expect_traffic_to("k1");
	cr_assert_eq(testproc_stop(b, IO_MS), 0);
	healthtest_expect_state(&slb, port, "down", "heartbeat bye"); /* the BYE verified too */
	healthtest_stop_ok(&slb);
}

Test(heartbeat_auth, agent_with_the_key_registers)
{
	const char *argv[] = { "slb-agent", "--service", NULL, "--lb", NULL, "--interval", "50",
			       "--heartbeat-key-file", key_path, NULL };
	char svc[32], lb[32];
	unsigned port;

	start_keyed();
	start_backend("svc", NULL, &port);
	snprintf(svc, sizeof(svc), "127.0.0.1:%u", port);
	snprintf(lb, sizeof(lb), "127.0.0.1:%u", slb.hb);
	argv[2] = svc;
	argv[4] = lb;
	cr_assert_not_null(testproc_spawn(argv));
	healthtest_expect_state(&slb, port, "up", "registered");
	expect_traffic_to("svc");
	healthtest_stop_ok(&slb);
}

Test(heartbeat_auth, wrong_key_is_refused_and_logged)
{
	struct testproc *b;
	unsigned port;
	char got[32];

	start_keyed();
	b = start_backend("w1", wrong_path, &port);
	expect_output(b, "slb refused: ERR bad mac");
	expect_output(slb.proc, "refused a line from 127.0.0.1");
	expect_output(slb.proc, "bad mac");
	cr_assert_eq(healthtest_field(slb.admin, port, "state", got, sizeof(got)), -ENOENT, "never registered");
	healthtest_stop_ok(&slb);
}

Test(heartbeat_auth, unsigned_peer_is_refused)
{
	char nonce[HBAUTH_NONCE_HEX + 1], line[96];
	struct testproc *b;
	unsigned port;
	int fd;

	start_keyed();
	fd = healthtest_session_ok(&slb, nonce);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 1);
	healthtest_expect_reply(fd, line, "ERR missing mac");
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u seq=1", slb.listen + 1);
	healthtest_expect_reply(fd, line, "ERR missing mac");
	close(fd);
	b = start_backend("n1", NULL, &port);
	expect_output(b, "slb refused: ERR missing mac");
	expect_output(slb.proc, "missing mac");
	healthtest_stop_ok(&slb);
}

Test(heartbeat_auth, replayed_line_is_refused)
{
	char nonce[HBAUTH_NONCE_HEX + 1], other[HBAUTH_NONCE_HEX + 1], text[96], reg[HB_LINE_MAX];
	int fd, fd2;

	start_keyed();
	fd = healthtest_session_ok(&slb, nonce);
	snprintf(text, sizeof(text), "REGISTER 127.0.0.1:%u name=r1 seq=1", slb.listen + 1);
	snprintf(reg, sizeof(reg), "%s", sign(nonce, text));
	healthtest_expect_reply(fd, reg, "OK registered id=1 interval=1000 timeout=3000");
	healthtest_expect_reply(fd, sign(nonce, "HEARTBEAT load=7 seq=2"), "OK state=up interval=1000");
	healthtest_expect_reply(fd, reg, "ERR seq not rising");
	healthtest_expect_reply(fd, sign(nonce, "HEARTBEAT seq=2"), "ERR seq not rising");
	expect_output(slb.proc, "seq not rising");
	/* the same REGISTER on another connection: its nonce differs, so the MAC does too */
	fd2 = healthtest_session_ok(&slb, other);
	cr_assert_str_neq(nonce, other, "nonces are per connection");
	healthtest_expect_reply(fd2, reg, "ERR bad mac");
	/* the third error closes the first session, and with it the backend */
	healthtest_expect_reply(fd, sign(nonce, "HEARTBEAT state=drain seq=1"), "ERR seq not rising");
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "three errors close the session");
	healthtest_expect_state(&slb, slb.listen + 1, "down", "heartbeat connection closed");
	close(fd);
	close(fd2);
	healthtest_stop_ok(&slb);
}

/* Connects to 127.0.0.1:port from src (another loopback address). Returns the fd. */
static int connect_from(const char *src, unsigned port)
{
	struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = IO_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0, "bind %s: %s", src, strerror(errno));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)port);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0, "connect: %s", strerror(errno));
	return fd;
}

Test(heartbeat_auth, allow_list_closes_other_sources_at_accept)
{
	static const char *const extra[] = { "--heartbeat-allow", "127.0.0.1/32", "--heartbeat-allow", "::1/128",
					     NULL };
	char line[128];
	int fd;

	healthtest_start_ok(&slb, extra);
	fd = connect_from("127.0.0.2", slb.hb);
	cr_assert_eq(testproc_read_line(fd, line, sizeof(line), IO_MS), -EPIPE, "no HELLO, only a close");
	close(fd);
	expect_output(slb.proc, "refused a connection from 127.0.0.2");
	expect_output(slb.proc, "not in --heartbeat-allow");
	fd = connect_from("127.0.0.1", slb.hb);
	cr_assert_geq(testproc_read_line(fd, line, sizeof(line), IO_MS), 0);
	cr_assert_eq(strncmp(line, "HELLO slb/1 nonce=", 18), 0, "%s", line);
	close(fd);
	healthtest_stop_ok(&slb);
}

Test(heartbeat_auth, registrations_past_the_cap_are_refused)
{
	static const char *const extra[] = { "--heartbeat-max-backends", "1", NULL };
	char nonce[HBAUTH_NONCE_HEX + 1], line[96];
	int a, b;

	healthtest_start_ok(&slb, extra);
	expect_output(slb.proc, "anyone who can reach");
	a = healthtest_session_ok(&slb, nonce);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 1);
	healthtest_expect_reply(a, line, "OK registered id=1 interval=1000 timeout=3000");
	b = healthtest_session_ok(&slb, nonce);
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 2);
	healthtest_expect_reply(b, line, "ERR too many backends");
	expect_output(slb.proc, "too many backends");
	/* the address already known may always come back (a restarted backend) */
	snprintf(line, sizeof(line), "REGISTER 127.0.0.1:%u", slb.listen + 1);
	healthtest_expect_reply(b, line, "OK registered id=1 interval=1000 timeout=3000");
	close(a);
	close(b);
	healthtest_stop_ok(&slb);
}

/* The uid line of /proc/PID/status: "real effective saved fs". */
static void proc_ids(pid_t pid, const char *field, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			snprintf(out, len, "%s", line + strlen(field));
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

Test(heartbeat_auth, user_nobody_drops_root_and_keeps_serving)
{
	const char *const extra[] = { "--heartbeat-key-file", key_path, "--user", "nobody", "--workers", "2", NULL };
	struct passwd *pw = getpwnam("nobody");
	char want[64], got[128];
	unsigned port;

	if (geteuid() != 0)
		testskip(TESTSKIP_ROOT, "needs root to drop privileges");
	cr_assert_not_null(pw, "no user nobody");
	healthtest_start_ok(&slb, extra);
	expect_output(slb.proc, "running as user nobody");
	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", pw->pw_uid, pw->pw_uid, pw->pw_uid, pw->pw_uid);
	proc_ids(slb.proc->pid, "Uid:", got, sizeof(got));
	cr_assert_str_eq(got, want, "uids of slb");
	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", pw->pw_gid, pw->pw_gid, pw->pw_gid, pw->pw_gid);
	proc_ids(slb.proc->pid, "Gid:", got, sizeof(got));
	cr_assert_str_eq(got, want, "gids of slb");
	proc_ids(slb.proc->pid, "Groups:", got, sizeof(got));
	cr_assert_eq(strspn(got, " \t"), strlen(got), "supplementary groups left: %s", got);
	start_backend("u1", key_path, &port);
	healthtest_expect_state(&slb, port, "up", "registered");
	expect_traffic_to("u1");
	healthtest_stop_ok(&slb);
}

Test(heartbeat_auth, unknown_user_and_bad_key_file_stop_slb_with_one_line)
{
	const char *const argv_user[] = { "slb", "--listen", "127.0.0.1:1", "--backend", "127.0.0.1:2", "--user",
					  "no-such-user-slb", NULL };
	char hb[32], lport[32], loose[96], out[4096];
	const char *const argv_key[] = { "slb", "--listen", lport, "--heartbeat-listen", hb,
					 "--heartbeat-key-file", loose, NULL };
	int fp = testproc_free_port(), lp = testproc_free_port();

	cr_assert_gt(fp, 0);
	cr_assert_gt(lp, 0);
	snprintf(lport, sizeof(lport), "127.0.0.1:%d", lp);
	cr_assert_eq(testproc_run(argv_user, 5000, out, sizeof(out)), 2, "an unknown user is bad usage: %s", out);
	cr_assert_str_eq(out, "slb: --user no-such-user-slb: no such user\n");

	snprintf(hb, sizeof(hb), "127.0.0.1:%d", fp);
	snprintf(loose, sizeof(loose), "%s/loose.key", dir);
	write_key(loose, "q6Jb3mN0x1sVvRk9ZtU2c8Yd4Hf7Lp5WgAeTiCoM1rE=\n");
	cr_assert_eq(chmod(loose, 0644), 0);
	healthtest_expect_exit_1(argv_key, out, sizeof(out));
	unlink(loose);
	cr_assert_not_null(strstr(out, "slb: heartbeat key file"), "%s", out);
	cr_assert_not_null(strstr(out, "chmod 600"), "%s", out);
	cr_assert_null(strchr(strchr(out, '\n') + 1, '\n'), "one line: %s", out);
}
