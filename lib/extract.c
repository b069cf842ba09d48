/*
 * extract.c - the offline answerer: see extract.h.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "extract.h"
#include "segment.h"
#include "split.h"
#include "text.h"

#define K1 1.2
#define B 0.75

/* A sentence: where it is, where its terms are in the term list, its score. */
typedef struct sent {
	size_t src, start, end; /* src: index into the sources */
	size_t t0, t1;          /* its terms: terms[t0..t1) */
	double score;
} sent;

typedef struct work {
	/* every sentence's terms, hashed (rag_seg_keyhash: 2^-64 a pair to collide) */
	uint64_t *terms;
	size_t nterms, terms_cap;
	sent *s;
	size_t ns, s_cap;
	uint64_t *qt; /* the question's distinct terms */
	size_t nqt, qt_cap;
} work;

static int add_term(const char *t, size_t n, void *arg)
{
	work *w = arg;

	if (rag_array_reserve(&w->terms, &w->terms_cap, w->nterms + 1, sizeof *w->terms) < 0)
		return 1;
	w->terms[w->nterms++] = rag_seg_keyhash(t, n);
	return 0;
}

static int add_qterm(const char *t, size_t n, void *arg)
{
	work *w = arg;
	uint64_t h = rag_seg_keyhash(t, n);

	for (size_t i = 0; i < w->nqt; i++)
		if (w->qt[i] == h)
			return 0;
	if (rag_array_reserve(&w->qt, &w->qt_cap, w->nqt + 1, sizeof *w->qt) < 0)
		return 1;
	w->qt[w->nqt++] = h;
	return 0;
}

/* Analyzes text[s..e) into the term list.  0, or -1 with err set. */
static int analyze_into(rag_analyzer *an, work *w, const char *text, size_t s, size_t e,
                        rag_term_fn fn, rag_error *err)
{
	int r = rag_analyze(an, text + s, e - s, fn, w, err);

	if (r > 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return r;
}

/* The end of the paragraph that starts at s: just past its blank line, or end. */
static size_t paragraph_end(const char *t, size_t s, size_t end)
{
	for (size_t i = s; i < end; i++) {
		size_t j;
		if (t[i] != '\n')
			continue;
		for (j = i + 1; j < end && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r'); j++)
			;
		if (j < end && t[j] == '\n')
			return j + 1;
	}
	return end;
}

/* Adds source i's sentences.  0, or -1 with err set. */
static int add_sentences(rag_splitter *sp, rag_analyzer *an, work *w, const rag_extract_source *src,
                         size_t i, rag_spans *b, rag_error *err)
{
	const char *t = src->text;
	size_t start = 0;

	b->n = 0;
	if (rag_splitter_sentences(sp, t, 0, src->len, b, err) < 0)
		return -1;
	for (size_t k = 0; k <= b->n; k++) {
		size_t end = k < b->n ? b->v[k].start : src->len, s0 = start;
		start = end;
		/* a blank line ends a sentence too (a heading, a list item without a full stop) */
		while (s0 < end) {
			size_t s = s0, e = paragraph_end(t, s0, end);
			s0 = e;
			rag_trim_span(t, &s, &e);
			if (s == e)
				continue;
			if (rag_array_reserve(&w->s, &w->s_cap, w->ns + 1, sizeof *w->s) < 0)
				return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
			sent *x = &w->s[w->ns];
			*x = (sent){i, s, e, w->nterms, 0, 0};
			if (analyze_into(an, w, t, s, e, add_term, err) < 0)
				return -1;
			x->t1 = w->nterms;
			w->ns++;
		}
	}
	return 0;
}

/* BM25 of every sentence against the question's terms. */
static void score(work *w)
{
	double avgdl = w->ns ? (double)w->nterms / (double)w->ns : 0;

	for (size_t q = 0; q < w->nqt; q++) {
		size_t df = 0;
		for (size_t i = 0; i < w->ns; i++)
			for (size_t t = w->s[i].t0; t < w->s[i].t1; t++)
				if (w->terms[t] == w->qt[q]) {
					df++;
					break;
				}
		if (!df)
			continue;
		double idf = log(1 + ((double)w->ns - (double)df + 0.5) / ((double)df + 0.5));
		for (size_t i = 0; i < w->ns; i++) {
			double tf = 0, dl = (double)(w->s[i].t1 - w->s[i].t0);
			for (size_t t = w->s[i].t0; t < w->s[i].t1; t++)
				tf += w->terms[t] == w->qt[q];
			if (tf > 0)
				w->s[i].score +=
				    idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / avgdl));
		}
	}
}

