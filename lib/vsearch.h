/*
 * vsearch.h - nearest neighbours over a store's segments.
 *
 * Each segment is searched for its own best k (through its graph, or by
 * comparing with every row when asked to be exact or when a filter leaves
 * few candidates), and the lists are merged exactly: the result is the
 * best k of all segments, as one segment holding every record would give
 * up to the graphs' approximation.
 */
#ifndef RAG_VSEARCH_H
#define RAG_VSEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "segment.h"

typedef struct rag_vhit {
	float dist; /* smaller is nearer */
	uint32_t seg, docno;
} rag_vhit;

/*
 * Which records may be hits.  allow[seg] (may be NULL, as may allow
 * itself) is a bitmap of the records that may match; where decided[seg]
 * is set it is exact and accept is not asked, else accept (may be NULL)
 * decides each record allow lets through: 1 yes, 0 no, -1 error.
 */
typedef struct rag_vfilter {
	const unsigned char *const *allow;
	const int *decided;
	int (*accept)(void *arg, uint32_t seg, uint32_t docno, rag_error *err);
	void *arg;
} rag_vfilter;

typedef struct rag_vsearch_opts {
	const float *query; /* normalised already for cosine */
	size_t k, ef;
	int exact;
	/*
	 * The rows an unfiltered walk of the graph measures, about (ef x M).
	 * A segment of n rows whose candidates (the records allow lets
	 * through, when decided) are m, with m x m <= exact_below x n, is
	 * searched exactly over them alone: a walk that skips the others
	 * would measure about exact_below x n / m rows.
	 */
	size_t exact_below;
	const rag_vfilter *filter; /* NULL for none */
	/*
	 * Working memory for the graphs' walks, kept by the caller from
	 * search to search (NULL at first; free it with
	 * rag_hnsw_scratch_free).
	 */
	struct rag_hnsw_scratch **scratch;
} rag_vsearch_opts;

/*
 * Searches segs[0..n) (del[i]: deleted records, may be NULL) for the k
 * nearest rows to o->query: out (room for k) gets them nearest first, ties
 * by segment and record, and *nout their number.  Segments without
 * vectors are skipped.  0, or -1 with err set.
 */
int rag_vsearch(rag_seg *const *segs, const unsigned char *const *del, size_t n,
                const rag_vsearch_opts *o, rag_vhit *out, size_t *nout, rag_error *err);

/* The similarity a hit reports for distance d: higher is better. */
double rag_vsearch_score(int metric, float d);

#endif
