/* config_file: slb's config file, "key = value" lines whose keys are the long flag names and
 * whose values are written as on the command line, parsed by libinih into the same flag table
 * as the command line (config_flags.h). inih reads through our line reader, which counts lines
 * (Debian's inih passes no line number to the handler), refuses what inih would misread
 * (over-long lines, which it would split in two; NUL bytes), reads the '[service NAME]'
 * headers itself (so that a bad one is reported with its line and the keys under it are
 * not mistaken for another service's), and strips leading
 * blanks, so an indented line is a line of its own and never a continuation of the last value.
 * Everything is collected: one bad line does not hide the next. */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_flags.h"

struct file_ctx {
	FILE *f;
	const char *name;              /* for messages */
	struct slb_config *cfg;
	struct config_errors *errs;
	unsigned line;                 /* the line inih works on */
	bool want_key;                 /* it is neither blank nor a comment: inih must hand us a key */
	bool got_key;
	unsigned svc;                  /* the service of the section being read; 0: flat keys */
	bool bad_section;              /* its header was refused: its keys are skipped */
	unsigned section_line[CONFIG_MAX_SERVICES]; /* where each service's section starts */
	uint64_t seen[CONFIG_MAX_SERVICES]; /* per service: flags this file has set (config_flag_apply) */
	unsigned first_line[CONFIG_MAX_SERVICES][64]; /* per service and flag: the line that set it first */
	char buf[INI_MAX_LINE];        /* the line, cut at INI_MAX_LINE - 1 bytes */
};

/* The line being read, without its leading and trailing blanks, for a message. */
static int file_line_text(const struct file_ctx *c, const char **text)
{
	size_t len;

	*text = c->buf + strspn(c->buf, " \t\r\v\f");
	len = strlen(*text);
	while (len && strchr(" \t\r\v\f", (*text)[len - 1]))
		len--;
	return len < 64 ? (int)len : 64;
}

/* "backend 127.0.0.1:8080": inih finds no key (no '=' or ':'), or splits the line at the
 * port's ':' into a key with a blank in it. Either way the operator left out the '='. */
static void file_missing_equals(struct file_ctx *c)
{
	const char *text;
	int len = file_line_text(c, &text);

	config_errors_add(c->errs, "%s:%u: '%.*s': a '=' is missing (expected 'key = value')", c->name, c->line,
			  len, text);
}

/* A line that inih did not turn into a key: it has no '=' (or ':'). */
static void file_check_missed_key(struct file_ctx *c)
{
	if (c->want_key && !c->got_key)
		file_missing_equals(c);
	c->want_key = false;
}

/* The NAME of "[service NAME]" (blanks around each word allowed), copied into name (len
 * bytes); NULL when the header is not of that shape, else a reason when NAME is not a name. */
static const char *section_name(const char *p, char *name, size_t len, bool *shape)
{
	const char *end = strchr(p, ']'), *w;
	size_t n;

	*shape = false;
	p += 1 + strspn(p + 1, " \t");
	if (!end || !strchr("#;", end[1 + strspn(end + 1, " \t\r")]) || strncmp(p, "service", 7) ||
	    !strchr(" \t", p[7]) || !p[7])
		return NULL;
	*shape = true;
	w = p + 7 + strspn(p + 7, " \t");
	n = strcspn(w, " \t]");
	if (w + n + strspn(w + n, " \t") != end || n == 0 || n >= len)
		return "a name of 1-32 characters: a-z, 0-9, '_' and '-'";
	memcpy(name, w, n);
	name[n] = '\0';
	return config_service_name_ok(name) ? NULL : "a name of 1-32 characters: a-z, 0-9, '_' and '-'";
}

/* A section header: the keys that follow, up to the next header, are that service's. */
static void file_section(struct file_ctx *c, const char *p)
{
	char name[CONFIG_SERVICE_NAME_MAX + 32];
	bool shape;
	const char *why = section_name(p, name, sizeof(name), &shape);
	int i;

	c->bad_section = true;
	if (!shape) {
		config_errors_add(c->errs, "%s:%u: '%.40s': the only section is '[service NAME]'", c->name, c->line, p);
		return;
	}
	if (why) {
		config_errors_add(c->errs, "%s:%u: '%.40s': %s", c->name, c->line, p, why);
		return;
	}
	i = config_service_find(c->cfg, name);
	if (i < 0)
		i = config_add_service(c->cfg, name);
	if (i == -ENOSPC) {
		config_errors_add(c->errs, "%s:%u: service %s: too many services (at most %d)", c->name, c->line,
				  name, CONFIG_MAX_SERVICES);
		return;
	}
	if (c->section_line[i]) {
		config_errors_add(c->errs, "%s:%u: service %s: section given twice (first on line %u)", c->name,
				  c->line, name, c->section_line[i]);
		return;
	}
	c->section_line[i] = c->line;
	c->svc = (unsigned)i;
	c->bad_section = false;
}

/* Decides what inih sees of the line in c->buf (len bytes long, maybe cut): "" for a comment
 * or a line that is an error of its own (already reported), else the line without its
 * leading blanks. A comment may be of any length: nothing of it is read. */
static const char *file_vet_line(struct file_ctx *c, size_t len, bool nul)
{
	const char *p = c->buf + strspn(c->buf, " \t\r\v\f");

	c->want_key = false;
	if (nul) {
		config_errors_add(c->errs, "%s:%u: a NUL byte: not a text file", c->name, c->line);
		return "";
	}
	if (*p == '#' || *p == ';')
		return "";
	if (len >= sizeof(c->buf)) {
		config_errors_add(c->errs, "%s:%u: line longer than %zu characters", c->name, c->line,
				  sizeof(c->buf) - 1);
		return "";
	}
	if (*p == '[') {
		file_section(c, p);
		return "";
	}
	c->want_key = *p != '\0';
	c->got_key = false;
	return p;
}

