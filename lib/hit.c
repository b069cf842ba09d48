/*
 * hit.c - queries and hits out of a store; see record.h.
 *
 * Apart from record.c so that rag-search, which needs none of the content
 * hashing, does not load libcrypto: starting a process is most of what a
 * single query costs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "text.h"
#include "utf8.h"

static int nomem(rag_error *err)
{
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/* ---- shared with record.c ---- */

/*
 * An id-like field: a string (non-empty, no NUL) or an integer, as text in
 * *s and *n (integers written into num).  what names the field in messages.
 * 1 found, 0 missing (or null, when null_ok), -1 err set.
 */
int rag_record_id_value(const json_t *v, const char *what, int null_ok, char num[24],
                        const char **s, size_t *n, const char *source, long lineno, rag_error *err)
{
	if (!v || (null_ok && json_is_null(v)))
		return 0;
	if (json_is_string(v)) {
		*s = json_string_value(v);
		*n = json_string_length(v);
		if (memchr(*s, '\0', *n))
			return rag_error_set(err, RAG_EDATA, source, lineno,
			                     "%s holds a NUL character", rag_quote(0, what));
		return 1;
	}
	if (json_is_integer(v)) {
		*n = (size_t)snprintf(num, 24, "%lld", (long long)json_integer_value(v));
		*s = num;
		return 1;
	}
	return rag_error_set(err, RAG_EDATA, source, lineno, "%s is not a string or an integer",
	                     rag_quote(0, what));
}

/*
 * Parses an NDJSON line into a new reference to an object, or NULL with
 * err set and located (the column of a syntax error kept).
 */
json_t *rag_record_parse_object(const char *line, size_t len, const char *source, long lineno,
                                rag_error *err)
{
	json_t *j = rag_json_parse(line, len, err);

	if (!j) {
		rag_error_at(err, source, lineno);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		rag_error_set(err, RAG_EDATA, source, lineno, "expected a JSON object");
		return NULL;
	}
	return j;
}

/* ---- queries ---- */

void rag_query_clear(rag_query *q)
{
	json_decref(q->obj);
	free(q->vector);
	memset(q, 0, sizeof *q);
}

/* The query's "vector", when it has one.  0, or -1 with err set. */
static int query_vector(rag_query *q, const char *source, long lineno, rag_error *err)
{
	size_t cap = 0;
	const json_t *m;

	if (rag_record_vector(json_object_get(q->obj, "vector"), &q->vector, &cap, &q->dim, source,
	                      lineno, err) < 0)
		return -1;
	m = json_object_get(q->obj, "model");
	q->model = q->vector && json_is_string(m) ? json_string_value(m) : NULL;
	return 0;
}

int rag_query_parse(rag_query *q, const char *line, size_t len, const char *source, long lineno,
                    rag_error *err)
{
	static const char *const ids[] = {"qid", "id", "_id"};
	const json_t *v;
	size_t i;
	int k;

	rag_query_clear(q);
	line = rag_trim(line, &len);
	if (len == 0)
		return 0;
	if (line[0] != '{') {
		if (rag_utf8_valid_prefix(line, len) < len)
			return rag_error_set(err, RAG_EDATA, source, lineno, "invalid UTF-8");
		q->text = line;
		q->len = len;
		return 1;
	}
	q->obj = rag_record_parse_object(line, len, source, lineno, err);
	if (!q->obj)
		return -1;
	if (query_vector(q, source, lineno, err) < 0)
		return -1;
	v = json_object_get(q->obj, "query");
	if (!v)
		v = json_object_get(q->obj, "text");
	if (!v && !q->vector)
		return rag_error_set(err, RAG_EDATA, source, lineno,
		                     "query has no \"query\", \"text\" or \"vector\"");
	if (v && !json_is_string(v))
		return rag_error_set(err, RAG_EDATA, source, lineno, "%s is not a string",
		                     json_object_get(q->obj, "query") ? "\"query\"" : "\"text\"");
	q->text = v ? json_string_value(v) : "";
	q->len = v ? json_string_length(v) : 0;
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		k = rag_record_id_value(json_object_get(q->obj, ids[i]), ids[i], 1, q->num, &q->qid,
		                        &q->qid_len, source, lineno, err);
		if (k < 0)
			return -1;
		if (k > 0)
			break;
	}
	if (i == sizeof ids / sizeof ids[0])
		q->qid = NULL;
	return 1;
}

/* ---- hits out ---- */

