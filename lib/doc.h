/*
 * doc.h - a document ready to be chunked.
 *
 * A document is the UTF-8 text to cut, plus what the format parsers found
 * in it: sections (a Markdown or HTML heading and the text up to the next
 * heading), atoms (spans never to be split: fenced code, <pre>) and, when
 * the text is not the source bytes themselves, a map from text offsets
 * back to source offsets so that chunks can say where in the file they
 * came from.
 */
#ifndef RAG_DOC_H
#define RAG_DOC_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "offmap.h"
#include "split.h"

typedef struct rag_section {
	size_t start;      /* text offset where the section begins */
	json_t *headings;  /* owned: array of heading strings, outermost first */
} rag_section;

typedef struct rag_doc {
	const char *text;  /* the text to chunk: src itself, or owned.data */
	size_t len;
	const char *src;   /* the source bytes, for line numbers and offsets */
	size_t src_len;
	rag_buf owned;     /* text made from src (extracted or repaired) */
	rag_offmap map;    /* text offset -> source offset; empty when text is src */
	rag_section *sections; /* sorted by start; text before the first has no headings */
	size_t nsections, sections_cap;
	rag_spans atoms;   /* sorted, not overlapping */
	json_t *title;     /* owned: the document's title (HTML <title>), or NULL */
} rag_doc;

void rag_doc_init(rag_doc *d);

/* Forgets the previous document but keeps the allocations for the next. */
void rag_doc_reset(rag_doc *d);
void rag_doc_free(rag_doc *d);

/* Makes src[0..n) the document's text (borrowed: src must outlive the use). */
void rag_doc_set_text(rag_doc *d, const char *src, size_t n);

/*
 * Adds a section starting at text offset start (not before the last one
 * added).  headings is stolen (a new reference or NULL).  0 or -1 (memory).
 */
int rag_doc_add_section(rag_doc *d, size_t start, json_t *headings);

/*
 * Adds an atom: text[start, end) trimmed of white space at both ends (so
 * that trimming a chunk never cuts into one), after the last one added.
 * An atom of white space only is not added.  0 or -1 (memory).
 */
int rag_doc_add_atom(rag_doc *d, const char *text, size_t start, size_t end);

/*
 * Markdown: finds the sections (ATX and setext headings, with the path of
 * enclosing headings) and atoms (fenced code blocks, a leading YAML front
 * matter block) of d->text.  0 or -1 with err set (memory).
 */
int rag_markdown_parse(rag_doc *d, rag_error *err);

/*
 * HTML: extracts the readable text of src[0..n) (valid UTF-8) into d:
 * script, style and other non-content elements are dropped, tags are
 * removed, entities decoded, white space collapsed outside <pre>, block
 * elements kept apart by blank lines.  Fills the text, the offset map,
 * sections from <h1>..<h6>, atoms from <pre>, and the title.
 * 0 or -1 with err set (memory).
 */
int rag_html_extract(rag_doc *d, const char *src, size_t n, rag_error *err);

#endif
