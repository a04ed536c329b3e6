/* The health thread in-process, with fake worker channels: the first snapshot is published
 * before health_prepare returns, worker connect reports drained from the failq eject a backend
 * in a new snapshot, a taken port fails cleanly with -EADDRINUSE, and the fd reserve adds up. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "slb/common/config.h"
#include "slb/common/failq.h"
#include "slb/common/log.h"
#include "slb/common/snapshot.h"
#include "slb/control/health.h"
#include "slb/control/health_reload.h"
#include "slb/common/channel.h"
#include "../../src/control/health_loop.h"

static struct slb_config cfg;
static struct worker_channel *ch;

static void setup(void)
{
	atomic_store(&log_threshold, LOG_ERROR);
	ch = calloc(1, sizeof(*ch));
	cr_assert_not_null(ch);
}

static void teardown(void)
{
	health_stop();
	snapshot_teardown();
	free(ch);
}

TestSuite(health, .init = setup, .fini = teardown, .timeout = 30);

static void parse_into(struct slb_config *c, const char *const *args)
{
	char *argv[32] = { "slb" }, err[256];
	int argc = 1;

	for (; *args; args++)
		argv[argc++] = (char *)*args;
	cr_assert_eq(config_parse(c, argc, argv, err, sizeof(err)), CONFIG_OK, "%s", err);
}

static void parse(const char *const *args)
{
	parse_into(&cfg, args);
}

/* health_prepare then health_start, as main does (it drops privileges in between). */
static int start_health(char *err, size_t errlen)
{
	int rc = health_prepare(&cfg, &ch, 1, NULL, err, errlen);

	return rc ? rc : health_start(err, errlen);
}

/* A port the kernel picks, held open by the returned fd; connects to it complete (a TCP check
 * passes) until the backlog of 128 is full. */
