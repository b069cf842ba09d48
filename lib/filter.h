/*
 * filter.h - metadata filters: Milvus's boolean expressions over records.
 *
 * One expression language serves rag-filter on any NDJSON stream and
 * rag-search --filter inside a store; it is the syntax of Milvus's filter
 * expressions, so that the same string works unchanged against a Milvus
 * backend.  rag-filter(1) documents the language and its semantics for
 * users; in short:
 *
 *   fields      name, a.b, a["b"], a[0], $meta["odd key"]
 *   literals    "str", 'str', r"raw", 42, -1.5e3, true, false, null, [1, "a"]
 *   parameters  {name}, a value given at compile time (--param name=VALUE)
 *   compare     == != < <= > >=, chained: 2020 <= year < 2024
 *   logic       and && or || not !, parentheses
 *   sets        x in [..], x not in [..]
 *   patterns    x like "a%b_", x =~ "regex", x !~ "regex" (PCRE2, (?i) etc.)
 *   nulls       exists x, x is null, x is not null
 *   arithmetic  + - * / % ** on numbers
 *   functions   array_contains(a, v), array_contains_all(a, [..]),
 *               array_contains_any(a, [..]), array_length(a),
 *               json_contains, json_contains_all, json_contains_any
 *
 * A comparison that meets a missing field, a null or a value of another
 * type is false (not an error); a syntax error is an error that names the
 * column.  Keywords and function names are case-insensitive.
 *
 * A compiled filter keeps working memory and is not safe for use from two
 * threads at once.
 */
#ifndef RAG_FILTER_H
#define RAG_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"

typedef struct rag_filter rag_filter;

/* A template parameter: {name} in the expression stands for value. */
typedef struct rag_filter_param {
	const char *name;
	json_t *value; /* borrowed; the filter takes its own reference */
} rag_filter_param;

/*
 * Compiles expr (NUL-terminated UTF-8).  Returns the filter, or NULL with
 * err set: RAG_EUSAGE for a bad expression, with source "expression" and
 * the 1-based line and column of the fault (rag_filter_caret shows it), or
 * RAG_ENOMEM.
 */
rag_filter *rag_filter_compile(const char *expr, const rag_filter_param *params, size_t nparams,
			       rag_error *err);
void rag_filter_free(rag_filter *f);

/*
 * Whether record (any JSON value; fields are looked up in an object)
 * matches: 1 or 0, or -1 with err set when a regular expression hits a
 * PCRE2 resource limit or memory runs out.
 */
int rag_filter_match(rag_filter *f, const json_t *record, rag_error *err);

/*
 * rag_filter_match on the JSON text json[0..len): also -2 with err set
 * when the text is not JSON (RAG_EDATA) or memory runs out parsing it.
 */
int rag_filter_match_text(rag_filter *f, const char *json, size_t len, rag_error *err);

/*
 * The top-level fields the expression reads, each once, in the order they
 * first appear; NULL-terminated, owned by f.  With *whole set when the
 * expression reads the record as a whole ($meta without a key).
 */
const char *const *rag_filter_fields(const rag_filter *f, int *whole);

/* ---- indexed fields ---- */

/*
 * A field path as the language writes it (year, meta.source, a["b"],
 * tags[0]), compiled as an expression that must be one field reference.
 * NULL with err set (RAG_EUSAGE) for anything else.
 */
rag_filter *rag_filter_path(const char *path, rag_error *err);

/*
 * The path written one way for every way of writing it: keys that are
 * names after dots (a["b"] and $meta["a"].b become a.b), others quoted in
 * brackets, indexes in brackets.  0, or -1 when out cannot grow.
 */
int rag_filter_path_text(const rag_filter *path, rag_buf *out);

/* The value at path (from rag_filter_path) in record; NULL when missing. */
const json_t *rag_filter_path_get(const rag_filter *path, const json_t *record);

/*
 * The indexed fields of n records (a segment), as rag_filter_select reads
 * them: field i is at path(i) (from rag_filter_path); its distinct values
 * are value(i, 0 .. nvalues(i) - 1) (borrowed; NULL with err set on
 * failure), and mark sets (set 1) or clears (set 0) in bits the records
 * that hold value j.  A record in no list lacks the field.
 */
typedef struct rag_filter_columns {
	size_t n;
	const rag_filter *(*path)(void *arg, size_t i);
	size_t (*nvalues)(void *arg, size_t i);
	const json_t *(*value)(void *arg, size_t i, size_t j, rag_error *err);
	int (*mark)(void *arg, size_t i, size_t j, unsigned char *bits, int set, rag_error *err);
	void *arg;
} rag_filter_columns;

/*
 * Works out from the indexed fields which of n records may match f.  Each
 * part of the expression that reads one indexed field only is evaluated
 * once per distinct value of that field, and the parts are combined with
 * the expression's and, or and not.  *bits gets a new bitmap of
 * (n + 7) / 8 bytes (the caller frees it), or NULL when no part of the
 * expression narrows the records.  Returns 1 when the result is exact
 * (the records set match and no others do), 0 when the records set still
 * need rag_filter_match, -1 with err set.
 */
int rag_filter_select(rag_filter *f, const rag_filter_columns *c, uint32_t n,
		      unsigned char **bits, rag_error *err);

/*
 * A number no other filter compiled in this process has: what a cache of
 * a filter's results can tell filters apart by (an address may be reused).
 */
uint64_t rag_filter_serial(const rag_filter *f);

/* Template parameters gathered from the command line. */
typedef struct rag_filter_params {
	rag_filter_param *v;
	size_t n;
} rag_filter_params;

/*
 * Adds the parameter of a --param argument NAME=VALUE, the value read as
 * rag_filter_param_value does; a later one of the same name wins.  0, or
 * -1 with err set (RAG_EUSAGE for an argument without NAME=).
 */
int rag_filter_params_add(rag_filter_params *ps, const char *arg, rag_error *err);
void rag_filter_params_free(rag_filter_params *ps);

/*
 * Parses the text of a --param value: JSON if it is JSON (42, 2.5, "s",
 * [1, 2], true, null), else the text itself as a string.  A new
 * reference, or NULL when memory runs out.
 */
json_t *rag_filter_param_value(const char *text);

/*
 * Writes into buf the line of expr that err points at and, under it, a
 * caret at err's column: two lines, each ending in a newline; "" when err
 * has no column.  Returns buf.
 */
const char *rag_filter_caret(const char *expr, const rag_error *err, char *buf, size_t size);

#endif
