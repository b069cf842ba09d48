/* vsearch.c - nearest neighbours over a store's segments; see vsearch.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hnsw.h"
#include "vec.h"
#include "vsearch.h"

double rag_vsearch_score(int metric, float d)
{
	switch (metric) {
	case RAG_METRIC_COSINE:
		return 1.0 - (double)d;
	default: /* minus the negative inner product, minus the squared distance */
		return -(double)d;
	}
}

/* One segment's rows and the query, for the distance callbacks. */
typedef struct qctx {
	const rag_seg *seg;
	rag_seg_vecs v;
	const float *q;
	const rag_vec_kernels *k;
	uint32_t segno;
	const unsigned char *del;
	const rag_vsearch_opts *o;
	int failed;
	rag_error *err;
	/* compact codes, when the segment has them and the search walks on them */
	rag_seg_codes c;
	int use_codes;
	float *qs;   /* the query for the codes: scaled (uint8), 64-byte aligned */
	float qbase; /* uint8: the query's dot product with the offsets */
	float qn2;   /* the query's squared length */
	int8_t *qt;  /* uint8 with an integer kernel: qs in int8, of stride bytes */
	float qa;    /* its scale: qs ~= qa * qt */
} qctx;

static inline float qdist(const qctx *c, uint32_t row)
{
	const float *x = c->v.rows + (size_t)row * c->v.dim;

	switch (c->v.metric) {
	case RAG_METRIC_L2:
		return c->k->l2sq(c->q, x, c->v.dim);
	case RAG_METRIC_IP:
		return -c->k->dot(c->q, x, c->v.dim);
	default:
		return 1.0f - c->k->dot(c->q, x, c->v.dim);
	}
}

static float qdist_cb(void *arg, uint32_t row)
{
	return qdist(arg, row);
}

/* The distance to row by its compact code (an estimate, re-ranked later). */
static float cdist_cb(void *arg, uint32_t row)
{
	const qctx *c = arg;
	const unsigned char *code = c->c.codes + (size_t)row * c->c.stride;
	float dot;

	if (c->qt) /* the codes are zero-padded to the stride, as qt is */
		dot = c->qbase + c->qa * (float)c->k->dot_s8u8(c->qt, code, c->c.stride);
	else if (c->c.kind == 2)
		dot = c->qbase + c->k->dot_u8(c->qs, code, c->c.dim);
	else
		dot = c->k->dot_f16(c->qs, (const uint16_t *)(const void *)code, c->c.dim);

	switch (c->v.metric) {
	case RAG_METRIC_L2:
		return c->qn2 + c->c.norm2[row] - 2 * dot;
	case RAG_METRIC_IP:
		return -dot;
	default:
		return 1.0f - dot;
	}
}

static void prefetch_cb(void *arg, uint32_t row)
{
	const qctx *c = arg;
	const char *x = (const char *)(c->v.rows + (size_t)row * c->v.dim);
	size_t bytes = (size_t)c->v.dim * sizeof(float);

	for (size_t i = 0; i < bytes && i < 512; i += 64)
		__builtin_prefetch(x + i);
}

static void cprefetch_cb(void *arg, uint32_t row)
{
	const qctx *c = arg;
	const char *x = (const char *)(c->c.codes + (size_t)row * c->c.stride);

	for (size_t i = 0; i < c->c.stride && i < 512; i += 64)
		__builtin_prefetch(x + i);
	if (c->v.metric == RAG_METRIC_L2)
		__builtin_prefetch(&c->c.norm2[row]);
}

