/*
 * bm25.c - BM25 top-k over segments, by MaxScore or exhaustively.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bm25.h"

/* The heap of the best k so far: its root is the worst of them. */
typedef struct topk {
	rag_bm25_hit *h;
	size_t n, k;
	const rag_bm25_filter *filter;
} topk;

/* a ranks below b: a lower score, or the same score later in store order. */
static inline int worse(const rag_bm25_hit *a, const rag_bm25_hit *b)
{
	if (a->score != b->score)
		return a->score < b->score;
	if (a->seg != b->seg)
		return a->seg > b->seg;
	return a->docno > b->docno;
}

static void sift_down(topk *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < t->n && worse(&t->h[l], &t->h[m]))
			m = l;
		if (r < t->n && worse(&t->h[r], &t->h[m]))
			m = r;
		if (m == i)
			return;
		rag_bm25_hit x = t->h[i];
		t->h[i] = t->h[m];
		t->h[m] = x;
		i = m;
	}
}

static void topk_push(topk *t, double score, uint32_t seg, uint32_t docno)
{
	rag_bm25_hit x = {score, seg, docno};

	if (t->n < t->k) {
		size_t i = t->n++;
		t->h[i] = x;
		while (i > 0 && worse(&t->h[i], &t->h[(i - 1) / 2])) {
			rag_bm25_hit y = t->h[i];
			t->h[i] = t->h[(i - 1) / 2];
			t->h[(i - 1) / 2] = y;
			i = (i - 1) / 2;
		}
	} else if (worse(&t->h[0], &x)) {
		t->h[0] = x;
		sift_down(t, 0);
	}
}

/*
 * Whether record docno of segment seg, with a score that would get it in,
 * may go in: 1, 0, or -1 with err set.
 */
static inline int topk_accepts(const topk *t, uint32_t seg, uint32_t docno, rag_error *err)
{
	if (!t->filter || (t->filter->decided && t->filter->decided[seg]))
		return 1;
	return t->filter->accept(t->filter->arg, seg, docno, err);
}

/* The score a record must beat to get in; -1 while the heap is not full. */
static inline double topk_floor(const topk *t)
{
	return t->n < t->k ? -1.0 : t->h[0].score;
}

static int hit_cmp(const void *a, const void *b)
{
	const rag_bm25_hit *x = a, *y = b;

	return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

typedef struct qterm {
	rag_postings c;
	double w;      /* qtf * idf */
	double ub;     /* the most the term can add, slightly raised */
	uint32_t tf;   /* frequency in the record being scored */
	int present;   /* the term is in this segment */
	int matched;   /* the record being scored has it */
} qterm;

typedef struct params {
	double k1, b, avgdl;
} params;

/*
 * A record's length as Lucene keeps it: exact below 24, above that
 * rounded down to four significant bits (of the length minus 24).  Its
 * scores, and so Anserini's published figures, use these lengths.  The
 * rounding never raises a length, so bounds made from exact lengths hold.
 */
static inline uint32_t lucene_length(uint32_t len)
{
	uint64_t v;
	int bits, shift;

	if (len < 24)
		return len;
	v = len - 24;
	bits = 64 - __builtin_clzll(v | 1);
	if (bits < 4)
		return len;
	shift = bits - 4;
	return 24 + (uint32_t)(((v >> shift) | 8) << shift);
}

static inline double contrib(const params *p, double w, uint32_t tf, uint32_t dl)
{
	dl = lucene_length(dl);
	double norm = p->k1 * (1.0 - p->b + p->b * (double)dl / p->avgdl);

	return w * (double)tf / ((double)tf + norm);
}

/* Sum of the matched terms' contributions, in query order. */
static double full_score(const params *p, qterm *q, size_t nq, uint32_t dl)
{
	double s = 0;

	for (size_t i = 0; i < nq; i++)
		if (q[i].matched)
			s += contrib(p, q[i].w, q[i].tf, dl);
	return s;
}

static int search_exhaustive(const rag_seg *s, const unsigned char *del,
			     const unsigned char *allow, uint32_t segno, const params *p, qterm *q,
			     size_t nq, topk *t, rag_error *err)
{
	uint32_t n = rag_seg_records(s);
	double *acc = calloc((size_t)n + 1, sizeof *acc);
	unsigned char *hit = calloc((size_t)n + 1, 1);
	int rc = -1;

	if (!acc || !hit) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nq; i++) {
		if (!q[i].present)
			continue;
		for (rag_postings *c = &q[i].c; c->docno != RAG_POST_END;) {
			acc[c->docno] += contrib(p, q[i].w, c->tf, rag_seg_doclen(s, c->docno));
			hit[c->docno] = 1;
			if (rag_postings_next(c, err) < 0)
				goto out;
		}
	}
	for (uint32_t d = 0; d < n; d++) {
		rag_bm25_hit x = {acc[d], segno, d};
		int ok;
		if (!hit[d] || rag_bit(del, d) || (allow && !rag_bit(allow, d)) ||
		    (t->n == t->k && !worse(&t->h[0], &x)))
			continue;
		if ((ok = topk_accepts(t, segno, d, err)) < 0)
			goto out;
		if (ok)
			topk_push(t, acc[d], segno, d);
	}
	rc = 0;
out:
	free(acc);
	free(hit);
	return rc;
}

