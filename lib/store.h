/*
 * store.h - the store, as rag-index and rag-search reach it.
 *
 * A store is opened from a location.  Today every location is a directory
 * holding the local store (segments plus a manifest, see rag-store(5));
 * the functions below go through a table of backend operations, so that a
 * remote engine can later be chosen by the form of the location without
 * the programs changing.
 *
 * Writing: one writer at a time holds the store's lock.  rag_store_add,
 * rag_store_delete and the document replacement calls change a pending
 * state in memory; rag_store_commit makes it durable and visible at once;
 * rag_store_close drops what was not committed.
 *
 * Reading: a store opened for reading is a snapshot of one committed
 * state; it never waits for the writer and never sees part of a commit.
 *
 * Every function that can fail returns -1 and fills *err.  Strings passed
 * in are copied when kept; what a function returns is borrowed from the
 * store unless said otherwise.
 */
#ifndef RAG_STORE_H
#define RAG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

typedef struct rag_store rag_store;

/* Settings fixed when the store is created and recorded in it. */
#define RAG_ANALYZER_NAME_MAX 32
/* Limits on indexed fields (rag-index --index-field). */
#define RAG_FIELDS_MAX 32
#define RAG_FIELD_NAME_MAX 256 /* bytes of a field's path, with the NUL */
#define RAG_MODEL_NAME_MAX 256 /* bytes of a model's name, with the NUL */
#define RAG_DIM_MAX 65536      /* components of a vector */

typedef struct rag_store_settings {
	char analyzer[RAG_ANALYZER_NAME_MAX]; /* "english" by default */
	double k1;                            /* BM25 k1, 0.9 by default */
	double b;                             /* BM25 b, 0.4 by default */
	/* fields whose values are indexed for filters, as rag-filter writes their paths */
	char fields[RAG_FIELDS_MAX][RAG_FIELD_NAME_MAX];
	unsigned nfields;
	/*
	 * Vectors.  The metric and the graph's parameters are fixed at
	 * creation; the model and the dimension are recorded with the first
	 * vector (model "" and dim 0 until then).
	 */
	int metric;          /* enum rag_metric (vec.h); cosine by default */
	unsigned hnsw_m;     /* graph links a node keeps (twice as many on level 0); 16 */
	unsigned hnsw_efc;   /* candidates kept while building; 200 */
	int lexical_ok;      /* records without a vector are welcome in a vector store */
	int quant;           /* enum rag_quant: compact copies the graph is walked on */
	char model[RAG_MODEL_NAME_MAX];
	unsigned dim;
	/* Not recorded: the threads a writer builds graphs with (1 by default). */
	unsigned threads;
} rag_store_settings;

/* Which fields of a rag_store_settings the caller asked for explicitly. */
enum {
	RAG_SET_ANALYZER = 1,
	RAG_SET_K1 = 2,
	RAG_SET_B = 4,
	RAG_SET_FIELDS = 8, /* fields to index: added to those the store has */
	RAG_SET_METRIC = 16,
	RAG_SET_HNSW_M = 32,
	RAG_SET_HNSW_EFC = 64,
	RAG_SET_LEXICAL_OK = 128,
	RAG_SET_QUANT = 256
};

/* Compact copies of the vectors, for walking the graphs (rag-index --quantize). */
enum rag_quant {
	RAG_QUANT_NONE = 0,
	RAG_QUANT_F16 = 1, /* float16 */
	RAG_QUANT_INT8 = 2 /* a byte a component, with a per-dimension offset and scale */
};

/* Fills *s with the defaults. */
void rag_store_settings_default(rag_store_settings *s);

/* Limits on the graph's settings. */
#define RAG_HNSW_M_MIN 2
#define RAG_HNSW_M_MAX 128
#define RAG_HNSW_EFC_MAX 100000

/* "cosine", "ip", "l2" for an enum rag_metric, and back (-1 for another name). */
const char *rag_metric_name(int metric);
int rag_metric_parse(const char *name);
/* "none", "f16", "int8" for an enum rag_quant, and back (-1 for another name). */
const char *rag_quant_name(int quant);
int rag_quant_parse(const char *name);

