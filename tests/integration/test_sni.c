/* Routing by TLS server name (issue 21), with real TLS on both ends: the backends are
 * `openssl s_server` processes, each with its own self-signed certificate made here by the
 * openssl CLI, and the clients are curl and `openssl s_client`. Which backend answered is the
 * certificate's subject the client saw (slb does not decrypt, so only the backend that the
 * name was routed to can present it).
 *
 * One slb, three sni addresses:
 *   P: api (api.example.com, *.api.example.com) and web (web.example.com, the fallback)
 *   Q: api and plain (the fallback, a plain HTTP slb-backend: HTTP on a TLS port)
 *   R: api alone, no fallback: an unknown name is closed and counted
 *   S: pp alone, the fallback, send-proxy v2 to a listener of the test's own */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "faultkit.h"
#include "peers.h"
#include "slbproc.h"
#include "testproc.h"
#include "testskip.h"

#define IO_MS 8000

static char dir[64], conf[96], alog[96];
static struct slbproc slb;
static unsigned api_port, web_port, plain_port, port_p, port_q, port_r, port_s, pp_port;
static int pp_fd = -1; /* the send-proxy backend: this test's own listener */

static void suite_fini(void)
{
	char cmd[128];

	testproc_stop_all();
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

TestSuite(sni, .fini = suite_fini, .timeout = 90);

static char openssl[256], curl[256];

/* The path of prog in PATH into path (testproc runs a bare name from slb's build directory),
 * or a skip when it is not installed. */
static void need_program(const char *prog, char *path, size_t len)
{
	const char *dirs[] = { "/usr/bin", "/usr/local/bin", "/bin", NULL };

	for (unsigned i = 0; dirs[i]; i++) {
		snprintf(path, len, "%s/%s", dirs[i], prog);
		if (access(path, X_OK) == 0)
			return;
	}
	testskip(TESTSKIP_PROGRAM, "%s is not installed (scripts/install-deps.sh installs it)", prog);
}

/* A self-signed certificate for CN=name in dir/name.crt and dir/name.key. */
static void make_cert(const char *name)
{
	char subj[128], key[128], crt[128], out[512];
	const char *const argv[] = { openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
				     "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", subj,
				     "-keyout", key, "-out", crt, NULL };

	snprintf(subj, sizeof(subj), "/CN=%s", name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	cr_assert_eq(testproc_run(argv, IO_MS, out, sizeof(out)), 0, "openssl req failed: %s", out);
}

/* openssl s_server -www with name's certificate; returns its port. */
static unsigned tls_backend(const char *name)
{
	static char key[8][128], crt[8][128];
	static unsigned n;
	const char *argv[] = { openssl, "s_server", "-accept", "127.0.0.1:{port0}", "-cert", crt[n], "-key", key[n],
			       "-www", NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "ACCEPT", .timeout_ms = IO_MS };

	snprintf(key[n], sizeof(key[n]), "%s/%s.key", dir, name);
	snprintf(crt[n], sizeof(crt[n]), "%s/%s.crt", dir, name);
	n++;
	cr_assert_not_null(testproc_start(&st), "openssl s_server for %s did not come up: %s", name, st.why);
	return st.ports[0];
}

static unsigned plain_backend(const char *name)
{
	const char *argv[] = { "slb-backend", "--listen", "127.0.0.1:{port0}", "--name", name, NULL };
	struct testproc_start st = { .argv = argv, .n_ports = 1, .ready = "listening on", .timeout_ms = IO_MS };

	cr_assert_not_null(testproc_start(&st), "slb-backend did not come up: %s", st.why);
	return st.ports[0];
}

static void write_conf(const char *web_names)
{
	char text[2048];
	int fd, n;

	n = snprintf(text, sizeof(text),
		     "[service api]\n"
		     "listen = 127.0.0.1:%u,sni\nlisten = 127.0.0.1:%u,sni\nlisten = 127.0.0.1:%u,sni\n"
		     "sni = api.example.com, *.api.example.com\nbackend = 127.0.0.1:%u\n"
		     "[service web]\nlisten = 127.0.0.1:%u,sni\nsni = %s\nsni-fallback = yes\n"
		     "backend = 127.0.0.1:%u\n"
		     "[service plain]\nlisten = 127.0.0.1:%u,sni\nsni-fallback = yes\nbackend = 127.0.0.1:%u\n"
		     "[service pp]\nlisten = 127.0.0.1:%u,sni\nsni-fallback = yes\nsend-proxy = v2\nbackend = 127.0.0.1:%u\n",
		     port_p, port_q, port_r, api_port, port_p, web_names, web_port, port_q, plain_port, port_s, pp_port);
	fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, (size_t)n), n);
	close(fd);
}

