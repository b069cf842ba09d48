/*
 * cmd.h - what every ragkit program does the same way at its edges.
 *
 * The programs share these small helpers for messages, exit statuses,
 * option values and progress lines.  They live in a header because they
 * are the command layer's own (they print), not the library's.
 *
 * Exit statuses: 0 success, 1 a runtime or data error, 2 a usage error.
 * Messages: "PROGRAM: WHERE: message" on standard error.
 */
#ifndef RAG_CMD_H
#define RAG_CMD_H

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ragkit.h"

#define EXIT_USAGE 2

static const char *cmd_prog = "rag";

/* Names the program and makes a closed output pipe an error code, not a signal. */
static inline void cmd_init(const char *prog)
{
	cmd_prog = prog;
	signal(SIGPIPE, SIG_IGN);
}

/* "PROG: WHERE: message" for an error from the library. */
static inline void cmd_report(const rag_error *e)
{
	char buf[RAG_ERROR_SOURCE_MAX + RAG_ERROR_TEXT_MAX + 128];

	rag_error_format(e, cmd_prog, buf, sizeof buf);
	fprintf(stderr, "%s\n", buf);
}

/*
 * A bad filter expression: the error, then the expression's line with a
 * caret under the fault.
 */
static inline void cmd_report_expr(const char *expr, const rag_error *e)
{
	size_t size = 2 * strlen(expr) + 16;
	char *caret = malloc(size);

	cmd_report(e);
	if (caret)
		fputs(rag_filter_caret(expr, e, caret, size), stderr);
	free(caret);
}

/* "PROG: message" */
static inline void cmd_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void cmd_say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error: the message and a pointer to --help; returns EXIT_USAGE. */
static inline int cmd_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int cmd_usage_error(const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fprintf(stderr, "%s: ", cmd_prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Try '%s --help' for more information.\n", cmd_prog);
	return EXIT_USAGE;
}

/*
 * The value of --format: *text set for "text", cleared for "ndjson".
 * 0, or EXIT_USAGE after saying what is wrong.
 */
static inline int cmd_format(const char *arg, int *text)
{
	if (strcmp(arg, "ndjson") && strcmp(arg, "text"))
		return cmd_usage_error("unknown format %s (use ndjson or text)", rag_quote(0, arg));
	*text = strcmp(arg, "text") == 0;
	return 0;
}

/* The exit status for an error from the library. */
static inline int cmd_status(const rag_error *e)
{
	return e->code == RAG_EUSAGE ? EXIT_USAGE : EXIT_FAILURE;
}

/* Prints text to standard output (for --help, --version); 0, or 1 when writing failed. */
static inline int cmd_print(const char *text)
{
	fputs(text, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE)
			return EXIT_SUCCESS;
		cmd_say("error writing output: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static inline int cmd_version(void)
{
	char buf[128];

	snprintf(buf, sizeof buf, "%s (ragkit) %s\n", cmd_prog, rag_version());
	return cmd_print(buf);
}

/*
 * Parses a count (decimal, no sign, at least min) named name ("--size",
 * "chunk.size").  Returns 0, or -1 with why filled with the complaint.
 */
static inline int cmd_count(const char *name, const char *s, size_t min, size_t *out,
			    char *why, size_t whylen)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > (unsigned long long)SIZE_MAX / 2)
		goto bad;
	if (v < min) {
		snprintf(why, whylen, "%s must be at least %zu, not %s", name, min, s);
		return -1;
	}
	*out = (size_t)v;
	return 0;
bad:
	snprintf(why, whylen, "%s needs a whole number, not %s", name, rag_quote(0, s ? s : ""));
	return -1;
}

/*
 * The complaint for a getopt_long failure (opterr = 0, optstring starting
 * with ':'): an unknown option, or one without its value.  Returns
 * EXIT_USAGE.
 */
static inline int cmd_bad_option(int opt, char **argv)
{
	char name[64];
	const char *arg = argv[optind - 1];

	if (optopt && !(arg[0] == '-' && arg[1] == '-'))
		snprintf(name, sizeof name, "-%c", optopt);
	else
		snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
	if (opt == ':')
		return cmd_usage_error("option %s needs a value", rag_quote(0, name));
	return cmd_usage_error("unknown option %s", rag_quote(0, name));
}

/*
 * Closes the output at the end of a program that may have failed: the
 * records written before a failure still go out, or it says why not,
 * unless the writer's failure was reported already (reported) or the
 * reader went away.  NULL is fine.
 */
static inline void cmd_output_close(rag_writer *w, int reported)
{
	rag_error e;

	if (w && rag_writer_close(w, &e) < 0 && e.code != RAG_EPIPE && !reported)
		cmd_report(&e);
}

/* Progress lines on standard error, rewritten in place, at most 10 a second. */
typedef struct cmd_progress {
	int on;
	int shown;
	struct timespec last;
} cmd_progress;

static inline double cmd_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether enough time has passed since the last line to show another. */
static inline int cmd_progress_due(cmd_progress *p)
{
	struct timespec t;
	long ms;

	if (!p->on)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	ms = (t.tv_sec - p->last.tv_sec) * 1000 + (t.tv_nsec - p->last.tv_nsec) / 1000000;
	if (p->shown && ms < 100)
		return 0;
	p->last = t;
	return 1;
}

static inline void cmd_progress_show(cmd_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void cmd_progress_show(cmd_progress *p, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\r%s: ", cmd_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\033[K", stderr);
	fflush(stderr);
	p->shown = 1;
}

/* Clears the progress line, before other messages and at the end. */
static inline void cmd_progress_clear(cmd_progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->shown = 0;
	}
}

/* A byte count for people: 123 B, 4.5 kB, 67.8 MB, 9.0 GB. */
static inline const char *cmd_bytes(unsigned long long n, char *buf, size_t size)
{
	if (n < 1000)
		snprintf(buf, size, "%llu B", n);
	else if (n < 1000000)
		snprintf(buf, size, "%.1f kB", (double)n / 1e3);
	else if (n < 1000000000)
		snprintf(buf, size, "%.1f MB", (double)n / 1e6);
	else
		snprintf(buf, size, "%.1f GB", (double)n / 1e9);
	return buf;
}

#endif
