/* config_text: a unit test's config file written from a string, loaded and validated the way
 * slb does at start. Header-only (each unit test is one source file); the including test
 * declares its suite with .fini = config_text_cleanup, which removes the file. */
#ifndef SLB_TEST_CONFIG_TEXT_H
#define SLB_TEST_CONFIG_TEXT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slb/common/config.h"

/* The file config_text_write wrote last. */
static char config_text_path[64];

static inline void config_text_cleanup(void)
{
	if (config_text_path[0])
		unlink(config_text_path);
}

/* Writes text to a new file under /tmp and returns its path (config_text_path). */
static inline const char *config_text_write(const char *text)
{
	int fd;

	snprintf(config_text_path, sizeof(config_text_path), "/tmp/slb-test-conf-XXXXXX");
	fd = mkstemp(config_text_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return config_text_path;
}

/* Loads text and validates it; returns the number of errors, all in errs. */
static inline unsigned config_text_load(const char *text, struct slb_config *cfg, struct config_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
	if (config_load(config_text_write(text), cfg, errs) == 0)
		config_validate_all(cfg, errs);
	return errs->n;
}

#endif