static int hold_port(unsigned *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(listen(fd, 128) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Waits (as a registered reader) until the current snapshot lacks backend id. The failq is
 * read in order, so such a snapshot shows every report pushed before the one that removed id. */
static const struct snapshot *wait_snapshot_without(int reader, uint32_t id)
{
	for (int i = 0; i < 2000; i++) {
		const struct snapshot *s;
		bool has = false;

		snapshot_offline(reader);
		snapshot_online(reader);
		s = snapshot_current();
		for (uint32_t k = 0; s && k < s->pool[0]->n; k++)
			has |= s->pool[0]->be[k].id == id;
		if (s && !has)
			return s;
		usleep(1000);
	}
	cr_assert_fail("no snapshot without backend %u", id);
	return NULL;
}

Test(health, first_snapshot_is_published_before_start_returns)
{
	static const char *const args[] = { "--backend", "127.0.0.1:1", "--backend", "127.0.0.1:2,weight=3", NULL };
	const struct snapshot *s;
	char err[256];

	parse(args);
	cr_assert_eq(start_health(err, sizeof(err)), 0, "%s", err);
	s = snapshot_current();
	cr_assert_not_null(s);
	cr_assert_eq(s->pool[0]->n, 2);
	cr_assert_eq(s->pool[0]->be[0].id, 1);
	cr_assert_eq(s->pool[0]->be[1].weight, 3);
}

Test(health, worker_connect_failures_eject_in_a_new_snapshot)
{
	static const char *const args[] = { "--backend", "127.0.0.1:1", "--backend", "127.0.0.1:2", "--backend",
					    "127.0.0.1:3", "--eject-failures", "3", "--check-interval", "60000", NULL };
	int reader = snapshot_reader_register();
	const struct snapshot *s;
	char err[256];

	cr_assert_geq(reader, 0);
	parse(args);
	cr_assert_eq(start_health(err, sizeof(err)), 0, "%s", err);
	failq_push(&ch->failq, 1, FAILQ_CONNECT_REFUSED);
	failq_push(&ch->failq, 1, FAILQ_CONNECT_REFUSED);
	failq_push(&ch->failq, 1, FAILQ_CONNECT_OK);
	failq_push(&ch->failq, 1, FAILQ_CONNECT_REFUSED);
	failq_push(&ch->failq, 1, FAILQ_CONNECT_REFUSED);
	/* backend 3 ejected after them marks the point where health has read them all */
	for (int i = 0; i < 3; i++)
		failq_push(&ch->failq, 3, FAILQ_CONNECT_REFUSED);
	s = wait_snapshot_without(reader, 3);
	cr_assert_eq(s->pool[0]->n, 2, "a success in between resets the count: %u live backends", s->pool[0]->n);
	cr_assert_eq(s->pool[0]->be[0].id, 1);
	failq_push(&ch->failq, 1, FAILQ_CONNECT_TIMEOUT);
	s = wait_snapshot_without(reader, 1);
	cr_assert_eq(s->pool[0]->n, 1);
	cr_assert_eq(s->pool[0]->be[0].id, 2);
	snapshot_offline(reader);
}

Test(health, taken_heartbeat_port_fails_with_eaddrinuse)
{
	static const char *const args[] = { "--backend", "127.0.0.1:1", NULL };
	char err[256] = "", text[32];
	unsigned port;
	int fd = hold_port(&port);

	parse(args);
	snprintf(text, sizeof(text), "127.0.0.1:%u", port);
	cr_assert_eq(addr_parse(text, &cfg.heartbeat_listen, NULL, 0), 0);
	cfg.has_heartbeat_listen = true;
	cr_assert_eq(start_health(err, sizeof(err)), -EADDRINUSE);
	cr_assert_not_null(strstr(err, "heartbeat 127.0.0.1:"), "%s", err);
	cr_assert_not_null(strstr(err, "address already in use"), "%s", err);
	close(fd);
	cr_assert_eq(start_health(err, sizeof(err)), 0, "nothing was left behind: %s", err);
}

Test(health, fd_reserve_covers_sessions_admin_and_probes)
{
	static const char *const plain[] = { "--backend", "127.0.0.1:1", NULL };
	static const char *const full[] = { "--backend", "127.0.0.1:1", "--heartbeat-listen", "127.0.0.1:7001",
					    "--admin", "127.0.0.1:7002", NULL };

	parse(plain);
	cr_assert_eq(health_fd_reserve(&cfg), 8 + 1);
	parse(full);
	cr_assert_eq(health_fd_reserve(&cfg), 8 + 4096 + 64 + (snap_id_limit() - 1));
}

static int record_thread(struct health_ctx *ctx, void *arg)
{
	*(pthread_t *)arg = pthread_self();
	return ctx ? 42 : -1;
}

Test(health, call_runs_on_the_health_thread_once_it_runs)
{
	static const char *const args[] = { "--backend", "127.0.0.1:1", NULL };
	pthread_t where;
	char err[256];

	cr_assert_eq(health_call(record_thread, &where), -ESRCH, "nothing prepared yet");
	parse(args);
	cr_assert_eq(health_prepare(&cfg, &ch, 1, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(health_call(record_thread, &where), 42);
	cr_assert(pthread_equal(where, pthread_self()), "before start it runs in the caller");
	cr_assert_eq(health_start(err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(health_call(record_thread, &where), 42);
		cr_assert_not(pthread_equal(where, pthread_self()), "once started it runs on the thread");
	}
}

/* On the health thread: 1 while backend *arg is in the table or its id is held back, else 0. */
static int id_taken(struct health_ctx *ctx, void *arg)
{
	uint32_t id = *(const uint32_t *)arg;

	return table_get(ctx->table, id) || table_id_reserved(ctx->table, id);
}

/*
 * A reload drops backend 2, which no connection uses. This thread is a worker that read a
 * snapshot with backend 2 in it and has not passed a quiescent point since: it may be about to
 * connect there, so the id must stay taken (the entry, or its id reserved) until it passes
 * one, and be free once it did.
 */
Test(health, reload_removal_holds_the_id_until_every_worker_passed_a_quiescent_point)
{
	static const char *const before[] = { "--backend", "127.0.0.1:1", "--backend", "127.0.0.1:2",
					      "--check-interval", "60000", NULL };
	static const char *const after[] = { "--backend", "127.0.0.1:1", "--check-interval", "60000", NULL };
	static struct slb_config next; /* read by the health thread until health_stop */
	int reader = snapshot_reader_register();
	uint32_t id = 2;
	char err[256];

	cr_assert_geq(reader, 0);
	parse(before);
	cr_assert_eq(start_health(err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(snapshot_current()->pool[0]->n, 2);
	parse_into(&next, after);
	cr_assert_eq(health_reconfigure(&next), 0);
	for (int turn = 0; turn < 30; turn++) {
		cr_assert_eq(health_call(id_taken, &id), 1, "id 2 freed while a worker may still pick it (turn %d)",
			     turn);
		usleep(10 * 1000);
	}
	snapshot_offline(reader);
	for (int i = 0; i < 500 && health_call(id_taken, &id) == 1; i++)
		usleep(10 * 1000);
	cr_assert_eq(health_call(id_taken, &id), 0, "id 2 never freed after every worker passed a quiescent point");
}

/* On the health thread: backend *arg's state, or -1 once it left the table. */
static int state_of(struct health_ctx *ctx, void *arg)
{
	const struct backend *b = table_get(ctx->table, *(const uint32_t *)arg);

	return b ? (int)b->state : -1;
}

/*
 * A reload drops backend 2, and its checks fail while the removal waits for the workers: it
 * goes from draining to down, a change that takes nothing out of rotation. The removal must
 * still end once every worker has passed a quiescent point (settling is judged by the
 * snapshots published, so that change must be published too).
 */
Test(health, removal_ends_after_the_backend_went_down_meanwhile)
{
	static struct slb_config next; /* read by the health thread until health_stop */
	const char *args[] = { "--backend", NULL, "--check", "tcp", "--check-interval", "100", "--check-timeout", "50",
			       "--fall", "1", "--backend", NULL, NULL };
	int reader = snapshot_reader_register();
	unsigned port1, port2;
	int fd1 = hold_port(&port1), fd = hold_port(&port2), i;
	uint32_t id = 2;
	char err[256], b1[32], b2[32];

	cr_assert_geq(reader, 0);
	snprintf(b1, sizeof(b1), "127.0.0.1:%u", port1); /* passes its checks: no publish of its own */
	snprintf(b2, sizeof(b2), "127.0.0.1:%u", port2);
	args[1] = b1;
	args[11] = b2;
	parse(args);
	cr_assert_eq(start_health(err, sizeof(err)), 0, "%s", err);
	args[10] = NULL;
	parse_into(&next, args);
	cr_assert_eq(health_reconfigure(&next), 0);
	cr_assert_eq(health_call(state_of, &id), BE_STATE_DRAINING);
	close(fd);
	for (i = 0; i < 500 && health_call(state_of, &id) != BE_STATE_DOWN; i++)
		usleep(10 * 1000);
	cr_assert_eq(health_call(state_of, &id), BE_STATE_DOWN, "backend 2 never failed its check while draining");
	snapshot_offline(reader);
	for (i = 0; i < 500 && health_call(state_of, &id) != -1; i++)
		usleep(10 * 1000);
	cr_assert_eq(health_call(state_of, &id), -1, "backend 2 never left the table");
	close(fd1);
}
