/*
 * text.h - small byte-level helpers shared by the text modules.
 */
#ifndef RAG_TEXT_H
#define RAG_TEXT_H

#include <stdint.h>
#include <string.h>

/* ASCII white space: space, tab, newline, vertical tab, form feed, carriage return. */
static inline int rag_is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Narrows [*s, *e) of t to exclude white space at both ends. */
static inline void rag_trim_span(const char *t, size_t *s, size_t *e)
{
	while (*s < *e && rag_is_space((unsigned char)t[*s]))
		(*s)++;
	while (*e > *s && rag_is_space((unsigned char)t[*e - 1]))
		(*e)--;
}

/* Narrows s[0..*n) to what lies between white space at both ends. */
static inline const char *rag_trim(const char *s, size_t *n)
{
	size_t a = 0, e = *n;

	rag_trim_span(s, &a, &e);
	*n = e - a;
	return s + a;
}

/* Eight bytes from p, unaligned, in the machine's order. */
static inline uint64_t rag_load64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

#endif
