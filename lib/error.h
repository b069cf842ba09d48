/*
 * error.h - errors with a location.
 *
 * A rag_error carries what went wrong and where: a source name (a file
 * path, "<stdin>", "expression"), a 1-based line and column (0 when they
 * do not apply) and a short message.  It is modelled on jansson's
 * json_error_t.  Library functions fill one and return -1; the program
 * formats it as "PROGRAM: SOURCE:LINE[:COLUMN]: message".
 *
 * Messages follow the house wording: lowercase, no full stop, names in
 * double quotes.
 */
#ifndef RAG_ERROR_H
#define RAG_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* Error classes.  The program maps them to its exit status. */
enum rag_errcode {
	RAG_OK = 0,
	RAG_EDATA,  /* bad input data: a bad record, invalid UTF-8, a missing field */
	RAG_EIO,    /* a system call failed: open, read, write, fork */
	RAG_ENOMEM, /* out of memory, or a size cap was reached */
	RAG_EUSAGE, /* a bad option value or configuration entry */
	RAG_EPIPE   /* the reader of our output went away: stop quietly */
};

#define RAG_ERROR_SOURCE_MAX 256
#define RAG_ERROR_TEXT_MAX 512

typedef struct rag_error {
	int code;                          /* enum rag_errcode */
	long line;                         /* 1-based; 0 when not about a line */
	long column;                       /* 1-based byte column; 0 when none */
	char source[RAG_ERROR_SOURCE_MAX]; /* "" when there is no source */
	char text[RAG_ERROR_TEXT_MAX];
} rag_error;

/* Resets *e to "no error". */
void rag_error_clear(rag_error *e);

/*
 * Fills *e (which may be NULL, in which case nothing happens) and returns
 * -1, so that a failing function can end with "return rag_error_set(...)".
 * source may be NULL.
 */
int rag_error_set(rag_error *e, int code, const char *source, long line,
		  const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int rag_error_vset(rag_error *e, int code, const char *source, long line,
		   const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

/*
 * Gives *e (which may be NULL) the place source:line, keeping its code,
 * text and column: for an error made where the place was not known.
 * Returns -1.
 */
int rag_error_at(rag_error *e, const char *source, long line);

/* Puts the text fmt makes before the text of *e (which may be NULL).  Returns -1. */
int rag_error_prefix(rag_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like rag_error_set, with strerror(errnum) appended after ": ". */
int rag_error_sys(rag_error *e, int errnum, const char *source,
		  const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Formats "PROG: SOURCE:LINE:COLUMN: TEXT" (the parts that are set) into
 * buf, always NUL-terminated.  Returns the length it wanted, as snprintf.
 */
int rag_error_format(const rag_error *e, const char *prog, char *buf,
		     size_t size);

/*
 * Quotes a user-supplied name for a message: the result is a static
 * buffer (one per slot 0..3) holding the name with control characters and
 * double quotes escaped, truncated to a sane length.  For use as an
 * argument of rag_error_set.
 */
const char *rag_quote(int slot, const char *s);
/* The same for the n bytes at p (up to a NUL among them). */
const char *rag_quote_mem(int slot, const char *p, size_t n);

#endif
