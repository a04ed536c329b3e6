/* service_align: a reload's services matched to the running ones by name, so that every index
 * an open connection or a pool holds keeps meaning the same service. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "slb/common/service_align.h"

/* A config of the named services (index 0 is always "default"), one listener and one backend
 * each, listener i on port 1000 + i of the name's first letter, so a test can tell them apart. */
static void make(struct slb_config *cfg, const char *const *names, unsigned n)
{
	memset(cfg, 0, sizeof(*cfg));
	for (unsigned i = 0; i < n; i++) {
		char text[32];

		snprintf(cfg->services[i].name, sizeof(cfg->services[i].name), "%s", names[i]);
		cfg->services[i].retries = 10 + (unsigned)names[i][0];
		snprintf(text, sizeof(text), "127.0.0.1:%u", 1000u + (unsigned)names[i][0]);
		cr_assert_eq(addr_parse(text, &cfg->listen[i], text, sizeof(text)), 0);
		cfg->listen_service[i] = (unsigned char)i;
		cfg->backends[i].service = i;
		cfg->backends[i].weight = 100 + (unsigned)names[i][0];
	}
	cfg->n_services = cfg->n_listen = cfg->n_backends = n;
}

static struct slb_config run, next;

static void align_ok(struct service_align *out)
{
	char err[256] = "";

	cr_assert_eq(service_align(&run, &next, NULL, NULL, out, err, sizeof(err)), 0, "%s", err);
}

/* The listener and the backend of the service named name point to its index. */
static void expect_at(const char *name, unsigned idx)
{
	unsigned port = 1000u + (unsigned)name[0];

	cr_assert_str_eq(next.services[idx].name, name);
	cr_assert_not(next.services[idx].retired, "%s retired", name);
	for (unsigned i = 0; i < next.n_listen; i++)
		if (addr_port(&next.listen[i]) == port)
			cr_assert_eq(next.listen_service[i], idx, "listener of %s", name);
	for (unsigned i = 0; i < next.n_backends; i++)
		if (next.backends[i].weight == 100 + (unsigned)name[0])
			cr_assert_eq(next.backends[i].service, idx, "backend of %s", name);
}

TestSuite(service_align);

Test(service_align, kept_services_keep_their_index_whatever_the_file_order)
{
	struct service_align out;

	make(&run, (const char *const[]){ "default", "api", "web" }, 3);
	make(&next, (const char *const[]){ "default", "web", "api" }, 3);
	align_ok(&out);
	cr_assert_eq(next.n_services, 3);
	expect_at("api", 1);
	expect_at("web", 2);
	cr_assert_eq(out.n_kept, 3);
	cr_assert_eq(out.n_added + out.n_removed, 0);
}

Test(service_align, a_new_service_takes_a_fresh_index_and_a_removed_one_stays_retired)
{
	struct service_align out;

	make(&run, (const char *const[]){ "default", "api", "web" }, 3);
	make(&next, (const char *const[]){ "default", "web", "static" }, 3);
	align_ok(&out);
	cr_assert_eq(next.n_services, 4, "an index in use is never given to another name");
	expect_at("web", 2);
	expect_at("static", 3);
	cr_assert_str_eq(next.services[1].name, "api");
	cr_assert(next.services[1].retired);
	cr_assert_eq(next.services[1].retries, 10u + 'a', "a retired service keeps its running settings");
	cr_assert_eq(out.n_added, 1);
	cr_assert_eq(out.added[0], 3);
	cr_assert_eq(out.n_removed, 1);
	cr_assert_eq(out.removed[0], 1);
	cr_assert_eq(out.n_kept, 2);
}

Test(service_align, a_service_back_after_a_removal_takes_its_old_index)
{
	struct service_align out;
	struct slb_config removed;

	make(&run, (const char *const[]){ "default", "api", "web" }, 3);
	make(&next, (const char *const[]){ "default", "web" }, 2);
	align_ok(&out);
	removed = next;
	run = removed;
	make(&next, (const char *const[]){ "default", "web", "api" }, 3);
	align_ok(&out);
	cr_assert_eq(next.n_services, 3, "twenty add-remove rounds use no more indexes than one");
	expect_at("api", 1);
	expect_at("web", 2);
	cr_assert_eq(out.n_added, 1);
	cr_assert_eq(out.added[0], 1, "back: counted as added");
	cr_assert_eq(out.n_removed, 0);
	/* removed again: a service already retired is not removed twice */
	run = removed;
	make(&next, (const char *const[]){ "default", "web" }, 2);
	align_ok(&out);
	cr_assert_eq(out.n_removed, 0);
	cr_assert(next.services[1].retired);
}

static bool idle_only(unsigned idx, void *arg)
{
	return idx == *(unsigned *)arg;
}

Test(service_align, a_retired_index_goes_to_another_name_only_when_full_and_idle)
{
	struct service_align out;
	char err[256] = "";
	unsigned idle_idx = 5;

	make(&run, (const char *const[]){ "default" }, 1);
	for (unsigned i = 1; i < CONFIG_MAX_SERVICES; i++) {
		snprintf(run.services[i].name, sizeof(run.services[i].name), "s%u", i);
		run.services[i].retired = i == 5 || i == 7;
	}
	run.n_services = CONFIG_MAX_SERVICES;
	next = run;
	next.services[5] = next.services[CONFIG_MAX_SERVICES - 1];
	next.services[7] = next.services[CONFIG_MAX_SERVICES - 2];
	next.n_services = CONFIG_MAX_SERVICES - 2;
	snprintf(next.services[0].name, sizeof(next.services[0].name), "default");
	snprintf(next.services[next.n_services++].name, sizeof(next.services[0].name), "new");
	next.n_listen = next.n_backends = 0;
	cr_assert_eq(service_align(&run, &next, NULL, NULL, &out, err, sizeof(err)), -ENOSPC);
	cr_assert(strstr(err, "service new: no room for it"), "%s", err);
	cr_assert_eq(next.n_services, CONFIG_MAX_SERVICES - 1, "a refused alignment leaves next as it was");
	cr_assert_eq(service_align(&run, &next, idle_only, &idle_idx, &out, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(next.services[5].name, "new");
	cr_assert(next.services[7].retired, "not idle: kept");
	cr_assert_eq(out.n_added, 1);
	cr_assert_eq(out.added[0], 5);
}
