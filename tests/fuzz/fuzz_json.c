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

/*
 * The members of a top-level object: each raw value, and its compacted
 * text, reads back equal to the parsed value (the last of a repeated key).
 */
static void check_members(const uint8_t *data, size_t size, json_t *parsed)
{
	rag_json_members m = {NULL, 0, 0};
	rag_error err;
	json_t *v = rag_json_parse_members((const char *)data, size, &m, &err);
	size_t i;

	if (!v || (json_is_object(v) ? m.n < json_object_size(v) : m.n != 0))
		abort();
	for (i = 0; i < m.n; i++) {
		const char *t = (const char *)data;
		json_t *key = rag_json_parse(t + m.v[i].key, m.v[i].key_len, &err);
		json_t *val = rag_json_parse(t + m.v[i].val, m.v[i].val_len, &err), *again;
		rag_buf b;
		if (!key || !json_is_string(key) || !val)
			abort();
		rag_buf_init(&b, 0);
		if (rag_json_add_raw(&b, t + m.v[i].val, m.v[i].val_len) < 0)
			abort();
		again = rag_json_parse(b.data, b.len, &err);
		if (!again || !json_equal(again, val) || memchr(b.data, '\n', b.len))
			abort();
		/* The last member with this key is the value the object holds. */
		{
			size_t j;
			for (j = i + 1; j < m.n; j++)
				if (m.v[j].key_len == m.v[i].key_len &&
				    !memcmp(t + m.v[j].key, t + m.v[i].key, m.v[i].key_len))
					break;
			if (j == m.n && !json_equal(json_object_getn(parsed, json_string_value(key),
								       json_string_length(key)), val))
				abort();
		}
		json_decref(again);
		rag_buf_free(&b);
		json_decref(key);
		json_decref(val);
	}
	rag_json_members_free(&m);
	json_decref(v);
}

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
	/*
	 * Integers beyond 64 bits: jansson refuses them, we read a real.
	 * Keys holding NUL: jansson refuses them, we keep them (with length).
	 */
	if (ours && !theirs &&
	    (strstr(jerr.text, "too big") || strstr(jerr.text, "NUL byte in object key")))
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
		check_members(data, size, ours);
	} else if (err.column < 1 || (size_t)err.column > size + 1) {
		abort();
	}
done:
	json_decref(ours);
	json_decref(theirs);
	return 0;
}
