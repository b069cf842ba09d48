/*
 * backend.h - the operations a store engine provides.
 *
 * store.c chooses an engine by the form of the location and forwards each
 * rag_store_* call to it.  Only the local engine (store_local.c) exists
 * today; a remote one implements the same table.  Every rag_store begins
 * with a pointer to its engine's table.
 */
#ifndef RAG_BACKEND_H
#define RAG_BACKEND_H

#include "store.h"

typedef struct rag_backend {
	const char *name;
	rag_store *(*open)(const char *location, int flags, const rag_store_settings *want,
			   unsigned set, rag_error *err);
	void (*close)(rag_store *s);
	const rag_store_settings *(*settings)(const rag_store *s);
	int (*add)(rag_store *s, const rag_store_record *r, rag_error *err);
	int (*del)(rag_store *s, const char *id, size_t len, rag_error *err);
	int (*doc_begin)(rag_store *s, const char *doc, size_t len, rag_error *err);
	int (*doc_end)(rag_store *s, long *deleted, rag_error *err);
	size_t (*pending)(const rag_store *s);
	size_t (*pending_bytes)(const rag_store *s);
	int (*commit)(rag_store *s, rag_error *err);
	int (*compact)(rag_store *s, rag_error *err);
	int (*stats)(rag_store *s, rag_store_stats *st, rag_error *err);
	int (*search)(rag_store *s, const char *query, size_t len, const rag_search_opts *o,
		      const rag_hit **hits, size_t *n, rag_error *err);
	int (*scan)(rag_store *s, int (*fn)(const char *json, size_t len, void *arg), void *arg,
		    rag_error *err);
	int (*check)(const char *location, uint64_t *records, rag_error *err);
} rag_backend;

/* The common head of every engine's store. */
struct rag_store {
	const rag_backend *be;
};

extern const rag_backend rag_backend_local;

#endif