static int ub_cmp(const void *a, const void *b)
{
	const qterm *const *x = a, *const *y = b;

	return (*x)->ub < (*y)->ub ? -1 : (*x)->ub > (*y)->ub;
}

/*
 * Puts the terms present in the segment in order[0..m), by upper bound,
 * and their running sums in prefix (both have room for nq entries).
 */
static size_t order_terms(qterm *q, size_t nq, qterm **order, double *prefix)
{
	size_t m = 0;

	for (size_t i = 0; i < nq; i++)
		if (q[i].present)
			order[m++] = &q[i];
	qsort(order, m, sizeof *order, ub_cmp);
	for (size_t i = 0; i < m; i++)
		prefix[i] = (i ? prefix[i - 1] : 0) + order[i]->ub;
	return m;
}

/*
 * Looks record d (of length dl) up in the terms order[0..j), from the
 * highest bound down, adding what they give to *partial, while the terms
 * left can still lift it above floor.  Returns how many terms were left
 * unread (0: every one was read), or -1 with err set.
 */
static long look_up(qterm **order, size_t j, const double *prefix, const params *p, uint32_t d,
		    uint32_t dl, double floor, double *partial, int *any, rag_error *err)
{
	for (; j > 0; j--) {
		qterm *x = order[j - 1];
		if (*partial + prefix[j - 1] <= floor)
			break;
		if (rag_postings_advance(&x->c, d, err) < 0)
			return -1;
		if (x->c.docno == d) {
			x->matched = 1;
			x->tf = x->c.tf;
			*partial += contrib(p, x->w, x->tf, dl);
			*any = 1;
		}
	}
	return (long)j;
}

/*
 * MaxScore driven by the allowed records rather than by the postings: for
 * each allowed record, the terms are looked up from the highest bound
 * down, while they can still lift it above the floor.
 */
static int search_allowed(const rag_seg *s, const unsigned char *del, const unsigned char *allow,
			  uint32_t segno, const params *p, qterm *q, size_t nq, topk *t,
			  qterm **order, double *prefix, rag_error *err)
{
	size_t m = order_terms(q, nq, order, prefix);
	uint32_t n = rag_seg_records(s);

	for (uint32_t base = 0; m && base < n; base += 8) {
		unsigned byte = allow[base >> 3];
		while (byte) {
			uint32_t d = base + (uint32_t)__builtin_ctz(byte);
			double floor = topk_floor(t), partial = 0;
			long left;
			int any = 0;
			byte &= byte - 1;
			if (d >= n)
				break;
			if (prefix[m - 1] <= floor)
				return 0; /* nothing left can get in */
			if (rag_bit(del, d))
				continue;
			uint32_t dl = rag_seg_doclen(s, d);
			for (size_t i = 0; i < m; i++)
				order[i]->matched = 0;
			left = look_up(order, m, prefix, p, d, dl, floor, &partial, &any, err);
			if (left < 0)
				return -1;
			if (left == 0 && any) {
				double score = full_score(p, q, nq, dl);
				int ok = 0;
				if (score > floor && (ok = topk_accepts(t, segno, d, err)) < 0)
					return -1;
				if (ok)
					topk_push(t, score, segno, d);
			}
		}
	}
	return 0;
}

static int search_maxscore(const rag_seg *s, const unsigned char *del,
			   const unsigned char *allow, uint32_t segno, const params *p, qterm *q,
			   size_t nq, topk *t, qterm **order, double *prefix, rag_error *err)
{
	size_t m = order_terms(q, nq, order, prefix), first = 0;

	/* terms order[0..first) are non-essential: together they cannot beat the floor */
	while (first < m && prefix[first] <= topk_floor(t))
		first++;
	while (first < m) {
		uint32_t d = RAG_POST_END;
		for (size_t i = first; i < m; i++)
			if (order[i]->c.docno < d)
				d = order[i]->c.docno;
		if (d == RAG_POST_END)
			break;
		if (!rag_bit(del, d) && (!allow || rag_bit(allow, d))) {
			uint32_t dl = rag_seg_doclen(s, d);
			double partial = 0, floor = topk_floor(t);
			long left;
			int any = 1;
			for (size_t i = 0; i < m; i++)
				order[i]->matched = 0;
			for (size_t i = first; i < m; i++)
				if (order[i]->c.docno == d) {
					order[i]->matched = 1;
					order[i]->tf = order[i]->c.tf;
					partial += contrib(p, order[i]->w, order[i]->tf, dl);
				}
			left = look_up(order, first, prefix, p, d, dl, floor, &partial, &any, err);
			if (left < 0)
				return -1;
			if (left == 0) {
				double score = full_score(p, q, nq, dl);
				int ok = 0;
				if (score > floor && (ok = topk_accepts(t, segno, d, err)) < 0)
					return -1;
				if (ok) {
					topk_push(t, score, segno, d);
					while (first < m && prefix[first] <= topk_floor(t))
						first++;
				}
			}
		}
		for (size_t i = 0; i < m; i++)
			if (order[i]->c.docno == d && rag_postings_next(&order[i]->c, err) < 0)
				return -1;
	}
	return 0;
}