/* Readies the query for the segment's codes.  0, or -1 with err set. */
static int codes_ready(qctx *c)
{
	size_t dim = c->c.dim, bytes = (dim * sizeof(float) + 63) / 64 * 64;

	if (posix_memalign((void **)&c->qs, 64, bytes) != 0) {
		c->qs = NULL;
		return rag_error_set(c->err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	if (c->c.kind == 2) {
		c->qbase = rag_vec_u8_query(c->q, dim, c->c.lo, c->c.scale, c->qs);
		/* the walk on integer sums; its last candidates are measured in float32 */
		if (c->k->dot_s8u8 && c->c.stride <= 65536) {
			if (posix_memalign((void **)&c->qt, 64, c->c.stride) != 0) {
				c->qt = NULL;
				return rag_error_set(c->err, RAG_ENOMEM, NULL, 0, "out of memory");
			}
			c->qa = rag_vec_u8_query_s8(c->qs, dim, c->c.stride, c->qt);
		}
	} else
		memcpy(c->qs, c->q, dim * sizeof(float));
	c->qn2 = c->k->dot(c->q, c->q, dim);
	return 0;
}

/* May the record of row be a hit?  1, 0, or -1 with the error kept in c. */
static int row_ok(qctx *c, uint32_t row, uint32_t *docno)
{
	const rag_vfilter *f = c->o->filter;
	uint32_t d = rag_seg_vector_docno(c->seg, &c->v, row);
	int r;

	*docno = d;
	if (d == RAG_POST_END) {
		rag_error_set(c->err, RAG_EDATA, rag_seg_path(c->seg), 0,
		              "damaged segment: a vector row names no record");
		c->failed = 1;
		return -1;
	}
	if (rag_bit(c->del, d))
		return 0;
	if (!f)
		return 1;
	if (f->allow && f->allow[c->segno] && !rag_bit(f->allow[c->segno], d))
		return 0;
	if ((f->decided && f->decided[c->segno]) || !f->accept)
		return 1;
	r = f->accept(f->arg, c->segno, d, c->err);
	if (r < 0)
		c->failed = 1;
	return r;
}

static int accept_cb(void *arg, uint32_t row)
{
	uint32_t d;

	return row_ok(arg, row, &d) == 1;
}

/* Is a nearer than b?  (Ties by segment and record.) */
static inline int nearer(const rag_vhit *a, const rag_vhit *b)
{
	if (a->dist != b->dist)
		return a->dist < b->dist;
	if (a->seg != b->seg)
		return a->seg < b->seg;
	return a->docno < b->docno;
}

/* A max-heap of the k nearest so far: h[0] is the farthest kept. */
static void heap_offer(rag_vhit *h, size_t *n, size_t k, rag_vhit x)
{
	size_t i;

	if (*n < k) {
		i = (*n)++;
		while (i && nearer(&h[(i - 1) / 2], &x)) {
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = x;
		return;
	}
	if (!nearer(&x, &h[0]))
		return;
	i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const rag_vhit *big = &x;
		if (l < *n && nearer(big, &h[l]))
			m = l, big = &h[l];
		if (r < *n && nearer(big, &h[r]))
			m = r;
		if (m == i)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = x;
}

static int vhit_cmp(const void *a, const void *b)
{
	const rag_vhit *x = a, *y = b;

	return nearer(x, y) ? -1 : nearer(y, x) ? 1 : 0;
}

/*
 * The filter's exact bitmap of the segment, when it has one and every
 * record has a row (row i is then record i); else NULL.
 */
static const unsigned char *exact_bits(const qctx *c)
{
	const rag_vfilter *f = c->o->filter;

	if (!f || !f->allow || !f->allow[c->segno] || !f->decided || !f->decided[c->segno] ||
	    c->v.count != rag_seg_records(c->seg))
		return NULL;
	return f->allow[c->segno];
}

/* Word w (64 records from 64w) of the records bits lets through, less the deleted. */
static inline uint64_t bits_word(const qctx *c, const unsigned char *bits, uint32_t w)
{
	uint32_t n = c->v.count, first = 64 * w;
	size_t bytes = n - first >= 64 ? 8 : (n - first + 7) / 8;
	uint64_t x = 0, del = 0;

	for (size_t b = 0; b < bytes; b++) {
		x |= (uint64_t)bits[8 * (size_t)w + b] << (8 * b);
		if (c->del)
			del |= (uint64_t)c->del[8 * (size_t)w + b] << (8 * b);
	}
	x &= ~del;
	if (n - first < 64)
		x &= (UINT64_C(1) << (n - first)) - 1;
	return x;
}

/* Every row of the segment: its best k into the heap. */
static int scan(qctx *c, rag_vhit *h, size_t *nh, size_t k)
{
	const unsigned char *bits = exact_bits(c);

	if (bits) {
		/* only the records the filter lets through */
		for (uint32_t w = 0; w < (c->v.count + 63) / 64; w++)
			for (uint64_t x = bits_word(c, bits, w); x; x &= x - 1) {
				uint32_t r = 64 * w + (uint32_t)__builtin_ctzll(x);
				heap_offer(h, nh, k, (rag_vhit){qdist(c, r), c->segno, r});
			}
		return 0;
	}
	for (uint32_t r = 0; r < c->v.count; r++) {
		uint32_t d;
		int ok = row_ok(c, r, &d);
		if (ok < 0)
			return -1;
		if (ok)
			heap_offer(h, nh, k, (rag_vhit){qdist(c, r), c->segno, d});
	}
	return 0;
}

/* How many rows the filter lets through, when its bitmaps say exactly; else SIZE_MAX. */
static size_t candidates(const qctx *c)
{
	const rag_vfilter *f = c->o->filter;
	size_t m = 0;

	const unsigned char *bits = exact_bits(c);

	if (bits) {
		for (uint32_t w = 0; w < (c->v.count + 63) / 64; w++)
			m += (size_t)__builtin_popcountll(bits_word(c, bits, w));
		return m;
	}
	if (!f || !f->allow || !f->allow[c->segno] || !f->decided || !f->decided[c->segno])
		return SIZE_MAX;
	for (uint32_t r = 0; r < c->v.count; r++) {
		uint32_t d = rag_seg_vector_docno(c->seg, &c->v, r);
		if (d != RAG_POST_END && rag_bit(f->allow[c->segno], d) && !rag_bit(c->del, d))
			m++;
	}
	return m;
}

/* The graph's best k of one segment, into the heap. */
static int walk(qctx *c, const rag_hnsw *g, rag_vhit *h, size_t *nh, size_t k)
{
	/* on codes, the walk keeps ef candidates, which are then measured exactly */
	size_t want = c->use_codes && c->o->ef > k ? c->o->ef : k;
	rag_hnsw_scratch *s = *c->o->scratch;
	rag_hnsw_hit *hh = malloc((want + 1) * sizeof *hh);
	rag_hnsw_query q = {qdist_cb, prefetch_cb, c};
	size_t nn = 0;
	int rc = -1;

	if (c->use_codes) {
		q.dist = cdist_cb;
		q.prefetch = cprefetch_cb;
	}
	if (!s)
		s = *c->o->scratch = rag_hnsw_scratch_new(c->v.count);
	if (!s || !hh) {
		rag_error_set(c->err, RAG_ENOMEM, NULL, 0, "out of memory");
		goto out;
	}
	/* with nothing to turn away, the walk takes its faster course */
	rag_hnsw_accept_fn ok = c->del || c->o->filter ? accept_cb : NULL;
	if (rag_hnsw_search(g, &q, ok, c, want, c->o->ef, s, hh, &nn, c->err) < 0) {
		if (c->err->code == RAG_EDATA) {
			rag_error_prefix(c->err, "damaged segment: ");
			rag_error_at(c->err, rag_seg_path(c->seg), 0);
		}
		goto out;
	}
	if (c->failed)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		uint32_t d = rag_seg_vector_docno(c->seg, &c->v, hh[i].node);
		if (d != RAG_POST_END)
			heap_offer(h, nh, k,
				   (rag_vhit){c->use_codes ? qdist(c, hh[i].node) : hh[i].dist,
					      c->segno, d});
	}
	rc = 0;
out:
	free(hh);
	return rc;
}

/*
 * Is comparing the query with each of m candidates cheaper than walking
 * the graph?  An unfiltered walk measures about exact_below (ef x M)
 * rows; one that must pass over the rows the filter turns away measures
 * about count / m times as many to find as many hits.  So the scan wins
 * when m <= exact_below x count / m.
 */
static int exact_pays(const qctx *c, size_t m)
{
	if (m == SIZE_MAX)
		return 0;
	return (double)m * (double)m <= (double)c->o->exact_below * (double)c->v.count;
}

int rag_vsearch(rag_seg *const *segs, const unsigned char *const *del, size_t n,
                const rag_vsearch_opts *o, rag_vhit *out, size_t *nout, rag_error *err)
{
	size_t nh = 0, k = o->k;

	*nout = 0;
	if (!k)
		return 0;
	for (size_t i = 0; i < n; i++) {
		qctx c = {segs[i], {0}, o->query, rag_vec_best(), (uint32_t)i, del ? del[i] : NULL,
			  o, 0, err, {0}, 0, NULL, 0, 0, NULL, 0};
		const rag_hnsw *g = rag_seg_graph(segs[i]);
		if (!rag_seg_vectors(segs[i], &c.v) || !c.v.count)
			continue;
		/* each segment's best k, then the best k of them all */
		if (o->exact || !g || exact_pays(&c, candidates(&c))) {
			if (scan(&c, out, &nh, k) < 0)
				return -1;
		} else {
			int r;
			c.use_codes = rag_seg_codes_of(segs[i], &c.c) && c.c.count == c.v.count;
			if (c.use_codes && codes_ready(&c) < 0) {
				free(c.qs);
				free(c.qt);
				return -1;
			}
			r = walk(&c, g, out, &nh, k);
			free(c.qs);
			free(c.qt);
			if (r < 0)
				return -1;
		}
	}
	if (nh <= 32) { /* the usual k: an insertion sort beats qsort's calls */
		for (size_t i = 1; i < nh; i++) {
			rag_vhit x = out[i];
			size_t j = i;
			for (; j && nearer(&x, &out[j - 1]); j--)
				out[j] = out[j - 1];
			out[j] = x;
		}
	} else {
		qsort(out, nh, sizeof *out, vhit_cmp);
	}
	*nout = nh;
	return 0;
}
