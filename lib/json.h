/*
 * json.h - a fast JSON reader and writer over jansson values.
 *
 * The values are jansson's (json_t); this module only replaces the text
 * conversion, which is on the hot path of every program: reading a
 * 100 KB text field byte by byte through a generic lexer costs more than
 * all the chunking.  The reader scans strings eight bytes at a time and
 * validates UTF-8 as it goes; the writer escapes the same way and prints
 * reals in the shortest form that reads back to the same double.
 *
 * Accepted input is RFC 8259 JSON, with these choices: an integer that
 * does not fit in 64 bits is read as the nearest real, a real must be
 * finite, "\u0000" is allowed, a repeated key keeps its last value, and
 * nesting is limited to RAG_JSON_MAX_DEPTH.  The parser can also say where
 * each member of a top-level object lies in the text, so that programs can
 * pass fields on exactly as they were written.
 */
#ifndef RAG_JSON_H
#define RAG_JSON_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"
#include "error.h"

#define RAG_JSON_MAX_DEPTH 512

/*
 * Parses one JSON value that fills buf[0..len) (surrounding whitespace
 * allowed).  Returns a new reference, or NULL with err's text and column
 * (1-based byte offset into buf) set and its code RAG_EDATA, or RAG_ENOMEM.
 * err's source and line are left for the caller to fill.
 */
json_t *rag_json_parse(const char *buf, size_t len, rag_error *err);

/* Where a member of a top-level object lies in the parsed text. */
typedef struct rag_json_member {
	size_t key, key_len; /* the key as written, quotes included */
	size_t val, val_len; /* the value as written */
} rag_json_member;

typedef struct rag_json_members {
	rag_json_member *v;
	size_t n, cap;
} rag_json_members;

void rag_json_members_free(rag_json_members *m);

/*
 * rag_json_parse that also fills m (emptied first) with the members of a
 * top-level object, in the order written, repeated keys included.
 */
json_t *rag_json_parse_members(const char *buf, size_t len, rag_json_members *m,
			       rag_error *err);

/*
 * rag_json_parse_members that builds, of a top-level object, only the
 * members whose keys are in keep (NULL-terminated; NULL for all).  The
 * others are checked as strictly, and listed in m, but not built: a
 * reader that needs a few fields of large records saves most of the work.
 */
json_t *rag_json_parse_keys(const char *buf, size_t len, rag_json_members *m,
			    const char *const *keep, rag_error *err);

/*
 * Appends JSON text that was parsed (valid JSON) with the white space
 * outside its strings removed.  0 or -1.
 */
int rag_json_add_raw(rag_buf *out, const char *text, size_t n);

/* Flags for rag_json_dump. */
enum {
	RAG_JSON_FLOAT32 = 1 /* reals as the shortest text that reads back to the same float */
};

/*
 * Appends the compact text of v (no newline) to out.  Strings must be
 * valid UTF-8 (the reader guarantees it for what it made).  Returns 0, or
 * -1 when out cannot grow.
 */
int rag_json_dump(rag_buf *out, const json_t *v, int flags);

/* Appends s[0..n), valid UTF-8, as a quoted JSON string.  0 or -1. */
int rag_json_add_string(rag_buf *out, const char *s, size_t n);

/*
 * Writes into out (RAG_JSON_FLOAT32_MAX bytes at least, no NUL added) the
 * text RAG_JSON_FLOAT32 gives f: the shortest that reads back to the same
 * float, always with a '.' or an exponent ("null" when f is not finite).
 * Returns its length.
 */
#define RAG_JSON_FLOAT32_MAX 32
size_t rag_json_float32_text(float f, char *out);

/*
 * Finds the members named key[0..klen) at the top level of json[0..len),
 * a compact JSON object (valid, no white space outside strings), whose
 * keys are compared as written.  Returns how many there are, or -1 when
 * some top-level key is written with an escape (it could be key in
 * disguise) or the text is not a whole object; [*vs, *ve) is the value
 * of the first one.
 */
long rag_json_top_member(const char *json, size_t len, const char *key, size_t klen, size_t *vs,
			 size_t *ve);

/* Appends an integer / a real in the form rag_json_dump uses.  0 or -1. */
int rag_json_add_int(rag_buf *out, long long v);
int rag_json_add_real(rag_buf *out, double d, int flags);

#endif
