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

#include <math.h>
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

/* Like CHECK, for a number that must lie in [lo, hi]; prints it. */
#define CHECK_IN(x, lo, hi)                                                   \
	do {                                                                  \
		double x_ = (x);                                              \
		test_checks++;                                                \
		if (!(x_ >= (lo) && x_ <= (hi))) {                            \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: %s: %s = %.9g, not in [%g, %g]\n", \
				__FILE__, __LINE__, test_current, #x, x_,     \
				(double)(lo), (double)(hi));                  \
		}                                                             \
	} while (0)

/* Like CHECK, for a message that must contain a phrase; prints both. */
#define CHECK_HAS(text, phrase)                                               \
	do {                                                                  \
		const char *t_ = (text), *p_ = (phrase);                      \
		test_checks++;                                                \
		if (!t_ || !strstr(t_, p_)) {                                 \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: %s: \"%s\" lacks \"%s\"\n",   \
				__FILE__, __LINE__, test_current,             \
				t_ ? t_ : "(null)", p_);                      \
		}                                                             \
	} while (0)

/* Like CHECK, for two numbers that must agree within tol; prints both. */
#define CHECK_NEAR(a, b, tol)                                                 \
	do {                                                                  \
		double a_ = (a), b_ = (b);                                    \
		test_checks++;                                                \
		if (!(fabs(a_ - b_) <= (tol))) {                              \
			test_failures++;                                      \
			fprintf(stderr, "%s:%d: %s: %s == %s: %.9g != %.9g\n", \
				__FILE__, __LINE__, test_current, #a, #b, a_, \
				b_);                                          \
		}                                                             \
	} while (0)

#endif
