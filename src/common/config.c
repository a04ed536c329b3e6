/* config: slb's command line, read through the one flag table (config_flags.c): --help and
 * --version first, then the config file named by -c (config_file.c), then every other flag
 * over it; and the usage text, made from the same table. Validation of combinations is
 * config_validate.c. */
#include "slb/common/config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config_flags.h"

static void build_options(struct option *opts)
{
	unsigned n = config_flag_count();

	for (unsigned i = 0; i < n; i++) {
		opts[i].name = config_flag_at(i)->name;
		opts[i].has_arg = config_flag_at(i)->arg ? required_argument : no_argument;
		opts[i].flag = NULL;
		opts[i].val = 0x100 + (int)i;
	}
	memset(&opts[n], 0, sizeof(opts[n]));
}

/* The long flag that a word of argv names with one dash ("-listen", "-check-config=x"), or
 * NULL: getopt would read it as a cluster of short flags (-l -i -s ...) or, after "-c", as
 * a config file named "heck-config". */
static const struct flag *args_one_dash_flag(const char *word)
{
	size_t n = strcspn(word + 1, "=");
	char name[64];

	if (word[0] != '-' || word[1] == '-' || n < 2 || n >= sizeof(name))
		return NULL;
	memcpy(name, word + 1, n);
	name[n] = '\0';
	return config_flag_find(name);
}

/* A word getopt could not read, once read to its end: reported once, and when it names a
 * flag that takes a value ("-listen ADDR"), that value is passed over too, so the operator
 * reads one line rather than a second about an unexpected argument. */
static void args_bad_word(int argc, char **argv, const char *word, struct config_errors *errs)
{
	const struct flag *f = args_one_dash_flag(word);

	if (f && f->arg && !strchr(word, '=') && optind < argc)
		optind++;
	if (!errs)
		return;
	if (f)
		config_errors_add(errs, "unknown flag '%.64s': long flags start with two dashes (--%s)", word, f->name);
	else
		config_errors_add(errs, "unknown flag '%.64s' (see --help)", word);
}

/* An unknown short flag. Only -c exists and it takes the rest of its word, so the unknown
 * letter is the first of its word: a word of several letters is still being read (optind
 * has not moved on) and is reported once, whole, then read to its end letter by letter in
 * silence; a lone "-x" is behind optind. */
static void args_bad_short(int argc, char **argv, const struct option *opts, struct config_errors *errs)
{
	int w = optind;

	if (w < argc && argv[w][0] == '-' && argv[w][1] == optopt && argv[w][2]) {
		/* without "c:": a 'c' later in the word ("-admin-public") must not take the next word */
		while (optind == w && getopt_long(argc, argv, ":", opts, NULL) != -1)
			;
		args_bad_word(argc, argv, argv[w], errs);
		return;
	}
	if (errs)
		config_errors_add(errs, "unknown flag '-%c' (see --help)", optopt);
}

/* What getopt refused (c is its answer), added to errs when given. */
static void args_refused(int argc, char **argv, const struct option *opts, int c, struct config_errors *errs)
{
	if (c == 'c') /* a long flag with one dash that starts with c: read as -c FILE */
		args_bad_word(argc, argv, argv[optind - 1], errs);
	else if (c == ':' && errs)
		config_errors_add(errs, "flag '%.64s' needs an argument (see --help)", argv[optind - 1]);
	else if (optopt && optopt < 0x100)
		args_bad_short(argc, argv, opts, errs);
	else if (errs)
		config_errors_add(errs, "unknown flag '%.64s' (see --help)", argv[optind - 1]);
}

/* The next flag of argv as a table entry; NULL at the end. A bad flag is added to errs (when
 * given) and skipped. */
static const struct flag *args_next(int argc, char **argv, const struct option *opts, struct config_errors *errs)
{
	int c;

	while ((c = getopt_long(argc, argv, ":c:", opts, NULL)) != -1) {
		if (c >= 0x100)
			return config_flag_at((unsigned)(c - 0x100));
		if (c == 'c' && !(optarg == argv[optind - 1] + 2 && args_one_dash_flag(argv[optind - 1])))
			return config_flag_find("config");
		args_refused(argc, argv, opts, c, errs);
	}
	return NULL;
}

/* The first pass over argv: --help and --version win over everything, and the config file
 * must be read before the other flags can override it. Copies --config's value into path. */
static int args_prescan(int argc, char **argv, const struct option *opts, char *path, size_t len)
{
	const struct flag *f;

	/* 0, not 1: glibc then also forgets where it was inside a cluster of short options
	 * ("-ab"), which would otherwise point into the previous call's argv. */
	optind = 0;
	opterr = 0;
	while ((f = args_next(argc, argv, opts, NULL))) {
		if (strcmp(f->name, "help") == 0)
			return CONFIG_HELP;
		if (strcmp(f->name, "version") == 0)
			return CONFIG_VERSION;
		if (strcmp(f->name, "config") == 0)
			snprintf(path, len, "%s", optarg);
	}
	return CONFIG_OK;
}

static void args_apply_one(struct slb_config *cfg, const struct flag *f, uint64_t *seen,
			   struct config_errors *errs)
{
	char err[200];
	int ret = config_flag_apply(cfg, 0, f, optarg, seen, err, sizeof(err));

	if (ret == -EEXIST && strcmp(err, f->name) == 0)
		config_errors_add(errs, "--%s given twice (only --listen, --backend, --heartbeat-allow, --client-allow and --client-deny repeat)",
				  f->name);
	else if (ret == -EEXIST)
		config_errors_add(errs, "--%s contradicts --%s given before", f->name, err);
	else if (ret)
		config_errors_add(errs, "--%s '%.64s': %s", f->name, optarg ? optarg : "", err);
}