void rag_fieldset_clear(rag_fieldset *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	f->names = NULL;
	f->n = 0;
}

int rag_fieldset_parse(rag_fieldset *f, const char *list, rag_error *err)
{
	const char *p = list;

	memset(f, 0, sizeof *f);
	for (;;) {
		size_t n = strcspn(p, ",");
		const char *name = rag_trim(p, &n);
		char **v;
		if (n == 0) {
			rag_fieldset_clear(f);
			return rag_error_set(err, RAG_EUSAGE, NULL, 0, "empty field name in %s",
			                     rag_quote(0, list));
		}
		v = realloc(f->names, (f->n + 1) * sizeof *v);
		if (!v) {
			rag_fieldset_clear(f);
			return nomem(err);
		}
		f->names = v;
		f->names[f->n] = strndup(name, n);
		if (!f->names[f->n]) {
			rag_fieldset_clear(f);
			return nomem(err);
		}
		f->n++;
		p += strcspn(p, ",");
		if (!*p)
			return 0;
		p++;
	}
}

static int same(const char *a, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(a, word, n) == 0;
}

/*
 * The key of a member as text: its bytes between the quotes, or, when it
 * holds escapes, the string decoded into scratch.  NULL when memory runs
 * out.
 */
static const char *member_key(const char *json, const rag_json_member *mb, rag_buf *scratch,
                              size_t *n)
{
	const char *k = json + mb->key + 1;
	json_t *s;
	rag_error e;

	*n = mb->key_len - 2;
	if (!memchr(k, '\\', *n))
		return k;
	s = rag_json_parse(json + mb->key, mb->key_len, &e);
	scratch->len = 0;
	if (!s || !json_is_string(s) ||
	    rag_buf_add(scratch, json_string_value(s), json_string_length(s)) < 0) {
		json_decref(s);
		return NULL;
	}
	json_decref(s);
	*n = scratch->len;
	return scratch->data;
}

/* Whether a later member has the same key as written (the later one wins). */
static int overridden(const char *json, const rag_json_members *ms, size_t i)
{
	size_t j;

	for (j = i + 1; j < ms->n; j++)
		if (ms->v[j].key_len == ms->v[i].key_len &&
		    memcmp(json + ms->v[j].key, json + ms->v[i].key, ms->v[i].key_len) == 0)
			return 1;
	return 0;
}

static int wanted(const rag_fieldset *f, const char *key, size_t n)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strlen(f->names[i]) == n && memcmp(f->names[i], key, n) == 0)
			return 1;
	return 0;
}

/* A stored record that does not parse: the store is damaged. */
static int damaged(rag_error *err);

/* rag_json_parse_keys's list of the members to build: none. */
static const char *const no_members[] = {NULL};

/*
 * A stored record parsed (with its member spans when members is not
 * NULL): a new reference to an object, or NULL with err set.
 */
static json_t *stored_object(const char *json, size_t len, rag_json_members *members,
			     const char *const *keep, rag_error *err)
{
	json_t *obj = members ? rag_json_parse_keys(json, len, members, keep, err)
			      : rag_json_parse(json, len, err);

	if (!obj) {
		damaged(err);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		rag_error_set(err, RAG_EDATA, NULL, 0, "damaged stored record: not an object");
		return NULL;
	}
	return obj;
}

static int damaged(rag_error *err)
{
	char why[RAG_ERROR_TEXT_MAX - 32];

	if (err->code == RAG_ENOMEM)
		return -1;
	/* the message quotes the parser's, which lives in the same buffer */
	memcpy(why, err->text, sizeof why);
	why[sizeof why - 1] = '\0';
	return rag_error_set(err, RAG_EDATA, NULL, 0, "damaged stored record: %s", why);
}

