/* log: timestamped, levelled lines on stderr. One write(2) per line so lines from several
 * threads never interleave; floods are cut per call site and reported as a count. */
#include "slb/common/clock.h"
#include "slb/common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

_Atomic int log_threshold = LOG_INFO;
static __thread char thread_name[16] = "main";

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

int log_level_parse(const char *text)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcasecmp(text, level_names[i]) == 0)
			return i;
	if (strcasecmp(text, "warning") == 0)
		return LOG_WARN;
	return -1;
}

const char *log_level_name(int level)
{
	return level >= 0 && level <= LOG_DEBUG ? level_names[level] : "?";
}

static void log_vwrite(int level, int err, const char *fmt, va_list ap, unsigned suppressed)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s [%s] ", ts.tv_nsec / 1000000,
			      log_level_name(level), thread_name);
	if (n < sizeof(line))
		n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (err && n < sizeof(line)) {
		int e = err < 0 ? -err : err;

		n += (size_t)snprintf(line + n, sizeof(line) - n, " (%d: %s)", e, strerror(e));
	}
	if (suppressed && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " [%u similar lines suppressed]", suppressed);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

void log_write(int level, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, err, fmt, ap, 0);
	va_end(ap);
}

void log_write_limited(struct log_ratelimit *rl, int level, int err, const char *fmt, ...)
{
	int64_t now = clock_coarse_ms();
	unsigned suppressed = 0;
	va_list ap;

	if (now - rl->window_start_ms >= 1000) {
		suppressed = rl->suppressed;
		rl->window_start_ms = now;
		rl->emitted = 0;
		rl->suppressed = 0;
	}
	if (rl->emitted >= LOG_BURST) {
		rl->suppressed++;
		return;
	}
	rl->emitted++;
	va_start(ap, fmt);
	log_vwrite(level, err, fmt, ap, suppressed);
	va_end(ap);
}

size_t log_escape(char *out, size_t outlen, const void *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i < len; i++) {
		bool plain = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\';
		size_t need = plain ? 1 : p[i] == '"' || p[i] == '\\' ? 2 : 4;

		if (o + need >= outlen)
			break;
		if (need == 4) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[p[i] >> 4];
			out[o++] = hex[p[i] & 15];
		} else {
			if (need == 2)
				out[o++] = '\\';
			out[o++] = (char)p[i];
		}
	}
	out[o] = '\0';
	return i;
}