/* Reads one line into c->buf, keeping at most sizeof(buf) - 1 bytes of it, so that memory
 * stays bounded whatever the file holds. Returns the line's whole length without its
 * newline, or -1 at the end. */
static long file_get_line(struct file_ctx *c, bool *nul)
{
	long n = 0;
	int ch;

	while ((ch = getc(c->f)) != EOF && ch != '\n') {
		*nul |= ch == '\0';
		if ((size_t)n < sizeof(c->buf) - 1)
			c->buf[n] = (char)ch;
		n++;
	}
	if (ch == EOF && n == 0)
		return -1;
	c->buf[(size_t)n < sizeof(c->buf) ? (size_t)n : sizeof(c->buf) - 1] = '\0';
	return n;
}

/* inih's reader: one line into str (num bytes), or NULL at the end. */
static char *file_read_line(char *str, int num, void *stream)
{
	struct file_ctx *c = stream;
	bool nul = false;
	long n;

	file_check_missed_key(c);
	n = file_get_line(c, &nul);
	if (n < 0) {
		if (ferror(c->f))
			config_errors_add(c->errs, "%s: cannot read: %s", c->name, strerror(errno ? errno : EIO));
		return NULL;
	}
	c->line++;
	/* a UTF-8 byte order mark, which some editors write, is not part of the first key */
	if (c->line == 1 && n >= 3 && memcmp(c->buf, "\xef\xbb\xbf", 3) == 0) {
		memmove(c->buf, c->buf + 3, strlen(c->buf) - 2);
		n -= 3;
	}
	snprintf(str, (size_t)num, "%s", file_vet_line(c, (size_t)n, nul));
	return str;
}

static void file_twice_error(struct file_ctx *c, const struct flag *f, const char *earlier)
{
	const struct flag *e = config_flag_find(earlier);
	unsigned at = e ? c->first_line[c->svc][config_flag_index(e)] : 0;

	if (e == f)
		config_errors_add(c->errs, "%s:%u: %s: given twice (first on line %u; only listen, backend, "
				  "heartbeat-allow, client-allow and client-deny repeat)", c->name, c->line, f->name, at);
	else
		config_errors_add(c->errs, "%s:%u: %s: contradicts %s on line %u", c->name, c->line, f->name, earlier,
				  at);
}

/* inih's handler, once per "key = value" line. Always 1: errors are collected, not fatal. */
static int file_on_key(void *user, const char *section, const char *key, const char *value)
{
	struct file_ctx *c = user;
	const struct flag *f = config_flag_find(key);
	char err[200];
	int ret;

	c->got_key = true;
	if (strpbrk(key, " \t")) {
		file_missing_equals(c);
		return 1;
	}
	if (!f) {
		config_errors_add(c->errs, "%s:%u: '%.40s': unknown key (keys are the long flag names of slb --help)",
				  c->name, c->line, key);
		return 1;
	}
	if (f->cli_only) {
		config_errors_add(c->errs, "%s:%u: %s: only on the command line", c->name, c->line, key);
		return 1;
	}
	if (c->bad_section)
		return 1;
	if (c->section_line[c->svc] && !f->per_service) {
		config_errors_add(c->errs, "%s:%u: %s: a process-wide key, not a service's: put it above the first "
				  "[service NAME]", c->name, c->line, key);
		return 1;
	}
	ret = config_flag_apply(c->cfg, c->svc, f, value, &c->seen[c->svc], err, sizeof(err));
	if (ret == -EEXIST) {
		file_twice_error(c, f, err);
		return 1;
	}
	if (ret)
		config_errors_add(c->errs, "%s:%u: %s = '%.64s': %s", c->name, c->line, key, value, err);
	if (!c->first_line[c->svc][config_flag_index(f)])
		c->first_line[c->svc][config_flag_index(f)] = c->line;
	return 1;
}

int config_load_stream(FILE *f, const char *name, struct slb_config *cfg, struct config_errors *errs)
{
	struct file_ctx c = { .f = f, .name = name, .cfg = cfg, .errs = errs };
	unsigned before = errs->n;

	config_defaults(cfg);
	errno = 0;
	ini_parse_stream(file_read_line, &c, file_on_key, &c);
	file_check_missed_key(&c);
	config_finish_services(cfg);
	return errs->n > before ? -EINVAL : 0;
}

/* Non-blocking, so that a FIFO or a device never hangs the open, and only a regular file, so
 * that /dev/zero cannot feed an endless line. */
static FILE *file_open(const char *path, struct config_errors *errs)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	FILE *f;

	if (fd == -1) {
		config_errors_add(errs, "%s: cannot open the config file: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		config_errors_add(errs, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		config_errors_add(errs, "%s: cannot read: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}

int config_load(const char *path, struct slb_config *cfg, struct config_errors *errs)
{
	FILE *f = file_open(path, errs);
	int ret;

	if (!f) {
		config_defaults(cfg);
		return -EINVAL;
	}
	ret = config_load_stream(f, path, cfg, errs);
	fclose(f);
	if (strlen(path) >= sizeof(cfg->config_file)) {
		config_errors_add(errs, "%.64s...: config file path too long", path);
		return -EINVAL;
	}
	strcpy(cfg->config_file, path);
	return ret;
}