/* Best first; ties by source, then position. */
static int by_score(const void *a, const void *b)
{
	const sent *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* In reading order: by source, then position. */
static int by_place(const void *a, const void *b)
{
	const sent *x = a, *y = b;

	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Whether two sentences say the same, white space aside. */
static int same_text(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < an && rag_is_space((unsigned char)a[i]))
			i++;
		while (j < bn && rag_is_space((unsigned char)b[j]))
			j++;
		if (i == an || j == bn)
			return i == an && j == bn;
		if (a[i++] != b[j++])
			return 0;
	}
}

/* Appends t[0..n) with each run of white space made one space.  0 or -1. */
static int put_spaced(rag_buf *out, const char *t, size_t n)
{
	int space = 0;

	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (rag_is_space((unsigned char)c)) {
			space = 1;
			continue;
		}
		if ((space && rag_buf_addc(out, ' ') < 0) || rag_buf_addc(out, c) < 0)
			return -1;
		space = 0;
	}
	return 0;
}

long rag_extract_answer(const char *q, size_t qlen, const rag_extract_source *src, size_t nsrc,
                        const rag_extract_opts *o, rag_buf *out, rag_extract_quote *quotes,
                        rag_error *err)
{
	rag_split_opts so = {RAG_SPLIT_SENTENCE, RAG_UNIT_CHARS, 1000000, 0};
	size_t want = o && o->sentences ? o->sentences : RAG_EXTRACT_SENTENCES, kept = 0, nq = 0;
	double bar;
	rag_analyzer *an = rag_analyzer_new(o && o->analyzer ? o->analyzer : "english", err);
	rag_splitter *sp = NULL;
	rag_spans b = {NULL, 0, 0};
	work w;
	long rc = -1;

	memset(&w, 0, sizeof w);
	if (!an || !(sp = rag_splitter_new(&so, err)))
		goto out;
	if (analyze_into(an, &w, q, 0, qlen, add_qterm, err) < 0)
		goto out;
	for (size_t i = 0; i < nsrc; i++)
		if (add_sentences(sp, an, &w, &src[i], i, &b, err) < 0)
			goto out;
	score(&w);
	/* over-long "sentences" count in the statistics, but are never quoted */
	for (size_t i = 0; i < w.ns; i++)
		if (w.s[i].end - w.s[i].start <= RAG_EXTRACT_SENTENCE_MAX)
			w.s[nq++] = w.s[i];
	if (nq)
		qsort(w.s, nq, sizeof *w.s, by_score);
	/* the best, each sentence once; the best of all sets the bar */
	bar = nq ? RAG_EXTRACT_RELATIVE * w.s[0].score : 0;
	for (size_t i = 0; i < nq && kept < want && w.s[i].score > 0 && w.s[i].score >= bar; i++) {
		const sent *x = &w.s[i];
		int dup = 0;
		for (size_t j = 0; j < kept && !dup; j++)
			dup = same_text(src[w.s[j].src].text + w.s[j].start,
			                w.s[j].end - w.s[j].start, src[x->src].text + x->start,
			                x->end - x->start);
		if (!dup)
			w.s[kept++] = *x;
	}
	if (kept)
		qsort(w.s, kept, sizeof *w.s, by_place);
	if (rag_buf_adds(out, RAG_EXTRACT_LEAD) < 0 || rag_buf_addc(out, '\n') < 0)
		goto nomem;
	if (!kept && rag_buf_adds(out, RAG_EXTRACT_NONE) < 0)
		goto nomem;
	for (size_t i = 0; i < kept; i++) {
		const sent *x = &w.s[i];
		const rag_extract_source *s = &src[x->src];
		if ((i && rag_buf_addc(out, ' ') < 0) ||
		    put_spaced(out, s->text + x->start, x->end - x->start) < 0 ||
		    rag_buf_addf(out, " [%zu]", s->n) < 0)
			goto nomem;
		if (quotes)
			quotes[i] = (rag_extract_quote){s->n, x->start, x->end, x->score};
	}
	rc = (long)kept;
	goto out;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
out:
	free(w.terms);
	free(w.s);
	free(w.qt);
	rag_spans_free(&b);
	rag_splitter_free(sp);
	rag_analyzer_free(an);
	return rc;
}