/* Certificates, the three backends, then slb (the default service, which slbproc gives a
 * port of its own, is routed by port to a plain backend of its own). The sni ports are picked again
 * when another program took one. */
static void start_all(const char *const *more)
{
	char be[32];
	const char *const flags[] = { "-c", conf, "--workers", "2", "--backend", be, "--access-log", alog, NULL };
	int rc = -EADDRINUSE;

	need_program("openssl", openssl, sizeof(openssl));
	need_program("curl", curl, sizeof(curl));
	snprintf(dir, sizeof(dir), "/tmp/slb-sni-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/slb.conf", dir);
	snprintf(alog, sizeof(alog), "%s/access.log", dir);
	make_cert("api.example.com");
	make_cert("web.example.com");
	api_port = tls_backend("api.example.com");
	web_port = tls_backend("web.example.com");
	plain_port = plain_backend("plain");
	pp_fd = testproc_listen(&pp_port);
	cr_assert_geq(pp_fd, 0);
	snprintf(be, sizeof(be), "127.0.0.1:%u", plain_backend("default"));
	for (int attempt = 0; attempt < 5 && rc == -EADDRINUSE; attempt++) {
		port_p = (unsigned)testproc_free_port();
		port_q = (unsigned)testproc_free_port();
		port_r = (unsigned)testproc_free_port();
		port_s = (unsigned)testproc_free_port();
		write_conf("web.example.com");
		rc = slbproc_start(&slb, 0, NULL, flags, more);
		if (rc && strstr(slb.why, "in use"))
			rc = -EADDRINUSE;
	}
	cr_assert_eq(rc, 0, "slb did not start: %s", slb.why);
}

/* curl https://name:port/ with name resolved to 127.0.0.1; returns the CN of the certificate
 * that answered in cn, or "" when the handshake failed. */
static void curl_cn(const char *name, unsigned port, char *cn, size_t len)
{
	char resolve[128], url[128], out[16384];
	const char *const argv[] = { curl, "-skv", "-m", "8", "-o", "/dev/null", "--resolve", resolve, url, NULL };
	const char *p;

	snprintf(resolve, sizeof(resolve), "%s:%u:127.0.0.1", name, port);
	snprintf(url, sizeof(url), "https://%s:%u/", name, port);
	testproc_run(argv, IO_MS + 2000, out, sizeof(out));
	p = strstr(out, "subject: CN=");
	snprintf(cn, len, "%.*s", p ? (int)strcspn(p + 12, "\r\n;") : 0, p ? p + 12 : "");
}

/* openssl s_client -servername name (NULL: -noservername); the CN that answered, as above. */
static void s_client_cn(const char *name, unsigned port, char *cn, size_t len)
{
	char connect[64], out[16384];
	const char *argv[] = { openssl, "s_client", "-connect", connect, "-servername", name, NULL };
	const char *p;

	if (!name) {
		argv[4] = "-noservername";
		argv[5] = NULL;
	}
	snprintf(connect, sizeof(connect), "127.0.0.1:%u", port);
	testproc_run(argv, IO_MS, out, sizeof(out));
	p = strstr(out, "subject=CN = ");
	snprintf(cn, len, "%.*s", p ? (int)strcspn(p + 13, "\r\n") : 0, p ? p + 13 : "");
}

/* Waits until the access log holds a line with every one of the words; returns it in line. */
static bool log_has(const char *const *words, char *line, size_t len)
{
	static char text[65536];

	for (int i = 0; i < 250; i++) {
		if (peers_read_file(alog, text, sizeof(text)) > 0) {
			for (char *p = text, *eol; *p; p = eol + 1) {
				bool all = true;

				eol = strchrnul(p, '\n');
				for (unsigned k = 0; words[k] && all; k++)
					all = memmem(p, (size_t)(eol - p), words[k], strlen(words[k])) != NULL;
				if (all) {
					snprintf(line, len, "%.*s", (int)(eol - p), p);
					return true;
				}
				if (!*eol)
					break;
			}
		}
		usleep(20000);
	}
	return false;
}

/* A ClientHello as small as the parser takes: TLS 1.2, two suites, one extension, the
 * server_name. Returns its length. */
