/* netns: namespaces and nftables for the network fault tests; see netns.h. */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NETNS_DIR "/run/netns"
#define NAME_PREFIX "slbf"

/* See netns.h. */
int netns_sh(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	size_t got = 0;
	va_list ap;
	FILE *f;
	int st, n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 8)
		return -E2BIG;
	strcat(cmd, " 2>&1");
	f = popen(cmd, "re");
	if (!f)
		return -errno;
	if (out && len) {
		got = fread(out, 1, len - 1, f);
		out[got] = '\0';
	}
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	if (st == -1)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int ns_open(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd == -1 ? -errno : fd;
}

static int ns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) == -1 ? -errno : 0;
}

/* Deletes namespaces named slbf<pid>... whose test process is gone (killed before cleanup). */
static void remove_stale(void)
{
	DIR *d = opendir(NETNS_DIR);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		long pid;
		char *end;

		if (strncmp(e->d_name, NAME_PREFIX, strlen(NAME_PREFIX)))
			continue;
		pid = strtol(e->d_name + strlen(NAME_PREFIX), &end, 10);
		if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		netns_sh(NULL, 0, "ip netns del %s", e->d_name);
	}
	closedir(d);
}

/* Each step names the namespace it runs in ("ip -n NS") and, for the veth, the peer's. */
static int setup_links(struct netns *n, char *why, size_t len)
{
	const struct {
		const char *ns;
		const char *args;
	} steps[] = {
		{ NULL, "add" },
		{ NULL, "add" },
		{ n->lb, "link add v0 type veth peer name v0 netns" },
		{ n->lb, "link set lo up" },
		{ n->be, "link set lo up" },
		{ n->lb, "addr add " NETNS_LB_ADDR "/24 dev v0" },
		{ n->be, "addr add " NETNS_BE_ADDR "/24 dev v0" },
		{ n->lb, "link set v0 up" },
		{ n->be, "link set v0 up" },
	};
	char out[512], cmd[256];

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc;

		if (!steps[i].ns)
			snprintf(cmd, sizeof(cmd), "ip netns add %s", i == 0 ? n->lb : n->be);
		else if (i == 2)
			snprintf(cmd, sizeof(cmd), "ip -n %s %s %s", steps[i].ns, steps[i].args, n->be);
		else
			snprintf(cmd, sizeof(cmd), "ip -n %s %s", steps[i].ns, steps[i].args);
		rc = netns_sh(out, sizeof(out), "%s", cmd);
		if (i == 0 && rc == 0)
			n->made = true;
		if (rc) {
			snprintf(why, len, "`%s` failed (%d): %s", cmd, rc, out);
			return rc == 127 ? -ENOENT : -EPERM;
		}
	}
	return 0;
}

/* Checks for root, removes a killed test's leftovers and opens the caller's namespace (to
 * come back to) into *fd. Returns 0 or -errno with the reason in why. */
