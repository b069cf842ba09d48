/*
 * fuzz_html - the HTML extractor on any bytes (repaired to UTF-8 first):
 * no crash, valid UTF-8 out, sections and atoms in order and in bounds,
 * offsets that map back in order and within the source.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "doc.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rag_buf src;
	rag_doc d;
	rag_error err;
	size_t i, prev = 0;

	rag_buf_init(&src, 0);
	if (rag_utf8_repair((const char *)data, size, &src, NULL, 0) < 0)
		abort();
	rag_doc_init(&d);
	if (rag_html_extract(&d, src.data ? src.data : "", src.len, &err) < 0)
		abort();
	if (rag_utf8_valid_prefix(d.text, d.len) != d.len)
		abort();
	for (i = 0; i < d.nsections; i++)
		if (d.sections[i].start > d.len || (i && d.sections[i].start < d.sections[i - 1].start))
			abort();
	for (i = 0; i < d.atoms.n; i++)
		if (d.atoms.v[i].start >= d.atoms.v[i].end || d.atoms.v[i].end > d.len ||
		    (i && d.atoms.v[i].start < d.atoms.v[i - 1].end))
			abort();
	for (i = 0; i <= d.len; i++) {
		size_t s = rag_offmap_lookup(&d.map, i);
		if (s < prev || s > src.len)
			abort();
		prev = s;
	}
	rag_doc_free(&d);
	rag_buf_free(&src);
	return 0;
}
