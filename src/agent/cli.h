/* cli: the flag tables of slb-agent and slb-backend: getopt_long options and --help are both made
 * from one table per tool, and each value is parsed straight into the tool's config struct. */
#ifndef SLB_AGENT_CLI_H
#define SLB_AGENT_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "slb/common/addr.h"

#define CLI_MAX_FLAGS 24
#define CLI_ADDRS_MAX 16 /* addresses in one comma-separated list flag */

/* A flag's list of addresses, "A:P,B:P,...", in the order given. */
struct cli_addr_list {
	unsigned n;
	struct slb_addr a[CLI_ADDRS_MAX];
};

struct cli_flag;

/* Parses arg (NULL for a switch) into field, which is cfg + flag->offset.
 * Returns 0, or -EINVAL with a one-line reason in err. */
typedef int (*cli_parse_fn)(const struct cli_flag *flag, const char *arg, void *field, char *err,
			    size_t errlen);

struct cli_flag {
	const char *name;       /* long name, without "--" */
	const char *arg;        /* placeholder shown by --help; NULL for a switch */
	cli_parse_fn parse;
	size_t offset;          /* of the field in the tool's config struct */
	unsigned long min, max; /* range for cli_parse_uint; buffer size for cli_parse_name */
	const char *help;       /* one line, defaults included */
};

enum cli_result {
	CLI_OK = 0,
	CLI_HELP, /* --help or -h: print cli_usage and exit 0 */
};

/* Parses argv against the n flags of the table into cfg (which holds the defaults already).
 * Returns CLI_OK, CLI_HELP, or -EINVAL with a one-line reason in err (exit status 2). */
int cli_parse(const struct cli_flag *flags, size_t n, void *cfg, int argc, char **argv, char *err,
	      size_t errlen);

/* Prints "usage: PROG SYNOPSIS", the summary and one line per flag to f. */
void cli_usage(FILE *f, const char *prog, const char *synopsis, const char *summary,
	       const struct cli_flag *flags, size_t n);

/* Field parsers for the tables; same contract as cli_parse_fn. */
int cli_parse_addr(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen);
/* field is a struct cli_addr_list: 1..CLI_ADDRS_MAX addresses separated by commas, each
 * different; replaces what the field held (a flag given twice keeps the last list). */
int cli_parse_addr_list(const struct cli_flag *flag, const char *arg, void *field, char *err,
			size_t errlen);
int cli_parse_uint(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen);
int cli_parse_name(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen);
int cli_parse_switch(const struct cli_flag *flag, const char *arg, void *field, char *err,
		     size_t errlen);
/* field is a const char *: keeps arg itself (argv outlives the tool), refusing "". */
int cli_parse_path(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen);

/* Parses a decimal unsigned number in [min, max]. Returns 0 or -EINVAL. */
int cli_parse_ulong(const char *text, unsigned long min, unsigned long max, unsigned long *out);

#endif
