/* peers: nginx and HAProxy as real peers, each with its own config file written per attempt
 * (the port is in the file, so testproc_start's argv placeholders cannot carry it). */
#include "peers.h"

#include <arpa/inet.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_TRIES 5
#define PEER_READY_MS 5000
#define PEER_IO_MS 5000

bool peers_have(const char *name)
{
	const char *path = getenv("PATH");
	char dirs[1024], file[1100];
	char *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(file, sizeof(file), "%s/%s", d, name);
		if (access(file, X_OK) == 0)
			return true;
	}
	return false;
}

int peers_tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/slb-peer-XXXXXX");
	return mkdtemp(dir) ? 0 : -errno;
}

typedef int (*peer_writer)(const char *dir, unsigned port, const void *arg);

/* Writes the config for a fresh port and starts argv, until the port accepts. */
static struct testproc *peer_start(const char *dir, const char *const *argv, peer_writer write_cfg,
				   const void *arg, unsigned *port)
{
	for (int i = 0; i < PEER_TRIES; i++) {
		int p = testproc_free_port();
		struct testproc *proc;
		char why[TESTPROC_WHY_MAX];

		if (p < 0 || write_cfg(dir, (unsigned)p, arg))
			return NULL;
		proc = testproc_spawn(argv);
		if (!proc)
			return NULL;
		if (testproc_wait_port(proc, (unsigned)p, PEER_READY_MS) == 0) {
			*port = (unsigned)p;
			return proc;
		}
		testproc_explain(proc, why, sizeof(why));
		cr_log_warn("%s did not start on port %d: %s", argv[0], p, why);
		testproc_stop(proc, 1000);
	}
	return NULL;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static int nginx_config(const char *dir, unsigned port, const void *arg)
{
	bool ipv6 = *(const bool *)arg;
	char text[2048], v6[96] = "";

	if (ipv6)
		snprintf(v6, sizeof(v6), "\t\tlisten [::1]:%u proxy_protocol;\n", port);
	snprintf(text, sizeof(text),
		 "daemon off;\nmaster_process off;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
		 "events { worker_connections 256; }\n"
		 "http {\n"
		 "\tlog_format pp '$proxy_protocol_addr $proxy_protocol_port';\n"
		 "\taccess_log %s/access.log pp;\n"
		 "\tclient_body_temp_path %s;\n\tproxy_temp_path %s;\n\tfastcgi_temp_path %s;\n"
		 "\tuwsgi_temp_path %s;\n\tscgi_temp_path %s;\n"
		 "\tserver {\n\t\tlisten 127.0.0.1:%u proxy_protocol;\n%s"
		 "\t\tlocation / { default_type text/plain; return 200 \"$proxy_protocol_addr $proxy_protocol_port\\n\"; }\n"
		 "\t}\n}\n",
		 dir, dir, dir, dir, dir, dir, dir, dir, port, v6);
	return write_file(dir, "nginx.conf", text);
}

struct testproc *peers_nginx_proxy_backend(const char *dir, bool ipv6, unsigned *port)
{
	char err[256], conf[256];
	const char *argv[] = { "nginx", "-e", err, "-p", dir, "-c", conf, NULL };

	snprintf(err, sizeof(err), "%s/error.log", dir);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	argv[0] = peers_have("nginx") && access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
	return peer_start(dir, argv, nginx_config, &ipv6, port);
}

struct haproxy_arg {
	unsigned to_port;
	const char *send_opt;
};

static int haproxy_config(const char *dir, unsigned port, const void *arg)
{
	const struct haproxy_arg *a = arg;
	char text[1024];

	snprintf(text, sizeof(text),
		 "global\n\tnbthread 1\n"
		 "defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 30s\n\ttimeout server 30s\n"
		 "frontend fe\n\tbind 127.0.0.1:%u\n\tdefault_backend be\n"
		 "backend be\n\tserver slb 127.0.0.1:%u %s\n",
		 port, a->to_port, a->send_opt);
	return write_file(dir, "haproxy.cfg", text);
}

struct testproc *peers_haproxy_front(const char *dir, unsigned to_port, const char *send_opt, unsigned *port)
{
	struct haproxy_arg a = { to_port, send_opt };
	char cfg[256];
	const char *argv[] = { "/usr/sbin/haproxy", "-db", "-f", cfg, NULL };

	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", dir);
	if (access(argv[0], X_OK) != 0)
		argv[0] = "haproxy";
	return peer_start(dir, argv, haproxy_config, &a, port);
}

/* A socket bound to src_ip (port 0) and connected to ip:port. Returns the fd or -errno. */
static int connect_from(const char *src_ip, const char *ip, unsigned port, unsigned *src_port)
{
	struct sockaddr_storage src = { 0 }, dst = { 0 };
	int v6 = strchr(ip, ':') != NULL, fd;
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	src.ss_family = dst.ss_family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		inet_pton(AF_INET6, src_ip, &((struct sockaddr_in6 *)&src)->sin6_addr);
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&dst)->sin6_addr);
		((struct sockaddr_in6 *)&dst)->sin6_port = htons((uint16_t)port);
	} else {
		inet_pton(AF_INET, src_ip, &((struct sockaddr_in *)&src)->sin_addr);
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&dst)->sin_addr);
		((struct sockaddr_in *)&dst)->sin_port = htons((uint16_t)port);
	}
	fd = socket(src.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (bind(fd, (struct sockaddr *)&src, len) == -1 || connect(fd, (struct sockaddr *)&dst, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&src, &len) == -1) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	*src_port = ntohs(v6 ? ((struct sockaddr_in6 *)&src)->sin6_port : ((struct sockaddr_in *)&src)->sin_port);
	return fd;
}

int peers_get_from(const char *src_ip, const char *ip, unsigned port, unsigned *src_port, char *buf, size_t len)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: t\r\n\r\n";
	struct testproc_http *r = calloc(1, sizeof(*r));
	int fd = connect_from(src_ip, ip, port, src_port), rc;

	if (!r || fd < 0) {
		free(r);
		return fd < 0 ? fd : -ENOMEM;
	}
	rc = testproc_write_all(fd, req, sizeof(req) - 1, PEER_IO_MS);
	if (rc == 0)
		rc = testproc_http_read(fd, r, false, PEER_IO_MS);
	close(fd);
	if (rc == 0) {
		snprintf(buf, len, "%s", r->body);
		buf[strcspn(buf, "\n")] = '\0';
		rc = r->status;
	}
	free(r);
	return rc;
}

long peers_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (long)n;
}
