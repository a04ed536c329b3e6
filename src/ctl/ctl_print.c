/* ctl_print: see ctl_print.h. A table is collected whole, then printed with each column as
 * wide as its widest cell; colour codes wrap a cell after its padding is computed, so they
 * never shift the columns. */
#include "ctl_print.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_COLS_MAX 13
#define CELL_MAX 128

struct table {
	unsigned ncols, nrows, cap;
	int colour_col;            /* the column whose cells are state words, or -1 */
	const char *head[TABLE_COLS_MAX];
	char (*cells)[TABLE_COLS_MAX][CELL_MAX];
};

static const struct ctl_style *style;

void ctl_style_init(struct ctl_style *st, bool colour)
{
	st->colour = colour;
}

static const char *state_colour(const char *s)
{
	if (strcmp(s, "up") == 0)
		return "\033[32m";
	if (strcmp(s, "draining") == 0)
		return "\033[33m";
	if (strcmp(s, "admin_down") == 0)
		return "\033[35m";
	return strcmp(s, "down") == 0 ? "\033[31m" : NULL;
}

/* Returns the row to fill, or NULL when out of memory (the row is then left out). */
static char (*table_row(struct table *t))[CELL_MAX]
{
	if (t->nrows == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 16;
		void *p = realloc(t->cells, cap * sizeof(*t->cells));

		if (!p)
			return NULL;
		t->cells = p;
		t->cap = cap;
	}
	memset(t->cells[t->nrows], 0, sizeof(t->cells[0]));
	return t->cells[t->nrows++];
}

static void table_cell(const struct table *t, unsigned col, const char *text, size_t width, bool last)
{
	const char *c = (int)col == t->colour_col && style->colour ? state_colour(text) : NULL;

	printf("%s%s%s", c ? c : "", text, c ? "\033[0m" : "");
	if (!last)
		printf("%*s", (int)(width - strlen(text) + 2), "");
}

static void table_print(struct table *t)
{
	size_t w[TABLE_COLS_MAX];

	for (unsigned c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		for (unsigned r = 0; r < t->nrows; r++)
			if (strlen(t->cells[r][c]) > w[c])
				w[c] = strlen(t->cells[r][c]);
	}
	for (unsigned c = 0; c < t->ncols; c++)
		printf("%-*s%s", c + 1 < t->ncols ? (int)w[c] + 2 : 0, t->head[c], c + 1 < t->ncols ? "" : "\n");
	for (unsigned r = 0; r < t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++)
			table_cell(t, c, t->cells[r][c], w[c], c + 1 == t->ncols);
		printf("\n");
	}
	free(t->cells);
}

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : "-";
}

/* A decimal (slb sends hundredths, e.g. effective_weight 0.35) without its trailing zeros:
 * 1.00 is "1", 0.50 is "0.5". */
static void decimal_print(double v, char *out)
{
	size_t n = (size_t)snprintf(out, CELL_MAX, "%.2f", v);

	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}

/* A number, whole or decimal, or "-" for null or absent. */
static void num_of(json_t *o, const char *key, char *out)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(out, CELL_MAX, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		decimal_print(json_real_value(v), out);
	else
		snprintf(out, CELL_MAX, "-");
}

/* What an operator steering the backend wants to see at a glance: the drain's progress, a
 * removal, an override of the configured weight. */
static void backend_note(json_t *b, char *out)
{
	json_t *drain_ms = json_object_get(b, "drain_ms"), *aw = json_object_get(b, "admin_weight");
	int n = 0;

	out[0] = '\0';
	if (json_is_true(json_object_get(b, "drained")))
		n += snprintf(out + n, CELL_MAX - n, "drained in %lld ms ", (long long)json_integer_value(drain_ms));
	else if (json_is_integer(drain_ms))
		n += snprintf(out + n, CELL_MAX - n, "draining for %lld ms ", (long long)json_integer_value(drain_ms));
	if (json_is_true(json_object_get(b, "removing")))
		n += snprintf(out + n, CELL_MAX - n, "removing ");
	if (json_is_integer(aw) && n < CELL_MAX)
		snprintf(out + n, CELL_MAX - n, "weight set by hand (configured %lld)",
			 (long long)json_integer_value(json_object_get(b, "cfg_weight")));
	if (!out[0])
		snprintf(out, CELL_MAX, "-");
}

static void backend_row(struct table *t, json_t *b)
{
	char (*row)[CELL_MAX] = table_row(t);

	if (!row)
		return;
	num_of(b, "id", row[0]);
	snprintf(row[1], CELL_MAX, "%s", str_of(b, "name"));
	snprintf(row[2], CELL_MAX, "%s", str_of(b, "address"));
	snprintf(row[3], CELL_MAX, "%s", str_of(b, "service"));
	snprintf(row[4], CELL_MAX, "%s", str_of(b, "state"));
	snprintf(row[5], CELL_MAX, "%s", str_of(b, "source"));
	num_of(b, json_object_get(b, "effective_weight") ? "effective_weight" : "weight", row[6]);
	num_of(b, "load", row[7]);
	num_of(b, "active_conns", row[8]);
	num_of(b, "total_conns", row[9]);
	num_of(b, "failures", row[10]);
	backend_note(b, row[11]);
	snprintf(row[12], CELL_MAX, "%s", str_of(b, "reason"));
}