static size_t tiny_hello(const char *name, unsigned char *b)
{
	size_t n = strlen(name), body = 2 + 32 + 1 + 2 + 4 + 2 + 2 + 9 + n, i = 0;

	memcpy(b, "\x16\x03\x01", 3);
	b[3] = (unsigned char)((4 + body) >> 8), b[4] = (unsigned char)(4 + body);
	b[5] = 1, b[6] = 0, b[7] = (unsigned char)(body >> 8), b[8] = (unsigned char)body;
	i = 9;
	b[i++] = 3, b[i++] = 3;
	memset(b + i, 0x5a, 32), i += 32;
	b[i++] = 0;                                          /* no session id */
	memcpy(b + i, "\x00\x04\xc0\x2f\x00\x9c", 6), i += 6; /* two cipher suites */
	b[i++] = 1, b[i++] = 0;                              /* null compression */
	b[i++] = 0, b[i++] = (unsigned char)(9 + n);         /* extensions */
	b[i++] = 0, b[i++] = 0, b[i++] = 0, b[i++] = (unsigned char)(5 + n); /* server_name */
	b[i++] = 0, b[i++] = (unsigned char)(3 + n), b[i++] = 0, b[i++] = 0, b[i++] = (unsigned char)n;
	memcpy(b + i, name, n);
	return i + n;
}

Test(sni, each_name_lands_on_its_service)
{
	char cn[128], line[1024];

	start_all(NULL);
	curl_cn("api.example.com", port_p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "api.example.com", "curl api.example.com was answered by '%s'", cn);
	curl_cn("v2.api.example.com", port_p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "api.example.com", "the wildcard *.api.example.com: answered by '%s'", cn);
	curl_cn("web.example.com", port_p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "web.example.com", "curl web.example.com was answered by '%s'", cn);
	s_client_cn("WEB.example.com", port_p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "web.example.com", "s_client WEB.example.com (any case) was answered by '%s'", cn);
	s_client_cn("api.example.com", port_q, cn, sizeof(cn));
	cr_assert_str_eq(cn, "api.example.com", "api is on the second address too: answered by '%s'", cn);
	/* the fallback: an unknown name, and no name at all */
	curl_cn("unknown.example.org", port_p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "web.example.com", "an unknown name went to '%s', not the fallback", cn);
	s_client_cn(NULL, port_p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "web.example.com", "no server name went to '%s', not the fallback", cn);
	/* the access log names the server name and the ALPN list curl offered */
	cr_assert(log_has((const char *const[]){ "service=api", "sni=v2.api.example.com", "alpn=h2,http/1.1", NULL },
			  line, sizeof(line)),
		  "no access log line with service=api sni=v2.api.example.com alpn=h2,http/1.1");
	cr_assert(log_has((const char *const[]){ "service=web", "sni=- alpn=-", NULL }, line, sizeof(line)),
		  "no access log line for the client without a server name");
	cr_assert_eq(faultkit_metric(slb.admin, "slb_worker_sni_errors_total"), 0);
	cr_assert_eq(faultkit_metric(slb.admin, "slb_worker_sni_unrouted_total"), 0);
}

Test(sni, plain_http_goes_to_the_fallback_and_unknown_names_without_one_are_closed)
{
	static struct testproc_http r;
	char cn[128];

	start_all(NULL);
	cr_assert_eq(testproc_http_get(port_q, "/", &r, IO_MS), 0, "plain HTTP to an sni address got no answer");
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, "backend plain"), "plain HTTP answered by: %s", r.body);
	/* R has no fallback: a name nobody has is closed, and counted */
	curl_cn("nobody.example.org", port_r, cn, sizeof(cn));
	cr_assert_str_eq(cn, "", "an unroutable name was answered by '%s'", cn);
	cr_assert_eq(faultkit_wait_metric(slb.admin, "slb_worker_sni_unrouted_total", 1, IO_MS), 0,
		     "slb_worker_sni_unrouted_total is %lld", faultkit_metric(slb.admin, "slb_worker_sni_unrouted_total"));
	curl_cn("api.example.com", port_r, cn, sizeof(cn));
	cr_assert_str_eq(cn, "api.example.com", "api on R was answered by '%s'", cn);
}

/* One byte every 20 ms: the hello spans dozens of segments and loop turns, and is routed by
 * its name once whole; then a first record that claims to be TLS and is not is closed and
 * counted, while a client that speaks no TLS at all would have gone to the fallback. */
