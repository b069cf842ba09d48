/* record.c - records into a store; see record.h (hit.c has queries and hits). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "text.h"
#include "utf8.h"

/* ---- records in ---- */

int rag_record_prep_init(rag_record_prep *p, const char *id_field, const char *text_field,
                         const char *doc_field, rag_error *err)
{
	memset(p, 0, sizeof *p);
	p->id_field = id_field ? id_field : "id";
	p->text_field = text_field ? text_field : "text";
	p->doc_field = doc_field ? doc_field : "doc";
	rag_buf_init(&p->json, 0);
	p->hasher = rag_hasher_new(err);
	return p->hasher ? 0 : -1;
}

int rag_record_vector(const json_t *v, float **buf, size_t *cap, size_t *dim, const char *source,
                      long lineno, rag_error *err)
{
	const json_t *x;
	size_t n, i;

	*dim = 0;
	if (!v || json_is_null(v))
		return 0;
	n = json_is_array(v) ? json_array_size(v) : 0;
	if (!n)
		return rag_error_set(err, RAG_EDATA, source, lineno,
		                     "\"vector\" is not an array of numbers");
	if (rag_array_reserve(buf, cap, n, sizeof **buf) < 0)
		return rag_error_set(err, RAG_ENOMEM, source, lineno, "out of memory");
	json_array_foreach(v, i, x) {
		if (!json_is_number(x))
			return rag_error_set(err, RAG_EDATA, source, lineno,
			                     "\"vector\" component %zu is not a number", i + 1);
		(*buf)[i] = (float)json_number_value(x);
		if (!isfinite((*buf)[i]))
			return rag_error_set(err, RAG_EDATA, source, lineno,
			                     "\"vector\" component %zu is out of range", i + 1);
	}
	*dim = n;
	return 1;
}

/*
 * The record's "vector" and "model" into out (none when the vector is
 * missing or null).  0, or -1 with err set.
 */
static int vector_of(rag_record_prep *p, const json_t *rec, const char *source, long lineno,
                     rag_store_record *out, rag_error *err)
{
	const json_t *m;
	int k = rag_record_vector(json_object_get(rec, "vector"), &p->vec, &p->vec_cap, &out->dim,
	                          source, lineno, err);

	if (k <= 0)
		return k;
	out->vector = p->vec;
	m = json_object_get(rec, "model");
	if (m && !json_is_null(m)) {
		if (!json_is_string(m))
			return rag_error_set(err, RAG_EDATA, source, lineno,
			                     "\"model\" is not a string");
		out->model = json_string_value(m);
		out->model_len = json_string_length(m);
	}
	return 0;
}

void rag_record_prep_clear(rag_record_prep *p)
{
	free(p->vec);
	p->vec = NULL;
	p->vec_cap = 0;
	rag_hasher_free(p->hasher);
	p->hasher = NULL;
	rag_buf_free(&p->json);
	json_decref(p->rec);
	p->rec = NULL;
}

/*
 * The first 16 bytes of the SHA-256 of p[0..n), then (when vec is not
 * NULL) a NUL, the model, a NUL and the vector's float32 bytes.
 */