static void backends_print(json_t *list)
{
	struct table t = { .ncols = 13, .colour_col = 4,
			   .head = { "ID", "NAME", "ADDRESS", "SERVICE", "STATE", "SOURCE", "WEIGHT", "LOAD", "ACTIVE",
				     "CONNS", "FAIL", "NOTE", "REASON" } };
	size_t i;
	json_t *b;

	json_array_foreach(list, i, b)
		backend_row(&t, b);
	table_print(&t);
}

static void workers_print(json_t *list)
{
	struct table t = { .ncols = 6, .colour_col = -1,
			   .head = { "WORKER", "ACTIVE", "ACCEPTED", "REJECTED", "NO_BACKEND", "RETRIES" } };
	static const char *const keys[] = { "id", "active", "accepted", "rejected", "no_backend", "retries" };
	size_t i;
	json_t *w;

	json_array_foreach(list, i, w) {
		char (*row)[CELL_MAX] = table_row(&t);

		for (unsigned c = 0; row && c < 6; c++)
			num_of(w, keys[c], row[c]);
	}
	table_print(&t);
}

/* The listeners of a service, comma-separated, cut at the cell's size. */
static void listeners_cell(json_t *svc, char *out)
{
	size_t i, n = 0;
	json_t *l;

	snprintf(out, CELL_MAX, "-");
	json_array_foreach(json_object_get(svc, "listen"), i, l)
		if (n < CELL_MAX)
			n += (size_t)snprintf(out + n, CELL_MAX - n, "%s%s", i ? "," : "", json_string_value(l));
}

static void services_print(json_t *list)
{
	struct table t = { .ncols = 5, .colour_col = -1,
			   .head = { "SERVICE", "LIVE", "TOTAL", "ALGORITHM", "LISTENERS" } };
	size_t i;
	json_t *s;

	json_array_foreach(list, i, s) {
		char (*row)[CELL_MAX] = table_row(&t);

		if (!row)
			continue;
		snprintf(row[0], CELL_MAX, "%s", str_of(s, "name"));
		num_of(s, "live", row[1]);
		num_of(s, "total", row[2]);
		snprintf(row[3], CELL_MAX, "%s", str_of(s, "algorithm"));
		listeners_cell(s, row[4]);
	}
	table_print(&t);
}

void ctl_print_status(const struct ctl_style *st, json_t *root)
{
	json_t *services = json_object_get(root, "services");

	style = st;
	backends_print(json_object_get(root, "backends"));
	printf("\n");
	if (json_is_array(services)) { /* an slb of before services has none */
		services_print(services);
		printf("\n");
	}
	workers_print(json_object_get(root, "workers"));
}

void ctl_print_backend(const struct ctl_style *st, json_t *root)
{
	json_t *one = json_array();

	style = st;
	json_array_append(one, root);
	backends_print(one);
	json_decref(one);
}

static void event_time(json_t *e, char *out)
{
	time_t secs = (time_t)(json_integer_value(json_object_get(e, "time_ms")) / 1000);
	struct tm tm;

	strftime(out, CELL_MAX, "%Y-%m-%d %H:%M:%S", localtime_r(&secs, &tm));
}

static void event_row(struct table *t, json_t *e)
{
	char (*row)[CELL_MAX] = table_row(t);

	if (!row)
		return;
	num_of(e, "seq", row[0]);
	event_time(e, row[1]);
	num_of(e, "id", row[2]);
	snprintf(row[3], CELL_MAX, "%s", str_of(e, "address"));
	snprintf(row[4], CELL_MAX, "%s", str_of(e, "old"));
	snprintf(row[5], CELL_MAX, "%s", str_of(e, "new"));
	snprintf(row[6], CELL_MAX, "%s", str_of(e, "reason"));
}

static struct table events_table(void)
{
	return (struct table){ .ncols = 7, .colour_col = 5,
			       .head = { "SEQ", "TIME", "ID", "ADDRESS", "OLD", "NEW", "REASON" } };
}

void ctl_print_events(const struct ctl_style *st, json_t *root)
{
	struct table t = events_table();
	size_t i;
	json_t *e;

	style = st;
	json_array_foreach(json_object_get(root, "events"), i, e)
		event_row(&t, e);
	table_print(&t);
}

/* A followed event has no table to align with: fixed widths that fit the usual values. */
void ctl_print_event(const struct ctl_style *st, json_t *e)
{
	struct table t = events_table();
	const char *colour;

	style = st;
	event_row(&t, e);
	if (!t.nrows)
		return;
	colour = st->colour ? state_colour(t.cells[0][5]) : NULL;
	printf("%-6s %s  id %-4s %-22s %-10s -> %s%-10s%s %s\n", t.cells[0][0], t.cells[0][1], t.cells[0][2],
	       t.cells[0][3], t.cells[0][4], colour ? colour : "", t.cells[0][5], colour ? "\033[0m" : "",
	       t.cells[0][6]);
	free(t.cells);
}