/* Flags for rag_store_open. */
enum {
	RAG_STORE_READ = 0,   /* a snapshot for searching */
	RAG_STORE_WRITE = 1,  /* take the writer's lock, waiting for it */
	RAG_STORE_CREATE = 2, /* with WRITE: create the store when it is missing */
	RAG_STORE_NOWAIT = 4  /* with WRITE: fail at once when another writer holds the lock */
};

/*
 * Opens the store at location.  want (may be NULL) holds the settings the
 * caller asked for, set names which of them: a new store is created with
 * them (defaults for the rest); for an existing store, one that differs
 * from what the store recorded is an RAG_EUSAGE error saying what differs,
 * but for fields to index, which a writer adds to the store's (records
 * committed before keep being filtered from their text until a compaction
 * indexes them).  A missing store without RAG_STORE_CREATE is an error.  Returns NULL with
 * err set.
 */
rag_store *rag_store_open(const char *location, int flags,
			  const rag_store_settings *want, unsigned set,
			  rag_error *err);

/* Drops uncommitted changes, releases the lock and frees; NULL is fine. */
void rag_store_close(rag_store *s);

/* The settings the store recorded. */
const rag_store_settings *rag_store_settings_of(const rag_store *s);

/* ---- writing ---- */

/* One record to add. */
typedef struct rag_store_record {
	const char *id;   /* the record's id; required, not empty */
	size_t id_len;
	const char *doc;  /* the document it belongs to, or NULL */
	size_t doc_len;
	const char *text; /* the text to index; may be empty */
	size_t text_len;
	const char *json; /* the record as it is stored and returned: one compact JSON object */
	size_t json_len;
	unsigned char hash[16]; /* the content hash that decides "unchanged" */
	/*
	 * The record's vector (dim components) and the model that made it,
	 * or NULL and 0.  The first vector fixes the store's model and
	 * dimension; later ones must agree.
	 */
	const float *vector;
	size_t dim;
	const char *model; /* may be NULL: then the store's */
	size_t model_len;
} rag_store_record;

/* What rag_store_add did. */
enum rag_store_outcome {
	RAG_STORE_ADDED = 1,    /* the id was new */
	RAG_STORE_UPDATED = 2,  /* the id existed with another hash: replaced */
	RAG_STORE_UNCHANGED = 3 /* the id existed with the same hash: skipped */
};

/* Adds or replaces a record by id.  Returns an rag_store_outcome, or -1. */
int rag_store_add(rag_store *s, const rag_store_record *r, rag_error *err);

/* Deletes a record by id.  Returns 1 when it existed, 0 when not, -1. */
int rag_store_delete(rag_store *s, const char *id, size_t len, rag_error *err);

/*
 * Document replacement (rag-index --replace-docs).  Between
 * rag_store_doc_begin and rag_store_doc_end the records of document doc
 * are being re-added; at rag_store_doc_end the records of doc that were
 * in the store before rag_store_doc_begin and were not added again are
 * deleted.  *deleted (may be NULL) gets their number.  A begin while
 * another document is open ends that one first.
 */
int rag_store_doc_begin(rag_store *s, const char *doc, size_t len, rag_error *err);
int rag_store_doc_end(rag_store *s, long *deleted, rag_error *err);

/* Number of changes (adds and deletes) not yet committed. */
size_t rag_store_pending(const rag_store *s);

/*
 * Bytes of records held for the next commit.  A writer commits when it
 * reaches RAG_STORE_BATCH_BYTES, whatever its batch size, so that memory
 * stays bounded when records are large.
 */
size_t rag_store_pending_bytes(const rag_store *s);
#define RAG_STORE_BATCH_BYTES ((size_t)64 << 20)

/*
 * Makes the pending changes durable and visible as one new state.  A no-op
 * when nothing is pending.  May merge small segments afterwards.
 */
int rag_store_commit(rag_store *s, rag_error *err);