static int hash16(rag_hasher *h, const char *p, size_t n, const char *model, size_t ml,
                  const float *vec, size_t dim, unsigned char out[16])
{
	char hex[33];
	int i;

	if (rag_hasher_start(h) < 0 || rag_hasher_add(h, p, n) < 0)
		return -1;
	if (vec && (rag_hasher_add(h, "", 1) < 0 || rag_hasher_add(h, model ? model : "", ml) < 0 ||
	            rag_hasher_add(h, "", 1) < 0 || rag_hasher_add(h, vec, dim * sizeof *vec) < 0))
		return -1;
	if (rag_hasher_hex(h, hex, 32) < 0)
		return -1;
	for (i = 0; i < 16; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];
		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int rag_record_prepare(rag_record_prep *p, const json_t *rec, const char *line, size_t len,
                       const char *source, long lineno, rag_store_record *out, rag_error *err)
{
	const json_t *tv, *hv;
	int k;

	memset(out, 0, sizeof *out);
	k = rag_record_id_value(json_object_get(rec, p->id_field), p->id_field, 0, p->id_num,
	                        &out->id, &out->id_len, source, lineno, err);
	if (k < 0)
		return -1;
	if (k == 0)
		return rag_error_set(err, RAG_EDATA, source, lineno, "record has no %s",
		                     rag_quote(0, p->id_field));
	if (out->id_len == 0)
		return rag_error_set(err, RAG_EDATA, source, lineno, "%s is empty",
		                     rag_quote(0, p->id_field));
	tv = json_object_get(rec, p->text_field);
	if (!tv)
		return rag_error_set(err, RAG_EDATA, source, lineno, "record has no %s",
		                     rag_quote(0, p->text_field));
	if (!json_is_string(tv))
		return rag_error_set(err, RAG_EDATA, source, lineno, "%s is not a string",
		                     rag_quote(0, p->text_field));
	out->text = json_string_value(tv);
	out->text_len = json_string_length(tv);
	k = rag_record_id_value(json_object_get(rec, p->doc_field), p->doc_field, 1, p->doc_num,
	                        &out->doc, &out->doc_len, source, lineno, err);
	if (k < 0)
		return -1;
	if (k == 0 || out->doc_len == 0) {
		out->doc = NULL;
		out->doc_len = 0;
	}
	p->json.len = 0;
	if (rag_json_add_raw(&p->json, line, len) < 0)
		return rag_error_set(err, RAG_ENOMEM, source, lineno, "out of memory");
	out->json = p->json.data;
	out->json_len = p->json.len;
	if (vector_of(p, rec, source, lineno, out, err) < 0)
		return -1;
	hv = json_object_get(rec, "hash");
	if (json_is_string(hv))
		k = hash16(p->hasher, json_string_value(hv), json_string_length(hv), out->model,
		           out->model_len, out->vector, out->dim, out->hash);
	else
		k = hash16(p->hasher, out->json, out->json_len, NULL, 0, NULL, 0, out->hash);
	if (k < 0)
		return rag_error_set(err, RAG_ENOMEM, source, lineno, "cannot compute SHA-256");
	return 0;
}

int rag_record_read(rag_record_prep *p, rag_reader *r, rag_store_record *out, rag_error *err)
{
	const char *line;
	size_t len;
	int k;

	json_decref(p->rec);
	p->rec = NULL;
	k = rag_reader_next(r, &p->rec, err);
	if (k <= 0)
		return k;
	line = rag_reader_line(r, &len);
	if (rag_record_prepare(p, p->rec, line, len, rag_reader_name(r), rag_reader_lineno(r), out,
	                       err) < 0)
		return -1;
	return 1;
}

int rag_record_read_id(rag_record_prep *p, rag_reader *r, const char **id, size_t *len,
                       rag_error *err)
{
	const char *line, *name = rag_reader_name(r);
	size_t n;
	long lineno;
	int k;

	json_decref(p->rec);
	p->rec = NULL;
	do {
		k = rag_reader_next_line(r, &line, &n, err);
		if (k <= 0)
			return k;
		line = rag_trim(line, &n);
	} while (n == 0);
	lineno = rag_reader_lineno(r);
	if (line[0] == '{') {
		p->rec = rag_record_parse_object(line, n, name, lineno, err);
		if (!p->rec)
			return -1;
		k = rag_record_id_value(json_object_get(p->rec, p->id_field), p->id_field, 0,
		                        p->id_num, id, len, name, lineno, err);
		if (k < 0)
			return -1;
		if (k == 0)
			return rag_error_set(err, RAG_EDATA, name, lineno, "record has no %s",
			                     rag_quote(0, p->id_field));
		if (*len == 0)
			return rag_error_set(err, RAG_EDATA, name, lineno, "%s is empty",
			                     rag_quote(0, p->id_field));
		return 1;
	}
	if (rag_utf8_valid_prefix(line, n) < n)
		return rag_error_set(err, RAG_EDATA, name, lineno, "invalid UTF-8");
	*id = line;
	*len = n;
	return 1;
}