int config_parse_args(struct slb_config *cfg, int argc, char **argv, struct config_errors *errs)
{
	struct option opts[CONFIG_FLAGS_MAX + 1];
	char path[CONFIG_FILE_MAX] = "";
	const struct flag *f;
	uint64_t seen = 0;
	unsigned before = errs->n;
	int ret;

	build_options(opts);
	ret = args_prescan(argc, argv, opts, path, sizeof(path));
	if (ret)
		return ret;
	if (path[0])
		config_load(path, cfg, errs);
	else
		config_defaults(cfg);
	optind = 0;
	while ((f = args_next(argc, argv, opts, errs)))
		args_apply_one(cfg, f, &seen, errs);
	if (optind < argc)
		config_errors_add(errs, "unexpected argument '%.64s' (flags start with --)", argv[optind]);
	config_finish_services(cfg);
	return errs->n > before ? -EINVAL : CONFIG_OK;
}

int config_parse(struct slb_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct config_errors errs = { 0 };
	int ret = config_parse_args(cfg, argc, argv, &errs);

	if (ret < 0)
		snprintf(err, errlen, "%s", errs.msg[0]);
	return ret;
}

/* "--name ARG", or "-c, --name ARG" for a flag with a short form. */
static void usage_lhs(const struct flag *f, char *buf, size_t len)
{
	int n = 0;

	if (f->short_name)
		n = snprintf(buf, len, "-%c, ", f->short_name);
	snprintf(buf + n, len - (size_t)n, "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
}

#define USAGE_WIDTH 80    /* columns of --help: a terminal's, and what man pages wrap at */
#define USAGE_HELP_COL 35 /* where each flag's description starts */

/* Writes len bytes at column *at, first moving to a new line indented to USAGE_HELP_COL when
 * they would pass USAGE_WIDTH. A unit longer than a whole line stands alone on its line,
 * whole: --help never cuts anything. */
static void usage_unit(FILE *out, const char *text, size_t len, unsigned *at)
{
	if (*at > USAGE_HELP_COL && *at + 1 + len > USAGE_WIDTH) {
		fprintf(out, "\n%*s", USAGE_HELP_COL, "");
		*at = USAGE_HELP_COL;
	} else if (*at > USAGE_HELP_COL) {
		fputc(' ', out);
		(*at)++;
	}
	fwrite(text, 1, len, out);
	*at += (unsigned)len;
}

/* text word by word, wrapped at USAGE_WIDTH. */
static void usage_words(FILE *out, const char *text, unsigned *at)
{
	for (text += strspn(text, " "); *text; text += strspn(text, " ")) {
		size_t word = strcspn(text, " ");

		usage_unit(out, text, word, at);
		text += word;
	}
}

/* One flag: its argument, then its help from USAGE_HELP_COL on, or from the next line when the
 * argument is longer than that column leaves room for; the default is one unit, never split. */
static void usage_flag(FILE *out, const struct flag *f)
{
	const char *def = f->def_help ? f->def_help : f->def;
	unsigned at = USAGE_HELP_COL;
	char lhs[128], dflt[64];

	usage_lhs(f, lhs, sizeof(lhs));
	if (strlen(lhs) + 3 > USAGE_HELP_COL)
		fprintf(out, "  %s\n%*s", lhs, USAGE_HELP_COL, "");
	else
		fprintf(out, "  %-*s", USAGE_HELP_COL - 2, lhs);
	usage_words(out, f->help, &at);
	if (def && *def) {
		snprintf(dflt, sizeof(dflt), "[default: %s]", def);
		usage_unit(out, dflt, strlen(dflt), &at);
	}
	fputc('\n', out);
}

/* The per-service keys, from the table's column, wrapped like the flags' help. */
static void usage_service_keys(FILE *out)
{
	unsigned at = 0;

	fputs("\nA '[service NAME]' section (NAME: 1-32 of a-z 0-9 _ -) holds another service,\n"
	      "with its own listeners; the keys above it are the service 'default'. Its keys:\n",
	      out);
	for (unsigned i = 0; i < config_flag_count(); i++) {
		const struct flag *f = config_flag_at(i);
		size_t len = strlen(f->name);

		if (!f->per_service)
			continue;
		if (at && at + len + 2 > USAGE_WIDTH - 1) {
			fputs(",\n", out);
			at = 0;
		}
		fprintf(out, "%s%s", at ? ", " : "", f->name);
		at += len + (at ? 2 : 0);
	}
	fputs(".\n", out);
}

void config_print_usage(FILE *out, const char *prog)
{
	fprintf(out, "usage: %s --listen ADDR:PORT --backend ADDR:PORT [--backend ...] [flags]\n"
		     "       %s -c FILE [flags]\n\n"
		     "slb %s: a Layer-4 load balancer that knows which backends are alive.\n\nflags:\n",
		prog, prog, SLB_VERSION);
	for (unsigned i = 0; i < config_flag_count(); i++)
		usage_flag(out, config_flag_at(i));
	fputs("\nIn a config file (-c FILE) every flag but --takeover, --config, --check-config,\n"
	      "--no-bind, --help and --version is a key, written as on the command line without\n"
	      "its dashes: 'backend = 10.0.0.1:8080,weight=2'. Flags without an argument take\n"
	      "yes or no ('pin = no'); listen, backend, heartbeat-allow, client-allow and\n"
	      "client-deny repeat, any other key given twice is an error; '#' or ';' starts a\n"
	      "comment line. A flag on the\n"
	      "command line replaces that key's value (or list).\n",
	      out);
	usage_service_keys(out);
}