/* Commits, then rewrites the store as one segment without deleted records. */
int rag_store_compact(rag_store *s, rag_error *err);

/* ---- reading ---- */

typedef struct rag_store_stats {
	uint64_t records;  /* live records */
	uint64_t deleted;  /* records deleted but not yet compacted away */
	uint64_t segments; /* segment files */
	uint64_t bytes;    /* bytes of all live files of the store */
	uint64_t generation; /* the number of the committed state */
} rag_store_stats;

/* Figures of the committed state (for a writer: the last commit). */
int rag_store_stats_get(rag_store *s, rag_store_stats *st, rag_error *err);

/* Search modes. */
enum rag_search_mode {
	RAG_MODE_LEXICAL = 0, /* BM25 over the query's terms */
	RAG_MODE_VECTOR = 1,  /* nearest neighbours of the query's vector */
	RAG_MODE_HYBRID = 2   /* both lists, fused */
};

/* How hybrid search fuses its two lists. */
enum rag_fusion {
	RAG_FUSION_RRF = 0,     /* reciprocal rank fusion: sum of 1 / (rrf_k + rank) */
	RAG_FUSION_WEIGHTED = 1 /* alpha * vector + (1 - alpha) * lexical, scores min-max normalised */
};

typedef struct rag_search_opts {
	size_t k;        /* hits wanted, at least 1 */
	int mode;        /* enum rag_search_mode */
	int exhaustive;  /* score every posting (for checking the pruned search) */
	/* vector and hybrid modes */
	const float *vector; /* the query's vector, dim components (the store's dimension) */
	size_t dim;
	size_t ef;       /* candidates the graph search keeps; 0 for RAG_EF_DEFAULT */
	int exact;       /* compare with every vector instead of walking the graph */
	int fusion;      /* enum rag_fusion */
	double rrf_k;    /* 60 by default */
	double alpha;    /* weight of the vector list in weighted fusion; 0.5 by default */
	size_t depth;    /* hits taken from each list before fusing; 0: max(k, 100) */
	/*
	 * Hits carry the record's id alone, as a JSON string, instead of the
	 * record (nothing is decompressed): for callers that want ids and
	 * scores only, such as benchmarks.
	 */
	int ids_only;
	/*
	 * Only records that match this filter (filter.h) are hits: the best k
	 * of those, not the best k filtered afterwards.  NULL for all.
	 */
	struct rag_filter *filter;
} rag_search_opts;

#define RAG_EF_DEFAULT 100

/* A hit: the record as stored, and its score. */
typedef struct rag_hit {
	const char *json; /* the stored record, borrowed until the next search */
	size_t json_len;
	double score;
	/*
	 * Hybrid search: the hit's rank in the lexical and in the vector list
	 * (0 when it was not in that list).  Vector search: the score is the
	 * similarity (cosine, inner product, or minus the squared distance).
	 */
	size_t rank_lexical, rank_vector;
} rag_hit;

/*
 * Searches the committed state: fills *hits (an array owned by the store,
 * valid until the next search or rag_store_close) with at most o->k hits,
 * best first, and *n with their number.  A query with no terms after
 * analysis gives no hits.  Ties are broken by the order of the records in
 * the store, so results are the same from run to run.
 */
int rag_store_search(rag_store *s, const char *query, size_t len,
		     const rag_search_opts *o, const rag_hit **hits, size_t *n,
		     rag_error *err);

/*
 * Calls fn for every live record in store order; stops when fn returns
 * non-zero (and returns that value).  Returns 0 at the end, or -1.
 */
int rag_store_scan(rag_store *s,
		   int (*fn)(const char *json, size_t len, void *arg),
		   void *arg, rag_error *err);

/*
 * Verifies every file of the store and every cross-reference between
 * them (rag-index --check).  Returns 0 when all is well, or -1 with err
 * naming the first damaged file and what is wrong.  *records (may be
 * NULL) gets the number of live records.
 */
int rag_store_check(const char *location, uint64_t *records, rag_error *err);

#endif
