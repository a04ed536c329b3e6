/* cli: table-driven flags for slb-agent and slb-backend; see cli.h. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/addr.h"

#define CLI_OPT_BASE 256 /* getopt values above any short option character */

/* See cli.h. */
int cli_parse_ulong(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* See cli.h: field is a struct slb_addr. */
int cli_parse_addr(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen)
{
	char why[128];

	if (addr_parse(arg, field, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "--%s: %s", flag->name, why);
	return -EINVAL;
}

/* True when a is already one of the first n addresses of list. */
static bool cli_addr_listed(const struct cli_addr_list *list, unsigned n, const struct slb_addr *a)
{
	for (unsigned i = 0; i < n; i++)
		if (addr_equal(&list->a[i], a))
			return true;
	return false;
}

/* See cli.h. */
int cli_parse_addr_list(const struct cli_flag *flag, const char *arg, void *field, char *err,
			size_t errlen)
{
	struct cli_addr_list *list = field;
	char why[128];
	unsigned n = 0;

	for (const char *p = arg;; p++) {
		int len = (int)strcspn(p, ",");

		if (n == CLI_ADDRS_MAX || len == 0) {
			snprintf(err, errlen, "--%s: expected 1 to %d addresses separated by commas", flag->name,
				 CLI_ADDRS_MAX);
			return -EINVAL;
		}
		if (addr_parse_n(p, (size_t)len, &list->a[n], why, sizeof(why))) {
			snprintf(err, errlen, "--%s: %s", flag->name, why);
			return -EINVAL;
		}
		if (cli_addr_listed(list, n, &list->a[n])) {
			snprintf(err, errlen, "--%s: %.*s given twice", flag->name, len, p);
			return -EINVAL;
		}
		n++;
		p += len;
		if (!*p)
			break;
	}
	list->n = n;
	return 0;
}

/* See cli.h: field is an unsigned, checked against [flag->min, flag->max]. */
int cli_parse_uint(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen)
{
	unsigned long v;

	if (cli_parse_ulong(arg, flag->min, flag->max, &v)) {
		snprintf(err, errlen, "--%s: '%s' is not a number in %lu..%lu", flag->name, arg,
			 flag->min, flag->max);
		return -EINVAL;
	}
	*(unsigned *)field = (unsigned)v;
	return 0;
}

/* See cli.h: field is a char[flag->max]; a name is one word of printable ASCII, because it
 * travels inside the space-separated heartbeat line and an HTTP header. */
int cli_parse_name(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen)
{
	size_t len = strlen(arg);

	if (len == 0 || len >= flag->max) {
		snprintf(err, errlen, "--%s: must be 1..%lu characters", flag->name, flag->max - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!isgraph((unsigned char)arg[i])) {
			snprintf(err, errlen, "--%s: only printable characters without spaces",
				 flag->name);
			return -EINVAL;
		}
	}
	memcpy(field, arg, len + 1);
	return 0;
}

/* See cli.h: field is a bool set to true. */
int cli_parse_switch(const struct cli_flag *flag, const char *arg, void *field, char *err,
		     size_t errlen)
{
	*(bool *)field = true;
	return 0;
}

/* See cli.h. */
int cli_parse_path(const struct cli_flag *flag, const char *arg, void *field, char *err,
		   size_t errlen)
{
	if (!arg[0]) {
		snprintf(err, errlen, "--%s: empty path", flag->name);
		return -EINVAL;
	}
	*(const char **)field = arg;
	return 0;
}

static void cli_build_options(const struct cli_flag *flags, size_t n, struct option *opts)
{
	for (size_t i = 0; i < n; i++) {
		opts[i] = (struct option){
			.name = flags[i].name,
			.has_arg = flags[i].arg ? required_argument : no_argument,
			.val = CLI_OPT_BASE + (int)i,
		};
	}
	opts[n] = (struct option){ .name = "help", .val = 'h' };
	opts[n + 1] = (struct option){ 0 };
}

/* getopt leaves the offending word in argv[optind - 1] for an unknown long flag and in
 * optopt for an unknown short one; either way the user sees what they typed. */
static int cli_reject(int c, char **argv, char *err, size_t errlen)
{
	const char *word = argv[optind - 1];

	if (c == ':')
		snprintf(err, errlen, "%s needs a value (try --help)", word);
	else if (optopt && optopt < CLI_OPT_BASE)
		snprintf(err, errlen, "unknown flag '-%c' (try --help)", optopt);
	else
		snprintf(err, errlen, "unknown flag '%s' (try --help)", word);
	return -EINVAL;
}

/* See cli.h. */
int cli_parse(const struct cli_flag *flags, size_t n, void *cfg, int argc, char **argv, char *err,
	      size_t errlen)
{
	struct option opts[CLI_MAX_FLAGS + 2];
	int c;

	if (n > CLI_MAX_FLAGS) {
		snprintf(err, errlen, "too many flags in the table");
		return -EINVAL;
	}
	cli_build_options(flags, n, opts);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		const struct cli_flag *f;

		if (c == 'h')
			return CLI_HELP;
		if (c < CLI_OPT_BASE)
			return cli_reject(c, argv, err, errlen);
		f = &flags[c - CLI_OPT_BASE];
		if (f->parse(f, optarg, (char *)cfg + f->offset, err, errlen))
			return -EINVAL;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
		return -EINVAL;
	}
	return CLI_OK;
}

/* See cli.h. */
void cli_usage(FILE *f, const char *prog, const char *synopsis, const char *summary,
	       const struct cli_flag *flags, size_t n)
{
	fprintf(f, "usage: %s %s\n\n%s\n\n", prog, synopsis, summary);
	for (size_t i = 0; i < n; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", flags[i].name, flags[i].arg ? " " : "",
			 flags[i].arg ? flags[i].arg : "");
		fprintf(f, "  %-28s %s\n", left, flags[i].help);
	}
	fprintf(f, "  %-28s %s\n", "-h, --help", "print this help and exit");
}
