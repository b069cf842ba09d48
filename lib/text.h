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

/*
 * A quick hash of a short key (a word, a term) for in-memory tables: eight
 * bytes at a time, then a final mix.  It depends on the machine's byte
 * order, so it is never stored.
 */
static inline uint32_t rag_hash_key(const char *p, size_t n)
{
	uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL, v;

	for (; n >= 8; p += 8, n -= 8) {
		h = (h ^ rag_load64(p)) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	if (n) {
		v = 0;
		memcpy(&v, p, n);
		h = (h ^ v) * 0xBF58476D1CE4E5B9ULL;
	}
	h ^= h >> 32;
	h *= 0x94D049BB133111EBULL;
	return (uint32_t)(h ^ (h >> 29));
}

#endif