int rag_hit_format(rag_buf *out, const char *json, size_t len, const rag_hit *h, size_t rank,
                   const rag_query *q, const rag_fieldset *fields, rag_json_members *members,
                   rag_error *err)
{
	int fused = h && (h->rank_lexical || h->rank_vector);
	rag_buf scratch;
	json_t *obj;
	size_t i, n, start = out->len;
	int first = 1, rc = -1;

	/* checked whole, its members listed, none of them built: a hit copies their text */
	obj = stored_object(json, len, members, no_members, err);
	if (!obj)
		return -1;
	rag_buf_init(&scratch, 0);
	if (rag_buf_addc(out, '{') < 0)
		goto nomem;
	for (i = 0; i < members->n; i++) {
		const rag_json_member *mb = &members->v[i];
		const char *key = member_key(json, mb, &scratch, &n);
		if (!key)
			goto nomem;
		if (q && (same(key, n, "score") || same(key, n, "rank") || same(key, n, "query") ||
		          same(key, n, "qid") || (fused && same(key, n, "ranks"))))
			continue;
		if (fields && !wanted(fields, key, n))
			continue;
		if (overridden(json, members, i))
			continue;
		if ((!first && rag_buf_addc(out, ',') < 0) ||
		    rag_buf_add(out, json + mb->key, mb->key_len) < 0 ||
		    rag_buf_addc(out, ':') < 0 || rag_buf_add(out, json + mb->val, mb->val_len) < 0)
			goto nomem;
		first = 0;
	}
	if (q) {
		if ((!first && rag_buf_addc(out, ',') < 0) || rag_buf_adds(out, "\"score\":") < 0 ||
		    rag_json_add_real(out, h ? h->score : 0, 0) < 0 ||
		    rag_buf_adds(out, ",\"rank\":") < 0 ||
		    rag_json_add_int(out, (long long)rank) < 0 ||
		    rag_buf_adds(out, ",\"query\":") < 0 ||
		    rag_json_add_string(out, q->text, q->len) < 0)
			goto nomem;
		if (q->qid && (rag_buf_adds(out, ",\"qid\":") < 0 ||
		               rag_json_add_string(out, q->qid, q->qid_len) < 0))
			goto nomem;
		/* hybrid search: the hit's rank in each list it came from */
		if (fused &&
		    (rag_buf_adds(out, ",\"ranks\":{") < 0 ||
		     (h->rank_lexical && rag_buf_addf(out, "\"lexical\":%zu", h->rank_lexical) < 0) ||
		     (h->rank_vector && rag_buf_addf(out, "%s\"vector\":%zu",
		                                     h->rank_lexical ? "," : "", h->rank_vector) < 0) ||
		     rag_buf_addc(out, '}') < 0))
			goto nomem;
	}
	if (rag_buf_addc(out, '}') < 0)
		goto nomem;
	rc = 0;
	goto done;
nomem:
	rag_buf_truncate(out, start);
	nomem(err);
done:
	rag_buf_free(&scratch);
	json_decref(obj);
	return rc;
}

/*
 * Appends s[0..n) with control characters as spaces and invalid UTF-8
 * (there should be none) as U+FFFD.  0 or -1.
 */
static int add_clean(rag_buf *out, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			if (rag_buf_addc(out, ' ') < 0)
				return -1;
			i++;
		} else if (c < 0x80) {
			if (rag_buf_addc(out, (char)c) < 0)
				return -1;
			i++;
		} else {
			uint32_t cp;
			size_t k = rag_utf8_decode(s + i, n - i, &cp);
			if (k == 0) {
				if (rag_buf_adds(out, "\xEF\xBF\xBD") < 0)
					return -1;
				k = rag_utf8_invalid_len(s + i, n - i);
				i += k ? k : 1;
				continue;
			}
			if (rag_buf_add(out, s + i, k) < 0)
				return -1;
			i += k;
		}
	}
	return 0;
}

/* The length of the first n code points of s[0..len) or fewer. */
static size_t cp_prefix(const char *s, size_t len, size_t n)
{
	size_t i = 0;

	while (i < len && n > 0) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		n--;
	}
	return i;
}

#define TEXT_LINES 3
#define INDENT "    "

/*
 * Appends s[0..n), plain text on one line (see flatten), wrapped at
 * spaces into at most TEXT_LINES lines of at most width code points, each
 * indented; the last ends in "..." when text is left over.
 */
static int add_wrapped(rag_buf *out, const char *s, size_t n, size_t width)
{
	size_t lines = 0, room = width > 20 ? width - (sizeof INDENT - 1) : 16;

	s = rag_trim(s, &n);
	while (n > 0 && lines < TEXT_LINES) {
		size_t take = cp_prefix(s, n, room), cut;
		const char *rest;
		/* The last line leaves room for the " ..." that says there is more. */
		if (take < n && lines == TEXT_LINES - 1)
			take = cp_prefix(s, n, room - 4);
		if (take < n) {
			/* Break at the last white space that fits, if any. */
			for (cut = take; cut > 0 && !rag_is_space((unsigned char)s[cut]); cut--)
				;
			if (cut > 0)
				take = cut;
		}
		if (lines > 0 && rag_buf_addc(out, '\n') < 0)
			return -1;
		if (rag_buf_adds(out, INDENT) < 0)
			return -1;
		rest = s + take;
		n -= take;
		{
			size_t m = take;
			const char *t = rag_trim(s, &m);
			if (add_clean(out, t, m) < 0)
				return -1;
		}
		s = rag_trim(rest, &n);
		lines++;
		if (lines == TEXT_LINES && n > 0 && rag_buf_adds(out, " ...") < 0)
			return -1;
	}
	return 0;
}

