/*
 * offmap.h - where extracted text came from.
 *
 * When the text that is chunked is not the source bytes themselves (HTML
 * with its tags removed, a file whose invalid UTF-8 was repaired), an
 * offset map records, for runs of the text, the source offset they start
 * at.  Inside a run offsets advance together; a run whose text is shorter
 * or longer than its source (an entity, a replacement character)
 * is clamped at the next run's start.
 */
#ifndef RAG_OFFMAP_H
#define RAG_OFFMAP_H

#include <stddef.h>

typedef struct rag_offmap {
	size_t n, cap;
	size_t *text; /* run starts in the text, increasing */
	size_t *src;  /* the source offset of each run's start, non-decreasing */
	size_t src_end; /* the source offset that the end of the text maps to */
} rag_offmap;

void rag_offmap_init(rag_offmap *m);
void rag_offmap_free(rag_offmap *m);
void rag_offmap_reset(rag_offmap *m);

/*
 * Starts a run: text offset t comes from source offset s.  A run at the
 * same text offset as the previous one replaces it.  0, or -1 when memory
 * runs out.
 */
int rag_offmap_add(rag_offmap *m, size_t t, size_t s);

/*
 * The source offset of text offset t.  With an empty map, t itself.  For
 * t at or past the end of the last run, clamped to src_end when src_end is
 * set (non-zero).
 */
size_t rag_offmap_lookup(const rag_offmap *m, size_t t);

#endif
