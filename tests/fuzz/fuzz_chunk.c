/*
 * fuzz_chunk - Markdown parsing and splitting on any text: the first bytes
 * choose the strategy, unit, size and overlap.  Chunks must be in order,
 * trimmed, on code point boundaries, within the size unless they are one
 * whole atom, and no boundary may fall inside an atom.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "doc.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int boundary(const char *t, size_t len, size_t p)
{
	return p == len || ((unsigned char)t[p] & 0xC0) != 0x80;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rag_split_opts o;
	rag_splitter *sp;
	rag_buf text;
	rag_doc d;
	rag_spans out = {NULL, 0, 0};
	rag_error err;
	size_t i, k;

	if (size < 4)
		return 0;
	o.strategy = (rag_strategy)(data[0] % 3);
	o.unit = (rag_unit)(data[1] % 3);
	o.size = 1 + data[2] % 64;
	o.overlap = data[3] % o.size;
	sp = rag_splitter_new(&o, &err);
	if (!sp)
		abort();
	rag_buf_init(&text, 0);
	if (rag_utf8_repair((const char *)data + 4, size - 4, &text, NULL, 0) < 0)
		abort();
	rag_doc_init(&d);
	rag_doc_set_text(&d, text.data ? text.data : "", text.len);
	if (rag_markdown_parse(&d, &err) < 0)
		abort();
	if (rag_splitter_run(sp, d.text, 0, d.len, d.atoms.v, d.atoms.n, &out, &err) < 0)
		abort();
	for (i = 0; i < out.n; i++) {
		size_t s = out.v[i].start, e = out.v[i].end;
		int whole_atom = 0;
		if (s >= e || e > d.len || !boundary(d.text, d.len, s) || !boundary(d.text, d.len, e))
			abort();
		if (i && (s < out.v[i - 1].start || e <= out.v[i - 1].end))
			abort();
		for (k = 0; k < d.atoms.n; k++) {
			const rag_span *a = &d.atoms.v[k];
			if ((s > a->start && s < a->end) || (e > a->start && e < a->end))
				abort();
			if (s <= a->start && e >= a->end)
				whole_atom = 1;
		}
		if (!whole_atom && rag_measure(o.unit, d.text + s, e - s) > o.size)
			abort();
	}
	rag_spans_free(&out);
	rag_doc_free(&d);
	rag_buf_free(&text);
	rag_splitter_free(sp);
	return 0;
}