/*
 * Appends the start of s[0..n) to out on one line: every run of white
 * space and control characters as one space, none at either end, invalid
 * UTF-8 (there should be none) as U+FFFD; at most max code points, and
 * one more when there is more text.  0 or -1.
 */
static int flatten(rag_buf *out, const char *s, size_t n, size_t max)
{
	size_t i = 0, count = 0;
	int space = 0;

	while (i < n && count <= max) {
		unsigned char c = (unsigned char)s[i];
		size_t k = 1;
		if (c <= 0x20 || c == 0x7f) {
			space = 1;
			i++;
			continue;
		}
		if (space && out->len > 0 && rag_buf_addc(out, ' ') < 0)
			return -1;
		space = 0;
		if (c >= 0x80) {
			uint32_t cp;
			k = rag_utf8_decode(s + i, n - i, &cp);
			if (k == 0) {
				if (rag_buf_adds(out, "\xEF\xBF\xBD") < 0)
					return -1;
				k = rag_utf8_invalid_len(s + i, n - i);
				i += k ? k : 1;
				count++;
				continue;
			}
		}
		if (rag_buf_add(out, s + i, k) < 0)
			return -1;
		i += k;
		count++;
	}
	return 0;
}

/* The text to show of a stored record: "text", or its longest string. */
static const json_t *shown_text(const json_t *obj)
{
	const json_t *t = json_object_get(obj, "text"), *v;
	const char *key;
	size_t best = 0;

	if (json_is_string(t))
		return t;
	t = NULL;
	json_object_foreach((json_t *)obj, key, v)
	{
		if (json_is_string(v) && json_string_length(v) > best) {
			best = json_string_length(v);
			t = v;
		}
	}
	return t;
}

int rag_hit_format_text(rag_buf *out, const char *json, size_t len, double score, size_t rank,
                        size_t width, rag_error *err)
{
	json_t *obj = stored_object(json, len, NULL, NULL, err);
	const json_t *src, *ls, *le, *t;
	size_t start = out->len;
	int rc;

	if (!obj)
		return -1;
	src = json_object_get(obj, "source");
	ls = json_object_get(obj, "line_start");
	le = json_object_get(obj, "line_end");
	rc = rag_buf_addf(out, "%zu. %.4f  ", rank, score);
	if (rc == 0 && json_is_string(src)) {
		rc = add_clean(out, json_string_value(src), json_string_length(src));
		if (rc == 0 && json_is_integer(ls) && json_is_integer(le))
			rc =
			    json_integer_value(ls) == json_integer_value(le)
			        ? rag_buf_addf(out, ":%lld", (long long)json_integer_value(ls))
			        : rag_buf_addf(out, ":%lld-%lld", (long long)json_integer_value(ls),
			                       (long long)json_integer_value(le));
	} else if (rc == 0) {
		const json_t *id = json_object_get(obj, "id");
		if (!id)
			id = json_object_get(obj, "doc");
		if (json_is_string(id))
			rc = add_clean(out, json_string_value(id), json_string_length(id));
		else if (json_is_integer(id))
			rc = rag_buf_addf(out, "%lld", (long long)json_integer_value(id));
		else
			rc = rag_buf_addc(out, '-');
	}
	t = shown_text(obj);
	if (rc == 0 && t) {
		rag_buf flat;
		rag_buf_init(&flat, 0);
		rc =
		    flatten(&flat, json_string_value(t), json_string_length(t), TEXT_LINES * width);
		if (rc == 0 && flat.len > 0) {
			rc = rag_buf_addc(out, '\n');
			if (rc == 0)
				rc = add_wrapped(out, flat.data, flat.len, width);
		}
		rag_buf_free(&flat);
	}
	json_decref(obj);
	if (rc < 0) {
		rag_buf_truncate(out, start);
		return nomem(err);
	}
	return 0;
}
