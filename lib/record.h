/*
 * record.h - records on their way into a store and hits on their way out.
 *
 * rag-index reads NDJSON records and hands them to the store as
 * rag_store_record values: an id, a text to index, an optional document
 * id, the record itself in compact form and a content hash.  rag-search
 * reads queries (plain lines or NDJSON) and writes each hit as the stored
 * record with its score, rank and query added.  This module does both
 * conversions; the programs only read, write and report.
 *
 * Nothing here prints or exits.  Errors about a record come back as
 * RAG_EDATA with the source and line the caller gives.
 */
#ifndef RAG_RECORD_H
#define RAG_RECORD_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "hash.h"
#include "json.h"
#include "ndjson.h"
#include "store.h"

/* ---- records in ---- */

/*
 * What turns read records into store records: the names of the fields
 * and the working memory reused from record to record.  Set it up with
 * rag_record_prep_init and free it with rag_record_prep_clear; the fields
 * other than the names are private.
 */
typedef struct rag_record_prep {
	const char *id_field;   /* "id" by default; borrowed, must outlive the prep */
	const char *text_field; /* "text" by default */
	const char *doc_field;  /* "doc" by default */
	/* private */
	rag_hasher *hasher;
	rag_buf json;                 /* the compact record last prepared */
	json_t *rec;                  /* the record last read by rag_record_read */
	char id_num[24], doc_num[24]; /* integer ids as decimal text */
	float *vec;                   /* the vector of the record last prepared */
	size_t vec_cap;
} rag_record_prep;

/*
 * Sets up p with the given field names (NULL for a default).  The names
 * are borrowed.  0, or -1 with err set when memory runs out.
 */
int rag_record_prep_init(rag_record_prep *p, const char *id_field, const char *text_field,
                         const char *doc_field, rag_error *err);

/* Frees what p holds; a zeroed p is fine, and so is calling it twice. */
void rag_record_prep_clear(rag_record_prep *p);

/*
 * Fills *out from rec, a JSON object parsed from line[0..len) (the
 * record's text as read, white space included).
 *
 *   id    the id field: a non-empty string without NUL characters, or an
 *         integer (taken as its decimal text)
 *   text  the text field: a string
 *   doc   the doc field: a string or an integer, or NULL when it is
 *         missing, null or empty
 *   json  the line with the white space outside strings removed: every
 *         field exactly as written
 *   vector, model  the "vector" field (an array of numbers, as
 *         rag-embed(1) writes it; missing or null for none) as float32,
 *         and the "model" field (a string) when there is a vector
 *   hash  the first 16 bytes of the SHA-256 of the record's "hash" field
 *         when it is a string (rag-chunk(1) writes one), followed by the
 *         model and the vector when there is one; or else of json
 *
 * The pointers in *out are borrowed from rec and from p, valid until the
 * next call with p or until rec is freed.  Returns 0, or -1 with err set:
 * RAG_EDATA for a record that lacks a field or has one of the wrong type
 * (source and line are used in the message), RAG_ENOMEM.
 */
int rag_record_prepare(rag_record_prep *p, const json_t *rec, const char *line, size_t len,
                       const char *source, long lineno, rag_store_record *out, rag_error *err);

/*
 * Reads the next record from r and prepares it into *out: 1, 0 at the
 * end of input, or -1 with err set and located.  After a RAG_EDATA error
 * (a line that is not a JSON object, a record without an id, ...) the next
 * call goes on with the next line.  What *out points to is valid until
 * the next call with p.
 */
int rag_record_read(rag_record_prep *p, rag_reader *r, rag_store_record *out, rag_error *err);

/*
 * Reads the next id to delete from r: a line holding a JSON object with
 * the id field (a string or an integer), or any other line, which is the
 * id itself with white space at both ends removed.  Blank lines are
 * skipped.  1 with *id and *len set (valid until the next call with p),
 * 0 at the end, -1 with err set and located (RAG_EDATA: the next call goes
 * on with the next line).
 */
int rag_record_read_id(rag_record_prep *p, rag_reader *r, const char **id, size_t *len,
                       rag_error *err);

/* ---- queries ---- */

/*
 * A query: its text and its id.  The program fills text and qid itself for
 * a query given as an argument, or gets them from rag_query_parse.
 */
