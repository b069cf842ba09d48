/*
 * bm25.h - ranking records of several segments by BM25.
 *
 * The formula is Lucene's: a term t of the query contributes
 *
 *     qtf * idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl))
 *
 * with idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)), where qtf is how
 * often t occurs in the query, tf how often in the record, dl the
 * record's length in terms rounded as Lucene stores it (exact below 24,
 * then to four significant bits), and N, df and avgdl are taken over all the
 * segments together, so that a score does not depend on how the records
 * were batched.  As in Lucene, records deleted but not yet compacted away
 * still count in N, df and avgdl.
 *
 * Top-k uses MaxScore: terms are ordered by the most they can add to a
 * score, and a record that only the low terms could reach is never
 * scored in full once the k-th best score is out of their reach.  It
 * returns exactly what scoring every posting would (rag_bm25_search with
 * exhaustive set does that, for checking): scores are summed in query
 * order either way, and ties are broken by store order.
 */
#ifndef RAG_BM25_H
#define RAG_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "segment.h"

/* A distinct query term and how often the query holds it. */
typedef struct rag_bm25_term {
	const char *term;
	size_t len;
	uint32_t qtf;
} rag_bm25_term;

typedef struct rag_bm25_hit {
	double score;
	uint32_t seg;   /* index into the segments searched */
	uint32_t docno;
} rag_bm25_hit;

/*
 * Which records may be hits (a metadata filter).  allow (may be NULL)
 * holds a bitmap per segment of the records that may match, NULL for a
 * segment where any may: records outside it are passed over before they
 * are scored, and when few records are allowed the search visits those
 * alone.  Where decided[seg] is set, allow is exact and accept is not
 * asked.  Otherwise accept(arg, seg, docno) returns 1 for a record that
 * may be a hit, 0 for one that may not, or -1 with err set; it is asked
 * only about a record whose score would put it among the best k so far,
 * so that a selective filter costs little and the hits are still the best
 * k of the records it accepts.
 */
typedef struct rag_bm25_filter {
	int (*accept)(void *arg, uint32_t seg, uint32_t docno, rag_error *err);
	void *arg;
	const unsigned char *const *allow;
	const int *decided;
} rag_bm25_filter;

/*
 * Searches segs[0..nseg) (del[i] the deletion bitmap of segs[i], or NULL)
 * for terms[0..nterms) and writes at most k hits, best first, to out
 * (room for k), their number to *nout.  filter may be NULL.
 */
int rag_bm25_search(rag_seg *const *segs, const unsigned char *const *del, size_t nseg,
		    const rag_bm25_term *terms, size_t nterms, double k1, double b,
		    size_t k, int exhaustive, const rag_bm25_filter *filter,
		    rag_bm25_hit *out, size_t *nout, rag_error *err);

#endif