static int open_origin(int *fd, char *why, size_t len)
{
	if (geteuid() != 0) {
		snprintf(why, len, "network namespaces need root");
		return -EPERM;
	}
	remove_stale();
	*fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*fd == -1) {
		snprintf(why, len, "cannot open /proc/self/ns/net: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Moves the calling thread back into the namespace *fd holds, and closes it. */
static void return_to_origin(int *fd)
{
	if (*fd < 0)
		return;
	ns_enter(*fd);
	close(*fd);
	*fd = -1;
}

/* See netns.h. */
int netns_create(struct netns *n, char *why, size_t len)
{
	int rc;

	memset(n, 0, sizeof(*n));
	n->orig_fd = n->lb_fd = n->be_fd = -1;
	n->inited = true;
	rc = open_origin(&n->orig_fd, why, len);
	if (rc)
		return rc;
	snprintf(n->lb, sizeof(n->lb), NAME_PREFIX "%d_lb", (int)getpid());
	snprintf(n->be, sizeof(n->be), NAME_PREFIX "%d_be", (int)getpid());
	rc = setup_links(n, why, len);
	if (!rc) {
		n->lb_fd = ns_open(n->lb);
		n->be_fd = ns_open(n->be);
		if (n->lb_fd < 0 || n->be_fd < 0) {
			rc = n->lb_fd < 0 ? n->lb_fd : n->be_fd;
			snprintf(why, len, "cannot open the namespaces: %s", strerror(-rc));
		}
	}
	if (!rc) {
		rc = ns_enter(n->lb_fd);
		if (rc)
			snprintf(why, len, "setns: %s", strerror(-rc));
	}
	if (rc)
		netns_destroy(n);
	return rc;
}

/* See netns.h. */
int netns_enter_lb(const struct netns *n)
{
	return ns_enter(n->lb_fd);
}

/* See netns.h. */
int netns_enter_be(const struct netns *n)
{
	return ns_enter(n->be_fd);
}

/* Loads ruleset (nft -f syntax) into the namespace named ns; see netns_nft for the result. */
static int nft_load(const char *ns, const char *ruleset, char *why, size_t len)
{
	char path[] = "/tmp/slbf-nft-XXXXXX";
	int fd = mkstemp(path), rc;
	size_t rlen = strlen(ruleset);

	if (fd == -1)
		return -errno;
	if (netns_sh(why, len, "command -v nft") != 0) {
		snprintf(why, len, "nft not found in PATH");
		close(fd);
		unlink(path);
		return -ENOENT;
	}
	rc = write(fd, ruleset, rlen) == (ssize_t)rlen ? 0 : -EIO;
	close(fd);
	if (!rc) {
		rc = netns_sh(why, len, "ip netns exec %s nft -f %s", ns, path);
		if (rc && strstr(why, "exec of \"nft\" failed"))
			rc = -ENOENT;
		else if (rc)
			rc = -EINVAL;
	}
	unlink(path);
	return rc;
}

/* See netns.h. */
int netns_nft(const struct netns *n, const char *ruleset, char *why, size_t len)
{
	return nft_load(n->be, ruleset, why, len);
}

/* See netns.h. */
int netns_nft_flush(const struct netns *n)
{
	return netns_sh(NULL, 0, "ip netns exec %s nft flush ruleset", n->be) ? -EIO : 0;
}

/* See netns.h. */
void netns_destroy(struct netns *n)
{
	if (!n->inited)
		return;
	return_to_origin(&n->orig_fd);
	if (n->lb_fd >= 0)
		close(n->lb_fd);
	if (n->be_fd >= 0)
		close(n->be_fd);
	n->lb_fd = n->be_fd = -1;
	if (n->made) {
		netns_sh(NULL, 0, "ip netns del %s", n->lb);
		netns_sh(NULL, 0, "ip netns del %s", n->be);
		n->made = false;
	}
}

/* ---- topologies ---- */

/* See netns.h. */
int netns_topo_init(struct netns_topo *t, char *why, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->orig_fd = -1;
	t->inited = true;
	return open_origin(&t->orig_fd, why, len);
}

/* See netns.h. */
int netns_topo_add(struct netns_topo *t, const char *suffix, char *why, size_t len)
{
	char *name = t->name[t->n];
	char out[512];
	int rc;

	if (t->n == NETNS_TOPO_MAX)
		return -ENOSPC;
	snprintf(name, sizeof(t->name[0]), NAME_PREFIX "%d_%s", (int)getpid(), suffix);
	rc = netns_sh(out, sizeof(out), "ip netns add %s && ip -n %s link set lo up", name, name);
	if (rc) {
		snprintf(why, len, "`ip netns add %s` failed (%d): %s", name, rc, out);
		return rc == 127 ? -ENOENT : -EPERM;
	}
	t->fd[t->n] = ns_open(name);
	if (t->fd[t->n] < 0) {
		snprintf(why, len, "cannot open namespace %s: %s", name, strerror(-t->fd[t->n]));
		netns_sh(NULL, 0, "ip netns del %s", name);
		return t->fd[t->n];
	}
	return (int)t->n++;
}

/* See netns.h. */
int netns_topo_link(struct netns_topo *t, int a, const char *ifa, const char *cidr_a, int b, const char *ifb,
		    const char *cidr_b, char *why, size_t len)
{
	const char *na = t->name[a], *nb = t->name[b];
	int rc;

	rc = netns_sh(why, len,
		      "ip -n %s link add %s type veth peer name %s netns %s && ip -n %s addr add %s dev %s && "
		      "ip -n %s addr add %s dev %s && ip -n %s link set %s up && ip -n %s link set %s up",
		      na, ifa, ifb, nb, na, cidr_a, ifa, nb, cidr_b, ifb, na, ifa, nb, ifb);
	return rc ? -EIO : 0;
}

/* See netns.h. */
int netns_topo_sh(const struct netns_topo *t, int i, char *out, size_t len, const char *fmt, ...)
{
	char cmd[1536];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) || strchr(cmd, '\''))
		return -E2BIG;
	return netns_sh(out, len, "ip netns exec %s sh -c '%s'", t->name[i], cmd);
}

/* See netns.h. */
int netns_topo_nft(const struct netns_topo *t, int i, const char *ruleset, char *why, size_t len)
{
	return nft_load(t->name[i], ruleset, why, len);
}

/* See netns.h. */
int netns_topo_nft_flush(const struct netns_topo *t, int i)
{
	return netns_sh(NULL, 0, "ip netns exec %s nft flush ruleset", t->name[i]) ? -EIO : 0;
}

/* See netns.h. */
int netns_topo_enter(const struct netns_topo *t, int i)
{
	return ns_enter(i < 0 ? t->orig_fd : t->fd[i]);
}

/* See netns.h. */
void netns_topo_destroy(struct netns_topo *t)
{
	if (!t->inited)
		return;
	return_to_origin(&t->orig_fd);
	for (unsigned i = 0; i < t->n; i++) {
		close(t->fd[i]);
		netns_sh(NULL, 0, "ip netns del %s", t->name[i]);
	}
	t->n = 0;
}
