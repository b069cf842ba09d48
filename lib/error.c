/* error.c - errors with a location; see error.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "utf8.h"

static void escape_into(char *out, size_t size, const char *s, int quote);

void rag_error_clear(rag_error *e)
{
	if (!e)
		return;
	e->code = RAG_OK;
	e->line = 0;
	e->column = 0;
	e->source[0] = '\0';
	e->text[0] = '\0';
}

static void copy_source(rag_error *e, const char *source)
{
	size_t n;

	if (!source) {
		e->source[0] = '\0';
		return;
	}
	n = strlen(source);
	if (n >= sizeof e->source) {
		/* Keep the end of a long path: it is the part that names the file. */
		const char *tail = source + n - (sizeof e->source - 4);
		memcpy(e->source, "...", 3);
		memcpy(e->source + 3, tail, sizeof e->source - 4);
		e->source[sizeof e->source - 1] = '\0';
		return;
	}
	memcpy(e->source, source, n + 1);
}

int rag_error_vset(rag_error *e, int code, const char *source, long line,
		   const char *fmt, va_list ap)
{
	if (!e)
		return -1;
	e->code = code;
	e->line = line;
	e->column = 0;
	copy_source(e, source);
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	return -1;
}

int rag_error_set(rag_error *e, int code, const char *source, long line,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rag_error_vset(e, code, source, line, fmt, ap);
	va_end(ap);
	return -1;
}

int rag_error_at(rag_error *e, const char *source, long line)
{
	if (e) {
		e->line = line;
		copy_source(e, source);
	}
	return -1;
}

int rag_error_prefix(rag_error *e, const char *fmt, ...)
{
	char old[RAG_ERROR_TEXT_MAX];
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	memcpy(old, e->text, sizeof old);
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	va_end(ap);
	n = strlen(e->text);
	snprintf(e->text + n, sizeof e->text - n, "%s", old);
	return -1;
}

int rag_error_sys(rag_error *e, int errnum, const char *source,
		  const char *fmt, ...)
{
	va_list ap;
	size_t n;
	int code = errnum == ENOMEM ? RAG_ENOMEM
		 : errnum == EPIPE  ? RAG_EPIPE
				    : RAG_EIO;

	if (!e)
		return -1;
	va_start(ap, fmt);
	rag_error_vset(e, code, source, 0, fmt, ap);
	va_end(ap);
	n = strlen(e->text);
	snprintf(e->text + n, sizeof e->text - n, "%s%s", n ? ": " : "",
		 strerror(errnum));
	return -1;
}

int rag_error_format(const rag_error *e, const char *prog, char *buf,
		     size_t size)
{
	char where[RAG_ERROR_SOURCE_MAX * 2 + 48];

	char source[RAG_ERROR_SOURCE_MAX * 2];

	where[0] = '\0';
	if (e->source[0]) {
		escape_into(source, sizeof source, e->source, 0);
		if (e->line > 0 && e->column > 0)
			snprintf(where, sizeof where, "%s:%ld:%ld: ", source,
				 e->line, e->column);
		else if (e->line > 0)
			snprintf(where, sizeof where, "%s:%ld: ", source,
				 e->line);
		else
			snprintf(where, sizeof where, "%s: ", source);
	}
	return snprintf(buf, size, "%s%s%s%s", prog ? prog : "",
			prog ? ": " : "", where, e->text);
}

/*
 * Writes s into out (size bytes, NUL-terminated) with quotes, backslashes
 * (when quoting), control characters and bytes that are not UTF-8 escaped,
 * so that no name can garble a terminal.  Long names end in "...".
 */
static void escape_into(char *out, size_t size, const char *s, int quote)
{
	size_t o = 0;

	if (quote)
		out[o++] = '"';
	for (; s && *s && o + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;
		uint32_t cp;
		size_t k;
		if (quote && (c == '"' || c == '\\')) {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		} else if (c < 0x80) {
			out[o++] = (char)c;
		} else if ((k = rag_utf8_decode(s, strlen(s), &cp)) > 0) {
			/* A whole character, or nothing of it. */
			if (o + k + 8 >= size)
				break;
			memcpy(out + o, s, k);
			o += k;
			s += k - 1;
		} else {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		}
	}
	if (s && *s) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (quote)
		out[o++] = '"';
	out[o] = '\0';
}

const char *rag_quote_mem(int slot, const char *p, size_t n)
{
	char tmp[160];

	if (n >= sizeof tmp)
		n = sizeof tmp - 1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	return rag_quote(slot, tmp);
}

const char *rag_quote(int slot, const char *s)
{
	static char bufs[4][160];

	if (slot < 0 || slot > 3)
		slot = 0;
	escape_into(bufs[slot], sizeof bufs[slot], s, 1);
	return bufs[slot];
}
