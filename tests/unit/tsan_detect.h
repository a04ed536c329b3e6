/* TEST_UNDER_TSAN is 1 when the test is built with ThreadSanitizer (GCC defines
 * __SANITIZE_THREAD__, Clang answers __has_feature(thread_sanitizer)), else 0. Tests use
 * it to skip or shrink what TSan cannot run in time or does not support. */
#ifndef SLB_TEST_TSAN_DETECT_H
#define SLB_TEST_TSAN_DETECT_H

#if defined(__SANITIZE_THREAD__)
#define TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_UNDER_TSAN 1
#endif
#endif
#ifndef TEST_UNDER_TSAN
#define TEST_UNDER_TSAN 0
#endif

#endif
