/* offmap.c - where extracted text came from; see offmap.h. */
#include "config.h"

#include <stdlib.h>

#include "buf.h"
#include "offmap.h"

void rag_offmap_init(rag_offmap *m)
{
	m->n = m->cap = 0;
	m->text = m->src = NULL;
	m->src_end = 0;
}

void rag_offmap_free(rag_offmap *m)
{
	free(m->text);
	free(m->src);
	rag_offmap_init(m);
}

void rag_offmap_reset(rag_offmap *m)
{
	m->n = 0;
	m->src_end = 0;
}

int rag_offmap_add(rag_offmap *m, size_t t, size_t s)
{
	if (m->n && m->text[m->n - 1] == t) {
		m->src[m->n - 1] = s;
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap_text = m->cap, cap_src = m->cap;
		if (rag_array_reserve(&m->text, &cap_text, m->n + 1, sizeof *m->text) < 0 ||
		    rag_array_reserve(&m->src, &cap_src, m->n + 1, sizeof *m->src) < 0)
			return -1;
		m->cap = cap_text < cap_src ? cap_text : cap_src;
	}
	m->text[m->n] = t;
	m->src[m->n] = s;
	m->n++;
	return 0;
}

size_t rag_offmap_lookup(const rag_offmap *m, size_t t)
{
	size_t lo = 0, hi, i, s, limit;

	if (m->n == 0 || t < m->text[0])
		return t;
	/* The last run starting at or before t. */
	hi = m->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->text[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	i = lo;
	s = m->src[i] + (t - m->text[i]);
	limit = i + 1 < m->n ? m->src[i + 1] : m->src_end;
	if (limit && s > limit)
		s = limit;
	return s;
}
