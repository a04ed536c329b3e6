/* A backend resolved from a host name: added with its origin, drained by BE_EV_DNS_GONE
 * through the one removal (cause dns), taken back by BE_EV_RESTORE, never out of an
 * operator's removal. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "slb/control/backend_table.h"

static const struct table_params params = { .svc[0] = { .rise = 2, .fall = 3 }, .drain_timeout_ms = 10000 };
static struct backend_table *t;
static char last_reason[TABLE_REASON_MAX], last_new[16];

static void on_change(void *arg, const struct backend *b, const char *old_state, const char *new_state,
		      const char *reason, int64_t now_ms)
{
	(void)arg, (void)b, (void)old_state, (void)now_ms;
	snprintf(last_reason, sizeof(last_reason), "%s", reason);
	snprintf(last_new, sizeof(last_new), "%s", new_state);
}

static void setup(void)
{
	t = table_create(&params);
	cr_assert(t);
	table_set_notify(t, on_change, NULL);
}

static void teardown(void)
{
	table_destroy(t);
}

TestSuite(backend_table_dns, .init = setup, .fini = teardown);

static struct backend *add_resolved(const char *text)
{
	struct slb_addr a;
	struct backend *b;

	cr_assert_eq(addr_parse(text, &a, NULL, 0), 0);
	cr_assert_eq(table_add_resolved(t, &a, 2, "web.internal", 0, &b), 0);
	return b;
}

Test(backend_table_dns, added_up_with_its_origin)
{
	struct backend *b = add_resolved("10.0.0.1:80");

	cr_assert_str_eq(b->origin, "web.internal");
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->source, BE_SOURCE_STATIC);
	cr_assert_str_eq(last_reason, "resolved from web.internal");
	cr_assert_eq(table_add_resolved(t, &b->addr, 1, "other", 0, &b), -EEXIST);
}

Test(backend_table_dns, leaving_the_answer_drains_and_removes_with_cause_dns)
{
	struct backend *b = add_resolved("10.0.0.1:80");
	uint32_t id = b->id;

	cr_assert_eq(table_apply(t, b, BE_EV_DNS_GONE, NULL, 100), 1);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
	cr_assert_eq(b->removing, BE_REMOVAL_DNS);
	cr_assert_str_eq(last_reason, "removed from the DNS answer");
	table_note_active(t, b, 0, 200);
	cr_assert(table_removal_due(t, b, 200));
	table_remove(t, b, NULL, 200);
	cr_assert_null(table_get(t, id));
	cr_assert_str_eq(last_new, "none");
	cr_assert(strstr(last_reason, "removed from the DNS answer"), "%s", last_reason);
	cr_assert(table_id_reserved(t, id));
}

Test(backend_table_dns, back_in_the_answer_before_it_drained)
{
	struct backend *b = add_resolved("10.0.0.1:80");

	table_apply(t, b, BE_EV_DNS_GONE, NULL, 100);
	cr_assert_eq(table_apply(t, b, BE_EV_RESTORE, NULL, 150), 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->removing, BE_REMOVAL_NONE);
	cr_assert_str_eq(last_reason, "back in the DNS answer");
}

Test(backend_table_dns, the_operators_removal_stands)
{
	struct backend *b = add_resolved("10.0.0.1:80");

	table_apply(t, b, BE_EV_ADMIN_REMOVE, "from 127.0.0.1", 100);
	table_apply(t, b, BE_EV_DNS_GONE, NULL, 110);
	cr_assert_eq(b->removing, BE_REMOVAL_API);
	table_apply(t, b, BE_EV_RESTORE, NULL, 120);
	cr_assert_eq(b->removing, BE_REMOVAL_API);
	cr_assert_eq(b->state, BE_STATE_DRAINING);
}
