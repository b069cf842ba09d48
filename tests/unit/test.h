/*
 * test.h - a minimal harness for the C unit tests of lib/.
 *
 * Each tests/unit/test_*.c is a program: its main() calls RUN(fn) for each
 * test function and returns test_summary().  A failed CHECK prints the
 * file, line and expression, and the test goes on so that one run shows
 * every failure.  Exit status: 0 all passed, 1 some failed (automake's
 * test driver reads it).
 */
#ifndef RAG_TEST_H
#define RAG_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;
static const char *test_current;

#define CHECK(cond)                                                           \
	do {                                                                  \
		test_checks++;                                                \
		if (!(cond)) {                                                \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n",      \
				__FILE__, __LINE__, test_current, #cond);     \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		test_checks++;                                                \
		if (a_ != b_) {                                               \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: %s: %s == %s: %lld != %lld\n", \
				__FILE__, __LINE__, test_current, #a, #b, a_, \
				b_);                                          \
		}                                                             \
	} while (0)

#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		test_checks++;                                                \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                      \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: %s: %s == %s:\n  got  \"%s\"\n  want \"%s\"\n", \
				__FILE__, __LINE__, test_current, #a, #b,     \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");      \
		}                                                             \
	} while (0)

/* Compares n bytes at a with the C string b. */
#define CHECK_MEM(a, n, b)                                                    \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		size_t n_ = (n);                                              \
		test_checks++;                                                \
		if (n_ != strlen(b_) || memcmp(a_, b_, n_) != 0) {            \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: %s: %s:\n  got  \"%.*s\"\n  want \"%s\"\n", \
				__FILE__, __LINE__, test_current, #a,         \
				(int)n_, a_, b_);                             \
		}                                                             \
	} while (0)

#define RUN(fn)                                                               \
	do {                                                                  \
		test_current = #fn;                                           \
		fn();                                                         \
	} while (0)

static inline int test_summary(void)
{
	fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
	return test_failures ? 1 : 0;
}

#endif
