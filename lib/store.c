/*
 * store.c - the store API, forwarded to the engine the location names.
 */
#include "config.h"

#include <string.h>

#include "backend.h"
#include "vec.h"

void rag_store_settings_default(rag_store_settings *s)
{
	memset(s, 0, sizeof *s);
	strcpy(s->analyzer, "english");
	s->k1 = 0.9;
	s->b = 0.4;
	s->metric = RAG_METRIC_COSINE;
	s->hnsw_m = 16;
	s->hnsw_efc = 200;
	s->threads = 1;
}

const char *rag_metric_name(int metric)
{
	switch (metric) {
	case RAG_METRIC_IP:
		return "ip";
	case RAG_METRIC_L2:
		return "l2";
	default:
		return "cosine";
	}
}

const char *rag_quant_name(int quant)
{
	return quant == RAG_QUANT_F16 ? "f16" : quant == RAG_QUANT_INT8 ? "int8" : "none";
}

int rag_quant_parse(const char *name)
{
	if (strcmp(name, "none") == 0)
		return RAG_QUANT_NONE;
	if (strcmp(name, "f16") == 0)
		return RAG_QUANT_F16;
	if (strcmp(name, "int8") == 0)
		return RAG_QUANT_INT8;
	return -1;
}

int rag_metric_parse(const char *name)
{
	if (strcmp(name, "cosine") == 0)
		return RAG_METRIC_COSINE;
	if (strcmp(name, "ip") == 0)
		return RAG_METRIC_IP;
	if (strcmp(name, "l2") == 0)
		return RAG_METRIC_L2;
	return -1;
}

/*
 * The engine for a location.  A location with a scheme ("name://...")
 * names a remote engine; none is built in yet.
 */
static const rag_backend *engine(const char *location, rag_error *err)
{
	const char *colon = strstr(location, "://");

	if (colon && colon > location && !memchr(location, '/', (size_t)(colon - location))) {
		rag_error_set(err, RAG_EUSAGE, location, 0,
			      "no store engine for \"%.*s://\" locations; a store is a directory",
			      (int)(colon - location), location);
		return NULL;
	}
	return &rag_backend_local;
}

rag_store *rag_store_open(const char *location, int flags, const rag_store_settings *want,
			  unsigned set, rag_error *err)
{
	const rag_backend *be = engine(location, err);

	return be ? be->open(location, flags, want, set, err) : NULL;
}

void rag_store_close(rag_store *s)
{
	if (s)
		s->be->close(s);
}

const rag_store_settings *rag_store_settings_of(const rag_store *s)
{
	return s->be->settings(s);
}

int rag_store_add(rag_store *s, const rag_store_record *r, rag_error *err)
{
	return s->be->add(s, r, err);
}

int rag_store_delete(rag_store *s, const char *id, size_t len, rag_error *err)
{
	return s->be->del(s, id, len, err);
}

int rag_store_doc_begin(rag_store *s, const char *doc, size_t len, rag_error *err)
{
	return s->be->doc_begin(s, doc, len, err);
}

int rag_store_doc_end(rag_store *s, long *deleted, rag_error *err)
{
	return s->be->doc_end(s, deleted, err);
}

size_t rag_store_pending(const rag_store *s)
{
	return s->be->pending(s);
}

size_t rag_store_pending_bytes(const rag_store *s)
{
	return s->be->pending_bytes(s);
}

int rag_store_commit(rag_store *s, rag_error *err)
{
	return s->be->commit(s, err);
}

int rag_store_compact(rag_store *s, rag_error *err)
{
	return s->be->compact(s, err);
}

int rag_store_stats_get(rag_store *s, rag_store_stats *st, rag_error *err)
{
	return s->be->stats(s, st, err);
}

int rag_store_search(rag_store *s, const char *query, size_t len, const rag_search_opts *o,
		     const rag_hit **hits, size_t *n, rag_error *err)
{
	return s->be->search(s, query, len, o, hits, n, err);
}

int rag_store_scan(rag_store *s, int (*fn)(const char *json, size_t len, void *arg),
		   void *arg, rag_error *err)
{
	return s->be->scan(s, fn, arg, err);
}

int rag_store_check(const char *location, uint64_t *records, rag_error *err)
{
	const rag_backend *be = engine(location, err);

	return be ? be->check(location, records, err) : -1;
}