/*
 * Whether to look up the allowed records one by one rather than walk the
 * postings: when they are far fewer than the postings (a lookup costs a
 * few postings' decoding per term).
 */
static int few_allowed(const rag_seg *s, const unsigned char *allow, const qterm *q, size_t nq)
{
	uint64_t postings = 0;
	uint32_t allowed = rag_bits_count(allow, ((size_t)rag_seg_records(s) + 7) / 8);

	for (size_t i = 0; i < nq; i++)
		if (q[i].present)
			postings += q[i].c.df;
	return (uint64_t)allowed * 4 * (nq ? nq : 1) < postings;
}

int rag_bm25_search(rag_seg *const *segs, const unsigned char *const *del, size_t nseg,
		    const rag_bm25_term *terms, size_t nterms, double k1, double b,
		    size_t k, int exhaustive, const rag_bm25_filter *filter,
		    rag_bm25_hit *out, size_t *nout, rag_error *err)
{
	qterm *q = NULL, **order = NULL;
	double *prefix = NULL;
	uint64_t *df = NULL, N = 0, total = 0;
	rag_seg_term *te = NULL;
	topk t = {out, 0, k, filter};
	params p = {k1, b, 1};
	int rc = -1;

	*nout = 0;
	if (k == 0 || nterms == 0)
		return 0;
	for (size_t s = 0; s < nseg; s++) {
		N += rag_seg_records(segs[s]);
		total += rag_seg_total_len(segs[s]);
	}
	if (N == 0 || total == 0)
		return 0;
	p.avgdl = (double)total / (double)N;
	q = calloc(nterms, sizeof *q);
	df = calloc(nterms, sizeof *df);
	te = calloc(nterms * nseg + 1, sizeof *te);
	order = calloc(nterms, sizeof *order);
	prefix = calloc(nterms, sizeof *prefix);
	if (!q || !df || !te || !order || !prefix) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		goto out;
	}
	/* document frequencies over all segments */
	for (size_t s = 0; s < nseg; s++)
		for (size_t i = 0; i < nterms; i++) {
			rag_seg_term *e = &te[s * nterms + i];
			int r = rag_seg_term_find(segs[s], terms[i].term, terms[i].len, e, err);
			if (r < 0)
				goto out;
			if (r == 0)
				e->df = 0;
			df[i] += e->df;
		}
	for (size_t s = 0; s < nseg; s++) {
		for (size_t i = 0; i < nterms; i++) {
			rag_seg_term *e = &te[s * nterms + i];
			double idf = log(1.0 + ((double)N - (double)df[i] + 0.5) / ((double)df[i] + 0.5));
			q[i].w = (double)terms[i].qtf * idf;
			q[i].present = e->df > 0;
			q[i].matched = 0;
			if (!q[i].present)
				continue;
			if (rag_postings_open(&q[i].c, segs[s], e, err) < 0)
				goto out;
			q[i].ub = contrib(&p, q[i].w, e->max_tf, e->min_dl) * (1.0 + 1e-9);
		}
		const unsigned char *d = del ? del[s] : NULL;
		const unsigned char *a = filter && filter->allow ? filter->allow[s] : NULL;
		int r;
		if (exhaustive)
			r = search_exhaustive(segs[s], d, a, (uint32_t)s, &p, q, nterms, &t, err);
		else if (a && few_allowed(segs[s], a, q, nterms))
			r = search_allowed(segs[s], d, a, (uint32_t)s, &p, q, nterms, &t, order,
					   prefix, err);
		else
			r = search_maxscore(segs[s], d, a, (uint32_t)s, &p, q, nterms, &t, order,
					    prefix, err);
		if (r < 0)
			goto out;
	}
	qsort(out, t.n, sizeof *out, hit_cmp);
	*nout = t.n;
	rc = 0;
out:
	free(q);
	free(df);
	free(te);
	free(order);
	free(prefix);
	return rc;
}
