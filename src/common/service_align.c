/* service_align: services matched by name across a reload (see service_align.h). The result
 * is built aside and copied into next only once every new service has an index, so a refused
 * reload leaves next as parsed. */
#include "slb/common/service_align.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* The work of one alignment: the services by their new index, and where next's went. */
struct align_work {
	struct service_config svc[CONFIG_MAX_SERVICES];
	bool taken[CONFIG_MAX_SERVICES];      /* given to a service of next this time */
	uint16_t where[CONFIG_MAX_SERVICES];      /* next's index j -> its new index */
	unsigned n;
};

/* A listener group's members (a bit per service index of next) at their new indices. */
/* A listener group's 64 bits (config_listen_sni_has) renumbered by where. A member moved
 * past the first 64 services by the alignment cannot stay in the bits: it is left out. */
static uint64_t align_mask(uint64_t members, const uint16_t *where)
{
	uint64_t out = 0;

	for (unsigned j = 0; j < 64 && j < CONFIG_MAX_SERVICES; j++)
		if ((members >> j & 1) && where[j] < 64)
			out |= 1ull << where[j];
	return out;
}

static int align_find(const struct slb_config *run, const char *name)
{
	for (unsigned i = 0; i < run->n_services; i++)
		if (strcmp(run->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* An index for a name run never had: a fresh one first, so that a retired index is reused only
 * when nothing else is left, and then only when idle says nothing uses it. -1: none. */
static int align_free_index(struct align_work *w, service_idle_fn idle, void *arg)
{
	if (w->n < CONFIG_MAX_SERVICES)
		return (int)w->n++;
	for (unsigned k = 0; idle && k < w->n; k++)
		if (w->svc[k].retired && !w->taken[k] && idle(k, arg))
			return (int)k;
	return -1;
}

static void align_note(struct service_align *out, const struct slb_config *run, unsigned k, bool served)
{
	bool was = k < run->n_services && !run->services[k].retired;

	if (served && was)
		out->kept[out->n_kept++] = (uint16_t)k;
	else if (served)
		out->added[out->n_added++] = (uint16_t)k;
	else if (was)
		out->removed[out->n_removed++] = (uint16_t)k;
}

/* Every service of next at its index in w, or -ENOSPC naming the first that found none. */
static int align_place(struct align_work *w, const struct slb_config *run, const struct slb_config *next,
		       service_idle_fn idle, void *arg, char *err, size_t errlen)
{
	for (unsigned j = 0; j < next->n_services; j++) {
		int k = align_find(run, next->services[j].name);

		if (k < 0)
			continue;
		w->where[j] = (uint16_t)k;
		w->taken[k] = true;
	}
	for (unsigned j = 0; j < next->n_services; j++) {
		int k = align_find(run, next->services[j].name);

		if (k < 0)
			k = align_free_index(w, idle, arg);
		if (k < 0) {
			snprintf(err, errlen, "service %s: no room for it: slb holds at most %u services, counting the "
				 "removed ones still draining (an upgrade or restart forgets those)",
				 next->services[j].name, CONFIG_MAX_SERVICES);
			return -ENOSPC;
		}
		w->where[j] = (uint16_t)k;
		w->taken[k] = true;
		w->svc[k] = next->services[j];
		w->svc[k].retired = false;
	}
	return 0;
}

/* See service_align.h. */
int service_align(const struct slb_config *run, struct slb_config *next, service_idle_fn idle, void *arg,
		  struct service_align *out, char *err, size_t errlen)
{
	struct align_work *w = calloc(1, sizeof(*w));
	int ret;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(out, 0, sizeof(*out));
	w->n = run->n_services;
	for (unsigned i = 0; i < run->n_services; i++) {
		w->svc[i] = run->services[i];
		w->svc[i].retired = true; /* until a service of next takes it */
	}
	ret = align_place(w, run, next, idle, arg, err, errlen);
	if (ret)
		goto out_free;
	for (unsigned k = 0; k < w->n; k++)
		align_note(out, run, k, w->taken[k]);
	for (unsigned i = 0; i < next->n_listen; i++) {
		next->listen_service[i] = w->where[next->listen_service[i]];
		next->listen_sni[i] = align_mask(next->listen_sni[i], w->where);
	}
	for (unsigned i = 0; i < next->n_backends; i++)
		next->backends[i].service = w->where[next->backends[i].service];
	memcpy(next->services, w->svc, sizeof(w->svc));
	next->n_services = w->n;
out_free:
	free(w);
	return ret;
}