Test(sni, a_hello_one_byte_at_a_time_is_routed_and_garbage_is_closed)
{
	unsigned char hello[128];
	char line[1024], be[64];
	size_t n;
	int fd, one = 1;

	start_all(NULL);
	n = tiny_hello("slow.api.example.com", hello);
	fd = testproc_connect(port_p, IO_MS);
	cr_assert_geq(fd, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* one segment per byte */
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(testproc_write_all(fd, hello + i, 1, IO_MS), 0, "byte %zu not taken", i);
		usleep(20000);
	}
	snprintf(be, sizeof(be), "backend=127.0.0.1:%u", api_port);
	/* the backend answers (an alert or a ServerHello) and closes; the line is written then */
	testproc_wait_eof(fd, IO_MS);
	close(fd);
	cr_assert(log_has((const char *const[]){ "service=api", be, "sni=slow.api.example.com", NULL }, line,
			  sizeof(line)),
		  "the hello sent a byte at a time did not reach api's backend");
	cr_assert_eq(faultkit_metric(slb.admin, "slb_worker_sni_errors_total"), 0);

	fd = testproc_connect(port_p, IO_MS);
	cr_assert_geq(fd, 0);
	cr_assert_eq(testproc_write_all(fd, "\x16\x03\x01\x00\x00", 5, IO_MS), 0); /* a record of 0 bytes */
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "slb did not close the garbage client");
	close(fd);
	cr_assert_eq(faultkit_wait_metric(slb.admin, "slb_worker_sni_errors_total", 1, IO_MS), 0,
		     "slb_worker_sni_errors_total is %lld", faultkit_metric(slb.admin, "slb_worker_sni_errors_total"));
	cr_assert(log_has((const char *const[]){ "end=sni_invalid", NULL }, line, sizeof(line)));
}

/* A client that never finishes its hello is closed at --sni-timeout and counted; a reload that
 * changes the server names is refused whole (the workers' maps are built at start), and the
 * names route as before. */
Test(sni, a_late_hello_is_closed_and_a_reload_keeps_the_names)
{
	char cn[128];
	int fd;

	start_all((const char *const[]){ "--sni-timeout", "300", NULL });
	fd = testproc_connect(port_p, IO_MS);
	cr_assert_geq(fd, 0);
	cr_assert_eq(testproc_write_all(fd, "\x16\x03\x01\x02\x00\x01", 6, IO_MS), 0); /* a hello that stops */
	cr_assert_eq(testproc_wait_eof(fd, IO_MS), 0, "slb did not close the client at --sni-timeout");
	close(fd);
	cr_assert_eq(faultkit_wait_metric(slb.admin, "slb_worker_sni_errors_total", 1, IO_MS), 0,
		     "slb_worker_sni_errors_total is %lld", faultkit_metric(slb.admin, "slb_worker_sni_errors_total"));

	write_conf("www.example.com");
	cr_assert_eq(testproc_signal(slb.proc, SIGHUP), 0);
	cr_assert_eq(testproc_wait_output(slb.proc, "sni names or sni-fallback changed", IO_MS), 0,
		     "the reload was not refused");
	curl_cn("web.example.com", port_p, cn, sizeof(cn));
	cr_assert_str_eq(cn, "web.example.com", "after the refused reload web.example.com went to '%s'", cn);
}

/* With send-proxy v2 the backend learns the server name the client asked for: the PROXY
 * header carries it as a PP2_TYPE_AUTHORITY TLV (0x02), and the hello follows, unchanged. */
Test(sni, send_proxy_v2_carries_the_server_name)
{
	unsigned char hello[128], got[512];
	size_t n, have = 0;
	ssize_t r;
	int fd, be;

	start_all(NULL);
	n = tiny_hello("pp.example.com", hello);
	fd = testproc_connect(port_s, IO_MS);
	cr_assert_geq(fd, 0);
	cr_assert_eq(testproc_write_all(fd, hello, n, IO_MS), 0);
	be = testproc_accept(pp_fd, IO_MS);
	cr_assert_geq(be, 0, "slb did not connect to the send-proxy backend");
	setsockopt(be, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = IO_MS / 1000 }, sizeof(struct timeval));
	while (have < 16 + 12 + 3 + 14 + n && (r = recv(be, got + have, sizeof(got) - have, 0)) > 0)
		have += (size_t)r;
	cr_assert_geq(have, 16 + 12 + 3 + 14 + n, "only %zu bytes came", have);
	cr_assert_eq(memcmp(got, "\r\n\r\n\0\r\nQUIT\n\x21\x11", 14), 0, "not a PROXY v2 header for TCP over IPv4");
	cr_assert_eq((got[14] << 8) | got[15], 12 + 3 + 14, "the header's length counts the TLV");
	cr_assert_eq(got[28], 0x02, "the TLV is not PP2_TYPE_AUTHORITY");
	cr_assert_eq((got[29] << 8) | got[30], 14);
	cr_assert_eq(memcmp(got + 31, "pp.example.com", 14), 0, "authority: %.14s", (const char *)got + 31);
	cr_assert_eq(memcmp(got + 45, hello, n), 0, "the hello did not follow the header unchanged");
	close(be);
	close(fd);
}
