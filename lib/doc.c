/* doc.c - a document ready to be chunked; see doc.h. */
#include "config.h"

#include <stdlib.h>

#include "doc.h"
#include "text.h"

void rag_doc_init(rag_doc *d)
{
	d->text = d->src = "";
	d->len = d->src_len = 0;
	rag_buf_init(&d->owned, 0);
	rag_offmap_init(&d->map);
	d->sections = NULL;
	d->nsections = d->sections_cap = 0;
	d->atoms.v = NULL;
	d->atoms.n = d->atoms.cap = 0;
	d->title = NULL;
}

void rag_doc_reset(rag_doc *d)
{
	size_t i;

	for (i = 0; i < d->nsections; i++)
		json_decref(d->sections[i].headings);
	d->nsections = 0;
	d->atoms.n = 0;
	d->owned.len = 0;
	rag_offmap_reset(&d->map);
	json_decref(d->title);
	d->title = NULL;
	d->text = d->src = "";
	d->len = d->src_len = 0;
}

void rag_doc_free(rag_doc *d)
{
	rag_doc_reset(d);
	rag_buf_free(&d->owned);
	rag_offmap_free(&d->map);
	free(d->sections);
	rag_spans_free(&d->atoms);
	rag_doc_init(d);
}

void rag_doc_set_text(rag_doc *d, const char *src, size_t n)
{
	d->text = d->src = src;
	d->len = d->src_len = n;
}

int rag_doc_add_section(rag_doc *d, size_t start, json_t *headings)
{
	if (rag_array_reserve(&d->sections, &d->sections_cap, d->nsections + 1,
			      sizeof *d->sections) < 0) {
		json_decref(headings);
		return -1;
	}
	d->sections[d->nsections].start = start;
	d->sections[d->nsections].headings = headings;
	d->nsections++;
	return 0;
}

int rag_doc_add_atom(rag_doc *d, const char *text, size_t start, size_t end)
{
	rag_trim_span(text, &start, &end);
	if (start == end)
		return 0;
	return rag_spans_push(&d->atoms, start, end);
}
