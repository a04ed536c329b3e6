/* backend_table_restore: an outlier ejection handed over by a binary upgrade holds for the
 * time it had left in the old process, ends there through table_tick, and counts as the same
 * repeat (the next ejection lasts twice as long). */
#include <criterion/criterion.h>
#include <errno.h>

#include "slb/control/backend_table_restore.h"
#include "slb/common/log.h"
#include "slb/control/gray.h"

#define BASE_MS 10000

static const struct table_params params = {
	.svc[0] = { .rise = 2, .fall = 3 },
	.heartbeat_timeout_ms = 3000,
	.expire_ms = 60000,
	.outlier_base_ejection_ms = BASE_MS,
};

static struct backend_table *t;
static struct backend *b;

static void setup(void)
{
	struct slb_addr a;

	atomic_store(&log_threshold, LOG_ERROR);
	t = table_create(&params);
	cr_assert_not_null(t);
	cr_assert_eq(addr_parse("10.0.0.1:80", &a, NULL, 0), 0);
	cr_assert_eq(table_add_static(t, &a, 1, 0, &b), 0);
}

static void teardown(void)
{
	table_destroy(t);
}

TestSuite(backend_table_restore, .init = setup, .fini = teardown);

Test(backend_table_restore, an_ejection_holds_for_the_time_it_had_left)
{
	cr_assert_eq(table_restore_ejection(t, b, 1500, 2, "outlier before the upgrade", 1000), 1);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_eq(b->ejected_until_ms, 2500, "ends when it would have in the old process");
	cr_assert_eq(table_tick(t, 2499), 0);
	cr_assert_eq(b->state, BE_STATE_DOWN);
	cr_assert_eq(table_tick(t, 2500), 1);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->ejected_until_ms, 0);
}

Test(backend_table_restore, it_counts_as_the_same_repeat)
{
	cr_assert_eq(table_restore_ejection(t, b, 1500, 2, NULL, 1000), 1);
	table_tick(t, 2500);
	cr_assert_eq(table_apply(t, b, BE_EV_OUTLIER, NULL, 3000), 1);
	cr_assert_eq(b->outlier_count, 3);
	cr_assert_eq(b->ejected_until_ms, 3000 + gray_ejection_ms(BASE_MS, 3), "the third in a row lasts 4x");
}

Test(backend_table_restore, nothing_left_changes_nothing)
{
	cr_assert_eq(table_restore_ejection(t, b, 0, 1, NULL, 1000), -EINVAL);
	cr_assert_eq(table_restore_ejection(t, b, 500, 0, NULL, 1000), -EINVAL);
	cr_assert_eq(b->state, BE_STATE_UP);
	cr_assert_eq(b->ejected_until_ms, 0);
	cr_assert_eq(b->outlier_count, 0);
}
