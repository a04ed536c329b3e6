/* conn_log: the access log line of a finished connection. Formatted here, on the worker, into
 * a stack buffer and pushed to the worker's own ring; the log thread writes it out
 * (src/common/access_log.c says why). Only ever called with --access-log on. */
#include "conn.h"

#include <time.h>

#include "slb/common/clock.h"

void conn_log_access(struct worker *w, const struct conn *c, enum access_log_end end)
{
	char line[ACCESS_LOG_LINE_MAX];
	int64_t now = clock_now_ms();
	struct access_log_entry e = {
		.end_unix_ms = clock_ms_of(CLOCK_REALTIME),
		.worker = w->idx,
		.connect_ms = -1,
		.end = end,
	};
	size_t n;

	if (c) {
		const struct conn_id *id = conn_id(w, c);

		e.client = id->client.len ? &id->client : NULL;
		e.listener = id->local.len ? &id->local : NULL;
		e.service = w->cfg->services[c->svc].name;
		e.backend = c->connected ? &c->baddr : NULL;
		e.backend_name = c->connected ? w->be_names[c->backend_id] : NULL;
		e.attempts = c->tried.n;
		e.bytes_up = id->bytes[0];
		e.bytes_down = id->bytes[1];
		e.duration_ms = now - id->accept_ms;
		e.connect_ms = c->connected ? id->connect_ms - id->accept_ms : -1;
	}
	n = access_log_format(line, sizeof(line), w->cfg->access_log_format, &e);
	if (n && access_log_push(w->alog, line, n))
		stat_add(&w->ch->stats.access_log_lines, 1);
	else
		stat_add(&w->ch->stats.access_log_dropped, 1);
}
