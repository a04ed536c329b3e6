/* conn_log: the access log line of a finished connection. Formatted here, on the worker, into
 * a stack buffer and pushed to the worker's own ring; the log thread writes it out
 * (src/common/access_log.c says why). Only ever called with --access-log on. */
#include "conn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "slb/common/clock.h"
#include "slb/dataplane/tls_hello.h"

/* The server name as the log writes it: letters, digits and ".-_*" as they are (the name is
 * lowercased already), any other byte as \xHH, cut at a whole character to fit. */
static void conn_log_name(const struct tls_hello *h, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < h->name_len; i++) {
		unsigned char ch = (unsigned char)h->name[i];
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch && strchr(".-_*", ch));

		if (n + (plain ? 1 : 4) >= size)
			break;
		if (plain)
			out[n++] = (char)ch;
		else
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", ch);
	}
	out[n] = '\0';
}

static void conn_log_tls(const struct worker *w, const struct conn *c, struct access_log_entry *e,
			 char sni[TLS_TEXT_MAX], char alpn[TLS_TEXT_MAX])
{
	const struct tls_hello *h = conn_sni_hello(w, c);

	if (!h)
		return;
	e->tls = true;
	conn_log_name(h, sni, TLS_TEXT_MAX);
	tls_hello_alpn_text(h, alpn, TLS_TEXT_MAX);
	e->sni = sni;
	e->alpn = alpn;
}

void conn_log_access(struct worker *w, const struct conn *c, enum access_log_end end)
{
	char line[ACCESS_LOG_LINE_MAX], sni[TLS_TEXT_MAX], alpn[TLS_TEXT_MAX];
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
		conn_log_tls(w, c, &e, sni, alpn);
	}
	n = access_log_format(line, sizeof(line), w->cfg->access_log_format, &e);
	if (n && access_log_push(w->alog, line, n))
		stat_add(&w->ch->stats.access_log_lines, 1);
	else
		stat_add(&w->ch->stats.access_log_dropped, 1);
}
