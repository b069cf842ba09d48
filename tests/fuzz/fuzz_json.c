/*
 * fuzz_json - the JSON reader against jansson's: both accept or both
 * reject, accepted values are equal, and what we write reads back equal.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int deeper_than(const uint8_t *d, size_t n, int limit)
{
	int depth = 0;

	for (size_t i = 0; i < n; i++) {
		if (d[i] == '[' || d[i] == '{')
			depth++;
		if (depth > limit)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rag_error err;
	json_error_t jerr;
	json_t *ours, *theirs, *again;
	rag_buf b;

	/* Nesting limits differ on purpose; stay below both. */
	if (deeper_than(data, size, 200))
		return 0;
	ours = rag_json_parse((const char *)data, size, &err);
	/* jansson stops at a raw NUL; a raw NUL is never valid JSON. */
	if (memchr(data, 0, size)) {
		if (ours)
			abort();
		return 0;
	}
	theirs = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	/* Integers beyond 64 bits: jansson refuses them, we read a real. */
	if (ours && !theirs && strstr(jerr.text, "too big"))
		goto done;
	if (!ours != !theirs)
		abort();
	if (ours) {
		if (!json_equal(ours, theirs))
			abort();
		rag_buf_init(&b, 0);
		if (rag_json_dump(&b, ours, 0) < 0)
			abort();
		again = rag_json_parse(b.data, b.len, &err);
		if (!again || !json_equal(again, ours))
			abort();
		json_decref(again);
		rag_buf_free(&b);
	} else if (err.column < 1 || (size_t)err.column > size + 1) {
		abort();
	}
done:
	json_decref(ours);
	json_decref(theirs);
	return 0;
}
