/* libFuzzer harness for slb's command line: the input, split on NUL bytes and newlines, is
 * argv after the program name, given to config_parse (then config_validate when it parsed).
 * Every piece is also parsed alone as an address, a --backend value and a network (CIDR).
 * Each argument is its own allocation, so ASan sees a read past any one of them. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/config.h"

#define FUZZ_ARGS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* An accepted address prints and parses back to itself. */
static void check_addr(const char *text)
{
	struct slb_addr a, again;
	struct config_backend be;
	char err[160], out[ADDR_TEXT_MAX];

	if (addr_parse(text, &a, err, sizeof(err)) == 0) {
		addr_format(&a, out, sizeof(out));
		check(addr_parse(out, &again, NULL, 0) == 0 && addr_equal(&a, &again));
	} else {
		check(strnlen(err, sizeof(err)) < sizeof(err));
	}
	if (config_parse_backend(text, &be, err, sizeof(err)) == 0)
		check(be.weight >= 1 && be.weight <= CONFIG_MAX_WEIGHT);
}

/* An accepted network prints and parses back to itself, and holds its own address. */
static void check_cidr(const char *text)
{
	struct slb_cidr c, again;
	struct slb_addr a;
	char out[ADDR_TEXT_MAX];

	if (addr_parse_cidr(text, &c, NULL, 0))
		return;
	check(c.family == AF_INET ? c.prefix <= 32 : c.family == AF_INET6 && c.prefix <= 128);
	addr_format_cidr(&c, out, sizeof(out));
	check(addr_parse_cidr(out, &again, NULL, 0) == 0 && again.family == c.family && again.prefix == c.prefix &&
	      memcmp(again.net, c.net, sizeof(c.net)) == 0);
	memset(&a, 0, sizeof(a));
	a.ss.ss_family = c.family;
	if (c.family == AF_INET)
		memcpy(&((struct sockaddr_in *)&a.ss)->sin_addr, c.net, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&a.ss)->sin6_addr, c.net, 16);
	check(addr_in_cidr(&a, &c));
}

static void check_config(const struct slb_config *cfg)
{
	check(cfg->n_backends <= CONFIG_MAX_STATIC_BACKENDS);
	for (unsigned i = 0; i < cfg->n_backends; i++)
		check(cfg->backends[i].weight >= 1 && cfg->backends[i].weight <= CONFIG_MAX_WEIGHT);
	check(cfg->workers <= CONFIG_MAX_WORKERS && cfg->services[0].retries <= CONFIG_MAX_RETRIES);
	check(cfg->services[0].check != CHECK_HTTP || cfg->services[0].check_path[0] == '/');
	check(strnlen(cfg->services[0].check_path, CONFIG_PATH_MAX) < CONFIG_PATH_MAX);
	check(strcmp(relay_mode_name(cfg->relay), "?") != 0);
	check(strcmp(balance_algo_name(cfg->services[0].balance), "?") != 0);
	check(cfg->n_heartbeat_allow <= CONFIG_MAX_HB_ALLOW);
}

/* Nothing of one command line may leak into the next parse (every input must stand alone,
 * and a parser with hidden state is a bug): a fixed command line parses the same after any
 * input. */
static void check_fresh_parse(struct slb_config *cfg)
{
	char a0[] = "slb", a1[] = "--backend", a2[] = "127.0.0.1:1";
	char *argv[] = { a0, a1, a2, NULL };
	char err[256];

	check(config_parse(cfg, 3, argv, err, sizeof(err)) == CONFIG_OK && cfg->n_backends == 1);
}

static bool is_unknown_flag_error(const char *err)
{
	static const char tail[] = "' (see --help)";
	size_t len = strlen(err);

	return strncmp(err, "unknown flag '", 14) == 0 && len >= sizeof(tail) - 1 &&
	       strcmp(err + len - (sizeof(tail) - 1), tail) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct slb_config cfg; /* tens of KiB: not on the stack */
	char *argv[FUZZ_ARGS_MAX + 2], err[256];
	int argc = 0, rc;
	size_t start = 0;

	argv[argc++] = strdup("slb");
	for (size_t i = 0; i <= size && argc <= FUZZ_ARGS_MAX; i++) {
		if (i < size && data[i] != '\0' && data[i] != '\n')
			continue;
		argv[argc] = malloc(i - start + 1);
		if (!argv[argc])
			abort();
		memcpy(argv[argc], data + start, i - start);
		argv[argc++][i - start] = '\0';
		start = i + 1;
	}
	argv[argc] = NULL;
	for (int i = 1; i < argc; i++) {
		check_addr(argv[i]);
		check_cidr(argv[i]);
	}
	memset(err, 0, sizeof(err));
	rc = config_parse(&cfg, argc, argv, err, sizeof(err));
	check(rc == CONFIG_OK || rc == CONFIG_HELP || rc == CONFIG_VERSION || rc == -EINVAL);
	check(rc != -EINVAL || (err[0] && strnlen(err, sizeof(err)) < sizeof(err)));
	/* the error names what was typed: a flag, not the program name or the argument before
	 * (an error about a -c FILE path that happens to read "unknown flag '" is not one) */
	check(!is_unknown_flag_error(err) || err[14] == '-');
	if (rc == CONFIG_OK) {
		check_config(&cfg);
		config_validate(&cfg, err, sizeof(err));
	}
	/* before the frees: stale state then reads live strings, and the check sees it */
	check_fresh_parse(&cfg);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
