/* resolver: a backend host name's lookup (getaddrinfo, or the test seam's hosts file) and the
 * set of addresses health keeps per name. See resolver.h. */
#include "slb/control/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int answer_fail(struct resolver_answer *out, int error, const char *why)
{
	out->error = error;
	snprintf(out->err, sizeof(out->err), "%s", why);
	return error;
}

/* Same order as addr_equal's notion of equality, so that a sorted set has no neighbours equal. */
static int addr_cmp(const void *pa, const void *pb)
{
	const struct slb_addr *a = pa, *b = pb;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(&a->ss, &b->ss, a->len);
}

/* Keeps one copy of each address in a sorted order: DNS servers rotate their records, and a
 * rotation must not read as a change. */
static void answer_add(struct resolver_answer *out, const struct sockaddr *sa, socklen_t len)
{
	struct slb_addr a;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) || len > sizeof(a.ss))
		return;
	memset(&a, 0, sizeof(a));
	memcpy(&a.ss, sa, len);
	a.len = len;
	for (unsigned i = 0; i < out->n; i++)
		if (addr_equal(&out->addrs[i], &a))
			return;
	if (out->n == RESOLVER_MAX_ADDRS) {
		out->truncated = true;
		return;
	}
	out->addrs[out->n++] = a;
}

static void answer_finish(struct resolver_answer *out)
{
	qsort(out->addrs, out->n, sizeof(out->addrs[0]), addr_cmp);
}

static void answer_add_text(struct resolver_answer *out, const char *text)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(out->port) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(out->port) };

	if (inet_pton(AF_INET, text, &sin.sin_addr) == 1)
		answer_add(out, (struct sockaddr *)&sin, sizeof(sin));
	else if (inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1)
		answer_add(out, (struct sockaddr *)&sin6, sizeof(sin6));
}

/* One "ADDR NAME..." line of the seam file: ADDR joins the answer when a NAME is the host. */
static void seam_line(struct resolver_answer *out, char *line)
{
	char *save, *addr = strtok_r(line, " \t\r\n", &save), *name;

	if (!addr || addr[0] == '#')
		return;
	while ((name = strtok_r(NULL, " \t\r\n", &save)) && name[0] != '#')
		if (strcasecmp(name, out->host) == 0)
			answer_add_text(out, addr);
}

static int seam_lookup(const char *path, struct resolver_answer *out)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (!f)
		return answer_fail(out, -EIO, "cannot read " RESOLVER_ENV_HOSTS);
	while (fgets(line, sizeof(line), f))
		seam_line(out, line);
	fclose(f);
	return out->n ? 0 : answer_fail(out, -ENOENT, "no such name (" RESOLVER_ENV_HOSTS ")");
}

/* getaddrinfo's EAI_* as this module's -errno: only "no such name" and "try again" differ to
 * an operator. */
static int lookup_error(int rc)
{
	if (rc == EAI_NONAME || rc == EAI_NODATA)
		return -ENOENT;
	return rc == EAI_AGAIN ? -EAGAIN : -EIO;
}

static int dns_lookup(struct resolver_answer *out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", out->port);
	rc = getaddrinfo(out->host, port, &hints, &res);
	if (rc)
		return answer_fail(out, lookup_error(rc), rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next)
		answer_add(out, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	return out->n ? 0 : answer_fail(out, -ENOENT, "no address");
}

/* See resolver.h. */
int resolver_lookup(const char *host, uint16_t port, struct resolver_answer *out)
{
	const char *seam = getenv(RESOLVER_ENV_HOSTS);
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->host, sizeof(out->host), "%s", host);
	out->port = port;
	rc = seam && seam[0] ? seam_lookup(seam, out) : dns_lookup(out);
	answer_finish(out);
	return rc;
}

/* See resolver.h. */
bool dns_set_has(const struct dns_set *s, const struct slb_addr *a)
{
	for (unsigned i = 0; i < s->n; i++)
		if (addr_equal(&s->addrs[i], a))
			return true;
	return false;
}

static bool answer_has(const struct resolver_answer *a, const struct slb_addr *x)
{
	for (unsigned i = 0; i < a->n; i++)
		if (addr_equal(&a->addrs[i], x))
			return true;
	return false;
}

/* See resolver.h. */
bool dns_set_update(struct dns_set *s, const struct resolver_answer *a, struct dns_diff *d)
{
	int was = s->failing;

	memset(d, 0, sizeof(*d));
	s->failing = a->error;
	if (a->error)
		return was == 0;
	for (unsigned i = 0; i < s->n; i++)
		if (!answer_has(a, &s->addrs[i]))
			d->gone[d->n_gone++] = s->addrs[i];
	for (unsigned i = 0; i < a->n; i++)
		if (!dns_set_has(s, &a->addrs[i]))
			d->added[d->n_added++] = a->addrs[i];
	memcpy(s->addrs, a->addrs, a->n * sizeof(a->addrs[0]));
	s->n = a->n;
	s->answered = true;
	return was != 0;
}