typedef struct rag_query {
	const char *text; /* valid UTF-8 */
	size_t len;
	const char *qid; /* NULL when the query has no id */
	size_t qid_len;
	float *vector;   /* its "vector" (NDJSON queries), or NULL */
	size_t dim;
	const char *model; /* with a vector: its "model" when a string, or NULL */
	/* private */
	json_t *obj;
	char num[24];
} rag_query;

/* Frees what q holds; a zeroed q is fine. */
void rag_query_clear(rag_query *q);

/*
 * Parses a line of queries: a line that starts with "{" (after white
 * space) is an NDJSON query, with the query in "query" or "text" (a
 * string) and an optional id in "qid", "id" or "_id" (the first there; a
 * string, or an integer taken as its decimal text), and an optional
 * "vector" (an array of numbers: then "query" may be missing, and the
 * text is "").  Any other line is the
 * query itself, with white space at both ends removed.  Returns 1 with q
 * filled (valid until the next call with q), 0 for a blank line, or -1
 * with err set (RAG_EDATA, using source and lineno; RAG_ENOMEM).
 */
int rag_query_parse(rag_query *q, const char *line, size_t len, const char *source, long lineno,
                    rag_error *err);

/* ---- hits out ---- */

/* A set of field names (rag-search --fields). */
typedef struct rag_fieldset {
	char **names; /* owned */
	size_t n;
} rag_fieldset;

/*
 * Fills *f from a comma-separated list of field names.  Returns 0, or -1
 * with err set: RAG_EUSAGE for an empty name, RAG_ENOMEM.
 */
int rag_fieldset_parse(rag_fieldset *f, const char *list, rag_error *err);
void rag_fieldset_clear(rag_fieldset *f);

/*
 * Appends one hit record to out (no newline): the members of the stored
 * record json[0..len) in order, except those named score, rank, query and
 * qid, and only those in fields when fields is not NULL; then "score" (h's,
 * the shortest real that reads back to the same double), "rank" (1-based),
 * "query", "qid" when q has one, and for a hit of hybrid search "ranks":
 * {"lexical": N, "vector": M} with the lists it was in (a stored "ranks"
 * member then gives way).  With q NULL nothing is added: the stored
 * record, restricted to fields.  members is working memory the
 * caller keeps from call to call (free it with rag_json_members_free).
 * The stored record must be a JSON object (the store holds only what
 * rag_record_prepare made).  0, or -1 with err set.
 */
int rag_hit_format(rag_buf *out, const char *json, size_t len, const rag_hit *h, size_t rank,
                   const rag_query *q, const rag_fieldset *fields, rag_json_members *members,
                   rag_error *err);

/*
 * Appends a hit for people to out: a line with the rank, the score (four
 * decimals) and where the record came from ("source:line_start-line_end"
 * when it has those fields, its id otherwise), then the start of its text
 * ("text", or the longest string of a record without one) with its white
 * space and control characters run together into single spaces, indented
 * by four spaces and wrapped to width columns, three lines at most, the
 * last ending in " ..." when there is more.  Lines end in newlines except
 * the last.  0, or -1 with err set.
 */
int rag_hit_format_text(rag_buf *out, const char *json, size_t len, double score, size_t rank,
                        size_t width, rag_error *err);

/*
 * For record.c and hit.c.  An id-like field v: a string (non-empty, no
 * NUL) or an integer, as text in *s and *n (integers written into num);
 * what names the field in messages.  1 found, 0 missing (or null, when
 * null_ok), -1 with err set.
 */
int rag_record_id_value(const json_t *v, const char *what, int null_ok, char num[24],
                        const char **s, size_t *n, const char *source, long lineno, rag_error *err);
/*
 * For record.c and hit.c.  A "vector" field v (an array of finite
 * numbers) into *buf (grown as rag_array_reserve grows it, *cap its
 * room), *dim its length: 1, 0 when v is missing or null, -1 with err
 * set (RAG_EDATA about the field, RAG_ENOMEM).
 */
int rag_record_vector(const json_t *v, float **buf, size_t *cap, size_t *dim, const char *source,
                      long lineno, rag_error *err);
/*
 * Parses an NDJSON line into a new reference to an object, or NULL with
 * err set and located.
 */
json_t *rag_record_parse_object(const char *line, size_t len, const char *source, long lineno,
                                rag_error *err);

#endif
