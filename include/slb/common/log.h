/* log: one line per event worth an operator's attention, with time, level and thread,
 * written to stderr; floods from one call site are rate-limited and counted. */
#ifndef SLB_LOG_H
#define SLB_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

extern _Atomic int log_threshold;

/* Per call site flood guard: at most LOG_BURST lines a second, then a count. */
struct log_ratelimit {
	int64_t window_start_ms;
	unsigned emitted;
	unsigned suppressed;
};
#define LOG_BURST 5

void log_set_thread_name(const char *name);
/* Parses error|warn|info|debug. Returns the level or -1. */
int log_level_parse(const char *text);
const char *log_level_name(int level);

/* err: an errno value (positive or negative) appended as "(N: text)", or 0. */
void log_write(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_write_limited(struct log_ratelimit *rl, int level, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes in[0..len), bytes a peer sent, into out (outlen > 0 bytes, always NUL-terminated) so
 * that a log line shows them unambiguously and cannot be forged by them: printable ASCII as is,
 * '"' and '\\' with a backslash, every other byte (newlines, controls, UTF-8) as \xHH. Stops
 * before the first byte whose escape does not fit. Returns how many bytes of in it wrote. */
size_t log_escape(char *out, size_t outlen, const void *in, size_t len);

#define slb_log(level, err, ...)                                                          \
	do {                                                                              \
		if ((level) <= atomic_load_explicit(&log_threshold, memory_order_relaxed)) \
			log_write((level), (err), __VA_ARGS__);                           \
	} while (0)

/* For events that can repeat per connection: one line per burst, per thread and site. */
#define slb_log_limited(level, err, ...)                                                  \
	do {                                                                              \
		static __thread struct log_ratelimit rl_;                                  \
		if ((level) <= atomic_load_explicit(&log_threshold, memory_order_relaxed)) \
			log_write_limited(&rl_, (level), (err), __VA_ARGS__);             \
	} while (0)

#endif
