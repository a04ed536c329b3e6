/* libFuzzer harness for slb's config file: the input is the file, read by config_load_stream
 * (then config_validate_all when it loaded). Every error must be one line that names the file,
 * a load must succeed exactly when it reported no error, and nothing of one file may leak into
 * the next load. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_errors(const struct config_errors *errs)
{
	for (unsigned i = 0; i < errs->n && i < CONFIG_ERRORS_MAX; i++) {
		check(strnlen(errs->msg[i], CONFIG_ERROR_LEN) < CONFIG_ERROR_LEN);
		check(strncmp(errs->msg[i], "fuzz.conf", 9) == 0);
		check(!strchr(errs->msg[i], '\n'));
	}
}

static void check_config(const struct slb_config *cfg)
{
	check(cfg->n_listen >= 1 && cfg->n_listen <= CONFIG_MAX_LISTEN);
	check(cfg->n_backends <= CONFIG_MAX_STATIC_BACKENDS);
	for (unsigned i = 0; i < cfg->n_backends; i++)
		check(cfg->backends[i].weight >= 1 && cfg->backends[i].weight <= CONFIG_MAX_WEIGHT);
	check(cfg->workers <= CONFIG_MAX_WORKERS && cfg->services[0].retries <= CONFIG_MAX_RETRIES);
	check(cfg->services[0].check != CHECK_HTTP || cfg->services[0].check_path[0] == '/');
	check(cfg->n_heartbeat_allow <= CONFIG_MAX_HB_ALLOW);
	check(!cfg->check_only && !cfg->config_file[0]); /* command-line only */
}

static int load(const char *text, size_t len, struct slb_config *cfg, struct config_errors *errs)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int rc;

	if (!f)
		abort();
	memset(errs, 0, sizeof(*errs));
	rc = config_load_stream(f, "fuzz.conf", cfg, errs);
	fclose(f);
	return rc;
}

/* A fixed file loads the same after any input. */
static void check_fresh_load(struct slb_config *cfg, struct config_errors *errs)
{
	static const char fixed[] = "listen = 127.0.0.1:1\nbackend = 127.0.0.1:2\nworkers = 3\n";

	check(load(fixed, sizeof(fixed) - 1, cfg, errs) == 0);
	check(cfg->n_listen == 1 && cfg->n_backends == 1 && cfg->workers == 3 && cfg->pin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct slb_config cfg;     /* tens of KiB: not on the stack */
	static struct config_errors errs;
	int rc;

	if (size == 0)
		return 0; /* fmemopen refuses an empty buffer; an empty file is a seed of its own kind */
	rc = load((const char *)data, size, &cfg, &errs);
	check(rc == 0 || rc == -EINVAL);
	check((rc == 0) == (errs.n == 0));
	check_errors(&errs);
	if (rc == 0) {
		check_config(&cfg);
		config_validate_all(&cfg, &errs);
	}
	check_fresh_load(&cfg, &errs);
	return 0;
}
