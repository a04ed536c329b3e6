/* The resolver: answers through the test seam (a hosts file named by SLB_TEST_HOSTS_FILE),
 * failures, and the per-name set health keeps (a failure keeps the last set; a new answer
 * says which addresses joined and which left). The thread: answers arrive through the eventfd
 * and a changed file is read again at the next round. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "slb/control/resolver.h"

static char hosts_path[64];

static void write_hosts(const char *text)
{
	char tmp[80];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", hosts_path);
	f = fopen(tmp, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(rename(tmp, hosts_path), 0); /* the resolver never reads half a file */
}

static void seam_setup(void)
{
	snprintf(hosts_path, sizeof(hosts_path), "/tmp/slb-test-hosts.%d", (int)getpid());
	setenv(RESOLVER_ENV_HOSTS, hosts_path, 1);
}

static void seam_teardown(void)
{
	unlink(hosts_path);
	unsetenv(RESOLVER_ENV_HOSTS);
}

static void text_of(const struct slb_addr *a, char *buf)
{
	addr_format(a, buf, ADDR_TEXT_MAX);
}

TestSuite(resolver, .init = seam_setup, .fini = seam_teardown);

Test(resolver, every_address_of_the_name_sorted_once)
{
	struct resolver_answer a;
	char t[ADDR_TEXT_MAX];

	write_hosts("# comment\n10.0.0.2 web.internal other\n::1 WEB.internal\n10.0.0.1 web.internal\n"
		    "10.0.0.2 web.internal\n10.0.0.9 elsewhere\n");
	cr_assert_eq(resolver_lookup("web.internal", 8080, &a), 0, "%s", a.err);
	cr_assert_eq(a.n, 3);
	text_of(&a.addrs[0], t);
	cr_assert_str_eq(t, "10.0.0.1:8080");
	text_of(&a.addrs[1], t);
	cr_assert_str_eq(t, "10.0.0.2:8080");
	text_of(&a.addrs[2], t);
	cr_assert_str_eq(t, "[::1]:8080");
}

Test(resolver, unknown_name_and_missing_file_fail)
{
	struct resolver_answer a;

	write_hosts("10.0.0.1 web.internal\n");
	cr_assert_eq(resolver_lookup("nope.internal", 80, &a), -ENOENT);
	cr_assert_eq(a.error, -ENOENT);
	cr_assert(strstr(a.err, "no such name"), "%s", a.err);
	unlink(hosts_path);
	cr_assert_eq(resolver_lookup("web.internal", 80, &a), -EIO);
	cr_assert_eq(a.n, 0);
}

Test(resolver, real_dns_refuses_an_invalid_name)
{
	struct resolver_answer a;

	unsetenv(RESOLVER_ENV_HOSTS);
	/* RFC 6761: .invalid never resolves, wherever the test runs */
	cr_assert_eq(resolver_lookup("nonexistent.invalid", 80, &a) < 0, true);
	cr_assert(a.err[0]);
}

static struct resolver_answer answer(const char *hosts)
{
	struct resolver_answer a;

	write_hosts(hosts);
	resolver_lookup("web.internal", 80, &a);
	return a;
}

Test(resolver, set_diff_adds_and_drops)
{
	struct dns_set s = { .port = 80 };
	struct dns_diff d;
	struct resolver_answer a = answer("10.0.0.1 web.internal\n10.0.0.2 web.internal\n");
	char t[ADDR_TEXT_MAX];

	cr_assert_not(dns_set_update(&s, &a, &d));
	cr_assert_eq(d.n_added, 2);
	cr_assert_eq(d.n_gone, 0);
	a = answer("10.0.0.2 web.internal\n10.0.0.3 web.internal\n");
	dns_set_update(&s, &a, &d);
	cr_assert_eq(d.n_added, 1);
	cr_assert_eq(d.n_gone, 1);
	text_of(&d.added[0], t);
	cr_assert_str_eq(t, "10.0.0.3:80");
	text_of(&d.gone[0], t);
	cr_assert_str_eq(t, "10.0.0.1:80");
	cr_assert(dns_set_has(&s, &d.added[0]));
	cr_assert_not(dns_set_has(&s, &d.gone[0]));
	dns_set_update(&s, &a, &d);
	cr_assert_eq(d.n_added + d.n_gone, 0, "the same answer changes nothing");
}

Test(resolver, a_failure_keeps_the_last_good_set)
{
	struct dns_set s = { .port = 80 };
	struct dns_diff d;
	struct resolver_answer good = answer("10.0.0.1 web.internal\n");
	struct resolver_answer bad = answer("10.0.0.1 other\n");

	cr_assert_not(dns_set_update(&s, &good, &d));
	cr_assert(dns_set_update(&s, &bad, &d), "answering -> failing is news");
	cr_assert_eq(d.n_added + d.n_gone, 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.failing, -ENOENT);
	cr_assert_not(dns_set_update(&s, &bad, &d), "failing again is not");
	cr_assert(dns_set_update(&s, &good, &d), "failing -> answering is news");
	cr_assert_eq(d.n_added + d.n_gone, 0);
	cr_assert_eq(s.failing, 0);
}

Test(resolver, a_first_failure_leaves_the_set_empty)
{
	struct dns_set s = { .port = 80 };
	struct dns_diff d;
	struct resolver_answer bad = answer("10.0.0.1 other\n");

	cr_assert(dns_set_update(&s, &bad, &d));
	cr_assert_not(s.answered);
	cr_assert_eq(s.n, 0);
}

/* Waits for the eventfd with a budget, then takes what came. */
static unsigned wait_answers(struct resolver *r, int fd, struct resolver_answer *out, unsigned max)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	cr_assert_eq(poll(&p, 1, 30000), 1, "no answer within the budget");
	cr_assert_eq(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	return resolver_take(r, out, max);
}

Test(resolver, thread_answers_at_once_and_again_after_a_change)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	struct resolver_name n = { .host = "web.internal", .port = 80 };
	struct resolver_answer *a = calloc(4, sizeof(*a));
	struct resolver *r;
	unsigned got;

	write_hosts("10.0.0.1 web.internal\n");
	cr_assert_eq(resolver_start(100, fd, &r), 0);
	resolver_set_names(r, &n, 1, 100);
	got = wait_answers(r, fd, a, 4);
	cr_assert_eq(got, 1);
	cr_assert_eq(a[0].n, 1);
	write_hosts("10.0.0.1 web.internal\n10.0.0.2 web.internal\n");
	do
		got = wait_answers(r, fd, a, 4);
	while (got == 0 || a[got - 1].n != 2);
	cr_assert_str_eq(a[got - 1].host, "web.internal");
	resolver_stop(r);
	close(fd);
	free(a);
}
