/*
 * hnsw.h - HNSW graphs for approximate nearest-neighbour search.
 *
 * A hierarchical navigable small world graph (Malkov and Yashunin) over
 * the nodes 0..n-1 of a segment.  The graph is built in memory and written
 * as bytes (the layout is described at the top of hnsw.c); a search runs
 * directly on those bytes, as they lie in a read-only mapping of the file,
 * without loading or copying them.
 *
 * This module never sees a vector.  Distances come through callbacks, so
 * the caller may keep float32, float16 or uint8 vectors and use any
 * metric, as long as a smaller distance means nearer.
 *
 * A graph read from a file may be damaged.  Opening it checks the header
 * and the sizes of its parts at a fixed cost; verifying it reads every
 * list.  A search checks each list count and neighbour number as it
 * follows them, so even a damaged graph that was opened without being
 * verified ends the search with an error, never a crash or an endless
 * loop.  Errors about the graph's bytes have the class RAG_EDATA and no
 * source: the caller adds the file name.
 */
#ifndef RAG_HNSW_H
#define RAG_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* Defaults of rag_hnsw_params, used where a field is 0. */
#define RAG_HNSW_DEFAULT_M 16
#define RAG_HNSW_DEFAULT_EF_CONSTRUCTION 200
/* The largest m a graph may have, and the most nodes. */
#define RAG_HNSW_MAX_M 1024
#define RAG_HNSW_MAX_NODES 0x7fffffffu

/*
 * The distance between nodes a and b, for building.  Called from several
 * threads at once when params.threads > 1, so it must be thread-safe.
 */
typedef float (*rag_hnsw_pair_fn)(void *ctx, uint32_t a, uint32_t b);

/*
 * Asks for the data of a node (its vector) to be brought into the cache,
 * because a distance to it will be wanted soon.  A hint: it must not fail
 * and must not read the data.  It may be given a number >= n on a damaged
 * graph, so it should only compute an address (as __builtin_prefetch does,
 * which never faults).
 */
typedef void (*rag_hnsw_prefetch_fn)(void *ctx, uint32_t node);

/*
 * Whether a node may be a result (say, its record is not deleted and
 * passes a filter): nonzero for yes.  Nodes turned away still route the
 * search; they are only kept out of the results.
 */
typedef int (*rag_hnsw_accept_fn)(void *ctx, uint32_t node);

/* How to build a graph.  A field left 0 takes its default. */
typedef struct rag_hnsw_params {
	uint32_t m;               /* neighbours a node keeps: up to 2m at level 0, m above; 16 */
	uint32_t ef_construction; /* candidates weighed for each new node; 200 */
	uint64_t seed;            /* for the levels of the nodes */
	unsigned threads;         /* threads inserting nodes; 1 */
	rag_hnsw_prefetch_fn prefetch; /* may be NULL; called with the ctx of the build */
} rag_hnsw_params;

/*
 * Builds a graph over the nodes 0..n-1 and appends its bytes to out (a
 * multiple of 8 of them).  dist(ctx, a, b) gives the distances; p may be
 * NULL for all the defaults.  With one thread, the same n, distances, parameters
 * and seed give the same bytes.  Returns 0, or -1 with *err filled when
 * the parameters are wrong or n passes RAG_HNSW_MAX_NODES (RAG_EUSAGE),
 * or memory runs out or out reaches its cap (RAG_ENOMEM); out is then as
 * it was.
 */
int rag_hnsw_build(uint32_t n, rag_hnsw_pair_fn dist, void *ctx, const rag_hnsw_params *p,
                   rag_buf *out, rag_error *err);

/*
 * An open graph: a view of its bytes, which the caller keeps mapped while
 * the graph is used.  The fields are for this module; use the functions.
 */
typedef struct rag_hnsw {
	const unsigned char *l0;     /* the level-0 lists */
	const unsigned char *levels; /* the level table */
	const unsigned char *upper;  /* the upper-level lists */
	size_t stride0;              /* bytes of one level-0 list */
	uint64_t upper_words;        /* words of upper-level lists */
	uint32_t n, m, top, entry;   /* nodes, m, top level, entry point */
} rag_hnsw;

/*
 * Opens the graph in bytes[0..len), len being exactly the graph's size (as
 * written by rag_hnsw_build).  It must have n_expected nodes.  Checks the header and that every
 * part lies inside len, at a fixed cost: it reads no list.  Returns 0, or -1 with *err filled
 * (RAG_EDATA).
 */
int rag_hnsw_open(rag_hnsw *g, const void *bytes, size_t len, uint32_t n_expected, rag_error *err);

/*
 * Reads the whole graph and checks it: list counts within their
 * capacities, every neighbour a node number, no node its own neighbour,
 * every level at most the top level and every neighbour at a level as
 * high as its list's, the upper lists where they belong.  Returns 0, or -1
 * with *err filled (RAG_EDATA) about the first damage found.
 */
int rag_hnsw_verify(const rag_hnsw *g, rag_error *err);

/* The graph's number of nodes, m and top level. */
uint32_t rag_hnsw_nodes(const rag_hnsw *g);
uint32_t rag_hnsw_m(const rag_hnsw *g);
uint32_t rag_hnsw_top_level(const rag_hnsw *g);

/*
 * Working memory for searches: the visited marks and the heaps.  One
 * thread uses a scratch for any number of searches, on any graphs; it
 * grows (once) when a graph has more nodes than it was made for.
 */
typedef struct rag_hnsw_scratch rag_hnsw_scratch;

/* A scratch sized for graphs of up to n nodes; NULL when memory runs out.  The caller frees it. */
rag_hnsw_scratch *rag_hnsw_scratch_new(uint32_t n);
void rag_hnsw_scratch_free(rag_hnsw_scratch *s);

/* How a search measures its query against a node. */
typedef struct rag_hnsw_query {
	float (*dist)(void *ctx, uint32_t node);    /* the distance from the query to node */
	void (*prefetch)(void *ctx, uint32_t node); /* may be NULL; see rag_hnsw_prefetch_fn */
	void *ctx;
} rag_hnsw_query;

/* A result of a search. */
typedef struct rag_hnsw_hit {
	uint32_t node;
	float dist;
} rag_hnsw_hit;

/*
 * Finds up to k nodes near the query, among those ok accepts (ok NULL
 * accepts all).  ef is the breadth of the search: the larger, the better
 * the recall and the slower; it is raised to k when smaller.  When it
 * reaches the number of nodes, the search measures every node, and so is
 * exact.  The search goes on until it has ef accepted nodes or nothing
 * more to explore, so a filter that turns most nodes away costs time, not
 * recall.  Pass ok NULL rather than a function that accepts every node:
 * the search without a filter is a little faster.
 *
 * out gets the results, nearest first (ties by node number), *nout their
 * number (fewer than k when fewer nodes are accepted or reached).  Returns
 * 0, or -1 with *err filled when the search meets a damaged part of the
 * graph (RAG_EDATA) or memory runs out growing s (RAG_ENOMEM); *nout is
 * then 0.
 */
int rag_hnsw_search(const rag_hnsw *g, const rag_hnsw_query *q, rag_hnsw_accept_fn ok, void *okctx,
                    size_t k, size_t ef, rag_hnsw_scratch *s, rag_hnsw_hit *out, size_t *nout,
                    rag_error *err);

#endif
